//! Change-point detection over one series (one metric of one test, one value per run): E-Divisive
//! means with a Student's t-test significance check, as Apache Otava (formerly Hunter) does it
//! (Fleming et al., "Hunter: Using Change Point Detection to Hunt for Performance Regressions",
//! ICPE 2023; Matteson and James, "A Nonparametric Approach for Multiple Change Point Analysis of
//! Multivariate Data", 2014).
//!
//! Three steps:
//!
//! 1. **Split.** Windows of `window` runs (default 50) slide over the series by half a window,
//!    and jump ahead to the last change point they found. Inside each window, E-Divisive means
//!    repeatedly takes, among the window's segments, the split `τ` (with an end `κ`) that
//!    maximises the divergence `Q(X, Y) = mn/(m+n) · (2·E|X−Y| − E|X−X'| − E|Y−Y'|)` between
//!    `X` = the segment before `τ` and `Y` = the runs from `τ` to `κ`, and keeps it while a
//!    two-sided Student's t-test between the two segments it separates is significant at a
//!    relaxed level (10× the asked p-value below 0.05). The union of all windows' points are the
//!    *weak* change points.
//! 2. **Statistics.** Each weak point is tested again between its neighbours (the whole segments
//!    from the previous to the next weak point, not the window).
//! 3. **Merge.** While some point is not significant at the asked p-value, the least significant
//!    is removed; then, while the smallest change is not above the minimum magnitude, it is
//!    removed; then, while the smallest absolute change is below the floor (when one is asked
//!    for: Otava has none), it is removed; each removal retests the neighbours, whose segments
//!    grew.
//!
//! The t-test is Otava's: pooled variance from the population standard deviations of the two
//! segments, `n1 + n2 − 2` degrees of freedom.
//!
//! After removing a point, Otava's merge (0.8.0) retests the point that followed it and the one
//! after that; the point before it, whose right segment grew, keeps its old test (its authors
//! suspect this in the review of apache/otava pull request 96). This detector does the same, so
//! that it finds the points Otava finds, which the unit tests check on Otava's own test series:
//! retesting the point before instead changed 4 of its 9 expected answers on the TigerBeetle
//! series (it dropped a few weak points such as 26, 260 and 363). Should Otava change this, so
//! should this (one line in `merge`).
//!
//! **Incremental.** [`detect_appended`] reuses a previous detection over a prefix of the same
//! series: every window that lay wholly inside the old runs saw the same values and is replayed
//! from its recorded result; only the windows that reach into the new runs are computed, then
//! steps 2 and 3 run over the whole series (linear in its length). The result is the one a full
//! [`detect`] gives, which the unit tests check.
//!
//! Costs: a window costs `O(window²)` per split it tries (prefix sums of the pairwise distances),
//! so a series of `n` runs costs `O(n · window)`.

use crate::compare::stats::student_t_two_sided_p;

/// What the detection is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Runs analysed at once by the split step (at least 2; Otava's default 50).
    pub window: usize,
    /// The largest p-value a change point may have.
    pub max_pvalue: f64,
    /// The smallest relative change a change point may have (0.05 is 5%), as Otava measures
    /// it: the larger of `|after/before − 1|` and `|before/after − 1|`.
    pub min_magnitude: f64,
    /// The smallest absolute change `|mean_after − mean_before|` a change point may have, in
    /// the series' unit (0: any). Not Otava's: the history sets it for latencies, whose small
    /// shifts on a shared machine are the machine's (see `analysis`).
    pub floor: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            window: 50,
            max_pvalue: 0.001,
            min_magnitude: 0.05,
            floor: 0.0,
        }
    }
}

/// The two segments around a change point and the t-test between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segments {
    /// Mean of the runs from the previous change point (or the start) to this one.
    pub mean_before: f64,
    /// Mean of the runs from this change point to the next (or the end).
    pub mean_after: f64,
    /// Population standard deviation before.
    pub std_before: f64,
    /// Population standard deviation after.
    pub std_after: f64,
    /// Two-sided p-value of Student's t-test between the segments (1 when it cannot be told).
    pub pvalue: f64,
}

impl Segments {
    /// `mean_after / mean_before − 1`; 0 when the mean before is 0 (as Otava reports it).
    pub fn change(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    /// The larger of the forward and backward relative changes, in absolute value.
    pub fn magnitude(&self) -> f64 {
        let backward = if self.mean_after == 0.0 {
            0.0
        } else {
            self.mean_before / self.mean_after - 1.0
        };
        self.change().abs().max(backward.abs())
    }

    /// `|mean_after − mean_before|`, in the series' unit (what [`Options::floor`] bounds).
    pub fn difference(&self) -> f64 {
        (self.mean_after - self.mean_before).abs()
    }
}

/// A change point: the index of the first value after the change, and its segments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangePoint {
    /// Index into the series of the first value of the new level.
    pub index: usize,
    /// The segments on both sides and their test.
    pub segments: Segments,
}

/// The result of a detection, with what [`detect_appended`] needs to extend it.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// The change points, by index.
    pub change_points: Vec<ChangePoint>,
    /// The options it ran with.
    options: Options,
    /// How many values it saw.
    len: usize,
    /// Each window of the split step: its start and the change points it found (series
    /// indices), in the order they ran.
    windows: Vec<(usize, Vec<usize>)>,
}

/// Finds the change points of `series`.
pub fn detect(series: &[f64], options: &Options) -> Detection {
    run(series, options, None)
}

/// Finds the change points of `series`, whose first `previous.len` values are the ones
/// `previous` was computed over with the same options: only the windows that reach past them
/// are computed again. Any other `previous` (other options, a longer series) is ignored and
/// the whole series analysed.
pub fn detect_appended(series: &[f64], options: &Options, previous: &Detection) -> Detection {
    if previous.options != *options || previous.len > series.len() {
        return detect(series, options);
    }
    run(series, options, Some(previous))
}

fn run(series: &[f64], options: &Options, previous: Option<&Detection>) -> Detection {
    let window = options.window.max(2);
    let first_pass = if options.max_pvalue < 0.05 {
        options.max_pvalue * 10.0
    } else if options.max_pvalue < 0.5 {
        options.max_pvalue * 2.0
    } else {
        options.max_pvalue
    };
    let step = (window / 2).max(1);
    let n = series.len();
    let mut weak: Vec<usize> = Vec::new();
    let mut windows = Vec::new();
    // The previous windows that lay wholly inside its values: the same values, the same result.
    let replayable: &[(usize, Vec<usize>)] = previous.map_or(&[][..], |p| {
        let whole = p
            .windows
            .iter()
            .take_while(|(start, _)| start + window <= p.len)
            .count();
        &p.windows[..whole]
    });
    let mut replayed = 0;
    let mut start = 0;
    while start < n {
        let end = (start + window).min(n);
        let found: Vec<usize> = match replayable.get(replayed) {
            Some((s, found)) if *s == start => {
                replayed += 1;
                found.clone()
            }
            _ => {
                replayed = replayable.len();
                window_change_points(&series[start..end], first_pass)
                    .into_iter()
                    .map(|i| i + start)
                    .collect()
            }
        };
        let last = found.last().copied().unwrap_or(0);
        for &cp in &found {
            if !weak.contains(&cp) {
                weak.push(cp);
            }
        }
        windows.push((start, found));
        start = last.max(start + step);
    }
    weak.sort_unstable();
    let mut points: Vec<ChangePoint> = weak
        .iter()
        .enumerate()
        .map(|(i, &index)| ChangePoint {
            index,
            segments: segments_at(series, &weak, i),
        })
        .collect();
    merge(series, &mut points, options);
    Detection {
        change_points: points,
        options: *options,
        len: n,
        windows,
    }
}

/// The segments around `points[i]`: from the previous point (or 0) to the next (or the end).
fn segments_at(series: &[f64], points: &[usize], i: usize) -> Segments {
    let from = if i == 0 { 0 } else { points[i - 1] };
    let to = points.get(i + 1).copied().unwrap_or(series.len());
    t_test(&series[from..points[i]], &series[points[i]..to])
}

/// Step 3: removes points until every one left is significant and large enough.
fn merge(series: &[f64], points: &mut Vec<ChangePoint>, options: &Options) {
    let pvalue = |c: &ChangePoint| {
        if c.segments.pvalue.is_nan() {
            1.0
        } else {
            c.segments.pvalue
        }
    };
    while !points.is_empty() {
        let mut weakest = 0;
        for (i, c) in points.iter().enumerate() {
            if pvalue(c) > pvalue(&points[weakest]) {
                weakest = i;
            }
        }
        if pvalue(&points[weakest]) < options.max_pvalue {
            let mut smallest = 0;
            for (i, c) in points.iter().enumerate() {
                if c.segments.magnitude() < points[smallest].segments.magnitude() {
                    smallest = i;
                }
            }
            if points[smallest].segments.magnitude() > options.min_magnitude {
                let mut least = 0;
                for (i, c) in points.iter().enumerate() {
                    if c.segments.difference() < points[least].segments.difference() {
                        least = i;
                    }
                }
                if points[least].segments.difference() >= options.floor {
                    return;
                }
                smallest = least;
            }
            weakest = smallest;
        }
        points.remove(weakest);
        let indices: Vec<usize> = points.iter().map(|c| c.index).collect();
        // Otava retests the point that followed the removed one and the one after it (see the
        // module documentation): so does this, to find the same points.
        for i in [weakest, weakest + 1] {
            if i < points.len() {
                points[i].segments = segments_at(series, &indices, i);
            }
        }
    }
}

/// Otava's t-test: two-sided, pooled variance from the population standard deviations.
fn t_test(left: &[f64], right: &[f64]) -> Segments {
    let (n1, n2) = (left.len() as f64, right.len() as f64);
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let sd = |xs: &[f64], m: f64| {
        if xs.len() < 2 {
            0.0
        } else {
            (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
        }
    };
    let (m1, m2) = (mean(left), mean(right));
    let (s1, s2) = (sd(left, m1), sd(right, m2));
    let pvalue = if n1 + n2 > 2.0 {
        let df = n1 + n2 - 2.0;
        let pooled = ((n1 - 1.0) * s1 * s1 + (n2 - 1.0) * s2 * s2) / df;
        let t = (m1 - m2) / (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
        student_t_two_sided_p(t, df)
    } else {
        1.0
    };
    Segments {
        mean_before: m1,
        mean_after: m2,
        std_before: s1,
        std_after: s2,
        pvalue,
    }
}

/// E-Divisive means inside one window: the change points (window indices) it keeps while each
/// next split is significant at `max_pvalue`.
fn window_change_points(z: &[f64], max_pvalue: f64) -> Vec<usize> {
    let divergence = Divergence::new(z);
    let mut points: Vec<usize> = Vec::new();
    loop {
        let mut bounds = Vec::with_capacity(points.len() + 2);
        bounds.push(0);
        bounds.extend(points.iter().copied());
        bounds.push(z.len());
        let mut best: Option<(usize, f64, usize, usize)> = None;
        for pair in bounds.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b - a < 2 {
                continue;
            }
            let (tau, q) = divergence.best_split(a, b);
            if best.is_none_or(|(_, bq, _, _)| q > bq) {
                best = Some((tau, q, a, b));
            }
        }
        let Some((tau, _, a, b)) = best else {
            return points;
        };
        let p = t_test(&z[a..tau], &z[tau..b]).pvalue;
        if p <= max_pvalue {
            points.push(tau);
            points.sort_unstable();
        } else {
            return points;
        }
    }
}

/// The pairwise distances `|z_i − z_j|` of one window, with each column's prefix sums, so that
/// the divergence of any split is a few additions.
struct Divergence {
    n: usize,
    /// `prefix[e * (n + 1) + t]` = `Σ_{i < t} |z_i − z_e|`.
    prefix: Vec<f64>,
}

impl Divergence {
    fn new(z: &[f64]) -> Divergence {
        let n = z.len();
        let mut prefix = vec![0.0; n * (n + 1)];
        for (e, ze) in z.iter().enumerate() {
            let row = &mut prefix[e * (n + 1)..(e + 1) * (n + 1)];
            for (i, zi) in z.iter().enumerate() {
                row[i + 1] = row[i] + (zi - ze).abs();
            }
        }
        Divergence { n, prefix }
    }

    /// `Σ_{lo ≤ i < hi} |z_i − z_e|`.
    fn column(&self, e: usize, lo: usize, hi: usize) -> f64 {
        let row = e * (self.n + 1);
        self.prefix[row + hi] - self.prefix[row + lo]
    }

    /// The split `τ` of `[a, b)` (with `a < τ < κ ≤ b`) that maximises `Q(z[a..τ], z[τ..κ])`,
    /// and that maximum. Ties go to the smallest `τ`, then `κ`; like Otava's matrix of `Q`, whose
    /// cells below the diagonal are zeros, a split whose best `Q` is negative loses to a zero at
    /// `τ = a + 2` when the segment has at least three values.
    fn best_split(&self, a: usize, b: usize) -> (usize, f64) {
        // within[y - a] = Σ_{a ≤ i < k < y} |z_i − z_k|.
        let mut within = Vec::with_capacity(b - a + 1);
        within.push(0.0);
        for y in a..b {
            let last = within[y - a];
            within.push(last + self.column(y, a, y));
        }
        let mut best = (a + 1, f64::NEG_INFINITY);
        for tau in a + 1..b {
            if tau == a + 2 && best.1 < 0.0 {
                best = (tau, 0.0);
            }
            let n = (tau - a) as f64;
            let w_x = within[tau - a];
            let mut between = 0.0;
            for kappa in tau + 1..=b {
                between += self.column(kappa - 1, a, tau);
                let m = (kappa - tau) as f64;
                let w_y = within[kappa - a] - w_x - between;
                let mut q = 2.0 / (m + n) * between;
                if n > 1.0 {
                    q -= 2.0 * m / ((m + n) * (n - 1.0)) * w_x;
                }
                if m > 1.0 {
                    q -= 2.0 * n / ((m + n) * (m - 1.0)) * w_y;
                }
                if q > best.1 {
                    best = (tau, q);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic normal-ish noise (the sum of four uniforms, scaled to a unit variance).
    fn noise(rng: &mut fastrand::Rng) -> f64 {
        ((0..4).map(|_| rng.f64()).sum::<f64>() - 2.0) * 3f64.sqrt()
    }

    /// `n` values around `level` with a relative noise `sd`, times `factor(i)`.
    fn series(n: usize, seed: u64, sd: f64, factor: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|i| 1000.0 * factor(i) * (1.0 + sd * noise(&mut rng)))
            .collect()
    }

    fn indices(d: &Detection) -> Vec<usize> {
        d.change_points.iter().map(|c| c.index).collect()
    }

    /// The divergence from its definition, for a few splits.
    #[test]
    fn the_divergence_is_e_divisive_s_q() {
        let z = [1.0, 3.0, 2.0, 8.0, 9.0, 7.5, 8.5];
        let d = Divergence::new(&z);
        let q = |x: &[f64], y: &[f64]| {
            let (n, m) = (x.len() as f64, y.len() as f64);
            let between: f64 = x
                .iter()
                .flat_map(|a| y.iter().map(move |b| (a - b).abs()))
                .sum();
            let pairs = |v: &[f64]| {
                let mut s = 0.0;
                for (i, a) in v.iter().enumerate() {
                    for b in &v[i + 1..] {
                        s += (a - b).abs();
                    }
                }
                s
            };
            let mut q = 2.0 / (m + n) * between;
            if n > 1.0 {
                q -= 2.0 * m / ((m + n) * (n - 1.0)) * pairs(x);
            }
            if m > 1.0 {
                q -= 2.0 * n / ((m + n) * (m - 1.0)) * pairs(y);
            }
            q
        };
        let mut expected = (0, f64::NEG_INFINITY);
        for tau in 1..z.len() {
            for kappa in tau + 1..=z.len() {
                let v = q(&z[..tau], &z[tau..kappa]);
                if v > expected.1 {
                    expected = (tau, v);
                }
            }
        }
        let got = d.best_split(0, z.len());
        assert_eq!(got.0, 3);
        assert_eq!(got.0, expected.0);
        assert!((got.1 - expected.1).abs() < 1e-9, "{got:?} {expected:?}");
    }

    #[test]
    fn a_step_is_found_at_its_run_with_its_size() {
        for (seed, at, factor) in [(1, 30, 1.15), (2, 20, 0.85), (3, 45, 1.10), (4, 12, 1.25)] {
            let s = series(60, seed, 0.02, |i| if i >= at { factor } else { 1.0 });
            let d = detect(&s, &Options::default());
            assert_eq!(
                d.change_points.len(),
                1,
                "seed {seed}: {:?}",
                d.change_points
            );
            let c = d.change_points[0];
            assert!(c.index.abs_diff(at) <= 1, "seed {seed}: {c:?}");
            assert!(
                (c.segments.change() - (factor - 1.0)).abs() < 0.02,
                "seed {seed}: {c:?}"
            );
            assert!(c.segments.pvalue < 1e-6, "{c:?}");
        }
    }

    #[test]
    fn two_steps_in_a_long_series_are_both_found() {
        let s = series(300, 9, 0.02, |i| match i {
            0..120 => 1.0,
            120..210 => 1.12,
            _ => 0.95,
        });
        let d = detect(&s, &Options::default());
        let found = indices(&d);
        assert_eq!(found.len(), 2, "{:?}", d.change_points);
        assert!(
            found[0].abs_diff(120) <= 1 && found[1].abs_diff(210) <= 1,
            "{found:?}"
        );
        assert!(d.change_points[0].segments.change() > 0.1);
        assert!(d.change_points[1].segments.change() < -0.1);
    }

    #[test]
    fn flat_noise_has_no_change_point_in_at_least_95_of_100_seeds() {
        // With the default minimum magnitude (5%). Without any (the p-value alone, Otava's
        // default), 9 of these 100 have one: the split that maximises the divergence is the
        // one tested, so its p-value understates the chance of finding some split; the
        // magnitude is what keeps noise out.
        let opts = Options::default();
        let mut with_points = 0;
        for seed in 0..100 {
            let s = series(100, 1000 + seed, 0.03, |_| 1.0);
            if !detect(&s, &opts).change_points.is_empty() {
                with_points += 1;
            }
        }
        assert!(
            with_points <= 5,
            "{with_points} of 100 flat series had a change point"
        );
    }

    #[test]
    fn changes_below_the_minimum_magnitude_are_dropped() {
        let s = series(80, 5, 0.005, |i| if i >= 40 { 1.03 } else { 1.0 });
        let strict = detect(&s, &Options::default());
        assert!(
            strict.change_points.is_empty(),
            "{:?}",
            strict.change_points
        );
        let loose = detect(
            &s,
            &Options {
                min_magnitude: 0.01,
                ..Options::default()
            },
        );
        assert_eq!(indices(&loose).len(), 1, "{:?}", loose.change_points);
        assert!(indices(&loose)[0].abs_diff(40) <= 1);
    }

    #[test]
    fn changes_below_the_floor_are_dropped_and_the_others_kept() {
        // Around 5000 (a 5 ms latency): +6% at run 30 (300), then +30% more at run 60 (1590).
        let s = series(90, 11, 0.005, |i| match i {
            0..30 => 1.0,
            30..60 => 1.06,
            _ => 1.378,
        });
        let s: Vec<f64> = s.iter().map(|v| v * 5.0).collect();
        assert_eq!(indices(&detect(&s, &Options::default())).len(), 2);
        let floored = detect(
            &s,
            &Options {
                floor: 1000.0,
                ..Options::default()
            },
        );
        assert_eq!(
            floored.change_points.len(),
            1,
            "{:?}",
            floored.change_points
        );
        let kept = floored.change_points[0];
        assert!(kept.index.abs_diff(60) <= 1, "{kept:?}");
        assert!(kept.segments.difference() >= 1000.0, "{kept:?}");
        // The removed point's neighbour was retested over the merged segment.
        assert!(kept.segments.mean_before < 5300.0, "{kept:?}");
    }

    #[test]
    fn appending_gives_what_a_full_analysis_gives() {
        let opts = Options::default();
        for seed in 0..4 {
            let s = series(400, 50 + seed, 0.03, |i| match i {
                0..150 => 1.0,
                150..360 => 1.2,
                _ => 0.9,
            });
            let mut previous = detect(&s[..340], &opts);
            for n in 341..=s.len() {
                let appended = detect_appended(&s[..n], &opts, &previous);
                assert_eq!(appended, detect(&s[..n], &opts), "seed {seed}, {n} values");
                previous = appended;
            }
        }
    }

    #[test]
    fn short_constant_and_empty_series_have_no_change_point() {
        let opts = Options::default();
        assert!(detect(&[], &opts).change_points.is_empty());
        assert!(detect(&[5.0], &opts).change_points.is_empty());
        assert!(detect(&[5.0, 9.0], &opts).change_points.is_empty());
        assert!(detect(&[3.0; 40], &opts).change_points.is_empty());
        // A constant that steps to another constant: infinitely significant.
        let mut s = vec![3.0; 20];
        s.extend([4.0; 20]);
        assert_eq!(indices(&detect(&s, &opts)), [20]);
    }

    /// Apache Otava's own tests (0.8.0: `tests/analysis_test.py`, `change_point_divisive_test.py`,
    /// `tigerbeetle_test.py`): the change points it finds in its test series, with its options.
    #[test]
    fn finds_what_otava_finds_in_otava_s_test_series() {
        let opts = |window, max_pvalue, min_magnitude| Options {
            window,
            max_pvalue,
            min_magnitude,
            floor: 0.0,
        };
        let single = [
            1.02, 0.95, 0.99, 1.00, 1.12, 1.00, 1.01, 0.98, 1.01, 0.96, 0.50, 0.51, 0.48, 0.48,
            0.55, 0.50, 0.49, 0.51, 0.50, 0.49,
        ];
        assert_eq!(indices(&detect(&single, &opts(10, 0.0001, 0.0))), [10]);
        // One window, the E-Divisive step alone, at p 0.01.
        let sequence = [
            0.3, 2.4, 1.5, -0.9, -0.5, 99.7, 98.3, 99.1, 149.0, 149.7, 149.5, 149.1, 148.8, 150.0,
        ];
        assert_eq!(window_change_points(&sequence, 0.01), [5, 8]);
        let tigerbeetle: Vec<f64> = include_str!("testdata/tigerbeetle.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.trim().parse().expect("a number"))
            .collect();
        assert_eq!(tigerbeetle.len(), 365);
        let expected: [(f64, f64, &[usize]); 9] = [
            (0.01, 0.05, &[15, 71]),
            (0.05, 0.05, &[15, 71]),
            (0.1, 0.05, &[10, 11, 15, 71, 363]),
            (0.2, 0.05, &[10, 11, 15, 71]),
            (
                0.01,
                0.0,
                &[
                    15, 26, 61, 71, 95, 117, 131, 142, 148, 165, 169, 192, 212, 260,
                ],
            ),
            (
                0.001,
                0.0,
                &[15, 61, 71, 95, 117, 131, 142, 148, 192, 212, 260],
            ),
            (0.0001, 0.0, &[71, 95, 117, 131, 142, 148, 192, 212]),
            (0.00001, 0.0, &[71, 95, 131, 192, 212]),
            (
                0.1,
                0.0,
                &[
                    3, 6, 10, 11, 15, 16, 28, 29, 35, 37, 39, 41, 44, 48, 49, 61, 71, 95, 117, 131,
                    142, 148, 165, 169, 192, 206, 212, 260, 265, 268, 278, 282, 288, 305, 363,
                ],
            ),
        ];
        let mut differ = Vec::new();
        for (p, m, want) in expected {
            let got = indices(&detect(&tigerbeetle, &opts(30, p, m)));
            if got != want {
                differ.push(format!("p {p}, magnitude {m}: {got:?}, Otava {want:?}"));
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
    }

    #[test]
    fn magnitudes_are_otava_s() {
        let s = Segments {
            mean_before: 100.0,
            mean_after: 80.0,
            std_before: 0.0,
            std_after: 0.0,
            pvalue: 0.0,
        };
        assert!((s.change() + 0.2).abs() < 1e-12);
        assert!((s.magnitude() - 0.25).abs() < 1e-12);
        let zero = Segments {
            mean_before: 0.0,
            mean_after: 0.1,
            ..s
        };
        assert_eq!(zero.change(), 0.0);
        assert_eq!(zero.magnitude(), 1.0);
    }
}
