//! The enforcement-item registry: who holds which enforcement item, in which district, since when.
//!
//! - [`codes`]: domain newtypes for towns, districts, departments and items, parsed at the edge.
//! - [`model`]: the loaded registry and its look-ups, including effective-dated holder history
//!   ("who holds item X in district D at time T").
//! - [`routing`]: the routing decision for a whistle, a pure function of the registry.
//! - [`file`]: the on-disk data format (`deploy/data/registry.json`) and its validation.
//! - [`change`]: delegation, recovery and holder changes as new effective-dated versions.
//! - [`csv`]: the catalogue as CSV (export, all-or-nothing import with row-level errors).
//! - [`live`]: the live copy every router and intake keeps, fed by the compacted registry topic.
//! - [`service`]: the registry service (`whistle-registry` binary, :8085): read and admin API,
//!   CSV import/export, what-if preview.
//!
//! A change of holder never rewrites history: delegation and recovery are new assignments with an
//! effective date, so a future-dated change takes effect on its date with no restart.

pub mod change;
pub mod codes;
pub mod csv;
pub mod file;
pub mod live;
pub mod model;
pub mod routing;
pub mod service;

pub use codes::{DepartmentCode, DistrictCode, ItemCode, TownCode};
pub use file::RegistryError;
pub use live::LiveRegistry;
pub use model::{Assignment, Department, District, Holder, Item, Registry, Town};
pub use routing::{Route, RouteError, route, supporting_department};
