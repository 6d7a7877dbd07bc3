//! `GET /api/v1/auth/config`, and single sign-on: `GET /api/v1/auth/oidc/login` and
//! `GET /api/v1/auth/oidc/callback` (crate::oidc has the flow; this file the HTTP of it).
//!
//! The callback answers a browser with a `303` to the console: on success with the token in the
//! URL fragment (`#/login?sso_token=…&expires_at=…`), which browsers never send to a server nor
//! put in a Referer, so it stays out of every access log; on failure with the error's code
//! (`#/login?sso_error=oidc_no_account`), so the login page says what went wrong. A client that
//! does not ask for HTML gets the API's JSON errors instead.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use whistle_auth::LoginError;
use whistle_schemas::api::{AuthConfig, OidcLabel, OidcLoginOption};

use super::AppState;
use crate::error::ApiError;
use crate::oidc::config::LOGIN_PATH;
use crate::oidc::flow::{self, FlowError};
use crate::oidc::{Flow, Oidc, ProviderError, ReturnTo};

/// `GET /api/v1/auth/config`: how one logs in here (public).
pub async fn config(State(state): State<AppState>) -> Json<AuthConfig> {
    let oidc = state.oidc.as_ref().map(|o| {
        let label = &o.config_ref().label;
        OidcLoginOption {
            login_url: LOGIN_PATH.to_owned(),
            label: OidcLabel { zh: label.zh.clone(), en: label.en.clone() },
        }
    });
    Json(AuthConfig { password: true, oidc })
}

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// The callback's parameters; providers add others (`iss`, `session_state`, ...), which are
/// ignored.
#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /api/v1/auth/oidc/login?return_to=/path`: a `302` to the provider's authorization
/// endpoint, with the flow kept in a signed cookie.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let browser = wants_html(&headers);
    let Some(oidc) = state.oidc.clone() else { return refuse(ApiError::OidcNotConfigured, browser, None, false) };
    let secure = oidc.config_ref().secure_cookie();
    let query: LoginQuery = match serde_urlencoded::from_str(query.as_deref().unwrap_or_default()) {
        Ok(q) => q,
        Err(e) => return refuse(ApiError::MalformedQuery(e.to_string()), browser, None, secure),
    };
    let return_to = match query.return_to.as_deref().map(ReturnTo::parse).transpose() {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => {
            let err = ApiError::InvalidField { field: "return_to", message: e.to_string() };
            return refuse(err, browser, None, secure);
        }
    };
    let flow = Flow::start(return_to.clone());
    let url = match oidc.provider.authorization_url(&flow).await {
        Ok(url) => url,
        Err(e) => return refuse(provider_error(e), browser, Some(&return_to), secure),
    };
    let cookie = flow::set_cookie(&oidc.flows.sign(&flow, chrono::Utc::now()), secure);
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    insert(headers, header::LOCATION, url.as_str());
    insert(headers, header::SET_COOKIE, &cookie);
    no_store(headers);
    response
}

/// `GET /api/v1/auth/oidc/callback?code&state`: the provider's answer. Logs the Whistle account
/// the id_token names in, exactly as a password login would, and hands the token to the console.
pub async fn callback(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let browser = wants_html(&headers);
    let Some(oidc) = state.oidc.clone() else { return refuse(ApiError::OidcNotConfigured, browser, None, false) };
    let secure = oidc.config_ref().secure_cookie();
    let flow = flow::read_cookie(&headers).ok_or(FlowError::Missing).and_then(|v| oidc.flows.verify(&v));
    let return_to = flow.as_ref().ok().map(|f| f.return_to.clone());
    match sign_in(&state, &oidc, flow, query.as_deref().unwrap_or_default()).await {
        Ok(answer) => {
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("sso_token", &answer.token)
                .append_pair("expires_at", &answer.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .finish();
            let to = return_to.unwrap_or_default();
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            insert(headers, header::LOCATION, &format!("{}#/login?{fragment}", to.as_str()));
            insert(headers, header::SET_COOKIE, &flow::clear_cookie(secure));
            no_store(headers);
            response
        }
        Err(e) => refuse(e, browser, return_to.as_ref(), secure),
    }
}

/// Every check of the callback, then the login.
async fn sign_in(
    state: &AppState,
    oidc: &Oidc,
    flow: Result<Flow, FlowError>,
    query: &str,
) -> Result<whistle_schemas::api::LoginResponse, ApiError> {
    let query: CallbackQuery = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::OidcFlowInvalid(format!("the callback's query: {e}")))?;
    let flow = flow.map_err(|e| ApiError::OidcFlowInvalid(e.to_string()))?;
    if let Some(error) = query.error {
        // The provider's word (access_denied, login_required, ...), bounded: it is shown.
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        return Err(ApiError::OidcFlowInvalid(format!("the identity provider did not sign you in ({error})")));
    }
    match query.state.as_deref() {
        Some(s) if flow::same(s, &flow.state) => {}
        _ => {
            return Err(ApiError::OidcFlowInvalid(
                "the callback's state is not this browser's sign-in (started elsewhere, or forged); start again".into(),
            ));
        }
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return Err(ApiError::OidcFlowInvalid("the callback carries no code".into()));
    };
    let id_token = oidc.provider.exchange(&code, &flow.verifier).await.map_err(provider_error)?;
    let claims = oidc.provider.validate(&id_token, &flow.nonce).await.map_err(provider_error)?;
    let username = oidc.provider.username(&claims).map_err(provider_error)?;
    let subject = claims.get("sub").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let principal = state.directory.account(&username).await.map_err(|e| {
        let user: String = username.chars().take(64).collect();
        let reason = match &e {
            LoginError::InvalidCredentials => "no account of that name".to_owned(),
            other => other.to_string(),
        };
        tracing::warn!(user = ?user, %subject, method = "oidc", %reason, "login refused");
        state.metrics.logins_refused.inc();
        match e {
            LoginError::InvalidCredentials => ApiError::OidcNoAccount(user),
            LoginError::Disabled => ApiError::OidcAccountDisabled(user),
            other => super::auth::login_error(other),
        }
    })?;
    state.metrics.logins.inc();
    tracing::info!(
        user = %principal.user,
        role = principal.role.name(),
        method = "oidc",
        issuer = %oidc.config_ref().issuer,
        %subject,
        "logged in"
    );
    super::auth::issue(state, &principal).await
}

fn provider_error(e: ProviderError) -> ApiError {
    match e {
        ProviderError::Unavailable(m) => ApiError::OidcProviderUnavailable(format!("{m}; a retry may help")),
        ProviderError::ClientRefused => ApiError::OidcProviderUnavailable(e.to_string()),
        ProviderError::CodeRefused(_) => ApiError::OidcFlowInvalid(e.to_string()),
        ProviderError::BadToken(m) => ApiError::OidcTokenInvalid(m),
    }
}

/// A refused sign-in: JSON, or for a browser a `303` to the console's login page with the code.
/// The flow cookie is cleared either way (a flow is tried once).
fn refuse(err: ApiError, browser: bool, return_to: Option<&ReturnTo>, secure: bool) -> Response {
    let mut response = if browser {
        let fragment =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("sso_error", err.code()).finish();
        let to = return_to.cloned().unwrap_or_default();
        let mut response = StatusCode::SEE_OTHER.into_response();
        insert(response.headers_mut(), header::LOCATION, &format!("{}#/login?{fragment}", to.as_str()));
        // The error rides along for the logging middleware, as an ApiError answer's does.
        response.extensions_mut().insert(std::sync::Arc::new(err));
        response
    } else {
        err.into_response()
    };
    let headers = response.headers_mut();
    insert(headers, header::SET_COOKIE, &flow::clear_cookie(secure));
    no_store(headers);
    response
}

/// Whether the request is a browser's navigation (it asks for HTML).
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/html"))
}

/// Neither the redirects nor the cookie are cached; the callback's URL (its code) is not sent on
/// as a Referer.
fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    // Every value here is built from checked parts (ASCII URLs, base64url); one that is not
    // would be a bug, and is left out rather than answered.
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name, v);
        }
        Err(_) => tracing::error!(header = %name, "an OIDC answer header was not a valid header value"),
    }
}
