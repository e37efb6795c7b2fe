//! Prints how long generating and loading a data set takes, and how fast SuiteQL pages
//! come back: `cargo run --release -p ledgerlink-netsuite-sim --example load_timing -- 7500`
//! (7,500 customers is about 150,000 invoices).

use std::time::Instant;

use chrono::NaiveDate;
use ledgerlink_netsuite_sim::{NetSuiteSim, SimConfig};
use ledgerlink_synthdata::{Generator, GeneratorConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let customers: u64 = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(7_500);
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a valid date");
    let generator = Generator::new(GeneratorConfig::new(1, customers, as_of))?;

    let started = Instant::now();
    let invoices: usize = generator.customers().map(|c| c.invoices.len()).sum();
    let generated = started.elapsed();
    println!("generated {customers} customers, {invoices} invoices in {generated:?} (no load)");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let started = Instant::now();
    let handle = NetSuiteSim::start(SimConfig::new("123456"), Some(generator), listener).await?;
    println!("generated and loaded into sqlite in {:?}", started.elapsed());
    handle.shutdown();
    Ok(())
}
