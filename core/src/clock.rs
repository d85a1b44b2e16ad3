//! A clock that keeps running while the machine is suspended (Linux's `CLOCK_BOOTTIME`).
//! A lease's time runs out on etcd's side while this machine sleeps, but `Instant` (and
//! tokio's timers) stop counting then (rust-lang/rust #87906), so whatever must know until
//! when a lease is surely alive reads this clock.

use std::ops::Add;
use std::time::Duration;

/// A point on the boot clock: time since boot, suspended time included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BootTime(Duration);

#[cfg(target_os = "linux")]
const CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
// Elsewhere the monotonic clock, which may stop during suspend.
#[cfg(not(target_os = "linux"))]
const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

impl BootTime {
    /// Now.
    pub(crate) fn now() -> BootTime {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant that
        // exists on this platform, so the call cannot fail.
        unsafe { libc::clock_gettime(CLOCK, &mut ts) };
        BootTime(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// How long from now until `self` (zero once it passed).
    pub(crate) fn remaining(self) -> Duration {
        self.0.saturating_sub(BootTime::now().0)
    }

    /// Whether `self` is past.
    pub(crate) fn passed(self) -> bool {
        BootTime::now() >= self
    }
}

impl Add<Duration> for BootTime {
    type Output = BootTime;
    fn add(self, d: Duration) -> BootTime {
        BootTime(self.0 + d)
    }
}

/// Sleeps until `at` on the boot clock: tokio's timers stop during suspend, so the wait goes
/// in steps of at most a second, each checking this clock again.
pub(crate) async fn sleep_until(at: BootTime) {
    loop {
        let left = at.remaining();
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_on_and_compares() {
        let a = BootTime::now();
        let later = a + Duration::from_secs(3600);
        assert!(!later.passed() && a.passed());
        assert!(later.remaining() > Duration::from_secs(3599));
        assert_eq!(a.remaining(), Duration::ZERO);
        // It runs at least as fast as the monotonic clock: its readings enclose Instant's.
        let b = BootTime::now();
        let t = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let dt = t.elapsed();
        let db = BootTime::now().0 - b.0;
        assert!(dt >= Duration::from_millis(20) && db >= dt, "{db:?} {dt:?}");
    }

    #[tokio::test]
    async fn sleeping_until_a_boot_time_waits_for_it() {
        let at = BootTime::now() + Duration::from_millis(30);
        sleep_until(at).await;
        assert!(at.passed());
    }
}
