use std::collections::HashMap;
use std::sync::Arc;

use naiq_core::ports::{ImageStore, PortError};
use naiq_testkit::contract;
use naiq_testkit::memory::{
    MemoryIdempotencyStore, MemoryImageStore, MemoryJobStore, MemoryKeyStore, MemoryQueue,
    MemorySecretStore, MemoryStateStore,
};

use super::*;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn a_spec_parses_with_defaults_for_what_it_leaves_out() {
    let plan = FaultPlan::parse(
        "dynamodb=0.05, sqs=0.1,s3=1,secrets=0,timeout_ms=800,seed=7,until=1764640000,scope=worker",
    )
    .unwrap();
    assert_eq!(
        plan,
        FaultPlan {
            dynamodb: 0.05,
            sqs: 0.1,
            s3: 1.0,
            secrets: 0.0,
            timeout_ms: 800,
            seed: 7,
            until: Some(1_764_640_000),
            scope: Some(Function::Worker),
        }
    );
    assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
    assert_eq!(FaultPlan::parse("scope=all").unwrap().scope, None);
    assert_eq!(
        FaultPlan::parse("scope=api").unwrap().scope,
        Some(Function::Api)
    );
}

#[test]
fn bad_specs_are_refused_with_the_key() {
    for (spec, says) in [
        ("dynamodb=1.5", "dynamodb"),
        ("sqs=-0.1", "sqs"),
        ("s3=often", "s3"),
        ("timeout_ms=60001", "timeout_ms"),
        ("seed=x", "seed"),
        ("scope=both", "scope"),
        ("lambda=0.1", "unknown key"),
        ("dynamodb", "key=value"),
    ] {
        let err = FaultPlan::parse(spec).unwrap_err();
        assert!(err.contains(says), "{spec}: {err}");
    }
}

#[test]
fn the_layer_is_off_unless_set_and_refused_off_a_loopback_emulator() {
    let off = FaultPlan::from_lookup(&lookup(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]));
    assert_eq!(off, Ok(None));
    let blank = FaultPlan::from_lookup(&lookup(&[(VARIABLE, "  ")]));
    assert_eq!(blank, Ok(None));
    for endpoint in [
        None,
        Some("https://dynamodb.us-east-1.amazonaws.com"),
        Some("http://10.0.0.5:4566"),
        Some("http://127.0.0.1.example.com:4566"),
        Some("https://127.0.0.1:4566"),
    ] {
        let mut pairs = vec![(VARIABLE, "dynamodb=0.1")];
        if let Some(e) = endpoint {
            pairs.push(("AWS_ENDPOINT_URL", e));
        }
        let err = FaultPlan::from_lookup(&lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, VARIABLE, "{endpoint:?}");
        assert!(err.message.contains("test-only"), "{err}");
    }
    for endpoint in [
        "http://127.0.0.1:4566",
        "http://localhost:4566/",
        "http://[::1]:4566",
    ] {
        let on = FaultPlan::from_lookup(&lookup(&[
            (VARIABLE, "dynamodb=0.1"),
            ("AWS_ENDPOINT_URL", endpoint),
        ]));
        assert_eq!(on.unwrap().unwrap().dynamodb, 0.1, "{endpoint}");
    }
    let bad = FaultPlan::from_lookup(&lookup(&[
        (VARIABLE, "dynamodb=2"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
    ]))
    .unwrap_err();
    assert_eq!(bad.variable, VARIABLE);
}

fn plan(p: f64) -> FaultPlan {
    FaultPlan {
        dynamodb: p,
        sqs: p,
        s3: p,
        secrets: p,
        timeout_ms: 0,
        seed: 42,
        ..FaultPlan::default()
    }
}

#[test]
fn draws_follow_the_probability_are_seeded_and_stop_at_until() {
    let injector = Injector::new(&plan(0.2), Function::Worker).unwrap();
    let draws: Vec<_> = (0..10_000)
        .map(|_| injector.draw(Service::DynamoDb, 0))
        .collect();
    let hits = draws.iter().filter(|d| d.is_some()).count();
    assert!(
        (1_700..=2_300).contains(&hits),
        "{hits} of 10000 at p = 0.2"
    );
    for kind in [
        Injected::Throttle,
        Injected::TimeoutBefore,
        Injected::TimeoutAfter,
    ] {
        assert!(draws.contains(&Some(kind)), "{kind:?} never drawn");
    }
    let again = Injector::new(&plan(0.2), Function::Worker).unwrap();
    let replay: Vec<_> = (0..10_000)
        .map(|_| again.draw(Service::DynamoDb, 0))
        .collect();
    assert_eq!(draws, replay, "the same seed draws the same faults");
    let api = Injector::new(&plan(0.2), Function::Api).unwrap();
    let other: Vec<_> = (0..10_000)
        .map(|_| api.draw(Service::DynamoDb, 0))
        .collect();
    assert_ne!(draws, other, "each function draws its own");

    let never = Injector::new(&plan(0.0), Function::Worker).unwrap();
    assert!((0..1000).all(|_| never.draw(Service::Sqs, 0).is_none()));
    let ended = Injector::new(
        &FaultPlan {
            until: Some(100),
            ..plan(1.0)
        },
        Function::Worker,
    )
    .unwrap();
    assert!(ended.draw(Service::S3, 99).is_some());
    assert!(ended.draw(Service::S3, 100).is_none());
}

#[test]
fn the_scope_picks_the_functions_that_inject() {
    let worker_only = FaultPlan {
        scope: Some(Function::Worker),
        ..plan(1.0)
    };
    assert!(Injector::new(&worker_only, Function::Api).is_none());
    assert!(Injector::new(&worker_only, Function::Worker).is_some());
    assert!(Injector::new(&plan(1.0), Function::Api).is_some());
}

#[test]
fn injected_errors_are_the_backend_errors_of_the_service() {
    for service in [
        Service::DynamoDb,
        Service::Sqs,
        Service::S3,
        Service::Secrets,
    ] {
        for kind in [
            Injected::Throttle,
            Injected::TimeoutBefore,
            Injected::TimeoutAfter,
        ] {
            match kind.error(service, 800) {
                PortError::Backend {
                    service: s,
                    message,
                } => {
                    assert_eq!(s, service.name());
                    assert!(message.contains("NAIQ_FAULTS"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn without_faults_every_adapter_passes_its_contract() {
    let jobs = Faulty::new(Arc::new(MemoryJobStore::default()), Service::DynamoDb, None);
    contract::job_store(&jobs).await;
    let queue = Faulty::new(Arc::new(MemoryQueue::default()), Service::Sqs, None);
    contract::job_queue(&queue).await;
    let images = Faulty::new(Arc::new(MemoryImageStore::default()), Service::S3, None);
    contract::image_store(&images).await;
    let secrets = Faulty::new(
        Arc::new(MemorySecretStore::default()),
        Service::Secrets,
        None,
    );
    contract::secret_store(&secrets).await;
    let keys = Faulty::new(Arc::new(MemoryKeyStore::default()), Service::DynamoDb, None);
    contract::key_store(&keys).await;
    let idem = Faulty::new(
        Arc::new(MemoryIdempotencyStore::default()),
        Service::DynamoDb,
        None,
    );
    contract::idempotency_store(&idem).await;
    let state = Faulty::new(
        Arc::new(MemoryStateStore::default()),
        Service::DynamoDb,
        None,
    );
    contract::pacing_store(&state).await;
    contract::lease_store(&state).await;
    contract::call_stats(&state).await;
    contract::account_cache(&state).await;
}

#[tokio::test]
async fn a_fault_fails_the_call_and_a_late_timeout_loses_the_answer_of_a_call_made() {
    let inner = Arc::new(MemoryImageStore::default());
    let injector = Arc::new(Injector::new(&plan(1.0), Function::Worker).unwrap());
    let images = Faulty::new(inner.clone(), Service::S3, Some(injector.clone()));
    let (mut made, mut not_made) = (0, 0);
    for i in 0..200 {
        let key = format!("k{i}");
        let err = images
            .put(&key, vec![1].into(), "image/png")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PortError::Backend { service: "S3", .. }),
            "{err:?}"
        );
        if inner.get(&key).await.unwrap().is_some() {
            made += 1;
        } else {
            not_made += 1;
        }
    }
    // A quarter of the faults are timeouts after the call: the put happened anyway.
    assert!((20..=80).contains(&made), "{made} puts made of 200 failed");
    assert!(not_made > 100, "{not_made}");
}
