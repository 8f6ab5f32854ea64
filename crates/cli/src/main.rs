//! `backfill`: the command line, all of it in the library ([`backfill::main_with_args`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    backfill::main_with_args(std::env::args_os())
}
