//! `ledgerlink`: the operator CLI.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod remind;
mod up;

#[derive(Debug, Parser)]
#[command(
    name = "ledgerlink",
    version,
    about = "NetSuite receivables truth, scored and synced to Klaviyo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the five services in one process over real gRPC on loopback.
    Up(up::UpArgs),
    /// Snapshots → the reminder events due that day, recorded in the ledger.
    Remind(remind::RemindArgs),
    /// Pause an invoice's reminders until a date.
    Pause(remind::PauseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ledgerlink: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Remind(args) => remind::remind(args).await,
            Command::Pause(args) => remind::pause(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledgerlink: {error:#}");
            ExitCode::FAILURE
        }
    }
}
