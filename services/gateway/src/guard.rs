//! Per-connection defences against a client that misbehaves: a token bucket on the frames it
//! sends (each may cost a Redis snapshot), and a limit on consecutive frames answered with an
//! error, past which the session is closed with 1008. [`Budgets`]: what one connection may cost
//! beyond its frames — subscribes (each a snapshot or a replay) at a rate of their own, and a
//! budget of replayed stream entries, past which a resume gets a snapshot instead.

use std::time::Duration;

use tokio::time::Instant;
use whistle_common::ratelimit::{Bucket, Rate};

/// Tracks one connection's client frames.
#[derive(Debug)]
pub struct FrameGuard {
    rate: Rate,
    bucket: Bucket,
    max_strikes: u32,
    /// Consecutive client frames answered with an error.
    strikes: u32,
    /// The current frame was already counted as bad.
    flagged: bool,
}

impl FrameGuard {
    pub fn new(rate: Rate, max_consecutive_errors: u32) -> FrameGuard {
        FrameGuard {
            rate,
            bucket: Bucket::full(&rate, Instant::now()),
            max_strikes: max_consecutive_errors,
            strikes: 0,
            flagged: false,
        }
    }

    /// A client frame arrived: `Err` says how long until the client may send another.
    pub fn begin(&mut self) -> Result<(), Duration> {
        self.flagged = false;
        self.bucket.take(&self.rate, Instant::now())
    }

    /// The current frame was answered with an error the client caused.
    pub fn strike(&mut self) {
        if !self.flagged {
            self.flagged = true;
            self.strikes = self.strikes.saturating_add(1);
        }
    }

    /// The frame is handled; a good one clears the count.
    pub fn end(&mut self) {
        if !self.flagged {
            self.strikes = 0;
        }
    }

    /// The client has sent more consecutive bad frames than allowed.
    pub fn tripped(&self) -> bool {
        self.strikes > self.max_strikes
    }
}

/// A connection's subscribe rate and replay budget.
#[derive(Debug)]
pub struct Budgets {
    subscribe_rate: Rate,
    subscribes: Bucket,
    replay_rate: Rate,
    replay: Bucket,
}

impl Budgets {
    pub fn new(subscribe_rate: Rate, replay_rate: Rate) -> Budgets {
        let now = Instant::now();
        Budgets {
            subscribe_rate,
            subscribes: Bucket::full(&subscribe_rate, now),
            replay_rate,
            replay: Bucket::full(&replay_rate, now),
        }
    }

    /// A subscribe: `Err` says how long until the connection may subscribe again.
    pub fn subscribe(&mut self) -> Result<(), Duration> {
        self.subscribes.take(&self.subscribe_rate, Instant::now())
    }

    /// Entries the connection may still have replayed now.
    pub fn replay_left(&mut self) -> u64 {
        self.replay.available(&self.replay_rate, Instant::now())
    }

    /// `n` entries were replayed.
    pub fn replayed(&mut self, n: usize) {
        self.replay.spend(&self.replay_rate, Instant::now(), n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn subscribes_and_replays_draw_on_budgets_that_refill() {
        let mut b = Budgets::new(Rate::new(2, 1.0), Rate::new(100, 10.0));
        assert!(b.subscribe().is_ok() && b.subscribe().is_ok());
        assert_eq!(b.subscribe(), Err(Duration::from_secs(1)));
        assert_eq!(b.replay_left(), 100);
        b.replayed(70);
        assert_eq!(b.replay_left(), 30);
        b.replayed(500);
        assert_eq!(b.replay_left(), 0, "never below empty");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(b.replay_left(), 20);
        assert!(b.subscribe().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_good_frame_forgives_and_a_run_of_bad_ones_trips() {
        let mut g = FrameGuard::new(Rate::new(100, 100.0), 2);
        for _ in 0..2 {
            g.begin().expect("within rate");
            g.strike();
            g.strike(); // twice for one frame counts once
            g.end();
            assert!(!g.tripped());
        }
        g.begin().expect("within rate");
        g.end();
        for _ in 0..2 {
            g.begin().expect("within rate");
            g.strike();
            g.end();
        }
        assert!(!g.tripped(), "the good frame reset the run");
        g.begin().expect("within rate");
        g.strike();
        g.end();
        assert!(g.tripped());
    }

    #[tokio::test(start_paused = true)]
    async fn frames_beyond_the_rate_wait_for_the_bucket() {
        let mut g = FrameGuard::new(Rate::new(2, 1.0), 10);
        assert!(g.begin().is_ok() && g.begin().is_ok());
        assert_eq!(g.begin(), Err(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(g.begin().is_ok());
    }
}
