//! The machine's own stall floor, for bench/hiccup.sh: sleeps 250 us at a time for SECONDS
//! (default 10) and prints how late each wake-up was (percentiles of the overshoot, in
//! microseconds). A stall of the VM or the host shows here as it would in the generator's
//! scheduling lag, so each fixed-rate figure can be read against it.
use std::time::{Duration, Instant};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SECONDS is a whole number"))
        .unwrap_or(10);
    let period = Duration::from_micros(250);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut overshoot_us: Vec<u64> = Vec::with_capacity(seconds as usize * 4000);
    loop {
        let asked = Instant::now();
        if asked >= end {
            break;
        }
        std::thread::sleep(period);
        let late = asked.elapsed().saturating_sub(period);
        overshoot_us.push(late.as_micros() as u64);
    }
    overshoot_us.sort_unstable();
    let at = |q: f64| overshoot_us[((overshoot_us.len() - 1) as f64 * q) as usize];
    println!(
        "hiccup floor ({} wake-ups of 250 us in {seconds} s): overshoot p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        overshoot_us.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        overshoot_us.last().copied().unwrap_or(0)
    );
}
