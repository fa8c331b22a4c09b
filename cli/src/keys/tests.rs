//! The `naiq keys` flags: limits and expiry become the change they say, `none` clears,
//! aliases resolve, bad values are refused; a key's description never holds its hash.

use chrono::TimeZone;
use clap::Parser;
use naiq_core::domain::ApiKey;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: KeysCommand,
}

fn parse(args: &[&str]) -> KeysCommand {
    Cli::try_parse_from(std::iter::once("keys").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .command
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap()
}

#[test]
fn create_takes_every_limit_and_an_expiry() {
    let KeysCommand::Create { limits, lanes, .. } = parse(&[
        "create",
        "--name",
        "bot",
        "--lanes",
        "normal,low",
        "--expires-in",
        "30d",
        "--max-waiting",
        "3",
        "--jobs-per-day",
        "100",
        "--anlas-per-day",
        "500",
        "--max-area",
        "1048576",
        "--max-samples",
        "2",
        "--models",
        "nai-v3,nai-v4.5",
    ]) else {
        panic!("not create")
    };
    assert_eq!(parse_lanes(&lanes).unwrap(), [Lane::Normal, Lane::Low]);
    let c = limits.change(now()).unwrap();
    assert_eq!(c.expires_at, Some(Some(now() + Duration::days(30))));
    assert_eq!(c.max_waiting, Some(Some(3)));
    assert_eq!(c.jobs_per_day, Some(Some(100)));
    assert_eq!(c.anlas_per_day, Some(Some(500)));
    assert_eq!(c.max_area, Some(Some(1_048_576)));
    assert_eq!(c.max_samples, Some(Some(2)));
    assert_eq!(
        c.models,
        Some(Some(vec![
            "nai-diffusion-3".to_string(),
            "nai-diffusion-4-5-full".to_string()
        ]))
    );
}

#[test]
fn update_changes_only_what_is_given_and_none_clears() {
    let KeysCommand::Update {
        id,
        limits,
        no_expiry,
        ..
    } = parse(&["update", "abc", "--anlas-per-day", "none", "--no-expiry"])
    else {
        panic!("not update")
    };
    assert_eq!(id, "abc");
    assert!(no_expiry);
    let c = limits.change(now()).unwrap();
    assert_eq!(c.anlas_per_day, Some(None));
    assert_eq!(c.max_waiting, None, "not given: unchanged");
    assert_eq!(c.models, None);
}

#[test]
fn bad_values_are_refused() {
    for args in [
        &["create", "--name", "x", "--max-waiting", "lots"][..],
        &["create", "--name", "x", "--expires-in", "3w"],
        &["create", "--name", "x", "--expires-in", "-1d"],
        &["create", "--name", "x", "--expires-at", "tomorrow"],
        &[
            "create",
            "--name",
            "x",
            "--expires-in",
            "1d",
            "--expires-at",
            "2030-01-01T00:00:00Z",
        ],
        &["show"],
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("keys").chain(args.iter().copied())).is_err(),
            "{args:?}"
        );
    }
    let KeysCommand::Create { limits, .. } =
        parse(&["create", "--name", "x", "--models", "nai-v9"])
    else {
        panic!()
    };
    assert!(limits.change(now()).is_err(), "an unknown model");
    let KeysCommand::Create { limits, .. } = parse(&[
        "create",
        "--name",
        "x",
        "--expires-at",
        "2020-01-01T00:00:00Z",
    ]) else {
        panic!()
    };
    assert!(limits.change(now()).is_err(), "an expiry in the past");
    assert!(parse_lanes(&["test".into()]).is_err());
}

#[test]
fn a_description_never_holds_the_secret_or_its_hash() {
    let key = ApiKey::from_random_bytes([5; 32]);
    let mut rec = ApiKeyRecord::new(&key, "bot", now());
    rec.limits.max_waiting = Some(3);
    rec.revoked_at = Some(now());
    rec.revoked_reason = Some("left".into());
    let text = describe(&rec, now());
    assert!(text.contains(&rec.key_id), "{text}");
    assert!(text.contains("state: revoked"), "{text}");
    assert!(text.contains("max_waiting=3"), "{text}");
    assert!(!text.contains(&key.hash()), "{text}");
    assert!(!text.contains(&key.expose()[5..]), "{text}");
    assert!(!limits_line(&rec).contains(&key.hash()[16..]));
}
