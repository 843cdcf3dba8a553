//! Piecewise-linear load profiles: how many users, or what arrival rate, at each moment, and the
//! exact arrival times of the open model (the inverse of the integrated rate).

/// A piecewise-linear level over time: `(seconds, level)` points, held constant after the last.
#[derive(Clone, Debug, PartialEq)]
pub struct Ramp {
    points: Vec<(f64, f64)>,
}

impl Ramp {
    /// A constant level.
    pub fn constant(level: f64) -> Self {
        Ramp {
            points: vec![(0.0, level)],
        }
    }

    /// Stages `(seconds, target)` starting from level 0.
    pub fn stages(stages: &[(f64, f64)]) -> Self {
        let mut points = vec![(0.0, 0.0)];
        let mut t = 0.0;
        for &(d, target) in stages {
            t += d;
            points.push((t, target));
        }
        Ramp { points }
    }

    /// The level at `t` seconds.
    pub fn level_at(&self, t: f64) -> f64 {
        let mut prev = self.points[0];
        if t <= prev.0 {
            return prev.1;
        }
        for &p in &self.points[1..] {
            if t <= p.0 {
                let span = p.0 - prev.0;
                return if span <= 0.0 {
                    p.1
                } else {
                    prev.1 + (p.1 - prev.1) * (t - prev.0) / span
                };
            }
            prev = p;
        }
        prev.1
    }

    /// The same profile with every level multiplied by `factor` (a worker's share).
    pub fn scaled(&self, factor: f64) -> Ramp {
        Ramp {
            points: self.points.iter().map(|&(t, l)| (t, l * factor)).collect(),
        }
    }

    /// The highest level reached.
    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// The time of the last point (0 for a constant ramp).
    pub fn end(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }
}

/// The open model's schedule: the intended start time of each iteration, in seconds.
///
/// Iteration `k` starts when the integral of the rate reaches `k`, so a constant rate `r` gives
/// `k / r` and a linear ramp gives the root of a quadratic. The schedule is computed, never
/// queued: falling behind it costs no memory.
#[derive(Clone, Debug)]
pub struct Arrivals {
    ramp: Ramp,
    end: Option<f64>,
    segment: usize,
    cum_at_segment: f64,
    next_k: u64,
    stride: u64,
}

impl Arrivals {
    /// A schedule that follows `ramp` (iterations per second) and stops at `end` seconds, if any.
    pub fn new(ramp: Ramp, end: Option<f64>) -> Self {
        Arrivals::strided(ramp, end, 0, 1)
    }

    /// Every `stride`-th arrival of the schedule of `ramp`, from arrival `offset`: the
    /// schedules of offsets `0..stride` together are exactly the whole schedule (how shards and
    /// worker threads split the open model).
    pub fn strided(ramp: Ramp, end: Option<f64>, offset: u64, stride: u64) -> Self {
        Arrivals {
            ramp,
            end,
            segment: 0,
            cum_at_segment: 0.0,
            next_k: offset,
            stride: stride.max(1),
        }
    }

    /// The global number of the arrival [`Arrivals::next_offset`] returns next.
    pub fn next_index(&self) -> u64 {
        self.next_k
    }

    /// The intended start of the next iteration, in seconds from the start, or `None` when the
    /// schedule is over (past its end, or the rate stays at zero).
    pub fn next_offset(&mut self) -> Option<f64> {
        let k = self.next_k as f64;
        let pts = &self.ramp.points;
        loop {
            let (t0, r0) = pts[self.segment];
            let last = self.segment + 1 >= pts.len();
            let n = k - self.cum_at_segment;
            if last {
                if r0 <= 0.0 {
                    return None;
                }
                let t = t0 + n / r0;
                return self.emit(t);
            }
            let (t1, r1) = pts[self.segment + 1];
            let d = t1 - t0;
            let seg_total = (r0 + r1) / 2.0 * d;
            if n < seg_total - 1e-12 {
                let tau = if (r1 - r0).abs() < 1e-12 {
                    n / r0
                } else {
                    let a = (r1 - r0) / (2.0 * d);
                    let disc = (r0 * r0 + 4.0 * a * n).max(0.0);
                    (-r0 + disc.sqrt()) / (2.0 * a)
                };
                return self.emit(t0 + tau.clamp(0.0, d));
            }
            self.cum_at_segment += seg_total;
            self.segment += 1;
        }
    }

    fn emit(&mut self, t: f64) -> Option<f64> {
        if self.end.is_some_and(|end| t >= end) {
            return None;
        }
        self.next_k += self.stride;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let mut a = Arrivals::new(Ramp::constant(200.0), Some(2.0));
        let times: Vec<f64> = std::iter::from_fn(|| a.next_offset()).collect();
        assert_eq!(times.len(), 400);
        assert!((times[1] - 0.005).abs() < 1e-9);
    }

    #[test]
    fn linear_ramp_integrates() {
        // 0 -> 100/s over 10 s: 500 arrivals; then 100/s for 5 s: 500 more.
        let ramp = Ramp::stages(&[(10.0, 100.0), (5.0, 100.0)]);
        let end = ramp.end();
        let mut a = Arrivals::new(ramp, Some(end));
        let times: Vec<f64> = std::iter::from_fn(|| a.next_offset()).collect();
        assert!((999..=1001).contains(&times.len()), "{}", times.len());
        let first_half = times.iter().filter(|&&t| t < 10.0).count();
        assert!((499..=501).contains(&first_half), "{first_half}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn strided_schedules_interleave_into_the_whole() {
        let ramps = [
            Ramp::constant(300.0),
            Ramp::stages(&[(2.0, 150.0), (1.0, 150.0), (1.0, 0.0)]),
            Ramp::stages(&[(0.5, 1000.0), (1.5, 20.0)]),
        ];
        for ramp in ramps {
            let end = Some(if ramp.end() > 0.0 { ramp.end() } else { 3.0 });
            let mut whole = Arrivals::new(ramp.clone(), end);
            let all: Vec<f64> = std::iter::from_fn(|| whole.next_offset()).collect();
            for stride in [1u64, 2, 3, 7, 64] {
                let mut merged: Vec<(u64, f64)> = Vec::new();
                for offset in 0..stride {
                    let mut a = Arrivals::strided(ramp.clone(), end, offset, stride);
                    loop {
                        let k = a.next_index();
                        let Some(t) = a.next_offset() else { break };
                        merged.push((k, t));
                    }
                }
                merged.sort_by_key(|m| m.0);
                assert_eq!(merged.len(), all.len(), "stride {stride}");
                for (i, (m, t)) in merged.iter().zip(&all).enumerate() {
                    assert_eq!(m.0, i as u64, "stride {stride}");
                    assert!((m.1 - t).abs() < 1e-9, "stride {stride}: {} vs {t}", m.1);
                }
            }
        }
    }

    #[test]
    fn ramp_down_to_zero_ends() {
        let ramp = Ramp::stages(&[(1.0, 10.0), (1.0, 0.0)]);
        let mut a = Arrivals::new(ramp, None);
        let n = std::iter::from_fn(|| a.next_offset()).count();
        assert!((9..=11).contains(&n), "{n}");
    }

    #[test]
    fn levels() {
        let r = Ramp::stages(&[(10.0, 50.0), (10.0, 50.0), (5.0, 0.0)]);
        assert_eq!(r.level_at(5.0), 25.0);
        assert_eq!(r.level_at(15.0), 50.0);
        assert_eq!(r.level_at(100.0), 0.0);
        assert_eq!(r.peak(), 50.0);
        assert_eq!(r.end(), 25.0);
    }
}
