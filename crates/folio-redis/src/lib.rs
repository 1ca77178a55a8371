//! Folio's Redis integration (`FOLIO_REDIS_URL`), optional.
//!
//! Why a crate of its own: it is the one piece of state that API nodes share
//! besides the job store, and every use of it must degrade, not fail, when
//! Redis is away. Two uses:
//!
//! - [`gcra`]: rate limits shared by all API nodes — the GCRA algorithm as a
//!   Lua script run atomically in Redis (`EVALSHA`), with Redis's own clock so
//!   nodes' clocks do not matter.
//! - [`pubsub`]: job progress and state events. Each process publishes the
//!   events of the jobs it runs to `folio:job:{id}`; API nodes subscribe to
//!   `folio:job:*` and hand them to their local event bus, so
//!   `GET /v1/jobs/{id}/events` streams live wherever the job runs.

pub mod gcra;
pub mod pubsub;

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use gcra::Decision;

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid rate limit: {0}")]
    InvalidLimit(String),
}

pub type Result<T, E = RedisError> = std::result::Result<T, E>;

/// How long one command may take before the caller falls back.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A shared, self-reconnecting connection plus what pub/sub needs.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    /// This process's id: a node skips its own events coming back.
    node: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("node", &self.node).finish()
    }
}

async fn timed<T>(fut: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(RedisError::Timeout(COMMAND_TIMEOUT)),
    }
}

impl Redis {
    /// Connect to `url` (`redis://host:6379`). The connection reconnects by
    /// itself later; only the first connection must succeed.
    pub async fn connect(url: &str) -> Result<Redis> {
        let client = redis::Client::open(url)?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2);
        let conn = match tokio::time::timeout(
            COMMAND_TIMEOUT * 3,
            ConnectionManager::new_with_config(client.clone(), cfg),
        )
        .await
        {
            Ok(c) => c?,
            Err(_) => return Err(RedisError::Timeout(COMMAND_TIMEOUT * 3)),
        };
        Ok(Redis {
            client,
            conn,
            node: uuid::Uuid::new_v4().simple().to_string(),
        })
    }

    /// One round trip (readiness); the time it took.
    pub async fn ping(&self) -> Result<Duration> {
        let started = Instant::now();
        let mut c = self.conn.clone();
        let _: String = timed(redis::cmd("PING").query_async(&mut c)).await?;
        Ok(started.elapsed())
    }

    pub fn node(&self) -> &str {
        &self.node
    }
}

/// A Redis connection that may not exist yet: started in the background and
/// retried until Redis answers, so a node starts (degraded) while Redis is
/// away. `on_connect` runs once, when the first connection is made.
#[derive(Clone, Debug, Default)]
pub struct RedisLink {
    cell: std::sync::Arc<std::sync::OnceLock<Redis>>,
}

impl RedisLink {
    pub fn start(url: String, on_connect: impl FnOnce(&Redis) + Send + 'static) -> RedisLink {
        let link = RedisLink::default();
        let cell = link.cell.clone();
        tokio::spawn(async move {
            let mut warned = false;
            loop {
                match Redis::connect(&url).await {
                    Ok(r) => {
                        if warned {
                            tracing::info!("connected to redis");
                        }
                        on_connect(&r);
                        let _ = cell.set(r);
                        return;
                    }
                    Err(e) => {
                        if !warned {
                            tracing::warn!(error = %e, "redis unreachable: rate limits are per node and progress of jobs elsewhere is polled until it answers");
                            warned = true;
                        }
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
        link
    }

    /// The connection, once made.
    pub fn get(&self) -> Option<&Redis> {
        self.cell.get()
    }
}
