//! Building and running the notifier.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::{get, post};
use rdkafka::consumer::Consumer as _;
use rdkafka::producer::FutureProducer;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use whistle_common::admin::{self, Check};
use whistle_common::kafka::{self, DeadLetters};
use whistle_common::redis_conn;
use whistle_common::service::Service;
use whistle_schemas::notify as wire;

use crate::channels::Channels;
use crate::consumer::Consumer;
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::roster::Roster;
use crate::sender::Sender;
use crate::settings::Settings;
use crate::store::NotifyStore;
use crate::webhooks::{self, worker::Worker};

/// `deploy/data/rosters.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterFile {
    #[allow(dead_code)]
    note: String,
    rosters: Vec<wire::Roster>,
}

/// Reads and checks a roster file; every roster must name its unit.
pub fn read_rosters(path: &std::path::Path) -> anyhow::Result<Vec<(crate::roster::Unit, wire::Roster)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: RosterFile = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    file.rosters
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let unit = r.unit.clone().with_context(|| format!("{}: rosters[{i}] has no unit", path.display()))?;
            let parsed =
                Roster::parse(&unit, &r).with_context(|| format!("{}: rosters[{i}] ({unit})", path.display()))?;
            let mut body = r;
            body.unit = None;
            Ok((parsed.unit, body))
        })
        .collect()
}

pub struct Application {
    listener: TcpListener,
    settings: Settings,
    store: NotifyStore,
    consumer: Consumer,
    sender: Sender,
    worker: Worker,
    producer: FutureProducer,
    redis: redis_conn::Redis,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let store = NotifyStore::connect(&settings.database).await?;
        if let Some(path) = &settings.rosters_path {
            let rosters = read_rosters(path)?;
            let seeded = store.seed(&rosters).await?;
            if seeded > 0 {
                tracing::warn!(rosters = seeded, path = %path.display(), "the store had no rosters: loaded the ILLUSTRATIVE sample rosters");
            }
        }
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-notify")?;
        let kafka_consumer = Arc::new(kafka::consumer(&settings.kafka, &settings.group_id, "whistle-notify")?);
        kafka_consumer.subscribe(&[&settings.kafka.topics.cases]).context("subscribing to the case topic")?;
        let redis = redis_conn::managed(&settings.redis).await?;
        let metrics = Metrics::new()?;
        let wake = Arc::new(Notify::new());
        let webhook_wake = Arc::new(Notify::new());
        if settings.webhooks.allow_private_targets {
            tracing::warn!(
                "webhooks.allow_private_targets is set: webhooks may reach loopback and private addresses (dev only)"
            );
        }
        let consumer = Consumer {
            store: store.clone(),
            consumer: kafka_consumer,
            dead_letters: DeadLetters::new(
                producer.clone(),
                settings.kafka.topics.deadletter.clone(),
                settings.group_id.clone(),
            ),
            metrics: metrics.clone(),
            console_url: settings.console_url.trim_end_matches('/').into(),
            sms: settings.sms.url.is_some(),
            wake: wake.clone(),
            webhook_wake: webhook_wake.clone(),
            token: CancellationToken::new(),
        };
        let worker = Worker {
            store: store.clone(),
            client: webhooks::target::client(&settings.webhooks)?,
            metrics: metrics.clone(),
            settings: settings.webhooks.clone(),
            wake: webhook_wake,
        };
        let sender = Sender {
            store: store.clone(),
            channels: Channels::new(&settings)?,
            metrics,
            settings: settings.delivery.clone(),
            wake,
        };
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "notify listening");
        Ok(Application { listener, settings, store, consumer, sender, worker, producer, redis })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, settings, store, consumer, sender, worker, producer, redis } = self;
        let grace = Duration::from_secs(settings.shutdown.grace_seconds);
        let mut service = Service::new("notify", grace, Some(consumer.token.clone()));
        let token = service.token();
        let verifier =
            Arc::new(whistle_auth::Verifier::from_settings(&settings.auth, redis.clone(), &settings.redis.key_prefix));
        let rate_limit = whistle_common::ratelimit::RateLimitLayer::from_settings(&settings.rate_limit)
            .with_key(whistle_auth::http::rate_key(verifier.keys.clone()));
        let api = axum::Router::new()
            .route("/api/v1/rosters", get(http::list_rosters))
            .route("/api/v1/rosters/{unit}", get(http::get_roster).put(http::put_roster))
            .route("/api/v1/rosters/{unit}/on-duty", get(http::on_duty))
            .route("/api/v1/notify/dead-letters", get(http::dead_letters))
            .route("/api/v1/webhooks", get(webhooks::http::list).post(webhooks::http::create))
            .route("/api/v1/webhooks/{id}", get(webhooks::http::get).delete(webhooks::http::delete))
            .route("/api/v1/webhooks/{id}/resume", post(webhooks::http::resume))
            .route("/api/v1/webhooks/{id}/deliveries", get(webhooks::http::deliveries))
            .route_layer(axum::middleware::from_fn_with_state(verifier, whistle_auth::require_auth))
            .fallback(whistle_common::http_errors::not_found)
            .with_state(HttpState { store: store.clone(), webhooks: settings.webhooks.clone() })
            .layer(rate_limit);
        let requests = whistle_common::http::RequestMetrics::register(&sender.metrics.registry)?;
        let database: Check = {
            let store = store.clone();
            Arc::new(move || {
                let store = store.clone();
                Box::pin(async move { store.ping().await.is_ok() })
            })
        };
        let checks = vec![("kafka", admin::consumer_check(consumer.consumer.clone())), ("database", database)];
        let app = whistle_common::http::api_layers(api, settings.http.request_timeout())
            .layer(axum::middleware::from_fn_with_state(requests, whistle_common::http::track))
            .merge(admin::routes(sender.metrics.registry.clone(), checks));
        service
            .http("http", listener, app)
            .task("consumer", consumer.run())
            .task("sender", sender.run(token.clone()))
            .task("webhooks", worker.run(token))
            .flush_on_stop(producer);
        service.run(shutdown).await
    }
}
