//! The latency a member has shown lately, and how long to wait for its answer before
//! acting on its silence: a read's hedge delay (as in Dean and Barroso's "The Tail at
//! Scale"), a watch stream's limit for a progress request.

use std::time::Duration;

/// How many of a member's recent successful calls its latency is judged by.
const WINDOW: usize = 128;
/// The hedge delay is worked out again after this many new samples (not on every call:
/// finding a quantile costs a sort of the window).
const RECOMPUTE_EVERY: u32 = 16;
/// A read is hedged once it has taken `FACTOR` times the member's 95th percentile: in
/// steady state that is well under the 5% of reads slower than the percentile itself.
const QUANTILE: f64 = 0.95;
const FACTOR: u32 = 2;

/// A member's recent successful calls' latencies.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    /// Microseconds, a ring of at most `WINDOW`.
    samples: Vec<u32>,
    next: usize,
    /// Samples since `delay` was worked out.
    fresh: u32,
    /// `FACTOR` × the window's `QUANTILE`, once there are samples.
    delay: Option<Duration>,
}

impl Latency {
    /// Books one successful call that took `took`.
    pub(crate) fn record(&mut self, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        if self.samples.len() < WINDOW {
            self.samples.push(micros);
        } else {
            self.samples[self.next] = micros;
        }
        self.next = (self.next + 1) % WINDOW;
        self.fresh += 1;
        // Early on every sample counts; later, every RECOMPUTE_EVERY-th.
        if self.samples.len() < RECOMPUTE_EVERY as usize || self.fresh >= RECOMPUTE_EVERY {
            self.fresh = 0;
            // A copy on the stack: this runs on the lookup path.
            let mut buf = [0u32; WINDOW];
            let sorted = &mut buf[..self.samples.len()];
            sorted.copy_from_slice(&self.samples);
            let at = ((sorted.len() - 1) as f64 * QUANTILE).round() as usize;
            let (_, q, _) = sorted.select_nth_unstable(at);
            self.delay = Some(Duration::from_micros(u64::from(*q)) * FACTOR);
        }
    }

    /// How long to wait for an answer before acting on the silence: what the latency
    /// says, at least `floor` and at most `cap` (the floor while nothing is known; the
    /// cap when the floor is above it, which makes the wait fixed).
    pub(crate) fn patience(&self, floor: Duration, cap: Duration) -> Duration {
        self.delay.unwrap_or(floor).max(floor).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn unknown_latency_waits_the_floor() {
        assert_eq!(Latency::default().patience(10 * MS, 250 * MS), 10 * MS);
    }

    #[test]
    fn the_delay_is_twice_the_95th_percentile_within_floor_and_cap() {
        let mut l = Latency::default();
        // 95 calls of 20 ms, 5 of 100 ms: the 95th percentile is 20 ms.
        for i in 0..100 {
            l.record(if i % 20 == 0 { 100 * MS } else { 20 * MS });
        }
        assert_eq!(l.patience(MS, 250 * MS), 40 * MS);
        assert_eq!(l.patience(50 * MS, 250 * MS), 50 * MS, "floor");
        assert_eq!(l.patience(MS, 30 * MS), 30 * MS, "cap");
        assert_eq!(l.patience(300 * MS, 250 * MS), 250 * MS, "fixed");
    }

    #[test]
    fn the_window_forgets_old_calls() {
        let mut l = Latency::default();
        for _ in 0..WINDOW {
            l.record(100 * MS);
        }
        assert_eq!(l.patience(MS, Duration::MAX), 200 * MS);
        for _ in 0..WINDOW {
            l.record(MS);
        }
        assert_eq!(l.patience(Duration::ZERO, Duration::MAX), 2 * MS);
    }

    #[test]
    fn absurd_latencies_saturate() {
        let mut l = Latency::default();
        l.record(Duration::MAX);
        assert_eq!(l.patience(MS, 250 * MS), 250 * MS);
    }
}
