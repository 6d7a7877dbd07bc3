//! Per-connection defences against a client that misbehaves: a token bucket on the frames it
//! sends (each may cost a Redis snapshot), and a limit on consecutive frames answered with an
//! error, past which the session is closed with 1008.

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

#[cfg(test)]
mod tests {
    use super::*;

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
