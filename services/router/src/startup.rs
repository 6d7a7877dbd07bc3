//! Building and running the router.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::Consumer;
use tokio::net::TcpListener;
use whistle_common::admin;
use whistle_common::kafka::{self, DeadLetters};
use whistle_common::service::Service;
use whistle_registry::live::{self, Follower};
use whistle_registry::{LiveRegistry, Registry};

use crate::metrics::Metrics;
use crate::service::{BatchLimits, BeforeCommit, Router, RouterConsumer};
use crate::settings::Settings;

pub struct Application {
    listener: TcpListener,
    admin: axum::Router,
    consumer: Arc<RouterConsumer>,
    router: Router,
    follower: Follower,
    settings: Settings,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let registry = Registry::load(&settings.registry_path)
            .with_context(|| format!("loading registry {}", settings.registry_path.display()))?;
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let registry = LiveRegistry::new(registry);
        // Route nothing before the copy has every change published so far.
        let follower = live::catch_up(&settings.kafka, &registry).await?;
        let transactional_id = settings.transactional_id();
        let producer = kafka::transactional_producer(&settings.kafka, "whistle-router", &transactional_id)?;
        // Fences a previous incarnation of this instance before anything is consumed.
        Router::init_transactions(&producer).await?;
        let consumer = Arc::new(kafka::transactional_consumer(&settings.kafka, &settings.group_id, "whistle-router")?);
        consumer.subscribe(&[&settings.kafka.topics.cases]).context("subscribing to the case topic")?;
        let metrics = Metrics::new()?;
        let dead_letters =
            DeadLetters::new(producer.clone(), settings.kafka.topics.deadletter.clone(), settings.group_id.clone());
        let router = Router {
            registry,
            producer,
            cases_topic: settings.kafka.topics.cases.clone().into(),
            dead_letters,
            metrics: metrics.clone(),
            batch: BatchLimits { max_messages: settings.batch_max_messages, linger: settings.batch_linger() },
            before_commit: None,
            recent: Arc::new(std::sync::Mutex::new(crate::service::Recent::new(100_000))),
        };
        let kafka_check = admin::consumer_check(consumer.clone());
        let admin = admin::routes(metrics.registry.clone(), vec![("kafka", kafka_check)]);
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, group = %settings.group_id, %transactional_id, "router ready");
        Ok(Application { listener, admin, consumer, router, follower, settings })
    }

    /// Test seam: see [`BeforeCommit`].
    pub fn with_before_commit(mut self, hook: BeforeCommit) -> Self {
        self.router.before_commit = Some(hook);
        self
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, admin, consumer, router, follower, settings } = self;
        let grace = Duration::from_secs(settings.shutdown.grace_seconds);
        let producer = router.producer.clone();
        let mut service = Service::new("router", grace, None);
        let token = service.token();
        service
            .http("admin-http", listener, admin)
            .task("registry-follow", follower.run(token.clone()))
            .task("routing", router.run(consumer, token))
            .flush_on_stop(producer);
        service.run(shutdown).await
    }
}
