//! API keys: who is calling, and which jobs they may see.
//!
//! A key is `folio_` + 64 hex digits (256 random bits from the OS). Only its
//! SHA-256 is stored; a fast hash is enough because the key is random, not a
//! password. Keys travel as `Authorization: Bearer <key>` or `X-API-Key`.
//! With `FOLIO_AUTH=off` a request without a key is anonymous; a key that is
//! sent is still checked (and scopes the caller's jobs).
//!
//! Visibility: a key sees the jobs it submitted, an admin key sees all,
//! anonymous callers see anonymous jobs. Anything else is answered exactly
//! like a job that does not exist (404), so job ids cannot be probed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use folio_db::ApiKey;
use folio_jobs::Job;
use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const KEY_PREFIX: &str = "folio_";

/// The caller of a request, set by [`authenticate`] for every request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Key(Arc<ApiKey>),
}

impl Caller {
    /// The owner recorded on jobs this caller submits.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Key(k) => Some(&k.id),
        }
    }

    pub fn key(&self) -> Option<&ApiKey> {
        match self {
            Caller::Anonymous => None,
            Caller::Key(k) => Some(k),
        }
    }

    pub fn sees(&self, job: &Job) -> bool {
        match self {
            Caller::Key(k) if k.admin => true,
            _ => job.owner.as_deref() == self.owner(),
        }
    }
}

/// A new secret key: `folio_` + 64 hex digits from two v4 UUIDs' worth of
/// OS randomness (getrandom, through `uuid`) — 244 random bits.
pub fn generate_key() -> String {
    let mut s = String::from(KEY_PREFIX);
    for _ in 0..2 {
        for b in uuid::Uuid::new_v4().as_bytes() {
            s.push_str(&format!("{b:02x}"));
        }
    }
    s
}

/// A short public id for a key (`key_` + 12 hex digits).
pub fn generate_key_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("key_{}", &u[..12])
}

/// Hex SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key sent with the request, if any.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_string())
}

fn unauthorized(code: &str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
        .header(header::WWW_AUTHENTICATE, "Bearer realm=\"folio\"")
}

/// Whether the path is part of the authenticated API. Health, metrics and the
/// documentation stay open (probes, scrapers and people reading the docs
/// have no key; `/metrics` is meant to be firewalled).
fn protected(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

pub async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    match caller(&st, req.headers(), protected(req.uri().path())).await {
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn caller(st: &AppState, headers: &HeaderMap, protected: bool) -> ApiResult<Caller> {
    let Some(key) = presented_key(headers) else {
        if protected && st.security.auth_required {
            return Err(unauthorized(
                "unauthorized",
                "an API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key'",
            ));
        }
        return Ok(Caller::Anonymous);
    };
    if !key.starts_with(KEY_PREFIX) {
        return Err(unauthorized("invalid_api_key", "the API key is not valid"));
    }
    match st.store.api_key_by_hash(&hash_key(&key)).await? {
        Some(k) if k.active() => Ok(Caller::Key(Arc::new(k))),
        _ => Err(unauthorized(
            "invalid_api_key",
            "the API key is not valid or was revoked",
        )),
    }
}

/// Look up a job the caller may see; anything else is "no such job".
pub async fn visible_job(st: &AppState, caller: &Caller, id: &str) -> ApiResult<Job> {
    match st.store.get(id).await? {
        Some(job) if caller.sees(&job) => Ok(job),
        _ => Err(ApiError::not_found(format!("no job {id}"))),
    }
}

/// Handlers take the caller as an argument; without the auth layer (unit
/// tests) it is anonymous.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anonymous))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
        assert!(generate_key_id().starts_with("key_"));
    }

    #[test]
    fn keys_from_either_header() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer folio_x".parse().unwrap());
        assert_eq!(presented_key(&h).as_deref(), Some("folio_x"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "folio_y".parse().unwrap());
        assert_eq!(presented_key(&h).as_deref(), Some("folio_y"));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), None);
    }
}
