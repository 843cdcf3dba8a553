# Sourced by bench/peers.sh and bench/soak.sh: installs what they need from Debian's packages if
# missing, starts nginx (one worker, `return 200 "ok"`, no access log) on 127.0.0.1:$PORT pinned
# to $NGINX_CPUS (default CPU 0), stops it when the script exits, and builds cargo-loadtest.
# nginx also listens on $PORT+1 with keep-alive off (it closes every connection after its
# response) and serves stub_status (connections accepted) on $PORT+2.
# Sets: URL, CLOSE_URL, CLT (the cargo-loadtest binary), MANIFEST (bench/peers-loadtest), work (a
# temp dir), clt (an array: `cargo loadtest` on the bench load tests against nginx), and the
# functions `accepts` (nginx's count of accepted connections so far) and `warm_up TEST` (one
# 1-second run of TEST, so the harness is built and warm before anything is measured) and
# `sample_rss SECONDS FILE` (the bench harness's resident memory every SECONDS until it exits).
PORT=${PORT:-18080}
NGINX_CPUS=${NGINX_CPUS:-0}
GEN_CPUS=${GEN_CPUS:-1}
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need wrk wrk
need nginx nginx
need /usr/bin/time time
need taskset util-linux
need curl curl
work=$(mktemp -d)
workers=$(taskset -c "$NGINX_CPUS" nproc)
cat > "$work/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
worker_rlimit_nofile 200000;
events { worker_connections 100000; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$PORT backlog=65535; location / { return 200 "ok"; } }
  server { listen 127.0.0.1:$((PORT + 1)); keepalive_timeout 0; location / { return 200 "ok"; } }
  server { listen 127.0.0.1:$((PORT + 2)); location / { stub_status; } }
}
CONF
taskset -c "$NGINX_CPUS" nginx -c "$work/nginx.conf" &
NGINX=$!
trap 'kill $NGINX 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
URL="http://127.0.0.1:$PORT"
CLOSE_URL="http://127.0.0.1:$((PORT + 1))"
accepts() { curl -s "http://127.0.0.1:$((PORT + 2))/" | awk 'NR == 3 { print $1 }'; }
cargo build --quiet --release -p cargo-loadtest
CLT=target/release/cargo-loadtest
# The bench load tests are a workspace of their own; they build into the repository's target
# directory with its Cargo.lock and release profile, so its compiled dependencies are reused.
MANIFEST=bench/peers-loadtest/Cargo.toml
clt=("$CLT" loadtest --quiet --manifest-path "$MANIFEST" --target-dir target --target "$URL")
warm_up() { "${clt[@]}" --exact "$1" --duration 1s --json "$work/warm.json" >/dev/null; }
sample_rss() {
  local every=$1 out=$2 pid="" start
  for _ in $(seq 100); do
    pid=$(pgrep -n -f 'deps/peers-[0-9a-f]+ ' || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || { echo "the harness process did not start" >&2; return 1; }
  start=$(date +%s)
  : > "$out"
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )) $rss" >> "$out"
    sleep "$every"
  done
}
