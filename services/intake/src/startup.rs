//! Building and running the intake service.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use whistle_casestore::CaseStore;
use whistle_common::admin;
use whistle_common::ratelimit::RateLimitLayer;
use whistle_common::service::Service;
use whistle_common::{kafka, redis_conn};
use whistle_registry::live::{self, Follower};
use whistle_registry::{LiveRegistry, Registry};

use crate::metrics::Metrics;
use crate::routes::{self, AppState};
use crate::settings::Settings;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    producer: FutureProducer,
    follower: Follower,
    grace: Duration,
}

impl Application {
    /// Connects to everything and binds the listener; the port is known before `run`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let registry = Registry::load(settings.registry_file())
            .with_context(|| format!("loading registry {}", settings.registry_file().display()))?;
        let assist_dir = settings.assist_data_dir();
        let assist = whistle_assist::Assist::load(&assist_dir, &registry)
            .with_context(|| format!("loading assist data from {}", assist_dir.display()))?;
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let registry = LiveRegistry::new(registry);
        let follower = live::catch_up(&settings.kafka, &registry).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-intake")?;
        let redis = redis_conn::managed(&settings.redis).await?;
        let store = CaseStore::new(redis.clone(), settings.redis.key_prefix.clone());
        let metrics = Metrics::new()?;
        let accounts = match &settings.auth.accounts_file {
            Some(path) => whistle_auth::Directory::read_accounts(path)?,
            None => Vec::new(),
        };
        let mut directory = whistle_auth::Directory::new(
            accounts,
            settings.auth.demo_accounts_password(),
            crate::accounts::demo_resolver(registry.clone()),
        )?;
        if directory.demo() {
            tracing::warn!("demo accounts are enabled (WHISTLE_DEMO=1, WHISTLE_ENV=development); never in production");
        } else if settings.auth.demo_password.is_some() {
            tracing::warn!("auth.demo_password is set but the demo accounts are off: set WHISTLE_DEMO=1 to use them");
        }
        let mut open311_keys = match &settings.open311.keys_file {
            Some(path) => routes::open311::Open311Keys::read_file(path)?,
            None => Vec::new(),
        };
        if directory.demo() {
            open311_keys.push((routes::open311::DEMO_CLIENT.to_owned(), routes::open311::DEMO_KEY.to_owned()));
        }
        let open311 = Arc::new(routes::open311::Open311Keys::new(open311_keys));
        tracing::info!(clients = open311.len(), "open311 API keys loaded");
        let account_store = match settings.database.url {
            Some(_) => {
                let store = whistle_accounts::AccountStore::connect(&settings.database).await?;
                directory = directory.with_store(Arc::new(store.clone()));
                Some(store)
            }
            None => {
                tracing::info!("no account store (database.url is not set): accounts file and demo accounts only");
                None
            }
        };
        let verifier =
            Arc::new(whistle_auth::Verifier::from_settings(&settings.auth, redis.clone(), &settings.redis.key_prefix));
        let oidc = crate::oidc::Oidc::from_settings(&settings.auth)?.map(Arc::new);
        match &oidc {
            Some(o) => tracing::info!(issuer = %o.config_ref().issuer, "single sign-on (OIDC) is on"),
            None => tracing::info!("single sign-on is off (auth.oidc.issuer is not set)"),
        }
        let evidence = whistle_attachments::AttachmentStore::connect(&settings.database, &settings.attachments).await?;
        if evidence.is_none() {
            tracing::info!("no attachment store (attachments.store is not set): uploads answer 503");
        }

        let state = AppState {
            registry,
            history: whistle_assist::history::SubjectHistory::new(
                redis.clone(),
                settings.redis.key_prefix.clone(),
                assist.data.fences.history(),
            ),
            assist: Arc::new(assist),
            log: Arc::new(crate::ports::KafkaLog {
                producer: producer.clone(),
                topic: settings.kafka.topics.cases.clone().into(),
                failures: metrics.kafka_produce_failures.clone(),
            }),
            store: Arc::new(store),
            metrics: metrics.clone(),
            keys: verifier.keys.clone(),
            verifier,
            directory,
            accounts: account_store.clone(),
            evidence: evidence.clone().map(|store| routes::Evidence::new(store, &settings.attachments)),
            trust_forwarded_for: settings.rate_limit.trust_forwarded_for,
            open311,
            duplicates: Arc::new(settings.duplicates.clone()),
            oidc,
        };
        let kafka_check = admin::producer_check(producer.clone());
        let redis_check = admin::redis_check(redis.clone());
        let mut checks = vec![("kafka", kafka_check), ("redis", redis_check)];
        if let Some(store) = account_store {
            let check: admin::Check = Arc::new(move || {
                let store = store.clone();
                Box::pin(async move { store.ping().await.is_ok() })
            });
            checks.push(("postgres", check));
        }
        if let Some(store) = evidence {
            let check: admin::Check = Arc::new(move || {
                let store = store.clone();
                Box::pin(async move { store.ping().await.is_ok() })
            });
            checks.push(("attachments", check));
        }
        // Each account is one key (the token is checked here too: an HMAC, microseconds);
        // requests without a valid token, logins among them, are keyed by client address.
        let rate_limit = RateLimitLayer::from_settings(&settings.rate_limit)
            .with_key(whistle_auth::http::rate_key(state.keys.clone()));
        let in_flight = whistle_common::http::InFlightLimit::new(settings.limits.max_in_flight);
        let router = routes::router(
            state,
            settings.limits.max_body_bytes,
            rate_limit,
            settings.http.request_timeout(),
            in_flight,
        )
        .merge(admin::routes(metrics.registry.clone(), checks));

        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "intake listening");
        Ok(Application {
            listener,
            router,
            producer,
            follower,
            grace: Duration::from_secs(settings.shutdown.grace_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves; in-flight requests finish (each waits for its Kafka
    /// acknowledgement), then the producer is flushed, all within the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, router, producer, follower, grace } = self;
        let mut service = Service::new("intake", grace, None);
        let token = service.token();
        service.task("registry-follow", follower.run(token)).http("http", listener, router).flush_on_stop(producer);
        service.run(shutdown).await
    }
}
