//! SLA policy as data (`deploy/data/sla.json`): budgets per stage, the warning threshold, the
//! escalation chain, and which calendar each district's business clock follows.
//!
//! A policy applies to an item class (items or categories): business-hours items count on the
//! business clock (a whistle at 23:00 starts counting at the next working morning), round-the-
//! clock items (fire, safety) on the wall clock. The arrive budget may depend on the district's
//! distance class (`core`, `outer`, `remote`: a remote township of 城口 is hours away), and a
//! round-the-clock policy may set a night-time acknowledgement with its own escalation chain (the
//! night duty officer is told). Each combination is a policy of its own, named
//! `<policy>[.<distance class>][.night]`, so a case keeps the one it started under. Holidays and
//! make-up working days may come from a shared file (`deploy/data/holidays.json`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
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
    /// Distance class → the districts (and zones) in it; the others are in
    /// `default_distance_class`.
    #[serde(default)]
    distance_classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    default_distance_class: Option<String>,
    policies: Vec<PolicyEntry>,
}

/// `holidays.json`: public holidays and make-up working days by year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    #[allow(dead_code)]
    note: String,
    years: BTreeMap<i32, HolidayYear>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayYear {
    #[allow(dead_code)]
    source: String,
    /// True while the year's arrangement is not announced yet (statutory days only).
    #[serde(default)]
    provisional: bool,
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
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
    /// A holidays file beside the policy file, added to `holidays` and `workdays`.
    #[serde(default)]
    holidays_file: Option<String>,
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
    /// Night-time acknowledgement for a round-the-clock policy.
    #[serde(default)]
    night: Option<NightEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetEntry {
    seconds: i64,
    clock: ClockKind,
    /// Seconds by distance class, overriding `seconds`.
    #[serde(default)]
    by_distance: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NightEntry {
    /// Local time the night starts, e.g. `22:00`.
    from: String,
    /// Local time it ends, e.g. `08:00` (the next morning).
    to: String,
    acknowledge_seconds: i64,
    escalation: Vec<StepEntry>,
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
        match stage {
            // The law's limit, the same for every case: calendar days.
            SlaStageKind::Decide => {
                Budget { duration: Duration::days(whistle_case::procedure::DECIDE_WITHIN_DAYS), clock: ClockKind::Wall }
            }
            SlaStageKind::Acknowledge | SlaStageKind::Arrive | SlaStageKind::Resolve => self.budgets[stage as usize],
        }
    }

    /// The policy's name without its distance class and night suffixes.
    fn name_base(&self) -> String {
        self.name.split('.').next().unwrap_or(&self.name).to_owned()
    }
}

/// How a base policy varies: by distance class and by night.
#[derive(Debug, Clone)]
struct Variants {
    by_distance: bool,
    night: Option<(NaiveTime, NaiveTime)>,
}

/// Every policy and calendar, with the look-ups the SLA service needs.
#[derive(Debug, Clone)]
pub struct Policies {
    policies: Vec<Policy>,
    by_name: HashMap<String, usize>,
    /// Per base policy (index into `policies`): how it varies.
    variants: HashMap<usize, Variants>,
    by_item: HashMap<String, usize>,
    by_category: HashMap<String, usize>,
    default: usize,
    calendars: BTreeMap<String, Calendar>,
    district_calendars: BTreeMap<String, String>,
    default_calendar: String,
    distance_class: BTreeMap<String, String>,
    default_distance_class: String,
    /// Years whose holiday arrangement is not announced yet.
    provisional_years: BTreeSet<i32>,
}

impl Policies {
    pub fn load(path: &Path) -> Result<Policies, PolicyError> {
        let bytes =
            std::fs::read(path).map_err(|source| PolicyError::Io { path: path.display().to_string(), source })?;
        Policies::from_json_in(&bytes, path.parent())
    }

    /// A policy file without a `holidays_file` (there is no directory to read it from).
    pub fn from_json(bytes: &[u8]) -> Result<Policies, PolicyError> {
        Policies::from_json_in(bytes, None)
    }

    fn from_json_in(bytes: &[u8], dir: Option<&Path>) -> Result<Policies, PolicyError> {
        let file: PolicyFile = serde_json::from_slice(bytes)?;
        let invalid = |m: String| PolicyError::Invalid(m);
        let mut calendars = BTreeMap::new();
        let mut provisional_years = BTreeSet::new();
        for (name, mut c) in file.calendars {
            if let Some(holidays) = &c.holidays_file {
                let dir =
                    dir.ok_or_else(|| invalid(format!("calendar {name}: holidays_file needs a policy file on disk")))?;
                let path = dir.join(holidays);
                let bytes = std::fs::read(&path)
                    .map_err(|source| PolicyError::Io { path: path.display().to_string(), source })?;
                let years: HolidayFile = serde_json::from_slice(&bytes)?;
                for (year, y) in years.years {
                    if let Some(d) = y.holidays.iter().chain(&y.workdays).find(|d| d.year() != year) {
                        return Err(invalid(format!("{}: {d} is listed under {year}", path.display())));
                    }
                    if y.provisional {
                        provisional_years.insert(year);
                    }
                    c.holidays.extend(y.holidays);
                    c.workdays.extend(y.workdays);
                }
            }
            calendars.insert(name.clone(), calendar(&c).map_err(|e| invalid(format!("calendar {name}: {e}")))?);
        }
        let mut distance_class = BTreeMap::new();
        for (class, districts) in &file.distance_classes {
            for d in districts {
                if distance_class.insert(d.clone(), class.clone()).is_some() {
                    return Err(invalid(format!("district {d} is in two distance classes")));
                }
            }
        }
        let default_distance_class = file.default_distance_class.clone().unwrap_or_else(|| "outer".to_owned());
        let mut classes: BTreeSet<String> = file.distance_classes.keys().cloned().collect();
        classes.insert(default_distance_class.clone());
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
        let (mut by_name, mut variants) = (HashMap::new(), HashMap::new());
        for p in file.policies {
            if !(0.0..1.0).contains(&p.warn_ratio) || p.warn_ratio <= 0.0 {
                return Err(invalid(format!("policy {}: warn_ratio must be between 0 and 1", p.name)));
            }
            let budgets = [&p.acknowledge, &p.arrive, &p.resolve];
            if budgets.iter().any(|b| b.seconds <= 0) {
                return Err(invalid(format!("policy {}: every budget must be positive", p.name)));
            }
            let steps = |steps: &[StepEntry]| -> Result<Vec<Step>, PolicyError> {
                if steps.is_empty()
                    || steps.windows(2).any(|w| w[0].after_seconds >= w[1].after_seconds)
                    || steps[0].after_seconds < 0
                {
                    return Err(invalid(format!(
                        "policy {}: escalation steps must be non-empty with increasing delays",
                        p.name
                    )));
                }
                Ok(steps.iter().map(|s| Step { to: s.to.clone(), after: Duration::seconds(s.after_seconds) }).collect())
            };
            let escalation = steps(&p.escalation)?;
            let night = match &p.night {
                None => None,
                Some(n) => {
                    let time = |s: &str| {
                        NaiveTime::parse_from_str(s, "%H:%M")
                            .map_err(|_| invalid(format!("policy {}: night time {s:?} is not HH:MM", p.name)))
                    };
                    if n.acknowledge_seconds <= 0 {
                        return Err(invalid(format!("policy {}: the night acknowledgement must be positive", p.name)));
                    }
                    Some((time(&n.from)?, time(&n.to)?, n.acknowledge_seconds, steps(&n.escalation)?))
                }
            };
            for b in [&p.acknowledge, &p.arrive, &p.resolve] {
                if let Some(class) = b.by_distance.keys().find(|c| !classes.contains(*c)) {
                    return Err(invalid(format!("policy {}: unknown distance class {class}", p.name)));
                }
                if b.by_distance.values().any(|s| *s <= 0) {
                    return Err(invalid(format!("policy {}: every budget must be positive", p.name)));
                }
            }
            let by_distance = [&p.acknowledge, &p.arrive, &p.resolve].iter().any(|b| !b.by_distance.is_empty());
            let budget = |b: &BudgetEntry, class: Option<&str>| Budget {
                duration: Duration::seconds(class.and_then(|c| b.by_distance.get(c)).copied().unwrap_or(b.seconds)),
                clock: b.clock,
            };
            let class_list: Vec<Option<&str>> =
                if by_distance { classes.iter().map(|c| Some(c.as_str())).collect() } else { vec![None] };
            let base = policies.len();
            variants.insert(base, Variants { by_distance, night: night.as_ref().map(|(a, b, _, _)| (*a, *b)) });
            // The base policy itself (default budgets, by day), then its variants.
            let mut add = |policy: Policy| {
                if !by_name.contains_key(&policy.name) {
                    by_name.insert(policy.name.clone(), policies.len());
                    policies.push(policy);
                }
            };
            add(Policy {
                name: p.name.clone(),
                warn_ratio: p.warn_ratio,
                budgets: [budget(&p.acknowledge, None), budget(&p.arrive, None), budget(&p.resolve, None)],
                escalation: escalation.clone(),
            });
            for class in class_list {
                add(Policy {
                    name: variant_name(&p.name, class, false),
                    warn_ratio: p.warn_ratio,
                    budgets: [budget(&p.acknowledge, class), budget(&p.arrive, class), budget(&p.resolve, class)],
                    escalation: escalation.clone(),
                });
                // At night the acknowledgement counts on the wall clock with its own chain: the
                // night duty officer is told, not a department head who is off duty.
                if let Some((_, _, night_ack, night_steps)) = &night {
                    add(Policy {
                        name: variant_name(&p.name, class, true),
                        warn_ratio: p.warn_ratio,
                        budgets: [
                            Budget { duration: Duration::seconds(*night_ack), clock: ClockKind::Wall },
                            budget(&p.arrive, class),
                            budget(&p.resolve, class),
                        ],
                        escalation: night_steps.clone(),
                    });
                }
            }
            for item in &p.items {
                if by_item.insert(item.clone(), base).is_some() {
                    return Err(invalid(format!("item {item} is in two policies")));
                }
            }
            for category in &p.categories {
                if by_category.insert(category.clone(), base).is_some() {
                    return Err(invalid(format!("category {category} is in two policies")));
                }
            }
            if p.items.is_empty() && p.categories.is_empty() && default.replace(base).is_some() {
                return Err(invalid("two policies apply to everything; exactly one may".into()));
            }
        }
        let default =
            default.ok_or_else(|| invalid("no default policy (one with neither items nor categories)".into()))?;
        Ok(Policies {
            policies,
            by_name,
            variants,
            by_item,
            by_category,
            default,
            calendars,
            district_calendars: file.district_calendars,
            default_calendar: file.default_calendar,
            distance_class,
            default_distance_class,
            provisional_years,
        })
    }

    fn base_for(&self, item: &str, category: Option<&str>) -> usize {
        self.by_item
            .get(item)
            .or_else(|| category.and_then(|c| self.by_category.get(c)))
            .copied()
            .unwrap_or(self.default)
    }

    /// The policy for an item, as its class sets it (by item code, then by category, then the
    /// default), before district and time of day: see [`Policies::for_dispatch`].
    pub fn for_item(&self, item: &str, category: Option<&str>) -> &Policy {
        &self.policies[self.base_for(item, category)]
    }

    /// The policy a case dispatched in `district` at `at` runs under: the item class's policy in
    /// the district's distance class, at night its night-time variant.
    pub fn for_dispatch(&self, item: &str, category: Option<&str>, district: &str, at: DateTime<Utc>) -> &Policy {
        let base = self.base_for(item, category);
        let Some(v) = self.variants.get(&base) else { return &self.policies[base] };
        let class = v.by_distance.then(|| self.distance_class(district));
        let night = v.night.is_some_and(|(from, to)| {
            let local = at.with_timezone(&self.calendar(district).offset()).time();
            if from <= to { from <= local && local < to } else { local >= from || local < to }
        });
        let name = variant_name(&self.policies[base].name_base(), class, night);
        self.by_name.get(&name).map_or(&self.policies[base], |&i| &self.policies[i])
    }

    /// A district's distance class (`core`, `outer`, `remote`, …).
    pub fn distance_class(&self, district: &str) -> &str {
        self.distance_class.get(district).unwrap_or(&self.default_distance_class)
    }

    /// Whether `year`'s holidays are provisional (not announced yet).
    pub fn holidays_provisional(&self, year: i32) -> bool {
        self.provisional_years.contains(&year)
    }

    pub fn by_name(&self, name: &str) -> &Policy {
        self.by_name.get(name).map_or(&self.policies[self.default], |&i| &self.policies[i])
    }

    pub fn calendar(&self, district: &str) -> &Calendar {
        let name = self.district_calendars.get(district).unwrap_or(&self.default_calendar);
        &self.calendars[name]
    }
}

/// `default`, `urgent.remote`, `urgent.core.night`.
fn variant_name(base: &str, class: Option<&str>, night: bool) -> String {
    let mut name = base.to_owned();
    if let Some(c) = class {
        name.push('.');
        name.push_str(c);
    }
    if night {
        name.push_str(".night");
    }
    name
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

    fn shipped() -> Policies {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/sla.json");
        Policies::load(&path).expect("deploy/data/sla.json is valid")
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc)
    }

    #[test]
    fn the_shipped_policy_loads_and_matches_items_categories_and_the_default() {
        let p = shipped();
        assert_eq!(p.for_item("CQ-NOPE-001", None).name, "default");
        assert_eq!(p.for_item("CQ-NOPE-001", Some("fire_safety")).name, "urgent");
        let default = p.for_item("x", None);
        assert_eq!(default.budget(SlaStageKind::Resolve).clock, ClockKind::Business);
    }

    #[test]
    fn a_remote_countys_policy_differs_from_yuzhongs() {
        let p = shipped();
        let noon = t("2026-11-26T11:00:00+08:00");
        for category in [None, Some("fire_safety")] {
            let yuzhong = p.for_dispatch("x", category, "500103", noon);
            let chengkou = p.for_dispatch("x", category, "500229", noon);
            assert_ne!(yuzhong.name, chengkou.name);
            assert!(
                chengkou.budget(SlaStageKind::Arrive).duration > yuzhong.budget(SlaStageKind::Arrive).duration,
                "城口 is further: {:?} vs {:?}",
                chengkou.budget(SlaStageKind::Arrive),
                yuzhong.budget(SlaStageKind::Arrive)
            );
        }
        assert_eq!(p.distance_class("500103"), "core");
        assert_eq!(p.distance_class("500229"), "remote");
        assert_eq!(p.distance_class("500118"), "outer", "永川区, by default");
    }

    #[test]
    fn business_hours_items_count_on_the_business_clock_and_fire_round_the_clock() {
        let p = shipped();
        let noon = t("2026-11-26T11:00:00+08:00");
        let business = p.for_dispatch("x", Some("environment"), "500103", noon);
        let fire = p.for_dispatch("x", Some("fire_safety"), "500103", noon);
        for stage in SlaStageKind::WHISTLE {
            assert_eq!(business.budget(stage).clock, ClockKind::Business, "{stage:?}");
        }
        assert_eq!(fire.budget(SlaStageKind::Acknowledge).clock, ClockKind::Wall);
        assert_eq!(fire.budget(SlaStageKind::Arrive).clock, ClockKind::Wall);
    }

    #[test]
    fn a_night_time_fire_whistle_is_acknowledged_on_the_wall_clock_and_escalates_to_the_night_duty_officer() {
        let p = shipped();
        let day = p.for_dispatch("x", Some("fire_safety"), "500103", t("2026-11-26T15:00:00+08:00"));
        let night = p.for_dispatch("x", Some("fire_safety"), "500103", t("2026-11-26T23:00:00+08:00"));
        let small_hours = p.for_dispatch("x", Some("fire_safety"), "500103", t("2026-11-27T03:00:00+08:00"));
        assert_eq!(night.name, "urgent.core.night");
        assert_eq!(small_hours.name, night.name, "the night runs past midnight");
        assert_eq!(day.name, "urgent.core");
        assert_eq!(night.budget(SlaStageKind::Acknowledge).clock, ClockKind::Wall);
        assert_eq!(night.escalation[0].to, "night_duty_officer");
        assert_ne!(day.escalation[0].to, "night_duty_officer");
        assert_eq!(p.by_name(&night.name), night, "a case finds its policy again by name");
    }

    /// One test per year of the holiday calendar: a holiday, a make-up working day (调休) on a
    /// weekend, and an ordinary weekday around them.
    fn calendar_year(holiday: &str, make_up: Option<&str>, weekday: &str) {
        let p = shipped();
        let c = p.calendar("500103");
        let d = |s: &str| s.parse::<NaiveDate>().expect("valid date");
        assert!(!c.is_working_day(d(holiday)), "{holiday} is a holiday");
        if let Some(m) = make_up {
            assert!(matches!(d(m).weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun), "{m} is a weekend day");
            assert!(c.is_working_day(d(m)), "{m} is a make-up working day");
        }
        assert!(c.is_working_day(d(weekday)), "{weekday} is an ordinary working day");
    }

    #[test]
    fn the_2024_calendar_has_the_spring_festival_and_its_make_up_sundays() {
        calendar_year("2024-02-12", Some("2024-02-04"), "2024-02-19");
        calendar_year("2024-10-04", Some("2024-10-12"), "2024-10-08");
    }

    #[test]
    fn the_2025_calendar_has_the_eight_day_spring_festival_and_national_day() {
        calendar_year("2025-01-28", Some("2025-01-26"), "2025-02-05");
        calendar_year("2025-10-08", Some("2025-10-11"), "2025-10-09");
    }

    #[test]
    fn the_2026_calendar_has_the_nine_day_spring_festival() {
        calendar_year("2026-02-23", Some("2026-02-28"), "2026-02-24");
        calendar_year("2026-01-02", Some("2026-01-04"), "2026-01-05");
    }

    #[test]
    fn the_2027_calendar_is_there_and_marked_provisional() {
        calendar_year("2027-10-01", None, "2027-10-08");
        calendar_year("2027-01-01", None, "2027-01-04");
        let p = shipped();
        assert!(p.holidays_provisional(2027), "2027's arrangement is not announced yet");
        assert!(!p.holidays_provisional(2026));
    }

    #[test]
    fn a_holiday_listed_under_the_wrong_year_is_refused() {
        let dir = std::env::temp_dir().join(format!("whistle-sla-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("h.json"), r#"{"note":"x","years":{"2026":{"source":"x","holidays":["2025-01-01"]}}}"#)
            .expect("write");
        let policy = r#"{"default_calendar":"c","calendars":{"c":{"utc_offset":"+08:00","weekdays":["mon"],"hours":[["09:00","17:00"]],"holidays_file":"h.json"}},
          "policies":[{"name":"d","warn_ratio":0.8,
            "acknowledge":{"seconds":60,"clock":"wall"},"arrive":{"seconds":60,"clock":"wall"},"resolve":{"seconds":60,"clock":"business"},
            "escalation":[{"to":"duty_officer","after_seconds":0}]}]}"#;
        std::fs::write(dir.join("p.json"), policy).expect("write");
        let err = Policies::load(&dir.join("p.json")).expect_err("wrong year");
        assert!(err.to_string().contains("listed under 2026"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
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
