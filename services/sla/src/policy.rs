//! SLA policy as data (`deploy/data/sla.json`): budgets per stage, the warning threshold, the
//! escalation chain, and which calendar each district's business clock follows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{Duration, FixedOffset, NaiveDate, NaiveTime};
use serde::Deserialize;
use whistle_schemas::events::SlaStageKind;

use crate::calendar::{Calendar, ClockKind};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read SLA policy {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("SLA policy is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("SLA policy: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    #[allow(dead_code)]
    note: String,
    default_calendar: String,
    calendars: BTreeMap<String, CalendarEntry>,
    #[serde(default)]
    district_calendars: BTreeMap<String, String>,
    policies: Vec<PolicyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarEntry {
    utc_offset: String,
    weekdays: Vec<String>,
    hours: Vec<(String, String)>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    name: String,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    warn_ratio: f64,
    acknowledge: BudgetEntry,
    arrive: BudgetEntry,
    resolve: BudgetEntry,
    escalation: Vec<StepEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetEntry {
    seconds: i64,
    clock: ClockKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEntry {
    to: String,
    after_seconds: i64,
}

/// How long one stage may take, on which clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub duration: Duration,
    pub clock: ClockKind,
}

/// One step of an escalation chain: who is told, how long after the breach (wall time).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub to: String,
    pub after: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    pub warn_ratio: f64,
    budgets: [Budget; 3],
    pub escalation: Vec<Step>,
}

impl Policy {
    pub fn budget(&self, stage: SlaStageKind) -> Budget {
        self.budgets[stage as usize]
    }
}

/// Every policy and calendar, with the look-ups the SLA service needs.
#[derive(Debug, Clone)]
pub struct Policies {
    policies: Vec<Policy>,
    by_item: HashMap<String, usize>,
    by_category: HashMap<String, usize>,
    default: usize,
    calendars: BTreeMap<String, Calendar>,
    district_calendars: BTreeMap<String, String>,
    default_calendar: String,
}

impl Policies {
    pub fn load(path: &Path) -> Result<Policies, PolicyError> {
        let bytes =
            std::fs::read(path).map_err(|source| PolicyError::Io { path: path.display().to_string(), source })?;
        Policies::from_json(&bytes)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Policies, PolicyError> {
        let file: PolicyFile = serde_json::from_slice(bytes)?;
        let invalid = |m: String| PolicyError::Invalid(m);
        let mut calendars = BTreeMap::new();
        for (name, c) in file.calendars {
            calendars.insert(name.clone(), calendar(&c).map_err(|e| invalid(format!("calendar {name}: {e}")))?);
        }
        if !calendars.contains_key(&file.default_calendar) {
            return Err(invalid(format!("default_calendar {} is not defined", file.default_calendar)));
        }
        for (district, name) in &file.district_calendars {
            if !calendars.contains_key(name) {
                return Err(invalid(format!("district {district} uses undefined calendar {name}")));
            }
        }
        let (mut policies, mut by_item, mut by_category, mut default) =
            (Vec::new(), HashMap::new(), HashMap::new(), None);
        for (i, p) in file.policies.into_iter().enumerate() {
            if !(0.0..1.0).contains(&p.warn_ratio) || p.warn_ratio <= 0.0 {
                return Err(invalid(format!("policy {}: warn_ratio must be between 0 and 1", p.name)));
            }
            let budgets = [&p.acknowledge, &p.arrive, &p.resolve];
            if budgets.iter().any(|b| b.seconds <= 0) {
                return Err(invalid(format!("policy {}: every budget must be positive", p.name)));
            }
            if p.escalation.is_empty()
                || p.escalation.windows(2).any(|w| w[0].after_seconds >= w[1].after_seconds)
                || p.escalation[0].after_seconds < 0
            {
                return Err(invalid(format!(
                    "policy {}: escalation steps must be non-empty with increasing delays",
                    p.name
                )));
            }
            for item in &p.items {
                if by_item.insert(item.clone(), i).is_some() {
                    return Err(invalid(format!("item {item} is in two policies")));
                }
            }
            for category in &p.categories {
                if by_category.insert(category.clone(), i).is_some() {
                    return Err(invalid(format!("category {category} is in two policies")));
                }
            }
            if p.items.is_empty() && p.categories.is_empty() && default.replace(i).is_some() {
                return Err(invalid("two policies apply to everything; exactly one may".into()));
            }
            let budget = |b: &BudgetEntry| Budget { duration: Duration::seconds(b.seconds), clock: b.clock };
            policies.push(Policy {
                name: p.name,
                warn_ratio: p.warn_ratio,
                budgets: [budget(&p.acknowledge), budget(&p.arrive), budget(&p.resolve)],
                escalation: p
                    .escalation
                    .into_iter()
                    .map(|s| Step { to: s.to, after: Duration::seconds(s.after_seconds) })
                    .collect(),
            });
        }
        let default =
            default.ok_or_else(|| invalid("no default policy (one with neither items nor categories)".into()))?;
        Ok(Policies {
            policies,
            by_item,
            by_category,
            default,
            calendars,
            district_calendars: file.district_calendars,
            default_calendar: file.default_calendar,
        })
    }

    /// The policy for an item: by item code, then by category, then the default.
    pub fn for_item(&self, item: &str, category: Option<&str>) -> &Policy {
        let i = self
            .by_item
            .get(item)
            .or_else(|| category.and_then(|c| self.by_category.get(c)))
            .copied()
            .unwrap_or(self.default);
        &self.policies[i]
    }

    pub fn by_name(&self, name: &str) -> &Policy {
        self.policies.iter().find(|p| p.name == name).unwrap_or(&self.policies[self.default])
    }

    pub fn calendar(&self, district: &str) -> &Calendar {
        let name = self.district_calendars.get(district).unwrap_or(&self.default_calendar);
        &self.calendars[name]
    }
}

fn calendar(c: &CalendarEntry) -> Result<Calendar, String> {
    let offset =
        parse_offset(&c.utc_offset).ok_or_else(|| format!("utc_offset {:?} is not like +08:00", c.utc_offset))?;
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut weekdays = [false; 7];
    for d in &c.weekdays {
        let i = names.iter().position(|n| n == d).ok_or_else(|| format!("weekday {d:?} is not one of {names:?}"))?;
        weekdays[i] = true;
    }
    let time = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s:?} is not HH:MM"));
    let hours = c.hours.iter().map(|(a, b)| Ok((time(a)?, time(b)?))).collect::<Result<Vec<_>, String>>()?;
    let holidays: BTreeSet<NaiveDate> = c.holidays.iter().copied().collect();
    let workdays: BTreeSet<NaiveDate> = c.workdays.iter().copied().collect();
    Calendar::new(offset, hours, weekdays, holidays, workdays).map_err(|e| e.to_string())
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    FixedOffset::east_opt(sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_loads_and_matches_items_categories_and_the_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/sla.json");
        let p = Policies::load(&path).expect("deploy/data/sla.json is valid");
        assert_eq!(p.for_item("CQ-NOPE-001", None).name, "default");
        assert_eq!(p.for_item("CQ-NOPE-001", Some("fire_safety")).name, "urgent");
        let default = p.for_item("x", None);
        assert_eq!(default.budget(SlaStageKind::Arrive).duration, Duration::minutes(30), "Beijing's 30-minute arrival");
        assert_eq!(default.budget(SlaStageKind::Resolve).clock, ClockKind::Business);
    }

    #[test]
    fn a_policy_file_without_a_default_is_refused() {
        let json = r#"{"default_calendar":"c","calendars":{"c":{"utc_offset":"+08:00","weekdays":["mon"],"hours":[["09:00","17:00"]]}},
          "policies":[{"name":"x","categories":["a"],"warn_ratio":0.8,
            "acknowledge":{"seconds":60,"clock":"wall"},"arrive":{"seconds":60,"clock":"wall"},"resolve":{"seconds":60,"clock":"business"},
            "escalation":[{"to":"duty_officer","after_seconds":0}]}]}"#;
        let err = Policies::from_json(json.as_bytes()).expect_err("no default");
        assert!(err.to_string().contains("no default policy"), "{err}");
    }
}
