//! The run loop every Whistle service shares: its long-lived tasks (the HTTP server among them)
//! under one [`Supervisor`], stopped together when one ends or on shutdown, drained within the
//! grace period, and the Kafka producer flushed within the same bound before the process exits.
//! Each service's `startup.rs` builds its own pieces and hands them to a [`Service`].

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::producer::{FutureProducer, Producer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::shutdown::Supervisor;

pub struct Service {
    name: &'static str,
    supervisor: Supervisor,
    grace: Duration,
    producer: Option<FutureProducer>,
}

impl Service {
    /// A service whose tasks stop on `token` (a fresh one unless the service shares its own).
    pub fn new(name: &'static str, grace: Duration, token: Option<CancellationToken>) -> Service {
        Service { name, supervisor: Supervisor::new(token.unwrap_or_default()), grace, producer: None }
    }

    /// Cancelled when the service stops: long-lived tasks watch it.
    pub fn token(&self) -> CancellationToken {
        self.supervisor.token()
    }

    /// Serves `router` on `listener` (with the client's address available to the handlers, for
    /// per-address limits) until the service stops; in-flight requests finish within the grace.
    pub fn http(&mut self, name: &'static str, listener: TcpListener, router: axum::Router) -> &mut Service {
        let token = self.token();
        self.supervisor.spawn(name, async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
                .with_context(|| format!("{name} server"))
        });
        self
    }

    /// A long-lived task; when it ends (well or not), the service stops.
    pub fn task<F>(&mut self, name: &'static str, task: F) -> &mut Service
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.supervisor.spawn(name, task);
        self
    }

    /// Flushes this producer (bounded by the grace period) once the tasks have stopped.
    pub fn flush_on_stop(&mut self, producer: FutureProducer) -> &mut Service {
        self.producer = Some(producer);
        self
    }

    /// Runs until `shutdown` resolves or a task ends; then drains and flushes, each bounded.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Service { name, supervisor, grace, producer } = self;
        let result = supervisor.run(shutdown, grace).await;
        if let Some(producer) = producer {
            let flushed = tokio::task::spawn_blocking(move || producer.flush(grace)).await;
            if !matches!(flushed, Ok(Ok(()))) {
                tracing::error!(service = name, "producer did not flush before the grace period ended");
            }
        }
        tracing::info!(service = name, "stopped");
        result
    }
}
