//! The operator's use cases (the `naiq` CLI): API keys' lifecycle. A key is named by its
//! public id (`key_id`, as `naiq keys list` shows it); its secret is shown once, when it
//! is created or rotated, and its hash never.

mod keys;

pub use keys::{KeyAdmin, KeyAdminError, KeyChange, KeyPorts, Revoked};
