//! The account store end to end: an administrator creates, disables, enables, resets and
//! re-roles accounts; people log in with them and change their own passwords; every change is
//! audited; disabling, resetting and re-roling revoke the account's tokens in every service.
//! In-process services against real Kafka, Redis and PostgreSQL (a database of the test's own).

use std::time::Duration;

use serde_json::{Value, json};
use whistle_tests::*;

struct Client<'a> {
    stack: &'a Stack,
}

impl Client<'_> {
    async fn send(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{base}{path}");
        let mut req = match method {
            "GET" => self.stack.http.get(url),
            _ => self.stack.http.post(url),
        };
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn intake(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        self.send(&self.stack.api, method, path, token, body).await
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.intake(method, path, Some(&token(&as_admin())), body).await
    }

    async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        self.intake("POST", "/api/v1/auth/login", None, Some(json!({"username": username, "password": password}))).await
    }

    async fn token_of(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, 200, "{username} logs in: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Waits (a little over the verifiers' cache time) until `token` is refused as revoked by
    /// intake, the registry and the SLA service.
    async fn refused_everywhere(&self, token: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for (base, path) in [
            (&self.stack.api, "/api/v1/auth/me"),
            (&self.stack.registry, "/api/v1/districts"),
            (&self.stack.sla, "/api/v1/sla/summary"),
        ] {
            loop {
                let (status, body) = self.send(base, "GET", path, Some(token), None).await;
                if status == 401 {
                    assert_eq!(body["error"]["code"], "token_revoked", "{path}: {body}");
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{path} still accepts the token: {status} {body}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_lives_through_creation_changes_and_revocation_all_audited() {
    let stack = Stack::start_with_database().await;
    let c = Client { stack: &stack };

    // Created by an administrator, with checks on the name, the password and the scope.
    let create = |username: &str, password: &str, scope: Value| {
        let mut body = json!({"username": username, "password": password});
        body.as_object_mut().expect("object").extend(scope.as_object().expect("object").clone());
        body
    };
    let (status, li) = c
        .admin(
            "POST",
            "/api/v1/accounts",
            Some(create("li.wei", "first-password-1", json!({"role": "manager", "district": "500103"}))),
        )
        .await;
    assert_eq!(status, 201, "{li}");
    assert_eq!(
        (li["role"].as_str(), li["district"].as_str(), li["enabled"].as_bool()),
        (Some("manager"), Some("500103"), Some(true))
    );
    assert!(li.get("password_hash").is_none(), "never shown: {li}");
    for (body, status_code) in [
        (create("li.wei", "first-password-1", json!({"role": "admin"})), (409, "account_exists")),
        (create("has space", "first-password-1", json!({"role": "admin"})), (400, "invalid_field")),
        (create("zhang.min", "short", json!({"role": "admin"})), (400, "invalid_field")),
        (create("zhang.min", "first-password-1", json!({"role": "town", "town": "999999001"})), (400, "invalid_field")),
        (
            create("zhang.min", "first-password-1", json!({"role": "admin", "district": "500103"})),
            (400, "invalid_field"),
        ),
    ] {
        let (status, answer) = c.admin("POST", "/api/v1/accounts", Some(body.clone())).await;
        assert_eq!((status, code(&answer)), (status_code.0, Some(status_code.1)), "{body}: {answer}");
    }

    // It logs in with its role and scope.
    let (status, login) = c.login("li.wei", "first-password-1").await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(
        (login["account"]["role"].as_str(), login["account"]["district"].as_str()),
        (Some("manager"), Some("500103"))
    );
    let first = login["token"].as_str().expect("token").to_owned();
    let (status, summary) = c.send(&stack.sla, "GET", "/api/v1/sla/summary", Some(&first), None).await;
    assert_eq!((status, summary["district"].as_str()), (200, Some("500103")), "{summary}");

    // It changes its own password: the old one must be right; every earlier token is revoked.
    let change = |old: &str, new: &str| Some(json!({"old_password": old, "new_password": new}));
    let (status, answer) =
        c.intake("POST", "/api/v1/auth/password", Some(&first), change("wrong-password", "second-password-2")).await;
    assert_eq!((status, code(&answer)), (422, Some("wrong_password")), "{answer}");
    let (status, answer) =
        c.intake("POST", "/api/v1/auth/password", Some(&first), change("first-password-1", "li.wei")).await;
    assert_eq!((status, code(&answer)), (400, Some("invalid_field")), "not its name: {answer}");
    let (status, changed) =
        c.intake("POST", "/api/v1/auth/password", Some(&first), change("first-password-1", "second-password-2")).await;
    assert_eq!(status, 200, "{changed}");
    let second = changed["token"].as_str().expect("a fresh token").to_owned();
    c.refused_everywhere(&first).await;
    assert_eq!(c.intake("GET", "/api/v1/auth/me", Some(&second), None).await.0, 200, "the fresh token works");
    assert_eq!(code(&c.login("li.wei", "first-password-1").await.1), Some("invalid_credentials"));
    let third = c.token_of("li.wei", "second-password-2").await;

    // Disabled: it cannot log in (it learns why only with the right password), its tokens die.
    let (status, disabled) = c.admin("POST", "/api/v1/accounts/li.wei/disable", None).await;
    assert_eq!((status, disabled["enabled"].as_bool()), (200, Some(false)), "{disabled}");
    c.refused_everywhere(&second).await;
    c.refused_everywhere(&third).await;
    let mut board = Board::connect(&stack.ws).await;
    board.send(json!({"type": "auth", "token": third})).await;
    assert!(
        board.next_within(Duration::from_secs(10)).await.is_none_or(|f| f["type"] != "authenticated"),
        "the gateway refuses it"
    );
    assert_eq!(code(&c.login("li.wei", "second-password-2").await.1), Some("account_disabled"));
    assert_eq!(code(&c.login("li.wei", "wrong-password").await.1), Some("invalid_credentials"));
    let (status, answer) = c.admin("POST", "/api/v1/accounts/admin/disable", None).await;
    assert_eq!((status, code(&answer)), (409, Some("own_account")), "{answer}");
    let (status, answer) = c.admin("POST", "/api/v1/accounts/nobody/disable", None).await;
    assert_eq!((status, code(&answer)), (404, Some("not_found")), "{answer}");

    // Enabled again, its password reset and its role changed: each revokes what it held.
    assert_eq!(c.admin("POST", "/api/v1/accounts/li.wei/enable", None).await.0, 200);
    let fourth = c.token_of("li.wei", "second-password-2").await;
    let (status, answer) =
        c.admin("POST", "/api/v1/accounts/li.wei/password", Some(json!({"password": "third-password-3"}))).await;
    assert_eq!(status, 200, "{answer}");
    c.refused_everywhere(&fourth).await;
    let fifth = c.token_of("li.wei", "third-password-3").await;
    let (status, answer) =
        c.admin("POST", "/api/v1/accounts/li.wei/role", Some(json!({"role": "town", "town": TOWN}))).await;
    assert_eq!((status, answer["role"].as_str(), answer["town"].as_str()), (200, Some("town"), Some(TOWN)), "{answer}");
    c.refused_everywhere(&fifth).await;
    let (_, login) = c.login("li.wei", "third-password-3").await;
    assert_eq!(
        (login["account"]["role"].as_str(), login["account"]["town"].as_str()),
        (Some("town"), Some(TOWN)),
        "{login}"
    );

    // The list shows it; the audit tells who did what, newest first.
    let (status, list) = c.admin("GET", "/api/v1/accounts", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        list["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["username"].as_str()).collect();
    assert_eq!(names, ["li.wei"], "{list}");
    let (status, audit) = c.admin("GET", "/api/v1/accounts/audit?username=li.wei", None).await;
    assert_eq!(status, 200, "{audit}");
    let steps: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or(""), e["actor"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        steps,
        [
            ("role_assigned", "admin"),
            ("password_reset", "admin"),
            ("enabled", "admin"),
            ("disabled", "admin"),
            ("password_changed", "li.wei"),
            ("created", "admin"),
        ],
        "{audit}"
    );
    let role = &audit["entries"][0]["detail"];
    assert_eq!(role["from"], json!({"role": "manager", "district": "500103"}), "{role}");
    assert_eq!(role["to"], json!({"role": "town", "town": TOWN, "district": "500103"}), "{role}");
    assert!(!audit.to_string().contains("password-"), "no password in the audit: {audit}");
    let (_, page) = c.admin("GET", "/api/v1/accounts/audit?limit=2", None).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2));
    let before = page["next_before"].as_i64().expect("another page");
    let (_, older) = c.admin("GET", &format!("/api/v1/accounts/audit?limit=2&before={before}"), None).await;
    assert!(older["entries"][0]["id"].as_i64().is_some_and(|id| id < before), "{older}");

    // The audit cannot be rewritten, even with the database's own credentials.
    {
        use sqlx::Connection as _;
        let mut conn =
            sqlx::PgConnection::connect(stack.iso.database.as_deref().expect("a database")).await.expect("connects");
        let update = sqlx::query("UPDATE account_audit SET actor = 'someone else'").execute(&mut conn).await;
        assert!(update.is_err_and(|e| e.to_string().contains("append-only")), "the audit is append-only");
        let delete = sqlx::query("DELETE FROM account_audit").execute(&mut conn).await;
        assert!(delete.is_err(), "nor deleted");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_account_shadows_the_demo_account_of_its_name_and_demo_passwords_are_not_changed_here() {
    let stack = Stack::start_with_database().await;
    let c = Client { stack: &stack };
    let body =
        json!({"username": "manager-500104", "password": "a-real-password-1", "role": "manager", "district": "500104"});
    assert_eq!(c.admin("POST", "/api/v1/accounts", Some(body)).await.0, 201);
    assert_eq!(code(&c.login("manager-500104", DEMO_PASSWORD).await.1), Some("invalid_credentials"), "shadowed");
    c.token_of("manager-500104", "a-real-password-1").await;
    // Other demo accounts are still there, and their password is not the store's to change.
    let demo = c.token_of("manager-500103", DEMO_PASSWORD).await;
    let change = json!({"old_password": DEMO_PASSWORD, "new_password": "a-new-password-1"});
    let (status, answer) = c.intake("POST", "/api/v1/auth/password", Some(&demo), Some(change)).await;
    assert_eq!((status, code(&answer)), (409, Some("account_read_only")), "{answer}");
    // Logging out revokes that one token.
    assert_eq!(c.intake("POST", "/api/v1/auth/logout", Some(&demo), None).await.0, 204);
    c.refused_everywhere(&demo).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_database_the_account_api_says_so_and_logins_still_work() {
    let stack = Stack::start().await;
    let c = Client { stack: &stack };
    let (status, answer) = c.admin("GET", "/api/v1/accounts", None).await;
    assert_eq!((status, code(&answer)), (503, Some("unavailable")), "{answer}");
    c.token_of("admin", DEMO_PASSWORD).await;
    stack.stop().await;
}
