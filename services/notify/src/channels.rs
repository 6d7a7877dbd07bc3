//! The channels a delivery goes out on: email over SMTP (lettre), the WeCom and DingTalk group
//! robots (their documented JSON webhook bodies, `msgtype: text` with @-mentions), and SMS
//! through a configurable HTTP gateway.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::plan::Channel;
use crate::settings::Settings;
use crate::store::Leased;

/// Why an attempt failed, and whether another attempt can help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub retryable: bool,
}

fn retryable(message: impl Into<String>) -> SendError {
    SendError { message: message.into(), retryable: true }
}

fn permanent(message: impl Into<String>) -> SendError {
    SendError { message: message.into(), retryable: false }
}

#[derive(Clone)]
pub struct Channels {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    http: reqwest::Client,
    sms_url: Option<String>,
    sms_token: Option<secrecy::SecretString>,
}

/// The WeCom group robot's text message (`mentioned_list` by WeCom id, `mentioned_mobile_list`
/// by mobile number).
pub fn wecom_body(content: &str, wecom_id: Option<&str>, phone: Option<&str>) -> Value {
    json!({
        "msgtype": "text",
        "text": {
            "content": content,
            "mentioned_list": wecom_id.into_iter().collect::<Vec<_>>(),
            "mentioned_mobile_list": phone.into_iter().collect::<Vec<_>>(),
        }
    })
}

/// The DingTalk custom robot's text message, @-mentioning by mobile number.
pub fn dingtalk_body(content: &str, phone: Option<&str>) -> Value {
    json!({
        "msgtype": "text",
        "text": {"content": content},
        "at": {"atMobiles": phone.into_iter().collect::<Vec<_>>(), "isAtAll": false},
    })
}

impl Channels {
    pub fn new(settings: &Settings) -> anyhow::Result<Channels> {
        let (host, port) = settings.smtp.host_port()?;
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_secs(settings.delivery.timeout_seconds)))
            .build();
        let from = settings.smtp.from.parse().map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.delivery.timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Channels { smtp, from, http, sms_url: settings.sms.url.clone(), sms_token: settings.sms.token.clone() })
    }

    pub async fn send(&self, d: &Leased) -> Result<(), SendError> {
        match Channel::parse(&d.channel) {
            Some(Channel::Email) => self.email(d).await,
            Some(Channel::Wecom) => {
                let content = format!("{}\n{}", d.subject, d.body);
                self.robot(&d.address, wecom_body(&content, d.mention_wecom.as_deref(), d.mention_phone.as_deref()))
                    .await
            }
            Some(Channel::Dingtalk) => {
                let content = format!("{}\n{}", d.subject, d.body);
                self.robot(&d.address, dingtalk_body(&content, d.mention_phone.as_deref())).await
            }
            Some(Channel::Sms) => self.sms(d).await,
            Some(Channel::None) | None => Err(permanent(format!("no channel {:?}", d.channel))),
        }
    }

    async fn email(&self, d: &Leased) -> Result<(), SendError> {
        let to = d.address.parse().map_err(|e| permanent(format!("recipient {:?}: {e}", d.address)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&d.subject)
            // The delivery id: a mail sent twice (a crash between the send and its record) shows
            // as two messages with one Message-ID.
            .message_id(Some(format!("<{}@whistle.notify>", d.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(d.body.clone())
            .map_err(|e| permanent(format!("building the message: {e}")))?;
        match self.smtp.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(permanent(format!("SMTP refused: {e}"))),
            Err(e) => Err(retryable(format!("SMTP: {e}"))),
        }
    }

    /// A robot answers 200 with `{"errcode": 0, "errmsg": "ok"}`; another errcode (e.g. the
    /// 20-messages-a-minute limit) is worth another attempt later.
    async fn robot(&self, url: &str, body: Value) -> Result<(), SendError> {
        let response = self.http.post(url).json(&body).send().await.map_err(|e| retryable(format!("robot: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let message = format!("robot answered {status}");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                retryable(message)
            } else {
                permanent(message)
            });
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        match answer.get("errcode").and_then(Value::as_i64) {
            None | Some(0) => Ok(()),
            Some(code) => Err(retryable(format!(
                "robot errcode {code}: {}",
                answer.get("errmsg").and_then(Value::as_str).unwrap_or("")
            ))),
        }
    }

    /// `POST {sms.url}` `{"id", "to", "text"}` with `Authorization: Bearer {sms.token}`; any 2xx
    /// is accepted (the gateway deduplicates on `id`).
    async fn sms(&self, d: &Leased) -> Result<(), SendError> {
        let Some(url) = &self.sms_url else { return Err(permanent("no SMS gateway configured (sms.url)")) };
        let mut request = self.http.post(url).json(&json!({"id": d.id, "to": d.address, "text": d.subject}));
        if let Some(token) = &self.sms_token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.map_err(|e| retryable(format!("SMS gateway: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 {
            Err(retryable(format!("SMS gateway answered {status}")))
        } else {
            Err(permanent(format!("SMS gateway answered {status}")))
        }
    }
}
