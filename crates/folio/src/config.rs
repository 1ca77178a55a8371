//! Service configuration: flags > environment (`FOLIO_*`, also read from a
//! `.env` file) > `folio.toml` > defaults. The setting names are a contract
//! (documented in `.env.example`); `folio config` prints the effective values.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `1h`, `30s`, `250ms`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&folio_jobs::duration::format(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Dur(Duration::from_secs(n))),
            Raw::Float(f) if f.is_finite() && f >= 0.0 => Ok(Dur(Duration::from_secs_f64(f))),
            Raw::Float(f) => Err(serde::de::Error::custom(format!("invalid duration {f}"))),
            Raw::Text(s) => folio_jobs::duration::parse(&s)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Every service setting. Field `x` is `FOLIO_X` in the environment and `x`
/// in `folio.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Where the job database and files live.
    pub data_dir: PathBuf,
    /// Job store URL: `sqlite://FILE` (default `sqlite://<data_dir>/folio.db`)
    /// or `postgres://user:pass@host:port/db` for many nodes.
    pub database_url: Option<String>,
    /// Redis, for rate limits shared by all API nodes and live progress
    /// across processes (`redis://host:6379`); off when unset.
    pub redis_url: Option<String>,
    /// Where inputs and results go: `s3://bucket/prefix` (endpoint, region
    /// and credentials from the `AWS_*` variables); unset = `<data_dir>`.
    pub storage_url: Option<String>,
    /// Answer result downloads from S3 storage with a redirect to a
    /// presigned URL instead of streaming them through the API node.
    pub presigned_downloads: bool,
    /// Largest request body (all files of one request), bytes.
    pub max_upload_bytes: u64,
    /// Most files per request.
    pub max_files: usize,
    /// How long a request waits for its result before answering 202.
    pub sync_wait: Dur,
    /// How long inputs and results are kept.
    pub retention: Dur,
    /// How long job rows are kept after their files expired (410 answers).
    pub row_retention: Dur,
    /// How often expired files are deleted.
    pub cleanup_interval: Dur,
    /// Concurrent jobs; 0 = API only. Default: number of cores.
    pub workers: Option<usize>,
    /// Soft per-job time limit (the job is asked to stop: code `timeout`).
    pub job_timeout: Dur,
    /// Hard per-job time limit (the job's process is killed).
    pub job_hard_timeout: Dur,
    /// Address-space limit per job process, bytes (0 = none).
    pub job_memory_bytes: u64,
    /// CPU-time limit per job process, seconds (0 = none).
    pub job_cpu_secs: u64,
    /// Worker lease; renewed every third of it. A crashed worker's jobs are
    /// re-queued this long after it stopped renewing.
    pub lease: Dur,
    /// Attempts per job (retries only for retryable failures).
    pub max_attempts: u32,
    /// First retry delay (doubles each time, at most 5 minutes).
    pub retry_delay: Dur,
    /// Reuse a live result for the same input bytes + operation + options.
    pub cache: bool,
    /// On shutdown, how long running jobs may finish before being re-queued.
    pub shutdown_grace: Dur,
    /// Readiness fails above this many queued jobs.
    pub max_queue_depth: u64,
    /// `json` (default) or `text`.
    pub log_format: String,
    /// Log filter (`info`, `folio_worker=debug,info`...); `RUST_LOG` also works.
    pub log_level: String,
    /// Where `folio worker` serves `/metrics` and `/health/live`; off when unset.
    pub metrics_listen: Option<String>,
    /// `off` (keys optional) or `required` (every `/v1` request needs a key).
    pub auth: String,
    /// Upload (POST) rate per key or client address: `N/s|N/min|N/h[,burst=M]` or `off`.
    pub rate_limit_uploads: String,
    /// Read rate per key or client address, same syntax.
    pub rate_limit_reads: String,
    /// Proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For/-Proto are believed.
    pub trusted_proxies: Option<String>,
    /// Browser origins allowed by CORS (comma-separated); none when unset.
    pub allowed_origins: Option<String>,
    /// Always send Strict-Transport-Security (served over TLS by a proxy).
    pub hsts: bool,
    /// Request line + headers must arrive within this time.
    pub header_timeout: Dur,
    /// Largest request head, bytes (431 above).
    pub max_header_bytes: usize,
    /// Longest pause between two reads of a request body (408 and close).
    pub body_timeout: Dur,
    /// Longest time to receive a whole request body (408 and close).
    pub upload_timeout: Dur,
    /// Sanitize every compress/merge result (remove JavaScript, launch
    /// actions, embedded files, XFA), whatever the request says.
    pub force_sanitize: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./folio-data"),
            database_url: None,
            redis_url: None,
            storage_url: None,
            presigned_downloads: false,
            max_upload_bytes: 100 * 1000 * 1000,
            max_files: 50,
            sync_wait: Dur(Duration::from_secs(30)),
            retention: Dur(Duration::from_secs(3600)),
            row_retention: Dur(Duration::from_secs(24 * 3600)),
            cleanup_interval: Dur(Duration::from_secs(60)),
            workers: None,
            job_timeout: Dur(Duration::from_secs(300)),
            job_hard_timeout: Dur(Duration::from_secs(330)),
            job_memory_bytes: 4 << 30,
            job_cpu_secs: 600,
            lease: Dur(Duration::from_secs(30)),
            max_attempts: 3,
            retry_delay: Dur(Duration::from_secs(2)),
            cache: true,
            shutdown_grace: Dur(Duration::from_secs(30)),
            max_queue_depth: 10_000,
            log_format: "json".into(),
            log_level: "info".into(),
            metrics_listen: None,
            auth: "off".into(),
            rate_limit_uploads: "10/s,burst=20".into(),
            rate_limit_reads: "100/s,burst=200".into(),
            trusted_proxies: None,
            allowed_origins: None,
            hsts: false,
            header_timeout: Dur(Duration::from_secs(10)),
            max_header_bytes: 64 * 1024,
            body_timeout: Dur(Duration::from_secs(30)),
            upload_timeout: Dur(Duration::from_secs(600)),
            force_sanitize: false,
        }
    }
}

// Flags shared by `serve`, `worker` and `config`; each overrides its
// `FOLIO_*` variable. A plain comment: clap would take a doc comment as the
// `about` of those subcommands (their arguments are deferred, see
// `cli::Command`).
#[derive(Debug, Clone, Args, Default)]
pub struct ServiceArgs {
    /// Address to listen on [env: FOLIO_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data directory [env: FOLIO_DATA_DIR] [default: ./folio-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Concurrent jobs, 0 = API only [env: FOLIO_WORKERS] [default: cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Largest upload in bytes [env: FOLIO_MAX_UPLOAD_BYTES] [default: 100000000]
    #[arg(long, value_name = "BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Sync window, e.g. 30 or 30s [env: FOLIO_SYNC_WAIT] [default: 30]
    #[arg(long, value_name = "DURATION")]
    pub sync_wait: Option<String>,
    /// Retention of files, e.g. 1h [env: FOLIO_RETENTION] [default: 1h]
    #[arg(long, value_name = "DURATION")]
    pub retention: Option<String>,
    /// Configuration file [env: FOLIO_CONFIG] [default: ./folio.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Config {
    /// Resolve the effective configuration.
    pub fn load(args: &ServiceArgs) -> Result<Config> {
        // `.env` fills in variables that are not already set.
        let _ = dotenvy::dotenv();
        let file = args
            .config
            .clone()
            .or_else(|| std::env::var_os("FOLIO_CONFIG").map(PathBuf::from));
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match &file {
            Some(f) if !f.is_file() => bail!("configuration file {} not found", f.display()),
            Some(f) => fig = fig.merge(Toml::file(f)),
            None if Path::new("folio.toml").is_file() => fig = fig.merge(Toml::file("folio.toml")),
            None => {}
        }
        fig = fig.merge(Env::prefixed("FOLIO_").ignore(&["config", "password", "allow_no_corpus"]));
        let mut cfg: Config = fig.extract().context("invalid configuration")?;
        if let Some(v) = &args.listen {
            cfg.listen = v.clone();
        }
        if let Some(v) = &args.data_dir {
            cfg.data_dir = v.clone();
        }
        if let Some(v) = args.workers {
            cfg.workers = Some(v);
        }
        if let Some(v) = args.max_upload_bytes {
            cfg.max_upload_bytes = v;
        }
        if let Some(v) = &args.sync_wait {
            cfg.sync_wait = parse_dur("--sync-wait", v)?;
        }
        if let Some(v) = &args.retention {
            cfg.retention = parse_dur("--retention", v)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        if self.max_upload_bytes == 0 {
            bail!("max_upload_bytes must be positive");
        }
        if self.lease.0 < Duration::from_millis(300) {
            bail!("lease must be at least 300ms");
        }
        if self.job_hard_timeout.0 < self.job_timeout.0 {
            bail!("job_hard_timeout must not be shorter than job_timeout");
        }
        if !matches!(self.log_format.as_str(), "json" | "text") {
            bail!("log_format must be json or text");
        }
        if !matches!(self.auth.as_str(), "off" | "required") {
            bail!("auth must be off or required");
        }
        self.security()?;
        if self.max_header_bytes < 8192 {
            bail!("max_header_bytes must be at least 8192");
        }
        if let Some(url) = &self.database_url
            && self.database_kind().is_none()
        {
            bail!(
                "database_url must start with sqlite:, postgres: or postgresql: (got {})",
                mask_url(url)
            );
        }
        if let Some(url) = &self.storage_url
            && !url.starts_with("s3://")
        {
            bail!("storage_url must be s3://bucket/prefix (unset for local files), got {url}");
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            bail!("redis_url must start with redis:// or rediss://");
        }
        Ok(())
    }

    /// The API's security settings, parsed.
    pub fn security(&self) -> Result<folio_server::security::SecurityConfig> {
        use folio_server::ratelimit::parse_rate;
        use folio_server::security::clientip::parse_list;
        let list = |v: &Option<String>| -> Vec<String> {
            v.as_deref()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Ok(folio_server::security::SecurityConfig {
            auth_required: self.auth == "required",
            allowed_origins: list(&self.allowed_origins),
            hsts: self.hsts,
            trusted_proxies: parse_list(self.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?,
            upload_rate: parse_rate(&self.rate_limit_uploads)
                .map_err(|e| anyhow::anyhow!("rate_limit_uploads: {e}"))?,
            read_rate: parse_rate(&self.rate_limit_reads)
                .map_err(|e| anyhow::anyhow!("rate_limit_reads: {e}"))?,
            force_sanitize: self.force_sanitize,
            body: folio_server::serve::BodyDeadline {
                idle: self.body_timeout.0,
                total: self.upload_timeout.0,
            },
        })
    }

    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// Which job store the URL names; `None` for an unknown scheme.
    pub fn database_kind(&self) -> Option<DatabaseKind> {
        match &self.database_url {
            None => Some(DatabaseKind::Sqlite),
            Some(u) if u.starts_with("sqlite:") => Some(DatabaseKind::Sqlite),
            Some(u) if u.starts_with("postgres:") || u.starts_with("postgresql:") => {
                Some(DatabaseKind::Postgres)
            }
            Some(_) => None,
        }
    }

    /// The SQLite file to use.
    pub fn database_path(&self) -> PathBuf {
        match &self.database_url {
            Some(url) => PathBuf::from(
                url.trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or(""),
            ),
            None => self.data_dir.join("folio.db"),
        }
    }

    /// The configuration as JSON with secrets masked (credentials in URLs).
    pub fn masked(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(url) = &self.database_url {
            v["database_url"] = serde_json::Value::String(mask_url(url));
        }
        if let Some(url) = &self.redis_url {
            v["redis_url"] = serde_json::Value::String(mask_url(url));
        }
        v["workers_effective"] = self.workers().into();
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

fn parse_dur(flag: &str, v: &str) -> Result<Dur> {
    folio_jobs::duration::parse(v)
        .map(Dur)
        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((cred, host)) => {
            let user = cred.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials() {
        assert_eq!(
            mask_url("postgres://folio:s3cret@db:5432/folio"),
            "postgres://folio:***@db:5432/folio"
        );
        assert_eq!(mask_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn durations_from_numbers_or_text() {
        let d: Dur = serde_json::from_str("30").unwrap();
        assert_eq!(d.0, Duration::from_secs(30));
        let d: Dur = serde_json::from_str("\"1h30m\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(5400));
        assert!(serde_json::from_str::<Dur>("\"soon\"").is_err());
    }
}
