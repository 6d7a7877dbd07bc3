//! Production mode, as an operator meets it: the built `whistle-intake` binary, started with the
//! environment a deployment gives it, refuses demo accounts in production (and an empty demo
//! password anywhere) before it connects to anything, with a message that says what to change.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SECRET: &str = "production-mode-test-secret-0123456789";

/// Runs the binary with only `vars` as its WHISTLE_* environment; it must exit within 30 s.
fn intake(vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_whistle-intake"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WHISTLE_") {
            command.env_remove(name);
        }
    }
    // Nothing listens there: a service that passed its checks would fail later, differently.
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("WHISTLE_AUTH__JWT_SECRET", SECRET)
        .env("WHISTLE_KAFKA__BROKERS", "127.0.0.1:1")
        .env("WHISTLE_REDIS__URL", "redis://127.0.0.1:1")
        .env("WHISTLE_HTTP__PORT", "0")
        .envs(vars.iter().copied());
    let mut child =
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("whistle-intake {vars:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn refused(vars: &[(&str, &str)], says: &[&str]) {
    let out = intake(vars);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{vars:?} started: {text}");
    for needle in says {
        assert!(text.contains(needle), "{vars:?}: the message does not say {needle:?}:\n{text}");
    }
}

#[test]
fn demo_accounts_with_whistle_env_production_stop_intake_with_a_clear_message() {
    refused(
        &[("WHISTLE_ENV", "production"), ("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo")],
        &["auth.demo", "refused in production", "unset WHISTLE_DEMO"],
    );
    // Production is the default: the demo accounts need WHISTLE_ENV=development too.
    refused(&[("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "whistle-demo")], &["auth.demo"]);
}

#[test]
fn an_empty_demo_password_or_a_short_signing_key_stops_intake() {
    refused(
        &[("WHISTLE_ENV", "development"), ("WHISTLE_DEMO", "1"), ("WHISTLE_AUTH__DEMO_PASSWORD", "")],
        &["auth.demo_password", "empty"],
    );
    refused(&[("WHISTLE_AUTH__JWT_SECRET", "short")], &["auth.jwt_secret", "32 bytes"]);
}
