//! The global request rate limit of a test: a lock-free GCRA (a token bucket with a burst of
//! one), shared by all virtual users. Each caller reserves the next free slot with one
//! compare-and-swap and sleeps until it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Spaces calls evenly at a fixed rate across all tasks.
pub(crate) struct RateLimiter {
    start: Instant,
    interval_ns: u64,
    /// The theoretical arrival time of the next call, in ns since `start`.
    next_ns: AtomicU64,
}

impl RateLimiter {
    /// A limiter allowing `per_second` calls per second.
    pub(crate) fn new(per_second: f64) -> RateLimiter {
        let interval_ns = if per_second > 0.0 {
            (1e9 / per_second) as u64
        } else {
            u64::MAX / 4
        };
        RateLimiter {
            start: Instant::now(),
            interval_ns: interval_ns.max(1),
            next_ns: AtomicU64::new(0),
        }
    }

    /// Reserves a slot and returns how long to wait for it.
    pub(crate) fn reserve(&self) -> Duration {
        let now = self.start.elapsed().as_nanos() as u64;
        let mut cur = self.next_ns.load(Ordering::Relaxed);
        loop {
            let slot = cur.max(now);
            match self.next_ns.compare_exchange_weak(
                cur,
                slot + self.interval_ns,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Duration::from_nanos(slot - now),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Waits for the next slot.
    pub(crate) async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_at_the_rate() {
        let limiter = Arc::new(RateLimiter::new(10.0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        // 50 calls at 10/s: the first at once, the last 4.9 s later, 100 ms apart.
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[49], Duration::from_millis(4900));
        assert!(
            times
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(100))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_does_not_bank_a_burst() {
        let limiter = RateLimiter::new(100.0);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(limiter.reserve(), Duration::ZERO);
        assert_eq!(limiter.reserve(), Duration::from_millis(10));
    }
}
