//! Caps on open WebSocket connections, per gateway process and per client address, so that one
//! client (or one flood) cannot take every socket, file descriptor and session of a gateway.
//! They are checked before the upgrade: a refusal is an ordinary HTTP answer (`503` for the
//! process, `429` for an address) in the API's error shape, with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

/// When a full gateway asks a client to come back: boards leave and reconnect all the time, and
/// a load balancer may send the retry to another instance.
const RETRY_FULL: Duration = Duration::from_secs(5);
/// When an address at its cap may try again: one of its own connections has to close first.
const RETRY_ADDRESS: Duration = Duration::from_secs(30);

/// Why a connection was refused; the label of `whistle_gateway_websocket_connections_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The gateway has `websocket.max_connections` open.
    Process,
    /// The client address has `websocket.max_connections_per_address` open.
    Address,
}

impl Refused {
    pub const ALL: [Refused; 2] = [Refused::Process, Refused::Address];

    pub fn label(self) -> &'static str {
        match self {
            Refused::Process => "process_limit",
            Refused::Address => "address_limit",
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, code, message, retry) = match self {
            Refused::Process => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "this gateway is at its connection limit; retry shortly",
                RETRY_FULL,
            ),
            Refused::Address => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                "too many open connections from your address; close some before opening more",
                RETRY_ADDRESS,
            ),
        };
        let mut response = (status, Json(ErrorBody::new(code, message))).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry.as_secs()));
        response
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    /// Only addresses with a connection open: the map is as large as the open connections.
    per_address: HashMap<String, usize>,
}

/// The open connections of this gateway.
pub struct Connections {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
}

/// One open connection; closing it is dropping this.
pub struct Permit {
    connections: Arc<Connections>,
    address: Option<String>,
}

impl Connections {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Connections> {
        Arc::new(Connections { max_total, max_per_address, open: Mutex::new(Open::default()) })
    }

    /// A place for one more connection from `address` (`None`: unknown, only the process cap
    /// applies), or why there is none.
    pub fn acquire(self: &Arc<Self>, address: Option<String>) -> Result<Permit, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err(Refused::Process);
        }
        if let Some(address) = &address {
            let mine = open.per_address.get(address).copied().unwrap_or(0);
            if mine >= self.max_per_address {
                return Err(Refused::Address);
            }
            open.per_address.insert(address.clone(), mine + 1);
        }
        open.total += 1;
        Ok(Permit { connections: self.clone(), address })
    }

    /// Connections open now, and addresses they come from.
    pub fn open(&self) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        (open.total, open.per_address.len())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(address) = &self.address
            && let Some(n) = open.per_address.get_mut(address)
        {
            *n -= 1;
            if *n == 0 {
                open.per_address.remove(address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_and_the_process_are_capped_and_closing_gives_the_place_back() {
        let connections = Connections::new(5, 2);
        let a1 = connections.acquire(Some("10.0.0.1".into())).expect("first");
        let a2 = connections.acquire(Some("10.0.0.1".into())).expect("second");
        assert_eq!(connections.acquire(Some("10.0.0.1".into())).err(), Some(Refused::Address));
        let b = connections.acquire(Some("10.0.0.2".into())).expect("another address");
        let unknown = connections.acquire(None).expect("no address: the process cap only");
        let c = connections.acquire(Some("10.0.0.3".into())).expect("fifth");
        assert_eq!(connections.acquire(Some("10.0.0.4".into())).err(), Some(Refused::Process));
        assert_eq!(connections.open(), (5, 3));
        drop(a1);
        let again = connections.acquire(Some("10.0.0.1".into())).expect("a freed place");
        drop((a2, again, b, unknown, c));
        assert_eq!(connections.open(), (0, 0), "no address is kept once its connections are gone");
    }

    #[test]
    fn refusals_are_json_errors_with_retry_after() {
        for (refused, status) in [(Refused::Process, 503), (Refused::Address, 429)] {
            let response = refused.into_response();
            assert_eq!(response.status().as_u16(), status);
            let retry = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok());
            assert!(retry.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{retry:?}");
        }
    }
}
