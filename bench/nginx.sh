# Sourced by bench/peers.sh and bench/soak.sh: installs what they need from Debian's packages if
# missing, starts nginx (one worker, `return 200 "ok"`, no access log) on 127.0.0.1:$PORT pinned
# to CPU 0, stops it when the script exits, and builds cargo-loadtest.
# Sets: URL, CLT (the cargo-loadtest binary), MANIFEST (bench/peers-loadtest), work (a temp dir),
# clt (an array: `cargo loadtest` on the bench load tests against nginx).
PORT=${PORT:-18080}
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need wrk wrk
need nginx nginx
need /usr/bin/time time
need taskset util-linux
work=$(mktemp -d)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" &
NGINX=$!
trap 'kill $NGINX 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
URL="http://127.0.0.1:$PORT"
cargo build --quiet --release -p cargo-loadtest
CLT=target/release/cargo-loadtest
# The bench load tests are a workspace of their own; they build into the repository's target
# directory with its Cargo.lock and release profile, so its compiled dependencies are reused.
MANIFEST=bench/peers-loadtest/Cargo.toml
clt=("$CLT" loadtest --quiet --manifest-path "$MANIFEST" --target-dir target --target "$URL")
