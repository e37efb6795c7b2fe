//! Writes synthetic snapshot JSON Lines to stdout for the `ledgerlink score` benchmark:
//! `synth_snapshots [CUSTOMERS] [SEED]` (defaults 1,000,000 and 1): the seeded
//! receivables histories of `ledgerlink-synthdata` (about 20 invoices and 20 orders per
//! customer), as of 2026-11-20.
//!
//! ```sh
//! cargo build --release -p ledgerlink -p ledgerlink-scoring --examples
//! target/release/examples/synth_snapshots 1000000 > /tmp/snapshots.jsonl
//! target/release/ledgerlink score --input /tmp/snapshots.jsonl --as-of 2026-11-20 \
//!     --output /dev/null --stats
//! ```

use std::io::{BufWriter, Write};

use ledgerlink_synthdata::{Generator, GeneratorConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let customers: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let as_of = "2026-11-20".parse()?;
    let generator = Generator::new(GeneratorConfig::new(seed, customers, as_of))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    // Customers are generated one at a time, so memory stays flat however many.
    for records in generator.customers() {
        serde_json::to_writer(&mut out, &records.expected_snapshot())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
