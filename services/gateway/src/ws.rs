//! The `/ws` endpoint: adapts axum's WebSocket to the socket-independent [`session`](crate::session).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::metrics::Metrics;
use whistle_auth::{AuthError, TokenKeys};

use crate::session::{self, Auth, Incoming, Limits, Outgoing};

/// Per-connection read buffer; client frames are small (at most `max_message_bytes`, 16 KiB).
const READ_BUFFER_BYTES: usize = 4096;

#[derive(Clone)]
pub struct WsState {
    pub hub: Arc<Hub>,
    pub limits: Limits,
    pub max_message_bytes: usize,
    pub metrics: Metrics,
    pub token: CancellationToken,
    pub keys: Arc<TokenKeys>,
}

/// How long a connection without an `Authorization` header has to send its `auth` frame.
const AUTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /ws`. A token in the `Authorization` header is checked here; a refused one is answered
/// over the socket with close code 4001, so browser clients see the same outcome either way.
pub async fn upgrade(State(state): State<WsState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let upgrade_auth = match whistle_auth::http::bearer(&headers) {
        Ok(token) => Some(state.keys.verify(token)),
        Err(AuthError::Token(err)) => Some(Err(err)),
        Err(_) => None,
    };
    // tungstenite's 128 KiB read and write buffers per connection would make an idle board cost
    // far more than its state; boards read little and frames go out one by one.
    ws.max_message_size(state.max_message_bytes)
        .max_frame_size(state.max_message_bytes)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(socket, state, upgrade_auth))
}

async fn serve(
    socket: WebSocket,
    state: WsState,
    upgrade: Option<Result<whistle_auth::Verified, whistle_auth::TokenError>>,
) {
    state.metrics.connections.inc();
    let (sink, stream) = socket.split();
    let out = sink.with(|msg: Outgoing| async move {
        Ok::<_, axum::Error>(match msg {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Frame(frame) => Message::Text(frame.text.clone()),
            Outgoing::Ping => Message::Ping(Default::default()),
            Outgoing::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
        })
    });
    let incoming = stream.map(|msg| match msg {
        Ok(Message::Text(text)) => Incoming::Text(text.to_string()),
        Ok(Message::Binary(_)) => Incoming::Binary,
        Ok(Message::Close(_)) | Err(_) => Incoming::Close,
        Ok(Message::Ping(_) | Message::Pong(_)) => Incoming::Control,
    });
    let out = Box::pin(out);
    let ended = session::run(
        state.hub.clone(),
        out,
        Box::pin(incoming),
        state.limits.clone(),
        Auth { keys: state.keys.clone(), upgrade, deadline: AUTH_DEADLINE },
        state.metrics.clone(),
        state.token.clone(),
    )
    .await;
    state.metrics.connections.dec();
    state.metrics.closed.with_label_values(&[ended.label()]).inc();
    tracing::debug!(reason = ended.label(), "websocket session ended");
}
