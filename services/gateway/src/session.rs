//! One WebSocket session: the subscription protocol, independent of the socket type so it can be
//! driven by channels in tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_util::sync::CancellationToken;
use whistle_auth::{AuthError, ChannelRef, TokenError, Verified, Verifier};
use whistle_case::Visibility;
use whistle_casestore::{Channel, Cursor, PageToken, StreamEntry};
use whistle_common::ratelimit::Rate;
use whistle_schemas::ws::{
    CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY_VIOLATION, CLOSE_SLOW_CONSUMER, CLOSE_UNAUTHORIZED, ClientMessage,
    ServerMessage,
};

use crate::guard::{Budgets, FrameGuard};
use crate::hub::{Frame, Hub, Membership, render_for};
use crate::metrics::Metrics;

/// What the session sends.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    Frame(Arc<Frame>),
    /// A frame many sessions send as is (a shared snapshot).
    Shared(axum::extract::ws::Utf8Bytes),
    Ping,
    Close(u16, &'static str),
}

/// What the session receives.
#[derive(Debug)]
pub enum Incoming {
    Text(String),
    Binary,
    /// A frame over the size limit; the socket cannot be read further.
    TooBig,
    Close,
    /// Pings and pongs; the socket layer answers pings itself.
    Control,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Client,
    SlowConsumer,
    Shutdown,
    SocketError,
    /// No valid token in time, a forged or expired one, or the token expired mid-session.
    Unauthorized,
    /// Closed with 1009: a client frame over the size limit.
    TooBig,
    /// Closed with 1008: too many consecutive bad frames.
    PolicyViolation,
    /// Closed with 1013: the token denylist could not be asked.
    Unavailable,
}

impl Ended {
    pub fn label(self) -> &'static str {
        match self {
            Ended::Client => "client",
            Ended::SlowConsumer => "slow_consumer",
            Ended::Shutdown => "shutdown",
            Ended::SocketError => "error",
            Ended::Unauthorized => "unauthorized",
            Ended::TooBig => "too_big",
            Ended::PolicyViolation => "policy_violation",
            Ended::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_subscriptions: usize,
    pub ping: Duration,
    /// Cases in one snapshot frame at most; the rest arrive as they change.
    pub max_snapshot_cases: usize,
    /// Consecutive client frames answered with an error before the session is closed (1008).
    pub max_consecutive_errors: u32,
    /// Client frames per connection: a burst and a sustained rate.
    pub frames: Rate,
    /// The client frame size limit, for the 1009 close reason.
    pub max_message_bytes: usize,
    /// Subscribes per connection: a burst and a sustained rate.
    pub subscribes: Rate,
    /// Replayed stream entries per connection: a budget and its refill per second.
    pub replay: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_subscriptions: 32,
            ping: Duration::from_secs(30),
            max_snapshot_cases: 500,
            max_consecutive_errors: 20,
            frames: Rate::new(64, 10.0),
            max_message_bytes: 16 * 1024,
            subscribes: Rate::new(40, 1.0),
            replay: Rate::new(2_000, 10.0),
        }
    }
}

/// How a session authenticates.
#[derive(Clone)]
pub struct Auth {
    /// Checks tokens: signature, expiry and the denylist of revoked ones.
    pub verifier: Arc<Verifier>,
    /// The verdict on the upgrade request's `Authorization` header, if it had one.
    pub upgrade: Option<Result<Verified, AuthError>>,
    /// How long a session without a header may take to send its `auth` frame.
    pub deadline: Duration,
}

/// Longest a single write to the socket may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Entries fetched from Redis per round trip while catching up.
const CATCH_UP_BATCH: usize = 256;

struct Subscription {
    _membership: Membership,
    /// The last cursor delivered on this channel.
    last: Cursor,
}

struct Session<S> {
    hub: Arc<Hub>,
    verifier: Arc<Verifier>,
    /// Who is connected, once authenticated.
    who: Option<Verified>,
    /// What the account may see of a case; every frame with cases is narrowed to it.
    visibility: Visibility,
    out: S,
    subs: HashMap<Channel, Subscription>,
    streams: StreamMap<Channel, BroadcastStream<Arc<Frame>>>,
    limits: Limits,
    metrics: Metrics,
    guard: FrameGuard,
    budgets: Budgets,
}

/// How a resume from a client's cursor went.
enum Resume {
    /// Every entry after the cursor was sent, up to this one.
    Done(Cursor),
    /// The connection's replay budget ran out; it gets a snapshot instead.
    OverBudget,
    /// Redis failed.
    Failed,
}

/// Runs a session until the client leaves, falls behind, or the gateway shuts down.
pub async fn run<S, R>(
    hub: Arc<Hub>,
    out: S,
    mut incoming: R,
    limits: Limits,
    auth: Auth,
    metrics: Metrics,
    token: CancellationToken,
) -> Ended
where
    S: Sink<Outgoing> + Unpin,
    R: Stream<Item = Incoming> + Unpin,
{
    let mut ping = tokio::time::interval(limits.ping);
    ping.reset();
    let guard = FrameGuard::new(limits.frames, limits.max_consecutive_errors);
    let budgets = Budgets::new(limits.subscribes, limits.replay);
    let mut session = Session {
        hub,
        verifier: auth.verifier,
        who: None,
        // The narrowest until the token says otherwise (nothing is sent before it anyway).
        visibility: Visibility::Town,
        out,
        subs: HashMap::new(),
        streams: StreamMap::new(),
        limits,
        metrics,
        guard,
        budgets,
    };
    let started = match auth.upgrade {
        Some(Ok(verified)) => session.authenticated(verified).await.map_err(|_| Ended::SocketError),
        Some(Err(err)) => Err(session.unauthorized(err).await),
        None => Ok(()),
    };
    if let Err(ended) = started {
        return ended;
    }
    let auth_deadline = tokio::time::Instant::now() + auth.deadline;
    let ended = loop {
        // Without a token: the deadline to send one; with one: its expiry.
        let until = match &session.who {
            None => auth_deadline,
            Some(who) => expiry_instant(who),
        };
        let step = tokio::select! {
            () = tokio::time::sleep_until(until) => {
                let reason = if session.who.is_some() { TokenError::Expired } else { TokenError::Invalid };
                break session.unauthorized(AuthError::Token(reason)).await;
            }
            () = token.cancelled() => {
                let _ = session.out.send(Outgoing::Close(1001, "gateway shutting down; resume with your cursors")).await;
                break Ended::Shutdown;
            }
            _ = ping.tick() => {
                // A token revoked since it was checked (logout, a disabled account) ends the
                // session here, within one ping interval.
                if let Some(who) = &session.who
                    && let Err(err) = session.verifier.recheck(who).await
                {
                    break session.unauthorized(err).await;
                }
                session.send(Outgoing::Ping).await
            }
            msg = incoming.next() => match msg {
                None | Some(Incoming::Close) => break Ended::Client,
                Some(Incoming::Text(text)) => match session.on_client_frame(Some(&text)).await {
                    Err(Stop::Unauthorized(err)) => break session.unauthorized(err).await,
                    Err(Stop::Gone) => Err(SocketGone),
                    Ok(()) => Ok(()),
                },
                Some(Incoming::Binary) => match session.on_client_frame(None).await {
                    Err(Stop::Unauthorized(err)) => break session.unauthorized(err).await,
                    Err(Stop::Gone) => Err(SocketGone),
                    Ok(()) => Ok(()),
                },
                Some(Incoming::TooBig) => {
                    let reason = session.too_big_reason();
                    session.close(CLOSE_MESSAGE_TOO_BIG, reason).await;
                    break Ended::TooBig;
                }
                Some(Incoming::Control) => Ok(()),
            },
            Some((channel, item)) = session.streams.next(), if !session.streams.is_empty() => match item {
                Ok(frame) => session.deliver(&channel, frame).await,
                Err(BroadcastStreamRecvError::Lagged(_)) => {
                    let _ = session.out.send(Outgoing::Close(CLOSE_SLOW_CONSUMER, "too slow; reconnect and resume with your cursors")).await;
                    break Ended::SlowConsumer;
                }
            },
        };
        if step.is_err() {
            break Ended::SocketError;
        }
        if session.guard.tripped() {
            session.close(CLOSE_POLICY_VIOLATION, "too many bad frames in a row; check the client").await;
            break Ended::PolicyViolation;
        }
    };
    session.metrics.subscriptions.sub(session.subs.len() as i64);
    ended
}

/// The socket refused a write: the session is over.
struct SocketGone;

/// Why handling a client frame ends the session.
enum Stop {
    Gone,
    Unauthorized(AuthError),
}

impl From<SocketGone> for Stop {
    fn from(_: SocketGone) -> Stop {
        Stop::Gone
    }
}

/// The tokio instant at which a verified token expires.
fn expiry_instant(who: &Verified) -> tokio::time::Instant {
    let left = (who.expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// The channel as the authorization rules name it.
pub fn channel_ref(channel: &Channel) -> ChannelRef<'_> {
    match channel {
        Channel::Department(code) => ChannelRef::Department(code),
        Channel::Town(code) => ChannelRef::Town(code),
        Channel::Manager(scope) => ChannelRef::Manager(scope),
        Channel::Supervision(scope) => ChannelRef::Supervision(scope),
    }
}

impl<S: Sink<Outgoing> + Unpin> Session<S> {
    async fn send(&mut self, msg: Outgoing) -> Result<(), SocketGone> {
        match tokio::time::timeout(SEND_TIMEOUT, self.out.send(msg)).await {
            Ok(Ok(())) => {}
            // A refused write, or one that takes this long: the peer is gone or hopeless.
            Ok(Err(_)) | Err(_) => return Err(SocketGone),
        }
        self.metrics.frames_sent.inc();
        Ok(())
    }

    async fn send_message(&mut self, msg: &ServerMessage) -> Result<(), SocketGone> {
        match serde_json::to_string(msg) {
            Ok(text) => self.send(Outgoing::Text(text)).await,
            Err(err) => {
                tracing::error!(error = %err, "cannot encode a server message");
                Ok(())
            }
        }
    }

    /// Sends a close frame; the session ends whether or not it arrives.
    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.out.send(Outgoing::Close(code, reason))).await;
    }

    fn too_big_reason(&self) -> &'static str {
        // Close reasons are static; name the default limit, or say it is configured.
        if self.limits.max_message_bytes == 16 * 1024 {
            "message too big: client frames are at most 16 KiB"
        } else {
            "message too big: over the gateway's client frame limit"
        }
    }

    /// One text (or, `None`, binary) frame from the client, within its frame rate.
    async fn on_client_frame(&mut self, text: Option<&str>) -> Result<(), Stop> {
        let result = match (self.guard.begin(), text) {
            (Err(wait), _) => {
                let message = format!("too many frames; wait {} ms", wait.as_millis().max(1));
                self.error("rate_limited", &message, None).await.map_err(Stop::from)
            }
            (Ok(()), Some(text)) => self.on_text(text).await,
            (Ok(()), None) => self.error("unsupported_frame", "send JSON text frames", None).await.map_err(Stop::from),
        };
        self.guard.end();
        result
    }

    async fn error(&mut self, code: &str, message: &str, channel: Option<&Channel>) -> Result<(), SocketGone> {
        // Redis being down is not the client's fault; everything else answered here is.
        if code != "unavailable" {
            self.guard.strike();
        }
        let msg = ServerMessage::Error {
            code: code.into(),
            message: message.into(),
            channel: channel.map(|c| c.to_string()),
            retry_after_ms: None,
        };
        self.send_message(&msg).await
    }

    /// The gateway is serving a storm of subscribes and this one would wait too long: not the
    /// client's fault (no strike), and it says when to try again.
    async fn overloaded(&mut self, channel: &Channel, retry_after: Duration) -> Result<(), SocketGone> {
        self.metrics.subscribes_refused.inc();
        let retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
        let msg = ServerMessage::Error {
            code: "overloaded".into(),
            message: format!("the gateway is serving many subscribes; retry in {retry_after_ms} ms"),
            channel: Some(channel.to_string()),
            retry_after_ms: Some(retry_after_ms),
        };
        self.send_message(&msg).await
    }

    /// This connection subscribes faster than its own rate allows: its fault (a strike), and it
    /// is told when it may subscribe again.
    async fn subscribe_rate_limited(&mut self, channel: &Channel, wait: Duration) -> Result<(), SocketGone> {
        self.guard.strike();
        self.metrics.subscribes_rate_limited.inc();
        let retry_after_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let msg = ServerMessage::Error {
            code: "rate_limited".into(),
            message: format!("too many subscribes on this connection; retry in {retry_after_ms} ms"),
            channel: Some(channel.to_string()),
            retry_after_ms: Some(retry_after_ms),
        };
        self.send_message(&msg).await
    }

    /// Waits this subscribe's turn; `false` when it was refused (and told so).
    async fn admitted(&mut self, channel: &Channel) -> Result<bool, SocketGone> {
        match self.hub.admission().reserve() {
            Ok(wait) => {
                if !wait.is_zero() {
                    self.metrics.subscribes_delayed.inc();
                    tokio::time::sleep(wait).await;
                }
                Ok(true)
            }
            Err(retry_after) => self.overloaded(channel, retry_after).await.map(|()| false),
        }
    }

    /// Sends the close frame for a refused token.
    async fn unauthorized(&mut self, err: AuthError) -> Ended {
        let reason = match err {
            AuthError::Token(TokenError::Expired) => "token expired; log in again and reconnect",
            AuthError::Token(TokenError::Revoked) => "token revoked; log in again and reconnect",
            AuthError::Unavailable => {
                // Not the client's fault: 1013 (try again later), and it keeps its token.
                let _ =
                    self.out.send(Outgoing::Close(1013, "cannot check your token just now; reconnect shortly")).await;
                return Ended::Unavailable;
            }
            _ => "a valid token is required; log in and reconnect",
        };
        let _ = self.out.send(Outgoing::Close(CLOSE_UNAUTHORIZED, reason)).await;
        Ended::Unauthorized
    }

    async fn authenticated(&mut self, verified: Verified) -> Result<(), SocketGone> {
        let msg = ServerMessage::Authenticated {
            user: verified.principal.user.clone(),
            role: verified.principal.role.name().to_owned(),
            expires_at: verified.expires_at,
        };
        self.visibility = verified.principal.case_visibility();
        self.who = Some(verified);
        self.send_message(&msg).await
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(msg) => msg,
            Err(err) => {
                // serde can quote the input (e.g. an unknown `type`); keep the echo short.
                let mut message = format!("not a client message: {err}");
                if message.len() > 300 {
                    let cut = (0..=300).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
                    message.truncate(cut);
                    message.push('…');
                }
                return Ok(self.error("malformed_message", &message, None).await?);
            }
        };
        if let ClientMessage::Auth { token } = &msg {
            let verified = self.verifier.verify(token).await.map_err(Stop::Unauthorized)?;
            // A fresh token extends the session; it may not change who is connected.
            if let Some(who) = &self.who
                && who.principal != verified.principal
            {
                return Err(Stop::Unauthorized(AuthError::Token(TokenError::Invalid)));
            }
            return Ok(self.authenticated(verified).await?);
        }
        if self.who.is_none() {
            let message = "send {\"type\":\"auth\",\"token\":…} first";
            return Ok(self.error("unauthenticated", message, None).await?);
        }
        Ok(self.on_subscription(msg).await?)
    }

    async fn on_subscription(&mut self, msg: ClientMessage) -> Result<(), SocketGone> {
        match msg {
            ClientMessage::Auth { .. } => Ok(()),
            ClientMessage::Subscribe { channel, cursor } => self.subscribe(&channel, cursor.as_deref()).await,
            ClientMessage::More { channel, after } => self.more(&channel, &after).await,
            ClientMessage::Unsubscribe { channel } => {
                let Ok(channel) = Channel::parse(&channel) else {
                    return self.error("invalid_channel", "expected department:CODE or town:CODE", None).await;
                };
                if self.subs.remove(&channel).is_some() {
                    self.streams.remove(&channel);
                    self.metrics.subscriptions.dec();
                }
                self.send_message(&ServerMessage::Unsubscribed { channel: channel.to_string() }).await
            }
        }
    }

    async fn subscribe(&mut self, channel: &str, cursor: Option<&str>) -> Result<(), SocketGone> {
        let channel = match Channel::parse(channel) {
            Ok(c) => c,
            Err(err) => return self.error("invalid_channel", &err.to_string(), None).await,
        };
        if !self.hub.knows(&channel) {
            let message = format!("{channel} names no department, town or district in the registry");
            return self.error("unknown_channel", &message, Some(&channel)).await;
        }
        let allowed = self.who.as_ref().is_some_and(|who| who.principal.can_watch(channel_ref(&channel)));
        if !allowed {
            let who = self.who.as_ref().map_or_else(String::new, |w| w.principal.to_string());
            let message = format!("{channel} is outside your account's scope ({who})");
            return self.error("forbidden", &message, Some(&channel)).await;
        }
        let cursor = match cursor.map(str::parse::<Cursor>).transpose() {
            Ok(c) => c,
            Err(err) => return self.error("invalid_cursor", &err.to_string(), Some(&channel)).await,
        };
        // Subscribing again replaces the old subscription (e.g. to resume from a cursor), so it
        // takes no place of its own under the cap.
        let replacing = self.subs.contains_key(&channel);
        if !replacing && self.subs.len() >= self.limits.max_subscriptions {
            let msg = format!("at most {} channels per connection", self.limits.max_subscriptions);
            return self.error("too_many_subscriptions", &msg, Some(&channel)).await;
        }
        // Refusals come before the old subscription is dropped: a board whose re-subscribe is
        // refused keeps what it has.
        if let Err(wait) = self.budgets.subscribe() {
            return self.subscribe_rate_limited(&channel, wait).await;
        }
        if !self.admitted(&channel).await? {
            return Ok(());
        }
        if self.subs.remove(&channel).is_some() {
            self.streams.remove(&channel);
            self.metrics.subscriptions.dec();
        }
        // Join first: everything the hub reads from now on is queued for us, so whatever our
        // snapshot or catch-up does not cover arrives through the queue.
        let (membership, rx) = self.hub.join(&channel);
        let last = match self.start(&channel, cursor).await {
            Ok(Some(last)) => last,
            Ok(None) => {
                return self.error("unavailable", "case state is unavailable; retry shortly", Some(&channel)).await;
            }
            Err(gone) => return Err(gone),
        };
        self.hub.start_at(&channel, last).await;
        self.streams.insert(channel.clone(), BroadcastStream::new(rx));
        self.subs.insert(channel, Subscription { _membership: membership, last });
        self.metrics.subscriptions.inc();
        Ok(())
    }

    /// Sends the snapshot, or the resume marker and the missed entries; returns the cursor
    /// delivered up to (`None` when Redis failed).
    async fn start(&mut self, channel: &Channel, cursor: Option<Cursor>) -> Result<Option<Cursor>, SocketGone> {
        let store = self.hub.store().clone();
        if let Some(cursor) = cursor {
            match store.can_resume(channel, cursor).await {
                Ok(true) => match self.resume(channel, cursor).await? {
                    Resume::Done(last) => return Ok(Some(last)),
                    Resume::Failed => return Ok(None),
                    Resume::OverBudget => self.metrics.replays_over_budget.inc(),
                },
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(channel = %channel, error = %format_args!("{err:#}"), "resume check failed");
                    return Ok(None);
                }
            }
        }
        match self.hub.snapshots().get(channel, self.visibility).await {
            Ok(rendered) => {
                let text = if cursor.is_some() { rendered.reset() } else { rendered.fresh.clone() };
                self.send(Outgoing::Shared(text)).await?;
                Ok(Some(rendered.cursor))
            }
            Err(err) => {
                tracing::warn!(channel = %channel, error = %err, "snapshot failed");
                Ok(None)
            }
        }
    }

    /// The next page of a subscribed channel's open cases.
    async fn more(&mut self, channel: &str, after: &str) -> Result<(), SocketGone> {
        let channel = match Channel::parse(channel) {
            Ok(c) => c,
            Err(err) => return self.error("invalid_channel", &err.to_string(), None).await,
        };
        if !self.subs.contains_key(&channel) {
            let message = format!("subscribe to {channel} before asking for more of its cases");
            return self.error("not_subscribed", &message, Some(&channel)).await;
        }
        let after: PageToken = match after.parse() {
            Ok(t) => t,
            Err(err) => return self.error("invalid_page_token", &err.to_string(), Some(&channel)).await,
        };
        if !self.admitted(&channel).await? {
            return Ok(());
        }
        match self.hub.store().page(&channel, &after, self.limits.max_snapshot_cases).await {
            Ok(page) => {
                self.send(Outgoing::Text(crate::snapshots::render_page(&channel, &page, self.visibility))).await
            }
            Err(err) => {
                tracing::warn!(channel = %channel, error = %format_args!("{err:#}"), "page failed");
                self.error("unavailable", "case state is unavailable; retry shortly", Some(&channel)).await
            }
        }
    }

    /// Sends every entry after `from` from Redis; returns the last cursor sent (or `from`).
    async fn catch_up(&mut self, channel: &Channel, mut from: Cursor) -> Result<Option<Cursor>, SocketGone> {
        let store = self.hub.store().clone();
        loop {
            let entries = match store.entries_after(channel, from, CATCH_UP_BATCH).await {
                Ok(entries) => entries,
                Err(err) => {
                    tracing::warn!(channel = %channel, error = %format_args!("{err:#}"), "catch-up read failed");
                    return Ok(None);
                }
            };
            from = self.send_entries(channel, &entries).await?.unwrap_or(from);
            if entries.len() < CATCH_UP_BATCH {
                return Ok(Some(from));
            }
        }
    }

    /// Sends stream entries as this reader may see them; returns the last one's cursor.
    async fn send_entries(&mut self, channel: &Channel, entries: &[StreamEntry]) -> Result<Option<Cursor>, SocketGone> {
        for entry in entries {
            // An entry this reader is not sent still counts as delivered.
            if let Some(text) = render_for(channel, entry, self.visibility) {
                self.send(Outgoing::Text(text)).await?;
            }
        }
        Ok(entries.last().map(|e| e.cursor))
    }

    /// Replays the entries after a client's cursor, within the connection's replay budget:
    /// `resumed` and the entries, or, when they are more than the budget has left, nothing
    /// more (the caller sends a snapshot with `reset: true`, which replaces what the board
    /// holds, so it never goes blank or misses a change). Each read asks for one entry more
    /// than the budget allows, so going over is seen before anything beyond it is sent.
    async fn resume(&mut self, channel: &Channel, cursor: Cursor) -> Result<Resume, SocketGone> {
        let store = self.hub.store().clone();
        let mut from = cursor;
        let mut first = true;
        loop {
            let left = usize::try_from(self.budgets.replay_left()).unwrap_or(usize::MAX);
            let count = CATCH_UP_BATCH.min(left.saturating_add(1));
            let entries = match store.entries_after(channel, from, count).await {
                Ok(entries) => entries,
                Err(err) => {
                    tracing::warn!(channel = %channel, error = %format_args!("{err:#}"), "replay read failed");
                    return Ok(Resume::Failed);
                }
            };
            if entries.len() > left {
                return Ok(Resume::OverBudget);
            }
            if first {
                first = false;
                let resumed = ServerMessage::Resumed { channel: channel.to_string(), cursor: cursor.to_string() };
                self.send_message(&resumed).await?;
            }
            self.budgets.replayed(entries.len());
            self.metrics.replayed_entries.inc_by(entries.len() as u64);
            from = self.send_entries(channel, &entries).await?.unwrap_or(from);
            if entries.len() < count {
                return Ok(Resume::Done(from));
            }
        }
    }

    async fn deliver(&mut self, channel: &Channel, frame: Arc<Frame>) -> Result<(), SocketGone> {
        let Some(last) = self.subs.get(channel).map(|s| s.last) else { return Ok(()) };
        if frame.cursor <= last {
            return Ok(());
        }
        let mut last = last;
        if frame.prev > last {
            // Entries between what we sent and this frame were read before we joined: fetch them.
            // If Redis fails half-way, what was sent is unknown to us: end the session so the
            // client resumes from the last cursor it saw, rather than risk a gap or a repeat.
            match self.catch_up(channel, last).await? {
                Some(caught_up) => last = caught_up,
                None => {
                    let _ = self.out.send(Outgoing::Close(1011, "temporary failure; resume with your cursors")).await;
                    return Err(SocketGone);
                }
            }
        }
        if frame.cursor > last {
            match self.visibility {
                Visibility::Full => self.send(Outgoing::Frame(frame.clone())).await?,
                Visibility::Town => {
                    if let Some(text) = frame.text_for(self.visibility) {
                        self.send(Outgoing::Shared(text)).await?;
                    }
                }
            }
            last = frame.cursor;
        }
        if let Some(sub) = self.subs.get_mut(channel) {
            sub.last = last;
        }
        Ok(())
    }
}
