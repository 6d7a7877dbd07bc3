//! Who is asking, and what each role may do. Pure: every rule here is unit-tested, and every
//! service asks these functions instead of deciding on its own.
//!
//! | role | scope | may |
//! |---|---|---|
//! | `town` | one town | raise whistles for its town; open its own enforcement cases and take their procedure's steps; confirm, reopen and comment on its whistles; read its town's cases; watch `town:<its code>` |
//! | `department` | one department | act on whistles its department owns; inspect and penalise on cases it owns or assists; open its own enforcement case from a whistle it owns and take its procedure's steps; read them; watch `department:<its code>` |
//! | `command_centre` | one district | everything its `<district>-CC` department may, plus: read every whistle of the district, transfer, pause and resume any of them, watch every channel of the district, read the district's SLA and outcome figures |
//! | `manager` | the city or one district | read-only: whistles, channels, SLA and outcome figures of its scope |
//! | `supervisor` | the city or one district | read every case, channel and figure of its scope (outcome figures included); never act on a case; review flagged steps (`/api/v1/supervision/...`) |
//! | `admin` | the registry | change the registry (delegate, recover, change holder, import, what-if); read the city's outcome figures |
//!
//! Evidence attachments ([`Principal::evidence_body`]): towns, departments and command centres
//! upload them, for their own body; a raise, a town case or an investigation references only
//! its own body's. An attachment is read by its body and by every reader of a case that
//! references it; managers and supervisors read it through those cases, admins never.
//!
//! Every authenticated role may read the registry (items, towns, districts, routes) and use the
//! item suggestion and benchmark look-ups.
//!
//! What a reader sees of a case it may read ([`Principal::case_visibility`]): departments,
//! command centres and managers the whole case; a town its progress without the enforcement
//! record's subjects, override reasons and fence warnings (`whistle_case::visibility`), in the
//! HTTP view and on the boards alike.

use std::fmt;

use serde::{Deserialize, Serialize};
use whistle_case::Visibility;

/// The command centre's department type: its department code is `<district>-CC`.
pub const COMMAND_CENTRE_TYPE: &str = "CC";

/// A role with its scope. Serialised inside tokens as `{"role": "...", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// A town's comprehensive enforcement team.
    Town { town: String, district: String },
    /// A district department's officer.
    Department { department: String, district: String },
    /// A district command centre's duty officer.
    CommandCentre { district: String },
    /// Read-only; `district` absent means the whole city.
    Manager {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        district: Option<String>,
    },
    /// Law enforcement supervision (执法监督): reads every case in scope, never acts on one, and
    /// reviews overrides, fences passed over and cases near their time limit; `district` absent
    /// means the whole city.
    Supervisor {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        district: Option<String>,
    },
    /// The registry administrator.
    Admin,
}

impl Role {
    /// The role's name, as audit records and metrics carry it.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Town { .. } => "town",
            Role::Department { .. } => "department",
            Role::CommandCentre { .. } => "command_centre",
            Role::Manager { .. } => "manager",
            Role::Supervisor { .. } => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// The account name, e.g. `dept-500103-UM`.
    pub user: String,
    #[serde(flatten)]
    pub role: Role,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.user, self.role.name())
    }
}

/// What authorization needs to know about a case.
#[derive(Debug, Clone, Copy)]
pub struct CaseScope<'a> {
    pub town: &'a str,
    pub district: &'a str,
    /// The owning (lead) department, once routed.
    pub owner: Option<&'a str>,
    pub assisting: &'a [&'a str],
    /// A town's own enforcement case (its town acts on it), not a whistle.
    pub enforcement: bool,
    /// The towns of whistles merged into this case: each follows it (reads it) as its own.
    pub followers: &'a [&'a str],
}

/// Everything a caller can do to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAction {
    Acknowledge,
    Arrive,
    Resolve,
    Reject,
    Transfer,
    Pause,
    Resume,
    /// Record an inspection of the case's subject.
    Inspect,
    /// Record a penalty decision.
    Penalise,
    /// The steps of a town enforcement case's procedure: its town's.
    Persuade,
    Investigate,
    Notify,
    Decide,
    Serve,
    Close,
    /// The raising town, on a resolved whistle.
    Confirm,
    Reopen,
    /// The town and the departments of a case, and the district's command centre.
    Comment,
    /// Merge a duplicate whistle into another (asked of both cases): their department, or the
    /// district's command centre.
    Merge,
}

impl CaseAction {
    pub const ALL: [CaseAction; 19] = [
        CaseAction::Acknowledge,
        CaseAction::Arrive,
        CaseAction::Resolve,
        CaseAction::Reject,
        CaseAction::Transfer,
        CaseAction::Pause,
        CaseAction::Resume,
        CaseAction::Inspect,
        CaseAction::Penalise,
        CaseAction::Persuade,
        CaseAction::Investigate,
        CaseAction::Notify,
        CaseAction::Decide,
        CaseAction::Serve,
        CaseAction::Close,
        CaseAction::Confirm,
        CaseAction::Reopen,
        CaseAction::Comment,
        CaseAction::Merge,
    ];

    /// A step of the penalty procedure.
    pub fn procedural(self) -> bool {
        matches!(
            self,
            CaseAction::Persuade
                | CaseAction::Investigate
                | CaseAction::Notify
                | CaseAction::Decide
                | CaseAction::Serve
                | CaseAction::Close
        )
    }

    /// Supervisory actions the district command centre may take on any case of its district.
    fn supervisory(self) -> bool {
        matches!(self, CaseAction::Transfer | CaseAction::Pause | CaseAction::Resume | CaseAction::Merge)
    }

    /// Actions an assisting department of a joint case may take.
    fn assisting(self) -> bool {
        matches!(self, CaseAction::Inspect | CaseAction::Penalise | CaseAction::Comment)
    }
}

/// A WebSocket channel, by kind and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRef<'a> {
    Department(&'a str),
    Town(&'a str),
    /// `city` or a district code.
    Manager(&'a str),
    /// `city` or a district code: the supervisors' queue.
    Supervision(&'a str),
}

/// The district a town or department code belongs to: town codes start with their district's
/// six-digit code (GB/T 10114), department codes are `<district>-<TYPE>`.
pub fn district_of(code: &str) -> Option<&str> {
    let district = code.get(..6)?;
    district.bytes().all(|b| b.is_ascii_digit()).then_some(district)
}

impl Principal {
    pub fn new(user: impl Into<String>, role: Role) -> Principal {
        Principal { user: user.into(), role }
    }

    /// The department this caller acts as, if any: its own, or its district's command centre.
    pub fn acting_department(&self) -> Option<String> {
        match &self.role {
            Role::Department { department, .. } => Some(department.clone()),
            Role::CommandCentre { district } => Some(format!("{district}-{COMMAND_CENTRE_TYPE}")),
            _ => None,
        }
    }

    /// The district the caller is confined to, if any (`None` for the city and for admins).
    pub fn district(&self) -> Option<&str> {
        match &self.role {
            Role::Town { district, .. } | Role::Department { district, .. } | Role::CommandCentre { district } => {
                Some(district)
            }
            Role::Manager { district } | Role::Supervisor { district } => district.as_deref(),
            Role::Admin => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Admin)
    }

    /// May review flagged steps of cases in `district` (the supervision queue).
    pub fn can_review(&self, district: &str) -> bool {
        matches!(&self.role, Role::Supervisor { district: scope } if scope.as_deref().is_none_or(|d| d == district))
    }

    /// May open an enforcement case for `town` (its own team).
    pub fn can_open_case_for(&self, town: &str) -> bool {
        self.can_raise_for(town)
    }

    /// May raise a whistle on behalf of `town`.
    pub fn can_raise_for(&self, town: &str) -> bool {
        matches!(&self.role, Role::Town { town: own, .. } if own == town)
    }

    /// The body this caller uploads evidence for, and whose uploads it may reference and read
    /// before any case does: its town, its department, or its district's command centre
    /// (`<district>-CC`). `None`: it uploads nothing (managers, supervisors, admins).
    pub fn evidence_body(&self) -> Option<String> {
        match &self.role {
            Role::Town { town, .. } => Some(town.clone()),
            Role::Department { .. } | Role::CommandCentre { .. } => self.acting_department(),
            Role::Manager { .. } | Role::Supervisor { .. } | Role::Admin => None,
        }
    }

    /// May read the case (`GET /api/v1/whistles/{id}`).
    pub fn can_read(&self, case: &CaseScope<'_>) -> bool {
        match &self.role {
            Role::Town { town, .. } => town == case.town || case.followers.contains(&town.as_str()),
            Role::Department { department, .. } => {
                case.owner == Some(department) || case.assisting.contains(&department.as_str())
            }
            Role::CommandCentre { district } => district == case.district,
            Role::Manager { district } | Role::Supervisor { district } => {
                district.as_deref().is_none_or(|d| d == case.district)
            }
            Role::Admin => false,
        }
    }

    /// How much of a case this caller sees once [`Principal::can_read`] lets it read the case
    /// (or a channel lets it watch one): the officers and their supervisors see it whole, the
    /// town that raised it sees its progress without the enforcement record's particulars.
    pub fn case_visibility(&self) -> Visibility {
        match &self.role {
            Role::Town { .. } => Visibility::Town,
            Role::Department { .. } | Role::CommandCentre { .. } | Role::Manager { .. } | Role::Supervisor { .. } => {
                Visibility::Full
            }
            // Reads no case at all; should one ever reach it, it gets the narrowest view.
            Role::Admin => Visibility::Town,
        }
    }

    /// May take `action` on the case.
    pub fn can_act(&self, action: CaseAction, case: &CaseScope<'_>) -> bool {
        let own_town = matches!(&self.role, Role::Town { town, .. } if town == case.town);
        // A department's own enforcement case (opened from a whistle it owns) is that
        // department's officers' alone: not its command centre's.
        let own_department = matches!((&self.role, case.owner), (Role::Department { department, .. }, Some(owner)) if department == owner);
        match action {
            // A town's own case is the town's: only its team takes the procedure's steps; a
            // department's case, only that department's.
            _ if action.procedural() => {
                return case.enforcement && if case.owner.is_some() { own_department } else { own_town };
            }
            CaseAction::Confirm | CaseAction::Reopen => return own_town && !case.enforcement,
            CaseAction::Comment if own_town => return true,
            CaseAction::Comment if case.enforcement => return own_department,
            _ if case.enforcement => return false,
            _ => {}
        }
        let Some(department) = self.acting_department() else { return false };
        if case.owner == Some(department.as_str()) {
            return true;
        }
        if action.assisting() && case.assisting.contains(&department.as_str()) {
            return true;
        }
        let supervisory = action.supervisory() || action == CaseAction::Comment;
        matches!(&self.role, Role::CommandCentre { district } if supervisory && district == case.district)
    }

    /// May subscribe to the channel.
    pub fn can_watch(&self, channel: ChannelRef<'_>) -> bool {
        let channel_district = match channel {
            ChannelRef::Department(code) | ChannelRef::Town(code) => district_of(code),
            ChannelRef::Manager("city") | ChannelRef::Supervision("city") => None,
            ChannelRef::Manager(code) | ChannelRef::Supervision(code) => Some(code),
        };
        if let ChannelRef::Supervision(_) = channel {
            return match &self.role {
                Role::Supervisor { district: None } => true,
                Role::Supervisor { district: Some(own) } => channel_district == Some(own.as_str()),
                _ => false,
            };
        }
        match (&self.role, channel) {
            (Role::Town { town, .. }, ChannelRef::Town(code)) => town == code,
            (Role::Department { department, .. }, ChannelRef::Department(code)) => department == code,
            (Role::CommandCentre { district }, _) => channel_district == Some(district.as_str()),
            (Role::Manager { district: None } | Role::Supervisor { district: None }, _) => true,
            (Role::Manager { district: Some(own) } | Role::Supervisor { district: Some(own) }, _) => {
                channel_district == Some(own.as_str())
            }
            _ => false,
        }
    }

    /// Which district's SLA figures the caller may read: `Ok(None)` is the whole city. Asking for
    /// nothing narrows a district-scoped caller to its own district.
    pub fn sla_scope<'a>(&'a self, requested: Option<&'a str>) -> Result<Option<&'a str>, &'static str> {
        match (&self.role, requested) {
            (Role::Manager { district: None }, requested) => Ok(requested),
            (Role::Manager { district: Some(own) } | Role::CommandCentre { district: own }, None) => Ok(Some(own)),
            (Role::Manager { district: Some(own) } | Role::CommandCentre { district: own }, Some(asked)) => {
                if own == asked { Ok(Some(own)) } else { Err("your account sees only its own district's figures") }
            }
            _ => Err("SLA figures are for managers and command centres"),
        }
    }

    /// Which district's outcome figures (`GET /api/v1/figures`) the caller may read: `Ok(None)`
    /// is the whole city. City-wide managers and supervisors and the administrator may ask for
    /// any district or none; a district's manager, supervisor and command centre get their own
    /// district (asking for nothing narrows to it) and are refused another; towns and
    /// departments are refused.
    pub fn figures_scope<'a>(&'a self, requested: Option<&'a str>) -> Result<Option<&'a str>, &'static str> {
        match &self.role {
            Role::Manager { district: None } | Role::Supervisor { district: None } | Role::Admin => Ok(requested),
            Role::Manager { district: Some(own) }
            | Role::Supervisor { district: Some(own) }
            | Role::CommandCentre { district: own } => match requested {
                None => Ok(Some(own)),
                Some(asked) if asked == own => Ok(Some(own)),
                Some(_) => Err("your account sees only its own district's figures"),
            },
            Role::Town { .. } | Role::Department { .. } => {
                Err("outcome figures are for managers, supervisors, command centres and the administrator")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn town(code: &str) -> Principal {
        Principal::new(format!("town-{code}"), Role::Town { town: code.into(), district: code[..6].into() })
    }
    fn dept(code: &str) -> Principal {
        Principal::new(format!("dept-{code}"), Role::Department { department: code.into(), district: code[..6].into() })
    }
    fn cc(district: &str) -> Principal {
        Principal::new(format!("dept-{district}-CC"), Role::CommandCentre { district: district.into() })
    }
    fn manager(district: Option<&str>) -> Principal {
        Principal::new("manager", Role::Manager { district: district.map(Into::into) })
    }

    const ASSISTING: [&str; 1] = ["500103-PS"];
    fn case() -> CaseScope<'static> {
        CaseScope {
            town: "500103001",
            district: "500103",
            owner: Some("500103-UM"),
            assisting: &ASSISTING,
            enforcement: false,
            followers: &[],
        }
    }

    #[test]
    fn the_town_of_a_whistle_merged_into_a_case_reads_that_case_and_acts_on_none_of_it() {
        let followed = CaseScope { followers: &["500103002"], ..case() };
        assert!(town("500103002").can_read(&followed));
        assert!(!town("500103002").can_read(&case()));
        assert!(!town("500103003").can_read(&followed));
        for action in CaseAction::ALL {
            assert!(!town("500103002").can_act(action, &followed), "{action:?}");
        }
    }

    #[test]
    fn towns_raise_and_read_only_their_own() {
        assert!(town("500103001").can_raise_for("500103001"));
        assert!(!town("500103002").can_raise_for("500103001"));
        assert!(!dept("500103-UM").can_raise_for("500103001"));
        assert!(town("500103001").can_read(&case()));
        assert!(!town("500103002").can_read(&case()));
        // On a whistle, its town closes the loop and comments; it takes no department action.
        let towns = [CaseAction::Confirm, CaseAction::Reopen, CaseAction::Comment];
        for action in CaseAction::ALL {
            assert_eq!(town("500103001").can_act(action, &case()), towns.contains(&action), "{action:?}");
            assert!(!town("500103002").can_act(action, &case()), "{action:?}");
        }
    }

    #[test]
    fn evidence_is_uploaded_for_the_callers_own_body_and_only_by_those_who_act() {
        assert_eq!(town("500103001").evidence_body().as_deref(), Some("500103001"));
        assert_eq!(dept("500103-UM").evidence_body().as_deref(), Some("500103-UM"));
        assert_eq!(cc("500103").evidence_body().as_deref(), Some("500103-CC"));
        assert_eq!(manager(None).evidence_body(), None);
        assert_eq!(manager(Some("500103")).evidence_body(), None);
        assert_eq!(Principal::new("s", Role::Supervisor { district: None }).evidence_body(), None);
        assert_eq!(Principal::new("admin", Role::Admin).evidence_body(), None);
    }

    #[test]
    fn a_towns_own_case_is_its_towns_to_act_on_and_nobody_elses() {
        let own = CaseScope { owner: None, assisting: &[], enforcement: true, ..case() };
        for action in CaseAction::ALL {
            let towns = action.procedural() || action == CaseAction::Comment;
            assert_eq!(town("500103001").can_act(action, &own), towns, "{action:?}");
            assert!(!town("500103002").can_act(action, &own), "{action:?}");
            assert!(!dept("500103-UM").can_act(action, &own), "{action:?}");
            assert!(!cc("500103").can_act(action, &own), "{action:?}");
        }
        assert!(cc("500103").can_read(&own) && !dept("500103-UM").can_read(&own));
    }

    #[test]
    fn a_departments_own_case_is_its_officers_to_act_on() {
        let own = CaseScope { owner: Some("500103-UM"), assisting: &[], enforcement: true, ..case() };
        for action in CaseAction::ALL {
            let officers = action.procedural() || action == CaseAction::Comment;
            assert_eq!(dept("500103-UM").can_act(action, &own), officers, "{action:?}");
            assert!(!dept("500103-PS").can_act(action, &own), "{action:?}");
            // The town whose whistle it came from follows it and comments; the command centre
            // reads it but takes no step of another body's procedure.
            assert_eq!(town("500103001").can_act(action, &own), action == CaseAction::Comment, "{action:?}");
            assert!(!cc("500103").can_act(action, &own), "{action:?}");
        }
        assert!(dept("500103-UM").can_read(&own) && town("500103001").can_read(&own) && cc("500103").can_read(&own));
        assert!(!dept("500103-PS").can_read(&own));
    }

    #[test]
    fn supervisors_read_and_review_in_scope_and_never_act() {
        let city = Principal::new("supervisor", Role::Supervisor { district: None });
        let district = Principal::new("supervisor-500103", Role::Supervisor { district: Some("500103".into()) });
        let other = Principal::new("supervisor-500104", Role::Supervisor { district: Some("500104".into()) });
        for action in CaseAction::ALL {
            assert!(!city.can_act(action, &case()), "{action:?}");
            assert!(!district.can_act(action, &case()), "{action:?}");
        }
        assert!(city.can_read(&case()) && district.can_read(&case()) && !other.can_read(&case()));
        assert!(city.can_review("500103") && district.can_review("500103") && !other.can_review("500103"));
        assert!(!manager(None).can_review("500103"), "managers do not review");
        assert!(district.can_watch(ChannelRef::Supervision("500103")));
        assert!(!district.can_watch(ChannelRef::Supervision("city")));
        assert!(!manager(None).can_watch(ChannelRef::Supervision("city")));
        assert_eq!(district.case_visibility(), Visibility::Full);
    }

    #[test]
    fn the_owner_acts_an_assistant_only_inspects_others_nothing() {
        let departments = |a: CaseAction| !a.procedural() && !matches!(a, CaseAction::Confirm | CaseAction::Reopen);
        for action in CaseAction::ALL {
            assert_eq!(dept("500103-UM").can_act(action, &case()), departments(action), "{action:?}");
            assert_eq!(dept("500103-PS").can_act(action, &case()), action.assisting(), "{action:?}");
            assert!(!dept("500103-EE").can_act(action, &case()), "{action:?}");
            assert!(!dept("500104-UM").can_act(action, &case()), "{action:?}");
        }
        assert!(dept("500103-PS").can_read(&case()));
        assert!(!dept("500103-EE").can_read(&case()));
    }

    #[test]
    fn the_command_centre_supervises_its_district_and_owns_triage() {
        for action in CaseAction::ALL {
            let expected = action.supervisory() || action == CaseAction::Comment;
            assert_eq!(cc("500103").can_act(action, &case()), expected, "{action:?}");
            assert!(!cc("500104").can_act(action, &case()), "{action:?}");
        }
        let triage = CaseScope { owner: Some("500103-CC"), assisting: &[], ..case() };
        for action in CaseAction::ALL {
            let departments = !action.procedural() && !matches!(action, CaseAction::Confirm | CaseAction::Reopen);
            assert_eq!(cc("500103").can_act(action, &triage), departments, "{action:?}");
        }
        assert!(cc("500103").can_read(&case()));
        assert!(!cc("500104").can_read(&case()));
    }

    #[test]
    fn managers_only_read_within_scope() {
        for action in CaseAction::ALL {
            assert!(!manager(None).can_act(action, &case()));
        }
        assert!(manager(None).can_read(&case()));
        assert!(manager(Some("500103")).can_read(&case()));
        assert!(!manager(Some("500104")).can_read(&case()));
        let admin = Principal::new("admin", Role::Admin);
        assert!(!admin.can_read(&case()));
        assert!(!admin.can_raise_for("500103001"));
    }

    #[test]
    fn channels_follow_the_scope() {
        use ChannelRef::*;
        assert!(town("500103001").can_watch(Town("500103001")));
        assert!(!town("500103001").can_watch(Town("500103002")));
        assert!(!town("500103001").can_watch(Department("500103-UM")));
        assert!(dept("500103-UM").can_watch(Department("500103-UM")));
        assert!(!dept("500103-UM").can_watch(Department("500103-PS")));
        assert!(!dept("500103-UM").can_watch(Manager("500103")));
        assert!(cc("500103").can_watch(Department("500103-PS")));
        assert!(cc("500103").can_watch(Town("500103001")));
        assert!(cc("500103").can_watch(Manager("500103")));
        assert!(!cc("500103").can_watch(Manager("city")));
        assert!(!cc("500103").can_watch(Town("500104001")));
        assert!(manager(None).can_watch(Manager("city")));
        assert!(manager(None).can_watch(Department("500104-UM")));
        assert!(manager(Some("500103")).can_watch(Manager("500103")));
        assert!(!manager(Some("500103")).can_watch(Manager("city")));
        assert!(!manager(Some("500103")).can_watch(Department("500104-UM")));
        assert!(!Principal::new("admin", Role::Admin).can_watch(Manager("city")));
    }

    #[test]
    fn towns_see_a_narrower_case_than_the_officers_and_their_supervisors() {
        assert_eq!(town("500103001").case_visibility(), Visibility::Town);
        for p in [dept("500103-UM"), cc("500103"), manager(None), manager(Some("500103"))] {
            assert_eq!(p.case_visibility(), Visibility::Full, "{p}");
        }
        assert_eq!(Principal::new("admin", Role::Admin).case_visibility(), Visibility::Town);
    }

    #[test]
    fn sla_figures_narrow_to_the_callers_district() {
        assert_eq!(manager(None).sla_scope(None), Ok(None));
        assert_eq!(manager(None).sla_scope(Some("500104")), Ok(Some("500104")));
        assert_eq!(manager(Some("500103")).sla_scope(None), Ok(Some("500103")));
        assert!(manager(Some("500103")).sla_scope(Some("500104")).is_err());
        assert_eq!(cc("500103").sla_scope(Some("500103")), Ok(Some("500103")));
        assert!(dept("500103-UM").sla_scope(None).is_err());
        assert!(town("500103001").sla_scope(None).is_err());
    }

    #[test]
    fn outcome_figures_are_for_the_supervising_roles_each_in_its_district() {
        let supervisor =
            |d: Option<&str>| Principal::new("supervisor", Role::Supervisor { district: d.map(Into::into) });
        let admin = Principal::new("admin", Role::Admin);
        for p in [manager(None), supervisor(None), admin] {
            assert_eq!(p.figures_scope(None), Ok(None), "{p}");
            assert_eq!(p.figures_scope(Some("500104")), Ok(Some("500104")), "{p}");
        }
        for p in [manager(Some("500103")), supervisor(Some("500103")), cc("500103")] {
            assert_eq!(p.figures_scope(None), Ok(Some("500103")), "{p}");
            assert_eq!(p.figures_scope(Some("500103")), Ok(Some("500103")), "{p}");
            assert!(p.figures_scope(Some("500104")).is_err(), "{p}");
        }
        assert!(dept("500103-UM").figures_scope(None).is_err());
        assert!(town("500103001").figures_scope(Some("500103")).is_err());
    }

    #[test]
    fn a_role_round_trips_through_json() {
        for p in [town("500103001"), dept("500103-UM"), cc("500103"), manager(None), manager(Some("500103"))] {
            let json = serde_json::to_string(&p).expect("encodes");
            assert_eq!(serde_json::from_str::<Principal>(&json).expect("decodes"), p, "{json}");
        }
        assert_eq!(district_of("500103-UM"), Some("500103"));
        assert_eq!(district_of("50010"), None);
        assert_eq!(district_of("abcdef-UM"), None);
    }
}
