//! `ledgerlink migrations`: the segment migrations recorded in the score history.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use ledgerlink_runtime::config::{DEFAULT_DATA_DIR, ENV_DATA_DIR};
use ledgerlink_runtime::{EnvSource, ProcessEnv};
use ledgerlink_scoring::history::{History, MAX_PAGE_SIZE, MigrationFilter};

/// Flags of `ledgerlink migrations`.
#[derive(Debug, clap::Args)]
pub(crate) struct MigrationsArgs {
    /// Only this customer's migrations.
    #[arg(long, value_name = "ID")]
    customer: Option<String>,
    /// Only migrations from or to this segment.
    #[arg(long, value_name = "SEGMENT")]
    segment: Option<String>,
    /// The score history (default: the scoring service's SQLite file under
    /// LEDGERLINK_DATA_DIR).
    #[arg(long, value_name = "DB_URL")]
    db: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn migrations(args: MigrationsArgs) -> anyhow::Result<()> {
    let data_dir = ProcessEnv
        .get(ENV_DATA_DIR)
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
    let url = ledgerlink_store::resolve_url(args.db.as_deref(), &data_dir, ledgerlink_scoring::SERVICE)?;
    let history = History::open(&url).await.context("cannot open the score history")?;
    let filter = MigrationFilter {
        customer_id: args.customer,
        segment: args.segment,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.json {
        writeln!(
            out,
            "{:<10}  {:<10}  {:<14}  {:<16}  {:<40}  {:<6}  RUN",
            "FROM_DATE", "TO_DATE", "CUSTOMER", "DIMENSION", "FROM -> TO", "RISK"
        )?;
    }
    let mut listed = 0u64;
    let mut token: Option<String> = None;
    loop {
        let page = history
            .list_migrations(&filter, MAX_PAGE_SIZE, token.as_deref())
            .await
            .context("cannot list migrations")?;
        for recorded in &page.migrations {
            listed += 1;
            if args.json {
                serde_json::to_writer(&mut out, recorded)?;
                writeln!(out)?;
                continue;
            }
            let migration = &recorded.migration;
            writeln!(
                out,
                "{:<10}  {:<10}  {:<14}  {:<16}  {:<40}  {:<6}  {}",
                migration.from_date,
                migration.to_date,
                migration.customer_id,
                migration.dimension.as_str(),
                format!("{} -> {}", migration.from, migration.to),
                if migration.toward_risk { "toward" } else { "" },
                recorded.run_id
            )?;
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    out.flush()?;
    if !args.json && listed == 0 {
        eprintln!("no migrations recorded");
    }
    Ok(())
}
