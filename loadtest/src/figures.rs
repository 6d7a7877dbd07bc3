//! `loadtest figures`: one stream of problems, run through the pre-reform path and through
//! Whistle, and the outcome figures of both computed from their event logs by the same
//! [`whistle_case::figures::compute`].
//!
//! Every event of both paths is made by [`whistle_case::decide`], so each is one the case rules
//! accept. The result is a consequence of the model below and of its parameters ([`Params`],
//! printed with every run; the timings are illustrative, not measurements).
//!
//! - Pre-reform: the town reports up (`whistle.raised`, then `whistle.dispatched` to the district
//!   command centre's triage: a hand-off), the command centre assigns a department
//!   (`whistle.transferred`: another hand-off); each competent department acknowledges, arrives,
//!   inspects (one inspection each, unaware of the others) and decides its penalty separately,
//!   the first handing the case to the second (a hand-off). Towns could only advise, so the items
//!   they hold today went up the same way. A problem not fixed the first time is reported up
//!   again as a new case, whose inspection is a plain one (the old path has no re-check mark).
//! - Whistle: an item the town holds is a town case (register → [persuade] → investigate →
//!   [notify] → decide → serve → close); the rest is whistled to the responsible department
//!   directly (`whistle.dispatched`), a multi-department problem as a joint case (one joint
//!   inspection, each department's own penalty); a follow-up of an earlier order is a re-check;
//!   a problem not fixed is reopened by the town and re-checked; the town confirms with a rating.

use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use whistle_assist::figures::read_log;
use whistle_case::figures::{Figures, change_percent, compute};
use whistle_case::{Case, Command, Ctx, decide, evolve, limits::Limits};
use whistle_schemas::events::{
    Actor, ActorKind, Authority, CaseEvent, CaseParty, Commented, Confirmed, Deadlines, Decided, DecisionOutcome,
    DepartmentRef, Dispatched, EnforcementSubject, Inspected, Investigated, Notified, Penalised, Persuaded,
    PersuasionOutcome, Raised, Registered, Reopened, SlaScheduled, Transferred,
};
use whistle_schemas::registry::SubjectKind;
use whistle_schemas::{Location, Names};

use crate::FiguresArgs;

const SOURCE: &str = "/whistle/loadtest-figures";
const DISTRICT: &str = "500103";
const COMMAND_CENTRE: &str = "500103-CC";
/// Before the reform, the items towns hold today were the urban management bureau's.
const OLD_TOWN_ITEMS_DEPARTMENT: &str = "500103-UM";
const DEPARTMENTS: [&str; 5] = ["500103-EE", "500103-MS", "500103-FR", "500103-AG", "500103-HC"];

/// The model's parameters. Shares describe the stream of problems; the timings (hours, each
/// drawn uniformly from half to one and a half times the value) are illustrative assumptions,
/// not measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Problems on an item the town holds since the reform (107 items were empowered).
    pub town_share: f64,
    /// Problems that need two departments.
    pub joint_share: f64,
    /// Problems on a subject that already had one within the repeat window.
    pub repeat_subject_share: f64,
    /// Of the repeats on a department's subject, those that follow up its earlier order (a re-check).
    pub followup_share: f64,
    /// Whistled problems not fixed the first time (reopened / reported again).
    pub unfixed_share: f64,
    /// Town cases that try persuasion first (refused: the procedure goes on).
    pub persuade_share: f64,
    /// Problems that end in a penalty (the rest: no penalty).
    pub penalty_share: f64,
    /// Days the problems arrive over, and the repeat window (the inspection fence's).
    pub span_days: i64,
    pub window_days: i64,
    /// Pre-reform waits, hours: the town's report reaches the command centre; it assigns a
    /// department; one department hands the case to the next.
    pub old_report_up_h: f64,
    pub old_assign_h: f64,
    pub old_between_departments_h: f64,
    /// Whistle's dispatch (the router), hours.
    pub dispatch_h: f64,
    /// A department acknowledges, then arrives (both paths), hours.
    pub acknowledge_h: f64,
    pub arrive_h: f64,
    /// From the inspection to the penalty decision (both paths), hours.
    pub decide_h: f64,
    /// From a department's last step to resolving, hours.
    pub resolve_h: f64,
    /// Town cases: registration to investigation; notice to decision (the party's time to state
    /// a defence); decision to service; service to close (hours).
    pub town_investigate_h: f64,
    pub town_notice_h: f64,
    pub town_serve_h: f64,
    pub town_close_h: f64,
    /// Days until an unfixed problem is reported again or reopened.
    pub recurrence_days: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            town_share: 0.5,
            joint_share: 0.2,
            repeat_subject_share: 0.3,
            followup_share: 0.5,
            unfixed_share: 0.1,
            persuade_share: 0.4,
            penalty_share: 0.6,
            span_days: 90,
            window_days: 30,
            old_report_up_h: 24.0,
            old_assign_h: 24.0,
            old_between_departments_h: 72.0,
            dispatch_h: 0.05,
            acknowledge_h: 4.0,
            arrive_h: 24.0,
            decide_h: 120.0,
            resolve_h: 4.0,
            town_investigate_h: 8.0,
            town_notice_h: 72.0,
            town_serve_h: 24.0,
            town_close_h: 4.0,
            recurrence_days: 7.0,
        }
    }
}

impl Params {
    /// The parameters as printed with a run.
    pub fn describe(&self) -> String {
        format!(
            "stream: town-held {:.0}%, two departments {:.0}%, repeat subjects {:.0}% (of which follow-ups {:.0}%), \
             unfixed {:.0}%, persuasion first {:.0}%, penalty {:.0}%; over {} days, repeat window {} days\n\
             timings (illustrative, hours, each drawn from 0.5x-1.5x): pre-reform report up {}, assign {}, \
             between departments {}; Whistle dispatch {}; both: acknowledge {}, arrive {}, decide {}, resolve {}; \
             town case: investigate {}, notice {}, serve {}, close {}; recurrence {} days",
            100.0 * self.town_share,
            100.0 * self.joint_share,
            100.0 * self.repeat_subject_share,
            100.0 * self.followup_share,
            100.0 * self.unfixed_share,
            100.0 * self.persuade_share,
            100.0 * self.penalty_share,
            self.span_days,
            self.window_days,
            self.old_report_up_h,
            self.old_assign_h,
            self.old_between_departments_h,
            self.dispatch_h,
            self.acknowledge_h,
            self.arrive_h,
            self.decide_h,
            self.resolve_h,
            self.town_investigate_h,
            self.town_notice_h,
            self.town_serve_h,
            self.town_close_h,
            self.recurrence_days,
        )
    }
}

/// A small deterministic generator (SplitMix64), so a seed gives the same run on every build.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `hours` drawn from 0.5x to 1.5x, as a duration.
    fn wait(&mut self, hours: f64) -> Duration {
        Duration::milliseconds((hours * (0.5 + self.unit()) * 3_600_000.0) as i64)
    }
}

/// Who holds the problem's item.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    Town,
    Department(&'static str),
    /// Two departments: the lead and the other.
    Joint(&'static str, &'static str),
}

/// One problem of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub at: DateTime<Utc>,
    pub town: String,
    pub holder: Holder,
    /// `ucc:<code>` for a unit, `addr:<address>` for a person.
    pub subject: String,
    pub unit: bool,
    /// A follow-up of an earlier order on the same subject (a re-check, no new offence).
    pub followup: bool,
    pub unfixed: bool,
    pub persuade: bool,
    pub penalty: bool,
    pub rating: u8,
}

/// The stream of problems for a seed.
pub fn problems(seed: u64, n: usize, p: &Params) -> Vec<Problem> {
    let mut rng = Rng::new(seed);
    let base: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().expect("a valid time");
    let mut starts: Vec<DateTime<Utc>> =
        (0..n).map(|_| base + Duration::seconds((rng.unit() * p.span_days as f64 * 86_400.0) as i64)).collect();
    starts.sort();
    let mut out: Vec<Problem> = Vec::with_capacity(n);
    for (i, at) in starts.into_iter().enumerate() {
        let town = format!("500103{:03}", 1 + rng.below(12));
        let recent: Vec<&Problem> =
            out.iter().filter(|q| at - q.at <= Duration::days(p.window_days) && q.town == town).collect();
        let earlier =
            (!recent.is_empty() && rng.chance(p.repeat_subject_share)).then(|| recent[rng.below(recent.len())]);
        let followup = earlier.is_some_and(|e| e.holder != Holder::Town && !e.followup) && rng.chance(p.followup_share);
        let holder = match earlier {
            Some(e) if followup => e.holder.clone(),
            _ if rng.chance(p.town_share) => Holder::Town,
            _ if rng.chance(p.joint_share / (1.0 - p.town_share).max(1e-9)) => {
                let a = rng.below(DEPARTMENTS.len());
                let b = (a + 1 + rng.below(DEPARTMENTS.len() - 1)) % DEPARTMENTS.len();
                Holder::Joint(DEPARTMENTS[a], DEPARTMENTS[b])
            }
            _ => Holder::Department(DEPARTMENTS[rng.below(DEPARTMENTS.len())]),
        };
        let (subject, unit) = match earlier {
            Some(e) => (e.subject.clone(), e.unit),
            None if rng.chance(0.6) => (format!("ucc:9150010{i:011}"), true),
            None => (format!("addr:{town}-{i}"), false),
        };
        let whistled = holder != Holder::Town;
        out.push(Problem {
            at,
            town,
            holder,
            subject,
            unit,
            followup,
            unfixed: whistled && !followup && rng.chance(p.unfixed_share),
            persuade: rng.chance(p.persuade_share),
            penalty: !followup && rng.chance(p.penalty_share),
            rating: 3 + rng.below(3) as u8,
        });
    }
    out
}

/// The cases one problem became in each path (the tests look at each problem's cases).
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct Run {
    pub problem: Problem,
    pub old_cases: Vec<Uuid>,
    pub new_case: Uuid,
}

/// Both event logs of one stream.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub runs: Vec<Run>,
    pub old: Vec<CaseEvent>,
    pub new: Vec<CaseEvent>,
}

/// Makes a path's events through the case rules: ids are deterministic per seed and path.
struct Log {
    events: Vec<CaseEvent>,
    namespace: u128,
    next: u128,
}

impl Log {
    fn id(&mut self) -> Uuid {
        self.next += 1;
        Uuid::from_u128(self.namespace | self.next)
    }

    fn case(&mut self) -> Open<'_> {
        let id = self.id();
        Open { log: self, id, case: None }
    }
}

/// One case being written.
struct Open<'a> {
    log: &'a mut Log,
    id: Uuid,
    case: Option<Case>,
}

impl Open<'_> {
    fn apply(&mut self, now: DateTime<Utc>, command: Command) -> anyhow::Result<()> {
        let ctx = Ctx { event_id: self.log.id(), subject: self.id, now, source: SOURCE, limits: Limits::default() };
        let events =
            decide(self.case.as_ref(), command, &ctx).map_err(|r| anyhow::anyhow!("the rules refused a step: {r}"))?;
        for event in events {
            self.case = Some(evolve(self.case.take(), &event).map_err(|r| anyhow::anyhow!("{r}"))?);
            self.log.events.push(event);
        }
        Ok(())
    }
}

fn department(code: &str) -> DepartmentRef {
    DepartmentRef { code: code.to_owned(), names: Names { zh: code.to_owned(), en: code.to_owned() } }
}

fn dept(code: &str) -> Actor {
    Actor::new(ActorKind::Department, code)
}

fn location(p: &Problem) -> Location {
    Location { lat: 29.55, lon: 106.55, address: format!("{} {}", p.town, p.subject) }
}

fn item(p: &Problem) -> &'static str {
    match p.holder {
        Holder::Town => "CQ-TOWN-FIRE-001",
        Holder::Department(_) => "CQ-DEPT-001",
        Holder::Joint(..) => "CQ-JOINT-001",
    }
}

fn raise(p: &Problem) -> Command {
    Command::Raise(Raised {
        town: p.town.clone(),
        district: DISTRICT.into(),
        item: item(p).into(),
        description: "simulated problem".into(),
        location: location(p),
        photos: Vec::new(),
        attachments: Vec::new(),
        raised_by: Actor::new(ActorKind::Town, p.town.clone()),
        support: false,
        assist: Vec::new(),
        hotline: None,
    })
}

fn subject(p: &Problem) -> EnforcementSubject {
    EnforcementSubject { id: p.subject.clone(), credit_code: None, address: None }
}

fn inspect(p: &Problem, by: &str, recheck: bool) -> Command {
    Command::Inspect(Inspected { actor: dept(by), subject: subject(p), persuaded: false, recheck, note: None })
}

fn penalise(p: &Problem, by: &str) -> Command {
    Command::Penalise(Penalised {
        actor: dept(by),
        subject: subject(p),
        item: item(p).into(),
        amount_yuan: 1000,
        tier: "first_offence".into(),
        range_min_yuan: 500,
        range_max_yuan: 2000,
        override_reason: None,
    })
}

/// One department's visit on a case it owns: acknowledge, arrive, inspect (or re-check). Gives
/// the time of the inspection.
fn department_visit(
    case: &mut Open<'_>,
    rng: &mut Rng,
    par: &Params,
    p: &Problem,
    (by, mut t): (&str, DateTime<Utc>),
    recheck: bool,
) -> anyhow::Result<DateTime<Utc>> {
    t += rng.wait(par.acknowledge_h);
    case.apply(t, Command::Acknowledge { actor: dept(by) })?;
    t += rng.wait(par.arrive_h);
    case.apply(t, Command::Arrive { actor: dept(by) })?;
    case.apply(t, inspect(p, by, recheck))?;
    Ok(t)
}

fn old_path(log: &mut Log, rng: &mut Rng, par: &Params, p: &Problem) -> anyhow::Result<Vec<Uuid>> {
    let departments: Vec<&'static str> = match p.holder {
        Holder::Town => vec![OLD_TOWN_ITEMS_DEPARTMENT],
        Holder::Department(d) => vec![d],
        Holder::Joint(a, b) => vec![a, b],
    };
    let mut ids = Vec::new();
    let mut t = p.at;
    // The first report, and (unfixed) the report again.
    for report in 0..(1 + usize::from(p.unfixed)) {
        let mut case = log.case();
        ids.push(case.id);
        case.apply(t, raise(p))?;
        t += rng.wait(par.old_report_up_h);
        case.apply(
            t,
            Command::Dispatch(Dispatched {
                department: department(COMMAND_CENTRE),
                district: DISTRICT.into(),
                item: item(p).into(),
                authority: None,
                triage: true,
                basis: "reported up to the district command centre".into(),
                registry_version: None,
                assisting: Vec::new(),
            }),
        )?;
        t += rng.wait(par.old_assign_h);
        case.apply(
            t,
            Command::Transfer(Transferred {
                actor: dept(COMMAND_CENTRE),
                to: department(departments[0]),
                reason: "assigned by the command centre".into(),
                triage: false,
            }),
        )?;
        let penalty = p.penalty && report == 0;
        for (k, d) in departments.iter().enumerate() {
            if k > 0 {
                t += rng.wait(par.old_between_departments_h);
                case.apply(
                    t,
                    Command::Transfer(Transferred {
                        actor: dept(departments[k - 1]),
                        to: department(d),
                        reason: "the rest is for the next department".into(),
                        triage: false,
                    }),
                )?;
            }
            t = department_visit(&mut case, rng, par, p, (d, t), false)?;
            // Each department decides its own penalty, separately.
            if penalty {
                t += rng.wait(par.decide_h);
                case.apply(t, penalise(p, d))?;
            }
        }
        let last = departments[departments.len() - 1];
        t += rng.wait(par.resolve_h);
        case.apply(t, Command::Resolve { actor: dept(last), note: None })?;
        t += Duration::milliseconds((par.recurrence_days * 86_400_000.0) as i64);
    }
    Ok(ids)
}

fn new_path(log: &mut Log, rng: &mut Rng, par: &Params, p: &Problem) -> anyhow::Result<Uuid> {
    let town = Actor::new(ActorKind::Town, p.town.clone());
    let mut case = log.case();
    let id = case.id;
    let mut t = p.at;
    let (lead, other) = match p.holder {
        Holder::Town => return town_case(case, rng, par, p, town).map(|()| id),
        Holder::Department(d) => (d, None),
        Holder::Joint(a, b) => (a, Some(b)),
    };
    case.apply(t, raise(p))?;
    t += rng.wait(par.dispatch_h);
    case.apply(
        t,
        Command::Dispatch(Dispatched {
            department: department(lead),
            district: DISTRICT.into(),
            item: item(p).into(),
            authority: Some(Authority::Department),
            triage: false,
            basis: "the registry names the holder".into(),
            registry_version: Some(0),
            assisting: other.into_iter().map(department).collect(),
        }),
    )?;
    // SLA bookkeeping is on the log and is no procedure.
    case.apply(
        t,
        Command::ScheduleSla(SlaScheduled {
            deadlines: Deadlines { resolve: Some(t + Duration::days(7)), ..Deadlines::default() },
            policy: "default".into(),
        }),
    )?;
    t = department_visit(&mut case, rng, par, p, (lead, t), p.followup)?;
    if let Some(b) = other {
        // The joint inspection: the assisting department is there at the same visit.
        case.apply(t + Duration::minutes(10), inspect(p, b, p.followup))?;
    }
    if p.penalty {
        t += rng.wait(par.decide_h);
        case.apply(t, penalise(p, lead))?;
        if let Some(b) = other {
            case.apply(t, penalise(p, b))?;
        }
    }
    t += rng.wait(par.resolve_h);
    case.apply(t, Command::Resolve { actor: dept(lead), note: None })?;
    if p.unfixed {
        t += Duration::milliseconds((par.recurrence_days * 86_400_000.0) as i64);
        case.apply(
            t,
            Command::Reopen(Reopened {
                actor: town.clone(),
                reason: "the problem is still there".into(),
                department: department(lead),
                district: DISTRICT.into(),
                item: item(p).into(),
            }),
        )?;
        case.apply(t, Command::Comment(Commented { actor: town.clone(), text: "please look again".into() }))?;
        t = department_visit(&mut case, rng, par, p, (lead, t), true)?;
        t += rng.wait(par.resolve_h);
        case.apply(t, Command::Resolve { actor: dept(lead), note: None })?;
    }
    t += rng.wait(par.resolve_h);
    case.apply(t, Command::Confirm(Confirmed { actor: town, rating: p.rating, comment: None, deemed: false }))?;
    Ok(id)
}

fn town_case(mut case: Open<'_>, rng: &mut Rng, par: &Params, p: &Problem, town: Actor) -> anyhow::Result<()> {
    let mut t = p.at;
    let kind = if p.unit { SubjectKind::Unit } else { SubjectKind::Individual };
    case.apply(
        t,
        Command::Register(Registered {
            town: p.town.clone(),
            district: DISTRICT.into(),
            item: item(p).into(),
            description: "simulated problem".into(),
            location: location(p),
            party: CaseParty { kind, name: p.subject.clone(), credit_code: None },
            subject: subject(p),
            attachments: Vec::new(),
            registered_by: town.clone(),
            from_whistle: None,
            department: None,
        }),
    )?;
    if p.persuade {
        case.apply(
            t,
            Command::Persuade(Persuaded { actor: town.clone(), outcome: PersuasionOutcome::Refused, note: None }),
        )?;
    }
    t += rng.wait(par.town_investigate_h);
    let officers = vec![format!("{}-01", p.town), format!("{}-02", p.town)];
    case.apply(
        t,
        Command::Investigate(Investigated {
            actor: town.clone(),
            officers,
            evidence: "photos".into(),
            attachments: Vec::new(),
        }),
    )?;
    if p.penalty {
        case.apply(t, Command::Notify(Notified { actor: town.clone(), intended: "a fine".into() }))?;
        t += rng.wait(par.town_notice_h);
    }
    let outcome = if p.penalty { DecisionOutcome::Warning } else { DecisionOutcome::NoPenalty };
    case.apply(
        t,
        Command::Decide(Decided {
            actor: town.clone(),
            outcome,
            fine_yuan: None,
            statutory: None,
            benchmark: None,
            override_reason: None,
        }),
    )?;
    t += rng.wait(par.town_serve_h);
    case.apply(t, Command::Serve { actor: town.clone() })?;
    t += rng.wait(par.town_close_h);
    case.apply(t, Command::Close { actor: town, note: None })?;
    Ok(())
}

/// Runs the stream of `seed` through both paths.
pub fn simulate(seed: u64, n: usize, par: &Params) -> anyhow::Result<Simulation> {
    let stream = problems(seed, n, par);
    // Each path has its own draws, so a change to one path's model leaves the other's as it was.
    let (mut old_rng, mut new_rng) = (Rng::new(seed ^ 0x01D), Rng::new(seed ^ 0x0E11));
    let mut old = Log { events: Vec::new(), namespace: 1 << 120, next: u128::from(seed) << 64 };
    let mut new = Log { events: Vec::new(), namespace: 2 << 120, next: u128::from(seed) << 64 };
    let mut runs = Vec::with_capacity(stream.len());
    for p in stream {
        let old_cases = old_path(&mut old, &mut old_rng, par, &p)?;
        let new_case = new_path(&mut new, &mut new_rng, par, &p)?;
        runs.push(Run { problem: p, old_cases, new_case });
    }
    old.events.sort_by_key(|e| (e.time, e.id));
    new.events.sort_by_key(|e| (e.time, e.id));
    Ok(Simulation { runs, old: old.events, new: new.events })
}

/// Writes a log to a fresh topic and reads it back.
async fn round_trip(brokers: &str, topic: &str, events: &[CaseEvent]) -> anyhow::Result<Vec<CaseEvent>> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let settings = crate::baseline::kafka_settings(brokers, 3);
    let spec = whistle_common::kafka::TopicSpec {
        name: topic.to_owned(),
        partitions: 3,
        retention_ms: 24 * 3_600_000,
        compacted: false,
    };
    crate::baseline::create_topic(&settings, spec).await?;
    let producer: FutureProducer = whistle_common::kafka::producer(&settings, "loadtest-figures")?;
    for chunk in events.chunks(500) {
        let sends = chunk.iter().map(|e| {
            let payload = serde_json::to_vec(e).expect("an event serializes");
            let key = e.subject.to_string();
            let producer = producer.clone();
            async move {
                producer
                    .send(FutureRecord::to(topic).key(&key).payload(&payload), StdDuration::from_secs(30))
                    .await
                    .map_err(|(err, _)| anyhow::anyhow!("writing to {topic}: {err}"))
            }
        });
        futures::future::try_join_all(sends).await?;
    }
    let (topic, settings) = (topic.to_owned(), settings.clone());
    let (read, skipped) =
        tokio::task::spawn_blocking(move || read_log(&settings, &topic, StdDuration::from_secs(10))).await??;
    anyhow::ensure!(skipped == 0, "{skipped} payloads on the topic were not case events");
    Ok(read)
}

/// The figures of both paths, and what they mean per problem.
pub struct Comparison {
    pub problems: usize,
    pub old: Figures,
    pub new: Figures,
}

impl Comparison {
    pub fn of(sim: &Simulation, par: &Params) -> Comparison {
        let window = Duration::days(par.window_days);
        Comparison {
            problems: sim.runs.len(),
            old: compute(&sim.old, window, None, None),
            new: compute(&sim.new, window, None, None),
        }
    }

    /// The side-by-side table.
    pub fn table(&self) -> String {
        let n = self.problems.max(1) as f64;
        let hours = |s: Option<f64>| s.unwrap_or(0.0) / 3600.0;
        let (o, w) = (&self.old, &self.new);
        let rows: Vec<(&str, f64, f64, usize)> = vec![
            ("procedures per problem", o.procedures as f64 / n, w.procedures as f64 / n, 2),
            ("procedures per case", o.procedures_per_case, w.procedures_per_case, 2),
            ("hand-offs per problem", o.handoffs as f64 / n, w.handoffs as f64 / n, 2),
            ("handling time, mean (h)", hours(o.handling_mean_seconds), hours(w.handling_mean_seconds), 1),
            ("handling time, median (h)", hours(o.handling_median_seconds), hours(w.handling_median_seconds), 1),
            ("handling time, p90 (h)", hours(o.handling_p90_seconds), hours(w.handling_p90_seconds), 1),
            ("inspections", o.inspections as f64, w.inspections as f64, 0),
            ("repeated inspections", o.repeated_inspections as f64, w.repeated_inspections as f64, 0),
            ("repeated inspection rate (%)", 100.0 * o.repeated_inspection_rate, 100.0 * w.repeated_inspection_rate, 1),
            ("re-checks (not inspections)", o.rechecks as f64, w.rechecks as f64, 0),
            ("penalties", o.penalties as f64, w.penalties as f64, 0),
            ("complaints (reopens)", o.reopens as f64, w.reopens as f64, 0),
        ];
        let mut out = format!("{:<30} {:>12} {:>12} {:>9}\n", "", "pre-reform", "Whistle", "change");
        out.push_str(&format!("{:<30} {:>12} {:>12}\n", "cases", o.cases, w.cases));
        for (name, before, after, digits) in rows {
            let change = change_percent(before, after).map_or("n/a".to_owned(), |c| format!("{c:+.1}%"));
            out.push_str(&format!("{name:<30} {before:>12.digits$} {after:>12.digits$} {change:>9}\n"));
        }
        let rating = |f: &Figures| f.rating_mean.map_or("n/a".to_owned(), |r| format!("{r:.2}"));
        out.push_str(&format!(
            "{:<30} {:>12} {:>12}\n",
            "confirmations (mean rating)",
            format!("{} ({})", o.confirmations, rating(o)),
            format!("{} ({})", w.confirmations, rating(w))
        ));
        out
    }
}

pub async fn run(args: &FiguresArgs) -> anyhow::Result<()> {
    let par = Params { window_days: args.window_days, ..Params::default() };
    let sim = simulate(args.seed, args.problems as usize, &par)?;
    let cmp = Comparison::of(&sim, &par);
    let (town, joint, followups, repeats) = sim.runs.iter().fold((0, 0, 0, 0), |(t, j, f, r), run| {
        let p = &run.problem;
        let repeat = sim.runs.iter().take_while(|q| q.problem.at < p.at).any(|q| q.problem.subject == p.subject);
        (
            t + usize::from(p.holder == Holder::Town),
            j + usize::from(matches!(p.holder, Holder::Joint(..))),
            f + usize::from(p.followup),
            r + usize::from(repeat),
        )
    });
    println!(
        "loadtest figures: seed {}, {} problems ({town} on items the town holds, {joint} needing two departments, \
         {repeats} on a subject seen before, {followups} follow-ups of an earlier order)",
        args.seed, args.problems
    );
    println!("{}", par.describe());
    println!(
        "A consequence of this model and its parameters, not a measurement: see docs/figures.md.\n\
         pre-reform log {} events, Whistle log {} events, every one decided by whistle_case::decide.\n",
        sim.old.len(),
        sim.new.len()
    );
    print!("{}", cmp.table());
    if let Some(brokers) = &args.brokers {
        let prefix = args
            .topic
            .clone()
            .unwrap_or_else(|| format!("loadtest-figures-{}", &Uuid::new_v4().simple().to_string()[..10]));
        let window = Duration::days(par.window_days);
        for (path, events, figures) in [("pre-reform", &sim.old, &cmp.old), ("whistle", &sim.new, &cmp.new)] {
            let topic = format!("{prefix}.{path}");
            let read = round_trip(brokers, &topic, events).await.with_context(|| format!("topic {topic}"))?;
            let again = compute(&read, window, None, None);
            anyhow::ensure!(&again == figures, "the figures read back from {topic} differ: {again:?}");
            println!("{topic}: wrote and read back {} events; the same figures", read.len());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use whistle_case::figures::Procedure;

    use super::*;

    fn of_cases<'a>(events: &'a [CaseEvent], cases: &[Uuid]) -> Vec<&'a CaseEvent> {
        let cases: HashSet<&Uuid> = cases.iter().collect();
        events.iter().filter(|e| cases.contains(&e.subject)).collect()
    }

    fn handoffs(events: &[&CaseEvent]) -> usize {
        events.iter().filter(|e| whistle_case::figures::procedure(&e.body) == Procedure::HandOff).count()
    }

    /// Parameter sets far from the defaults: the properties must hold for each.
    fn variants() -> Vec<Params> {
        vec![
            Params::default(),
            Params { joint_share: 0.5, repeat_subject_share: 0.9, unfixed_share: 0.5, ..Params::default() },
            Params {
                town_share: 0.1,
                followup_share: 1.0,
                old_report_up_h: 1.0,
                old_assign_h: 1.0,
                old_between_departments_h: 1.0,
                dispatch_h: 10.0,
                span_days: 10,
                ..Params::default()
            },
            Params { town_share: 0.9, persuade_share: 1.0, penalty_share: 1.0, ..Params::default() },
        ]
    }

    #[test]
    fn a_seed_gives_the_same_logs_and_another_seed_others() {
        let par = Params::default();
        let a = simulate(7, 200, &par).expect("runs");
        let b = simulate(7, 200, &par).expect("runs");
        assert_eq!((&a.old, &a.new), (&b.old, &b.new));
        let c = simulate(8, 200, &par).expect("runs");
        assert_ne!(a.new, c.new);
    }

    #[test]
    fn every_event_of_both_logs_is_one_the_case_rules_accept() {
        let sim = simulate(11, 300, &Params::default()).expect("runs");
        for log in [&sim.old, &sim.new] {
            let mut cases: HashMap<Uuid, Case> = HashMap::new();
            for e in log {
                let case = evolve(cases.remove(&e.subject), e).unwrap_or_else(|r| panic!("{r}: {e:?}"));
                cases.insert(e.subject, case);
            }
        }
    }

    #[test]
    fn whistle_never_hands_a_problem_off_more_often_than_the_old_path() {
        for (k, par) in variants().iter().enumerate() {
            let sim = simulate(42 + k as u64, 400, par).expect("runs");
            for run in &sim.runs {
                let new = handoffs(&of_cases(&sim.new, &[run.new_case]));
                let old = handoffs(&of_cases(&sim.old, &run.old_cases));
                assert!(new <= old, "variant {k}: {new} hand-offs in Whistle, {old} before: {:?}", run.problem);
                if run.problem.holder != Holder::Town {
                    assert!(old >= 2, "the old path reports up and assigns: {old}");
                }
            }
        }
    }

    #[test]
    fn a_jointly_inspected_subject_counts_once_per_visit_and_rechecks_never() {
        let window = Duration::days(30);
        for (k, par) in variants().iter().enumerate() {
            let sim = simulate(100 + k as u64, 400, par).expect("runs");
            let mut joints = 0;
            for run in sim.runs.iter().filter(|r| matches!(r.problem.holder, Holder::Joint(..))) {
                joints += 1;
                let events = of_cases(&sim.new, &[run.new_case]);
                let two_records = events.iter().filter(|e| e.type_name() == "whistle.inspected").count();
                let alone = compute(events.iter().copied(), window, None, None);
                let expected = if run.problem.followup { 0 } else { 1 };
                assert!(two_records >= 2, "both departments are on the joint visit");
                assert_eq!(alone.inspections, expected, "variant {k}: {alone:?}");
                assert_eq!(alone.repeated_inspections, 0, "variant {k}: a joint visit is not a repeat of itself");
                let old = compute(of_cases(&sim.old, &run.old_cases), window, None, None);
                assert!(old.inspections >= 2, "each department inspected separately before: {old:?}");
                assert!(old.repeated_inspections >= 1, "the second department's visit repeats the first");
            }
            assert!(joints > 0 || par.joint_share == 0.0, "variant {k} has joint problems");
        }
    }

    #[test]
    fn whistle_has_no_more_inspections_repeats_or_hand_offs_than_the_old_path_in_all() {
        for (k, par) in variants().iter().enumerate() {
            let sim = simulate(200 + k as u64, 500, par).expect("runs");
            let c = Comparison::of(&sim, par);
            assert_eq!(c.new.cases, 500, "one Whistle case per problem");
            let unfixed = sim.runs.iter().filter(|r| r.problem.unfixed).count();
            assert_eq!(c.old.cases, 500 + unfixed, "an unfixed problem was reported again before");
            assert_eq!(c.new.reopens, unfixed, "and is reopened in Whistle");
            assert!(c.new.handoffs <= c.old.handoffs, "variant {k}");
            assert!(c.new.inspections <= c.old.inspections, "variant {k}");
            assert!(c.new.repeated_inspections <= c.old.repeated_inspections, "variant {k}");
            assert_eq!(c.new.confirmations, sim.runs.iter().filter(|r| r.problem.holder != Holder::Town).count());
            assert_eq!(c.old.confirmations + c.old.reopens + c.old.rechecks, 0, "the old path has none of these");
            assert!(c.table().contains("procedures per problem"));
        }
    }
}
