//! The managers' summary: per district and department, over a window of dispatches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use whistle_schemas::Names;
use whistle_schemas::api::{DepartmentFigures, SlaFigures, SlaSummary};
use whistle_schemas::events::SlaStageKind;

use crate::case::CaseSla;
use crate::policy::Policies;

#[derive(Default)]
struct Acc {
    dispatched: u64,
    acknowledged: u64,
    resolved: u64,
    tta: (f64, u64),
    ttr: (f64, u64),
    breached: u64,
    overdue: u64,
    open: u64,
    reopened: u64,
    confirmed: u64,
}

impl Acc {
    fn add(&mut self, case: &CaseSla, policies: &Policies, now: DateTime<Utc>) {
        let secs = |to: DateTime<Utc>| (to - case.dispatched_at).num_milliseconds().max(0) as f64 / 1000.0;
        self.dispatched += 1;
        let ack = case.stage(SlaStageKind::Acknowledge).and_then(|s| s.done_at);
        let res = case.stage(SlaStageKind::Resolve).and_then(|s| s.done_at);
        if ack.is_some() {
            self.acknowledged += 1;
        }
        if case.resolved {
            self.resolved += 1;
        }
        // Open cases count with their age so far: a backlog raises the means instead of hiding.
        let open = case.is_open();
        match (ack, open) {
            (Some(at), _) => add(&mut self.tta, secs(at)),
            (None, true) => add(&mut self.tta, secs(now)),
            (None, false) => {}
        }
        match (res, open) {
            (Some(at), _) if case.resolved => add(&mut self.ttr, secs(at)),
            (_, true) => add(&mut self.ttr, secs(now)),
            _ => {}
        }
        if !case.breached.is_empty() {
            self.breached += 1;
        }
        self.reopened += u64::from(case.round > 0);
        self.confirmed += u64::from(case.confirmed);
        if open {
            self.open += 1;
            let calendar = policies.calendar(&case.district);
            if SlaStageKind::ALL.iter().any(|&s| case.deadline(s, calendar).is_some_and(|d| d < now)) {
                self.overdue += 1;
            }
        }
    }

    fn figures(&self) -> SlaFigures {
        let mean = |(sum, n): (f64, u64)| (n > 0).then(|| sum / n as f64);
        SlaFigures {
            dispatched: self.dispatched,
            acknowledged: self.acknowledged,
            resolved: self.resolved,
            mtta_seconds: mean(self.tta),
            mttr_seconds: mean(self.ttr),
            breach_rate: (self.dispatched > 0).then(|| self.breached as f64 / self.dispatched as f64),
            overdue_now: self.overdue,
            open: self.open,
            reopened: self.reopened,
            confirmed: self.confirmed,
        }
    }
}

fn add(acc: &mut (f64, u64), v: f64) {
    acc.0 += v;
    acc.1 += 1;
}

/// Summarises `cases` (already narrowed to the window) as of `now`.
pub fn summarize(
    cases: &[CaseSla],
    policies: &Policies,
    names: impl Fn(&str) -> Option<Names>,
    district: Option<&str>,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> SlaSummary {
    let mut total = Acc::default();
    let mut by_department: BTreeMap<(String, String), Acc> = BTreeMap::new();
    // The departments' response to whistles; town cases' statutory limits are the supervisors'.
    let whistles = cases.iter().filter(|c| c.policy != crate::case::STATUTORY_POLICY);
    for case in whistles.filter(|c| district.is_none_or(|d| c.district == d)) {
        total.add(case, policies, now);
        by_department.entry((case.district.clone(), case.department.clone())).or_default().add(case, policies, now);
    }
    SlaSummary {
        from,
        to: now,
        district: district.map(str::to_owned),
        total: total.figures(),
        departments: by_department
            .into_iter()
            .map(|((district, department), acc)| DepartmentFigures {
                names: names(&department),
                department,
                district,
                figures: acc.figures(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::chongqing;
    use crate::case::tests::{dispatched_at, event, policies, t};
    use whistle_schemas::events::{Acted, Actor, ActorKind, CaseEventBody};

    #[test]
    fn mtta_counts_unacknowledged_open_cases_by_their_age_and_overdue_is_now() {
        let cal = chongqing();
        let (_, mut fast) = dispatched_at("2026-11-26T10:00:00+08:00");
        let actor = Actor::new(ActorKind::Department, "500103-EE");
        fast.apply(&event(2, "2026-11-26T10:02:00+08:00", CaseEventBody::Acknowledged(Acted { actor })), &cal);
        let (_, ignored) = dispatched_at("2026-11-26T10:00:00+08:00");
        let now = t("2026-11-26T10:20:00+08:00");
        let p = policies();
        let s = summarize(&[fast, ignored], &p, |_| None, None, t("2026-11-26T00:00:00+08:00"), now);
        assert_eq!(s.total.dispatched, 2);
        assert_eq!(s.total.acknowledged, 1);
        // (2 min + 20 min) / 2 = 11 min.
        assert_eq!(s.total.mtta_seconds, Some(660.0));
        assert_eq!(s.total.overdue_now, 1, "the ignored case is past its 10-minute acknowledgement");
        assert_eq!(s.total.open, 2);
        assert_eq!(s.departments.len(), 1);
        let narrowed = summarize(&[], &p, |_| None, Some("500101"), t("2026-11-26T00:00:00+08:00"), now);
        assert_eq!(narrowed.total.dispatched, 0);
        assert_eq!(narrowed.total.mtta_seconds, None);
    }
}
