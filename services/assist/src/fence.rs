//! Electronic fences: warnings at the moment of an enforcement action. The rules' windows and
//! thresholds are data (`deploy/data/assist/fences.json`); the checks here are pure functions of
//! the rules, the action and the subject's history.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::benchmark::{Action, Matched};
use crate::data::{DataError, FENCES_FILE};

pub const MULTI_DEPARTMENT: &str = "multi_department_inspection";
pub const REPEATED_INSPECTION: &str = "repeated_inspection";
pub const FINE_OUT_OF_RANGE: &str = "fine_out_of_range";
pub const PERSUASION_SKIPPED: &str = "persuasion_skipped";
/// A penalty by a body that does not hold the item (never overridable: no competence, no penalty).
pub const NOT_ITEM_HOLDER: &str = "not_item_holder";
/// A fine outside the law's range for the subject's kind (never overridable).
pub const OUTSIDE_STATUTORY_RANGE: &str = "outside_statutory_range";

/// `fences.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceRules {
    #[allow(dead_code)]
    note: String,
    pub inspection: InspectionRule,
    pub fine_out_of_range: Toggle,
    pub persuade_first: Toggle,
    /// How long a subject's history is kept; must cover the longest benchmark repeat window.
    pub history_days: u32,
}

/// Too many inspections of one subject within a window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionRule {
    pub window_days: u32,
    /// More distinct departments than this within the window → suggest a joint inspection.
    pub max_departments: u32,
    /// More inspections by one department than this within the window → repeated inspection.
    pub max_per_department: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

impl FenceRules {
    pub(crate) fn validate(&self, longest_repeat_months: u32) -> Result<(), DataError> {
        let invalid = |message: String| DataError::Invalid { file: FENCES_FILE, message };
        let i = &self.inspection;
        if i.window_days == 0 || i.max_departments == 0 || i.max_per_department == 0 {
            return Err(invalid("inspection window_days and thresholds must be at least 1".into()));
        }
        if self.history_days < i.window_days || self.history_days < longest_repeat_months * 31 {
            return Err(invalid(format!(
                "history_days ({}) must cover the inspection window and the longest repeat window ({} months)",
                self.history_days, longest_repeat_months
            )));
        }
        Ok(())
    }

    pub fn history(&self) -> Duration {
        Duration::days(self.history_days.into())
    }

    pub fn inspection_window(&self) -> Duration {
        Duration::days(self.inspection.window_days.into())
    }
}

/// A fence that tripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub rule: &'static str,
    pub message: String,
}

/// An inspection from a subject's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastInspection {
    /// The inspecting body: a department code, or a town code for a town's own case.
    pub department: String,
    /// The case (whistle or town case) it was recorded in.
    pub case: uuid::Uuid,
    /// A re-check (复查) of an earlier order to correct.
    pub recheck: bool,
    pub at: DateTime<Utc>,
}

/// Fences for `department` (any inspecting body: a department or a town team) inspecting a
/// subject in `case`, with `past` inspections of that subject by anyone, in any case (those
/// outside the window are ignored). The other departments of the same (joint) case are not extra
/// departments: they inspect together. Re-checks (复查) never count, and a re-check trips nothing.
pub fn check_inspection(
    rules: &FenceRules,
    department: &str,
    case: uuid::Uuid,
    recheck: bool,
    now: DateTime<Utc>,
    past: &[PastInspection],
) -> Vec<Warning> {
    if recheck {
        return Vec::new();
    }
    let since = now - rules.inspection_window();
    let recent: Vec<&PastInspection> = past.iter().filter(|p| p.at > since && p.at <= now && !p.recheck).collect();
    let mut departments: Vec<&str> = recent.iter().filter(|p| p.case != case).map(|p| p.department.as_str()).collect();
    departments.push(department);
    departments.sort_unstable();
    departments.dedup();
    let window = rules.inspection.window_days;
    let mut out = Vec::new();
    if departments.len() as u32 > rules.inspection.max_departments {
        out.push(Warning {
            rule: MULTI_DEPARTMENT,
            message: format!(
                "{} departments ({}) inspect this subject within {window} days; suggest a joint inspection \
                 / {window}天内{}个部门检查同一对象，建议联合检查",
                departments.len(),
                departments.join(", "),
                departments.len()
            ),
        });
    }
    let by_this = recent.iter().filter(|p| p.department == department).count() as u32 + 1;
    if by_this > rules.inspection.max_per_department {
        out.push(Warning {
            rule: REPEATED_INSPECTION,
            message: format!(
                "{department} inspects this subject for the {by_this}th time within {window} days (limit {}); \
                 suggest a joint inspection / {window}天内第{by_this}次检查同一对象，建议联合检查",
                rules.inspection.max_per_department
            ),
        });
    }
    out
}

/// Fences for a penalty of `amount_yuan` in the `matched` benchmark tier.
pub fn check_penalty(
    rules: &FenceRules,
    matched: &Matched<'_>,
    amount_yuan: u64,
    persuasion_recorded: bool,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let range = matched.range.fine_yuan;
    if rules.fine_out_of_range.enabled && !matched.range.allows(amount_yuan) {
        let allowed = match matched.range.action {
            Action::NoPenalty => "no fine".to_owned(),
            Action::Warning => format!("a warning (0) or {}–{} yuan", range.min, range.max),
            Action::Fine | Action::FineAndSuspend => format!("{}–{} yuan", range.min, range.max),
        };
        out.push(Warning {
            rule: FINE_OUT_OF_RANGE,
            message: format!(
                "a fine of {amount_yuan} yuan is outside {allowed} for tier \"{}\" ({}, {}); give a reason to proceed \
                 / 罚款超出裁量基准「{}」范围",
                matched.tier.label.en,
                matched.range.action.as_str(),
                matched.kind.as_str(),
                matched.tier.label.zh
            ),
        });
    }
    if rules.persuade_first.enabled && matched.persuade_first && !persuasion_recorded {
        out.push(Warning {
            rule: PERSUASION_SKIPPED,
            message: format!(
                "{} is a persuade-first item and no persuasion is recorded; give a reason to proceed \
                 / 该事项应先劝导，未记录劝导",
                matched.item
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::Facts;
    use crate::tests::assist;
    use whistle_registry::ItemCode;
    use whistle_schemas::registry::SubjectKind;

    fn at(days_ago: i64) -> DateTime<Utc> {
        now() - Duration::days(days_ago)
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().expect("time")
    }

    fn rules() -> &'static FenceRules {
        &assist().data.fences
    }

    const CASE: uuid::Uuid = uuid::Uuid::from_u128(1);
    const OTHER: uuid::Uuid = uuid::Uuid::from_u128(2);

    #[test]
    fn the_departments_of_one_joint_case_and_re_checks_do_not_trip_the_inspection_fences() {
        let joint = [PastInspection { department: "500103-EE".into(), case: CASE, recheck: false, at: at(1) }];
        assert!(check_inspection(rules(), "500103-MS", CASE, false, now(), &joint).is_empty(), "the same joint case");
        // One body visiting again and again is repeated, in one case or many.
        let max = rules().inspection.max_per_department as i64;
        let visits: Vec<PastInspection> = (0..max)
            .map(|n| PastInspection { department: "500103-MS".into(), case: CASE, recheck: false, at: at(n + 1) })
            .collect();
        let w = check_inspection(rules(), "500103-MS", CASE, false, now(), &visits);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [REPEATED_INSPECTION]);
        let recheck = [PastInspection { department: "500103-EE".into(), case: OTHER, recheck: true, at: at(1) }];
        assert!(check_inspection(rules(), "500103-MS", CASE, false, now(), &recheck).is_empty(), "a past re-check");
        let other = [PastInspection { department: "500103-EE".into(), case: OTHER, recheck: false, at: at(1) }];
        assert!(check_inspection(rules(), "500103-MS", CASE, true, now(), &other).is_empty(), "this one is a re-check");
        // A town team's own case counts like any department's inspection.
        let w = check_inspection(rules(), "500103001", CASE, false, now(), &other);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [MULTI_DEPARTMENT]);
    }

    #[test]
    fn a_second_department_within_the_window_gets_a_joint_inspection_suggestion() {
        let past = [PastInspection { department: "500103-EE".into(), case: OTHER, recheck: false, at: at(3) }];
        let w = check_inspection(rules(), "500103-MS", CASE, false, now(), &past);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [MULTI_DEPARTMENT]);
        assert!(w[0].message.contains("500103-EE, 500103-MS"), "{}", w[0].message);
    }

    #[test]
    fn inspections_outside_the_window_do_not_count() {
        let days = rules().inspection.window_days as i64;
        let past = [PastInspection { department: "500103-EE".into(), case: OTHER, recheck: false, at: at(days + 1) }];
        assert!(check_inspection(rules(), "500103-MS", CASE, false, now(), &past).is_empty());
    }

    #[test]
    fn one_department_inspecting_too_often_is_a_repeated_inspection() {
        let max = rules().inspection.max_per_department as i64;
        let past: Vec<PastInspection> = (0..max)
            .map(|n| PastInspection { department: "500103-EE".into(), case: OTHER, recheck: false, at: at(n + 1) })
            .collect();
        let w = check_inspection(rules(), "500103-EE", CASE, false, now(), &past);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [REPEATED_INSPECTION]);
        assert!(check_inspection(rules(), "500103-EE", CASE, false, now(), &past[1..]).is_empty());
    }

    #[test]
    fn a_fine_outside_the_kinds_tier_and_a_skipped_persuasion_both_trip() {
        let benchmarks = &assist().data.benchmarks;
        let item = ItemCode::parse("CQ-FIRE-002").expect("code");
        let m = benchmarks.matching(&item, SubjectKind::Individual, &Facts::default()).expect("tier");
        let w = check_penalty(rules(), &m, m.range.fine_yuan.max + 1, false);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [FINE_OUT_OF_RANGE, PERSUASION_SKIPPED]);
        assert!(w[0].message.contains("individual"), "{}", w[0].message);
        assert!(check_penalty(rules(), &m, m.range.fine_yuan.max, true).is_empty());
        // A warning alone is inside an individual's ordinary tier, not a unit's.
        assert!(check_penalty(rules(), &m, 0, true).is_empty());
        let unit = benchmarks.matching(&item, SubjectKind::Unit, &Facts::default()).expect("tier");
        let w = check_penalty(rules(), &unit, 0, true);
        assert_eq!(w.iter().map(|w| w.rule).collect::<Vec<_>>(), [FINE_OUT_OF_RANGE]);
        // The individual's top of 500 yuan is far below a unit's floor.
        assert_eq!(check_penalty(rules(), &unit, 500, true).len(), 1);
    }
}
