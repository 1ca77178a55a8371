//! Everything that protects the service from its clients: response headers
//! and CORS ([`headers`]), download names ([`disposition`]), who is calling
//! ([`clientip`], [`auth`]) and how often ([`crate::ratelimit`]).

pub mod auth;
pub mod clientip;
pub mod disposition;
pub mod headers;

use crate::ratelimit::Rate;
pub use clientip::IpNet;

/// Security settings (the binary maps `FOLIO_*` onto these).
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    /// `FOLIO_AUTH=required`: every `/v1` request needs an API key.
    pub auth_required: bool,
    /// Origins allowed to call the API from a browser (CORS); empty = none.
    pub allowed_origins: Vec<String>,
    /// Always send Strict-Transport-Security (the service is only reached over TLS).
    pub hsts: bool,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Upload (POST) budget per client; `None` = unlimited.
    pub upload_rate: Option<Rate>,
    /// Read (GET...) budget per client; `None` = unlimited.
    pub read_rate: Option<Rate>,
    /// Sanitize every compress/merge output, whatever the client asked.
    pub force_sanitize: bool,
    /// Deadlines for reading request bodies (slow uploads).
    pub body: crate::serve::BodyDeadline,
}
