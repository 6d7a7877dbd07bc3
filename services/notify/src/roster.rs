//! Rosters as the notifier uses them: parsed from the wire [`whistle_schemas::notify::Roster`]
//! once (times, days and references checked), then asked who is on duty at a moment. Pure: no
//! I/O, no clock; every function takes the moment it is about.
//!
//! Chongqing keeps China Standard Time, UTC+8 all year (no daylight saving since 1991), so the
//! local clock is a fixed offset and needs no time-zone database.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use whistle_schemas::notify as wire;

/// Asia/Shanghai.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The escalation target served by the rota rather than by a role.
pub const DUTY_OFFICER: &str = "duty_officer";
/// The escalation target served by the district command centre's duty officer.
pub const COMMAND_CENTRE: &str = "command_centre";

/// People per roster at most, and shifts and overrides: a unit's roster fits a page.
pub const MAX_PEOPLE: usize = 500;
pub const MAX_SHIFTS: usize = 200;
pub const MAX_OVERRIDES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RosterError {
    /// Where in the roster, e.g. `shifts[2].start`.
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RosterError {
    RosterError { field: field.into(), message: message.into() }
}

/// Who a roster is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Department,
    CommandCentre,
    Town,
}

/// A unit code: `DDDDDD-TYPE` (a department, `-CC` for the command centre) or a 9-digit town.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit(String);

impl Unit {
    pub fn parse(code: &str) -> Result<Unit, RosterError> {
        let ok = match code.split_once('-') {
            Some((district, kind)) => {
                district.len() == 6
                    && district.bytes().all(|b| b.is_ascii_digit())
                    && (1..=8).contains(&kind.len())
                    && kind.bytes().all(|b| b.is_ascii_uppercase())
            }
            None => code.len() == 9 && code.bytes().all(|b| b.is_ascii_digit()),
        };
        if ok {
            Ok(Unit(code.to_owned()))
        } else {
            Err(invalid("unit", "a department code like 500103-EE, a command centre 500103-CC, or a 9-digit town code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit district the unit belongs to.
    pub fn district(&self) -> &str {
        &self.0[..6]
    }

    pub fn kind(&self) -> UnitKind {
        match self.0.split_once('-') {
            Some((_, "CC")) => UnitKind::CommandCentre,
            Some(_) => UnitKind::Department,
            None => UnitKind::Town,
        }
    }

    /// The command centre of this unit's district.
    pub fn command_centre(&self) -> Unit {
        Unit(format!("{}-CC", self.district()))
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A span of local clock time in a day; `end <= start` runs over midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Hours {
    fn wraps(&self) -> bool {
        self.end <= self.start
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wecom_id: Option<String>,
    pub quiet_hours: Option<Hours>,
}

impl Person {
    /// When `at` falls in the person's quiet hours, the moment they end.
    pub fn quiet_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let quiet = self.quiet_hours?;
        let local = at.with_timezone(&local_offset()).naive_local();
        let (date, time) = (local.date(), local.time());
        let end_on = |d: chrono::NaiveDate| to_utc(d.and_time(quiet.end));
        if quiet.wraps() {
            if time >= quiet.start {
                Some(end_on(date.succ_opt()?))
            } else if time < quiet.end {
                Some(end_on(date))
            } else {
                None
            }
        } else if time >= quiet.start && time < quiet.end {
            Some(end_on(date))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub days: Vec<Weekday>,
    pub hours: Hours,
    /// Index into [`Roster::people`].
    pub person: usize,
}

impl Shift {
    /// Whether the shift covers the local moment `at`: a shift starting on one of its days, or
    /// the part after midnight of one that started the day before.
    fn covers(&self, at: NaiveDateTime) -> bool {
        let (day, time) = (at.weekday(), at.time());
        if self.hours.wraps() {
            (self.days.contains(&day) && time >= self.hours.start)
                || (self.days.contains(&day.pred()) && time < self.hours.end)
        } else {
            self.days.contains(&day) && time >= self.hours.start && time < self.hours.end
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub person: usize,
}

/// A checked roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub unit: Unit,
    pub people: Vec<Person>,
    pub shifts: Vec<Shift>,
    pub overrides: Vec<Override>,
    /// Target name → index into `people`.
    pub roles: BTreeMap<String, usize>,
    pub wecom: Option<String>,
    pub dingtalk: Option<String>,
}

fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    local_offset().from_local_datetime(&local).single().expect("a fixed offset has no gaps").with_timezone(&Utc)
}

fn time(field: String, value: &str) -> Result<NaiveTime, RosterError> {
    match value {
        // "24:00" as the end of the day.
        "24:00" => Ok(NaiveTime::MIN),
        _ if value.len() == 5 => NaiveTime::parse_from_str(value, "%H:%M")
            .map_err(|_| invalid(field, format!("{value:?} is not a local time HH:MM"))),
        _ => Err(invalid(field, format!("{value:?} is not a local time HH:MM"))),
    }
}

fn weekday(field: String, value: &str) -> Result<Weekday, RosterError> {
    match value {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        _ => Err(invalid(field, format!("{value:?} is not one of mon, tue, wed, thu, fri, sat, sun"))),
    }
}

fn local_datetime(field: String, value: &str) -> Result<DateTime<Utc>, RosterError> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .map(to_utc)
        .map_err(|_| invalid(field, format!("{value:?} is not a local date and time YYYY-MM-DDTHH:MM")))
}

fn url(field: String, value: &str) -> Result<String, RosterError> {
    if (value.starts_with("https://") || value.starts_with("http://")) && value.len() <= 2048 {
        Ok(value.to_owned())
    } else {
        Err(invalid(field, "an http:// or https:// webhook URL"))
    }
}

fn optional_text(field: String, value: &Option<String>, max: usize) -> Result<Option<String>, RosterError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(invalid(field, format!("at most {max} characters, no control characters")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

impl Roster {
    /// Checks a wire roster for `unit` (the path's): every time, day and reference.
    pub fn parse(unit: &str, wire: &wire::Roster) -> Result<Roster, RosterError> {
        let unit = Unit::parse(unit)?;
        if let Some(given) = &wire.unit
            && given != unit.as_str()
        {
            return Err(invalid("unit", format!("{given:?} differs from the roster's unit {unit}")));
        }
        if wire.people.is_empty() || wire.people.len() > MAX_PEOPLE {
            return Err(invalid("people", format!("1 to {MAX_PEOPLE} people")));
        }
        if wire.shifts.len() > MAX_SHIFTS {
            return Err(invalid("shifts", format!("at most {MAX_SHIFTS}")));
        }
        if wire.overrides.len() > MAX_OVERRIDES {
            return Err(invalid("overrides", format!("at most {MAX_OVERRIDES}")));
        }
        let mut people = Vec::with_capacity(wire.people.len());
        let mut ids = HashSet::new();
        for (i, p) in wire.people.iter().enumerate() {
            let at = |f: &str| format!("people[{i}].{f}");
            let id = p.id.trim();
            if id.is_empty() || id.len() > 64 || !ids.insert(id.to_owned()) {
                return Err(invalid(at("id"), "1 to 64 characters, unique in the roster"));
            }
            let name = p.name.trim();
            if name.is_empty() || name.chars().count() > 64 {
                return Err(invalid(at("name"), "1 to 64 characters"));
            }
            let email = optional_text(at("email"), &p.email, 254)?;
            if let Some(email) = &email
                && email.parse::<lettre::Address>().is_err()
            {
                return Err(invalid(at("email"), format!("{email:?} is not an email address")));
            }
            let phone = optional_text(at("phone"), &p.phone, 20)?;
            if let Some(phone) = &phone
                && !phone.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid(at("phone"), "digits, optionally after a +"));
            }
            let quiet_hours = match &p.quiet_hours {
                None => None,
                Some(q) => Some(Hours {
                    start: time(at("quiet_hours.start"), &q.start)?,
                    end: time(at("quiet_hours.end"), &q.end)?,
                }),
            };
            people.push(Person {
                id: id.to_owned(),
                name: name.to_owned(),
                phone,
                email,
                wecom_id: optional_text(at("wecom_id"), &p.wecom_id, 64)?,
                quiet_hours,
            });
        }
        let person = |field: String, id: &str| {
            people.iter().position(|p| p.id == id).ok_or_else(|| invalid(field, format!("no person {id:?} in people")))
        };
        let mut shifts = Vec::with_capacity(wire.shifts.len());
        for (i, s) in wire.shifts.iter().enumerate() {
            let at = |f: &str| format!("shifts[{i}].{f}");
            if s.days.is_empty() {
                return Err(invalid(at("days"), "at least one day"));
            }
            let days = s.days.iter().map(|d| weekday(at("days"), d)).collect::<Result<Vec<_>, _>>()?;
            let hours = Hours { start: time(at("start"), &s.start)?, end: time(at("end"), &s.end)? };
            shifts.push(Shift { days, hours, person: person(at("person"), &s.person)? });
        }
        let mut overrides = Vec::with_capacity(wire.overrides.len());
        for (i, o) in wire.overrides.iter().enumerate() {
            let at = |f: &str| format!("overrides[{i}].{f}");
            let (from, until) = (local_datetime(at("from"), &o.from)?, local_datetime(at("until"), &o.until)?);
            if until <= from {
                return Err(invalid(at("until"), "must be after from"));
            }
            overrides.push(Override { from, until, person: person(at("person"), &o.person)? });
        }
        let mut roles = BTreeMap::new();
        for (name, id) in &wire.roles {
            let field = format!("roles.{name}");
            if name == DUTY_OFFICER || name == COMMAND_CENTRE {
                return Err(invalid(
                    field,
                    "the duty officer comes from the rota, the command centre from its own roster",
                ));
            }
            if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(invalid(field, "role names are lower_snake_case, like the SLA policy's targets"));
            }
            roles.insert(name.clone(), person(field, id)?);
        }
        let wecom = wire.robots.wecom.as_deref().map(|u| url("robots.wecom".into(), u)).transpose()?;
        let dingtalk = wire.robots.dingtalk.as_deref().map(|u| url("robots.dingtalk".into(), u)).transpose()?;
        Ok(Roster { unit, people, shifts, overrides, roles, wecom, dingtalk })
    }

    /// The duty officer at `at`: an override covering it (the latest given wins), else the
    /// first shift covering it.
    pub fn on_duty(&self, at: DateTime<Utc>) -> Option<&Person> {
        if let Some(o) = self.overrides.iter().rev().find(|o| o.from <= at && at < o.until) {
            return Some(&self.people[o.person]);
        }
        let local = at.with_timezone(&local_offset()).naive_local();
        self.shifts.iter().find(|s| s.covers(local)).map(|s| &self.people[s.person])
    }

    /// The person an escalation target of this unit names at `at`: the duty officer from the
    /// rota, any other target from the roles. (`command_centre` is another unit's duty officer:
    /// the caller looks up that roster.)
    pub fn resolve(&self, target: &str, at: DateTime<Utc>) -> Option<&Person> {
        if target == DUTY_OFFICER { self.on_duty(at) } else { self.roles.get(target).map(|&i| &self.people[i]) }
    }
}

/// `at` on the Chongqing clock, as messages show it.
pub fn local_string(at: DateTime<Utc>) -> String {
    at.with_timezone(&local_offset()).format("%Y-%m-%d %H:%M").to_string()
}

/// The roster as it goes back over the wire.
pub fn person_view(p: &Person) -> wire::RosterPerson {
    wire::RosterPerson {
        id: p.id.clone(),
        name: p.name.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
        wecom_id: p.wecom_id.clone(),
        quiet_hours: p.quiet_hours.map(|h| wire::QuietHours {
            start: h.start.format("%H:%M").to_string(),
            end: h.end.format("%H:%M").to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample() -> wire::Roster {
        serde_json::from_value(serde_json::json!({
            "people": [
                {"id": "day", "name": "王白班", "email": "day@example.cn", "phone": "13800000001",
                 "quiet_hours": {"start": "22:00", "end": "07:00"}},
                {"id": "night", "name": "李夜班", "email": "night@example.cn"},
                {"id": "head", "name": "张局长", "email": "head@example.cn"},
                {"id": "holiday", "name": "赵值守", "email": "holiday@example.cn"}
            ],
            "shifts": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:30", "end": "17:30", "person": "day"},
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "17:30", "end": "08:30", "person": "night"}
            ],
            "overrides": [{"from": "2026-10-01T00:00", "until": "2026-10-08T00:00", "person": "holiday", "note": "国庆"}],
            "roles": {"department_head": "head"}
        }))
        .unwrap()
    }

    fn roster() -> Roster {
        Roster::parse("500103-EE", &sample()).unwrap()
    }

    fn on_duty(at: &str) -> Option<String> {
        roster().on_duty(t(at)).map(|p| p.id.clone())
    }

    #[test]
    fn the_day_shift_covers_office_hours_in_chongqing_time() {
        // Wednesday 2026-11-25, 10:00 in Chongqing is 02:00 UTC.
        assert_eq!(on_duty("2026-11-25T02:00:00Z").as_deref(), Some("day"));
        assert_eq!(on_duty("2026-11-25T10:00:00+08:00").as_deref(), Some("day"));
        // 08:29 is still the night shift that began on Tuesday evening.
        assert_eq!(on_duty("2026-11-25T08:29:00+08:00").as_deref(), Some("night"));
        assert_eq!(on_duty("2026-11-25T08:30:00+08:00").as_deref(), Some("day"));
        assert_eq!(on_duty("2026-11-25T17:30:00+08:00").as_deref(), Some("night"));
    }

    #[test]
    fn a_night_shift_runs_over_midnight_into_the_next_day() {
        // Friday's night shift covers Saturday morning …
        assert_eq!(on_duty("2026-11-28T03:00:00+08:00").as_deref(), Some("night"));
        // … but nobody is on duty later on Saturday, nor on Sunday night's early hours after it.
        assert_eq!(on_duty("2026-11-28T10:00:00+08:00"), None);
        assert_eq!(on_duty("2026-11-29T03:00:00+08:00"), None);
        // Monday early hours: Sunday has no night shift.
        assert_eq!(on_duty("2026-11-30T03:00:00+08:00"), None);
        // Tuesday early hours: Monday's night shift.
        assert_eq!(on_duty("2026-12-01T03:00:00+08:00").as_deref(), Some("night"));
    }

    #[test]
    fn a_holiday_override_wins_over_the_weekly_shifts() {
        // Thursday 2026-10-01, National Day, office hours.
        assert_eq!(on_duty("2026-10-01T10:00:00+08:00").as_deref(), Some("holiday"));
        assert_eq!(on_duty("2026-10-07T23:59:00+08:00").as_deref(), Some("holiday"));
        // The override ends at local midnight: Thursday 8 October is an ordinary working day.
        assert_eq!(on_duty("2026-10-08T10:00:00+08:00").as_deref(), Some("day"));
        // 2026-09-30 23:59 local is the night shift, not yet the holiday.
        assert_eq!(on_duty("2026-09-30T23:59:00+08:00").as_deref(), Some("night"));
    }

    #[test]
    fn escalation_targets_resolve_to_the_duty_officer_or_a_role() {
        let r = roster();
        let at = t("2026-11-25T10:00:00+08:00");
        assert_eq!(r.resolve(DUTY_OFFICER, at).map(|p| p.id.as_str()), Some("day"));
        assert_eq!(r.resolve("department_head", at).map(|p| p.id.as_str()), Some("head"));
        assert_eq!(r.resolve("deputy_mayor", at), None);
    }

    #[test]
    fn quiet_hours_end_at_their_local_end_time_even_over_midnight() {
        let r = roster();
        let day = &r.people[0];
        assert_eq!(day.quiet_until(t("2026-11-25T23:00:00+08:00")), Some(t("2026-11-26T07:00:00+08:00")));
        assert_eq!(day.quiet_until(t("2026-11-26T06:59:00+08:00")), Some(t("2026-11-26T07:00:00+08:00")));
        assert_eq!(day.quiet_until(t("2026-11-26T07:00:00+08:00")), None);
        assert_eq!(day.quiet_until(t("2026-11-26T12:00:00+08:00")), None);
        assert_eq!(r.people[1].quiet_until(t("2026-11-25T23:00:00+08:00")), None, "no quiet hours set");
    }

    #[test]
    fn a_roster_naming_an_unknown_person_or_a_bad_time_is_refused_with_its_field() {
        let mut w = sample();
        w.shifts[1].person = "nobody".into();
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "shifts[1].person");
        let mut w = sample();
        w.shifts[0].start = "8:30".into();
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "shifts[0].start");
        let mut w = sample();
        w.overrides[0].until = "2026-09-01T00:00".into();
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "overrides[0].until");
        let mut w = sample();
        w.people[1].id = "day".into();
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "people[1].id");
        let mut w = sample();
        w.roles.insert("duty_officer".into(), "head".into());
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "roles.duty_officer");
        let mut w = sample();
        w.unit = Some("500104-EE".into());
        assert_eq!(Roster::parse("500103-EE", &w).unwrap_err().field, "unit");
        assert_eq!(Roster::parse("5001-EE", &sample()).unwrap_err().field, "unit");
    }

    #[test]
    fn units_know_their_district_and_kind() {
        assert_eq!(Unit::parse("500103-EE").unwrap().kind(), UnitKind::Department);
        assert_eq!(Unit::parse("500103-CC").unwrap().kind(), UnitKind::CommandCentre);
        let town = Unit::parse("500103001").unwrap();
        assert_eq!((town.kind(), town.district()), (UnitKind::Town, "500103"));
        assert_eq!(town.command_centre().as_str(), "500103-CC");
    }
}
