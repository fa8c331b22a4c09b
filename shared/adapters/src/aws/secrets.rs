//! Secrets Manager adapter: the server-side NovelAI credentials, stored as JSON
//! (`{"auth_type": "token", "token": …}` or `{"auth_type": "login", "email": …, "password": …}`).

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use super::describe;
use naiq_core::domain::Credentials;
use naiq_core::ports::*;

pub struct SecretsManagerStore {
    client: Client,
    secret_id: String,
}

impl SecretsManagerStore {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("Secrets Manager", describe(&err))
}

/// Reads a secret string: the JSON form, or a bare token.
pub fn parse_secret(text: &str) -> PortResult<Option<Credentials>> {
    let text = text.trim();
    if text.is_empty() || text == "{}" {
        return Ok(None);
    }
    if text.starts_with('{') {
        return serde_json::from_str(text)
            .map(Some)
            // Never echo the secret's text in the error.
            .map_err(|_| {
                PortError::Corrupt("the NovelAI secret is not valid credentials JSON".into())
            });
    }
    Ok(Some(Credentials::Token {
        token: text.to_string(),
    }))
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
        {
            Ok(out) => match out.secret_string() {
                Some(text) => parse_secret(text),
                None => Ok(None),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        let text = serde_json::to_string(credentials).expect("credentials serialise");
        let res = self
            .client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(&text)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(&self.secret_id)
                    .secret_string(text)
                    .send()
                    .await
                    .map_err(backend)?;
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }
}
