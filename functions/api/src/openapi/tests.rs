//! The document against the code: the same routes as the router and `template.yaml`, the
//! body fields `naiq-core` reads, served without a key.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{AugmentBody, ERRORS, GenerateBody, UpscaleBody, document};
use crate::routes::ROUTES;
use crate::tests::{EVENT_KEY, call_raw, harness, request};

type Routes = BTreeSet<(String, String)>;

fn document_json() -> Value {
    serde_json::from_str(document()).unwrap()
}

fn document_routes() -> Routes {
    let doc = document_json();
    let mut routes = Routes::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    routes
}

/// Every `HttpApi` event of every function in `template.yaml`.
fn template_routes() -> Routes {
    use serde_norway::Value as Y;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let yaml: Y = serde_norway::from_str(&text).unwrap();
    let mut routes = Routes::new();
    let resources = yaml["Resources"].as_mapping().unwrap();
    for resource in resources.values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let props = &event["Properties"];
            routes.insert((
                props["Method"]
                    .as_str()
                    .unwrap_or("ANY")
                    .to_ascii_uppercase(),
                props["Path"].as_str().unwrap_or("?").to_string(),
            ));
        }
    }
    routes
}

fn router_routes() -> Routes {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[tokio::test]
async fn the_router_the_template_and_the_document_have_the_same_routes() {
    let sources = [
        ("the router", router_routes()),
        ("template.yaml", template_routes()),
        ("the OpenAPI document", document_routes()),
    ];
    let all: Routes = sources.iter().flat_map(|(_, r)| r.clone()).collect();
    let mut problems = Vec::new();
    for (method, path) in &all {
        let missing: Vec<&str> = sources
            .iter()
            .filter(|(_, r)| !r.contains(&(method.clone(), path.clone())))
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{method} {path} is missing from {}",
                missing.join(", ")
            ));
        }
    }
    let errors: Routes = ERRORS
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    if errors != router_routes() {
        problems.push(format!("openapi::ERRORS lists {errors:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // And the router answers each one: no 404 for a missing route, no 405.
    let h = harness().await;
    for (method, path) in ROUTES {
        let concrete = path.replace("{task_id}", "00000000-0000-4000-8000-000000000000");
        let (status, _, body) =
            call_raw(&h, request(method, &concrete, Some(EVENT_KEY), "{}")).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            (status != 405 && body.get("code").and_then(Value::as_str) != Some("not_found"))
                || (path.contains("{task_id}") && status == 404),
            "{method} {path}: {status} {body}"
        );
    }
}

#[test]
fn the_generate_body_names_every_field_the_core_reads() {
    let schema = serde_json::to_value(<GenerateBody as utoipa::PartialSchema>::schema()).unwrap();
    let documented: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let known: BTreeSet<&str> = naiq_core::domain::request::KNOWN_FIELDS
        .iter()
        .copied()
        .collect();
    assert_eq!(documented, known);
    assert_eq!(schema["required"], serde_json::json!(["prompt"]));
}

fn documented_fields<T: utoipa::PartialSchema>() -> (BTreeSet<String>, Value) {
    let schema = serde_json::to_value(T::schema()).unwrap();
    let fields = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    (fields, schema["required"].clone())
}

#[test]
fn the_augment_and_upscale_bodies_name_every_field_the_core_reads() {
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let (fields, required) = documented_fields::<AugmentBody>();
    assert_eq!(fields, set(naiq_core::domain::request::AUGMENT_FIELDS));
    assert_eq!(required, serde_json::json!(["tool", "image"]));
    let (fields, required) = documented_fields::<UpscaleBody>();
    assert_eq!(fields, set(naiq_core::domain::request::UPSCALE_FIELDS));
    assert_eq!(required, serde_json::json!(["image"]));

    // The tool and emotion lists are the core's.
    let doc = document_json();
    let schemas = &doc["components"]["schemas"];
    let tools: Vec<&str> = naiq_core::domain::director::DirectorTool::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(schemas["DirectorTool"]["enum"], serde_json::json!(tools));
    let emotions: Vec<&str> = naiq_core::domain::director::Emotion::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    assert_eq!(schemas["Emotion"]["enum"], serde_json::json!(emotions));
    for path in ["/augment", "/upscale"] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Submitted",
            "{path}"
        );
        assert!(op["responses"]["429"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_served_without_a_key() {
    let h = harness().await;
    let (status, headers, body) = call_raw(&h, request("GET", "/openapi.json", None, "")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, document_json());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every operation but the two public ones answers 401 without a key, as documented.
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        let public = matches!(*path, "/health" | "/openapi.json");
        assert_eq!(
            op["responses"].get("401").is_some(),
            !public,
            "{method} {path}"
        );
        assert_eq!(op.get("security").is_some(), public, "{method} {path}");
    }
}

#[test]
fn the_task_status_documents_each_attempts_error() {
    let doc = document_json();
    let status = &doc["components"]["schemas"]["StatusResponse"];
    assert_eq!(
        status["properties"]["attempts"]["type"], "integer",
        "{status}"
    );
    let list = &status["properties"]["attempt_errors"];
    assert_eq!(list["type"], "array", "{list}");
    assert!(
        status["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from("attempt_errors")),
        "{status}"
    );
    let item = &doc["components"]["schemas"]["AttemptErrorInfo"];
    let fields: BTreeSet<&str> = item["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, BTreeSet::from(["attempt", "at", "code", "message"]));
}

#[test]
fn the_task_status_documents_progress_and_preview_as_optional() {
    let doc = document_json();
    let status = &doc["components"]["schemas"]["StatusResponse"];
    let required = status["required"].as_array().unwrap();
    for field in ["progress", "preview_url"] {
        let property = &status["properties"][field];
        assert!(!property.is_null(), "{field}: {status}");
        assert!(
            !required.contains(&Value::from(field)),
            "{field} is absent unless STARTED"
        );
        assert!(
            property.to_string().contains("STARTED") || field == "preview_url",
            "{field} says when it shows: {property}"
        );
    }
    let progress = &doc["components"]["schemas"]["Progress"];
    let fields: BTreeSet<&str> = progress["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, BTreeSet::from(["step", "steps"]));
}
