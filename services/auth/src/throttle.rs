//! Login throttling that slows password guessing without letting anyone lock an account.
//!
//! Only failures count, and they count where they came from:
//! - **Per account and client address.** An address gets [`FREE_FAILURES`] wrong passwords for an
//!   account, then waits before each further attempt for that account: 1 s, 2 s, 4 s, … up to
//!   [`MAX_DELAY`]. The delay applies to that address alone: the account's owner, elsewhere,
//!   logs in at once. A success from the address forgets its failures.
//! - **Per account.** Once an account has collected [`ACCOUNT_ALARM`] failures (from any number
//!   of addresses, e.g. a botnet), every address that has failed on it even once is delayed at
//!   once; an address that never failed on it still gets in.
//! - **Per client address.** After [`ADDRESS_FREE_FAILURES`] failures on any accounts, an
//!   address waits before each attempt on any account, growing the same way. Its password checks
//!   run [`ADDRESS_CONCURRENCY`] at a time at most, the rest of its logins waiting their turn
//!   apart from everyone else's (at most [`ADDRESS_QUEUE`] per address, beyond which it is told to
//!   retry), so one address cannot fill the queue of argon2 work in front of everyone else.
//!
//! Successful logins are never counted or slowed. Every count is forgotten [`FORGET_AFTER`]
//! after its last failure, so no delay outlives the attack. Memory is bounded: each table keeps
//! at most [`MAX_ENTRIES`] entries (forgotten ones are swept first; beyond, new failures of
//! unknown pairs are not recorded, and the per-address counts still bound them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Wrong passwords one address may send for one account before it waits.
pub const FREE_FAILURES: u32 = 5;
/// The first wait; it doubles with each further failure.
pub const BASE_DELAY: Duration = Duration::from_secs(1);
/// The longest wait. Capped, so even a long-running guesser never buys a lock.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Failures of one account, all addresses together, past which its failed addresses wait at once.
pub const ACCOUNT_ALARM: u32 = 50;
/// Failures one address may have on any accounts before it waits.
pub const ADDRESS_FREE_FAILURES: u32 = 30;
/// Password checks of one address at once; its further logins wait for a turn.
pub const ADDRESS_CONCURRENCY: usize = 2;
/// Logins of one address running or waiting at most; beyond, they are refused (retry shortly).
pub const ADDRESS_QUEUE: usize = 32;
/// A count is forgotten this long after its last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries per table at most.
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn forgotten(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= FORGET_AFTER
    }

    /// How long from `now` until the next attempt may be checked, with `free` failures allowed.
    fn wait(&self, free: u32, now: Instant) -> Duration {
        if self.count < free || self.forgotten(now) {
            return Duration::ZERO;
        }
        let delay = BASE_DELAY.saturating_mul(1u32 << (self.count - free).min(20)).min(MAX_DELAY);
        (self.last + delay).saturating_duration_since(now)
    }
}

#[derive(Default)]
struct Tables {
    pairs: HashMap<(String, String), Failures>,
    accounts: HashMap<String, Failures>,
    addresses: HashMap<String, Failures>,
    /// Per address: its turns, and how many of its logins hold or wait for one.
    in_flight: HashMap<String, (Arc<Semaphore>, usize)>,
    last_sweep: Option<Instant>,
}

/// Why an attempt was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures from this address lately; retry after the wait.
    Wait(Duration),
    /// This address already has [`ADDRESS_QUEUE`] logins running or waiting.
    Busy,
}

/// The throttle's state, shared by every login of the process.
#[derive(Default)]
pub struct LoginThrottle {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle").finish_non_exhaustive()
    }
}

/// A login admitted to its address's line; [`Admission::turn`] waits for one of the address's
/// [`ADDRESS_CONCURRENCY`] turns. Its place is freed when it drops.
#[must_use = "the check is admitted only while this lives"]
pub struct Admission<'a> {
    throttle: &'a LoginThrottle,
    address: String,
    turns: Arc<Semaphore>,
    turn: Option<OwnedSemaphorePermit>,
}

impl Admission<'_> {
    /// Waits until this address has a free turn (at once for an address that is not busy).
    pub async fn turn(&mut self) {
        if self.turn.is_none() {
            // The semaphore is never closed.
            self.turn = self.turns.clone().acquire_owned().await.ok();
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.turn = None;
        let mut tables = self.throttle.lock();
        if let Some((_, n)) = tables.in_flight.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                tables.in_flight.remove(&self.address);
            }
        }
    }
}

fn record<K: std::hash::Hash + Eq>(table: &mut HashMap<K, Failures>, key: K, now: Instant) {
    if table.len() >= MAX_ENTRIES && !table.contains_key(&key) {
        return;
    }
    let entry = table.entry(key).or_insert(Failures { count: 0, last: now });
    if entry.forgotten(now) {
        entry.count = 0;
    }
    entry.count = entry.count.saturating_add(1);
    entry.last = now;
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // Counters only: a poisoned lock still holds usable numbers.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May `address` have a password of `account` checked now?
    pub fn admit(&self, account: &str, address: &str) -> Result<Admission<'_>, Refusal> {
        let now = Instant::now();
        let mut tables = self.lock();
        tables.sweep(now);
        let pair = tables.pairs.get(&(account.to_owned(), address.to_owned())).copied();
        let under_attack = tables.accounts.get(account).is_some_and(|f| !f.forgotten(now) && f.count >= ACCOUNT_ALARM);
        let mut wait = pair.map_or(Duration::ZERO, |p| p.wait(FREE_FAILURES, now));
        if under_attack && let Some(p) = pair {
            // Any failure from this address now counts as if its free ones were spent.
            let strict = Failures { count: p.count.saturating_add(FREE_FAILURES - 1), last: p.last };
            wait = wait.max(strict.wait(FREE_FAILURES, now));
        }
        if let Some(a) = tables.addresses.get(address) {
            wait = wait.max(a.wait(ADDRESS_FREE_FAILURES, now));
        }
        if !wait.is_zero() {
            return Err(Refusal::Wait(wait));
        }
        let (turns, users) = tables
            .in_flight
            .entry(address.to_owned())
            .or_insert_with(|| (Arc::new(Semaphore::new(ADDRESS_CONCURRENCY)), 0));
        if *users >= ADDRESS_QUEUE {
            return Err(Refusal::Busy);
        }
        *users += 1;
        let turns = turns.clone();
        Ok(Admission { throttle: self, address: address.to_owned(), turns, turn: None })
    }

    /// A wrong password (or an unknown account) from `address`.
    pub fn failed(&self, account: &str, address: &str) {
        let now = Instant::now();
        let mut tables = self.lock();
        record(&mut tables.pairs, (account.to_owned(), address.to_owned()), now);
        record(&mut tables.accounts, account.to_owned(), now);
        record(&mut tables.addresses, address.to_owned(), now);
    }

    /// The right password from `address`: its failures on the account are forgotten.
    pub fn succeeded(&self, account: &str, address: &str) {
        self.lock().pairs.remove(&(account.to_owned(), address.to_owned()));
    }

    /// Entries held, all tables together (for tests).
    pub fn tracked(&self) -> usize {
        let tables = self.lock();
        tables.pairs.len() + tables.accounts.len() + tables.addresses.len()
    }
}

impl Tables {
    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        self.last_sweep = Some(now);
        let full = |n: usize| n >= MAX_ENTRIES / 2;
        if full(self.pairs.len()) || full(self.accounts.len()) || full(self.addresses.len()) {
            self.pairs.retain(|_, f| !f.forgotten(now));
            self.accounts.retain(|_, f| !f.forgotten(now));
            self.addresses.retain(|_, f| !f.forgotten(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(t: &LoginThrottle, account: &str, address: &str, times: u32) {
        for _ in 0..times {
            let admitted = t.admit(account, address).expect("admitted");
            drop(admitted);
            t.failed(account, address);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn successful_logins_are_never_slowed() {
        let t = LoginThrottle::new();
        for _ in 0..1000 {
            let _admitted = t.admit("dept-500103-CC", "10.0.0.1").expect("admitted");
            t.succeeded("dept-500103-CC", "10.0.0.1");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_delay_only_the_address_that_failed_and_the_delay_grows_then_caps() {
        let t = LoginThrottle::new();
        fail(&t, "manager", "203.0.113.9", FREE_FAILURES);
        assert!(matches!(t.admit("manager", "203.0.113.9"), Err(Refusal::Wait(d)) if d == BASE_DELAY));
        assert!(t.admit("manager", "198.51.100.7").is_ok(), "the owner, elsewhere, gets in at once");
        assert!(t.admit("admin", "203.0.113.9").is_ok(), "the guesser may still try another account");
        tokio::time::advance(BASE_DELAY).await;
        fail(&t, "manager", "203.0.113.9", 1);
        assert!(matches!(t.admit("manager", "203.0.113.9"), Err(Refusal::Wait(d)) if d == 2 * BASE_DELAY));
        for _ in 0..20 {
            tokio::time::advance(MAX_DELAY).await;
            fail(&t, "manager", "203.0.113.9", 1);
        }
        assert!(matches!(t.admit("manager", "203.0.113.9"), Err(Refusal::Wait(d)) if d == MAX_DELAY), "capped");
        // The owner's own success from its address clears its own typos, not the guesser's.
        fail(&t, "manager", "198.51.100.7", 2);
        t.succeeded("manager", "198.51.100.7");
        assert!(t.admit("manager", "198.51.100.7").is_ok());
        assert!(t.admit("manager", "203.0.113.9").is_err());
        // The count is forgotten after a quiet spell.
        tokio::time::advance(FORGET_AFTER).await;
        assert!(t.admit("manager", "203.0.113.9").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_spread_out_attack_failed_addresses_wait_and_new_ones_do_not() {
        let t = LoginThrottle::new();
        for n in 0..ACCOUNT_ALARM {
            fail(&t, "dept-500103-CC", &format!("192.0.2.{n}"), 1);
        }
        assert!(t.admit("dept-500103-CC", "192.0.2.1").is_err(), "a bot that failed waits at once");
        assert!(t.admit("dept-500103-CC", "198.51.100.7").is_ok(), "the owner is not locked out");
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_spraying_many_accounts_waits_for_all_of_them() {
        let t = LoginThrottle::new();
        for n in 0..ADDRESS_FREE_FAILURES {
            fail(&t, &format!("town-500103{n:03}"), "203.0.113.9", 1);
        }
        assert!(matches!(t.admit("admin", "203.0.113.9"), Err(Refusal::Wait(_))));
        assert!(t.admit("admin", "198.51.100.7").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_gets_a_bounded_share_of_the_password_checks() {
        use futures::FutureExt as _;
        let t = LoginThrottle::new();
        let mut first = t.admit("a", "203.0.113.9").expect("admitted");
        let mut second = t.admit("b", "203.0.113.9").expect("admitted");
        first.turn().await;
        second.turn().await;
        let mut third = t.admit("c", "203.0.113.9").expect("admitted to the line");
        assert!(third.turn().now_or_never().is_none(), "waits while the address has two checks running");
        let mut elsewhere = t.admit("c", "198.51.100.7").expect("admitted");
        assert!(elsewhere.turn().now_or_never().is_some(), "another address has its own turns");
        drop(first);
        assert!(third.turn().now_or_never().is_some(), "a finished check frees its turn");
        // second and third hold places; fill the rest of the line.
        let line: Vec<_> =
            (2..ADDRESS_QUEUE).map(|n| t.admit(&format!("u{n}"), "203.0.113.9").expect("in line")).collect();
        assert_eq!(t.admit("x", "203.0.113.9").err(), Some(Refusal::Busy), "the line is bounded");
        drop(line);
        assert!(t.admit("x", "203.0.113.9").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tables_stay_bounded() {
        let t = LoginThrottle::new();
        for n in 0..(MAX_ENTRIES + 50) {
            t.failed(&format!("u{n}"), &format!("a{}", n % 1000));
        }
        assert!(t.tracked() <= 3 * MAX_ENTRIES);
    }
}
