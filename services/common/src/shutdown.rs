//! Shutdown signals and task supervision.
//!
//! A service runs its long-lived tasks (HTTP server, Kafka loop, …) under a [`Supervisor`]. When
//! the shutdown future resolves, or any task ends (cleanly or not), the supervisor logs how, cancels
//! the shared token so every other task starts draining, and waits for them at most `grace`.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Resolves on SIGTERM or ctrl-c: the one place a process listens for them.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Runs named tasks; the first to end brings the others down.
pub struct Supervisor {
    token: CancellationToken,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl Supervisor {
    pub fn new(token: CancellationToken) -> Self {
        Supervisor { token, tasks: JoinSet::new() }
    }

    /// The token every task must watch to start draining.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks.spawn(async move { (name, task.await) });
    }

    /// Waits until `shutdown` resolves or a task ends, then drains everything within `grace`.
    /// Returns an error when a task failed, so `main` exits non-zero.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>, grace: Duration) -> anyhow::Result<()> {
        let mut failed = false;
        tokio::select! {
            () = shutdown => tracing::info!("shutdown requested"),
            () = self.token.cancelled() => tracing::info!("shutdown requested by token"),
            Some(joined) = self.tasks.join_next() => failed |= report_exit(joined),
        }
        self.token.cancel();
        let drain = async {
            while let Some(joined) = self.tasks.join_next().await {
                failed |= report_exit(joined);
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::error!(
                grace_seconds = grace.as_secs(),
                remaining = self.tasks.len(),
                "tasks did not drain in time; aborting them"
            );
            self.tasks.abort_all();
            failed = true;
        }
        if failed { Err(anyhow::anyhow!("a task failed; see the log")) } else { Ok(()) }
    }
}

/// Logs how a task ended; true when that was a failure.
fn report_exit(joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>) -> bool {
    match joined {
        Ok((task, Ok(()))) => {
            tracing::info!(task, "task finished");
            false
        }
        Ok((task, Err(err))) => {
            tracing::error!(task, error = %format_args!("{err:#}"), "task failed");
            true
        }
        Err(err) => {
            tracing::error!(error = %err, "task panicked or was aborted");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_failing_task_cancels_the_others_and_is_reported() {
        let mut sup = Supervisor::new(CancellationToken::new());
        let drained = Arc::new(AtomicBool::new(false));
        let token = sup.token();
        let flag = drained.clone();
        sup.spawn("worker", async move {
            token.cancelled().await;
            flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        sup.spawn("broken", async { Err(anyhow::anyhow!("boom")) });
        let result = sup.run(std::future::pending(), Duration::from_secs(5)).await;
        assert!(result.is_err());
        assert!(drained.load(Ordering::SeqCst), "the other task saw the cancellation");
    }

    #[tokio::test(start_paused = true)]
    async fn draining_is_bounded_by_the_grace_period() {
        let mut sup = Supervisor::new(CancellationToken::new());
        sup.spawn("stuck", std::future::pending());
        let started = tokio::time::Instant::now();
        let result = sup.run(async {}, Duration::from_secs(3)).await;
        assert!(result.is_err(), "an abandoned task counts as a failure");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
