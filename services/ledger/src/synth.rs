//! Synthetic case histories for the ledger's tests and benchmarks: the events a case of a given
//! shape produces (raise, dispatch, acknowledgement, arrival, resolution, breaches, returns and
//! re-routes), with ids derived from the case's, so publishing a history twice repeats the same
//! events (a replay).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use whistle_case::{Case, evolve};
use whistle_schemas::events::*;
use whistle_schemas::{Location, Names};

/// How far a case got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Raised,
    Dispatched,
    Acknowledged,
    OnSite,
    Resolved,
    /// Returned by the department (closed, rejected).
    Rejected,
    /// Returned, then re-routed to the command centre (open again).
    Rerouted,
    /// Resolved, reopened by the town, and resolved again.
    Reopened,
}

/// The shape of one synthetic case.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    pub id: Uuid,
    pub raised_at: DateTime<Utc>,
    pub town: String,
    pub district: String,
    pub item: String,
    pub department: String,
    pub description: String,
    pub address: String,
    pub progress: Progress,
    /// A stage breached before it was done.
    pub breach: Option<SlaStageKind>,
}

fn names(zh: &str, en: &str) -> Names {
    Names { zh: zh.into(), en: en.into() }
}

/// The case's events, oldest first.
pub fn events(spec: &CaseSpec) -> Vec<CaseEvent> {
    let mut step = 0u32;
    let mut out = Vec::new();
    let mut push = |seconds: i64, body: CaseEventBody| {
        step += 1;
        let id = Uuid::new_v5(&spec.id, &step.to_be_bytes());
        out.push(CaseEvent::new(id, "/test/ledger", spec.id, spec.raised_at + Duration::seconds(seconds), body));
    };
    let dept = Actor::new(ActorKind::Department, spec.department.clone());
    let department =
        DepartmentRef { code: spec.department.clone(), names: names("区属部门", "District department") };
    push(
        0,
        CaseEventBody::Raised(Raised {
            town: spec.town.clone(),
            district: spec.district.clone(),
            item: spec.item.clone(),
            description: spec.description.clone(),
            location: Location { lat: 29.557, lon: 106.577, address: spec.address.clone() },
            photos: vec![],
            attachments: vec![],
            raised_by: Actor::new(ActorKind::Town, spec.town.clone()),
            support: false,
            assist: vec![],
            hotline: None,
        }),
    );
    if spec.progress == Progress::Raised {
        return out;
    }
    push(
        5,
        CaseEventBody::Dispatched(Dispatched {
            department: department.clone(),
            district: spec.district.clone(),
            item: spec.item.clone(),
            authority: Some(Authority::Recovered),
            triage: false,
            basis: "recovered to the district department".into(),
            registry_version: Some(0),
            assisting: vec![],
        }),
    );
    let breach = |stage: SlaStageKind, at: i64| {
        CaseEventBody::SlaBreached(SlaStage {
            stage,
            deadline: spec.raised_at + Duration::seconds(at),
            department: spec.department.clone(),
            district: spec.district.clone(),
        })
    };
    if spec.breach == Some(SlaStageKind::Acknowledge) {
        push(905, breach(SlaStageKind::Acknowledge, 905));
    }
    match spec.progress {
        Progress::Raised | Progress::Dispatched => return out,
        Progress::Rejected | Progress::Rerouted => {
            push(
                600,
                CaseEventBody::Rejected(Rejected {
                    actor: dept.clone(),
                    reason: "不属于本部门职责".into(),
                    code: None,
                }),
            );
            if spec.progress == Progress::Rerouted {
                let cc = format!("{}-CC", spec.district);
                push(
                    601,
                    CaseEventBody::Transferred(Transferred {
                        actor: Actor::new(ActorKind::System, "router"),
                        to: DepartmentRef { code: cc, names: names("指挥中心", "Command centre") },
                        reason: "returned; the command centre triages".into(),
                        triage: true,
                    }),
                );
            }
            return out;
        }
        Progress::Acknowledged | Progress::OnSite | Progress::Resolved | Progress::Reopened => {}
    }
    push(1000, CaseEventBody::Acknowledged(Acted { actor: dept.clone() }));
    if spec.breach == Some(SlaStageKind::Arrive) {
        push(1805, breach(SlaStageKind::Arrive, 1805));
    }
    if spec.progress == Progress::Acknowledged {
        return out;
    }
    push(2000, CaseEventBody::Arrived(Acted { actor: dept.clone() }));
    if spec.progress == Progress::OnSite {
        return out;
    }
    push(3600, CaseEventBody::Resolved(Resolved { actor: dept.clone(), note: Some("已处置".into()) }));
    if spec.progress == Progress::Reopened {
        push(
            4000,
            CaseEventBody::Reopened(whistle_schemas::events::Reopened {
                actor: Actor::new(ActorKind::Town, spec.town.clone()),
                reason: "问题仍在".into(),
                department: DepartmentRef { code: spec.department.clone(), names: names("部门", "Department") },
                district: spec.district.clone(),
                item: spec.item.clone(),
            }),
        );
        push(4100, CaseEventBody::Acknowledged(Acted { actor: dept.clone() }));
        push(4200, CaseEventBody::Resolved(Resolved { actor: dept, note: Some("复查已处置".into()) }));
    }
    out
}

/// The case after its events, by the case's own rules.
pub fn case(spec: &CaseSpec) -> Case {
    let mut case = None;
    for event in events(spec) {
        case = Some(evolve(case, &event).expect("a synthetic history follows the rules"));
    }
    case.expect("a history has a raise")
}

const DESCRIPTIONS: [&str; 8] = [
    "占道经营，摊贩在人行道摆摊",
    "夜间施工噪声扰民",
    "河道旁堆放废油桶，油污流入排水沟",
    "违规搭建彩钢棚",
    "餐饮油烟直排",
    "渣土车未覆盖沿路抛洒",
    "户外广告牌破损有坠落风险",
    "露天焚烧垃圾",
];
const STREETS: [&str; 6] = ["解放碑步行街", "朝天门广场", "较场口", "七星岗", "大坪正街", "化龙桥"];
const PROGRESS: [Progress; 10] = [
    Progress::Resolved,
    Progress::Resolved,
    Progress::Resolved,
    Progress::Resolved,
    Progress::OnSite,
    Progress::Acknowledged,
    Progress::Dispatched,
    Progress::Raised,
    Progress::Rejected,
    Progress::Rerouted,
];

/// The `n`th case of a large synthetic ledger (benchmarks): spread over `districts` districts
/// of ten towns and five departments each, over a year before `end`.
pub fn nth(n: u64, districts: u64, end: DateTime<Utc>) -> CaseSpec {
    // A cheap, fixed mix (splitmix64), so a data set is the same on every run.
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let district = format!("{}", 500_101 + (x % districts.max(1)));
    let town = format!("{district}{:03}", 1 + (x >> 8) % 10);
    let department = format!("{district}-{}", ["UM", "EE", "PS", "MR", "HC"][((x >> 16) % 5) as usize]);
    let description = format!("{}（第{n}号）", DESCRIPTIONS[((x >> 20) % 8) as usize]);
    let address = format!("重庆市{}{}号", STREETS[((x >> 24) % 6) as usize], (x >> 28) % 300);
    let progress = PROGRESS[((x >> 32) % 10) as usize];
    let breach = match (x >> 36) % 10 {
        0 => Some(SlaStageKind::Acknowledge),
        1 => Some(SlaStageKind::Arrive),
        _ => None,
    };
    let seconds = ((x >> 40) % (365 * 86_400)) as i64;
    CaseSpec {
        id: Uuid::from_u64_pair(0x1ed9_e000_0000_0000, n),
        raised_at: end - Duration::seconds(seconds),
        town,
        district,
        item: format!("CQ-{}-{:03}", ["ENV", "CITY", "FIRE", "MKT"][((x >> 44) % 4) as usize], 1 + (x >> 46) % 20),
        department,
        description,
        address,
        progress,
        breach,
    }
}
