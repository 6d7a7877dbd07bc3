//! Redis connections.

use std::time::Duration;

use anyhow::Context as _;
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use secrecy::ExposeSecret;

use crate::settings::RedisSettings;

/// Longest a single ordinary Redis command may take before the caller sees an error.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A shared, self-reconnecting connection for ordinary commands.
pub async fn managed(settings: &RedisSettings) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose_secret()).context("parsing Redis URL")?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(3);
    ConnectionManager::new_with_config(client, config).await.context("connecting to Redis")
}

/// A dedicated connection for blocking reads (`XREAD BLOCK`): no response timeout, and nobody
/// else's commands queue behind it.
pub async fn dedicated(settings: &RedisSettings) -> anyhow::Result<MultiplexedConnection> {
    let client = redis::Client::open(settings.url.expose_secret()).context("parsing Redis URL")?;
    let config =
        AsyncConnectionConfig::new().set_connection_timeout(Some(Duration::from_secs(5))).set_response_timeout(None);
    client.get_multiplexed_async_connection_with_config(&config).await.context("connecting to Redis (dedicated)")
}

/// Whether Redis refused a command because it reached its `maxmemory` (it runs with
/// `noeviction`, so it refuses writes rather than dropping case data): the write may succeed
/// later, once memory is freed or raised.
pub fn refused_for_memory(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<redis::RedisError>().is_some_and(|e| e.code() == Some("OOM")))
}
