//! Authentication and authorization for Whistle.
//!
//! - [`accounts`]: who can log in; passwords kept as argon2id hashes.
//! - [`token`]: signed tokens (HS256 JWT) every service verifies with the shared key.
//! - [`principal`]: roles, scopes and the authorization rules, one table for all services.
//! - [`http`]: the axum layer and extractor.

pub mod accounts;
pub mod http;
pub mod principal;
pub mod token;

pub use accounts::{Directory, LoginError};
pub use http::{AuthError, require_auth};
pub use principal::{CaseAction, CaseScope, ChannelRef, Principal, Role};
pub use token::{TokenError, TokenKeys, Verified};
