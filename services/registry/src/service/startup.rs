//! Building and running the registry service.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use whistle_common::admin;
use whistle_common::service::Service;
use whistle_common::{kafka, redis_conn};

use super::http::{self, AppState};
use super::settings::Settings;
use crate::live::{self, Follower, LiveRegistry};
use crate::model::Registry;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    follower: Follower,
    producer: FutureProducer,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let registry = Registry::load(&settings.registry_path)
            .with_context(|| format!("loading registry {}", settings.registry_path.display()))?;
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let live = LiveRegistry::new(registry);
        let follower = live::catch_up(&settings.kafka, &live).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-registry")?;
        let redis = redis_conn::managed(&settings.redis).await?;
        let metrics = prometheus::Registry::new_custom(Some("whistle_registry".into()), None)?;
        let changes = prometheus::IntCounterVec::new(
            prometheus::Opts::new("changes_total", "Registry item changes published, by action"),
            &["action"],
        )?;
        metrics.register(Box::new(changes.clone()))?;
        let verifier =
            Arc::new(whistle_auth::Verifier::from_settings(&settings.auth, redis.clone(), &settings.redis.key_prefix));
        let rate_limit = whistle_common::ratelimit::RateLimitLayer::from_settings(&settings.rate_limit)
            .with_key(whistle_auth::http::rate_key(verifier.keys.clone()));
        let state = AppState {
            live,
            producer: producer.clone(),
            registry_topic: settings.kafka.topics.registry.clone().into(),
            cases: whistle_casestore::CaseStore::new(redis, settings.redis.key_prefix.clone()),
            writer: Arc::default(),
            changes,
            verifier,
        };
        let kafka_check = admin::producer_check(producer.clone());
        let requests = whistle_common::http::RequestMetrics::register(&metrics)?;
        let router = http::router(state, settings.max_import_bytes, rate_limit, settings.http.request_timeout())
            .layer(axum::middleware::from_fn_with_state(requests, whistle_common::http::track))
            .merge(admin::routes(metrics, vec![("kafka", kafka_check)]));
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "registry listening");
        Ok(Application {
            listener,
            router,
            follower,
            producer,
            grace: Duration::from_secs(settings.shutdown.grace_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, router, follower, producer, grace } = self;
        let mut service = Service::new("registry", grace, None);
        let token = service.token();
        service.http("http", listener, router).task("registry-follow", follower.run(token)).flush_on_stop(producer);
        service.run(shutdown).await
    }
}
