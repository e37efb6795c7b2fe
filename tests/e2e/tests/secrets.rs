//! No secret and no email address in any log line or run report: the whole pipeline
//! runs in this process with every module logging at trace level into a buffer, which
//! is then searched for each secret the services hold and for anything shaped like an
//! email address.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledgerlink_e2e::{TestStack, WEBHOOK_SECRET};
use ledgerlink_proto::coordinator::v1::{GetRunRequest, ListRejectsRequest, RunKind, RunState};
use secrecy::ExposeSecret;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The email-shaped substrings of `text`: a local part, `@`, and a domain with a dot.
fn email_like(text: &str) -> Vec<String> {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let before: String = text[..at].chars().rev().take_while(|c| local(*c)).collect();
        let after: String = text[at + 1..].chars().take_while(|c| domain(*c)).collect();
        let after = after.trim_end_matches('.');
        if !before.is_empty() && after.contains('.') && after.rsplit('.').next().is_some_and(|tld| tld.len() >= 2) {
            found.push(format!("{}@{after}", before.chars().rev().collect::<String>()));
        }
    }
    found
}

#[test]
fn the_email_detector_finds_addresses_and_ignores_masked_ones() {
    assert_eq!(email_like("to ap@acme.example, done"), ["ap@acme.example"]);
    assert_eq!(
        email_like(r#"{"email":"j.doe+ar@mail.acme.co.uk."}"#),
        ["j.doe+ar@mail.acme.co.uk"]
    );
    assert!(email_like("a***@acme.example").is_empty());
    assert!(email_like("hash 5f2c…@ no domain, user@localhost").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_pipeline_logs_and_reports_no_secret_and_no_email_address() -> anyhow::Result<()> {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("trace")
        .with_writer(logs.clone())
        .try_init()
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let test = TestStack::start(150).await?;
    let full = test
        .run(RunKind::Full, false, test.today, Duration::from_secs(180))
        .await?;
    assert_eq!(full.state, RunState::Succeeded as i32, "{}", full.error);
    let later = test.today + chrono::Days::new(3);
    let incremental = test
        .run(RunKind::Incremental, false, later, Duration::from_secs(180))
        .await?;
    assert_eq!(incremental.state, RunState::Succeeded as i32, "{}", incremental.error);

    // A per-invoice run through the signed webhook.
    let webhook = test.stack.webhook_addr.expect("webhook enabled");
    let body = br#"{"invoice_id":"10001"}"#.to_vec();
    let now = chrono::Utc::now().timestamp();
    let signature = ledgerlink_coordinator::webhook::sign(WEBHOOK_SECRET.as_bytes(), now, &body);
    let response = reqwest::Client::new()
        .post(format!(
            "http://{webhook}{}",
            ledgerlink_coordinator::webhook::server::PATH
        ))
        .header(ledgerlink_coordinator::webhook::TIMESTAMP_HEADER, now.to_string())
        .header(ledgerlink_coordinator::webhook::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await?;
    assert!(response.status().is_success(), "webhook answered {}", response.status());

    // The reports an operator reads: each run and its rejects.
    let mut coordinator = test.coordinator().await?;
    let mut reports = String::new();
    for run in [&full, &incremental] {
        let got = coordinator
            .get_run(GetRunRequest {
                run_id: run.run_id.clone(),
            })
            .await?
            .into_inner();
        reports.push_str(&format!("{got:?}\n"));
        let rejects = coordinator
            .list_rejects(ListRejectsRequest {
                run_id: run.run_id.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        reports.push_str(&format!("{rejects:?}\n"));
    }
    let secrets: Vec<String> = test
        .stack
        .secrets
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    test.stack.stop().await?;

    let logs = String::from_utf8(logs.0.lock().expect("log buffer").clone())?;
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.len() > 1000,
        "expected trace-level logs, got {} lines",
        lines.len()
    );
    assert!(
        secrets.len() >= 7,
        "the stack holds token, webhook, NetSuite and Klaviyo secrets"
    );
    for (name, text) in [("log", logs.as_str()), ("report", reports.as_str())] {
        for secret in &secrets {
            if let Some(line) = text.lines().find(|line| line.contains(secret.as_str())) {
                panic!("a secret leaked into a {name} line: {line}");
            }
        }
        for line in text.lines() {
            let emails = email_like(line);
            assert!(
                emails.is_empty(),
                "{name} line shows email addresses {emails:?}: {line}"
            );
        }
    }
    Ok(())
}
