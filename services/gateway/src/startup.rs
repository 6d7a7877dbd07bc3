//! Building and running the gateway.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use whistle_casestore::CaseStore;
use whistle_common::admin;
use whistle_common::kafka::{self, DeadLetters};
use whistle_common::ratelimit::Rate;
use whistle_common::redis_conn;
use whistle_common::service::Service;

use whistle_casestore::Channel;
use whistle_registry::live::{self, Follower};
use whistle_registry::{DepartmentCode, DistrictCode, LiveRegistry, Registry, TownCode};

use crate::connections::Connections;
use crate::hub::{Hub, HubConfig, KnownChannels};
use crate::metrics::Metrics;
use crate::projector::Projector;
use crate::session::Limits;
use crate::settings::Settings;
use crate::ws::{self, WsState};

/// Cases the projector keeps in memory after writing them (its hot set: the open cases whose
/// events arrive now); the others are read from Redis when their next event comes.
const PROJECTION_CACHE: usize = 2048;

pub struct Application {
    listener: TcpListener,
    settings: Settings,
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    store: CaseStore,
    registry: LiveRegistry,
    follower: Follower,
    metrics: Metrics,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        kafka::ensure_topics(&settings.kafka, &kafka::standard_topics(&settings.kafka)).await?;
        let producer = kafka::producer(&settings.kafka, "whistle-gateway")?;
        let consumer = Arc::new(kafka::consumer(&settings.kafka, &settings.group_id, "whistle-gateway")?);
        consumer.subscribe(&[&settings.kafka.topics.cases]).context("subscribing to the case topic")?;
        let redis = redis_conn::managed(&settings.redis).await?;
        let store = CaseStore::new(redis, settings.redis.key_prefix.clone()).with_projection_cache(PROJECTION_CACHE);
        let moved = store.migrate_open_sets().await.context("moving open cases to the ranked index")?;
        if moved > 0 {
            tracing::info!(cases = moved, "open cases moved from the old set layout to the ranked index");
        }
        let indexed = store.ensure_indexes().await.context("building the what-if indexes")?;
        if indexed > 0 {
            tracing::info!(cases = indexed, "what-if indexes built from the stored cases");
        }
        let registry = Registry::load(&settings.registry_path)
            .with_context(|| format!("loading registry {}", settings.registry_path.display()))?;
        let registry = LiveRegistry::new(registry);
        let follower = live::catch_up(&settings.kafka, &registry).await?;
        let listener = TcpListener::bind(settings.http.addr())
            .await
            .with_context(|| format!("binding {}", settings.http.addr()))?;
        tracing::info!(addr = %listener.local_addr()?, "gateway listening");
        Ok(Application { listener, settings, consumer, producer, store, registry, follower, metrics: Metrics::new()? })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, settings, consumer, producer, store, registry, follower, metrics } = self;
        let grace = Duration::from_secs(settings.shutdown.grace_seconds);
        let mut service = Service::new("gateway", grace, None);
        let token = service.token();
        service.task("registry-follow", follower.run(token.clone()));
        let known: KnownChannels = Arc::new(move |channel: &Channel| known_channel(&registry, channel));
        let ws = &settings.websocket;
        let hub_config = HubConfig {
            capacity: ws.channel_queue,
            max_snapshot_cases: ws.max_snapshot_cases,
            subscribes_per_second: ws.subscribes_per_second,
            subscribes_burst: ws.subscribes_burst,
            subscribe_max_wait: Duration::from_millis(ws.subscribe_max_wait_ms),
            ..HubConfig::default()
        };
        let hub = Hub::with_known(store.clone(), hub_config, Some(known));
        let ws_state = WsState {
            hub: hub.clone(),
            limits: Limits {
                max_subscriptions: settings.websocket.max_subscriptions,
                ping: Duration::from_secs(settings.websocket.ping_seconds),
                max_snapshot_cases: settings.websocket.max_snapshot_cases,
                max_consecutive_errors: settings.websocket.max_consecutive_errors,
                frames: Rate::new(settings.websocket.frames_burst, settings.websocket.frames_per_second),
                max_message_bytes: settings.websocket.max_message_bytes,
                subscribes: Rate::new(ws.connection_subscribes_burst, ws.connection_subscribes_per_second),
                replay: Rate::new(ws.replay_burst, ws.replay_per_second),
            },
            max_message_bytes: settings.websocket.max_message_bytes,
            metrics: metrics.clone(),
            token: token.clone(),
            verifier: Arc::new(whistle_auth::Verifier::from_settings(
                &settings.auth,
                store.connection(),
                &settings.redis.key_prefix,
            )),
            connections: Connections::new(ws.max_connections, ws.max_connections_per_address),
            trust_forwarded_for: ws.trust_forwarded_for,
        };
        let kafka_check = admin::consumer_check(consumer.clone());
        let redis_check = admin::redis_check(store.connection());
        let app = axum::Router::new()
            .route("/ws", get(ws::upgrade))
            .with_state(ws_state)
            .merge(admin::routes(metrics.registry.clone(), vec![("kafka", kafka_check), ("redis", redis_check)]));

        let dead_letters =
            DeadLetters::new(producer.clone(), settings.kafka.topics.deadletter.clone(), settings.group_id.clone());
        let projector = Projector { store, dead_letters, metrics };
        service
            .http("http", listener, app)
            .task("channel-reader", hub.run_reader(settings.redis.clone(), token.clone()))
            .task("projector", projector.run(consumer, token))
            .flush_on_stop(producer);
        service.run(shutdown).await
    }
}

/// Whether a channel names a department, town or district the registry has (or the city).
fn known_channel(registry: &LiveRegistry, channel: &Channel) -> bool {
    let registry = registry.current();
    match channel {
        Channel::Department(code) => DepartmentCode::parse(code).is_ok_and(|c| registry.department(&c).is_some()),
        Channel::Town(code) => TownCode::parse(code).is_ok_and(|c| registry.town(&c).is_some()),
        Channel::Manager(scope) | Channel::Supervision(scope) => {
            scope == "city" || DistrictCode::parse(scope).is_ok_and(|c| registry.district(&c).is_some())
        }
    }
}
