//! The secret store's contract.

use naiq_core::domain::Credentials;
use naiq_core::ports::*;

pub async fn secret_store(secrets: &dyn SecretStore) {
    assert_eq!(secrets.get().await.unwrap(), None);
    let token = Credentials::Token {
        token: "pst-contract-token".into(),
    };
    secrets.put(&token).await.unwrap();
    assert_eq!(secrets.get().await.unwrap(), Some(token));
    let login = Credentials::Login {
        email: "a@example.org".into(),
        password: "secret pass".into(),
    };
    secrets.put(&login).await.unwrap();
    assert_eq!(secrets.get().await.unwrap(), Some(login));
}
