#!/usr/bin/env bash
# Fuzzes the native exchange's response parser (fuzz/fuzz_targets/response.rs) for SECONDS_
# (default 300) with cargo fuzz (libFuzzer), starting from a seed corpus of real responses. On
# demand, never in CI: `bash bench/fuzz.sh`. Findings land in fuzz/artifacts/response/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${SECONDS_:-300}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
corpus=fuzz/corpus/response
mkdir -p "$corpus"
# Seeds: the first byte is the control byte (bit 0: a HEAD request; the rest: bytes per read).
seed() { printf "$2" > "$corpus/$1"; }
seed plain '\x0eHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello'
seed chunked '\x06HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nt: 1\r\n\r\n'
seed interim '\x02HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'
seed head '\x01HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 9\r\n\r\n'
# The fuzz workspace shares no target directory with the repository (other flags, other builds).
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none response "$corpus" -- -max_total_time="$SECONDS_" -max_len=4096
