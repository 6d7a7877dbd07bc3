//! Logging in as the demo accounts, as the console does: one login per account, tokens reused.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Tokens of the demo accounts (`town-<code>`, `dept-<code>`, `manager`), by username.
#[derive(Clone)]
pub struct Logins {
    http: reqwest::Client,
    base: String,
    password: String,
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

impl Logins {
    /// The password is `WHISTLE_DEMO_PASSWORD`, as the dev stack's, or `whistle-demo`.
    pub fn new(http: reqwest::Client, base: &str) -> Logins {
        let password = std::env::var("WHISTLE_DEMO_PASSWORD").unwrap_or_else(|_| "whistle-demo".to_owned());
        Logins { http, base: base.to_owned(), password, tokens: Arc::default() }
    }

    pub async fn token(&self, username: &str) -> anyhow::Result<String> {
        if let Some(token) = self.tokens.lock().await.get(username) {
            return Ok(token.clone());
        }
        let resp = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": username, "password": self.password}))
            .send()
            .await
            .with_context(|| format!("logging in as {username}"))?;
        if !resp.status().is_success() {
            bail!("login as {username} refused ({}): is the stack running with demo accounts?", resp.status());
        }
        let body: Value = resp.json().await?;
        let token = body["token"].as_str().context("login answer has a token")?.to_owned();
        self.tokens.lock().await.insert(username.to_owned(), token.clone());
        Ok(token)
    }
}

/// Connects a board and authenticates it with its first frame.
pub async fn connect(url: &str, token: &str) -> anyhow::Result<Socket> {
    // tungstenite's 128 KiB read buffer per socket would make thousands of idle boards cost the
    // load generator gigabytes; the buffer grows for a large snapshot as it must.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .with_context(|| format!("connecting {url}"))?;
    ws.send(Message::Text(json!({"type": "auth", "token": token}).to_string().into())).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("\"authenticated\"") => Ok(ws),
        other => bail!("the gateway did not accept the token: {other:?}"),
    }
}
