//! `folio keys create|list|revoke`: API keys in the job store. The secret is
//! printed once at creation; the store keeps its SHA-256 only.

use anyhow::{Context, Result, bail};
use folio_db::{ApiKey, NewApiKey, SqliteStore, Store};
use folio_server::security::auth::{generate_key, generate_key_id, hash_key};

use crate::cli::KeysCommand;
use crate::config::{Config, ServiceArgs};

async fn open(service: &ServiceArgs) -> Result<SqliteStore> {
    let cfg = Config::load(service)?;
    tokio::fs::create_dir_all(&cfg.data_dir)
        .await
        .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    SqliteStore::open(&cfg.database_path())
        .await
        .with_context(|| format!("cannot open {}", cfg.database_path().display()))
}

fn check_rate(flag: &str, v: &Option<String>) -> Result<()> {
    if let Some(v) = v {
        folio_server::ratelimit::parse_rate(v).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    }
    Ok(())
}

fn record(k: &ApiKey) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "name": k.name,
        "admin": k.admin,
        "rate_limit_uploads": k.rate_limit_uploads,
        "rate_limit_reads": k.rate_limit_reads,
        "max_concurrent_jobs": k.max_concurrent_jobs,
        "created_at": folio_jobs::time::rfc3339(k.created_at),
        "revoked_at": k.revoked_at.map(folio_jobs::time::rfc3339),
    })
}

pub fn run(cmd: KeysCommand) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            KeysCommand::Create {
                name,
                admin,
                rate_limit_uploads,
                rate_limit_reads,
                max_concurrent_jobs,
                json,
                service,
            } => {
                if name.trim().is_empty() {
                    bail!("--name must not be empty");
                }
                check_rate("--rate-limit-uploads", &rate_limit_uploads)?;
                check_rate("--rate-limit-reads", &rate_limit_reads)?;
                let store = open(&service).await?;
                let secret = generate_key();
                let key = store
                    .insert_api_key(NewApiKey {
                        id: generate_key_id(),
                        name: name.trim().to_string(),
                        key_hash: hash_key(&secret),
                        admin,
                        rate_limit_uploads,
                        rate_limit_reads,
                        max_concurrent_jobs,
                        created_at: folio_jobs::now_ms(),
                    })
                    .await?;
                if json {
                    let mut v = record(&key);
                    v["key"] = secret.into();
                    println!("{v}");
                } else {
                    println!("{secret}");
                    eprintln!(
                        "created {} ({}{}); the key above is shown only once",
                        key.id,
                        key.name,
                        if key.admin { ", admin" } else { "" }
                    );
                }
            }
            KeysCommand::List { json, service } => {
                let store = open(&service).await?;
                let keys = store.list_api_keys().await?;
                if json {
                    let v: Vec<_> = keys.iter().map(record).collect();
                    println!("{}", serde_json::Value::Array(v));
                } else {
                    for k in keys {
                        println!(
                            "{}\t{}\t{}\t{}",
                            k.id,
                            if k.admin { "admin" } else { "user" },
                            if k.active() { "active" } else { "revoked" },
                            k.name
                        );
                    }
                }
            }
            KeysCommand::Revoke { id, service } => {
                let store = open(&service).await?;
                if !store.revoke_api_key(&id, folio_jobs::now_ms()).await? {
                    bail!("no active key {id}");
                }
                eprintln!("revoked {id}");
            }
        }
        Ok(())
    })
}
