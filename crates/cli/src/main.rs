//! `switchyard`: the merchant and operator CLI. Parses arguments and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    switchyard_cli::main(switchyard_cli::Cli::parse())
}
