//! The account store: accounts administered through the API, in PostgreSQL, with an
//! append-only audit of every change (who, when, what).
//!
//! - [`store`]: the [`AccountStore`] (queries checked at run time with `sqlx::query_as`, so
//!   building needs no database) and its migrations (`migrations/`, embedded, run at start-up).
//! - [`username`]: what an account name may be.
//!
//! Intake logs people in against it ([`whistle_auth::accounts::AccountSource`]) and serves the
//! administration API; authorization (admin only) and token revocation are the caller's.

pub mod store;
pub mod username;

pub use store::{Account, AccountStore, AuditEntry, StoreError};
pub use username::Username;
