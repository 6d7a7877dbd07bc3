//! Authentication and authorization for Whistle.
//!
//! - [`accounts`]: who can log in; passwords kept as argon2id hashes.
//! - [`token`]: signed tokens (HS256 JWT) every service verifies with the shared key.
//! - [`revocation`]: the denylist of revoked tokens (Redis) and the [`Verifier`] that checks
//!   signature, expiry and denylist in one call.
//! - [`throttle`]: login throttling per account and client address, which cannot lock anyone out.
//! - [`principal`]: roles, scopes and the authorization rules, one table for all services.
//! - [`http`]: the axum layer and extractor.

pub mod accounts;
pub mod http;
pub mod principal;
pub mod revocation;
pub mod throttle;
pub mod token;

pub use accounts::{Directory, LoginError};
pub use http::{AuthError, require_auth};
pub use principal::{CaseAction, CaseScope, ChannelRef, Principal, Role};
pub use revocation::{Revocations, Verifier};
pub use token::{TokenError, TokenKeys, Verified};
