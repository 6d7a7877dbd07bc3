//! The rules of a whistle case, in one place and without I/O (the "decider" pattern).
//!
//! - [`Case`]: the state of one case, as every service sees it. [`WhistleView`] (the HTTP view)
//!   and [`CaseSummary`] (what boards get) are derived from it.
//! - [`decide`]: a [`Command`] on a case (or on none, for a raise) becomes the events to publish,
//!   or a [`Refusal`] that says why not. Intake decides; the router and SLA decide their own
//!   commands (dispatch, re-route, deadlines) through the same function.
//! - [`evolve`]: an event applied to a case gives the case after it. The projector, the SLA
//!   service and the outcome figures evolve; an event that does not fit the case (two conflicting
//!   actions accepted at once) is refused, never half-applied.
//! - [`limits`]: how much one case may hold, so no account can grow a case without bound.
//! - [`console`]: what the console needs of the rules (which action from which status), generated
//!   into its TypeScript by `cargo xtask schemas`.
//! - [`effect`]: what an event means for the services that follow cases without keeping the
//!   whole case (SLA clocks, outcome figures, the router); they match on that closed set.
//! - [`figures`]: the outcome figures from case events — procedures, handling time, repeated
//!   inspections, reopens, confirmations — as `loadtest figures`, `assist-figures` and the
//!   ledger's `GET /api/v1/figures` count them.
//! - [`visibility`]: what each reader may see of a case (a town sees no enforcement subjects,
//!   override reasons or fence warnings); intake's HTTP view and the gateway's frames both use it.
//!
//! The matches over events and commands are exhaustive (no `_` arms): a new event type does not
//! compile until every rule here says what it means.
//!
//! ```text
//! raised ──dispatch──▶ dispatched ──acknowledge──▶ acknowledged ──arrive──▶ on_site
//!   │                      │                           │   │                   │
//!   └─reject (system)─┐    └─reject──┐        reject──┘   └──resolve──┐      resolve
//!                     ▼              ▼                                 ▼       ▼
//!                  rejected       rejected                          resolved ◀─┘
//! ```
//! A department or the command centre may merge an open whistle into another open one of its
//! district (a duplicate: `whistle.merged` on it, `merged`, terminal; `whistle.absorbed` on the
//! surviving case, which records the merged whistle's town, so that town may read it).
//!
//! `resolved`, `rejected` and `merged` are terminal, with one exception: a case a department *returned*
//! (`whistle.rejected` by a department other than the command centre) is re-routed by the router
//! with `whistle.transferred` and is `dispatched` again. A department may also transfer a case it
//! owns (dispatched, acknowledged or on site) to another; ownership moves and it is `dispatched`.

mod case;
mod command;
pub mod console;
mod decide;
pub mod effect;
mod evolve;
pub mod figures;
pub mod limits;
pub mod procedure;
mod refusal;
pub mod visibility;

pub use case::Case;
pub use command::Command;
pub use decide::{Ctx, decide};
pub use effect::{Effect, Enforcement, SlaSignal, effect};
pub use evolve::{can_merge, can_pause, can_transfer, enforcing, evolve, is_duplicate};
pub use refusal::Refusal;
pub use visibility::Visibility;
pub use whistle_schemas::api::{CaseSummary, WhistleView};

#[cfg(test)]
mod tests;
