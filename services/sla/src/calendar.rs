//! Clocks: wall time, or a business calendar (working hours, weekends, public holidays and the
//! make-up working days that come with them), per district.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How a budget's time is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Every second counts (acknowledge within 10 minutes, at 3 a.m. too).
    Wall,
    /// Only working time counts (resolve within 3 working days).
    Business,
}

/// Days searched for working time before giving up; guards against a calendar with none.
const MAX_DAYS: u64 = 3660;

/// A working calendar in one time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    offset: FixedOffset,
    /// Working intervals of a working day, in local time, sorted, not overlapping.
    hours: Vec<(NaiveTime, NaiveTime)>,
    /// Monday = 0 … Sunday = 6.
    weekdays: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休).
    workdays: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar: {0}")]
pub struct CalendarError(pub String);

impl Calendar {
    pub fn new(
        offset: FixedOffset,
        mut hours: Vec<(NaiveTime, NaiveTime)>,
        weekdays: [bool; 7],
        holidays: BTreeSet<NaiveDate>,
        workdays: BTreeSet<NaiveDate>,
    ) -> Result<Calendar, CalendarError> {
        hours.sort();
        if hours.iter().any(|(a, b)| a >= b) {
            return Err(CalendarError("every working interval must end after it starts".into()));
        }
        if hours.windows(2).any(|w| w[0].1 > w[1].0) {
            return Err(CalendarError("working intervals overlap".into()));
        }
        if hours.is_empty() || !weekdays.iter().any(|d| *d) && workdays.is_empty() {
            return Err(CalendarError("a calendar needs working hours and working days".into()));
        }
        if let Some(d) = holidays.intersection(&workdays).next() {
            return Err(CalendarError(format!("{d} is both a holiday and a working day")));
        }
        Ok(Calendar { offset, hours, weekdays, holidays, workdays })
    }

    /// The calendar's time zone.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        self.weekdays[day.weekday().num_days_from_monday() as usize]
    }

    /// The same local time `n` working days after `start`'s day.
    pub fn add_working_days(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local = start.with_timezone(&self.offset);
        let mut day = local.date_naive();
        let mut counted = 0;
        for _ in 0..MAX_DAYS {
            day = day.succ_opt().unwrap_or(day);
            if self.is_working_day(day) {
                counted += 1;
                if counted >= n {
                    break;
                }
            }
        }
        self.offset.from_local_datetime(&day.and_time(local.time())).earliest().map_or(start, |t| t.with_timezone(&Utc))
    }

    fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.offset).date_naive()
    }

    /// The working intervals of `day`, in UTC.
    fn intervals(&self, day: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let working = self.is_working_day(day);
        self.hours.iter().filter(move |_| working).filter_map(move |(a, b)| {
            let a = self.offset.from_local_datetime(&day.and_time(*a)).single()?;
            let b = self.offset.from_local_datetime(&day.and_time(*b)).single()?;
            Some((a.with_timezone(&Utc), b.with_timezone(&Utc)))
        })
    }

    /// The instant when `budget` of working time has passed since `start`.
    pub fn add(&self, start: DateTime<Utc>, budget: Duration) -> DateTime<Utc> {
        if budget <= Duration::zero() {
            return start;
        }
        let mut remaining = budget;
        let mut day = self.local_day(start);
        for _ in 0..MAX_DAYS {
            for (a, b) in self.intervals(day) {
                let from = a.max(start);
                if from >= b {
                    continue;
                }
                let available = b - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
            }
            day = day + Days::new(1);
        }
        start + budget
    }

    /// Working time between `a` and `b` (zero when `b <= a`).
    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        let (mut day, last) = (self.local_day(a), self.local_day(b));
        while day <= last {
            for (x, y) in self.intervals(day) {
                let (from, to) = (x.max(a), y.min(b));
                if from < to {
                    total += to - from;
                }
            }
            day = day + Days::new(1);
        }
        total
    }
}

/// A clock of one kind over a calendar.
#[derive(Debug, Clone, Copy)]
pub struct Clock<'c> {
    pub kind: ClockKind,
    pub calendar: &'c Calendar,
}

impl Clock<'_> {
    pub fn add(&self, start: DateTime<Utc>, budget: Duration) -> DateTime<Utc> {
        match self.kind {
            ClockKind::Wall => start + budget.max(Duration::zero()),
            ClockKind::Business => self.calendar.add(start, budget),
        }
    }

    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        match self.kind {
            ClockKind::Wall => (b - a).max(Duration::zero()),
            ClockKind::Business => self.calendar.between(a, b),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("valid date")
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc)
    }

    /// Chongqing: 09:00-12:00 and 13:30-17:30, Monday to Friday, UTC+8. 2026-10-01..07 is the
    /// National Day holiday and Saturday 2026-10-10 a make-up working day (illustrative).
    pub(crate) fn chongqing() -> Calendar {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        Calendar::new(
            FixedOffset::east_opt(8 * 3600).expect("valid offset"),
            vec![(hm(9, 0), hm(12, 0)), (hm(13, 30), hm(17, 30))],
            [true, true, true, true, true, false, false],
            (1..=7).map(|d| date(&format!("2026-10-0{d}"))).collect(),
            [date("2026-10-10")].into(),
        )
        .expect("valid calendar")
    }

    #[test]
    fn business_time_skips_lunch_and_the_night() {
        let c = chongqing();
        // Thursday 2026-11-26 11:00 local + 2 h: 1 h until 12:00, lunch, then 1 h from 13:30.
        assert_eq!(c.add(t("2026-11-26T11:00:00+08:00"), Duration::hours(2)), t("2026-11-26T14:30:00+08:00"));
        // 17:00 + 1 h: half an hour today, the rest tomorrow morning.
        assert_eq!(c.add(t("2026-11-26T17:00:00+08:00"), Duration::hours(1)), t("2026-11-27T09:30:00+08:00"));
        // A start at night counts from the next opening.
        assert_eq!(c.add(t("2026-11-26T22:00:00+08:00"), Duration::minutes(10)), t("2026-11-27T09:10:00+08:00"));
    }

    #[test]
    fn business_time_crosses_a_weekend() {
        let c = chongqing();
        // Friday 2026-11-27 16:30 + 3 h: 1 h Friday, Saturday and Sunday off, 2 h Monday.
        assert_eq!(c.add(t("2026-11-27T16:30:00+08:00"), Duration::hours(3)), t("2026-11-30T11:00:00+08:00"));
        assert_eq!(c.between(t("2026-11-27T16:30:00+08:00"), t("2026-11-30T11:00:00+08:00")), Duration::hours(3));
    }

    #[test]
    fn business_time_crosses_a_holiday_and_counts_the_make_up_day() {
        let c = chongqing();
        // Wednesday 2026-09-30 17:00 + 1 h: half an hour on 30 Sep, 1-7 Oct are holidays,
        // 8 Oct (Thursday) continues at 09:00.
        assert_eq!(c.add(t("2026-09-30T17:00:00+08:00"), Duration::hours(1)), t("2026-10-08T09:30:00+08:00"));
        // Saturday 10 Oct is a make-up working day.
        assert!(c.is_working_day(date("2026-10-10")));
        assert_eq!(c.add(t("2026-10-09T17:30:00+08:00"), Duration::minutes(30)), t("2026-10-10T09:30:00+08:00"));
        // Three working days (7 h each) from Tuesday morning, over the holiday.
        let three_days = Duration::hours(21);
        assert_eq!(c.add(t("2026-09-29T09:00:00+08:00"), three_days), t("2026-10-08T17:30:00+08:00"));
    }

    #[test]
    fn wall_time_counts_everything() {
        let c = chongqing();
        let wall = Clock { kind: ClockKind::Wall, calendar: &c };
        assert_eq!(wall.add(t("2026-11-28T03:00:00+08:00"), Duration::minutes(10)), t("2026-11-28T03:10:00+08:00"));
        assert_eq!(wall.between(t("2026-11-28T03:00:00+08:00"), t("2026-11-28T03:10:00+08:00")), Duration::minutes(10));
    }

    #[test]
    fn contradictory_calendars_are_refused() {
        let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("valid");
        let offset = FixedOffset::east_opt(0).expect("valid");
        let week = [true; 7];
        assert!(Calendar::new(offset, vec![(hm(10), hm(9))], week, BTreeSet::new(), BTreeSet::new()).is_err());
        assert!(
            Calendar::new(offset, vec![(hm(9), hm(12)), (hm(11), hm(13))], week, BTreeSet::new(), BTreeSet::new())
                .is_err()
        );
        let d = date("2026-01-01");
        assert!(Calendar::new(offset, vec![(hm(9), hm(12))], week, [d].into(), [d].into()).is_err());
    }
}
