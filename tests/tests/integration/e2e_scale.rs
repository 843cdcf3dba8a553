//! End-to-end scale-out through the real binary: archive a fixture, run three shards of it at
//! once from the archive alone (no cargo on PATH, no source tree) against one loopback server
//! with a shared `--start-at`, merge them, and judge the whole. A real Prometheus scrapes the
//! three shards' live endpoints, and its sum over the shards equals the merged report. Then
//! the same on hosts of their own: each shard and the server on a network stack of its own
//! (network namespaces the test creates, joined by a bridge).

use crate::e2e_watch::tool;
use crate::support;
use crate::support::netns::Hosts;
use crate::support::prometheus::Prometheus;
use crate::support::scrape::free_port;

use loadtest_report::report::{RunReport, TestReport, TestStatus};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Fixture, Server, serial, text};

/// A folder with the cargo-loadtest binary and an archive in it, nothing else.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new(archive: &Path) -> Machine {
        let dir = tempfile::Builder::new()
            .prefix("loadtest-e2e-scale-machine-")
            .tempdir()
            .unwrap();
        std::fs::copy(support::binary(), dir.path().join("cargo-loadtest")).unwrap();
        std::fs::copy(archive, dir.path().join("loadtests.tar.zst")).unwrap();
        Machine { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `./cargo-loadtest loadtest ARGS` in the folder, with a PATH that has no cargo and an
    /// environment that has nothing of the workspace.
    fn command(&self, args: &[&str]) -> Command {
        self.configure(Command::new(self.path("cargo-loadtest")), args)
    }

    /// [`Machine::command`] on host `i` of `hosts`.
    fn command_on(&self, hosts: &Hosts, i: usize, args: &[&str]) -> Command {
        self.configure(hosts.command(i, &self.path("cargo-loadtest")), args)
    }

    fn configure(&self, mut cmd: Command, args: &[&str]) -> Command {
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", NO_CARGO_PATH)
            .arg("loadtest")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn shard_args(&self, k: u32, start_at: &str, url: &str, archive: &str) -> Vec<String> {
        [
            "--archive-file",
            archive,
            "--shard",
            &format!("{k}/3"),
            "--start-at",
            start_at,
            "--target",
            url,
            "--json",
            &format!("shard-{k}.json"),
            "--junit",
            &format!("shard-{k}.xml"),
            "--markdown",
            &format!("shard-{k}.md"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn merge(&self, reports: &[&str], out: &str) -> Output {
        let mut args = vec!["merge"];
        args.extend_from_slice(reports);
        args.extend_from_slice(&[
            "--json",
            out,
            "--junit",
            "merged.xml",
            "--markdown",
            "merged.md",
            "--html",
            "merged.html",
        ]);
        self.command(&args).output().unwrap()
    }

    fn report(&self, name: &str) -> RunReport {
        serde_json::from_str(&std::fs::read_to_string(self.path(name)).unwrap()).unwrap()
    }
}

/// Standard system folders only: no `~/.cargo/bin`.
const NO_CARGO_PATH: &str = "/usr/bin:/bin";

fn test<'a>(r: &'a RunReport, name: &str) -> &'a TestReport {
    r.tests.iter().find(|t| t.name == name).unwrap()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn three_shards_from_an_archive_merge_into_exactly_the_whole() {
    let _g = serial();
    for dir in NO_CARGO_PATH.split(':') {
        assert!(
            !Path::new(dir).join("cargo").exists(),
            "{dir} holds cargo: the test needs a PATH without it"
        );
    }
    let server = Server::start();
    let url = server.url();
    let f = Fixture::shared("scale");
    let archive = f.file("loadtests.tar.zst");
    let out = f
        .command(&["archive", "--archive-file", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = Machine::new(&archive);

    // Prometheus scrapes each shard's live endpoint (where it is installed; always under CI).
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let prometheus = tool("prometheus").map(|binary| {
        let p = Prometheus::start(&binary, &ports, &[]);
        p.wait_for_scrape_loop();
        p
    });

    // Three shards at once, held until one instant a few seconds ahead.
    let start_at = (unix_now() + 8.0).ceil();
    let start_text = format!("{start_at}");
    let shards: Vec<std::process::Child> = (1..=3)
        .map(|k| {
            let mut args = m.shard_args(k, &start_text, &url, "loadtests.tar.zst");
            args.push("--metrics-listen".into());
            args.push(format!("127.0.0.1:{}", ports[k as usize - 1]));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            m.command(&args).spawn().unwrap()
        })
        .collect();
    let outs: Vec<Output> = shards
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (k, out) in outs.iter().enumerate() {
        assert_eq!(out.status.code(), Some(0), "shard {}: {}", k + 1, text(out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not judged on one shard"), "{}", text(out));
    }
    assert!(
        String::from_utf8_lossy(&outs[2].stderr).contains("shard 3/3: 0 of 2 users"),
        "{}",
        text(&outs[2])
    );
    let reports: Vec<RunReport> = (1..=3)
        .map(|k| m.report(&format!("shard-{k}.json")))
        .collect();

    // Each shard: its part, its start against the shared instant, its thresholds not judged.
    let mut rates = 0.0;
    let (mut users, mut budget, mut arrivals) = (0, 0, 0);
    for (k, r) in reports.iter().enumerate() {
        let s = r.run.shard.as_ref().expect("a shard report");
        assert_eq!((s.shard.index, s.shard.count), (k as u32 + 1, 3));
        assert!(s.archive.is_some());
        assert_eq!(s.start_at_unix, Some(start_at));
        let offset = s.start_offset_s.expect("a start offset");
        assert!(
            (0.0..2.0).contains(&offset),
            "shard {} started {offset}s after --start-at",
            k + 1
        );
        let a = test(r, "arrivals");
        assert_eq!(a.status, TestStatus::Passed, "{a:?}");
        let result = a.result.as_ref().unwrap();
        let part = result.config.shard.as_ref().unwrap();
        rates += part.rate_per_s.unwrap();
        arrivals += result.iterations.total;
        assert_eq!(result.iterations.total, 300, "shard {}", k + 1);
        let rule = result
            .thresholds
            .iter()
            .find(|t| t.rule == "iterations >= 900")
            .unwrap();
        assert!(!rule.passed, "no shard meets the whole's rule alone");
        let u = test(r, "users").result.as_ref().unwrap();
        let part = u.config.shard.as_ref().unwrap();
        users += part.users.unwrap();
        budget += part.iterations.unwrap();
        assert_eq!(u.iterations.total, part.iterations.unwrap());
        assert_eq!(part.idle, k == 2);
    }
    assert!((rates - 300.0).abs() < 1e-9, "{rates}");
    assert_eq!((users, budget, arrivals), (2, 40, 900));
    let identities: Vec<&str> = reports
        .iter()
        .map(|r| r.run.shard.as_ref().unwrap().identity.as_str())
        .collect();
    assert!(identities.iter().all(|i| *i == identities[0]));

    // The merge: exact counts, judged as a whole.
    let out = m.merge(
        &["shard-1.json", "shard-2.json", "shard-3.json"],
        "merged.json",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The merged run's page is the one `cargo loadtest report` draws from the merged JSON.
    let again = m
        .command(&["report", "merged.json", "--html", "merged-again.html"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let page = std::fs::read(m.path("merged.html")).unwrap();
    assert!(
        page.len() > 1000 && page == std::fs::read(m.path("merged-again.html")).unwrap(),
        "cargo loadtest report renders the merged report byte for byte as merge did"
    );
    let merged = m.report("merged.json");
    let info = merged.run.merge.as_ref().unwrap();
    assert!(!info.partial && info.missing.is_empty());
    assert_eq!(info.shards.len(), 3);
    let skew = info
        .start_skew
        .as_ref()
        .expect("shards that shared a --start-at");
    assert!(skew.spread_s < 1.0, "{skew:?}");
    let a = test(&merged, "arrivals");
    assert_eq!(a.status, TestStatus::Passed, "{a:?}");
    let ar = a.result.as_ref().unwrap();
    // Within 1% of what one unsharded run asks for: 300/s for 3 s.
    let asked = ar.config.rate_per_s.unwrap() * ar.config.duration_s.unwrap();
    assert!(
        (ar.iterations.total as f64 - asked).abs() <= asked * 0.01,
        "{} of {asked}",
        ar.iterations.total
    );
    assert!(
        ar.thresholds.iter().all(|t| t.passed),
        "{:?}",
        ar.thresholds
    );
    assert_eq!(ar.shards.len(), 3);
    let ur = test(&merged, "users").result.as_ref().unwrap();
    assert_eq!(ur.iterations.total, 40);
    let merged_requests: u64 = merged
        .tests
        .iter()
        .map(|t| t.result.as_ref().unwrap().requests.total)
        .sum();
    assert_eq!(server.server.requests(), merged_requests);
    assert_eq!(server.server.requests_to("/items"), ur.requests.total);
    let series_iterations: u64 = ar.series.iter().map(|p| p.iterations).sum();
    assert_eq!(series_iterations, ar.iterations.total);

    // What Prometheus scraped from the three shards adds up to the merged report. (After the
    // run the endpoints are gone and the series stale; a range selector reads their last
    // values, which each shard kept up for a last scrape.)
    if let Some(p) = &prometheus {
        let shards = p.query_until(
            r#"count(count by (shard) (last_over_time(loadtest_requests_total[10m])))"#,
            3.0,
        );
        assert_eq!(shards, Some(3.0), "one series set per shard; {}", p.log());
        for t in &merged.tests {
            let r = t.result.as_ref().unwrap();
            let label = format!("{}::{}", t.target, t.name);
            let requests =
                format!(r#"sum(last_over_time(loadtest_requests_total{{test="{label}"}}[10m]))"#);
            assert_eq!(
                p.query_until(&requests, r.requests.total as f64),
                Some(r.requests.total as f64),
                "{label}: Prometheus's sum of the shards' requests against the merged report's; {}",
                p.log()
            );
            let iterations = format!(
                r#"sum(last_over_time(loadtest_iterations_total{{test="{label}", outcome=~"ok|failed"}}[10m]))"#
            );
            assert_eq!(
                p.query_until(&iterations, r.iterations.total as f64),
                Some(r.iterations.total as f64),
                "{label}: Prometheus's sum of the shards' iterations against the merged report's"
            );
        }
    }

    // The shard and merged reports match the report schema.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("schema/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for name in ["shard-1.json", "shard-3.json", "merged.json"] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(m.path(name)).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {}", errors.join("\n"));
    }

    // A missing shard: a partial merge, which fails.
    let out = m.merge(&["shard-1.json", "shard-2.json"], "partial.json");
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("partial merge"));
    let partial = m.report("partial.json");
    let info = partial.run.merge.as_ref().unwrap();
    assert!(info.partial);
    assert_eq!(info.missing, [3]);
    assert!(
        test(&partial, "arrivals")
            .failures
            .iter()
            .any(|f| f.contains("partial merge")),
        "{:?}",
        test(&partial, "arrivals").failures
    );

    // A tree of merges: the partial merge of shards 1 and 2, merged again with shard 3, is the
    // flat merge of all three, field by field (only the command line differs).
    let out = m.merge(&["partial.json", "shard-3.json"], "tree.json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json = |name: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(m.path(name)).unwrap()).unwrap();
        v["run"]["command_line"] = serde_json::Value::Null;
        v
    };
    assert!(
        json("tree.json") == json("merged.json"),
        "the tree's report differs from the flat merge's"
    );
    let tree = m.report("tree.json");
    assert!(!tree.run.merge.as_ref().unwrap().partial);
    // A shard a merged report holds cannot come again: exit 2, naming it.
    let out = m.merge(
        &["partial.json", "shard-2.json", "shard-3.json"],
        "overlap.json",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 2 is in both"), "{err}");

    // A shard that ran twice keeps one report.
    std::fs::copy(m.path("shard-2.json"), m.path("shard-2-again.json")).unwrap();
    let out = m.merge(
        &[
            "shard-1.json",
            "shard-2.json",
            "shard-2-again.json",
            "shard-3.json",
        ],
        "twice.json",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ran more than once"));
    let twice = m.report("twice.json");
    assert_eq!(
        test(&twice, "arrivals")
            .result
            .as_ref()
            .unwrap()
            .iterations
            .total,
        900
    );

    // A rule the whole fails fails the merge with 100: the same reports, judged against 1000.
    std::fs::create_dir_all(m.path("strict")).unwrap();
    for k in 1..=3 {
        let mut v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(m.path(&format!("shard-{k}.json"))).unwrap(),
        )
        .unwrap();
        for t in v["tests"].as_array_mut().unwrap() {
            if t["name"] == "arrivals" {
                t["result"]["config"]["thresholds"] = serde_json::json!(["iterations >= 1000"]);
            }
        }
        let path = format!("strict/shard-{k}.json");
        std::fs::write(m.path(&path), serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let out = m.merge(&["strict"], "strict.json");
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let strict = m.report("strict.json");
    let a = test(&strict, "arrivals");
    assert_eq!(a.status, TestStatus::Failed);
    assert!(
        a.failures[0].contains("iterations was 900, limit >= 1000"),
        "{:?}",
        a.failures
    );

    // Another archive (a different selection of the same tests): refused with exit 2.
    let other = f.file("other.tar.zst");
    let out = f
        .command(&[
            "archive",
            "--archive-file",
            other.to_str().unwrap(),
            "arrivals",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::copy(&other, m.path("other.tar.zst")).unwrap();
    // This shard finds its index as a Kubernetes Indexed Job pod does: JOB_COMPLETION_INDEX
    // (from 0) and the count from LOADTEST_SHARD_COUNT.
    let start_other = format!("{}", unix_now().ceil() + 1.0);
    let mut args = m.shard_args(1, &start_other, &url, "other.tar.zst");
    args.drain(2..4); // no --shard
    args[7] = "other-1.json".into();
    args.extend(["--iterations".to_string(), "3".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = m
        .command(&args)
        .env("JOB_COMPLETION_INDEX", "0")
        .env("LOADTEST_SHARD_COUNT", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let other_report = m.report("other-1.json");
    let s = other_report.run.shard.as_ref().unwrap();
    assert_eq!((s.shard.index, s.shard.count), (1, 3));
    assert_ne!(s.archive, reports[1].run.shard.as_ref().unwrap().archive);
    let out = m.merge(
        &["other-1.json", "shard-2.json", "shard-3.json"],
        "mixed.json",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("different archives"), "{err}");
    assert!(
        !m.path("mixed.json").exists(),
        "a refused merge writes no report"
    );

    // Issue 26: one shard started 5 s after the others (a rerun let in by --start-grace). It
    // joins the whole run's schedule where it stands (restart in place): this 3 s schedule has
    // ended, so its whole share is missed (counted, not replayed), and the merge judges its gap
    // as the skew of a shard that joined in place (once, not also in the spread); --allow-skew accepts the gap, still reported, and the
    // whole is judged on what ran.
    let start_late = (unix_now() + 4.0).ceil();
    let start_text = format!("{start_late}");
    let late_args = |k: u32| {
        let mut args = m.shard_args(k, &start_text, &url, "loadtests.tar.zst");
        args[9] = format!("late-{k}.json");
        args[11] = format!("late-{k}.xml");
        args[13] = format!("late-{k}.md");
        args.extend(["--start-grace".to_string(), "30s".to_string()]);
        args
    };
    let on_time: Vec<std::process::Child> = (1..=2)
        .map(|k| {
            let args = late_args(k);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            m.command(&args).spawn().unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(
        (start_late + 5.0 - unix_now()).max(0.0),
    ));
    let args = late_args(3);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let late = m.command(&args).output().unwrap();
    assert_eq!(late.status.code(), Some(0), "{}", text(&late));
    for c in on_time {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let late_shard = m.report("late-3.json");
    let joined = late_shard.run.shard.as_ref().unwrap().joined_at_s;
    assert!(joined.is_some_and(|j| j >= 4.5), "{joined:?}");
    let lr = test(&late_shard, "arrivals").result.as_ref().unwrap();
    assert_eq!(lr.joined_at_s, joined);
    assert_eq!(lr.started_at_unix, Some(start_late));
    assert_eq!((lr.iterations.total, lr.iterations.missed), (0, 300));
    let out = m.merge(&["late-1.json", "late-2.json", "late-3.json"], "late.json");
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let late = m.report("late.json");
    let skew = late.run.merge.as_ref().unwrap().start_skew.clone().unwrap();
    assert!(skew.spread_s < 1.0 && skew.latest_shard != 3, "{skew:?}");
    let a = test(&late, "arrivals");
    assert_eq!(a.status, TestStatus::Failed);
    assert!(
        a.failures.iter().any(|f| f.starts_with(&format!(
            "start skew: shard 3 joined the schedule {:.1}s in (it started late or was restarted, and joined in place), its load missing for {:.1}s (300 arrivals missed), more than the 1s allowed",
            joined.unwrap(),
            joined.unwrap()
        ))),
        "{:?}",
        a.failures
    );
    // One cause, one failure: the joined shard's start is not also in the spread.
    assert_eq!(
        a.failures
            .iter()
            .filter(|f| f.starts_with("start skew"))
            .count(),
        1,
        "{:?}",
        a.failures
    );
    let ar = a.result.as_ref().unwrap();
    assert_eq!((ar.iterations.total, ar.iterations.missed), (600, 300));
    // Each second of the schedule: shard 3's 100 arrivals missed.
    let missed: Vec<u64> = ar.series.iter().take(3).map(|p| p.missed).collect();
    assert_eq!(missed, [100, 100, 100], "{:?}", ar.series);
    let out = m.merge(
        &["late-1.json", "late-2.json", "late-3.json", "--allow-skew"],
        "late-allowed.json",
    );
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let allowed = m.report("late-allowed.json");
    let a = test(&allowed, "arrivals");
    assert!(
        !a.failures.iter().any(|f| f.starts_with("start skew")),
        "{:?}",
        a.failures
    );
    assert!(
        a.failures
            .iter()
            .any(|f| f.contains("iterations was 600, limit >= 900")),
        "{:?}",
        a.failures
    );
    let line = a
        .result
        .as_ref()
        .unwrap()
        .shards
        .iter()
        .find(|s| s.shard == 3);
    assert_eq!(
        line.map(|s| (s.joined_at_s, s.gap_s, s.missed)),
        Some((joined, joined, 300))
    );

    // A start already past is refused before anything runs.
    let past = format!("{}", unix_now().floor() - 60.0);
    let args = m.shard_args(1, &past, &url, "loadtests.tar.zst");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = m.command(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("passed"),
        "{}",
        text(&out)
    );
}

/// Shard 2's share of the whole schedule of `arrivals` (300/s for `duration` s; shard K of 3
/// starts every third arrival from K-1) intended before `join` seconds, by second of the
/// schedule (index 0 is the first second), and its whole share. From the schedule's own
/// arithmetic, not from the report.
fn share_before(duration: f64, join: f64) -> (Vec<u64>, u64) {
    use loadtest_runtime::config::{Arrivals, Ramp};
    let mut arrivals = Arrivals::new(Ramp::constant(300.0), Some(duration));
    let (mut by_second, mut share) = (vec![0u64; duration.ceil() as usize], 0);
    let mut k = 0u64;
    while let Some(t) = arrivals.next_offset() {
        if k % 3 == 1 {
            share += 1;
            if t < join {
                by_second[t.floor() as usize] += 1;
            }
        }
        k += 1;
    }
    (by_second, share)
}

/// Issue 26, restart in place: three shards with one `--start-at`; shard 2 is killed mid-run
/// (SIGKILL to its process group, as a pod is killed: no report) and started again with the
/// same identity within `--start-grace`. It joins the whole run's schedule where it stands: its
/// arrivals before the join are counted as missed, not replayed. The merge shows the gap per
/// shard and per second, nothing counted twice: offered (ran + missed) adds up to the
/// schedule, second by second for the missed, and the server saw exactly the merged requests
/// plus what the killed run sent (in no report, so never counted twice), which are arrivals
/// the merge counts as missed.
#[test]
fn a_shard_killed_and_restarted_joins_in_place_and_the_merge_shows_the_gap() {
    use std::os::unix::process::CommandExt;
    let _g = serial();
    let server = Server::start();
    let url = server.url();
    let f = Fixture::shared("scale");
    let archive = f.file("restart.tar.zst");
    let out = f
        .command(&["archive", "--archive-file", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = Machine::new(&archive);

    let duration = 10.0;
    let start_at = (unix_now() + 8.0).ceil();
    let start_text = format!("{start_at}");
    let args = |k: u32| {
        let mut args = m.shard_args(k, &start_text, &url, "loadtests.tar.zst");
        args[9] = format!("restart-{k}.json");
        args[11] = format!("restart-{k}.xml");
        args[13] = format!("restart-{k}.md");
        for a in [
            "--start-grace",
            "30s",
            "--duration",
            "10s",
            "--exact",
            "arrivals",
        ] {
            args.push(a.to_string());
        }
        args
    };
    let spawn = |k: u32| {
        let args = args(k);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A process group of its own: the kill takes the harness with it, as a pod's does.
        m.command(&args).process_group(0).spawn().unwrap()
    };
    let others = [spawn(1), spawn(3)];
    let mut killed = spawn(2);
    // Mid-run: 3 s into the 10 s schedule.
    std::thread::sleep(Duration::from_secs_f64(
        (start_at + 3.0 - unix_now()).max(0.0),
    ));
    assert!(
        killed.try_wait().unwrap().is_none(),
        "shard 2 still runs when it is killed"
    );
    let pgid = killed.id() as libc::pid_t;
    // SAFETY: kill(2) on the process group this test started; no memory is involved.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0, "kill -KILL");
    let status = killed.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let killed_at = unix_now() - start_at;
    assert!(
        !m.path("restart-2.json").exists(),
        "a killed shard leaves no report"
    );
    // Give the harness a moment to go too (it is in the group; it is not this test's child).
    std::thread::sleep(Duration::from_millis(300));

    // Started again, the same shard of the same run, within its grace.
    let args2 = args(2);
    let args2: Vec<&str> = args2.iter().map(String::as_str).collect();
    let again = m.command(&args2).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    for c in others {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    // The restarted shard joined where the schedule stood: after the kill, before the end.
    let r2 = m.report("restart-2.json");
    let join = r2
        .run
        .shard
        .as_ref()
        .unwrap()
        .joined_at_s
        .expect("it joined in place");
    assert!(
        join > killed_at && join < duration,
        "joined {join}s in, killed {killed_at}s in"
    );
    let (missed_by_second, share) = share_before(duration, join);
    let missed: u64 = missed_by_second.iter().sum();
    assert_eq!(share, 1000);
    let a2 = test(&r2, "arrivals").result.as_ref().unwrap();
    assert_eq!(a2.joined_at_s, Some(join));
    assert_eq!(a2.started_at_unix, Some(start_at), "its schedule's origin");
    assert_eq!(a2.iterations.missed, missed);
    // Not replayed: every arrival of its share from the join on ran, none before.
    assert_eq!(a2.iterations.dropped, 0);
    assert_eq!(a2.iterations.total, share - missed);
    let whole_before = join.floor() as usize;
    for p in &a2.series {
        let second = p.t_s.round() as usize;
        let expected = missed_by_second.get(second - 1).copied().unwrap_or(0);
        assert_eq!(p.missed, expected, "second {second}: {:?}", a2.series);
        if second <= whole_before {
            assert_eq!(p.iterations, 0, "second {second}, before the join");
        }
    }
    for k in [1, 3] {
        let r = m.report(&format!("restart-{k}.json"));
        assert_eq!(r.run.shard.as_ref().unwrap().joined_at_s, None);
        let a = test(&r, "arrivals").result.as_ref().unwrap();
        assert_eq!((a.iterations.total, a.iterations.missed), (1000, 0));
    }

    // The merge: the gap judged as the start skew of a shard that joined in place (once, not
    // also in the spread), past the 1 s allowed.
    let reports = ["restart-1.json", "restart-2.json", "restart-3.json"];
    let out = m.merge(&reports, "restart.json");
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let merged = m.report("restart.json");
    let info = merged.run.merge.as_ref().unwrap();
    assert!(!info.partial && info.missing.is_empty());
    let joins: Vec<(u32, Option<f64>)> = info
        .shards
        .iter()
        .map(|s| (s.index, s.joined_at_s))
        .collect();
    assert_eq!(joins, [(1, None), (2, Some(join)), (3, None)]);
    let skew = info
        .start_skew
        .as_ref()
        .expect("shards 1 and 3 shared a --start-at");
    assert!(skew.spread_s < 1.0 && skew.latest_shard != 2, "{skew:?}");
    let a = test(&merged, "arrivals");
    assert_eq!(a.status, TestStatus::Failed);
    assert!(
        a.failures.iter().any(|f| f.starts_with(&format!(
            "start skew: shard 2 joined the schedule {join:.1}s in (it started late or was restarted, and joined in place), its load missing for {join:.1}s ({missed} arrivals missed), more than the 1s allowed"
        ))),
        "{:?}",
        a.failures
    );
    // One cause, one failure: the joined shard's start is not also in the spread.
    assert_eq!(
        a.failures
            .iter()
            .filter(|f| f.starts_with("start skew"))
            .count(),
        1,
        "{:?}",
        a.failures
    );
    let ar = a.result.as_ref().unwrap();
    let line = ar.shards.iter().find(|s| s.shard == 2).unwrap();
    assert_eq!(
        (line.joined_at_s, line.gap_s, line.missed, line.iterations),
        (Some(join), Some(join), missed, share - missed)
    );
    // Offered load, nothing counted twice: what ran and what was missed add up to the whole
    // schedule; per second, the missed arrivals are shard 2's share of each second before the
    // join (the gap), none after.
    assert_eq!(ar.iterations.missed, missed);
    assert_eq!(ar.iterations.dropped, 0);
    assert_eq!(ar.iterations.total + ar.iterations.missed, 3 * share);
    let ran: u64 = ar.series.iter().map(|p| p.iterations).sum();
    let missed_in_series: u64 = ar.series.iter().map(|p| p.missed).sum();
    assert_eq!(ran + missed_in_series, 3 * share, "{:?}", ar.series);
    for p in &ar.series {
        let second = p.t_s.round() as usize;
        assert!(second >= 1, "{:?}", ar.series);
        let expected = missed_by_second.get(second - 1).copied().unwrap_or(0);
        assert_eq!(p.missed, expected, "second {second}: {:?}", ar.series);
    }
    // The server: exactly the merged requests, plus the killed run's, which no report holds:
    // some were sent (it was killed mid-run), all of them arrivals the merge counts as missed.
    assert_eq!(
        ar.requests.total, ar.iterations.total,
        "one request an iteration"
    );
    let unreported = server
        .server
        .requests()
        .checked_sub(ar.requests.total)
        .expect("the merge counts no request twice");
    assert!(
        unreported > 0 && unreported <= missed,
        "the killed run sent {unreported}; {missed} missed"
    );

    // --allow-skew accepts the gap, still reported: the whole passes on what ran.
    let mut allow = reports.to_vec();
    allow.push("--allow-skew");
    let out = m.merge(&allow, "restart-allowed.json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let allowed = m.report("restart-allowed.json");
    let a = test(&allowed, "arrivals");
    assert_eq!(a.status, TestStatus::Passed, "{:?}", a.failures);
    assert_eq!(a.result.as_ref().unwrap().iterations.missed, missed);

    for name in ["restart-2.json", "restart.json"] {
        support::validate_schema(&m.path(name));
    }
}

/// Three shards and their server on four hosts of their own (network namespaces this test
/// creates, joined by a bridge; no address outside them): every request crosses the bridge from
/// a shard's own address, and the merge adds up to exactly what the server answered. Skipped,
/// saying why, where namespaces cannot be made (no privilege); never under CI.
#[test]
fn three_shards_on_hosts_of_their_own_merge_into_exactly_the_whole() {
    let _g = serial();
    let hosts = match Hosts::create(4) {
        Ok(hosts) => hosts,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: network namespaces cannot be made here ({why}); CI runs this test");
            return;
        }
        Err(why) => panic!("CI runs the three-host test, and network namespaces failed: {why}"),
    };
    // Host 0 serves; hosts 1 to 3 run a shard each.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(loadtest_demo_server::DemoServer::start_on_listener(
            hosts.listen(0),
        ))
        .unwrap();
    let url = server.url();
    assert!(url.starts_with("http://10.213.0.1:"), "{url}");
    let f = Fixture::shared("scale");
    let archive = f.file("loadtests.tar.zst");
    let out = f
        .command(&["archive", "--archive-file", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = Machine::new(&archive);
    let start_at = format!("{}", (unix_now() + 8.0).ceil());
    let shards: Vec<std::process::Child> = (1..=3)
        .map(|k| {
            let args = m.shard_args(k, &start_at, &url, "loadtests.tar.zst");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            m.command_on(&hosts, k as usize, &args).spawn().unwrap()
        })
        .collect();
    for (k, child) in shards.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "shard {}: {}",
            k + 1,
            text(&out)
        );
    }
    let out = m.merge(
        &["shard-1.json", "shard-2.json", "shard-3.json"],
        "merged.json",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let merged = m.report("merged.json");
    let arrivals = test(&merged, "arrivals").result.as_ref().unwrap();
    assert_eq!(arrivals.iterations.total, 900);
    let requests: u64 = merged
        .tests
        .iter()
        .filter_map(|t| t.result.as_ref())
        .map(|r| r.requests.total)
        .sum();
    assert_eq!(server.requests(), requests);
    // Every shard's requests came from its own host, over the bridge.
    let peers: Vec<String> = server.peers().iter().map(|p| p.to_string()).collect();
    assert_eq!(peers, ["10.213.0.2", "10.213.0.3", "10.213.0.4"]);
}

/// Runs `args` in `m`, which must be refused with exit 2 naming `expected`; its stderr.
fn refused(m: &Machine, args: &[&str], expected: &str) -> String {
    let out = m.command(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(expected),
        "expected {expected:?} in:\n{}",
        text(&out)
    );
    err
}

/// Issue 26, item 4: a shared setup hook runs once for three shards. `cargo loadtest setup`
/// runs the fixture's hook once from the archive (the server issues one token), the three
/// shards read its value from the setup file (by flag and by LOADTEST_SETUP_FILE) instead of
/// running the hook, and every request of the merged run carries that one token; the shards do
/// not tear down, `cargo loadtest teardown` does, once. Then the refusals: a plain hook, a setup
/// file of another build or archive, one without the harness's entry, a malformed one, a folder.
#[test]
fn a_shared_setup_runs_once_for_three_shards_and_its_teardown_once_after_the_merge() {
    let _g = serial();
    let server = Server::start();
    let url = server.url();
    let f = Fixture::shared("scale-setup");
    let archive = f.file("loadtests.tar.zst");
    let out = f
        .command(&["archive", "--archive-file", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let m = Machine::new(&archive);
    let s = &server.server;

    // Setup, once for the whole run, from the archive alone.
    let out = m
        .command(&[
            "setup",
            "--archive-file",
            "loadtests.tar.zst",
            "--target",
            &url,
            "--setup-file",
            "setup.json",
            "with_token",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(s.requests_to("/token/issue"), 1, "{}", text(&out));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.path("setup.json")).unwrap()).unwrap();
    let entry = &file["harnesses"]["fixture-scale-setup::api"];
    assert_eq!(entry["hook"], "issue_token", "{file}");
    let token = entry["value"]["token"].as_str().unwrap().to_string();
    assert_eq!(token, "token-1");
    assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(file["archive"].as_str().unwrap().len(), 64);

    // Three shards at once, each reading the value instead of running the hook: shards 1 and 2
    // by --setup-file, shard 3 by LOADTEST_SETUP_FILE.
    let start_at = format!("{}", (unix_now() + 6.0).ceil());
    let shards: Vec<std::process::Child> = (1..=3)
        .map(|k| {
            let mut args = m.shard_args(k, &start_at, &url, "loadtests.tar.zst");
            args.push("with_token".into());
            if k < 3 {
                args.extend(["--setup-file".to_string(), "setup.json".to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = m.command(&args);
            if k == 3 {
                cmd.env("LOADTEST_SETUP_FILE", "setup.json");
            }
            cmd.spawn().unwrap()
        })
        .collect();
    for (k, child) in shards.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "shard {}: {}",
            k + 1,
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("the setup hook `issue_token` does not run here"),
            "shard {}: {}",
            k + 1,
            text(&out)
        );
    }
    assert_eq!(s.requests_to("/token/issue"), 1, "the shards ran the hook");
    assert_eq!(s.requests_to("/token/revoke"), 0, "a shard tore down");
    let out = m.merge(
        &["shard-1.json", "shard-2.json", "shard-3.json"],
        "merged.json",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let merged = m.report("merged.json");
    let t = test(&merged, "with_token");
    assert_eq!(t.status, TestStatus::Passed, "{t:?}");
    let r = t.result.as_ref().unwrap();
    assert_eq!(r.shards.len(), 3);
    assert!(r.iterations.total >= 120, "{}", r.iterations.total);
    assert_eq!(r.iterations.failed, 0);
    // Every request of the three shards carried the one token, and the server saw no other.
    assert_eq!(
        s.requests_to(&format!("/token/use/{token}")),
        r.requests.total
    );
    assert_eq!(s.requests_to("/token/use/"), r.requests.total);

    // Teardown, once, after the merge; the file named by LOADTEST_SETUP_FILE, as the
    // Kubernetes example's Jobs name it.
    let out = m
        .command(&[
            "teardown",
            "--archive-file",
            "loadtests.tar.zst",
            "--target",
            &url,
            "with_token",
        ])
        .env("LOADTEST_SETUP_FILE", "setup.json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`revoke_token` ran once"),
        "{}",
        text(&out)
    );
    assert_eq!(s.requests_to(&format!("/token/revoke/{token}")), 1);
    assert_eq!(s.requests_to("/token/revoke"), 1);
    assert_eq!(s.requests_to("/token/issue"), 1);

    // Setup files a run refuses with exit 2 before anything runs, each named.
    let used = s.requests_to("/token/use/");
    let run = |setup: &str| {
        vec![
            "--archive-file".to_string(),
            "loadtests.tar.zst".into(),
            "with_token".into(),
            "--target".into(),
            url.clone(),
            "--setup-file".into(),
            setup.into(),
            "--json".into(),
            "refused.json".into(),
        ]
    };
    let variant = |name: &str, change: &dyn Fn(&mut serde_json::Value)| {
        let mut v = file.clone();
        change(&mut v);
        std::fs::write(m.path(name), serde_json::to_vec(&v).unwrap()).unwrap();
        run(name)
    };
    let args = variant("other-build.json", &|v| {
        v["harnesses"]["fixture-scale-setup::api"]["sha256"] = "0".repeat(64).into();
    });
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &m,
        &args,
        "was written by another build of fixture-scale-setup::api",
    );
    let args = variant("other-archive.json", &|v| {
        v["archive"] = "0".repeat(64).into();
    });
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&m, &args, "was written for archive 0000000000000000");
    let args = variant("no-entry.json", &|v| {
        v["harnesses"] = serde_json::json!({});
    });
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &m,
        &args,
        "has no entry for the harness fixture-scale-setup::api",
    );
    std::fs::write(m.path("malformed.json"), "{\"format\": 1, \"harn").unwrap();
    let args = run("malformed.json");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &m,
        &args,
        "not a setup file written by `cargo loadtest setup`",
    );
    let args = run("missing.json");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&m, &args, "missing.json: cannot read it");
    assert_eq!(
        s.requests_to("/token/use/"),
        used,
        "a refused run sent load"
    );
    assert!(
        !m.path("refused.json").exists(),
        "a refused run wrote a report"
    );
    refused(
        &m,
        &[
            "teardown",
            "--archive-file",
            "loadtests.tar.zst",
            "--setup-file",
            "no-entry.json",
            "with_token",
        ],
        "has no entry for the harness fixture-scale-setup::api",
    );

    // A plain setup hook cannot be shared: `setup` over both harnesses is refused, naming it;
    // whatever hook ran before the refusal is torn down, and no file is written.
    let (issued, revoked) = (
        s.requests_to("/token/issue"),
        s.requests_to("/token/revoke"),
    );
    let err = refused(
        &m,
        &[
            "setup",
            "--archive-file",
            "loadtests.tar.zst",
            "--target",
            &url,
            "--setup-file",
            "both.json",
        ],
        "the harness fixture-scale-setup::plain cannot share its setup: the setup hook `start` is not shareable",
    );
    assert!(err.contains("main!(shared_setup = start)"), "{err}");
    assert!(!m.path("both.json").exists());
    assert_eq!(
        s.requests_to("/token/issue") - issued,
        s.requests_to("/token/revoke") - revoked,
        "a token issued before the refusal was left behind"
    );
    // Never over a folder: refused before the hook runs.
    std::fs::create_dir(m.path("folder")).unwrap();
    let issued = s.requests_to("/token/issue");
    refused(
        &m,
        &[
            "setup",
            "--archive-file",
            "loadtests.tar.zst",
            "--target",
            &url,
            "--setup-file",
            "folder",
            "with_token",
        ],
        "--setup-file folder is a folder",
    );
    assert_eq!(s.requests_to("/token/issue"), issued);
}
