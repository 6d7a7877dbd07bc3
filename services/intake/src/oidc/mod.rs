//! Single sign-on with an OpenID Connect provider: the authorization-code flow with PKCE.
//!
//! The provider only says who someone is (the `auth.oidc.username_claim` of a verified
//! id_token); the account, its role and its scope are Whistle's own (accounts file, account
//! store, demo accounts), and the token the callback hands over is the one a password login
//! gives. Off unless `auth.oidc.issuer` is set.
//!
//! - [`config`]: `auth.oidc` checked at start-up.
//! - [`flow`]: the return path, state, nonce and PKCE verifier of one sign-in, and the signed
//!   cookie that keeps them.
//! - [`provider`]: discovery, the code exchange and the id_token checks.
//!
//! The handlers are in `routes/oidc.rs`.

pub mod config;
pub mod flow;
pub mod provider;

pub use config::OidcConfig;
pub use flow::{Flow, FlowSigner, ReturnTo};
pub use provider::{Provider, ProviderError};

use secrecy::ExposeSecret;
use whistle_common::settings::{AuthSettings, SettingsError};

/// Single sign-on, when it is configured.
#[derive(Debug)]
pub struct Oidc {
    pub provider: Provider,
    pub flows: FlowSigner,
}

impl Oidc {
    /// Checks the settings: `None` when single sign-on is off.
    pub fn config(auth: &AuthSettings) -> Result<Option<OidcConfig>, SettingsError> {
        OidcConfig::from_settings(&auth.oidc, auth.environment)
    }

    /// From validated settings; `None` when single sign-on is off.
    pub fn from_settings(auth: &AuthSettings) -> anyhow::Result<Option<Oidc>> {
        let Some(config) = Oidc::config(auth)? else { return Ok(None) };
        Ok(Some(Oidc {
            provider: Provider::new(config)?,
            flows: FlowSigner::new(auth.jwt_secret.expose_secret().as_bytes()),
        }))
    }

    pub fn config_ref(&self) -> &OidcConfig {
        self.provider.config()
    }
}
