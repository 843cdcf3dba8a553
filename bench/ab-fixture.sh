# Sourced by the bench scripts that drive tests/fixtures/ab (ab-calibration.sh,
# baseline-calibration.sh, history-real.sh): builds the release binary into $bin and copies the
# fixture workspace to $repo ($OUT/repo), keeping its target directory between runs. The
# fixture's setup hook starts its own loopback server, taking SERVICE_US per request (or the
# environment's FIXTURE_SERVICE_US), with a precise timer; its one test is a closed model of 4
# users. Expects to be sourced from the repository root with $OUT set.
root=$(pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

cargo build --quiet --release --package cargo-loadtest --bin cargo-loadtest
bin="$root/target/release/cargo-loadtest"

repo="$OUT/repo"
mkdir -p "$repo"
find "$repo" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
cp -r tests/fixtures/ab/. "$repo/"
sed -i "s|@RUNTIME@|$root/loadtest-runtime|" "$repo/Cargo.toml"
cp Cargo.lock "$repo/Cargo.lock"
