//! `cargo loadtest`: see the crate documentation of `cargo_loadtest`.

fn main() {
    std::process::exit(cargo_loadtest::dispatch::main());
}
