//! The statistics of the regression gate.
//!
//! A load test's per-request latencies are autocorrelated (a slow second slows every request in
//! it), so treating them as independent samples makes noise look significant. The gate instead
//! treats one-second windows as its samples: each window contributes one value per metric (its
//! p50, p95 or p99, its throughput, its error fraction). A run is summarised by the median of its
//! window values, and the change between two runs by the ratio of those medians. Its confidence
//! interval comes from a moving-block bootstrap over each run's windows (blocks keep neighbouring
//! windows together, so what autocorrelation remains between windows is preserved): each
//! resample draws blocks of consecutive windows with replacement from each run independently, and
//! the interval is the percentile interval of the resampled ratios.
//!
//! That interval measures the noise within a run, and runs differ from each other by more than
//! that (the machine's state, timer phase and background load change between runs). So a saved
//! baseline of several runs makes each run one sample ([`ratio_to_runs`], [`difference_to_runs`]):
//! the new run is compared with the runs' spread through a prediction interval for one more run.
//! A baseline of one run has no between-run spread to show; the one-second windows' own spread
//! stands in for it ([`ratio_by_window_spread`]), and the gate's absolute floors absorb what it
//! still misses on fast endpoints.
//!
//! Assumptions: windows are roughly stationary within a run (no trend), runs are independent, and
//! the runs ran the same load model. A change is declared only when the whole interval lies
//! beyond the tolerance.

/// A point estimate and its confidence interval: the verdict's type, which judges it.
pub use loadtest_report::verdict::Estimate;

/// The median of a non-empty slice (sorted in place).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The arithmetic mean of a non-empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The block length for `n` windows: about the cube root of `n`, at least 1.
pub fn block_len(n: usize) -> usize {
    ((n as f64).cbrt().round() as usize).clamp(1, n.max(1))
}

/// One moving-block bootstrap resample of `xs`, written into `out`.
fn resample(xs: &[f64], block: usize, rng: &mut fastrand::Rng, out: &mut Vec<f64>) {
    out.clear();
    let n = xs.len();
    let starts = n - block + 1;
    while out.len() < n {
        let s = rng.usize(0..starts);
        for &x in &xs[s..s + block] {
            if out.len() == n {
                break;
            }
            out.push(x);
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The ratio of medians `median(new) / median(old)` and its bootstrap interval at `confidence`.
/// `None` when either side has fewer than 3 windows or the old median is zero.
pub fn ratio_of_medians(
    old: &[f64],
    new: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Estimate> {
    bootstrap(old, new, resamples, confidence, seed, |o, n| {
        let (mo, mn) = (median(o), median(n));
        (mo > 0.0).then(|| mn / mo)
    })
}

/// The difference of means `mean(new) - mean(old)` and its bootstrap interval.
pub fn difference_of_means(
    old: &[f64],
    new: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Estimate> {
    bootstrap(old, new, resamples, confidence, seed, |o, n| {
        Some(mean(n) - mean(o))
    })
}

fn bootstrap(
    old: &[f64],
    new: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
    stat: impl Fn(&mut [f64], &mut [f64]) -> Option<f64>,
) -> Option<Estimate> {
    if old.len() < 3 || new.len() < 3 {
        return None;
    }
    let value = stat(&mut old.to_vec(), &mut new.to_vec())?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let (bo, bn) = (block_len(old.len()), block_len(new.len()));
    let (mut ro, mut rn) = (Vec::with_capacity(old.len()), Vec::with_capacity(new.len()));
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        resample(old, bo, &mut rng, &mut ro);
        resample(new, bn, &mut rng, &mut rn);
        if let Some(s) = stat(&mut ro, &mut rn) {
            stats.push(s);
        }
    }
    if stats.is_empty() {
        return None;
    }
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Some(Estimate {
        value,
        low: percentile(&stats, alpha),
        high: percentile(&stats, 1.0 - alpha),
    })
}

/// Paired rounds (A/B gate): each pair is one round's `(old, new)` value of a metric. The change
/// is the geometric mean of the rounds' ratios `new / old`; its 95% interval is an expanded percentile
/// bootstrap over rounds (resampling whole pairs, so each round's A and B stay together).
/// `None` with fewer than 3 usable pairs (both values positive).
pub fn paired_ratio(pairs: &[(f64, f64)], resamples: usize, seed: u64) -> Option<Estimate> {
    let logs: Vec<f64> = pairs
        .iter()
        .filter(|(o, n)| *o > 0.0 && *n > 0.0)
        .map(|(o, n)| (n / o).ln())
        .collect();
    paired_mean(&logs, resamples, seed).map(exp)
}

/// An estimate made on logarithms, back on the scale of ratios.
fn exp(e: Estimate) -> Estimate {
    Estimate {
        value: e.value.exp(),
        low: e.low.exp(),
        high: e.high.exp(),
    }
}

/// `centre ± half`.
fn around(centre: f64, half: f64) -> Estimate {
    Estimate {
        value: centre,
        low: centre - half,
        high: centre + half,
    }
}

/// Paired rounds: the mean of the rounds' differences `new - old` and its interval (as
/// [`paired_ratio`]).
pub fn paired_difference(pairs: &[(f64, f64)], resamples: usize, seed: u64) -> Option<Estimate> {
    let diffs: Vec<f64> = pairs.iter().map(|(o, n)| n - o).collect();
    paired_mean(&diffs, resamples, seed)
}

/// The mean of `xs` and its 95% expanded percentile bootstrap interval (Hesterberg, 2015): the plain
/// percentile interval of a mean is too narrow for few samples (it uses neither the `n - 1` of the
/// variance nor Student's t), so its quantile levels are widened to
/// `Φ(-sqrt(n / (n - 1)) · t(n - 1, 0.975))` instead of 2.5% and 97.5%.
fn paired_mean(xs: &[f64], resamples: usize, seed: u64) -> Option<Estimate> {
    let n = xs.len();
    if n < 3 {
        return None;
    }
    let value = mean(xs);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| xs[rng.usize(0..n)]).sum::<f64>() / n as f64)
        .collect();
    stats.sort_by(f64::total_cmp);
    let scale = (n as f64 / (n as f64 - 1.0)).sqrt();
    let level = normal_cdf(-scale * student_t_975(n - 1));
    Some(Estimate {
        value,
        low: percentile(&stats, level),
        high: percentile(&stats, 1.0 - level),
    })
}

/// The standard deviation of `xs` (n - 1 in the denominator); 0 for fewer than two values.
pub fn std_dev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// One new run against a baseline of several runs, each run one sample: the ratio of `new` to
/// the geometric mean of `runs`, with a 95% prediction interval for one more run of the baseline
/// (on the logarithms: t with `k - 1` degrees of freedom, times the runs' standard deviation,
/// times `sqrt(1 + 1/k)`), so the change counts only beyond what the baseline's own runs differ
/// by. Also returns that spread (the standard deviation of the logarithms). `None` with fewer
/// than two runs or a value that is not positive.
pub fn ratio_to_runs(runs: &[f64], new: f64) -> Option<(Estimate, f64)> {
    if runs.len() < 2 || new <= 0.0 || runs.iter().any(|r| *r <= 0.0 || !r.is_finite()) {
        return None;
    }
    let logs: Vec<f64> = runs.iter().map(|r| r.ln()).collect();
    let (d, spread) = prediction(&logs, new.ln());
    Some((exp(d), spread))
}

/// As [`ratio_to_runs`] for a fraction (the error rate): the difference between `new` and the
/// runs' mean, with the same prediction interval on the fractions themselves.
pub fn difference_to_runs(runs: &[f64], new: f64) -> Option<(Estimate, f64)> {
    if runs.len() < 2 {
        return None;
    }
    Some(prediction(runs, new))
}

/// `new` minus the mean of the `k` values of `runs` (at least two), with the 95% prediction
/// interval for one more run (Student's t with `k - 1` degrees of freedom, times the runs'
/// standard deviation, times `sqrt(1 + 1/k)`), and that standard deviation.
fn prediction(runs: &[f64], new: f64) -> (Estimate, f64) {
    let spread = std_dev(runs);
    let half = student_t_975(runs.len() - 1) * spread * (1.0 + 1.0 / runs.len() as f64).sqrt();
    (around(new - mean(runs), half), spread)
}

/// One run against one: the ratio of the medians of the windows, with an interval as wide as
/// two runs would differ if whole runs varied as much as their one-second windows do (the
/// logarithms' standard deviations of both runs combined, times 1.96). Also returns the
/// baseline run's spread. `None` when either side has fewer than 3 positive windows.
pub fn ratio_by_window_spread(old: &[f64], new: &[f64]) -> Option<(Estimate, f64)> {
    let logs = |xs: &[f64]| -> Option<Vec<f64>> {
        let l: Vec<f64> = xs.iter().filter(|x| **x > 0.0).map(|x| x.ln()).collect();
        (l.len() >= 3).then_some(l)
    };
    let (lo, ln) = (logs(old)?, logs(new)?);
    let d = median(&mut ln.clone()) - median(&mut lo.clone());
    let (so, sn) = (std_dev(&lo), std_dev(&ln));
    let half = 1.96 * (so * so + sn * sn).sqrt();
    Some((exp(around(d, half)), so))
}

/// Two-sided p-value of Student's t statistic `t` with `df` degrees of freedom: the probability
/// of a |T| at least this large when the means are equal, `I(df / (df + t²); df/2, 1/2)` (the
/// regularized incomplete beta function). The table of [`student_t_975`] answers one quantile;
/// the change-point significance test of `cargo loadtest history` needs the whole tail.
/// `NaN` for a `NaN` statistic (0/0: two constant segments with equal means).
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5).clamp(0.0, 1.0)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine coefficients: relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction (modified
/// Lentz), on whichever side of the mean converges fast.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Student's t 97.5% quantile for `df` degrees of freedom (table to 30, then the normal's).
fn student_t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.96)
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26, error below 1e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noisy windows around `level` (a lognormal-ish spread, occasional spikes).
    fn windows(level: f64, n: usize, seed: u64, heavy_tail: bool) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|_| {
                let noise = 1.0 + (rng.f64() - 0.5) * 0.1;
                let spike = if heavy_tail && rng.f64() < 0.1 {
                    3.0
                } else {
                    1.0
                };
                level * noise * spike
            })
            .collect()
    }

    #[test]
    fn identical_distributions_give_an_interval_around_one() {
        let a = windows(100.0, 15, 1, false);
        let b = windows(100.0, 15, 2, false);
        let e = ratio_of_medians(&a, &b, 2000, 0.95, 7).unwrap();
        assert!(e.low < 1.0 && e.high > 1.0, "{e:?}");
        assert!(e.high - e.low < 0.1, "{e:?}");
    }

    #[test]
    fn a_shift_is_estimated_and_its_interval_excludes_one() {
        let a = windows(100.0, 15, 3, false);
        let b = windows(120.0, 15, 4, false);
        let e = ratio_of_medians(&a, &b, 2000, 0.95, 7).unwrap();
        assert!((e.value - 1.2).abs() < 0.05, "{e:?}");
        assert!(e.low > 1.1, "{e:?}");
    }

    #[test]
    fn heavy_tails_do_not_move_the_median_much() {
        let a = windows(100.0, 20, 5, true);
        let b = windows(100.0, 20, 6, true);
        let e = ratio_of_medians(&a, &b, 2000, 0.95, 7).unwrap();
        assert!(e.low < 1.0 && e.high > 1.0, "{e:?}");
        assert!((e.value - 1.0).abs() < 0.1, "{e:?}");
    }

    #[test]
    fn one_more_run_like_the_baseline_s_lies_inside_the_prediction_interval() {
        let runs = [100.0, 104.0, 97.0, 101.0, 99.0];
        let (e, spread) = ratio_to_runs(&runs, 102.0).unwrap();
        assert!(e.low < 1.0 && e.high > 1.0, "{e:?}");
        assert!((spread - 0.0259).abs() < 0.001, "{spread}");
        // t(4) = 2.776, sqrt(1.2): the half-width is about 3.04 spreads.
        assert!(
            ((e.high / e.value).ln() - 3.041 * spread).abs() < 1e-3,
            "{e:?}"
        );
        let (e, _) = ratio_to_runs(&runs, 130.0).unwrap();
        assert!(e.low > 1.15, "{e:?}");
        // A baseline whose runs disagree widely cannot see the same change.
        let (e, _) = ratio_to_runs(&[60.0, 100.0, 140.0, 90.0, 110.0], 130.0).unwrap();
        assert!(e.low < 1.0, "{e:?}");
        assert!(ratio_to_runs(&[100.0], 130.0).is_none());
        assert!(ratio_to_runs(&[100.0, 0.0, 90.0], 130.0).is_none());
    }

    #[test]
    fn error_fractions_compare_by_difference_with_the_runs() {
        let (e, spread) = difference_to_runs(&[0.0, 0.0, 0.0], 0.05).unwrap();
        assert_eq!((e.value, e.low, e.high, spread), (0.05, 0.05, 0.05, 0.0));
        let (e, _) = difference_to_runs(&[0.01, 0.03, 0.02], 0.02).unwrap();
        assert!(e.low < 0.0 && e.high > 0.0, "{e:?}");
    }

    #[test]
    fn one_run_s_interval_is_as_wide_as_its_windows_spread() {
        let a = windows(100.0, 15, 1, false);
        let b = windows(100.0, 15, 2, false);
        let (e, spread) = ratio_by_window_spread(&a, &b).unwrap();
        let boot = ratio_of_medians(&a, &b, 2000, 0.95, 7).unwrap();
        assert!(e.low < boot.low && e.high > boot.high, "{e:?} vs {boot:?}");
        assert!(spread > 0.01 && spread < 0.05, "{spread}");
        let b = windows(150.0, 15, 2, false);
        let (e, _) = ratio_by_window_spread(&a, &b).unwrap();
        assert!(e.low > 1.3, "{e:?}");
        assert!(ratio_by_window_spread(&a, &b[..2]).is_none());
    }

    #[test]
    fn zero_error_baselines_use_differences() {
        let a = vec![0.0; 10];
        let mut b = vec![0.0; 10];
        b[3] = 0.5;
        let e = difference_of_means(&a, &b, 1000, 0.95, 7).unwrap();
        assert!((e.value - 0.05).abs() < 1e-12);
        assert!(e.low >= 0.0 && e.high <= 0.5, "{e:?}");
        assert!(
            ratio_of_medians(&a, &b, 100, 0.95, 7).is_none(),
            "a zero baseline has no ratio"
        );
    }

    #[test]
    fn paired_intervals_cover_an_unchanged_system_about_95_percent_of_the_time() {
        // 400 simulated A/A gates of 6 rounds, each round's machine speed moving both runs
        // together by up to ±30% and each run adding its own ±5% noise.
        let mut rng = fastrand::Rng::with_seed(11);
        let mut excluded = 0;
        for g in 0..400 {
            let pairs: Vec<(f64, f64)> = (0..6)
                .map(|_| {
                    let machine = 1.0 + (rng.f64() - 0.5) * 0.6;
                    let own = |r: &mut fastrand::Rng| 1.0 + (r.f64() - 0.5) * 0.1;
                    (
                        100.0 * machine * own(&mut rng),
                        100.0 * machine * own(&mut rng),
                    )
                })
                .collect();
            let e = paired_ratio(&pairs, 1000, g).unwrap();
            if e.low > 1.0 || e.high < 1.0 {
                excluded += 1;
            }
        }
        assert!(
            (4..=36).contains(&excluded),
            "{excluded} of 400 intervals excluded 1 (expected about 20)"
        );
    }

    #[test]
    fn pairing_removes_the_machine_and_finds_a_ten_percent_change() {
        let mut rng = fastrand::Rng::with_seed(12);
        let pairs: Vec<(f64, f64)> = (0..6)
            .map(|_| {
                let machine = 1.0 + (rng.f64() - 0.5) * 0.6;
                let own = |r: &mut fastrand::Rng| 1.0 + (r.f64() - 0.5) * 0.04;
                (
                    100.0 * machine * own(&mut rng),
                    110.0 * machine * own(&mut rng),
                )
            })
            .collect();
        let e = paired_ratio(&pairs, 2000, 3).unwrap();
        assert!((e.value - 1.1).abs() < 0.03, "{e:?}");
        assert!(e.low > 1.05, "{e:?}");
        let d = paired_difference(&[(0.0, 0.01), (0.0, 0.01), (0.01, 0.02)], 500, 1).unwrap();
        assert!((d.value - 0.01).abs() < 1e-12 && d.low <= d.value && d.high >= d.value);
        assert!(paired_ratio(&[(1.0, 1.0), (1.0, 1.1)], 100, 1).is_none());
    }

    #[test]
    fn the_expansion_uses_students_t() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(-1.959_964) - 0.025).abs() < 1e-6);
        assert_eq!(student_t_975(5), 2.571);
        assert_eq!(student_t_975(100), 1.96);
    }

    #[test]
    fn students_t_p_values_match_the_tables() {
        // The 97.5% quantiles of the table are two-sided 5% points.
        for df in [1usize, 2, 5, 10, 30] {
            let p = student_t_two_sided_p(student_t_975(df), df as f64);
            assert!((p - 0.05).abs() < 2e-4, "df {df}: {p}");
        }
        // Two-sided tails by numerical integration of the density: 0.0025183 and 2.533e-13.
        assert!((student_t_two_sided_p(4.0, 10.0) - 0.002_518_3).abs() < 1e-6);
        let tiny = student_t_two_sided_p(10.0, 48.0);
        assert!((tiny / 2.533e-13 - 1.0).abs() < 1e-3, "{tiny}");
        assert_eq!(student_t_two_sided_p(0.0, 7.0), 1.0);
        assert_eq!(student_t_two_sided_p(f64::INFINITY, 7.0), 0.0);
        assert!(student_t_two_sided_p(f64::NAN, 7.0).is_nan());
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn too_few_windows_give_no_estimate() {
        assert!(ratio_of_medians(&[1.0, 2.0], &[1.0, 2.0, 3.0], 100, 0.95, 1).is_none());
    }

    #[test]
    fn medians_and_blocks() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(block_len(1), 1);
        assert_eq!(block_len(15), 2);
        assert_eq!(block_len(64), 4);
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let a = windows(100.0, 12, 8, false);
        let b = windows(105.0, 12, 9, false);
        assert_eq!(
            ratio_of_medians(&a, &b, 500, 0.95, 3),
            ratio_of_medians(&a, &b, 500, 0.95, 3)
        );
    }
}
