//! `ledgerlink score`: snapshot JSON Lines → score JSON Lines (`spec/scoring.md` §6).
//!
//! Streams with flat memory: one line is read, scored and written before the next is
//! read (with `--history`, a bounded batch at a time, for the database round trips).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use ledgerlink_domain::{CustomerScore, CustomerSnapshot, Rejection, parse_snapshot_line};
use ledgerlink_runtime::ProcessEnv;
use ledgerlink_scoring::history::History;
use ledgerlink_scoring::{ActiveRules, SERVICE, ScoringSettings};
use ledgerlink_scoring_engine::{Engine, SegmentMigration};

/// Customers scored per history round trip.
const HISTORY_BATCH: usize = 500;

/// Flags of `ledgerlink score`.
#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// Snapshot JSON Lines (the format of `ledgerlink extract`); /dev/stdin works.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The as-of date, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: NaiveDate,
    /// Segment rules, TOML or YAML by extension (default: `[scoring] rules_file` of
    /// LEDGERLINK_CONFIG, else the built-in rules).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Score history (sqlite://… or postgres://…, the scoring service's store): new
    /// aging and migrations against the last successful run; this run is recorded.
    #[arg(long, value_name = "DB_URL")]
    history: Option<String>,
    /// Where the scores go, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// Also write this run's segment migrations, as JSON Lines (needs --history).
    #[arg(long, value_name = "FILE", requires = "history")]
    migrations: Option<PathBuf>,
    /// Print throughput, time split and peak memory on stderr at the end.
    #[arg(long)]
    stats: bool,
}

pub(crate) async fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let rules = load_rules(args.rules.as_deref())?;
    let input = std::fs::File::open(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?;
    let output =
        std::fs::File::create(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut run = Run {
        as_of: args.as_of,
        engine: rules.engine.clone(),
        output: BufWriter::with_capacity(1 << 16, output),
        migrations_out: match &args.migrations {
            None => None,
            Some(path) => Some(BufWriter::new(
                std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            )),
        },
        summary: Summary::default(),
        history: None,
    };
    if let Some(url) = &args.history {
        let history = History::open(url).await.context("cannot open the score history")?;
        run.history = Some((history, run_id(args.as_of)?));
    }

    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut line = String::new();
    let mut number = 0u64;
    let mut batch = Vec::with_capacity(if run.history.is_some() { HISTORY_BATCH } else { 0 });
    loop {
        line.clear();
        let read_started = Instant::now();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read {}", args.input.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = parse_snapshot_line(&line);
        run.summary.parse_time += read_started.elapsed();
        let snapshot = match parsed {
            Ok(parsed) => {
                for rejection in &parsed.rejections {
                    run.summary.reject(number, rejection);
                }
                parsed.snapshot
            }
            Err(error) => {
                run.summary.reject(number, &error.0);
                continue;
            }
        };
        if run.history.is_some() {
            batch.push(snapshot);
            if batch.len() == HISTORY_BATCH {
                run.score_with_history(std::mem::take(&mut batch)).await?;
            }
        } else {
            run.score_alone(&snapshot)?;
        }
    }
    if !batch.is_empty() {
        run.score_with_history(batch).await?;
    }
    run.output
        .flush()
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(out) = &mut run.migrations_out {
        out.flush().context("cannot write the migrations file")?;
    }
    if let Some((history, run_id)) = &run.history {
        history
            .complete_run(run_id)
            .await
            .with_context(|| format!("cannot complete run {run_id} in the score history"))?;
    }
    run.summary.print(&rules.source);
    if args.stats {
        run.summary.print_stats(started.elapsed());
    }
    Ok(())
}

/// The rules: `--rules`, else the configuration file's `[scoring]` section, else built-in.
fn load_rules(rules: Option<&Path>) -> anyhow::Result<ActiveRules> {
    let table = ledgerlink_runtime::config::service_table(&ProcessEnv, SERVICE)?;
    let mut settings =
        ScoringSettings::from_table(&table).with_context(|| format!("invalid [{SERVICE}] configuration"))?;
    if let Some(path) = rules {
        settings.rules_file = Some(path.to_owned());
    }
    Ok(settings.load()?)
}

/// A run id that no other `ledgerlink score` run shares.
fn run_id(as_of: NaiveDate) -> anyhow::Result<String> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot make a run id: {e}"))?;
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("cli-{as_of}-{suffix}"))
}

struct Run {
    as_of: NaiveDate,
    engine: Arc<Engine>,
    output: BufWriter<std::fs::File>,
    migrations_out: Option<BufWriter<std::fs::File>>,
    summary: Summary,
    history: Option<(History, String)>,
}

impl Run {
    fn score_alone(&mut self, snapshot: &CustomerSnapshot) -> anyhow::Result<()> {
        let scoring_started = Instant::now();
        let score = self.engine.score(snapshot, self.as_of, None);
        self.summary.score_time += scoring_started.elapsed();
        self.summary.invoices += snapshot.invoices.len() as u64;
        self.write(&score)
    }

    async fn score_with_history(&mut self, batch: Vec<CustomerSnapshot>) -> anyhow::Result<()> {
        // A pool handle and an id: cheap to clone once per batch, and it frees `self`
        // for writing.
        let Some((history, run_id)) = self.history.clone() else {
            bail!("no score history open");
        };
        self.summary.invoices += batch.iter().map(|s| s.invoices.len() as u64).sum::<u64>();
        let scoring_started = Instant::now();
        let scored = history
            .score_batch(self.engine.clone(), Some(&run_id), self.as_of, batch)
            .await
            .context("score history failed")?;
        self.summary.score_time += scoring_started.elapsed();
        for score in &scored.scores {
            self.write(score)?;
        }
        for migration in &scored.migrations {
            self.summary.migration(migration);
            if let Some(out) = &mut self.migrations_out {
                let recorded = serde_json::json!({
                    "customer_id": migration.customer_id,
                    "dimension": migration.dimension,
                    "from": migration.from,
                    "to": migration.to,
                    "from_date": migration.from_date,
                    "to_date": migration.to_date,
                    "toward_risk": migration.toward_risk,
                    "run_id": run_id,
                });
                serde_json::to_writer(&mut *out, &recorded)?;
                out.write_all(b"\n").context("cannot write the migrations file")?;
            }
        }
        Ok(())
    }

    fn write(&mut self, score: &CustomerScore) -> anyhow::Result<()> {
        let write_started = Instant::now();
        serde_json::to_writer(&mut self.output, score).context("cannot write a score")?;
        self.output.write_all(b"\n").context("cannot write the output file")?;
        self.summary.write_time += write_started.elapsed();
        self.summary.customer(score);
        Ok(())
    }
}

#[derive(Default)]
struct Summary {
    customers: u64,
    invoices: u64,
    rejected: u64,
    newly_aged: u64,
    migrations: u64,
    toward_risk: u64,
    segments: [BTreeMap<String, u64>; 3],
    parse_time: Duration,
    score_time: Duration,
    write_time: Duration,
}

impl Summary {
    fn reject(&mut self, line: u64, rejection: &Rejection) {
        self.rejected += 1;
        eprintln!("line {line}: {rejection}");
    }

    fn customer(&mut self, score: &CustomerScore) {
        self.customers += 1;
        self.newly_aged += score.newly_aged_invoice_ids.len() as u64;
        for (counts, segment) in
            self.segments
                .iter_mut()
                .zip([&score.account_standing, &score.behavior_segment, &score.loyalty_tier])
        {
            // Look up before inserting: allocating the key for every customer would
            // cost more than the count.
            match counts.get_mut(segment.as_str()) {
                Some(count) => *count += 1,
                None => {
                    counts.insert(segment.clone(), 1);
                }
            }
        }
    }

    fn migration(&mut self, migration: &SegmentMigration) {
        self.migrations += 1;
        self.toward_risk += u64::from(migration.toward_risk);
    }

    fn print(&self, rules_source: &str) {
        eprintln!(
            "scored {} customers ({} invoices) with {} rules, {} rejected records, {} newly aged invoices, {} migrations ({} toward risk)",
            self.customers,
            self.invoices,
            rules_source,
            self.rejected,
            self.newly_aged,
            self.migrations,
            self.toward_risk
        );
        for (name, counts) in ["account_standing", "behavior_segment", "loyalty_tier"]
            .iter()
            .zip(&self.segments)
        {
            let counts: Vec<String> = counts.iter().map(|(segment, n)| format!("{segment}={n}")).collect();
            eprintln!("{name}: {}", counts.join(" "));
        }
    }

    fn print_stats(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let rate = |count: u64, secs: f64| if secs > 0.0 { count as f64 / secs } else { 0.0 };
        eprintln!(
            "stats: {:.2}s elapsed, {:.0} customers/s, {:.0} invoices/s on 1 core (single-threaded)",
            seconds,
            rate(self.customers, seconds),
            rate(self.invoices, seconds)
        );
        eprintln!(
            "stats: time in read+parse {:.2}s ({:.0} invoices/s), scoring {:.2}s ({:.0} invoices/s), writing {:.2}s",
            self.parse_time.as_secs_f64(),
            rate(self.invoices, self.parse_time.as_secs_f64()),
            self.score_time.as_secs_f64(),
            rate(self.invoices, self.score_time.as_secs_f64()),
            self.write_time.as_secs_f64()
        );
        match peak_memory_kib() {
            Some(kib) => eprintln!("stats: peak memory (VmHWM) {:.1} MiB", kib as f64 / 1024.0),
            None => eprintln!("stats: peak memory unknown (no /proc/self/status)"),
        }
    }
}

/// The process's peak resident set size, from Linux's `/proc/self/status`.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
