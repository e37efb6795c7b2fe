//! `ledgerlink`: the operator CLI.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod extract;
mod klaviyo;
mod migrations;
mod remind;
mod report;
mod runs;
mod score;
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
    /// The whole pipeline against the simulators, with a summary and an HTML report.
    Demo(demo::DemoArgs),
    /// Run the five services in one process over real gRPC on loopback.
    Up(up::UpArgs),
    /// The whole pipeline at 10k/100k/… customers against rate-limited simulators,
    /// measured against the APIs' lower bound.
    Bench(bench::BenchArgs),
    /// Snapshots → the reminder events due that day, recorded in the ledger.
    Remind(remind::RemindArgs),
    /// Pause an invoice's reminders until a date.
    Pause(remind::PauseArgs),
    /// Ask the coordinator for a run and follow it with a progress line.
    Run(runs::RunArgs),
    /// List recent runs.
    Runs,
    /// List the records a run set aside, with reasons.
    Rejects(runs::RejectsArgs),
    /// Show what Klaviyo would get for one customer, with the scoring explanation.
    Preview(runs::PreviewArgs),
    /// Snapshots → scores (spec/scoring.md §6), with score history when asked.
    Score(score::ScoreArgs),
    /// List the segment migrations recorded in the score history.
    Migrations(migrations::MigrationsArgs),
    /// NetSuite → snapshot JSON Lines (spec/scoring.md §1), in process.
    Extract(extract::ExtractArgs),
    /// Scores and reminder events → Klaviyo, segments and lists, in process.
    Klaviyo(klaviyo::KlaviyoArgs),
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
            Command::Demo(args) => demo::run(args).await,
            Command::Up(args) => up::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Remind(args) => remind::remind(args).await,
            Command::Pause(args) => remind::pause(args).await,
            Command::Run(args) => runs::run(args).await,
            Command::Runs => runs::runs().await,
            Command::Rejects(args) => runs::rejects(args).await,
            Command::Preview(args) => runs::preview(args).await,
            Command::Score(args) => score::score(args).await,
            Command::Migrations(args) => migrations::migrations(args).await,
            Command::Extract(args) => extract::extract(args).await,
            Command::Klaviyo(args) => klaviyo::klaviyo(args).await,
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
