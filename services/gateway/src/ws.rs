//! The `/ws` endpoint: adapts axum's WebSocket to the socket-independent [`session`](crate::session).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::connections::{Connections, Permit};
use crate::hub::Hub;
use crate::metrics::Metrics;
use whistle_auth::{AuthError, Verifier};

use crate::session::{self, Auth, Ended, Incoming, Limits, Outgoing};

/// How long a session closed for a bad frame keeps reading before the socket is dropped.
const DRAIN: Duration = Duration::from_secs(1);

/// A read refused for its size (tungstenite's capacity errors): answered with 1009.
fn too_big(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Per-connection read buffer; client frames are small (at most `max_message_bytes`, 16 KiB).
const READ_BUFFER_BYTES: usize = 4096;

#[derive(Clone)]
pub struct WsState {
    pub hub: Arc<Hub>,
    pub limits: Limits,
    pub max_message_bytes: usize,
    pub metrics: Metrics,
    pub token: CancellationToken,
    /// Checks tokens: signature, expiry and the denylist of revoked ones.
    pub verifier: Arc<Verifier>,
    /// The connection caps, per process and per client address.
    pub connections: Arc<Connections>,
    /// Take the client address from `X-Forwarded-For` (behind our own proxy).
    pub trust_forwarded_for: bool,
}

/// How long a connection without an `Authorization` header has to send its `auth` frame.
const AUTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /ws`. The connection caps are checked first: a refused upgrade is an HTTP answer (`503`
/// or `429`, JSON, `Retry-After`). A token in the `Authorization` header is checked here; a
/// refused one is answered over the socket with close code 4001, so browser clients see the same
/// outcome either way.
pub async fn upgrade(
    State(state): State<WsState>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let address = whistle_common::ratelimit::client_address(&headers, peer, state.trust_forwarded_for);
    let permit = match state.connections.acquire(address) {
        Ok(permit) => permit,
        Err(refused) => {
            state.metrics.connections_refused.with_label_values(&[refused.label()]).inc();
            tracing::debug!(reason = refused.label(), "websocket upgrade refused");
            return refused.into_response();
        }
    };
    let upgrade_auth = match whistle_auth::http::bearer(&headers) {
        Ok(token) => Some(state.verifier.verify(token).await),
        Err(err @ AuthError::Token(_)) => Some(Err(err)),
        Err(_) => None,
    };
    sized(ws, state.max_message_bytes).on_upgrade(move |socket| serve(socket, state, upgrade_auth, permit))
}

/// The socket's limits and buffers. tungstenite's 128 KiB read and write buffers per connection
/// would make an idle board cost far more than its state: boards read little (client frames of
/// at most `max_message_bytes`), and frames go out one by one. The write buffer still grows to
/// the largest frame sent (a 500-case snapshot is about 470 KiB); the vendored tungstenite gives
/// that back once the frame is written (vendor/README.md).
pub fn sized(ws: WebSocketUpgrade, max_message_bytes: usize) -> WebSocketUpgrade {
    ws.max_message_size(max_message_bytes)
        .max_frame_size(max_message_bytes)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
}

/// Runs one connection; its place under the caps is given back when `_permit` drops with it.
async fn serve(
    socket: WebSocket,
    state: WsState,
    upgrade: Option<Result<whistle_auth::Verified, AuthError>>,
    _permit: Permit,
) {
    state.metrics.connections.inc();
    let (sink, stream) = socket.split();
    let out = sink.with(|msg: Outgoing| async move {
        Ok::<_, axum::Error>(match msg {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Frame(frame) => Message::Text(frame.text.clone()),
            Outgoing::Shared(text) => Message::Text(text),
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
        })
    });
    let mut incoming = Box::pin(stream.map(|msg| match msg {
        Ok(Message::Text(text)) => Incoming::Text(text.to_string()),
        Ok(Message::Binary(_)) => Incoming::Binary,
        Ok(Message::Close(_)) => Incoming::Close,
        Err(err) if too_big(&err) => Incoming::TooBig,
        Err(_) => Incoming::Close,
        Ok(Message::Ping(_) | Message::Pong(_)) => Incoming::Control,
    }));
    let out = Box::pin(out);
    let ended = session::run(
        state.hub.clone(),
        out,
        &mut incoming,
        state.limits.clone(),
        Auth { verifier: state.verifier.clone(), upgrade, deadline: AUTH_DEADLINE },
        state.metrics.clone(),
        state.token.clone(),
    )
    .await;
    if matches!(ended, Ended::TooBig | Ended::PolicyViolation) {
        // Read (and drop) what the client still sends for a moment: closing a socket with unread
        // data resets it, and the reset can overtake our close frame.
        let drain = async { while incoming.next().await.is_some() {} };
        let _ = tokio::time::timeout(DRAIN, drain).await;
    }
    state.metrics.connections.dec();
    state.metrics.closed.with_label_values(&[ended.label()]).inc();
    tracing::debug!(reason = ended.label(), "websocket session ended");
}
