//! Helpers for the end-to-end tests: a stack on loopback with simulators, and clients
//! for its coordinator, scoring and reminder services.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use ledgerlink_proto::convert::date_to_pb;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_proto::coordinator::v1::{Run, RunKind, StartRunRequest, WatchRunRequest};
use ledgerlink_proto::reminder::v1::reminder_service_client::ReminderServiceClient;
use ledgerlink_proto::reminder::v1::{ListRemindersRequest, Reminder};
use ledgerlink_runtime::{BearerToken, MapEnv, SharedEnv};
use ledgerlink_stack::{Stack, StackOptions};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel carrying the stack's token.
pub type AuthChannel = InterceptedService<Channel, BearerToken>;

/// The webhook secret e2e stacks are started with.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";

/// A stack for one test, with its data directory.
pub struct TestStack {
    /// The running stack.
    pub stack: Stack,
    /// The synthetic data's "today".
    pub today: NaiveDate,
    _dir: tempfile::TempDir,
}

impl TestStack {
    /// Starts simulators with `customers` customers and the five services.
    pub async fn start(customers: u64) -> anyhow::Result<TestStack> {
        let dir = tempfile::tempdir()?;
        let today = chrono::Utc::now().date_naive();
        let env = MapEnv::from_pairs([("LEDGERLINK_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
        let options = StackOptions {
            env: SharedEnv(Arc::new(env)),
            host: [127, 0, 0, 1].into(),
            base_port: 0,
            config: None,
            data_dir: dir.path().to_owned(),
            customers,
            seed: 7,
            as_of: today,
            schedules: false,
            realistic_limits: false,
        };
        let stack = Stack::start(&options).await?;
        Ok(TestStack {
            stack,
            today,
            _dir: dir,
        })
    }

    async fn channel(&self, service: &str) -> anyhow::Result<AuthChannel> {
        let channel = Channel::from_shared(self.stack.url(service))?.connect().await?;
        Ok(InterceptedService::new(channel, BearerToken::new(&self.stack.token)?))
    }

    /// A coordinator client.
    pub async fn coordinator(&self) -> anyhow::Result<CoordinatorServiceClient<AuthChannel>> {
        Ok(CoordinatorServiceClient::new(self.channel("coordinator").await?).max_decoding_message_size(64 << 20))
    }

    /// Every reminder in the ledger.
    pub async fn reminders(&self) -> anyhow::Result<Vec<Reminder>> {
        let mut client = ReminderServiceClient::new(self.channel("reminder").await?);
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_reminders(ListRemindersRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            all.extend(page.reminders);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Starts a run and follows it to its end (at most `deadline`).
    pub async fn run(&self, kind: RunKind, dry_run: bool, as_of: NaiveDate, deadline: Duration) -> anyhow::Result<Run> {
        let mut client = self.coordinator().await?;
        let run = client
            .start_run(StartRunRequest {
                kind: kind as i32,
                dry_run,
                as_of: Some(date_to_pb(as_of)),
                ..Default::default()
            })
            .await?
            .into_inner()
            .run
            .context("no run")?;
        follow(&mut client, &run.run_id, deadline).await
    }
}

/// Follows a run's watch stream to its end.
pub async fn follow(
    client: &mut CoordinatorServiceClient<AuthChannel>,
    run_id: &str,
    deadline: Duration,
) -> anyhow::Result<Run> {
    let mut updates = client
        .watch_run(WatchRunRequest {
            run_id: run_id.to_owned(),
        })
        .await?
        .into_inner();
    let mut last = None;
    let until = tokio::time::Instant::now() + deadline;
    while let Some(update) = tokio::time::timeout_at(until, updates.message())
        .await
        .context("run did not finish in time")??
    {
        last = update.run;
    }
    last.context("no update")
}

/// The Klaviyo state a run leaves, reduced to what must not depend on faults or
/// restarts: each profile's properties (without the sync time) by external id, and the
/// `unique_id`s of the events.
pub fn klaviyo_state(
    klaviyo: &ledgerlink_stack::KlaviyoSim,
) -> (
    std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    Vec<String>,
) {
    let profiles = klaviyo
        .profiles()
        .into_iter()
        .filter_map(|profile| {
            let mut properties = profile.properties.clone();
            properties.remove("ar_synced_at");
            profile.external_id.map(|id| (id, properties))
        })
        .collect();
    let mut events: Vec<String> = klaviyo.events().into_iter().filter_map(|e| e.unique_id).collect();
    events.sort();
    (profiles, events)
}
