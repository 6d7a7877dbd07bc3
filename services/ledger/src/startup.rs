//! Building and running the ledger service.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use rdkafka::consumer::Consumer as _;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use whistle_common::admin;
use whistle_common::kafka::{self, DeadLetters};
use whistle_common::redis_conn;
use whistle_common::service::Service;

use crate::consumer::Projector;
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::report::DistrictNames;
use crate::settings::Settings;
use crate::store::LedgerStore;

pub struct Application {
    listener: TcpListener,
    settings: Settings,
    projector: Projector,
    producer: FutureProducer,
    districts: DistrictNames,
    repeat_window_days: u32,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let districts = match &settings.registry_path {
            Some(path) => DistrictNames::load(path)?,
            None => DistrictNames::default(),
        };
        let assist = settings.assist_data_dir().context("assist.data_dir is not set")?;
        let repeat_window_days = crate::figures::repeat_window_days(&assist)
            .context("loading the figures' repeat window (assist.data_dir)")?;
        let store = LedgerStore::connect(&settings.database).await?;
        if !store.trigrams_see_chinese().await? {
            tracing::warn!(
                "the database's ctype hides Chinese characters from pg_trgm: `q` searches scan instead of using \
                 the trigram index (create the database with ctype C.UTF-8 or zh_CN.UTF-8)"
            );
        }
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-ledger")?;
        let consumer = Arc::new(kafka::consumer(&settings.kafka, &settings.group_id, "whistle-ledger")?);
        consumer.subscribe(&[&settings.kafka.topics.cases]).context("subscribing to the case topic")?;
        let projector = Projector {
            store,
            consumer,
            dead_letters: DeadLetters::new(
                producer.clone(),
                settings.kafka.topics.deadletter.clone(),
                settings.group_id.clone(),
            ),
            metrics: Metrics::new()?,
            token: CancellationToken::new(),
            max_batch: settings.max_batch,
        };
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "ledger listening");
        Ok(Application { listener, settings, projector, producer, districts, repeat_window_days })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn store(&self) -> LedgerStore {
        self.projector.store.clone()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, settings, projector, producer, districts, repeat_window_days } = self;
        let grace = Duration::from_secs(settings.shutdown.grace_seconds);
        let mut service = Service::new("ledger", grace, Some(projector.token.clone()));
        let redis = redis_conn::managed(&settings.redis).await?;
        let verifier =
            Arc::new(whistle_auth::Verifier::from_settings(&settings.auth, redis, &settings.redis.key_prefix));
        let rate_limit = whistle_common::ratelimit::RateLimitLayer::from_settings(&settings.rate_limit)
            .with_key(whistle_auth::http::rate_key(verifier.keys.clone()));
        let api = axum::Router::new()
            .route("/api/v1/whistles", get(http::whistles))
            .route("/api/v1/cases", get(http::cases))
            .route("/api/v1/whistles/export.csv", get(http::export_csv))
            .route("/api/v1/whistles/export.xlsx", get(http::export_xlsx))
            .route("/api/v1/reports/monthly", get(http::monthly))
            .route("/api/v1/reports/overview", get(http::overview))
            .route("/api/v1/figures", get(http::outcome_figures))
            .route_layer(axum::middleware::from_fn_with_state(verifier, whistle_auth::require_auth))
            .fallback(whistle_common::http_errors::not_found)
            .with_state(HttpState {
                store: projector.store.clone(),
                metrics: projector.metrics.clone(),
                districts: Arc::new(districts),
                repeat_window_days,
            })
            .layer(rate_limit);
        let requests = whistle_common::http::RequestMetrics::register(&projector.metrics.registry)?;
        let db = projector.store.clone();
        let db_check: admin::Check = Arc::new(move || {
            let db = db.clone();
            Box::pin(
                async move { tokio::time::timeout(Duration::from_secs(2), db.ping()).await.is_ok_and(|r| r.is_ok()) },
            )
        });
        let app = whistle_common::http::api_layers(api, settings.http.request_timeout())
            .layer(axum::middleware::from_fn_with_state(requests, whistle_common::http::track))
            .merge(admin::routes(
                projector.metrics.registry.clone(),
                vec![("kafka", admin::consumer_check(projector.consumer.clone())), ("postgres", db_check)],
            ));
        service.http("http", listener, app).task("consumer", projector.consume()).flush_on_stop(producer);
        service.run(shutdown).await
    }
}
