//! The entry point: parse the command line, run the subcommand, map errors to exit codes.

use crate::cli::{Cargo, Command};
use crate::exit_code;
use crate::signals::Interrupt;
use clap::Parser;
use clap::error::ErrorKind;

/// Runs `cargo loadtest` with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    let Cargo::Loadtest(args) = match Cargo::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit_code::OK,
                _ => exit_code::USAGE,
            };
        }
    };
    let interrupt = Interrupt::install();
    let result = match &args.command {
        Some(Command::List(list)) => crate::list::list(list, &interrupt),
        Some(Command::Compare(c)) => crate::compare::compare(c),
        Some(Command::Report(r)) => crate::report_command::report(r),
        Some(Command::Doctor(d)) => crate::doctor::doctor(d),
        Some(Command::Init(a)) => crate::scaffold::init(a),
        Some(Command::New(a)) => crate::scaffold::new(a),
        Some(Command::Archive(a)) => crate::scale::archive::archive(a, &interrupt),
        Some(Command::Setup(a)) => crate::scale::setup::setup(a, &interrupt),
        Some(Command::Teardown(a)) => crate::scale::setup::teardown(a, &interrupt),
        Some(Command::Merge(a)) => crate::scale::merge::merge(a),
        Some(Command::History(a)) => crate::history::history(a),
        None => match &args.run.baseline_rev {
            Some(rev) => crate::run::against_revision(&args.run, rev, &interrupt),
            None => crate::run::run(&args.run, &interrupt),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
