//! `auth.oidc` parsed and checked at start-up into an [`OidcConfig`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};
use whistle_common::settings::{Environment, OidcSettings, SettingsError};

/// Intake's callback; `auth.oidc.redirect_url` must end with it (it is registered at the provider).
pub const CALLBACK_PATH: &str = "/api/v1/auth/oidc/callback";
/// Where the console sends the browser to start a single sign-on.
pub const LOGIN_PATH: &str = "/api/v1/auth/oidc/login";

/// The button's label when the settings name none.
const DEFAULT_LABEL_ZH: &str = "统一身份认证登录";
const DEFAULT_LABEL_EN: &str = "Single sign-on";

/// Single sign-on, checked: everything the flow needs, in the types it needs.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Exactly as configured: the discovery document's `issuer` and every id_token's `iss` must
    /// be this string.
    pub issuer: String,
    /// `{issuer}/.well-known/openid-configuration`.
    pub discovery_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The public callback URL (the `redirect_uri` of both requests).
    pub redirect_url: Url,
    pub username_claim: String,
    pub label: Label,
    pub discovery_ttl: Duration,
    /// Whether the provider's endpoints may be plain HTTP (a loopback issuer outside production).
    pub allow_http: bool,
}

/// The single sign-on button's label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub zh: String,
    pub en: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key, message: message.into() }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An absolute URL Whistle may talk to or send browsers to: HTTPS, or HTTP to this machine
/// outside production (a provider for development and tests).
fn web_url(key: &'static str, raw: &str, environment: Environment) -> Result<Url, SettingsError> {
    let url = Url::parse(raw).map_err(|e| invalid(key, format!("is not an absolute URL ({e}): {raw}")))?;
    if url.host().is_none() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(key, format!("must be an https:// URL with a host and no fragment or user: {raw}")));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if environment == Environment::Production => Err(invalid(
            key,
            format!(
                "must be https:// in production (WHISTLE_ENV=production); plain HTTP would expose the sign-in: {raw}"
            ),
        )),
        "http" if is_loopback(&url) => Ok(url),
        "http" => {
            Err(invalid(key, format!("must be https:// (plain HTTP only to a loopback host in development): {raw}")))
        }
        other => Err(invalid(key, format!("must be https://, not {other}: {raw}"))),
    }
}

impl OidcConfig {
    /// `None` when single sign-on is off (no `issuer`); an error naming the key when the
    /// settings are incomplete or contradictory.
    pub fn from_settings(s: &OidcSettings, environment: Environment) -> Result<Option<OidcConfig>, SettingsError> {
        let Some(issuer) = s.issuer.as_deref().map(str::trim).filter(|i| !i.is_empty()) else {
            let stray = [
                ("auth.oidc.client_id", !s.client_id.is_empty()),
                ("auth.oidc.client_secret", s.client_secret.is_some()),
                ("auth.oidc.redirect_url", s.redirect_url.is_some()),
            ];
            if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    "auth.oidc.issuer",
                    format!("is not set, but {key} is: set the issuer to turn single sign-on on, or unset {key}"),
                ));
            }
            return Ok(None);
        };
        let issuer_url = web_url("auth.oidc.issuer", issuer, environment)?;
        if issuer_url.query().is_some() {
            return Err(invalid("auth.oidc.issuer", "must not have a query string"));
        }
        let discovery_url = Url::parse(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')))
            .map_err(|e| invalid("auth.oidc.issuer", format!("gives no discovery URL: {e}")))?;
        let client_id = s.client_id.trim();
        if client_id.is_empty() {
            return Err(invalid(
                "auth.oidc.client_id",
                "must be set when auth.oidc.issuer is (Whistle's client id at the provider)",
            ));
        }
        let client_secret = match &s.client_secret {
            Some(secret) if !secret.expose_secret().is_empty() => secret.clone(),
            _ => {
                return Err(invalid(
                    "auth.oidc.client_secret",
                    "must be set when auth.oidc.issuer is (WHISTLE_AUTH__OIDC__CLIENT_SECRET; Whistle is a confidential client)",
                ));
            }
        };
        let Some(redirect) = s.redirect_url.as_deref() else {
            return Err(invalid(
                "auth.oidc.redirect_url",
                format!(
                    "must be set when auth.oidc.issuer is: the public URL of {CALLBACK_PATH}, as registered at the provider"
                ),
            ));
        };
        let redirect_url = web_url("auth.oidc.redirect_url", redirect, environment)?;
        if !redirect_url.path().ends_with(CALLBACK_PATH) || redirect_url.query().is_some() {
            return Err(invalid(
                "auth.oidc.redirect_url",
                format!("must be the public URL of intake's {CALLBACK_PATH}, without a query: {redirect}"),
            ));
        }
        let username_claim = s.username_claim.trim();
        if username_claim.is_empty() {
            return Err(invalid(
                "auth.oidc.username_claim",
                "must name the id_token claim that holds the account name",
            ));
        }
        if !(60..=86_400).contains(&s.discovery_ttl_seconds) {
            return Err(invalid("auth.oidc.discovery_ttl_seconds", "must be 60 to 86400"));
        }
        let pick = |own: &Option<String>, default: &str| {
            own.as_deref().or(s.label.as_deref()).map(str::trim).filter(|l| !l.is_empty()).unwrap_or(default).to_owned()
        };
        Ok(Some(OidcConfig {
            issuer: issuer.to_owned(),
            discovery_url,
            client_id: client_id.to_owned(),
            client_secret,
            allow_http: issuer_url.scheme() == "http",
            redirect_url,
            username_claim: username_claim.to_owned(),
            label: Label { zh: pick(&s.label_zh, DEFAULT_LABEL_ZH), en: pick(&s.label_en, DEFAULT_LABEL_EN) },
            discovery_ttl: Duration::from_secs(s.discovery_ttl_seconds),
        }))
    }

    /// Whether the flow cookie needs `Secure` (the callback is HTTPS).
    pub fn secure_cookie(&self) -> bool {
        self.redirect_url.scheme() == "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(issuer: &str) -> OidcSettings {
        OidcSettings {
            issuer: Some(issuer.into()),
            client_id: "whistle".into(),
            client_secret: Some(SecretString::from("s3cret")),
            redirect_url: Some("https://whistle.example.org/api/v1/auth/oidc/callback".into()),
            ..Default::default()
        }
    }

    fn refused(s: &OidcSettings, env: Environment) -> (&'static str, String) {
        match OidcConfig::from_settings(s, env) {
            Err(SettingsError::Invalid { key, message }) => (key, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn single_sign_on_is_off_without_an_issuer() {
        assert!(OidcConfig::from_settings(&OidcSettings::default(), Environment::Production).expect("valid").is_none());
    }

    #[test]
    fn a_complete_https_configuration_is_accepted_with_default_labels() {
        let c = OidcConfig::from_settings(&settings("https://id.example.org/realms/city"), Environment::Production)
            .expect("valid")
            .expect("on");
        assert_eq!(c.discovery_url.as_str(), "https://id.example.org/realms/city/.well-known/openid-configuration");
        assert_eq!(c.username_claim, "preferred_username");
        assert_eq!(c.label, Label { zh: DEFAULT_LABEL_ZH.into(), en: DEFAULT_LABEL_EN.into() });
        assert!(c.secure_cookie() && !c.allow_http);
        let mut s = settings("https://id.example.org/");
        s.label = Some("政务通".into());
        s.label_en = Some("City ID".into());
        let c = OidcConfig::from_settings(&s, Environment::Production).expect("valid").expect("on");
        assert_eq!(c.issuer, "https://id.example.org/", "the issuer is kept exactly, trailing slash too");
        assert_eq!(c.discovery_url.as_str(), "https://id.example.org/.well-known/openid-configuration");
        assert_eq!(c.label, Label { zh: "政务通".into(), en: "City ID".into() });
    }

    #[test]
    fn plain_http_is_only_for_a_loopback_provider_outside_production() {
        let mut s = settings("http://127.0.0.1:9400");
        s.redirect_url = Some("http://127.0.0.1:8080/api/v1/auth/oidc/callback".into());
        let c = OidcConfig::from_settings(&s, Environment::Development).expect("valid").expect("on");
        assert!(c.allow_http && !c.secure_cookie());
        let (key, message) = refused(&s, Environment::Production);
        assert_eq!(key, "auth.oidc.issuer");
        assert!(message.contains("production"), "{message}");
        let (key, _) = refused(&settings("http://id.example.org"), Environment::Development);
        assert_eq!(key, "auth.oidc.issuer");
        let (key, _) = refused(&settings("ftp://id.example.org"), Environment::Development);
        assert_eq!(key, "auth.oidc.issuer");
    }

    #[test]
    fn an_issuer_without_a_secret_or_a_callback_is_refused_by_name() {
        let mut s = settings("https://id.example.org");
        s.client_secret = None;
        assert_eq!(refused(&s, Environment::Production).0, "auth.oidc.client_secret");
        s.client_secret = Some(SecretString::from(""));
        assert_eq!(refused(&s, Environment::Production).0, "auth.oidc.client_secret");
        let mut s = settings("https://id.example.org");
        s.client_id = " ".into();
        assert_eq!(refused(&s, Environment::Production).0, "auth.oidc.client_id");
        let mut s = settings("https://id.example.org");
        s.redirect_url = None;
        assert_eq!(refused(&s, Environment::Production).0, "auth.oidc.redirect_url");
        s.redirect_url = Some("https://whistle.example.org/somewhere-else".into());
        assert_eq!(refused(&s, Environment::Production).0, "auth.oidc.redirect_url");
        let s = OidcSettings { client_secret: Some(SecretString::from("x")), ..Default::default() };
        let (key, message) = refused(&s, Environment::Production);
        assert_eq!(key, "auth.oidc.issuer");
        assert!(message.contains("auth.oidc.client_secret"), "{message}");
    }
}
