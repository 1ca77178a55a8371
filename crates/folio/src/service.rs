//! `folio serve` and `folio worker`: wire configuration, logging, metrics,
//! the job store, storage, the worker pool, cleanup and the HTTP server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use folio_db::{PostgresStore, SqliteStore, Store};
use folio_jobs::RetryPolicy;
use folio_server::{ApiConfig, AppState, Inner};
use folio_storage::Storage;
use folio_worker::{ChildCommand, EventBus, Pool, WorkerConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::{Config, DatabaseKind};
use crate::worker_metrics;

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log_format == "json" {
        // One JSON object per line; span fields (request_id, job_id) included.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

fn init_metrics() -> Result<PrometheusHandle> {
    let secs = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ];
    let ratio = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &secs)?
        .set_buckets_for_metric(Matcher::Full("folio_compression_ratio".into()), &ratio)?
        .install_recorder()
        .context("cannot install the metrics recorder")
}

struct Parts {
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    events: EventBus,
    pool: Option<Arc<Pool>>,
    redis: Option<folio_redis::RedisLink>,
}

/// The job store the configuration names (migrated, ready).
pub async fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    Ok(match cfg.database_kind() {
        Some(DatabaseKind::Postgres) => {
            let url = cfg.database_url.as_deref().unwrap_or_default();
            Arc::new(
                PostgresStore::open(url)
                    .await
                    .context("cannot open the PostgreSQL job store")?,
            )
        }
        _ => Arc::new(
            SqliteStore::open(&cfg.database_path())
                .await
                .with_context(|| {
                    format!(
                        "cannot open the job database {}",
                        cfg.database_path().display()
                    )
                })?,
        ),
    })
}

/// Connect to Redis in the background (a node starts while Redis is away).
/// Once connected, this process's job events are published there; with
/// `subscribe` (API nodes), other processes' events are fed into the local
/// bus for event streams.
fn start_redis(cfg: &Config, events: &EventBus, subscribe: bool) -> Option<folio_redis::RedisLink> {
    let url = cfg.redis_url.clone()?;
    let events = events.clone();
    Some(folio_redis::RedisLink::start(url, move |r| {
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        events.forward_to(tx);
        r.spawn_publisher(rx);
        if subscribe {
            let bus = events.clone();
            r.spawn_subscriber(move |e| bus.inject(e));
        }
    }))
}

async fn start_parts(cfg: &Config, workers: usize, api: bool) -> Result<Parts> {
    tokio::fs::create_dir_all(&cfg.data_dir)
        .await
        .with_context(|| {
            format!(
                "cannot create the data directory {}",
                cfg.data_dir.display()
            )
        })?;
    let store = open_store(cfg).await?;
    let storage = folio_storage::open(cfg.storage_url.as_deref(), &cfg.data_dir)
        .await
        .with_context(|| match &cfg.storage_url {
            Some(u) => format!("cannot use the storage {u}"),
            None => format!("cannot use {} for files", cfg.data_dir.display()),
        })?;
    let events = EventBus::default();
    let redis = start_redis(cfg, &events, api);
    let pool = if workers > 0 {
        let wc = WorkerConfig {
            workers,
            lease: cfg.lease.0,
            soft_timeout: cfg.job_timeout.0,
            hard_timeout: cfg.job_hard_timeout.0,
            memory_limit: (cfg.job_memory_bytes > 0).then_some(cfg.job_memory_bytes),
            cpu_limit: (cfg.job_cpu_secs > 0).then_some(cfg.job_cpu_secs),
            retry: RetryPolicy {
                max_attempts: cfg.max_attempts,
                base_delay_ms: cfg.retry_delay.0.as_millis() as u64,
                max_delay_ms: 5 * 60_000,
            },
            retention: cfg.retention.0,
            poll_interval: Duration::from_secs(1),
            child: ChildCommand::current_exe().context("cannot locate the folio executable")?,
            max_input_bytes: cfg.max_upload_bytes,
        };
        Some(Arc::new(Pool::start(
            wc,
            store.clone(),
            storage.clone(),
            events.clone(),
        )))
    } else {
        None
    };
    Ok(Parts {
        store,
        storage,
        events,
        pool,
        redis,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `folio serve`: API + workers + cleanup, until SIGINT/SIGTERM.
pub fn serve(cfg: Config) -> Result<()> {
    init_logging(&cfg);
    runtime()?.block_on(async move {
        let metrics = init_metrics()?;
        let workers = cfg.workers();
        let parts = start_parts(&cfg, workers, true).await?;
        let cleanup = folio_worker::cleanup::spawn_cleanup(
            parts.store.clone(),
            parts.storage.clone(),
            cfg.cleanup_interval.0,
            cfg.row_retention.0,
        );
        let state = AppState(Arc::new(Inner {
            cfg: ApiConfig {
                max_upload_bytes: cfg.max_upload_bytes,
                max_files: cfg.max_files,
                sync_wait: cfg.sync_wait.0,
                retention: cfg.retention.0,
                cache: cfg.cache,
                max_attempts: cfg.max_attempts,
                max_queue_depth: cfg.max_queue_depth,
                presigned_downloads: cfg.presigned_downloads,
            },
            store: parts.store.clone(),
            storage: parts.storage.clone(),
            events: parts.events.clone(),
            pool: parts.pool.clone(),
            metrics: Some(metrics),
            security: cfg.security()?,
            // Shared through Redis when configured, else per process.
            limiter: match &parts.redis {
                Some(link) => Arc::new(folio_server::ratelimit::RedisLimiter::new(link.clone())),
                None => Arc::new(folio_server::ratelimit::MemoryLimiter::new()),
            },
            redis: parts.redis.clone(),
        }));
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, workers, data_dir = %cfg.data_dir.display(), "folio listening");
        // Also on stdout, for scripts and tests that start on port 0.
        println!("folio listening on http://{addr}");

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let serve_cfg = folio_server::serve::ServeConfig {
            header_timeout: cfg.header_timeout.0,
            max_header_bytes: cfg.max_header_bytes,
        };
        let server = {
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                folio_server::serve::serve(
                    listener,
                    folio_server::router(state),
                    serve_cfg,
                    async move {
                        let _ = stop_rx.wait_for(|s| *s).await;
                    },
                )
                .await
            })
        };
        shutdown_signal().await;
        tracing::info!(
            grace_secs = cfg.shutdown_grace.0.as_secs(),
            "shutting down: no new jobs are claimed"
        );
        let _ = stop_tx.send(true);
        if let Some(pool) = &parts.pool {
            pool.shutdown(cfg.shutdown_grace.0).await;
        }
        cleanup.abort();
        // Open event streams may hold connections: give the server a moment.
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// `folio worker`: workers and the reaper only, sharing the data directory
/// with a `folio serve --workers 0` (or another worker) on the same host.
pub fn worker(cfg: Config) -> Result<()> {
    init_logging(&cfg);
    runtime()?.block_on(async move {
        let workers = cfg.workers().max(1);
        let metrics = match &cfg.metrics_listen {
            Some(addr) => Some(worker_metrics::serve(addr, init_metrics()?).await?),
            None => None,
        };
        let parts = start_parts(&cfg, workers, false).await?;
        tracing::info!(workers, data_dir = %cfg.data_dir.display(), "folio worker started");
        shutdown_signal().await;
        if let Some(pool) = &parts.pool {
            pool.shutdown(cfg.shutdown_grace.0).await;
        }
        if let Some(m) = metrics {
            m.abort();
        }
        Ok(())
    })
}

/// `folio migrate`: apply the job store's schema migrations and exit. Safe
/// while other nodes run or start (the migrator holds a lock).
pub fn migrate(cfg: Config) -> Result<()> {
    init_logging(&cfg);
    runtime()?.block_on(async move {
        if cfg.database_kind() == Some(DatabaseKind::Sqlite) {
            tokio::fs::create_dir_all(&cfg.data_dir).await.ok();
        }
        let store = open_store(&cfg).await?;
        store
            .ping()
            .await
            .context("the job store does not answer")?;
        println!("migrations applied");
        Ok(())
    })
}
