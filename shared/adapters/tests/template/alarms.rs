//! The alarms: each exists, notifies `AlarmTopicArn` only when one is given, and watches
//! metrics that exist: naiq's own from the code's catalogue (`naiq_core::metrics::ALL`,
//! the names, namespace and dimension sets the EMF lines carry), AWS's on this stack's
//! queues and worker.

use naiq_core::metrics::{
    self as catalogue, JOBS_FAILED, JOBS_SUCCEEDED, Kind, QUEUE_DEPTH_IN_WINDOW,
    UPSTREAM_CALLS_TODAY, UPSTREAM_DAILY_LIMIT,
};

use super::*;

const TOPIC: &str = "AlarmTopicArn";
const CONDITION: &str = "HasAlarmTopic";

/// One metric an alarm reads: its namespace, name and dimensions.
#[derive(Debug, Clone, PartialEq)]
struct Watched {
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, Value>,
    stat: String,
}

/// The metrics of an alarm, whether it watches one metric or a metric-math expression.
fn watched(props: &Value) -> Vec<Watched> {
    let dims = |d: Option<&Value>| -> BTreeMap<String, Value> {
        d.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|d| {
                        (
                            d["Name"].as_str().unwrap_or("").to_string(),
                            d["Value"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(queries) = props.get("Metrics").and_then(Value::as_array) {
        queries
            .iter()
            .filter_map(|q| q.get("MetricStat"))
            .map(|s| Watched {
                namespace: s
                    .pointer("/Metric/Namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                name: s
                    .pointer("/Metric/MetricName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                dimensions: dims(s.pointer("/Metric/Dimensions")),
                stat: s["Stat"].as_str().unwrap_or("").into(),
            })
            .collect()
    } else {
        vec![Watched {
            namespace: props["Namespace"].as_str().unwrap_or("").into(),
            name: props["MetricName"].as_str().unwrap_or("").into(),
            dimensions: dims(props.get("Dimensions")),
            stat: props["Statistic"].as_str().unwrap_or("").into(),
        }]
    }
}

/// The expected alarms: logical id, and the (namespace, metric) pairs it must read.
fn expected() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let naiq = catalogue::NAMESPACE;
    vec![
        (
            "JobDeadLetterAlarm",
            vec![("AWS/SQS", "ApproximateNumberOfMessagesVisible")],
        ),
        (
            "WebhookDeadLetterAlarm",
            vec![("AWS/SQS", "ApproximateNumberOfMessagesVisible")],
        ),
        ("WorkerErrorsAlarm", vec![("AWS/Lambda", "Errors")]),
        (
            "JobFailureRateAlarm",
            vec![(naiq, JOBS_FAILED.name), (naiq, JOBS_SUCCEEDED.name)],
        ),
        (
            "UpstreamStalledAlarm",
            vec![
                (naiq, QUEUE_DEPTH_IN_WINDOW.name),
                (naiq, JOBS_SUCCEEDED.name),
            ],
        ),
        (
            "QuotaExhaustedAlarm",
            vec![
                (naiq, UPSTREAM_CALLS_TODAY.name),
                (naiq, UPSTREAM_DAILY_LIMIT.name),
            ],
        ),
    ]
}

#[test]
fn alarms_watch_metrics_the_code_emits_and_notify_the_optional_topic() {
    let t = Template::load();
    let mut p = Problems::new("the alarms");

    // The topic is optional: a parameter defaulting to empty, and a condition on it.
    p.expect_eq(
        "Parameters.AlarmTopicArn.Default",
        t.parameter_default(TOPIC),
        Some(json!("")),
    );
    p.expect_eq(
        "Conditions.HasAlarmTopic",
        t.root.pointer("/Conditions/HasAlarmTopic").cloned(),
        Some(json!({"Fn::Not": [{"Fn::Equals": [{"Ref": TOPIC}, ""]}]})),
    );
    let actions = json!({"Fn::If": [CONDITION, [{"Ref": TOPIC}], {"Ref": "AWS::NoValue"}]});

    let alarms: Vec<String> = t
        .resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, _)| id.clone())
        .collect();
    for (id, metrics) in expected() {
        if !alarms.iter().any(|a| a == id) {
            p.add(format!("{id}: missing (an AWS::CloudWatch::Alarm)"));
            continue;
        }
        let found: Vec<(String, String)> = watched(&t.props(id))
            .into_iter()
            .map(|w| (w.namespace, w.name))
            .collect();
        for (namespace, name) in metrics {
            p.check(
                found.iter().any(|(n, m)| n == namespace && m == name),
                || format!("{id}: does not read {namespace}/{name} (reads {found:?})"),
            );
        }
    }

    for id in &alarms {
        let props = t.props(id);
        for key in ["AlarmActions", "OKActions"] {
            p.expect_eq(
                &format!("{id}.{key}"),
                props.get(key).cloned(),
                Some(actions.clone()),
            );
        }
        p.check(props["TreatMissingData"] == "notBreaching", || {
            format!("{id}: a quiet period is not an alarm (TreatMissingData: notBreaching)")
        });
        for w in watched(&props) {
            check_metric(&t, &mut p, id, &w);
        }
        if let Some(queries) = props.get("Metrics").and_then(Value::as_array) {
            check_math(&mut p, id, queries);
        }
    }

    // What each AWS metric is about.
    let dimension = |id: &str, name: &str| -> Option<Value> {
        watched(&t.props(id)).first()?.dimensions.get(name).cloned()
    };
    p.expect_eq(
        "JobDeadLetterAlarm QueueName",
        dimension("JobDeadLetterAlarm", "QueueName"),
        Some(json!({"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]})),
    );
    p.expect_eq(
        "WebhookDeadLetterAlarm QueueName",
        dimension("WebhookDeadLetterAlarm", "QueueName"),
        Some(json!({"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]})),
    );
    p.expect_eq(
        "WorkerErrorsAlarm FunctionName",
        dimension("WorkerErrorsAlarm", "FunctionName"),
        Some(json!({"Ref": t.function("naiq-worker").id})),
    );
    // The parameters the math and the periods use.
    let stalled = t.props("UpstreamStalledAlarm");
    for key in ["EvaluationPeriods", "DatapointsToAlarm"] {
        p.expect_eq(
            &format!("UpstreamStalledAlarm.{key}"),
            stalled.get(key).cloned(),
            Some(json!({"Ref": "AlarmStallHours"})),
        );
    }
    let rate = t.props("JobFailureRateAlarm");
    p.expect_eq(
        "JobFailureRateAlarm.Threshold",
        rate.get("Threshold").cloned(),
        Some(json!({"Ref": "AlarmFailureRatePercent"})),
    );
    p.check(rate.to_string().contains("${AlarmFailureMinJobs}"), || {
        "JobFailureRateAlarm: the expression must require AlarmFailureMinJobs finished jobs".into()
    });
    p.finish();
}

/// A watched metric exists: naiq's in the catalogue with one of its dimension sets and a
/// statistic that fits its kind; AWS's on a resource of this stack.
fn check_metric(t: &Template, p: &mut Problems, id: &str, w: &Watched) {
    match w.namespace.as_str() {
        ns if ns == catalogue::NAMESPACE => {
            let Some(m) = catalogue::ALL.iter().find(|m| m.name == w.name) else {
                p.add(format!(
                    "{id}: {} is not a metric the code emits (naiq_core::metrics::ALL)",
                    w.name
                ));
                return;
            };
            let dims: Vec<&str> = w.dimensions.keys().map(String::as_str).collect();
            p.check(
                m.dimension_sets.iter().any(|s| {
                    let mut s = s.to_vec();
                    s.sort_unstable();
                    s == dims
                }),
                || format!("{id}: {} is not emitted with dimensions {dims:?}", w.name),
            );
            let fits = match m.kind {
                Kind::Counter => w.stat == "Sum",
                Kind::Gauge => ["Maximum", "Minimum", "Average"].contains(&w.stat.as_str()),
                Kind::Histogram => !w.stat.is_empty(),
            };
            p.check(fits, || {
                format!(
                    "{id}: statistic {} does not fit {} ({:?})",
                    w.stat, w.name, m.kind
                )
            });
        }
        "AWS/SQS" | "AWS/Lambda" => {
            for v in w.dimensions.values() {
                let target = ref_target(v)
                    .map(str::to_string)
                    .or_else(|| get_att(v).map(|(r, _)| r));
                p.check(
                    target.as_deref().is_some_and(|r| t.resource(r).is_some()),
                    || format!("{id}: dimension {v} is not a resource of this stack"),
                );
            }
        }
        other => p.add(format!("{id}: unexpected namespace {other:?}")),
    }
}

/// Metric math: one query returns data, and every query it reads is defined.
fn check_math(p: &mut Problems, id: &str, queries: &[Value]) {
    let ids: Vec<&str> = queries.iter().filter_map(|q| q["Id"].as_str()).collect();
    let returned: Vec<&Value> = queries.iter().filter(|q| q["ReturnData"] == true).collect();
    let [expression] = returned.as_slice() else {
        p.add(format!(
            "{id}: exactly one query must have ReturnData: true"
        ));
        return;
    };
    let text = match &expression["Expression"] {
        Value::String(s) => s.clone(),
        other => other
            .pointer("/Fn::Sub")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    p.check(!text.is_empty(), || {
        format!("{id}: the returned query must be an expression")
    });
    for q in queries.iter().filter(|q| q["ReturnData"] == false) {
        let qid = q["Id"].as_str().unwrap_or("");
        p.check(
            text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|w| w == qid),
            || format!("{id}: query {qid} is not used by the expression {text:?}"),
        );
    }
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '$' && c != '{' && c != '}')
        .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
    {
        p.check(ids.contains(&word), || {
            format!("{id}: the expression reads {word}, which no query defines")
        });
    }
}
