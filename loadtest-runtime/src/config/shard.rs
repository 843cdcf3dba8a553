//! One shard's part of a test's load under `--shard K/N`: the split is exact, so that the N
//! shards together offer exactly the load one process would.
//!
//! - Closed model: the global virtual users are dealt round-robin: shard K runs users
//!   `K-1, K-1+N, K-1+2N, ...`. When the ramp asks for `u` users, shard K runs
//!   [`share`]`(u, K-1, N)` of them, so the shards' users add up to `u` at every moment of every
//!   stage. With more shards than users, the shards past the users have none and are idle.
//! - Closed model iteration budget: split with remainders among the shards that have users at
//!   the peak.
//! - Open model: shard K starts every N-th arrival of the whole schedule, from arrival `K-1`
//!   (through ramping stages too: the schedule is the test's, only strided), so the arrivals add
//!   up exactly; its iteration budget is the number of those arrivals among the first
//!   `iterations` of the whole.
//! - `max_in_flight` is split with remainders (at least 1 each); `rate_limit` is divided evenly.

use crate::config::{LoadModel, TestConfig};
use crate::grammar::Rate;
use crate::report::{ShardPart, ShardSpec};

/// How many of the items `0..total` are `offset` modulo `stride`: the part of `total` that
/// position `offset` of `stride` gets when the items are dealt round-robin. Over the positions
/// `0..stride` the parts add up to `total` and differ by at most one, the first ones larger.
pub fn share(total: u64, offset: u64, stride: u64) -> u64 {
    let stride = stride.max(1);
    if offset >= total {
        0
    } else {
        (total - offset - 1) / stride + 1
    }
}

/// One shard's part of a test, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardPlan {
    /// Which shard.
    pub spec: ShardSpec,
    /// This shard's iteration budget, when the test has one.
    pub iterations: Option<u64>,
    /// Open model: this shard's `max_in_flight`.
    pub max_in_flight: Option<u64>,
    /// This shard's request rate cap.
    pub rate_limit: Option<Rate>,
    /// Closed model: this shard's users at the peak.
    pub users: Option<u64>,
    /// Open model: this shard's arrival rate at the peak.
    pub rate_per_s: Option<f64>,
    /// The shard has no load of its own.
    pub idle: bool,
}

impl ShardPlan {
    /// The plan of shard `spec` of a test configured as `config` (the whole test).
    pub fn new(config: &TestConfig, spec: ShardSpec) -> ShardPlan {
        let (offset, count) = (spec.offset(), u64::from(spec.count));
        let rate_limit = config.rate_limit.map(|r| Rate {
            per_second: r.per_second / count as f64,
        });
        match &config.model {
            LoadModel::Closed { users, .. } => {
                let peak = users.peak().round() as u64;
                let mine = share(peak, offset, count);
                // The budget goes to the shards that have users.
                let active = peak.min(count);
                let iterations = config.iterations.map(|b| {
                    if mine == 0 {
                        0
                    } else {
                        share(b, offset, active)
                    }
                });
                ShardPlan {
                    spec,
                    iterations,
                    max_in_flight: None,
                    rate_limit,
                    users: Some(mine),
                    rate_per_s: None,
                    idle: mine == 0 || iterations == Some(0),
                }
            }
            LoadModel::Open {
                rate,
                max_in_flight,
                ..
            } => {
                let iterations = config.iterations.map(|b| share(b, offset, count));
                ShardPlan {
                    spec,
                    iterations,
                    max_in_flight: Some(share(*max_in_flight, offset, count).max(1)),
                    rate_limit,
                    users: None,
                    rate_per_s: Some(rate.peak() / count as f64),
                    idle: iterations == Some(0) || rate.peak() <= 0.0,
                }
            }
        }
    }

    /// `(offset, count)`: this shard's position among the shards.
    pub fn position(&self) -> (u64, u64) {
        (self.spec.offset(), u64::from(self.spec.count))
    }

    /// The plan as reports record it.
    pub fn summary(&self) -> ShardPart {
        ShardPart {
            shard: self.spec,
            users: self.users,
            rate_per_s: self.rate_per_s,
            iterations: self.iterations,
            max_in_flight: self.max_in_flight,
            rate_limit_per_s: self.rate_limit.map(|r| r.per_second),
            idle: self.idle,
        }
    }

    /// One line for people: `shard 3/4: 0 of 3 users: this shard is idle`.
    pub fn describe(&self, config: &TestConfig) -> String {
        let load = match (&config.model, self.users, self.rate_per_s) {
            (LoadModel::Closed { users, .. }, Some(u), _) => {
                format!("{u} of {} users", users.peak().round() as u64)
            }
            (LoadModel::Open { rate, .. }, _, Some(r)) => format!(
                "every {}th arrival from arrival {}: {r:.3}/s of {:.3}/s",
                self.spec.count,
                self.spec.offset(),
                rate.peak()
            ),
            _ => String::new(),
        };
        let budget = match (config.iterations, self.iterations) {
            (Some(all), Some(mine)) => format!(", {mine} of {all} iterations"),
            _ => String::new(),
        };
        let idle = if self.idle {
            ": this shard has no load of its own and ends at once"
        } else {
            ""
        };
        format!("shard {}: {load}{budget}{idle}", self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_grammar::OptionLayer;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in 0..200u64 {
            for count in 1..40u64 {
                let parts: Vec<u64> = (0..count).map(|k| share(total, k, count)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {count}");
                let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(max - min <= 1, "{total} over {count}: {parts:?}");
                assert!(parts.windows(2).all(|w| w[0] >= w[1]), "{parts:?}");
            }
        }
    }

    fn config(pairs: &[(&str, &str)]) -> TestConfig {
        let mut l = OptionLayer::new("test");
        for (k, v) in pairs {
            l.set_str(k, v);
        }
        TestConfig::resolve(&[&l]).unwrap()
    }

    #[test]
    fn users_and_budgets_add_up_and_extra_shards_are_idle() {
        for users in [1u64, 2, 3, 5, 8, 13, 100] {
            for count in 1..=12u32 {
                for budget in [None, Some(1u64), Some(7), Some(900), Some(1001)] {
                    let mut pairs = vec![("users", users.to_string())];
                    if let Some(b) = budget {
                        pairs.push(("iterations", b.to_string()));
                    }
                    let pairs: Vec<(&str, &str)> =
                        pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let c = config(&pairs);
                    let plans: Vec<ShardPlan> = (1..=count)
                        .map(|k| ShardPlan::new(&c, ShardSpec::new(k, count).unwrap()))
                        .collect();
                    let sum_users: u64 = plans.iter().map(|p| p.users.unwrap()).sum();
                    assert_eq!(sum_users, users, "{users} users over {count}");
                    if let Some(b) = budget {
                        let sum: u64 = plans.iter().map(|p| p.iterations.unwrap()).sum();
                        assert_eq!(sum, b, "{b} iterations of {users} users over {count}");
                    }
                    for p in &plans {
                        assert_eq!(p.idle, p.users == Some(0) || p.iterations == Some(0));
                        if p.users == Some(0) {
                            assert!(p.describe(&c).contains("no load of its own"));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn open_budgets_and_caps_add_up() {
        for count in 1..=9u32 {
            let c = config(&[
                ("rate", "300/s"),
                ("iterations", "1000"),
                ("max_in_flight", "10"),
            ]);
            let plans: Vec<ShardPlan> = (1..=count)
                .map(|k| ShardPlan::new(&c, ShardSpec::new(k, count).unwrap()))
                .collect();
            assert_eq!(
                plans.iter().map(|p| p.iterations.unwrap()).sum::<u64>(),
                1000
            );
            let rate: f64 = plans.iter().map(|p| p.rate_per_s.unwrap()).sum();
            assert!((rate - 300.0).abs() < 1e-9, "{rate}");
            let cap: u64 = plans.iter().map(|p| p.max_in_flight.unwrap()).sum();
            assert_eq!(cap, 10u64.max(u64::from(count)));
        }
    }
}
