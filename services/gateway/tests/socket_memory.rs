//! What a board's socket keeps after a large frame: a snapshot of 500 cases is about 470 KiB,
//! and every board of a busy department gets one. tungstenite grows its write buffer to the
//! largest frame written and, released as it is, keeps that for the connection's life: 19,000
//! boards would hold 9 GB. The vendored tungstenite gives it back (vendor/README.md).
//!
//! Its own test binary, so that nothing else runs in the process whose memory it reads.

use axum::Router;
use axum::extract::WebSocketUpgrade;
use axum::extract::ws::Message;
use axum::response::Response;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// The process's resident memory, in bytes (Linux). glibc maps blocks this large (over its
/// 128 KiB threshold) on their own and unmaps them when freed, so a buffer that is kept shows here
/// and one that is given back does not.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages");
    pages * 4096
}

/// The frame sent: a large snapshot's size, and then some.
const FRAME: usize = 1 << 20;

/// Tells the server's one connection to send its frame; it answers once the frame is written.
/// The connection hands it over once it is upgraded and waiting.
type Trigger = oneshot::Sender<oneshot::Sender<()>>;

async fn serve(upgrade: WebSocketUpgrade, triggers: mpsc::Sender<Trigger>) -> Response {
    whistle_gateway::ws::sized(upgrade, 16 * 1024).on_upgrade(move |mut socket| async move {
        let (trigger, wait) = oneshot::channel::<oneshot::Sender<()>>();
        if triggers.send(trigger).await.is_err() {
            return;
        }
        let Ok(sent) = wait.await else { return };
        let frame = "x".repeat(FRAME);
        if socket.send(Message::Text(frame.into())).await.is_ok() {
            let _ = sent.send(());
        }
        // The connection stays open, idle, as a board's does.
        std::future::pending::<()>().await;
    })
}

/// Reads and drops `n` bytes.
async fn drain(stream: &mut TcpStream, buf: &mut [u8], mut n: usize) {
    while n > 0 {
        let read = stream.read(buf).await.expect("reads");
        assert!(read > 0, "the server closed the connection with {n} bytes to go");
        n = n.saturating_sub(read);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_large_frame_is_not_kept_by_the_socket_that_sent_it() {
    let (triggers_tx, mut triggers) = mpsc::channel::<Trigger>(1);
    let app = Router::new().route("/ws", get(move |upgrade| serve(upgrade, triggers_tx.clone())));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A bare client, so that nothing on its side keeps a buffer the size of the frame.
    let mut client = TcpStream::connect(addr).await.expect("connects");
    client
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("writes");
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let read = client.read(&mut buf[..1]).await.expect("reads");
        assert_eq!(read, 1, "the upgrade answer ended early: {}", String::from_utf8_lossy(&head));
        head.push(buf[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "not upgraded: {}", String::from_utf8_lossy(&head));
    // The upgraded connection's task is running and waiting: from here, what it allocates.
    let trigger = triggers.recv().await.expect("the connection's trigger");
    let before = resident();

    let (sent_tx, sent) = oneshot::channel();
    trigger.send(sent_tx).expect("the connection waits for its trigger");
    // The frame's header (2 bytes and an 8-byte length, unmasked) and its payload.
    drain(&mut client, &mut buf, FRAME + 10).await;
    // Written out, so the socket has given back (or kept) its write buffer by now.
    sent.await.expect("the frame was written");
    let kept = resident().saturating_sub(before);

    assert!(
        kept < FRAME / 2,
        "the idle connection keeps {kept} bytes more than before its {FRAME}-byte frame \
         (tungstenite's write buffer is not given back)"
    );
}
