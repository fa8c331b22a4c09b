//! A key's webhook signing secret: drawn, stored where the delivery function reads it
//! (the state table, by key id) and printed once to standard error, never to the log or
//! the jobs table. `keys create` calls it; a `keys rotate` calls it again for the key it
//! issues (storing replaces the old secret).

use anyhow::{Context, Result};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::DynamoStateStore;
use naiq_core::ports::WebhookSecretStore;
use naiq_core::webhooks::{WebhookSecret, WebhookUrl};
use rand::RngExt;

/// Draws and stores a new secret for `key_id`, and prints it once (standard error, so a
/// script capturing the key from standard output keeps working).
pub async fn issue(clients: &AwsClients, state_table: &str, key_id: &str) -> Result<()> {
    let secret = WebhookSecret::from_random_bytes(rand::rng().random());
    DynamoStateStore::new(clients.dynamodb.clone(), state_table)
        .put_secret(key_id, &secret)
        .await
        .context("storing the webhook secret")?;
    eprintln!("Webhook signing secret: {}", secret.expose());
    eprintln!("(shown once; receivers verify webhook-signature with it, Standard Webhooks)");
    Ok(())
}

/// Checks a key's default webhook URL with this deployment's rules.
pub fn check_url(url: &str) -> Result<String> {
    let allow_private = naiq_core::Settings::from_env()
        .map(|s| s.webhooks.allow_private)
        .unwrap_or(false);
    WebhookUrl::parse(url, allow_private)
        .map(|u| u.as_str().to_string())
        .map_err(|e| anyhow::anyhow!("--webhook-url: {e}"))
}
