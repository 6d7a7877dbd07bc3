//! How much one case may hold. Every repeatable action is bounded, so a case's timeline (and the
//! Redis record and stream entries built from it) stays bounded whatever an account sends:
//! status changes happen at most a few times each, and the repeatable ones below are capped.
//! Past a limit the command is refused with `409 case_limit_reached`; closing a case (resolve,
//! reject) is never refused for a limit, and neither are the system's own events (SLA, routing).

/// Inspections, penalties and fence warnings recorded on one case.
pub const MAX_ENFORCEMENT_RECORDS: usize = 200;
/// Pauses of the SLA clocks on one case.
pub const MAX_PAUSES: usize = 50;
/// Transfers between departments of one case.
pub const MAX_TRANSFERS: usize = 50;

/// Comments between town and department on one case.
pub const MAX_COMMENTS: usize = 200;
/// Reopenings of one whistle by its town.
pub const MAX_REOPENS: usize = 10;
/// Supervisors' reviews on one case (each reviews a flagged step, themselves bounded above).
pub const MAX_REVIEWS: usize = 400;

/// Whistles merged into one surviving case (each is a town that follows it).
pub const MAX_MERGED: usize = 100;

/// The limits a [`crate::decide`] call applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub enforcement_records: usize,
    pub pauses: usize,
    pub transfers: usize,
    pub comments: usize,
    pub reopens: usize,
    pub reviews: usize,
    pub merged: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enforcement_records: MAX_ENFORCEMENT_RECORDS,
            pauses: MAX_PAUSES,
            transfers: MAX_TRANSFERS,
            comments: MAX_COMMENTS,
            reopens: MAX_REOPENS,
            reviews: MAX_REVIEWS,
            merged: MAX_MERGED,
        }
    }
}
