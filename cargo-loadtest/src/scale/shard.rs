//! Which shard this process runs: `--shard K/N`, else `LOADTEST_SHARD=K/N`, else Kubernetes'
//! `JOB_COMPLETION_INDEX` (0-based: index `i` is shard `i + 1`) with the count from
//! `--shard-count` or `LOADTEST_SHARD_COUNT`.

use loadtest_report::report::ShardSpec;

/// The environment variable holding `K/N`.
pub const SHARD_VAR: &str = "LOADTEST_SHARD";
/// The environment variable holding the shard count for `JOB_COMPLETION_INDEX`.
pub const SHARD_COUNT_VAR: &str = "LOADTEST_SHARD_COUNT";
/// What a Kubernetes Indexed Job sets in each pod (0-based).
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// Resolves the shard from the flags and the environment (`env` reads a variable); `None`
/// when the run is not sharded. Errors name the value and what is accepted.
pub fn resolve(
    flag: Option<&str>,
    count_flag: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ShardSpec>, String> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let explicit = match flag {
        Some(f) => Some(ShardSpec::parse(f).map_err(|e| format!("--shard: {e}"))?),
        None => match env(SHARD_VAR) {
            Some(v) => Some(ShardSpec::parse(&v).map_err(|e| format!("{SHARD_VAR}: {e}"))?),
            None => None,
        },
    };
    let count = match count_flag {
        Some(n) => Some(n),
        None => match env(SHARD_COUNT_VAR) {
            Some(v) => Some(v.trim().parse::<u32>().map_err(|_| {
                format!("{SHARD_COUNT_VAR}={v:?} is not a whole number: give the number of shards (the Indexed Job's completions)")
            })?),
            None => None,
        },
    };
    if let Some(spec) = explicit {
        if let Some(n) = count
            && n != spec.count
        {
            return Err(format!(
                "the shard {spec} and the shard count {n} disagree: give one of them"
            ));
        }
        return Ok(Some(spec));
    }
    match (env(JOB_INDEX_VAR), count) {
        (Some(index), Some(count)) => {
            let i: u32 = index.trim().parse().map_err(|_| {
                format!(
                    "{JOB_INDEX_VAR}={index:?} is not a whole number (Kubernetes sets it from 0)"
                )
            })?;
            let spec = ShardSpec::new(i.saturating_add(1), count).map_err(|e| {
                format!("{JOB_INDEX_VAR}={i} with {count} shards: {e} (JOB_COMPLETION_INDEX i is shard i+1)")
            })?;
            Ok(Some(spec))
        }
        (Some(index), None) => Err(format!(
            "{JOB_INDEX_VAR}={index} is set (a Kubernetes Indexed Job) but no shard count: give --shard-count N or {SHARD_COUNT_VAR}=N (the Job's completions), or unset {JOB_INDEX_VAR} to run the whole load"
        )),
        (None, Some(n)) => Err(format!(
            "a shard count ({n}) was given without a shard: give --shard K/{n}, {SHARD_VAR}=K/{n}, or {JOB_INDEX_VAR}"
        )),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flag_then_variable_then_job_index() {
        let spec = |k, n| Some(ShardSpec::new(k, n).unwrap());
        assert_eq!(resolve(None, None, env(&[])).unwrap(), None);
        assert_eq!(
            resolve(Some("2/3"), None, env(&[(SHARD_VAR, "1/3")])).unwrap(),
            spec(2, 3)
        );
        assert_eq!(
            resolve(None, None, env(&[(SHARD_VAR, "1/3")])).unwrap(),
            spec(1, 3)
        );
        assert_eq!(
            resolve(None, Some(4), env(&[(JOB_INDEX_VAR, "3")])).unwrap(),
            spec(4, 4)
        );
        assert_eq!(
            resolve(
                None,
                None,
                env(&[(JOB_INDEX_VAR, "0"), (SHARD_COUNT_VAR, "2")])
            )
            .unwrap(),
            spec(1, 2)
        );
    }

    #[test]
    fn bad_values_are_named() {
        let e = resolve(Some("4/3"), None, env(&[])).unwrap_err();
        assert!(e.starts_with("--shard: invalid shard \"4/3\""), "{e}");
        let e = resolve(None, None, env(&[(SHARD_VAR, "x")])).unwrap_err();
        assert!(e.contains("LOADTEST_SHARD") && e.contains("K/N"), "{e}");
        let e = resolve(None, None, env(&[(JOB_INDEX_VAR, "1")])).unwrap_err();
        assert!(e.contains("no shard count"), "{e}");
        let e = resolve(None, Some(3), env(&[(JOB_INDEX_VAR, "3")])).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        let e = resolve(Some("1/3"), Some(4), env(&[])).unwrap_err();
        assert!(e.contains("disagree"), "{e}");
        let e = resolve(None, Some(3), env(&[])).unwrap_err();
        assert!(e.contains("without a shard"), "{e}");
        for bad in ["0/3", "1/0", "1/", "/2", "a/b", "1/20000"] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
