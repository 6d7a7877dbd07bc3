//! Redis connections: to one server, or to whichever server the Sentinels name as the primary.
//!
//! Every service talks to Redis through a [`Redis`]: a cheap-to-clone handle over one
//! self-reconnecting multiplexed connection. With `redis.sentinels` set it asks the Sentinels for
//! the primary of `redis.sentinel_master`, and asks again when a command fails in a way a
//! failover explains (the connection dropped or was refused, a timeout, `READONLY` from a demoted
//! primary); a new primary replaces the connection for every clone at once. A command that timed
//! out on the server it is already on replaces the connection too (a new one to the same
//! server): a connection that went silent without closing (a host lost, a partition, a
//! middlebox that forgot it) never recovers, and the underlying manager reconnects only when a
//! connection closes. The failed command itself is not retried here: its caller sees the error
//! and retries as it always does (the consumers back off and replay, intake answers `503`).
//!
//! A failover can lose writes the old primary acknowledged but had not yet sent to a replica
//! (replication is asynchronous). The consumers therefore commit a Kafka offset only after
//! [`Redis::durable`] confirmed that the writes behind it reached `redis.replica_acks` replicas,
//! and a change of primary since the last confirmation stops them (crash-only: they replay from the
//! last committed offset, so what the old primary lost is written again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, Pipeline, RedisConnectionInfo, RedisError, RedisFuture,
    Value,
};
use secrecy::ExposeSecret;

use crate::settings::RedisSettings;

/// Longest a single ordinary Redis command may take before the caller sees an error.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Redis::durable`] waits for replicas to acknowledge. `WAIT` blocks the connection it
/// runs on, which every command of the service shares, so the wait is short: a replica on the
/// same network answers in about a millisecond, and one that did not yet is asked again at the
/// next confirmation (100 ms later). (2 s stalled every command of the gateway and the SLA
/// service for 2 s in every 2.1 while a replica was missing.)
pub const REPLICA_ACK_TIMEOUT: Duration = Duration::from_millis(10);
/// The Sentinels are asked at most this often while commands keep failing.
const RESOLVE_EVERY: Duration = Duration::from_millis(500);

/// A shared connection for ordinary commands (see the module docs).
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    current: Mutex<Current>,
    /// When the connection was last looked at after an error (Sentinels asked, or replaced):
    /// at most every [`RESOLVE_EVERY`] while commands keep failing.
    last_resolve: Mutex<Option<Instant>>,
    /// Bumped each time the connection moves to another server.
    generation: AtomicU64,
    /// The generation [`Redis::durable`] last confirmed.
    confirmed: AtomicU64,
    sentinel: Option<Sentinel>,
    replica_acks: u32,
    db: i64,
}

struct Current {
    conn: ConnectionManager,
    /// `host:port` of the server, for logs and for telling a new primary from the old one.
    address: String,
    /// How `conn` was made, to make another to the same server.
    client: Client,
}

struct Sentinel {
    client: tokio::sync::Mutex<SentinelClient>,
    master: String,
}

/// Why [`Redis::durable`] could not confirm the writes.
#[derive(Debug, thiserror::Error)]
pub enum NotDurable {
    /// Fewer replicas than required acknowledged in time: the offsets wait, nothing is lost.
    #[error("only {acked} of {required} Redis replicas acknowledged the writes")]
    TooFewReplicas { acked: u32, required: u32 },
    /// Redis did not answer `WAIT`: the offsets wait.
    #[error("Redis did not answer WAIT: {0}")]
    Unavailable(#[source] RedisError),
    /// The primary changed since the last confirmation, or the connection to it was replaced (a
    /// `WAIT` on the new connection says nothing of the old one's writes): writes since then may
    /// be gone, so the consumer must replay from its last committed offset.
    #[error(
        "the Redis primary or the connection to it changed (now {address}); writes since the last confirmation may be lost"
    )]
    PrimaryChanged { address: String },
}

impl Redis {
    /// Connects as `settings` say: to `url`, or to the Sentinels' primary.
    pub async fn connect(settings: &RedisSettings) -> anyhow::Result<Redis> {
        let sentinels = settings.sentinel_addresses();
        let (sentinel, client) = if sentinels.is_empty() {
            (None, Client::open(settings.url.expose_secret()).context("parsing Redis URL")?)
        } else {
            let mut client = sentinel_client(settings, &sentinels)?;
            let primary = client.async_get_client().await.with_context(|| {
                format!("asking the Sentinels {sentinels:?} for primary {}", settings.sentinel_master)
            })?;
            let sentinel =
                Sentinel { client: tokio::sync::Mutex::new(client), master: settings.sentinel_master.clone() };
            (Some(sentinel), primary)
        };
        let db = client.get_connection_info().redis_settings().db();
        let address = client.get_connection_info().addr().to_string();
        let conn = manager(client.clone()).await.with_context(|| format!("connecting to Redis at {address}"))?;
        if sentinel.is_some() {
            tracing::info!(primary = %address, "Redis primary found through the Sentinels");
        }
        Ok(Redis::from_parts(Current { conn, address, client }, sentinel, settings.required_replica_acks(), db))
    }

    /// A handle to `url` that connects on first use (for tests that never reach Redis).
    pub fn lazy(url: &str) -> anyhow::Result<Redis> {
        let client = Client::open(url).context("parsing Redis URL")?;
        let db = client.get_connection_info().redis_settings().db();
        let address = client.get_connection_info().addr().to_string();
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), ConnectionManagerConfig::new())?;
        Ok(Redis::from_parts(Current { conn, address, client }, None, 0, db))
    }

    fn from_parts(current: Current, sentinel: Option<Sentinel>, replica_acks: u32, db: i64) -> Redis {
        Redis {
            inner: Arc::new(Inner {
                current: Mutex::new(current),
                last_resolve: Mutex::new(None),
                generation: AtomicU64::new(0),
                confirmed: AtomicU64::new(0),
                sentinel,
                replica_acks,
                db,
            }),
        }
    }

    /// The server this handle talks to now (`host:port`).
    pub fn address(&self) -> String {
        self.lock().address.clone()
    }

    /// Whether a consumer must confirm its writes with [`Redis::durable`] before committing
    /// offsets: with Sentinels (the primary can change) or required replica acknowledgements.
    pub fn needs_confirmation(&self) -> bool {
        self.inner.sentinel.is_some() || self.inner.replica_acks > 0
    }

    /// Replicas [`Redis::durable`] waits for (`redis.replica_acks`).
    pub fn replica_acks(&self) -> u32 {
        self.inner.replica_acks
    }

    /// Confirms that every write this process made through this handle so far is held by
    /// `redis.replica_acks` replicas (`WAIT`), and that the primary has not changed since the last
    /// confirmation. Call it before committing the Kafka offsets behind those writes. With
    /// `replica_acks = 0` only the change of primary is checked.
    pub async fn durable(&self) -> Result<(), NotDurable> {
        let generation = self.inner.generation.load(Ordering::Acquire);
        if self.inner.confirmed.swap(generation, Ordering::AcqRel) != generation {
            return Err(NotDurable::PrimaryChanged { address: self.address() });
        }
        let required = self.inner.replica_acks;
        if required == 0 {
            return Ok(());
        }
        let mut conn = self.clone();
        let acked: u32 = redis::cmd("WAIT")
            .arg(required)
            .arg(REPLICA_ACK_TIMEOUT.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(NotDurable::Unavailable)?;
        if self.inner.generation.load(Ordering::Acquire) != generation {
            // The WAIT went to a new primary: it says nothing of the writes before it.
            return Err(NotDurable::PrimaryChanged { address: self.address() });
        }
        if acked < required {
            return Err(NotDurable::TooFewReplicas { acked, required });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.inner.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connection(&self) -> (u64, ConnectionManager) {
        let current = self.lock();
        (self.inner.generation.load(Ordering::Acquire), current.conn.clone())
    }

    /// After a failed command (at most every [`RESOLVE_EVERY`]): with Sentinels, ask them whether
    /// the primary moved, and move every clone to it; after a timeout on the server the handle is
    /// still on, give every clone a new connection to it. Either bumps the generation, so
    /// [`Redis::durable`] reports the change.
    async fn after_error(&self, generation: u64, err: &RedisError) {
        if !failover_explains(err) {
            return;
        }
        {
            let mut last = self.inner.last_resolve.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < RESOLVE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let (current_address, current_client) = {
            let current = self.lock();
            (current.address.clone(), current.client.clone())
        };
        let primary = match &self.inner.sentinel {
            Some(sentinel) => {
                let mut sentinels = sentinel.client.lock().await;
                match sentinels.async_get_client().await {
                    Ok(client) => Some(client),
                    Err(e) => {
                        tracing::warn!(master = %sentinel.master, error = %e, "the Sentinels name no reachable primary yet");
                        return;
                    }
                }
            }
            None => None,
        };
        let moved = primary.as_ref().is_some_and(|c| c.get_connection_info().addr().to_string() != current_address);
        let client = match primary {
            Some(client) if moved => client,
            // The same server: only a timeout says this connection itself is the trouble (a
            // closed or refused one the manager reconnects by itself).
            _ if err.is_timeout() => current_client,
            _ => return,
        };
        let address = client.get_connection_info().addr().to_string();
        match manager(client.clone()).await {
            Ok(conn) => {
                let mut current = self.lock();
                if self.inner.generation.load(Ordering::Acquire) == generation {
                    if moved {
                        tracing::warn!(from = %current.address, to = %address, "Redis failover: moving to the new primary");
                    } else {
                        tracing::warn!(server = %address, error = %err, "Redis did not answer in time; replacing the connection");
                    }
                    *current = Current { conn, address, client };
                    self.inner.generation.fetch_add(1, Ordering::AcqRel);
                }
            }
            Err(e) => tracing::warn!(server = %address, error = %e, "cannot connect to Redis yet"),
        }
    }
}

impl ConnectionLike for Redis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (generation, mut conn) = self.connection();
            let result = conn.req_packed_command(cmd).await;
            if let Err(err) = &result {
                self.after_error(generation, err).await;
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (generation, mut conn) = self.connection();
            let result = conn.req_packed_commands(cmd, offset, count).await;
            if let Err(err) = &result {
                self.after_error(generation, err).await;
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.db
    }
}

/// Errors a failover explains: the server went away, does not answer, or is now a replica.
fn failover_explains(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || matches!(err.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"))
}

async fn manager(client: Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(3);
    ConnectionManager::new_with_config(client, config).await
}

/// A Sentinel client for the primary of `settings.sentinel_master`; the primary gets `url`'s
/// credentials and database.
fn sentinel_client(settings: &RedisSettings, sentinels: &[String]) -> anyhow::Result<SentinelClient> {
    let info = settings.url.expose_secret().into_connection_info().context("parsing Redis URL")?;
    let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info.redis_settings().clone());
    // The Sentinels' own password (`requirepass`) is theirs, not the servers'.
    let password = settings.sentinel_password.expose_secret();
    let addresses = sentinels
        .iter()
        .map(|a| {
            let address =
                format!("redis://{a}").into_connection_info().with_context(|| format!("Sentinel address {a}"))?;
            Ok(if password.is_empty() {
                address
            } else {
                address.set_redis_settings(RedisConnectionInfo::default().set_password(password))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    SentinelClient::build(addresses, settings.sentinel_master.clone(), Some(node), SentinelServerType::Master)
        .with_context(|| format!("Sentinel addresses {sentinels:?}"))
}

/// The shared connection of a service ([`Redis::connect`]).
pub async fn managed(settings: &RedisSettings) -> anyhow::Result<Redis> {
    Redis::connect(settings).await
}

/// A dedicated connection for blocking reads (`XREAD BLOCK`), so nobody else's commands queue
/// behind them. A command on it may take `longest_block` (the longest `BLOCK` its reader asks
/// for) plus [`RESPONSE_TIMEOUT`]; past that the caller gets a timeout error, so a server that
/// went silent without closing the connection (a host lost, a partition, a frozen process) is
/// left rather than waited on for ever. With Sentinels it goes to the primary they name now; a
/// reader that loses it calls this again.
pub async fn dedicated(settings: &RedisSettings, longest_block: Duration) -> anyhow::Result<MultiplexedConnection> {
    let sentinels = settings.sentinel_addresses();
    let client = if sentinels.is_empty() {
        Client::open(settings.url.expose_secret()).context("parsing Redis URL")?
    } else {
        sentinel_client(settings, &sentinels)?
            .async_get_client()
            .await
            .context("asking the Sentinels for the primary")?
    };
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(longest_block.saturating_add(RESPONSE_TIMEOUT)));
    client.get_multiplexed_async_connection_with_config(&config).await.context("connecting to Redis (dedicated)")
}

/// Whether Redis refused a command because it reached its `maxmemory` (it runs with
/// `noeviction`, so it refuses writes rather than dropping case data): the write may succeed
/// later, once memory is freed or raised.
pub fn refused_for_memory(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<redis::RedisError>().is_some_and(|e| e.code() == Some("OOM")))
}
