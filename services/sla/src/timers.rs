//! The timer loop: sleep until the next deadline, fire what is due, repeat.
//!
//! The loop is generic over where timers live ([`TimerBackend`]) and what time it is
//! ([`Now`]), so its behaviour is tested with tokio's paused clock and an in-memory backend,
//! while production uses Redis ([`crate::store`]) and the system clock.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest sleep between checks: newly armed timers and newly assigned partitions are noticed
/// at least this often even without a wake-up.
pub const MAX_SLEEP: StdDuration = StdDuration::from_secs(1);

/// The current time, as the loop sees it.
pub trait Now: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemNow;

impl Now for SystemNow {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where timers are kept and how they fire.
pub trait TimerBackend: Send + Sync {
    /// Fires every timer due at `now`; returns how many fired.
    fn fire_due(&self, now: DateTime<Utc>) -> impl Future<Output = anyhow::Result<usize>> + Send;
    /// The earliest armed deadline, if any.
    fn next_due(&self) -> impl Future<Output = anyhow::Result<Option<DateTime<Utc>>>> + Send;
}

/// How an armed timer reaches the sleeping loop: [`Alarm::armed`] wakes it only when the timer
/// is due before the time the loop sleeps towards (at most [`MAX_SLEEP`] ahead), so a busy
/// service arming timers minutes ahead does not make the loop check every partition per event.
#[derive(Debug)]
pub struct Alarm {
    notify: Notify,
    /// When the loop wakes by itself (ms since the epoch); `i64::MAX` while it is checking,
    /// when any armed timer may have been missed by the check and wakes it again.
    until_ms: AtomicI64,
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm { notify: Notify::new(), until_ms: AtomicI64::new(i64::MAX) }
    }
}

impl Alarm {
    /// A timer due at `due` was armed (call after it is stored): wakes the loop if it would
    /// otherwise sleep past it.
    pub fn armed(&self, due: DateTime<Utc>) {
        if due.timestamp_millis() < self.until_ms.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// Wakes the loop whatever it sleeps towards.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    fn checking(&self) {
        self.until_ms.store(i64::MAX, Ordering::SeqCst);
    }

    fn sleeping_until(&self, at: DateTime<Utc>) {
        self.until_ms.store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

/// Runs until `token` is cancelled. `alarm` is told when a timer is armed, so an earlier
/// deadline than the one slept towards is not missed.
pub async fn run<B: TimerBackend, N: Now>(
    backend: B,
    now: N,
    alarm: Arc<Alarm>,
    token: CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = StdDuration::from_millis(100);
    loop {
        // A timer stored from here on may be missed by this check: it wakes the loop again.
        alarm.checking();
        let step = async {
            backend.fire_due(now.now()).await?;
            backend.next_due().await
        };
        let sleep = match step.await {
            Ok(next) => {
                backoff = StdDuration::from_millis(100);
                next.map_or(MAX_SLEEP, |due| (due - now.now()).to_std().unwrap_or(StdDuration::ZERO).min(MAX_SLEEP))
            }
            Err(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "timer check failed; retrying");
                backoff = (backoff * 2).min(StdDuration::from_secs(5));
                backoff
            }
        };
        // From here a timer due before the wake-up must ring the alarm; later ones wait for it.
        alarm.sleeping_until(now.now() + chrono::Duration::from_std(sleep).unwrap_or(chrono::Duration::zero()));
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = alarm.notify.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;
    use crate::calendar::tests::chongqing;
    use crate::case::tests::{dispatched_at, event, policies, t};
    use crate::case::{CaseSla, Timer};
    use crate::policy::Policies;
    use whistle_schemas::events::{Acted, Actor, ActorKind, CaseEventBody, Paused};

    /// Time as tokio's (pausable) clock says, anchored at a chosen instant.
    struct TestNow {
        base: DateTime<Utc>,
        start: tokio::time::Instant,
    }

    impl Now for TestNow {
        fn now(&self) -> DateTime<Utc> {
            self.base + chrono::Duration::from_std(self.start.elapsed()).expect("small")
        }
    }

    /// One case in memory, with the same timer logic production uses.
    struct MemoryBackend {
        case: Mutex<CaseSla>,
        fired: Mutex<BTreeSet<String>>,
        log: Mutex<Vec<(String, DateTime<Utc>)>>,
        policies: Policies,
    }

    impl MemoryBackend {
        fn timers(&self) -> Vec<Timer> {
            let case = self.case.lock().expect("lock");
            case.timers(self.policies.by_name("default"), &chongqing(), &self.fired.lock().expect("lock"))
        }
    }

    impl TimerBackend for &MemoryBackend {
        async fn fire_due(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
            let due: Vec<Timer> = self.timers().into_iter().filter(|t| t.due <= now).collect();
            for timer in &due {
                self.fired.lock().expect("lock").insert(timer.key.clone());
                self.log.lock().expect("lock").push((timer.key.clone(), now));
            }
            Ok(due.len())
        }

        async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
            Ok(self.timers().first().map(|t| t.due))
        }
    }

    fn actor() -> Actor {
        Actor::new(ActorKind::Department, "500103-EE")
    }

    fn fired_ack_keys(backend: &MemoryBackend) -> Vec<(String, DateTime<Utc>)> {
        backend.log.lock().expect("lock").iter().filter(|(k, _)| k.starts_with("acknowledge")).cloned().collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_unacknowledged_case_warns_breaches_and_escalates_step_by_step() {
        let (_, case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let backend = MemoryBackend {
            case: Mutex::new(case),
            fired: Mutex::default(),
            log: Mutex::default(),
            policies: policies(),
        };
        let now = TestNow { base: t("2026-11-26T10:00:00+08:00"), start: tokio::time::Instant::now() };
        let token = CancellationToken::new();
        let loop_token = token.clone();
        let backend_ref = &backend;
        let run_loop = run(backend_ref, now, Arc::new(Alarm::default()), loop_token);
        let stop = async {
            tokio::time::sleep(StdDuration::from_secs(45 * 60)).await;
            token.cancel();
        };
        let (result, ()) = tokio::join!(run_loop, stop);
        result.expect("loop ends cleanly");
        let fired = fired_ack_keys(&backend);
        let expected = [
            ("acknowledge.warning", "2026-11-26T10:08:00+08:00"),
            ("acknowledge.breach", "2026-11-26T10:10:00+08:00"),
            ("acknowledge.escalate.1", "2026-11-26T10:10:00+08:00"),
            ("acknowledge.escalate.2", "2026-11-26T10:25:00+08:00"),
            ("acknowledge.escalate.3", "2026-11-26T10:40:00+08:00"),
        ];
        assert_eq!(fired.len(), expected.len(), "each timer fires exactly once: {fired:?}");
        for ((key, at), (want_key, want_at)) in fired.iter().zip(expected) {
            assert_eq!(key, want_key);
            let late = (*at - t(want_at)).num_milliseconds();
            assert!((0..1000).contains(&late), "{key} fired {late} ms after its deadline");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn acknowledging_before_the_deadline_stops_the_breach_and_a_pause_moves_the_rest() {
        let (_, case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let backend = MemoryBackend {
            case: Mutex::new(case),
            fired: Mutex::default(),
            log: Mutex::default(),
            policies: policies(),
        };
        let now = TestNow { base: t("2026-11-26T10:00:00+08:00"), start: tokio::time::Instant::now() };
        let wake = Arc::new(Alarm::default());
        let token = CancellationToken::new();
        let backend_ref = &backend;
        let run_loop = run(backend_ref, now, wake.clone(), token.clone());
        let script = async {
            let cal = chongqing();
            // 10:09: acknowledged after the warning, before the breach.
            tokio::time::sleep(StdDuration::from_secs(9 * 60)).await;
            backend.case.lock().expect("lock").apply(
                &event(2, "2026-11-26T10:09:00+08:00", CaseEventBody::Acknowledged(Acted { actor: actor() })),
                &cal,
            );
            wake.wake();
            // 10:20: paused with 20 of the 30 arrival minutes used; resumed at 11:00.
            tokio::time::sleep(StdDuration::from_secs(11 * 60)).await;
            backend.case.lock().expect("lock").apply(
                &event(
                    3,
                    "2026-11-26T10:20:00+08:00",
                    CaseEventBody::Paused(Paused { actor: actor(), reason: "owner away".into() }),
                ),
                &cal,
            );
            wake.wake();
            tokio::time::sleep(StdDuration::from_secs(40 * 60)).await;
            backend
                .case
                .lock()
                .expect("lock")
                .apply(&event(4, "2026-11-26T11:00:00+08:00", CaseEventBody::Resumed(Acted { actor: actor() })), &cal);
            wake.wake();
            tokio::time::sleep(StdDuration::from_secs(30 * 60)).await;
            token.cancel();
        };
        let (result, ()) = tokio::join!(run_loop, script);
        result.expect("loop ends cleanly");
        let log = backend.log.lock().expect("lock").clone();
        let keys: Vec<&str> = log.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys.iter().filter(|k| k.starts_with("acknowledge")).collect::<Vec<_>>(),
            [&"acknowledge.warning"],
            "no breach after the acknowledgement"
        );
        // Arrival: warning at 24 min of 30 → 4 min after the resume; breach at 11:10.
        let at =
            |key: &str| log.iter().find(|(k, _)| k == key).map(|(_, at)| *at).unwrap_or_else(|| panic!("{key} fired"));
        assert!((at("arrive.warning") - t("2026-11-26T11:04:00+08:00")).num_seconds().abs() < 1);
        assert!((at("arrive.breach") - t("2026-11-26T11:10:00+08:00")).num_seconds().abs() < 1);
        assert!(keys.contains(&"arrive.escalate.2"), "15 minutes after the breach");
        assert!(!keys.contains(&"arrive.escalate.3"), "30 minutes after the breach is past the end of the test");
    }

    #[test]
    fn the_alarm_wakes_a_sleeping_loop_only_for_a_timer_before_its_wake_up() {
        use futures::FutureExt as _;
        let rang = |alarm: &Alarm| alarm.notify.notified().now_or_never().is_some();
        let at = t("2026-11-26T10:00:00+08:00");
        let alarm = Alarm::default();
        // Checking: any timer may have been missed by the check.
        alarm.armed(at + chrono::Duration::days(30));
        assert!(rang(&alarm), "a timer armed during a check wakes the loop again");
        alarm.sleeping_until(at);
        alarm.armed(at + chrono::Duration::minutes(30));
        assert!(!rang(&alarm), "a timer after the wake-up waits for it");
        alarm.armed(at);
        assert!(!rang(&alarm), "a timer due at the wake-up is checked then");
        alarm.armed(at - chrono::Duration::milliseconds(1));
        assert!(rang(&alarm), "a timer before the wake-up wakes the loop");
        alarm.checking();
        alarm.armed(at + chrono::Duration::minutes(30));
        assert!(rang(&alarm));
    }
}
