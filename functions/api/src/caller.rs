//! The `Caller` extractor: the API key of `Authorization: Bearer <key>`, checked against the
//! stored hashes before a handler runs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use naiq_core::api::ApiService;
use naiq_core::domain::ApiKeyRecord;

use crate::error::HttpError;

/// The authenticated caller of a route.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKeyRecord);

impl FromRequestParts<Arc<ApiService>> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<ApiService>,
    ) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(Caller(service.authenticate(authorization).await?))
    }
}
