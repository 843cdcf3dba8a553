//! The floor under `ctx.http()`: 50 tasks sending GETs through one shared reqwest client on a
//! current-thread tokio runtime, for a fixed time, with no metrics at all. bench/peers.sh runs it
//! beside wrk and `cargo loadtest` to show what reqwest itself costs per request.
//!
//! `bare_reqwest URL SECONDS`: prints `requests=N seconds=S` when done. Only loopback URLs.
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: bare_reqwest URL SECONDS");
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:"),
        "bare_reqwest only sends to loopback, not {url}"
    );
    let seconds: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("SECONDS must be a whole number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (n, elapsed) = runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(50)
            .build()
            .expect("a reqwest client");
        let start = Instant::now();
        let end = start + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < end {
                        let r = client.get(&url).send().await.expect("a response");
                        r.bytes().await.expect("a body");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut n = 0;
        for t in tasks {
            n += t.await.expect("a task");
        }
        (n, start.elapsed())
    });
    println!("requests={n} seconds={:.3}", elapsed.as_secs_f64());
}
