//! Single sign-on end to end: an intake in this process, configured with the real OpenID Connect
//! provider that `deploy/dev/oidc.sh` runs (at `WHISTLE_TEST_OIDC`, which `cargo xtask test`
//! sets), against real Kafka, Redis and PostgreSQL (a database of the test's own). The provider
//! enforces PKCE S256, so a wrong verifier or challenge fails the code exchange.
//!
//! The browser's part is played by hand: follow the login's redirect to the provider, post its
//! sign-in form for a subject whose `preferred_username` the test chose, and bring the code and
//! state back to intake's callback with the flow cookie.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use whistle_tests::*;

/// The public callback URL intake is configured with. The test carries the code to intake
/// itself, so this only has to be the same in the authorization request and the code exchange.
const REDIRECT_URL: &str = "http://127.0.0.1:8080/api/v1/auth/oidc/callback";
const CLIENT_ID: &str = "whistle-tests";

struct Sso {
    iso: Isolation,
    api: String,
    provider: String,
    /// Never follows redirects and keeps no cookies: the test looks at each step.
    http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What the login step left: the provider's authorization URL and the flow cookie.
struct Started {
    authorize: reqwest::Url,
    cookie: String,
    set_cookie: String,
}

fn provider_url() -> String {
    std::env::var("WHISTLE_TEST_OIDC").unwrap_or_else(|_| {
        panic!("WHISTLE_TEST_OIDC is not set: run the tests with `cargo xtask test`, which starts deploy/dev/oidc.sh")
    })
}

impl Sso {
    async fn start() -> Sso {
        let provider = provider_url();
        let mut iso = Isolation::new();
        iso.create_database().await;
        let mut settings = intake_settings(&iso);
        settings.auth.oidc = whistle_common::settings::OidcSettings {
            issuer: Some(provider.clone()),
            client_id: CLIENT_ID.into(),
            client_secret: Some("whistle-tests-client-secret".to_owned().into()),
            redirect_url: Some(REDIRECT_URL.into()),
            label_zh: Some("测试统一身份认证".into()),
            ..Default::default()
        };
        let app = whistle_intake::Application::build(settings).await.expect("intake starts");
        let api = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(app.run_until_stopped(async move { token.cancelled().await }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Sso { iso, api, provider, http, stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        self.iso.clean_up().await;
    }

    /// A subject of the provider, unique to this test, whose id_token names `username`.
    async fn subject(&self, username: &str) -> String {
        let sub = format!("sub-{}-{username}", self.iso.suffix);
        let resp = self
            .http
            .put(format!("{}/users/{sub}", self.provider))
            .json(&json!({"preferred_username": username, "email": format!("{username}@example.org")}))
            .send()
            .await
            .expect("the provider answers");
        assert!(resp.status().is_success(), "the provider took the claims: {}", resp.status());
        sub
    }

    async fn admin(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.api)).bearer_auth(token(&as_admin()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn create_account(&self, username: &str, role: Value) {
        let mut body = json!({"username": username, "password": "a-password-never-used-1"});
        body.as_object_mut().expect("object").extend(role.as_object().expect("object").clone());
        let (status, answer) = self.admin("/api/v1/accounts", Some(body)).await;
        assert_eq!(status, 201, "creates {username}: {answer}");
    }

    /// `GET /api/v1/auth/oidc/login`: the redirect to the provider and the flow cookie.
    async fn login(&self, return_to: &str) -> Started {
        let resp = self
            .http
            .get(format!("{}/api/v1/auth/oidc/login", self.api))
            .query(&[("return_to", return_to)])
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 302, "the login redirects");
        let authorize = reqwest::Url::parse(header(&resp, "location")).expect("an absolute URL");
        let set_cookie = header(&resp, "set-cookie").to_owned();
        let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
        Started { authorize, cookie, set_cookie }
    }

    /// The user signs in at the provider as `sub`: the provider's redirect back, as
    /// `(code, state)` and the whole query.
    async fn sign_in_at_provider(&self, started: &Started, sub: &str) -> String {
        let resp =
            self.http.post(started.authorize.clone()).form(&[("sub", sub)]).send().await.expect("the provider answers");
        assert_eq!(resp.status().as_u16(), 302, "the provider redirects back");
        let back = reqwest::Url::parse(header(&resp, "location")).expect("the redirect_uri");
        assert_eq!(back.as_str().split('?').next(), Some(REDIRECT_URL), "back to the configured callback");
        back.query().expect("code and state").to_owned()
    }

    /// `GET /api/v1/auth/oidc/callback?<query>` with the flow cookie (if any) and an Accept.
    async fn callback(&self, query: &str, cookie: Option<&str>, accept: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}/api/v1/auth/oidc/callback?{query}", self.api)).header("accept", accept);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send().await.expect("sent")
    }

    /// The whole flow for `sub`, answering the callback's response.
    async fn flow(&self, sub: &str, accept: &str) -> reqwest::Response {
        let started = self.login("/console/").await;
        let query = self.sign_in_at_provider(&started, sub).await;
        self.callback(&query, Some(&started.cookie), accept).await
    }
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers().get(name).unwrap_or_else(|| panic!("a {name} header")).to_str().expect("ASCII")
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The `?a=b&c=d` of a `#/login?...` fragment.
fn fragment_params(location: &str) -> (String, Vec<(String, String)>) {
    let (before, fragment) = location.split_once('#').expect("a fragment");
    let query = fragment.strip_prefix("/login?").expect("the console's login route");
    (before.to_owned(), url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
}

async fn json_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("a JSON error");
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn an_existing_account_signs_in_with_its_own_role_and_its_token_works() {
    let sso = Sso::start().await;
    let (status, config) = {
        let resp = sso.http.get(format!("{}/api/v1/auth/config", sso.api)).send().await.expect("sent");
        (resp.status().as_u16(), resp.json::<Value>().await.expect("JSON"))
    };
    assert_eq!(status, 200);
    assert_eq!(config["password"], true);
    assert_eq!(config["oidc"]["login_url"], "/api/v1/auth/oidc/login");
    assert_eq!(config["oidc"]["label"], json!({"zh": "测试统一身份认证", "en": "Single sign-on"}));

    // The role and scope are Whistle's: a district manager, whatever the provider says.
    sso.create_account("sso.manager", json!({"role": "manager", "district": "500103"})).await;
    let sub = sso.subject("sso.manager").await;

    let started = sso.login("/console/").await;
    let a = &started.authorize;
    assert_eq!(a.as_str().split('?').next(), Some(format!("{}/oauth2/authorize", sso.provider).as_str()));
    assert_eq!(param(a, "response_type").as_deref(), Some("code"));
    assert_eq!(param(a, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(a, "redirect_uri").as_deref(), Some(REDIRECT_URL));
    assert_eq!(param(a, "scope").as_deref(), Some("openid profile email"));
    assert_eq!(param(a, "code_challenge_method").as_deref(), Some("S256"));
    let challenge = param(a, "code_challenge").expect("a PKCE challenge");
    assert_eq!(challenge.len(), 43, "base64url of a SHA-256: {challenge}");
    let state = param(a, "state").expect("a state");
    assert!(state.len() >= 32 && param(a, "nonce").is_some_and(|n| n.len() >= 32 && n != state));
    for part in ["whistle_oidc_flow=", "HttpOnly", "SameSite=Lax", "Path=/api/v1/auth/oidc", "Max-Age=600"] {
        assert!(started.set_cookie.contains(part), "{part} in {}", started.set_cookie);
    }
    assert!(!started.cookie.contains(&state), "the cookie is signed claims, not the bare state");
    // A second login gets new random values.
    let again = sso.login("/console/").await;
    assert_ne!(param(&again.authorize, "state"), Some(state));

    let query = sso.sign_in_at_provider(&started, &sub).await;
    let resp = sso.callback(&query, Some(&started.cookie), "text/html").await;
    assert_eq!(resp.status().as_u16(), 303, "back to the console");
    assert_eq!(header(&resp, "cache-control"), "no-store");
    assert!(header(&resp, "set-cookie").contains("Max-Age=0"), "the flow cookie is cleared");
    let location = header(&resp, "location").to_owned();
    let (path, params) = fragment_params(&location);
    assert_eq!(path, "/console/", "the return_to, with the token only in the fragment");
    let token = params.iter().find(|(k, _)| k == "sso_token").map(|(_, v)| v.clone()).expect("a token");
    assert!(params.iter().any(|(k, v)| k == "expires_at" && v.ends_with('Z')));

    let me: Value = sso
        .http
        .get(format!("{}/api/v1/auth/me", sso.api))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str(), me["district"].as_str()),
        (Some("sso.manager"), Some("manager"), Some("500103")),
        "{me}"
    );
    // A normal Whistle token: logging out revokes it.
    let logout =
        sso.http.post(format!("{}/api/v1/auth/logout", sso.api)).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(logout.status().as_u16(), 204);
    let after = sso.http.get(format!("{}/api/v1/auth/me", sso.api)).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(json_error(after).await, (401, "token_revoked".to_owned()));

    // The code was used once: the same callback again is refused by the provider.
    let replay = sso.callback(&query, Some(&started.cookie), "application/json").await;
    assert_eq!(json_error(replay).await, (400, "oidc_flow_invalid".to_owned()));
    sso.stop().await;
}

#[tokio::test]
async fn a_tampered_or_missing_state_or_cookie_is_an_invalid_flow() {
    let sso = Sso::start().await;
    sso.create_account("sso.officer", json!({"role": "department", "department": "500103-EE"})).await;
    let sub = sso.subject("sso.officer").await;
    let started = sso.login("/").await;
    let query = sso.sign_in_at_provider(&started, &sub).await;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let with_state = |state: &str| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, if k == "state" { state } else { v });
        }
        s.finish()
    };
    let real = pairs.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone()).expect("state");
    let mut tampered = real.clone();
    tampered.replace_range(0..1, if real.starts_with('A') { "B" } else { "A" });
    let resp = sso.callback(&with_state(&tampered), Some(&started.cookie), "application/json").await;
    assert_eq!(json_error(resp).await, (400, "oidc_flow_invalid".to_owned()), "a tampered state");
    // Without the cookie (another browser), or with a forged one.
    let resp = sso.callback(&query, None, "application/json").await;
    assert_eq!(json_error(resp).await, (400, "oidc_flow_invalid".to_owned()), "no cookie");
    let resp = sso.callback(&query, Some("whistle_oidc_flow=a.b.c"), "application/json").await;
    assert_eq!(json_error(resp).await, (400, "oidc_flow_invalid".to_owned()), "a forged cookie");
    // The provider's refusal, for a browser: the login page with the code.
    let resp = sso.callback(&format!("error=access_denied&state={real}"), Some(&started.cookie), "text/html").await;
    assert_eq!(resp.status().as_u16(), 303);
    let (path, params) = fragment_params(header(&resp, "location"));
    assert_eq!((path.as_str(), params), ("/", vec![("sso_error".to_owned(), "oidc_flow_invalid".to_owned())]));
    // The flow was never completed: the real state still works once.
    let resp = sso.callback(&query, Some(&started.cookie), "application/json").await;
    assert_eq!(resp.status().as_u16(), 303, "the untampered callback signs in");

    // return_to must stay on this site.
    for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let resp = sso
            .http
            .get(format!("{}/api/v1/auth/oidc/login", sso.api))
            .query(&[("return_to", bad)])
            .send()
            .await
            .expect("sent");
        assert_eq!(json_error(resp).await, (400, "invalid_field".to_owned()), "{bad}");
    }
    sso.stop().await;
}

#[tokio::test]
async fn a_name_without_an_account_or_of_a_disabled_account_is_refused() {
    let sso = Sso::start().await;
    let nobody = sso.subject("no.such.account").await;
    let resp = sso.flow(&nobody, "application/json").await;
    assert_eq!(json_error(resp).await, (403, "oidc_no_account".to_owned()));
    // A browser lands on the login page, which says why.
    let resp = sso.flow(&nobody, "text/html,application/xhtml+xml").await;
    assert_eq!(resp.status().as_u16(), 303);
    let (path, params) = fragment_params(header(&resp, "location"));
    assert_eq!((path.as_str(), params), ("/console/", vec![("sso_error".to_owned(), "oidc_no_account".to_owned())]));

    sso.create_account("sso.leaver", json!({"role": "admin"})).await;
    let leaver = sso.subject("sso.leaver").await;
    assert_eq!(sso.flow(&leaver, "application/json").await.status().as_u16(), 303, "signs in while enabled");
    let (status, _) = sso.admin("/api/v1/accounts/sso.leaver/disable", None).await;
    assert_eq!(status, 200);
    let resp = sso.flow(&leaver, "application/json").await;
    assert_eq!(json_error(resp).await, (403, "oidc_account_disabled".to_owned()));
    sso.stop().await;
}
