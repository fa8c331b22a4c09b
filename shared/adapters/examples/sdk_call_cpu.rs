//! CPU per DynamoDB `GetItem` through the SDK as the functions build it, against
//! `AWS_ENDPOINT_URL`: the floor under every warm request's CPU (bench/README.md).
//!
//! `TABLE` names a table with a string key `pk` (created if missing); `CALLS` (default
//! 1000) sets the count; `NO_SETUP=1` skips creating the table and its item (for an
//! endpoint that answers every request the same); `NO_STALL=1` turns the SDK's
//! stalled-stream protection off, and `NO_TIMEOUTS=1` leaves out naiq's call bounds.

use std::time::Instant;

use aws_config::BehaviorVersion;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use naiq_adapters::aws::{AwsClients, SdkTimeouts};

/// This process's CPU time so far (user + system), in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    let after = &stat[stat.rfind(')').expect("the command name") + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks * 10.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let table = std::env::var("TABLE").unwrap_or_else(|_| "sdk-call-cpu".into());
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("NO_STALL").is_some() {
        loader = loader.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    }
    let client = if std::env::var_os("NO_TIMEOUTS").is_some() {
        aws_sdk_dynamodb::Client::new(&loader.load().await)
    } else {
        AwsClients::load(loader, SdkTimeouts::default())
            .await
            .dynamodb
    };
    let key = AttributeValue::S("x".into());
    if std::env::var_os("NO_SETUP").is_none() {
        let attribute = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute");
        let schema = KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()
            .expect("key schema");
        // An existing table is fine.
        let _ = client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute)
            .key_schema(schema)
            .send()
            .await;
        client
            .put_item()
            .table_name(&table)
            .item("pk", key.clone())
            .send()
            .await
            .expect("put the item");
    }
    let get = || {
        client
            .get_item()
            .table_name(&table)
            .key("pk", key.clone())
            .consistent_read(true)
            .send()
    };
    for _ in 0..50 {
        get().await.expect("get the item");
    }
    let (cpu0, t0) = (cpu_ms(), Instant::now());
    for _ in 0..calls {
        get().await.expect("get the item");
    }
    let (cpu, wall) = (cpu_ms() - cpu0, t0.elapsed().as_secs_f64() * 1000.0);
    println!(
        "{calls} GetItem: {:.3} ms CPU and {:.3} ms wall per call",
        cpu / calls as f64,
        wall / calls as f64
    );
}
