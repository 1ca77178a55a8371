//! API key records. The store keeps only a key's hash; generating keys and
//! hashing them is the server's business (`folio_server::security::auth`).

use folio_jobs::Millis;

/// What is needed to store a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Public identifier (`key_…`), shown by `folio keys list`, used as job owner.
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the secret key.
    pub key_hash: String,
    /// Admin keys see every job.
    pub admin: bool,
    /// Per-key rate overrides in the `FOLIO_RATE_LIMIT_*` syntax (`off` = none).
    pub rate_limit_uploads: Option<String>,
    pub rate_limit_reads: Option<String>,
    /// Most queued + running jobs at once; `None` = no cap.
    pub max_concurrent_jobs: Option<u32>,
    pub created_at: Millis,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub admin: bool,
    pub rate_limit_uploads: Option<String>,
    pub rate_limit_reads: Option<String>,
    pub max_concurrent_jobs: Option<u32>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

impl ApiKey {
    pub fn active(&self) -> bool {
        self.revoked_at.is_none()
    }
}
