//! What the handlers need from outside, as traits: the event log (Kafka) and the case store
//! (Redis). The service wires the real ones ([`KafkaLog`], [`whistle_casestore::CaseStore`]);
//! handler tests use the in-memory ones of [`crate::memory`], so the HTTP contract is tested
//! without a broker (integration tests keep the real ones).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rdkafka::producer::FutureProducer;
use rdkafka::util::Timeout;
use uuid::Uuid;
use whistle_case::Case;
use whistle_casestore::store::{ActionSlot, Claim};
use whistle_casestore::{CaseStore, Nearby, StoreError};
use whistle_common::kafka::{DELIVERY_TIMEOUT, case_record};
use whistle_schemas::events::CaseEvent;

use crate::error::ApiError;

/// A boxed future, so the traits can be used as `dyn`.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where accepted events go.
pub trait EventLog: Send + Sync {
    /// Returns once the log has the event (`acks=all`); an error means nothing was recorded.
    fn publish<'a>(&'a self, event: &'a CaseEvent) -> Fut<'a, Result<(), ApiError>>;
}

/// The case state intake reads, and the claims that serialise actions.
pub trait Cases: Send + Sync {
    fn get(&self, id: Uuid) -> Fut<'_, Result<Option<Case>, StoreError>>;
    /// Records a just-accepted whistle so an immediate read finds it.
    fn put_provisional<'a>(&'a self, case: &'a Case) -> Fut<'a, anyhow::Result<()>>;
    fn claim_idempotency<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Fut<'a, anyhow::Result<Claim>>;
    /// See [`CaseStore::claim_action`].
    fn claim_action<'a>(
        &'a self,
        id: Uuid,
        event_id: Uuid,
        on_timeline: &'a (dyn Fn(Uuid) -> bool + Send + Sync),
    ) -> Fut<'a, anyhow::Result<ActionSlot>>;
    fn release_action(&self, id: Uuid, event_id: Uuid) -> Fut<'_, anyhow::Result<()>>;
    /// The cases for the supervisors of `scope` (`city` or a district): flagged steps awaiting a
    /// review, town cases not yet decided. At most `limit`, the most urgent first.
    fn supervised<'a>(&'a self, scope: &'a str, limit: usize) -> Fut<'a, anyhow::Result<Vec<Uuid>>>;
    /// Records an Open311 request (what its reporter sent besides the whistle), by time.
    fn index_open311<'a>(&'a self, record: &'a RequestRecord) -> Fut<'a, anyhow::Result<()>>;
    /// The Open311 requests of these ids (unknown ones left out), in the order asked.
    fn open311_records<'a>(&'a self, ids: &'a [Uuid]) -> Fut<'a, anyhow::Result<Vec<RequestRecord>>>;
    /// The Open311 requests made in `[start, end]`, newest first, at most `limit`.
    fn open311_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: usize,
    ) -> Fut<'_, anyhow::Result<Vec<RequestRecord>>>;
    /// Records an accepted raise's place for the duplicate finder ([`CaseStore::record_place`]).
    fn record_place<'a>(&'a self, place: &'a Place<'a>, id: Uuid, raised_ms: i64) -> Fut<'a, anyhow::Result<()>>;
    /// Raises of the place's item within `radius_m` since `since_ms`, nearest first
    /// ([`CaseStore::near`]).
    fn near<'a>(&'a self, place: &'a Place<'a>, since_ms: i64) -> Fut<'a, anyhow::Result<Vec<Nearby>>>;
}

/// A point for the duplicate finder, with the item's radius and the index's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub item: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub window: std::time::Duration,
    pub max_places: usize,
    pub limit: usize,
}

/// What Open311 keeps of a request besides its whistle: what a public reader may see of what the
/// reporter sent (never their contact details, which only the whistle's text carries), and
/// which client sent it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecord {
    pub id: Uuid,
    pub client: String,
    pub service_code: String,
    pub description: String,
    pub address: Option<String>,
    pub media_url: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// The datum the coordinates came in (`wgs84` or `gcj02`); the whistle has WGS-84.
    pub datum: String,
}

/// Redis keys of the Open311 index: a sorted set of ids by request time, one string each.
const OPEN311_INDEX: &str = "open311:requests";
fn open311_key(store: &CaseStore, id: Uuid) -> String {
    store.prefixed(&format!("open311:request:{id}"))
}

impl Cases for CaseStore {
    fn record_place<'a>(&'a self, place: &'a Place<'a>, id: Uuid, raised_ms: i64) -> Fut<'a, anyhow::Result<()>> {
        Box::pin(CaseStore::record_place(
            self,
            place.item,
            id,
            place.lat,
            place.lon,
            raised_ms,
            place.window,
            place.max_places,
        ))
    }
    fn near<'a>(&'a self, place: &'a Place<'a>, since_ms: i64) -> Fut<'a, anyhow::Result<Vec<Nearby>>> {
        Box::pin(CaseStore::near(self, place.item, place.lat, place.lon, place.radius_m, since_ms, place.limit))
    }
    fn get(&self, id: Uuid) -> Fut<'_, Result<Option<Case>, StoreError>> {
        Box::pin(CaseStore::get(self, id))
    }
    fn put_provisional<'a>(&'a self, case: &'a Case) -> Fut<'a, anyhow::Result<()>> {
        Box::pin(CaseStore::put_provisional(self, case))
    }
    fn claim_idempotency<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Fut<'a, anyhow::Result<Claim>> {
        Box::pin(CaseStore::claim_idempotency(self, key, fingerprint))
    }
    fn claim_action<'a>(
        &'a self,
        id: Uuid,
        event_id: Uuid,
        on_timeline: &'a (dyn Fn(Uuid) -> bool + Send + Sync),
    ) -> Fut<'a, anyhow::Result<ActionSlot>> {
        Box::pin(CaseStore::claim_action(self, id, event_id, on_timeline))
    }
    fn release_action(&self, id: Uuid, event_id: Uuid) -> Fut<'_, anyhow::Result<()>> {
        Box::pin(CaseStore::release_action(self, id, event_id))
    }
    fn supervised<'a>(&'a self, scope: &'a str, limit: usize) -> Fut<'a, anyhow::Result<Vec<Uuid>>> {
        Box::pin(async move {
            #[derive(serde::Deserialize)]
            struct Id {
                id: Uuid,
            }
            let channel = whistle_casestore::Channel::Supervision(scope.to_owned());
            let snapshot = CaseStore::snapshot(self, &channel, limit).await?;
            snapshot
                .cases
                .iter()
                .map(|json| {
                    Ok(anyhow::Context::context(serde_json::from_str::<Id>(json), "a supervised case's summary")?.id)
                })
                .collect()
        })
    }
    fn index_open311<'a>(&'a self, record: &'a RequestRecord) -> Fut<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let json = serde_json::to_string(record)?;
            let mut conn = self.connection();
            redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(open311_key(self, record.id))
                .arg(json)
                .ignore()
                .cmd("ZADD")
                .arg(self.prefixed(OPEN311_INDEX))
                .arg(record.requested_at.timestamp_millis())
                .arg(record.id.to_string())
                .ignore()
                .query_async::<()>(&mut conn)
                .await
                .context("recording an Open311 request")
        })
    }
    fn open311_records<'a>(&'a self, ids: &'a [Uuid]) -> Fut<'a, anyhow::Result<Vec<RequestRecord>>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.connection();
            let keys: Vec<String> = ids.iter().map(|id| open311_key(self, *id)).collect();
            let found: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.context("reading Open311 requests")?;
            found
                .into_iter()
                .flatten()
                .map(|json| serde_json::from_str(&json).context("an Open311 request record"))
                .collect()
        })
    }
    fn open311_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: usize,
    ) -> Fut<'_, anyhow::Result<Vec<RequestRecord>>> {
        Box::pin(async move {
            let mut conn = self.connection();
            let ids: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(self.prefixed(OPEN311_INDEX))
                .arg(end.timestamp_millis())
                .arg(start.timestamp_millis())
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query_async(&mut conn)
                .await
                .context("listing Open311 requests")?;
            let ids: Vec<Uuid> = ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect();
            Cases::open311_records(self, &ids).await
        })
    }
}

/// The case topic, through the idempotent producer.
pub struct KafkaLog {
    pub producer: FutureProducer,
    pub topic: Arc<str>,
    /// Counts the events Kafka did not take.
    pub failures: prometheus::IntCounter,
}

impl EventLog for KafkaLog {
    fn publish<'a>(&'a self, event: &'a CaseEvent) -> Fut<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let payload = serde_json::to_vec(event).map_err(anyhow::Error::from)?;
            let key = event.subject.to_string();
            let record = case_record(&self.topic, &key, &payload, event.type_name());
            match self.producer.send(record, Timeout::After(DELIVERY_TIMEOUT)).await {
                Ok(_) => Ok(()),
                Err((err, _)) => {
                    self.failures.inc();
                    tracing::error!(whistle = %event.subject, error = %err, "Kafka did not acknowledge; request refused");
                    Err(ApiError::Unavailable("the event log is unavailable; nothing was recorded, retry later".into()))
                }
            }
        })
    }
}
