//! Restart in place: a shard that starts after the run's coordinated start (`--start-at`, let in
//! by `--start-grace`: a pod an Indexed Job reran) joins the whole run's schedule where it
//! stands, instead of starting its own from the beginning.
//!
//! The test's clock starts at the coordinated start (its origin), `join` seconds before now:
//!
//! - open model: the arrivals of the whole schedule intended before the join are *missed*:
//!   never started, never replayed, counted (per second of the schedule, for the series). The
//!   schedule goes on from the first arrival intended at or after the join, each at its own
//!   time, through ramps too. Which arrival that is comes from the schedule's own arithmetic
//!   ([`Arrivals`]), so the join never disagrees with the executor by a rounding.
//! - closed model: the users ramp follows the origin, so the users at the join are what the
//!   stages give at `join`, and the test ends with the whole run's duration.
//!
//! Everything here runs once, when a test starts; nothing is added to the per-arrival path.

use crate::config::{Arrivals, Ramp};

/// The number of the first arrival of the whole schedule (`rate` until `end`) intended at or
/// after `t` seconds: the arrivals before it are the ones a shard joining at `t` missed. When
/// the schedule ends before `t`, its number of arrivals.
pub(crate) fn first_arrival_at(rate: &Ramp, end: Option<f64>, t: f64) -> u64 {
    let before = |k: u64| -> bool {
        // Arrival `k`'s own offset, from the executor's own formula.
        let mut a = Arrivals::strided(rate.clone(), end, k, 1);
        a.next_offset().is_some_and(|offset| offset < t)
    };
    if t <= 0.0 || !before(0) {
        return 0;
    }
    // Arrival offsets grow with their number: find the last one before `t` by doubling, then
    // bisection. `lo` is before `t`, `hi` is not.
    let (mut lo, mut hi) = (0u64, 1u64);
    while before(hi) {
        lo = hi;
        hi = match hi.checked_mul(2) {
            Some(h) => h,
            None => return u64::MAX,
        };
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// How many of the arrivals `offset, offset + stride, ...` (a shard's or a worker's share) are
/// numbered below `k`.
pub(crate) fn share_below(k: u64, offset: u64, stride: u64) -> u64 {
    let stride = stride.max(1);
    if k <= offset {
        0
    } else {
        (k - offset).div_ceil(stride)
    }
}

/// The first arrival of the share `offset, offset + stride, ...` numbered `k` or above.
pub(crate) fn share_from(k: u64, offset: u64, stride: u64) -> u64 {
    offset.saturating_add(share_below(k, offset, stride).saturating_mul(stride.max(1)))
}

/// The open model's missed arrivals of one process (its share `offset, offset + stride, ...`
/// of the whole schedule, below the iteration budget `budget`) for a join at `join` seconds:
/// one count per second of the schedule, `[0, 1)`, `[1, 2)`, ..., the last second cut at the
/// join.
pub(crate) fn missed_by_second(
    rate: &Ramp,
    end: Option<f64>,
    budget: Option<u64>,
    (offset, stride): (u64, u64),
    join: f64,
) -> Vec<u64> {
    let cap = |k: u64| budget.map_or(k, |b| k.min(b));
    let mut from = 0u64;
    // The seconds the join falls in or after: none for a join at the start.
    let count = if join > 0.0 { join.ceil() as u64 } else { 0 };
    (1..=count)
        .map(|s| {
            let upto = cap(first_arrival_at(rate, end, (s as f64).min(join)));
            let missed = share_below(upto, offset, stride) - share_below(from, offset, stride);
            from = upto;
            missed
        })
        .collect()
}

/// The closed model's users of one process (its share of the global users, `offset` of
/// `stride`) at a join `join` seconds into the ramp.
pub(crate) fn users_at(users: &Ramp, (offset, stride): (u64, u64), join: f64) -> u64 {
    let global = users.level_at(join).round() as u64;
    crate::config::shard::share(global, offset, stride)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every arrival of a schedule, by number.
    fn all(rate: &Ramp, end: Option<f64>) -> Vec<f64> {
        let mut a = Arrivals::new(rate.clone(), end);
        std::iter::from_fn(|| a.next_offset()).collect()
    }

    #[test]
    fn the_first_arrival_at_a_join_is_the_first_not_before_it() {
        let ramps = [
            (Ramp::constant(300.0), Some(3.0)),
            (
                Ramp::stages(&[(2.0, 150.0), (1.0, 150.0), (1.0, 0.0)]),
                None,
            ),
            (Ramp::stages(&[(0.5, 1000.0), (1.5, 20.0)]), Some(2.0)),
        ];
        for (rate, end) in ramps {
            let offsets = all(&rate, end);
            for join in [
                0.0,
                0.001,
                0.25,
                0.5,
                1.0,
                1.0 / 3.0,
                1.7,
                2.0,
                2.999,
                3.5,
                10.0,
            ] {
                let expected = offsets.iter().take_while(|&&t| t < join).count() as u64;
                assert_eq!(
                    first_arrival_at(&rate, end, join),
                    expected,
                    "{rate:?} joined at {join}"
                );
            }
            // Exactly at an arrival's own offset: that arrival is not missed.
            for (k, &t) in offsets.iter().enumerate().step_by(37) {
                assert!(first_arrival_at(&rate, end, t) <= k as u64, "{k} at {t}");
            }
        }
        // Constant 300/s: at 1.5 s, arrivals 0 to 449 are before the join.
        assert_eq!(first_arrival_at(&Ramp::constant(300.0), None, 1.5), 450);
    }

    #[test]
    fn a_share_starts_from_its_first_arrival_at_or_after_the_join() {
        // Shard 2 of 3 (arrivals 1, 4, 7, ...): below 450 it has 1, 4, ..., 448: 150.
        assert_eq!(share_below(450, 1, 3), 150);
        assert_eq!(share_from(450, 1, 3), 451);
        assert_eq!(share_from(449, 1, 3), 451);
        assert_eq!(share_from(448, 1, 3), 448);
        assert_eq!(share_from(0, 2, 3), 2);
        assert_eq!(share_below(2, 2, 3), 0);
        // The shares of every offset add up to the whole below any k.
        for k in 0..100u64 {
            for stride in 1..7u64 {
                let sum: u64 = (0..stride).map(|o| share_below(k, o, stride)).sum();
                assert_eq!(sum, k, "{k} over {stride}");
                for o in 0..stride {
                    let f = share_from(k, o, stride);
                    assert!(f >= k && f < k + stride && f % stride == o);
                }
            }
        }
    }

    #[test]
    fn missed_arrivals_by_second_add_up_to_the_share_before_the_join() {
        let rate = Ramp::constant(300.0);
        // Shard 2 of 3 joining 2.5 s in: 100 missed in each whole second, 50 in the half.
        assert_eq!(
            missed_by_second(&rate, Some(10.0), None, (1, 3), 2.5),
            vec![100, 100, 50]
        );
        // The shards together miss the whole's arrivals before the join, second by second.
        let ramp = Ramp::stages(&[(2.0, 150.0), (1.0, 150.0), (1.0, 0.0)]);
        let offsets = all(&ramp, None);
        let join = 3.3;
        let whole: Vec<u64> = (0..4)
            .map(|s| {
                let (a, b) = (f64::from(s), (f64::from(s) + 1.0).min(join));
                offsets.iter().filter(|&&t| t >= a && t < b).count() as u64
            })
            .collect();
        let parts: Vec<Vec<u64>> = (0..4)
            .map(|k| missed_by_second(&ramp, None, None, (k, 4), join))
            .collect();
        for (s, w) in whole.iter().enumerate() {
            assert_eq!(parts.iter().map(|p| p[s]).sum::<u64>(), *w, "second {s}");
        }
        // A budget: arrivals at or past it never start, so none of them is missed.
        assert_eq!(
            missed_by_second(&rate, None, Some(400), (0, 1), 2.0),
            vec![300, 100]
        );
        assert!(missed_by_second(&rate, None, None, (0, 1), 0.0).is_empty());
        // An exact second: no empty tail second.
        assert_eq!(missed_by_second(&rate, None, None, (0, 1), 1.0), vec![300]);
    }

    #[test]
    fn closed_users_at_a_join_are_the_ramps() {
        let users = Ramp::stages(&[(10.0, 30.0), (10.0, 30.0), (5.0, 0.0)]);
        // 5 s in, the ramp stands at 15 users: shard 1 of 4 runs users 0, 4, 8, 12: 4.
        assert_eq!(users_at(&users, (0, 4), 5.0), 4);
        assert_eq!(users_at(&users, (3, 4), 5.0), 3);
        assert_eq!(
            (0..4).map(|k| users_at(&users, (k, 4), 5.0)).sum::<u64>(),
            15
        );
        assert_eq!(users_at(&users, (0, 1), 15.0), 30);
        assert_eq!(users_at(&users, (0, 1), 30.0), 0);
        assert_eq!(users_at(&Ramp::constant(7.0), (1, 2), 100.0), 3);
    }
}
