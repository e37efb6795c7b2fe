//! Extraction throughput against the NetSuite simulator with a realistic page latency.
//!
//! `cargo bench -p ledgerlink-extractor --bench throughput` (env `BENCH_CUSTOMERS`,
//! default 500, and `BENCH_PAGE_LATENCY_MS`, default 200) prints customers/s and pages/s.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ledgerlink_extractor::{ExtractEvent, ExtractSettings, Extractor, NetSuiteConfig, Scope};
use ledgerlink_netsuite_sim::{NetSuiteSim, SimConfig, TbaCredentials};
use ledgerlink_runtime::MapEnv;
use ledgerlink_synthdata::{Generator, GeneratorConfig};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let customers = env_number("BENCH_CUSTOMERS", 500);
    let latency = Duration::from_millis(env_number("BENCH_PAGE_LATENCY_MS", 200));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let generator =
            Generator::new(GeneratorConfig::new(1, customers, "2026-11-20".parse().unwrap())).expect("generator");
        let mut config = SimConfig::new("1234567");
        config.tba = vec![TbaCredentials {
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            token_id: "ti".into(),
            token_secret: "ts".into(),
        }];
        config.page_latency = latency;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sim = NetSuiteSim::start(config, Some(generator), listener).await.expect("simulator");
        let env = MapEnv::from_pairs([
            ("NETSUITE_ACCOUNT_ID", "1234567"),
            ("NETSUITE_BASE_URL", sim.base_url().as_str()),
            ("NETSUITE_CONSUMER_KEY", "ck"),
            ("NETSUITE_CONSUMER_SECRET", "cs"),
            ("NETSUITE_TOKEN_ID", "ti"),
            ("NETSUITE_TOKEN_SECRET", "ts"),
        ]);
        let settings = ExtractSettings::default().with_env(&env).expect("settings");
        let client = NetSuiteConfig::from_env(&env)
            .expect("config")
            .client(settings.client.clone())
            .expect("client");
        let extractor = Extractor::new(client, settings).expect("extractor");

        let started = Instant::now();
        let mut stream = extractor.start(Scope::Full { after: None, until: None }, None);
        let mut summary = None;
        while let Some(event) = stream.next().await {
            if let ExtractEvent::Summary(done) = event.expect("extraction failed") {
                summary = Some(done);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let summary = summary.expect("summary");
        println!(
            "extract: {} customers, {} invoices, {} orders in {elapsed:.2} s with {} ms pages: {:.1} customers/s, {:.1} pages/s ({} requests)",
            summary.customers,
            summary.invoices,
            summary.orders,
            latency.as_millis(),
            summary.customers as f64 / elapsed,
            summary.requests.requests as f64 / elapsed,
            summary.requests.requests
        );
        sim.shutdown();
    });
}
