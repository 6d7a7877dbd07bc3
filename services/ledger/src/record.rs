//! A ledger row from a case's view (pure): the columns the list, exports and reports filter,
//! sort and count on. Everything is read off the view and its timeline by status and step type,
//! so a new event type that `whistle_case::evolve` knows flows into the ledger without a change
//! here; only a new *figure* needs one.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;
use whistle_schemas::Status;
use whistle_schemas::api::WhistleView;
use whistle_schemas::events::SlaStageKind;

/// The kind of a case whose view carries none (every whistle before town cases existed).
pub const WHISTLE_KIND: &str = "whistle";

const DISPATCHED: &str = "whistle.dispatched";
const ACKNOWLEDGED: &str = "whistle.acknowledged";
const ARRIVED: &str = "whistle.arrived";
const RESOLVED: &str = "whistle.resolved";
const TRANSFERRED: &str = "whistle.transferred";
const BREACHED: &str = "sla.breached";

/// One row of `ledger_cases`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    pub kind: String,
    pub status: Status,
    pub district: String,
    pub town: String,
    pub department: Option<String>,
    pub assisting: Vec<String>,
    pub item: String,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub breaches: i32,
    /// The first `sla.breached` step's time (the overview's breaches per day).
    pub first_breached_at: Option<DateTime<Utc>>,
    pub ack_on_time: Option<bool>,
    pub arrive_on_time: Option<bool>,
    pub reopens: i32,
    pub reroutes: i32,
    pub steps: i32,
    pub search_text: String,
    /// The view as stored (JSONB).
    pub view: Value,
}

impl Record {
    /// The row of `view` (`json` is the view's JSON, which may carry fields this build's
    /// [`WhistleView`] does not name, e.g. a town case's `kind`).
    pub fn of(view: &WhistleView, json: Value) -> Record {
        let first = |kind: &str| view.timeline.iter().find(|t| t.kind == kind).map(|t| t.time);
        let breached_stage = |stage: SlaStageKind| {
            view.timeline.iter().any(|t| {
                t.kind == BREACHED
                    && t.detail.as_deref().and_then(|d| d.split_whitespace().next()) == Some(stage.as_str())
            })
        };
        let on_time = |stage: SlaStageKind, done: Option<DateTime<Utc>>| {
            if breached_stage(stage) { Some(false) } else { done.map(|_| true) }
        };
        let acknowledged_at = first(ACKNOWLEDGED);
        // Arriving acknowledges too: a case acknowledged on arrival is on time for both.
        let arrived_at = first(ARRIVED);
        let terminal = view.status.is_terminal();
        // Reopenings by the raising town (`whistle.reopened`); a returned case re-routed by the
        // router is a re-route, counted below.
        let reopens = count(view.reopens as usize);
        let closed_at = terminal.then(|| {
            // The first step of the final run of terminal steps.
            let mut at = view.updated_at;
            for step in view.timeline.iter().rev() {
                if !step.status.is_terminal() {
                    break;
                }
                at = step.time;
            }
            at
        });
        // A whistle's resolution, or a town case's closing.
        let resolved_at = match view.status {
            Status::Resolved => view.timeline.iter().rev().find(|t| t.kind == RESOLVED).map(|t| t.time),
            Status::Closed => view.timeline.iter().rev().find(|t| t.kind == "case.closed").map(|t| t.time),
            _ => None,
        };
        let dispatches = view.timeline.iter().filter(|t| t.kind == DISPATCHED).count();
        let transfers = view.timeline.iter().filter(|t| t.kind == TRANSFERRED).count();
        let kind = json.get("kind").and_then(Value::as_str).unwrap_or(WHISTLE_KIND).to_owned();
        Record {
            id: view.id,
            kind,
            status: view.status,
            district: view.district.clone(),
            town: view.town.clone(),
            department: view.department.as_ref().map(|d| d.code.clone()),
            assisting: view.assisting.iter().map(|d| d.code.clone()).collect(),
            item: view.item.clone(),
            raised_at: view.raised_at,
            updated_at: view.updated_at,
            dispatched_at: first(DISPATCHED),
            acknowledged_at: acknowledged_at.or(arrived_at),
            arrived_at,
            resolved_at,
            closed_at,
            overdue: !terminal && !view.overdue.is_empty(),
            breaches: count(view.timeline.iter().filter(|t| t.kind == BREACHED).count()),
            first_breached_at: first(BREACHED),
            ack_on_time: on_time(SlaStageKind::Acknowledge, acknowledged_at.or(arrived_at)),
            arrive_on_time: on_time(SlaStageKind::Arrive, arrived_at),
            reopens,
            reroutes: count(transfers + dispatches.saturating_sub(1)),
            steps: count(view.timeline.len()),
            search_text: format!("{} {}", view.description, view.location.address),
            view: json,
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use whistle_schemas::Location;
    use whistle_schemas::api::TimelineEntry;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_000_000 + s, 0).unwrap()
    }

    fn step(n: u128, kind: &str, status: Status, s: i64, detail: Option<&str>) -> TimelineEntry {
        TimelineEntry {
            event_id: Uuid::from_u128(n),
            kind: kind.into(),
            status,
            time: at(s),
            actor: None,
            detail: detail.map(Into::into),
        }
    }

    fn view(timeline: Vec<TimelineEntry>) -> WhistleView {
        let last = timeline.last().unwrap().clone();
        WhistleView {
            id: Uuid::from_u128(1),
            status: last.status,
            town: "500103001".into(),
            district: "500103".into(),
            item: "CQ-ENV-001".into(),
            description: "占道经营".into(),
            location: Location { lat: 29.5, lon: 106.5, address: "解放碑步行街".into() },
            photos: vec![],
            attachments: vec![],
            department: None,
            assisting: vec![],
            raised_at: at(0),
            updated_at: last.time,
            deadlines: None,
            overdue: vec![],
            paused: false,
            timeline,
            kind: Default::default(),
            procedure: None,
            confirmation: None,
            reopens: 0,
            review: vec![],
            merged_into: None,
            merged: vec![],
            hotline: None,
        }
    }

    fn record(v: &WhistleView) -> Record {
        Record::of(v, serde_json::to_value(v).unwrap())
    }

    #[test]
    fn a_case_acknowledged_late_and_resolved_counts_its_breach_and_times() {
        let v = view(vec![
            step(1, "whistle.raised", Status::Raised, 0, None),
            step(2, DISPATCHED, Status::Dispatched, 5, None),
            step(3, BREACHED, Status::Dispatched, 900, Some("acknowledge was due 2026-01-01T00:00:00Z")),
            step(4, ACKNOWLEDGED, Status::Acknowledged, 1000, None),
            step(5, ARRIVED, Status::OnSite, 2000, None),
            step(6, RESOLVED, Status::Resolved, 3000, None),
        ]);
        let r = record(&v);
        assert_eq!(r.kind, WHISTLE_KIND);
        assert_eq!(
            (r.dispatched_at, r.acknowledged_at, r.resolved_at, r.closed_at),
            (Some(at(5)), Some(at(1000)), Some(at(3000)), Some(at(3000)))
        );
        assert_eq!((r.breaches, r.ack_on_time, r.arrive_on_time), (1, Some(false), Some(true)));
        assert_eq!(r.first_breached_at, Some(at(900)));
        assert_eq!((r.reopens, r.reroutes, r.overdue), (0, 0, false));
        assert_eq!(r.search_text, "占道经营 解放碑步行街");
    }

    #[test]
    fn a_returned_case_rerouted_and_a_closed_case_opened_again_are_counted() {
        let v = view(vec![
            step(1, "whistle.raised", Status::Raised, 0, None),
            step(2, DISPATCHED, Status::Dispatched, 5, None),
            step(3, "whistle.rejected", Status::Rejected, 50, None),
            step(4, TRANSFERRED, Status::Dispatched, 60, None),
        ]);
        let r = record(&v);
        // A return re-routed by the router is a re-route, not a reopening by the town.
        assert_eq!((r.reopens, r.reroutes, r.closed_at, r.ack_on_time), (0, 1, None, None));
        let mut reopened = v.clone();
        reopened.reopens = 1;
        assert_eq!(record(&reopened).reopens, 1, "the town's reopenings, as the case counts them");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(Record::of(&v, json).kind, "whistle", "a view's own kind is kept");
    }
}
