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
//! Assumptions: windows are roughly stationary within a run (no trend), runs are independent, and
//! the two runs ran the same load model. Run-to-run variation of the machine itself is not in the
//! interval: that is what the tolerance absorbs. A change is declared only when the whole interval
//! lies beyond the tolerance.

/// A point estimate and its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The point estimate (a ratio new/old, or a difference new - old).
    pub value: f64,
    /// The lower bound of the interval.
    pub low: f64,
    /// The upper bound of the interval.
    pub high: f64,
}

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
