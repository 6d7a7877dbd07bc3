//! The administrative penalty procedure of a town's own enforcement case (行政处罚程序):
//!
//! ```text
//! registered ──persuade──▶ persuaded ──────────────┐ (complied: close)
//!     │                        │                    ▼
//!     └───────investigate──────┴──▶ investigated ──notify──▶ notified ──decide──▶ decided
//!                                       │                                   ▲        │
//!                                       └──decide (no penalty)──────────────┘      serve
//!                                                                                    ▼
//!                                                          closed ◀──close── served
//! ```
//!
//! - Investigation needs at least two certified officers (Administrative Penalty Law, art. 42);
//!   a decision without such an investigation is refused.
//! - A penalty needs the party told first (告知, art. 44); a decision of no penalty does not.
//! - The decision is due within 90 days of registration (art. 60): [`DECIDE_WITHIN_DAYS`].
//! - A decision must lie inside the law's range for the party's kind ([`lawful`]; never
//!   overridable), and inside the discretion benchmark's tier unless the officer gives a reason;
//!   such a decision is recorded as overridden and awaits a supervisor's review.

use chrono::{DateTime, Duration, Utc};
use whistle_schemas::Status;
use whistle_schemas::events::{BenchmarkApplied, Decided, DecisionOutcome};

use crate::Refusal;

/// Days from registration to the decision (Administrative Penalty Law, art. 60).
pub const DECIDE_WITHIN_DAYS: i64 = 90;
/// The supervision queue lists a case this many days before its time limit.
pub const NEAR_LIMIT_DAYS: i64 = 15;
/// Fewest certified officers in an investigation.
pub const MIN_OFFICERS: usize = 2;

/// When a case registered at `registered_at` must be decided.
pub fn decide_by(registered_at: DateTime<Utc>) -> DateTime<Utc> {
    registered_at + Duration::days(DECIDE_WITHIN_DAYS)
}

/// Where an undecided case stands against its time limit at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    Running,
    /// Within [`NEAR_LIMIT_DAYS`] of the limit.
    Near,
    Passed,
}

pub fn time_limit(decide_by: DateTime<Utc>, now: DateTime<Utc>) -> TimeLimit {
    if now >= decide_by {
        TimeLimit::Passed
    } else if decide_by - now <= Duration::days(NEAR_LIMIT_DAYS) {
        TimeLimit::Near
    } else {
        TimeLimit::Running
    }
}

/// Statuses a procedure step may come from, for the named step.
pub(crate) fn step_allowed(
    step: &'static str,
    from: Status,
    persuasion_complied: bool,
    outcome: Option<DecisionOutcome>,
) -> Result<(), Refusal> {
    let out_of_order = |why| Err(Refusal::OutOfOrder { action: step, status: from, why });
    match step {
        "persuade" => match from {
            Status::Registered => Ok(()),
            _ => out_of_order("persuasion comes first, right after registration, and once"),
        },
        "investigate" => match from {
            Status::Registered | Status::Persuaded => Ok(()),
            _ => out_of_order("investigation follows registration (or persuasion), once"),
        },
        "notify" => match from {
            Status::Investigated => Ok(()),
            _ => out_of_order("the party is told the intended decision after the investigation"),
        },
        "decide" => match (from, outcome) {
            (Status::Notified, _) => Ok(()),
            (Status::Investigated, Some(DecisionOutcome::NoPenalty)) => Ok(()),
            (Status::Investigated, _) => {
                out_of_order("a penalty needs the party told first (notify) and its right to a defence or hearing")
            }
            _ => out_of_order("a decision follows the investigation and the notice"),
        },
        "serve" => match from {
            Status::Decided => Ok(()),
            _ => out_of_order("only a decision is served"),
        },
        "close" => match from {
            Status::Served => Ok(()),
            Status::Persuaded if persuasion_complied => Ok(()),
            Status::Persuaded => out_of_order("the party refused persuasion: investigate, decide and serve first"),
            _ => out_of_order("a case closes once its decision is served (or the party complied when persuaded)"),
        },
        _ => out_of_order("not a step of the procedure"),
    }
}

/// Whether a decision lies inside the law and the benchmark. `Ok(true)`: inside the benchmark
/// tier; `Ok(false)`: outside it, with an override reason (recorded as overridden).
pub fn lawful(d: &Decided) -> Result<bool, Refusal> {
    let fine = d.fine_yuan.unwrap_or(0);
    if let Some(law) = &d.statutory {
        match d.outcome {
            DecisionOutcome::Fine if !law.allows_fine(fine) => {
                return Err(Refusal::OutsideStatutoryRange(format!(
                    "a fine of {fine} yuan is outside the law's range for this party ({}–{} yuan); the \
                     statutory range is never overridable",
                    law.min_yuan, law.max_yuan
                )));
            }
            DecisionOutcome::Warning if !law.warning => {
                return Err(Refusal::OutsideStatutoryRange(format!(
                    "the law provides no warning for this party; its penalty is a fine of {}–{} yuan",
                    law.min_yuan, law.max_yuan
                )));
            }
            DecisionOutcome::Fine | DecisionOutcome::Warning | DecisionOutcome::NoPenalty | DecisionOutcome::Other => {}
        }
    }
    let Some(tier) = &d.benchmark else { return Ok(true) };
    if within_tier(d.outcome, fine, tier) {
        return Ok(true);
    }
    if d.override_reason.as_deref().is_some_and(|r| !r.trim().is_empty()) {
        return Ok(false);
    }
    Err(Refusal::OverrideReasonRequired(format!(
        "the benchmark tier {} allows {} ({}–{} yuan); this decision ({}{}) leaves it: give override_reason to \
         proceed, and a supervisor will review it",
        tier.tier,
        tier.action,
        tier.min_yuan,
        tier.max_yuan,
        d.outcome.as_str(),
        if d.outcome == DecisionOutcome::Fine { format!(" of {fine} yuan") } else { String::new() }
    )))
}

/// Whether the decision is what the benchmark tier allows.
fn within_tier(outcome: DecisionOutcome, fine: u64, tier: &BenchmarkApplied) -> bool {
    let in_range = (tier.min_yuan..=tier.max_yuan).contains(&fine);
    match outcome {
        DecisionOutcome::NoPenalty => tier.action == "no_penalty",
        DecisionOutcome::Warning => tier.action == "warning",
        // A warning tier may carry a small fine within its range.
        DecisionOutcome::Fine => {
            matches!(tier.action.as_str(), "fine" | "fine_and_suspend" | "warning") && in_range && fine > 0
        }
        // Another measure (an order to correct, confiscation) has no amount to measure.
        DecisionOutcome::Other => true,
    }
}

#[cfg(test)]
mod tests {
    use whistle_schemas::events::{Actor, ActorKind};
    use whistle_schemas::registry::StatutoryRange;

    use super::*;

    fn decision(outcome: DecisionOutcome, fine: Option<u64>, reason: Option<&str>) -> Decided {
        Decided {
            actor: Actor::new(ActorKind::Town, "500103001"),
            outcome,
            fine_yuan: fine,
            // The Fire Protection Law, art. 60, for a unit.
            statutory: Some(StatutoryRange { warning: false, min_yuan: 5000, max_yuan: 50_000 }),
            benchmark: Some(BenchmarkApplied {
                tier: "first_offence".into(),
                action: "fine".into(),
                min_yuan: 5000,
                max_yuan: 10_000,
            }),
            override_reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn a_fine_outside_the_law_is_refused_even_with_a_reason() {
        for fine in [4999, 50_001, 0] {
            let d = decision(DecisionOutcome::Fine, Some(fine), Some("the director agreed"));
            assert!(matches!(lawful(&d), Err(Refusal::OutsideStatutoryRange(_))), "{fine}");
        }
        let warning = decision(DecisionOutcome::Warning, None, Some("first time"));
        assert!(matches!(lawful(&warning), Err(Refusal::OutsideStatutoryRange(_))), "no warning for a unit");
    }

    #[test]
    fn outside_the_tier_but_inside_the_law_needs_a_reason_and_is_then_overridden() {
        let d = decision(DecisionOutcome::Fine, Some(20_000), None);
        let err = lawful(&d).expect_err("needs a reason");
        assert_eq!(err.code(), "override_reason_required");
        assert!(err.to_string().contains("first_offence"), "{err}");
        let blank = decision(DecisionOutcome::Fine, Some(20_000), Some("  "));
        assert!(lawful(&blank).is_err(), "a blank reason is no reason");
        assert_eq!(lawful(&decision(DecisionOutcome::Fine, Some(20_000), Some("large site"))), Ok(false));
        assert_eq!(lawful(&decision(DecisionOutcome::Fine, Some(8000), None)), Ok(true));
    }

    #[test]
    fn steps_come_in_the_laws_order() {
        assert!(step_allowed("notify", Status::Registered, false, None).is_err());
        assert!(step_allowed("decide", Status::Investigated, false, Some(DecisionOutcome::Fine)).is_err());
        assert!(step_allowed("decide", Status::Investigated, false, Some(DecisionOutcome::NoPenalty)).is_ok());
        assert!(step_allowed("close", Status::Persuaded, true, None).is_ok());
        assert!(step_allowed("close", Status::Persuaded, false, None).is_err());
        assert!(step_allowed("close", Status::Decided, false, None).is_err(), "serve first");
        assert!(step_allowed("persuade", Status::Investigated, false, None).is_err());
    }

    #[test]
    fn the_time_limit_is_ninety_days_and_near_in_the_last_fifteen() {
        let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let by = decide_by(at);
        assert_eq!(by, "2026-04-01T00:00:00Z".parse::<DateTime<Utc>>().expect("time"));
        assert_eq!(time_limit(by, at), TimeLimit::Running);
        assert_eq!(time_limit(by, by - Duration::days(15)), TimeLimit::Near);
        assert_eq!(time_limit(by, by), TimeLimit::Passed);
    }
}
