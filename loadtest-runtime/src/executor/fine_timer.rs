//! A sub-millisecond timer for the open model's arrival schedule.
//!
//! tokio's timer has a resolution of one millisecond: iterations scheduled on it start up to a
//! millisecond late, in bursts, and that delay is counted as scheduling lag. On Linux this timer
//! is a `timerfd` registered with tokio's reactor, so the runtime's own `epoll_wait` wakes at the
//! deadline (no extra thread, no cross-thread wake-up; one `timerfd_settime` and one `read` per
//! wake-up). Elsewhere, or if the `timerfd` cannot be made, tokio's timer is used.
//!
//! The arrival loop asks for at most one wake-up every [`MIN_WAKE_SPACING`], so the cost stays
//! small at high rates; waits longer than [`COARSE_MARGIN`] go to tokio's timer first.

use std::time::Duration;
use tokio::time::Instant;

/// Waits longer than this sleep on tokio's timer until this close to their deadline.
const COARSE_MARGIN: Duration = Duration::from_millis(2);

/// The shortest time between two wake-ups of the arrival loop: arrivals due closer together than
/// this start together (each with its lag counted from its own intended start).
pub(crate) const MIN_WAKE_SPACING: Duration = Duration::from_micros(250);

/// The timer of one arrival loop.
pub(crate) struct FineTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<linux::TimerFd>>,
}

impl FineTimer {
    /// A timer; must be made inside the tokio runtime.
    pub(crate) fn new() -> FineTimer {
        FineTimer {
            #[cfg(target_os = "linux")]
            fd: linux::TimerFd::new()
                .and_then(|fd| {
                    // SAFETY: the descriptor is owned by the `TimerFd`, which the `AsyncFd` owns;
                    // it is neither closed nor replaced while registered.
                    unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(|e| e.into())
                })
                .ok(),
        }
    }

    /// Sleeps until `deadline`, and never returns before it.
    pub(crate) async fn sleep_until(&self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if deadline <= now {
                return;
            }
            let left = deadline - now;
            #[cfg(target_os = "linux")]
            if let Some(fd) = &self.fd
                && left <= COARSE_MARGIN
                && fd.get_ref().arm(left).is_ok()
            {
                if let Ok(mut ready) = fd.readable().await {
                    // Reading the expiry count drains the descriptor (a one-shot timer fires
                    // once per arming), so its readiness is cleared whether the read found an
                    // expiry or not. Clearing only on a failed read left the readiness set, and
                    // the next wait began with a wasted read and a second arming.
                    let _ = fd.get_ref().read_expirations();
                    ready.clear_ready();
                }
                continue;
            }
            let coarse = if left > COARSE_MARGIN {
                deadline - COARSE_MARGIN
            } else {
                deadline
            };
            tokio::time::sleep_until(coarse).await;
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! The `timerfd` system calls, wrapped.
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    /// A non-blocking monotonic-clock `timerfd`.
    pub(super) struct TimerFd(OwnedFd);

    impl TimerFd {
        pub(super) fn new() -> io::Result<TimerFd> {
            // SAFETY: timerfd_create takes no pointers; a non-negative result is a new descriptor
            // that nothing else owns.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just created and is owned by nothing else.
            Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
        }

        /// Arms the timer to expire once, `after` from now (replacing any earlier setting).
        pub(super) fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1)); // zero would disarm it
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
                },
            };
            // SAFETY: `spec` is a valid itimerspec; the old value is not asked for (null).
            let r = unsafe {
                libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Reads (and so clears) the number of expirations; `WouldBlock` if none.
        pub(super) fn read_expirations(&self) -> io::Result<u64> {
            let mut count = [0u8; 8];
            // SAFETY: reads at most 8 bytes into an 8-byte buffer.
            let r = unsafe { libc::read(self.0.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(u64::from_ne_bytes(count))
        }
    }

    impl AsRawFd for TimerFd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_raw_fd()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_wakes_before_the_deadline_and_wakes_soon_after_it() {
        let timer = FineTimer::new();
        #[cfg(target_os = "linux")]
        assert!(timer.fd.is_some(), "the timerfd could not be made");
        let mut lateness = Vec::new();
        for i in 0..200u64 {
            let deadline = Instant::now() + Duration::from_micros(100 + (i * 37) % 3000);
            timer.sleep_until(deadline).await;
            let woke = Instant::now();
            assert!(woke >= deadline);
            lateness.push(woke - deadline);
        }
        lateness.sort();
        // A generous bound for a shared machine (typical is tens of microseconds; the precision
        // itself is measured by bench/peers.sh as the open model's scheduling lag).
        assert!(
            lateness[lateness.len() / 2] < Duration::from_millis(1),
            "median lateness {:?}",
            lateness[lateness.len() / 2]
        );
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        let timer = FineTimer::new();
        let before = Instant::now();
        timer.sleep_until(before).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        timer.sleep_until(before).await;
        assert!(Instant::now() - before < Duration::from_secs(5));
    }
}
