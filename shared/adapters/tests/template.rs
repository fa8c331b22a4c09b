//! Checks `template.yaml` against what the code expects: table keys and indexes, the
//! environment variables the functions read, the queues' settings, the functions' build
//! and runtime, the routes, the permissions each function needs. The template's own shape
//! (references, attributes, types) is the linters' job: cfn-lint and `sam validate --lint`
//! (localstack/lint-template.sh) check it; they do not know what this code reads.
//!
//! Names come from the code's own constants, so a rename in the code breaks this test
//! until the template follows. Each test lists every problem it finds, one per line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use naiq_adapters::aws::dynamodb::schema;
use naiq_adapters::compose::Config;
use naiq_adapters::provision::{MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT};
use naiq_adapters::resources::RESOURCE_VARIABLES;
use naiq_core::config::ranges::{JOB_OVERHEAD_SECONDS, MAX_ATTEMPTS, RANGES, range_of};
use naiq_core::config::{SETTING_VARIABLES, Settings};
use serde_json::{Map, Value, json};

/// The CloudWatch alarms, against the metrics the code emits.
#[path = "template/alarms.rs"]
mod alarms;

/// The API function's handle on the worker, for its asynchronous nudge.
const WORKER_FUNCTION_NAME: &str = "WORKER_FUNCTION_NAME";
const WEBHOOKS_FUNCTION_NAME: &str = "WEBHOOKS_FUNCTION_NAME";

/// Pacing settings that `SETTING_VARIABLES` may not list (yet): the
/// template must pass them too. Once `SETTING_VARIABLES` has them, they are checked twice.
const PACING_VARIABLES: &[&str] = &[
    "PACING_WINDOWS",
    "RATE_LIMIT_MIN_INTERVAL",
    "RATE_LIMIT_MAX_INTERVAL",
    "COOLDOWN_MIN",
    "COOLDOWN_MAX",
];

const API_BINARY: &str = "naiq-api";
const WORKER_BINARY: &str = "naiq-worker";
const WEBHOOKS_BINARY: &str = "naiq-webhooks";

/// The routes of the HTTP API, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/generate"),
    ("GET", "/task_status/{task_id}"),
    ("POST", "/cancel_task/{task_id}"),
    ("GET", "/queue_status"),
    ("GET", "/rate_limit_status"),
    ("GET", "/tasks"),
    ("GET", "/usage"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
];

/// API Gateway HTTP APIs give up on an integration after 30 s.
const HTTP_API_TIMEOUT: u64 = 30;
/// Lambda's own time limit.
const LAMBDA_MAX_TIMEOUT: u64 = 900;

// ------------------------------------------------------------------------------------------
// Problems: collect every failure of a test, then fail once with all of them.

struct Problems {
    what: &'static str,
    list: Vec<String>,
}

impl Problems {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            list: Vec::new(),
        }
    }

    fn add(&mut self, message: impl Into<String>) {
        self.list.push(message.into());
    }

    fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.list.push(message());
        }
    }

    fn expect_eq<T: PartialEq + std::fmt::Debug>(&mut self, context: &str, found: T, expected: T) {
        if found != expected {
            self.list
                .push(format!("{context}: found {found:?}, expected {expected:?}"));
        }
    }

    fn finish(self) {
        if !self.list.is_empty() {
            panic!(
                "template.yaml: {} problem(s) with {}:\n  - {}\n",
                self.list.len(),
                self.what,
                self.list.join("\n  - ")
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Loading: YAML (with CloudFormation's short tags) into JSON in the long form, so that
// `!Ref X` reads as {"Ref": "X"} and `!GetAtt A.B` as {"Fn::GetAtt": ["A", "B"]}.

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("shared/adapters sits two levels below the workspace")
        .to_path_buf()
}

fn to_json(v: &serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&t.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                "GetAtt" => {
                    let parts = match &inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((r, a)) => json!([r, a]),
                            None => json!([s]),
                        },
                        other => other.clone(),
                    };
                    json!({ "Fn::GetAtt": parts })
                }
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

struct Template {
    root: Value,
}

#[derive(Debug, Clone)]
struct Function {
    id: String,
    /// Properties with `Globals.Function` merged in, as SAM does.
    props: Value,
    metadata: Value,
}

impl Function {
    fn prop(&self, name: &str) -> Option<&Value> {
        self.props.get(name)
    }
    fn env(&self) -> Map<String, Value> {
        self.props
            .pointer("/Environment/Variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}

/// SAM's Globals merge: maps merge key by key, lists add up, the function's scalars win.
fn merge(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(g), Value::Object(l)) => {
            let mut out = g.clone();
            for (k, v) in l {
                let merged = match g.get(k) {
                    Some(gv) => merge(gv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(g), Value::Array(l)) => Value::Array(g.iter().chain(l).cloned().collect()),
        (_, l) => l.clone(),
    }
}

impl Template {
    fn load() -> Self {
        let path = repo_root().join("template.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let yaml: serde_norway::Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        Self {
            root: to_json(&yaml),
        }
    }

    fn section(&self, name: &str) -> Map<String, Value> {
        self.root
            .get(name)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    fn resources(&self) -> Map<String, Value> {
        self.section("Resources")
    }

    fn resource(&self, id: &str) -> Option<Value> {
        self.resources().get(id).cloned()
    }

    fn kind(&self, id: &str) -> Option<String> {
        self.resource(id)?.get("Type")?.as_str().map(str::to_string)
    }

    fn props(&self, id: &str) -> Value {
        self.resource(id)
            .and_then(|r| r.get("Properties").cloned())
            .unwrap_or(Value::Null)
    }

    fn functions(&self) -> Vec<Function> {
        let globals = self
            .root
            .pointer("/Globals/Function")
            .cloned()
            .unwrap_or(json!({}));
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .map(|(id, r)| Function {
                id: id.clone(),
                props: merge(&globals, r.get("Properties").unwrap_or(&json!({}))),
                metadata: r.get("Metadata").cloned().unwrap_or(Value::Null),
            })
            .collect()
    }

    /// The function built from the workspace binary `binary`; fails the test when there is
    /// not exactly one.
    fn function(&self, binary: &str) -> Function {
        let found: Vec<Function> = self
            .functions()
            .into_iter()
            .filter(|f| f.metadata.pointer("/BuildProperties/Binary") == Some(&json!(binary)))
            .collect();
        match found.as_slice() {
            [one] => one.clone(),
            _ => panic!(
                "template.yaml: expected exactly one AWS::Serverless::Function with \
                 Metadata.BuildProperties.Binary: {binary}, found {}",
                found.len()
            ),
        }
    }

    fn parameter_default(&self, name: &str) -> Option<Value> {
        self.section("Parameters")
            .get(name)?
            .get("Default")
            .cloned()
    }

    /// The logical id an environment value refers to through `!Ref`, if a resource.
    fn ref_resource(&self, v: &Value) -> Option<String> {
        let id = ref_target(v)?;
        self.resource(id).map(|_| id.to_string())
    }
}

fn ref_target(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() == 1 {
        o.get("Ref")?.as_str()
    } else {
        None
    }
}

fn get_att(v: &Value) -> Option<(String, String)> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    match o.get("Fn::GetAtt")? {
        Value::Array(a) if a.len() == 2 => Some((a[0].as_str()?.into(), a[1].as_str()?.into())),
        Value::String(s) => s
            .split_once('.')
            .map(|(r, a)| (r.to_string(), a.to_string())),
        _ => None,
    }
}

fn as_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// DynamoDB

struct Index<'a> {
    name: &'a str,
    hash: &'a str,
    /// None: a hash-only index.
    range: Option<&'a str>,
    projection: &'a str,
}

/// The table the functions reach through `variable` (its `!Ref`), checked against the
/// key, indexes and TTL the code uses.
fn check_table(
    t: &Template,
    p: &mut Problems,
    variable: &str,
    hash: &str,
    indexes: &[Index],
    ttl: Option<&str>,
) -> Option<String> {
    let api = t.function(API_BINARY);
    let Some(id) = api.env().get(variable).and_then(|v| t.ref_resource(v)) else {
        p.add(format!(
            "{variable} is not a !Ref to a resource of this template"
        ));
        return None;
    };
    let ctx = format!("{id} ({variable})");
    if t.kind(&id).as_deref() != Some("AWS::DynamoDB::Table") {
        p.add(format!("{ctx} is not an AWS::DynamoDB::Table"));
        return Some(id);
    }
    let props = t.props(&id);
    p.expect_eq(
        &format!("{ctx} BillingMode"),
        props["BillingMode"].as_str(),
        Some("PAY_PER_REQUEST"),
    );
    p.check(
        is_true(props.pointer("/SSESpecification/SSEEnabled")),
        || format!("{ctx}: SSESpecification.SSEEnabled must be true"),
    );

    let keys = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap_or("?").to_string(),
                    k["KeyType"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect()
    };
    p.expect_eq(
        &format!("{ctx} KeySchema"),
        keys(&props["KeySchema"]),
        vec![(hash.to_string(), "HASH".to_string())],
    );

    // Every key attribute is a string, and CloudFormation refuses definitions no key uses.
    let mut expected_attrs: BTreeMap<String, String> = BTreeMap::new();
    expected_attrs.insert(hash.into(), "S".into());
    for i in indexes {
        expected_attrs.insert(i.hash.into(), "S".into());
        if let Some(range) = i.range {
            expected_attrs.insert(range.into(), "S".into());
        }
    }
    let found_attrs: BTreeMap<String, String> = props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or("?").to_string(),
                a["AttributeType"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    p.expect_eq(
        &format!("{ctx} AttributeDefinitions"),
        found_attrs,
        expected_attrs,
    );

    let gsis = props["GlobalSecondaryIndexes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for i in indexes {
        let Some(g) = gsis.iter().find(|g| g["IndexName"] == i.name) else {
            p.add(format!(
                "{ctx}: global secondary index {:?} is missing",
                i.name
            ));
            continue;
        };
        p.expect_eq(
            &format!("{ctx} index {} KeySchema", i.name),
            keys(&g["KeySchema"]),
            std::iter::once((i.hash.to_string(), "HASH".to_string()))
                .chain(i.range.map(|r| (r.to_string(), "RANGE".to_string())))
                .collect::<Vec<_>>(),
        );
        p.expect_eq(
            &format!("{ctx} index {} ProjectionType", i.name),
            g.pointer("/Projection/ProjectionType")
                .and_then(Value::as_str),
            Some(i.projection),
        );
    }
    for g in &gsis {
        let name = g["IndexName"].as_str().unwrap_or("?");
        p.check(indexes.iter().any(|i| i.name == name), || {
            format!("{ctx}: index {name:?} is not one the code uses (schema module)")
        });
    }

    match ttl {
        Some(attr) => {
            p.expect_eq(
                &format!("{ctx} TimeToLiveSpecification.AttributeName"),
                props
                    .pointer("/TimeToLiveSpecification/AttributeName")
                    .and_then(Value::as_str),
                Some(attr),
            );
            p.check(
                is_true(props.pointer("/TimeToLiveSpecification/Enabled")),
                || format!("{ctx}: TimeToLiveSpecification.Enabled must be true"),
            );
        }
        None => p.check(props.get("TimeToLiveSpecification").is_none(), || {
            format!("{ctx}: has a TTL the code does not expect")
        }),
    }
    Some(id)
}

#[test]
fn tables_match_the_code_schema() {
    let t = Template::load();
    let mut p = Problems::new("the DynamoDB tables");
    let jobs = check_table(
        &t,
        &mut p,
        "JOBS_TABLE",
        schema::JOBS_KEY,
        &[
            Index {
                name: schema::QUEUE_INDEX,
                hash: schema::QUEUE_INDEX_HASH,
                range: Some(schema::QUEUE_INDEX_RANGE),
                // provision.rs: the queue index only counts and orders keys.
                projection: "KEYS_ONLY",
            },
            Index {
                name: schema::ACTIVE_INDEX,
                hash: schema::ACTIVE_INDEX_HASH,
                range: Some(schema::ACTIVE_INDEX_RANGE),
                projection: "ALL",
            },
            Index {
                name: schema::OWNER_INDEX,
                hash: schema::OWNER_INDEX_HASH,
                range: Some(schema::OWNER_INDEX_RANGE),
                projection: "ALL",
            },
        ],
        None,
    );
    check_table(
        &t,
        &mut p,
        "KEYS_TABLE",
        schema::KEYS_KEY,
        &[Index {
            name: schema::KEY_ID_INDEX,
            hash: schema::KEY_ID_INDEX_HASH,
            range: None,
            projection: "ALL",
        }],
        None,
    );
    check_table(
        &t,
        &mut p,
        "STATE_TABLE",
        schema::STATE_KEY,
        &[],
        Some(schema::STATE_TTL),
    );
    if let Some(jobs) = jobs {
        p.check(
            is_true(
                t.props(&jobs)
                    .pointer("/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled"),
            ),
            || format!("{jobs}: point-in-time recovery must be enabled"),
        );
    }
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Environment

/// What the function would see at run time with the parameters' defaults: literals as they
/// are, a parameter's default, a placeholder for a resource.
fn resolve_env(t: &Template, f: &Function) -> HashMap<String, String> {
    f.env()
        .iter()
        .map(|(k, v)| {
            let value = scalar_string(v)
                .or_else(|| {
                    let target = ref_target(v)?;
                    match t.parameter_default(target) {
                        Some(d) => scalar_string(&d),
                        None => Some(format!("<{target}>")),
                    }
                })
                .unwrap_or_else(|| format!("<{v}>"));
            (k.clone(), value)
        })
        .collect()
}

#[test]
fn functions_get_every_variable_the_code_reads() {
    let t = Template::load();
    let mut p = Problems::new("the functions' environment variables");
    let api = t.function(API_BINARY);
    let worker = t.function(WORKER_BINARY);
    let webhooks = t.function(WEBHOOKS_BINARY);

    let known: BTreeSet<&str> = RESOURCE_VARIABLES
        .iter()
        .chain(SETTING_VARIABLES)
        .chain(PACING_VARIABLES)
        .chain([&WORKER_FUNCTION_NAME, &WEBHOOKS_FUNCTION_NAME])
        .copied()
        .collect();

    for f in [&api, &worker, &webhooks] {
        let env = f.env();
        for var in RESOURCE_VARIABLES
            .iter()
            .chain(SETTING_VARIABLES)
            .chain(PACING_VARIABLES)
        {
            p.check(env.contains_key(*var), || {
                format!("{}: environment variable {var} is not set", f.id)
            });
        }
        // A misspelt setting would be ignored and silently fall back to its default.
        for var in env.keys() {
            p.check(known.contains(var.as_str()), || {
                format!(
                    "{}: environment variable {var} is not one the code reads \
                     (config::RESOURCE_VARIABLES / SETTING_VARIABLES)",
                    f.id
                )
            });
        }
        // The settings the template passes parse, and its defaults are the code's.
        let resolved = resolve_env(&t, f);
        match Config::from_lookup(&|k| resolved.get(k).cloned()) {
            Ok(config) => p.expect_eq(
                &format!("{}: settings from the parameters' defaults", f.id),
                config.settings,
                Settings::default(),
            ),
            Err(e) => p.add(format!(
                "{}: the configuration does not load with the parameters' defaults: {e}",
                f.id
            )),
        }
    }

    match api.env().get(WORKER_FUNCTION_NAME) {
        Some(v) => p.check(t.ref_resource(v).as_deref() == Some(worker.id.as_str()), || {
            format!(
                "{}: {WORKER_FUNCTION_NAME} must be !Ref {} (Ref of a function is its name), found {v}",
                api.id, worker.id
            )
        }),
        None => p.add(format!(
            "{}: {WORKER_FUNCTION_NAME} is not set (the API nudges the worker)",
            api.id
        )),
    }

    // Both producers of webhook events nudge the delivery function.
    for f in [&api, &worker] {
        match f.env().get(WEBHOOKS_FUNCTION_NAME) {
            Some(v) => p.check(
                t.ref_resource(v).as_deref() == Some(webhooks.id.as_str()),
                || {
                    format!(
                        "{}: {WEBHOOKS_FUNCTION_NAME} must be !Ref {}",
                        f.id, webhooks.id
                    )
                },
            ),
            None => p.add(format!(
                "{}: {WEBHOOKS_FUNCTION_NAME} is not set (it nudges the webhook delivery)",
                f.id
            )),
        }
    }

    // Resource variables must point at resources of the right kind (Ref = name or URL).
    let kinds = [
        ("JOBS_TABLE", "AWS::DynamoDB::Table"),
        ("KEYS_TABLE", "AWS::DynamoDB::Table"),
        ("STATE_TABLE", "AWS::DynamoDB::Table"),
        ("QUEUE_URL_TEST", "AWS::SQS::Queue"),
        ("QUEUE_URL_HIGH", "AWS::SQS::Queue"),
        ("QUEUE_URL_NORMAL", "AWS::SQS::Queue"),
        ("QUEUE_URL_LOW", "AWS::SQS::Queue"),
        ("DEAD_LETTER_QUEUE_URL", "AWS::SQS::Queue"),
        ("IMAGES_BUCKET", "AWS::S3::Bucket"),
        ("NOVELAI_SECRET_ID", "AWS::SecretsManager::Secret"),
        ("WEBHOOK_QUEUE_URL", "AWS::SQS::Queue"),
        ("WEBHOOK_DEAD_LETTER_QUEUE_URL", "AWS::SQS::Queue"),
    ];
    for var in RESOURCE_VARIABLES {
        p.check(kinds.iter().any(|(k, _)| k == var), || {
            format!("test: no expected resource type for {var}; add it to this test")
        });
    }
    for f in [&api, &worker, &webhooks] {
        let env = f.env();
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (var, kind) in kinds {
            let Some(v) = env.get(var) else { continue };
            match t.ref_resource(v) {
                Some(id) => {
                    p.expect_eq(
                        &format!("{}: {var} refers to {id}, whose type", f.id),
                        t.kind(&id).as_deref(),
                        Some(kind),
                    );
                    if let Some(other) = seen.insert(id.clone(), var) {
                        p.add(format!("{}: {var} and {other} both refer to {id}", f.id));
                    }
                }
                None => p.add(format!(
                    "{}: {var} must be a !Ref to a resource of this template, found {v}",
                    f.id
                )),
            }
        }
    }

    // The outputs a user exports before running the CLI (see the template's header).
    let outputs = t.section("Outputs");
    for var in RESOURCE_VARIABLES {
        let found = outputs
            .values()
            .find(|o| o["Description"].as_str() == Some(var));
        match found {
            Some(o) => p.check(Some(&o["Value"]) == api.env().get(&var.to_string()), || {
                format!("output described {var} has a different value than the functions' {var}")
            }),
            None => p.add(format!(
                "no output has the description {var} (the header's export recipe needs it)"
            )),
        }
    }
    p.check(outputs.contains_key("ApiUrl"), || {
        "output ApiUrl is missing".into()
    });
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Parameters: the bounds a deployer may choose are the code's own.

fn as_f64(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn parameter_bounds_are_the_code_ranges() {
    let t = Template::load();
    let mut p = Problems::new("the parameters' bounds");
    let api = t.function(API_BINARY);
    let worker = t.function(WORKER_BINARY);
    // Which variable each parameter becomes (the functions share Globals).
    let mut variables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in [&api, &worker] {
        for (var, v) in f.env() {
            if let Some(param) = ref_target(&v) {
                variables.entry(param.to_string()).or_default().insert(var);
            }
        }
    }
    let params = t.section("Parameters");
    for (name, param) in &params {
        let Some(vars) = variables.get(name) else {
            continue;
        };
        for var in vars {
            let ctx = format!("parameter {name} ({var})");
            let found = (as_f64(param.get("MinValue")), as_f64(param.get("MaxValue")));
            match range_of(var) {
                Some(range) => {
                    p.expect_eq(
                        &format!("{ctx}: Type"),
                        param["Type"].as_str(),
                        Some("Number"),
                    );
                    p.expect_eq(
                        &format!("{ctx}: (MinValue, MaxValue) against config::ranges"),
                        found,
                        (Some(range.min), range.max),
                    );
                }
                None => p.check(param["Type"] != "Number", || {
                    format!("{ctx}: a Number with no range in config::ranges::RANGES")
                }),
            }
            // Every value the template allows, the code must take.
            for allowed in param["AllowedValues"].as_array().into_iter().flatten() {
                let value = scalar_string(allowed).unwrap_or_default();
                if let Err(e) = Settings::from_lookup(&|k| (k == var).then(|| value.clone())) {
                    p.add(format!(
                        "{ctx}: AllowedValues has {value:?}, which the code refuses: {e}"
                    ));
                }
            }
        }
    }
    // Each range-checked variable a parameter sets must be bounded in the template.
    for (var, range) in RANGES {
        for (name, vars) in &variables {
            if vars.contains(*var) {
                let param = &params[name];
                p.check(param.get("MinValue").is_some(), || {
                    format!(
                        "parameter {name} ({var}): no MinValue (code: {})",
                        range.describe()
                    )
                });
                p.check(
                    range.max.is_none() || param.get("MaxValue").is_some(),
                    || {
                        format!(
                            "parameter {name} ({var}): no MaxValue (code: {})",
                            range.describe()
                        )
                    },
                );
            }
        }
    }

    // The worker's timeout reaches the code as WORKER_TIMEOUT_SECONDS (Lambda passes none).
    let timeout = as_u64(worker.prop("Timeout"));
    for f in [&api, &worker] {
        p.expect_eq(
            &format!(
                "{}: WORKER_TIMEOUT_SECONDS against {}'s Timeout",
                f.id, worker.id
            ),
            resolve_env(&t, f)
                .get("WORKER_TIMEOUT_SECONDS")
                .and_then(|v| v.parse::<u64>().ok()),
            timeout,
        );
    }
    // The largest NovelAI timeout a deployer may choose still leaves room for a job.
    if let Some(max) = params
        .get("NovelAiTimeoutSeconds")
        .and_then(|p| as_u64(p.get("MaxValue")))
    {
        p.check(max + JOB_OVERHEAD_SECONDS <= timeout.unwrap_or(3), || {
            format!(
                "NovelAiTimeoutSeconds MaxValue {max} + {JOB_OVERHEAD_SECONDS} s does not fit the \
                 worker's Timeout {timeout:?}"
            )
        });
    }
    // A job runs out of attempts before its message runs out of receives.
    p.check(
        MAX_ATTEMPTS.max.is_some_and(|m| m < f64::from(MAX_RECEIVE_COUNT)),
        || format!("config::ranges::MAX_ATTEMPTS {MAX_ATTEMPTS:?} must stay below maxReceiveCount {MAX_RECEIVE_COUNT}"),
    );
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Queues

#[test]
fn lane_queues_are_fifo_with_a_dead_letter_queue() {
    let t = Template::load();
    let mut p = Problems::new("the SQS queues");
    let worker = t.function(WORKER_BINARY);
    // The visibility is short and a heartbeat keeps a running job's message hidden: it
    // must survive a few missed beats, and bring a crashed worker's message back in
    // minutes.
    let beat = u64::from(naiq_core::worker::heartbeat::HEARTBEAT_SECONDS);
    p.check(
        u64::from(VISIBILITY_TIMEOUT) >= 3 * beat && VISIBILITY_TIMEOUT <= 300,
        || format!(
            "provision::VISIBILITY_TIMEOUT ({VISIBILITY_TIMEOUT}) must be at least three heartbeats ({beat} s each) and at most 5 minutes"
        ),
    );

    let env = worker.env();
    let mut dead_letter: BTreeSet<String> = BTreeSet::new();
    for var in [
        "QUEUE_URL_TEST",
        "QUEUE_URL_HIGH",
        "QUEUE_URL_NORMAL",
        "QUEUE_URL_LOW",
    ] {
        let Some(id) = env.get(var).and_then(|v| t.ref_resource(v)) else {
            p.add(format!("{var} is not a !Ref to a queue of this template"));
            continue;
        };
        let ctx = format!("{id} ({var})");
        let props = t.props(&id);
        p.check(is_true(props.get("FifoQueue")), || {
            format!("{ctx}: FifoQueue must be true (first in, first out inside a lane)")
        });
        if let Some(name) = props.get("QueueName").and_then(Value::as_str) {
            p.check(name.ends_with(".fifo"), || {
                format!("{ctx}: a FIFO queue's name must end in .fifo, found {name:?}")
            });
        }
        let visibility = as_u64(props.get("VisibilityTimeout"));
        p.expect_eq(
            &format!("{ctx} VisibilityTimeout (provision::VISIBILITY_TIMEOUT)"),
            visibility,
            Some(u64::from(VISIBILITY_TIMEOUT)),
        );
        p.expect_eq(
            &format!("{ctx} MessageRetentionPeriod (ports::MESSAGE_RETENTION_SECONDS, which the reaper uses)"),
            as_u64(props.get("MessageRetentionPeriod")),
            Some(u64::from(naiq_core::ports::MESSAGE_RETENTION_SECONDS)),
        );
        p.check(is_true(props.get("SqsManagedSseEnabled")), || {
            format!("{ctx}: SqsManagedSseEnabled must be true (messages may carry credentials)")
        });
        let redrive = &props["RedrivePolicy"];
        p.expect_eq(
            &format!("{ctx} RedrivePolicy.maxReceiveCount (provision::MAX_RECEIVE_COUNT)"),
            as_u64(redrive.get("maxReceiveCount")),
            Some(u64::from(MAX_RECEIVE_COUNT)),
        );
        match redrive.get("deadLetterTargetArn").and_then(get_att) {
            Some((dlq, attr)) if attr == "Arn" => {
                dead_letter.insert(dlq);
            }
            _ => p.add(format!(
                "{ctx}: RedrivePolicy.deadLetterTargetArn must be !GetAtt <queue>.Arn"
            )),
        }
    }
    p.check(dead_letter.len() == 1, || {
        format!("the lanes should share one dead-letter queue, found {dead_letter:?}")
    });
    for dlq in &dead_letter {
        p.expect_eq(
            &format!("dead-letter queue {dlq} type"),
            t.kind(dlq).as_deref(),
            Some("AWS::SQS::Queue"),
        );
        let props = t.props(dlq);
        p.check(is_true(props.get("FifoQueue")), || {
            format!("dead-letter queue {dlq}: FifoQueue must be true (a FIFO queue's DLQ is FIFO)")
        });
        p.check(props.get("RedrivePolicy").is_none(), || {
            format!("dead-letter queue {dlq} must not redrive further")
        });
    }
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Functions

/// The binaries a workspace package builds: its `[[bin]]` names, else the package name.
fn binaries(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let (mut section, mut package, mut bins) = (String::new(), None, Vec::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if let Some(rest) = line.strip_prefix("name") {
            let value = rest
                .trim_start()
                .strip_prefix('=')
                .map(|v| v.trim().trim_matches('"').to_string());
            match section.as_str() {
                "[package]" => package = value,
                "[[bin]]" => bins.extend(value),
                _ => {}
            }
        }
    }
    if bins.is_empty() {
        package.into_iter().collect()
    } else {
        bins
    }
}

#[test]
fn functions_build_from_the_workspace_and_run_on_al2023_arm64() {
    let t = Template::load();
    let mut p = Problems::new("the functions");
    let root = repo_root();
    let mut workspace_binaries = Vec::new();
    for dir in ["functions/api", "functions/worker", "functions/webhooks"] {
        workspace_binaries.extend(binaries(&root.join(dir).join("Cargo.toml")));
    }

    for binary in [API_BINARY, WORKER_BINARY, WEBHOOKS_BINARY] {
        p.check(workspace_binaries.iter().any(|b| b == binary), || {
            format!("the workspace builds no binary {binary} (found {workspace_binaries:?})")
        });
        let f = t.function(binary);
        let id = &f.id;
        p.expect_eq(
            &format!("{id} Runtime"),
            f.prop("Runtime").and_then(Value::as_str),
            Some("provided.al2023"),
        );
        p.expect_eq(
            &format!("{id} Handler"),
            f.prop("Handler").and_then(Value::as_str),
            Some("bootstrap"),
        );
        p.expect_eq(
            &format!("{id} Architectures"),
            f.prop("Architectures"),
            Some(&json!(["arm64"])),
        );
        p.expect_eq(
            &format!("{id} Metadata.BuildMethod"),
            f.metadata.get("BuildMethod").and_then(Value::as_str),
            Some("rust-cargolambda"),
        );
        match f.prop("CodeUri").and_then(Value::as_str) {
            Some(uri) => p.check(root.join(uri).join("Cargo.toml").is_file(), || {
                format!("{id}: CodeUri {uri:?} has no Cargo.toml")
            }),
            None => p.add(format!(
                "{id}: CodeUri must be a local path to the workspace"
            )),
        }
        p.expect_eq(
            &format!("{id} LoggingConfig.LogFormat"),
            f.props
                .pointer("/LoggingConfig/LogFormat")
                .and_then(Value::as_str),
            Some("JSON"),
        );
        let timeout = as_u64(f.prop("Timeout")).unwrap_or(3);
        p.check(timeout <= LAMBDA_MAX_TIMEOUT, || {
            format!("{id}: Timeout {timeout} exceeds Lambda's {LAMBDA_MAX_TIMEOUT}")
        });
        p.check(f.prop("Role").is_none(), || {
            format!("{id}: use the per-function role SAM makes from Policies, not a shared Role")
        });
    }

    let worker = t.function(WORKER_BINARY);
    // The worker holds one answer at a time, read into one buffer and bounded; at rest it
    // takes about 20 MiB (bench/run.sh --only-worst-jobs measures 57 MiB on the largest
    // upscale). A smaller memory, or a larger bound, could kill it after NovelAI answered,
    // and the retry would pay again.
    let answer_mib = (naiq_adapters::novelai::MAX_ANSWER_BYTES >> 20) as u64;
    let memory = as_u64(worker.prop("MemorySize")).unwrap_or(128);
    p.check(memory >= answer_mib + 32, || {
        format!(
            "{}: MemorySize {memory} leaves too little room for a {answer_mib} MiB answer",
            worker.id
        )
    });
    p.expect_eq(
        &format!("{} ReservedConcurrentExecutions", worker.id),
        as_u64(worker.prop("ReservedConcurrentExecutions")),
        Some(1),
    );
    let events = worker
        .prop("Events")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The tick's period is what `worker::tick` counts on: a waiting job whose slot frees
    // before the next tick is drained by this one.
    let expected = match naiq_core::worker::tick::TICK_SECONDS {
        60 => "rate(1 minute)".to_string(),
        s => format!("rate({} minutes)", s / 60),
    };
    p.check(
        events.values().any(|e| {
            e["Type"] == "Schedule"
                && e.pointer("/Properties/Schedule").and_then(Value::as_str)
                    == Some(expected.as_str())
        }),
        || format!("{}: needs a Schedule event of {expected}", worker.id),
    );

    let api = t.function(API_BINARY);
    let timeout = as_u64(api.prop("Timeout")).unwrap_or(3);
    p.check(timeout < HTTP_API_TIMEOUT, || {
        format!(
            "{}: Timeout {timeout} must be below the HTTP API's {HTTP_API_TIMEOUT} s",
            api.id
        )
    });
    let mut routes: BTreeSet<(String, String)> = BTreeSet::new();
    for (name, e) in api
        .prop("Events")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
    {
        if e["Type"] != "HttpApi" {
            continue;
        }
        let props = &e["Properties"];
        if let Some(api_id) = props.get("ApiId") {
            match t.ref_resource(api_id) {
                Some(id) => p.expect_eq(
                    &format!("{} event {name}: ApiId {id} type", api.id),
                    t.kind(&id).as_deref(),
                    Some("AWS::Serverless::HttpApi"),
                ),
                None => p.add(format!(
                    "{} event {name}: ApiId must be !Ref of an HttpApi resource",
                    api.id
                )),
            }
        }
        routes.insert((
            props["Method"]
                .as_str()
                .unwrap_or("ANY")
                .to_ascii_uppercase(),
            props["Path"].as_str().unwrap_or("?").to_string(),
        ));
    }
    for (method, path) in ROUTES {
        p.check(
            routes.contains(&(method.to_string(), path.to_string())),
            || format!("{}: no HttpApi event for {method} {path}", api.id),
        );
    }
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Permissions: inline statements only, no wildcards, and what each function needs.

/// A policy resource in a readable form: `arn:X`, `arn:X/index/*`, `arn:X/*`.
fn render_resource(t: &Template, v: &Value) -> String {
    if let Some((id, attr)) = get_att(v) {
        return if attr == "Arn" {
            format!("arn:{id}")
        } else {
            format!("{id}.{attr}")
        };
    }
    if let Some(id) = ref_target(v) {
        // Ref of a secret is its ARN.
        return match t.kind(id).as_deref() {
            Some("AWS::SecretsManager::Secret") => format!("arn:{id}"),
            _ => format!("ref:{id}"),
        };
    }
    if let Some(Value::String(s)) = v.get("Fn::Sub") {
        let mut out = s.clone();
        for (id, _) in t.resources() {
            out = out.replace(&format!("${{{id}.Arn}}"), &format!("arn:{id}"));
        }
        return out;
    }
    v.to_string()
}

/// (action, resource) pairs a function's inline policies allow.
fn grants(t: &Template, p: &mut Problems, f: &Function) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let policies = match f.prop("Policies") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
        None => vec![],
    };
    for policy in policies {
        let Some(statements) = policy.get("Statement").and_then(Value::as_array) else {
            p.add(format!(
                "{}: policy {policy} is not an inline policy document (least privilege: \
                 write the statements)",
                f.id
            ));
            continue;
        };
        for s in statements {
            if s["Effect"] != "Allow" {
                continue;
            }
            let list = |v: &Value| match v {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            for action in list(&s["Action"]) {
                let action = action.as_str().unwrap_or("?").to_string();
                p.check(!action.contains('*'), || {
                    format!("{}: wildcard action {action}", f.id)
                });
                for r in list(&s["Resource"]) {
                    let r = render_resource(t, &r);
                    p.check(r != "\"*\"", || {
                        format!("{}: {action} on every resource (\"*\")", f.id)
                    });
                    out.insert((action.clone(), r));
                }
            }
        }
    }
    out
}

#[test]
fn each_function_has_least_privilege() {
    let t = Template::load();
    let mut p = Problems::new("the functions' permissions");
    let api = t.function(API_BINARY);
    let worker = t.function(WORKER_BINARY);
    let id = |f: &Function, var: &str| {
        f.env()
            .get(var)
            .and_then(|v| t.ref_resource(v))
            .unwrap_or_else(|| format!("<{var}>"))
    };
    let jobs = format!("arn:{}", id(&api, "JOBS_TABLE"));
    let jobs_index = format!("{jobs}/index/*");
    let keys = format!("arn:{}", id(&api, "KEYS_TABLE"));
    let state = format!("arn:{}", id(&api, "STATE_TABLE"));
    let objects = format!("arn:{}/*", id(&api, "IMAGES_BUCKET"));
    let secret = format!("arn:{}", id(&api, "NOVELAI_SECRET_ID"));
    let lanes: Vec<String> = [
        "QUEUE_URL_TEST",
        "QUEUE_URL_HIGH",
        "QUEUE_URL_NORMAL",
        "QUEUE_URL_LOW",
    ]
    .iter()
    .map(|v| format!("arn:{}", id(&api, v)))
    .collect();

    let mut need = |f: &Function, actions: &[&str], resources: &[&str], have: &BTreeSet<_>| {
        for a in actions {
            for r in resources {
                p.check(have.contains(&(a.to_string(), r.to_string())), || {
                    format!("{}: needs {a} on {r}", f.id)
                });
            }
        }
    };
    let lane_refs: Vec<&str> = lanes.iter().map(String::as_str).collect();

    let mut scratch = Problems::new("");
    let have = grants(&t, &mut scratch, &api);
    let api_problems = scratch.list;
    // Jobs and their lane counters: one transaction of a put and an update; the counters
    // of every lane in one batch read.
    need(
        &api,
        &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
        ],
        &[&jobs],
        &have,
    );
    need(&api, &["dynamodb:Query"], &[&jobs_index], &have);
    need(&api, &["dynamodb:GetItem"], &[&keys, &state], &have);
    // A status poll reads the pacing state in its job's batch (JobStore::get_for_status).
    need(&api, &["dynamodb:BatchGetItem"], &[&state], &have);
    need(&api, &["sqs:SendMessage"], &lane_refs, &have);
    need(&api, &["s3:PutObject", "s3:GetObject"], &[&objects], &have);
    need(
        &api,
        &["lambda:InvokeFunction"],
        &[&format!("arn:{}", worker.id)],
        &have,
    );
    let api_has = have;

    let mut scratch = Problems::new("");
    let have = grants(&t, &mut scratch, &worker);
    let worker_problems = scratch.list;
    need(
        &worker,
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
        ],
        &[&jobs, &state],
        &have,
    );
    need(&worker, &["dynamodb:BatchGetItem"], &[&jobs], &have);
    need(&worker, &["dynamodb:Query"], &[&jobs_index], &have);
    need(
        &worker,
        &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:SendMessage",
        ],
        &lane_refs,
        &have,
    );
    // The worker sweeps the dead-letter queue and fails the jobs found there.
    let dlq = format!("arn:{}", id(&api, "DEAD_LETTER_QUEUE_URL"));
    need(
        &worker,
        &["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        &[&dlq],
        &have,
    );
    need(
        &worker,
        &["s3:PutObject", "s3:GetObject"],
        &[&objects],
        &have,
    );
    need(
        &worker,
        &["secretsmanager:GetSecretValue"],
        &[&secret],
        &have,
    );

    // Webhook events: the producers only queue them and nudge the delivery function,
    // which receives, retries, dead-letters, records their state and reads the secrets.
    let webhooks = t.function(WEBHOOKS_BINARY);
    let webhook_queue = format!("arn:{}", id(&api, "WEBHOOK_QUEUE_URL"));
    let webhook_dlq = format!("arn:{}", id(&api, "WEBHOOK_DEAD_LETTER_QUEUE_URL"));
    let nudge_webhooks = format!("arn:{}", webhooks.id);
    need(&api, &["sqs:SendMessage"], &[&webhook_queue], &api_has);
    need(
        &api,
        &["lambda:InvokeFunction"],
        &[&nudge_webhooks],
        &api_has,
    );
    need(&worker, &["sqs:SendMessage"], &[&webhook_queue], &have);
    need(
        &worker,
        &["lambda:InvokeFunction"],
        &[&nudge_webhooks],
        &have,
    );
    let mut scratch = Problems::new("");
    let webhooks_has = grants(&t, &mut scratch, &webhooks);
    let webhooks_problems = scratch.list;
    need(
        &webhooks,
        &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
        ],
        &[&webhook_queue],
        &webhooks_has,
    );
    need(
        &webhooks,
        &["sqs:SendMessage"],
        &[&webhook_dlq],
        &webhooks_has,
    );
    need(
        &webhooks,
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
        &[&state],
        &webhooks_has,
    );
    need(&webhooks, &["s3:GetObject"], &[&objects], &webhooks_has);
    for (action, resource) in &webhooks_has {
        p.check(
            !action.starts_with("secretsmanager:") && resource != &jobs,
            || {
                format!(
                    "{}: delivers webhooks only; found {action} on {resource}",
                    webhooks.id
                )
            },
        );
    }

    for problem in api_problems
        .into_iter()
        .chain(worker_problems)
        .chain(webhooks_problems)
    {
        p.add(problem);
    }
    for (action, resource) in &api_has {
        p.check(!action.starts_with("secretsmanager:"), || {
            format!(
                "{}: must not read the NovelAI secret ({action} on {resource}); only the worker does",
                api.id
            )
        });
        p.check(
            !(action.starts_with("dynamodb:") && resource == &keys && action != "dynamodb:GetItem"),
            || {
                format!(
                    "{}: only reads API keys, found {action} on {resource}",
                    api.id
                )
            },
        );
    }
    p.finish();
}

// ------------------------------------------------------------------------------------------
// Bucket and secret

#[test]
fn images_bucket_is_private_and_expires_images() {
    let t = Template::load();
    let mut p = Problems::new("the images bucket and the secret");
    let api = t.function(API_BINARY);
    match api
        .env()
        .get("IMAGES_BUCKET")
        .and_then(|v| t.ref_resource(v))
    {
        None => p.add("IMAGES_BUCKET is not a !Ref to a bucket of this template"),
        Some(id) => {
            let props = t.props(&id);
            for flag in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                p.check(
                    is_true(props.pointer(&format!("/PublicAccessBlockConfiguration/{flag}"))),
                    || format!("{id}: PublicAccessBlockConfiguration.{flag} must be true"),
                );
            }
            p.check(props.get("BucketEncryption").is_some(), || {
                format!("{id}: BucketEncryption is missing")
            });
            let rules = props
                .pointer("/LifecycleConfiguration/Rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            p.check(
                rules.iter().any(|r| {
                    r["Status"] == "Enabled"
                        && r.get("ExpirationInDays").is_some_and(|d| !d.is_null())
                }),
                || format!("{id}: needs an enabled lifecycle rule with ExpirationInDays"),
            );
            // The answers of NovelAI calls are kept only as long as core says.
            let answers = rules.iter().find(|r| {
                r.get("Prefix").and_then(Value::as_str) == Some(naiq_core::objects::ANSWER_PREFIX)
            });
            p.check(
                answers.is_some_and(|r| {
                    r["Status"] == "Enabled"
                        && as_u64(r.get("ExpirationInDays"))
                            == Some(u64::from(naiq_core::objects::ANSWER_RETENTION_DAYS))
                }),
                || {
                    format!(
                        "{id}: needs an enabled lifecycle rule with Prefix {:?} and ExpirationInDays {} (objects::ANSWER_RETENTION_DAYS)",
                        naiq_core::objects::ANSWER_PREFIX,
                        naiq_core::objects::ANSWER_RETENTION_DAYS
                    )
                },
            );
            // The step previews of running jobs too.
            let previews = rules.iter().find(|r| {
                r.get("Prefix").and_then(Value::as_str) == Some(naiq_core::objects::PREVIEW_PREFIX)
            });
            p.check(
                previews.is_some_and(|r| {
                    r["Status"] == "Enabled"
                        && as_u64(r.get("ExpirationInDays"))
                            == Some(u64::from(naiq_core::objects::PREVIEW_RETENTION_DAYS))
                }),
                || {
                    format!(
                        "{id}: needs an enabled lifecycle rule with Prefix {:?} and ExpirationInDays {} (objects::PREVIEW_RETENTION_DAYS)",
                        naiq_core::objects::PREVIEW_PREFIX,
                        naiq_core::objects::PREVIEW_RETENTION_DAYS
                    )
                },
            );
        }
    }
    match api
        .env()
        .get("NOVELAI_SECRET_ID")
        .and_then(|v| t.ref_resource(v))
    {
        None => p.add("NOVELAI_SECRET_ID is not a !Ref to a secret of this template"),
        Some(id) => {
            // Credentials are set with `naiq credentials set`, never written in the template.
            let placeholder = t.props(&id).get("SecretString").cloned();
            p.check(
                match &placeholder {
                    None => true,
                    Some(Value::String(s)) => {
                        serde_json::from_str::<Map<String, Value>>(s).is_ok_and(|m| m.is_empty())
                    }
                    Some(_) => false,
                },
                || format!("{id}: SecretString must be the empty placeholder \"{{}}\", found {placeholder:?}"),
            );
        }
    }
    p.finish();
}

#[test]
fn the_webhook_queue_is_standard_with_its_own_dead_letter_queue() {
    use naiq_adapters::provision::{
        WEBHOOK_MAX_RECEIVE_COUNT, WEBHOOK_RETENTION_SECONDS, WEBHOOK_VISIBILITY_TIMEOUT,
    };
    use naiq_core::config::webhooks::{MAX_RETRIES, MAX_RETRY_STEP_SECONDS};
    let t = Template::load();
    let mut p = Problems::new("the webhook queues");
    let webhooks = t.function(WEBHOOKS_BINARY);
    let env = webhooks.env();
    let ids: Vec<Option<String>> = ["WEBHOOK_QUEUE_URL", "WEBHOOK_DEAD_LETTER_QUEUE_URL"]
        .iter()
        .map(|v| env.get(*v).and_then(|r| t.ref_resource(r)))
        .collect();
    let (Some(queue), Some(dlq)) = (ids[0].clone(), ids[1].clone()) else {
        p.add("WEBHOOK_QUEUE_URL and WEBHOOK_DEAD_LETTER_QUEUE_URL must be !Ref queues");
        p.finish();
        return;
    };
    let q = t.props(&queue);
    let d = t.props(&dlq);
    for (id, props) in [(&queue, &q), (&dlq, &d)] {
        p.check(!is_true(props.get("FifoQueue")), || {
            format!("{id}: webhook events need no order; a standard queue")
        });
        p.expect_eq(
            &format!("{id} MessageRetentionPeriod"),
            as_u64(props.get("MessageRetentionPeriod")),
            Some(u64::from(WEBHOOK_RETENTION_SECONDS)),
        );
    }
    p.check(
        u64::from(WEBHOOK_RETENTION_SECONDS)
            > MAX_RETRIES as u64 * u64::from(MAX_RETRY_STEP_SECONDS),
        || "the retention must outlast the longest retry schedule".into(),
    );
    p.expect_eq(
        &format!("{queue} VisibilityTimeout"),
        as_u64(q.get("VisibilityTimeout")),
        Some(u64::from(WEBHOOK_VISIBILITY_TIMEOUT)),
    );
    let timeout = as_u64(webhooks.prop("Timeout")).unwrap_or(3);
    p.check(u64::from(WEBHOOK_VISIBILITY_TIMEOUT) > timeout, || {
        format!(
            "the webhook queue's visibility must exceed {}'s Timeout",
            webhooks.id
        )
    });
    p.expect_eq(
        &format!("{queue} RedrivePolicy.maxReceiveCount"),
        as_u64(q.pointer("/RedrivePolicy/maxReceiveCount")),
        Some(u64::from(WEBHOOK_MAX_RECEIVE_COUNT)),
    );
    p.check(WEBHOOK_MAX_RECEIVE_COUNT as usize > MAX_RETRIES + 1, || {
        "the redrive backstop must not cut the retry schedule short".into()
    });
    p.expect_eq(
        &format!("{queue} RedrivePolicy.deadLetterTargetArn"),
        q.pointer("/RedrivePolicy/deadLetterTargetArn")
            .and_then(get_att)
            .map(|(id, _)| id),
        Some(dlq.clone()),
    );
    p.check(
        webhooks
            .prop("Events")
            .and_then(Value::as_object)
            .is_some_and(|e| e.values().any(|e| e["Type"] == "Schedule")),
        || format!("{}: needs a Schedule event", webhooks.id),
    );
    p.finish();
}
