//! Building and running the SLA service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use chrono::Utc;
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use whistle_common::admin;
use whistle_common::kafka::{self, DeadLetters};
use whistle_common::redis_conn;
use whistle_common::service::Service;
use whistle_registry::live::{self, Follower};
use whistle_registry::{LiveRegistry, Registry};
use whistle_schemas::events::SlaStageKind;

use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::policy::Policies;
use crate::service::Sla;
use crate::settings::Settings;
use crate::store::SlaStore;
use crate::timers::{self, Alarm, SystemNow};

pub struct Application {
    listener: TcpListener,
    settings: Settings,
    sla: Sla,
    producer: FutureProducer,
    follower: Follower,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let registry = Registry::load(&settings.registry_path)
            .with_context(|| format!("loading registry {}", settings.registry_path.display()))?;
        let policies = Policies::load(&settings.policy_path)?;
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let registry = LiveRegistry::new(registry);
        let follower = live::catch_up(&settings.kafka, &registry).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-sla")?;
        let consumer = Arc::new(kafka::consumer(&settings.kafka, &settings.group_id, "whistle-sla")?);
        consumer.subscribe(&[&settings.kafka.topics.cases]).context("subscribing to the case topic")?;
        let redis = redis_conn::managed(&settings.redis).await?;
        let store = SlaStore::new(redis, settings.redis.key_prefix.clone());
        let sla = Sla {
            store,
            policies: Arc::new(policies),
            registry,
            producer: producer.clone(),
            consumer,
            cases_topic: settings.kafka.topics.cases.clone().into(),
            dead_letters: DeadLetters::new(
                producer.clone(),
                settings.kafka.topics.deadletter.clone(),
                settings.group_id.clone(),
            ),
            metrics: Metrics::new()?,
            alarm: Arc::new(Alarm::default()),
            token: CancellationToken::new(),
        };
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "sla listening");
        Ok(Application { listener, settings, sla, producer, follower })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, settings, sla, producer, follower } = self;
        let grace = Duration::from_secs(settings.shutdown.grace_seconds);
        let mut service = Service::new("sla", grace, Some(sla.token.clone()));
        let token = service.token();
        service.task("registry-follow", follower.run(token.clone()));
        let kafka_check = admin::consumer_check(sla.consumer.clone());
        let verifier = Arc::new(whistle_auth::Verifier::from_settings(
            &settings.auth,
            sla.store.connection(),
            &settings.redis.key_prefix,
        ));
        let rate_limit = whistle_common::ratelimit::RateLimitLayer::from_settings(&settings.rate_limit)
            .with_key(whistle_auth::http::rate_key(verifier.keys.clone()));
        let api = axum::Router::new()
            .route("/api/v1/sla/summary", get(http::summary))
            .route_layer(axum::middleware::from_fn_with_state(verifier, whistle_auth::require_auth))
            .fallback(whistle_common::http_errors::not_found)
            .with_state(HttpState {
                store: sla.store.clone(),
                policies: sla.policies.clone(),
                registry: sla.registry.clone(),
            })
            .layer(rate_limit);
        let requests = whistle_common::http::RequestMetrics::register(&sla.metrics.registry)?;
        let app = whistle_common::http::api_layers(api, settings.http.request_timeout())
            .layer(axum::middleware::from_fn_with_state(requests, whistle_common::http::track))
            .merge(admin::routes(sla.metrics.registry.clone(), vec![("kafka", kafka_check)]));
        service
            .http("http", listener, app)
            .task("consumer", sla.clone().consume())
            .task("timers", timers::run(sla.clone(), SystemNow, sla.alarm.clone(), token.clone()))
            .task("gauges", gauges(sla.clone(), Duration::from_secs(settings.gauge_seconds), token))
            .flush_on_stop(producer);
        service.run(shutdown).await
    }
}

/// Recomputes the open and overdue gauges from the shared state, so every instance reports the
/// whole deployment (aggregate with `max`, not `sum`).
async fn gauges(sla: Sla, every: Duration, token: CancellationToken) -> anyhow::Result<()> {
    loop {
        let now = Utc::now();
        match sla.store.cases_between(now - chrono::Duration::days(30), now).await {
            Ok(cases) => {
                let mut by_district: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
                for case in cases.iter().filter(|c| c.is_open()) {
                    let entry = by_district.entry(case.district.as_str()).or_default();
                    entry.0 += 1;
                    let calendar = sla.policies.calendar(&case.district);
                    if SlaStageKind::ALL.iter().any(|&s| case.deadline(s, calendar).is_some_and(|d| d < now)) {
                        entry.1 += 1;
                    }
                }
                sla.metrics.open.reset();
                sla.metrics.overdue.reset();
                for (district, (open, overdue)) in by_district {
                    sla.metrics.open.with_label_values(&[district]).set(open);
                    sla.metrics.overdue.with_label_values(&[district]).set(overdue);
                }
            }
            Err(err) => tracing::warn!(error = %format_args!("{err:#}"), "could not refresh SLA gauges"),
        }
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}
