//! The decision logic of `spec/reminders.md`: which events are due for one customer as
//! of one date, given what the ledger already holds.

use chrono::{DateTime, LocalResult, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use ledgerlink_domain::{CustomerSnapshot, Invoice, InvoiceStatus, Money, Order, Terms, shift_days};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, PlannerConfig};
use crate::event::{EventProperties, ProfileIdentity, ReminderEvent, ReminderKind};
use crate::ledger::{LedgerFact, LedgerView};

/// A change of `account_standing` that the scoring run recorded for this customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingMigration {
    /// The standing before.
    pub from: String,
    /// The standing now.
    pub to: String,
    /// Whether the move is toward risk (`spec/scoring.md` §5).
    pub toward_risk: bool,
}

/// Everything the planner reads for one customer.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The customer's snapshot (already validated).
    pub snapshot: &'a CustomerSnapshot,
    /// The customer's `account_standing` from scoring.
    pub account_standing: &'a str,
    /// The standing migration this run recorded, if any.
    pub standing_migration: Option<&'a StandingMigration>,
    /// The run's id (part of standing change keys).
    pub run_id: &'a str,
    /// The run's as-of date `D`.
    pub as_of: NaiveDate,
    /// What the ledger holds for this customer.
    pub ledger: &'a LedgerView,
}

/// The outcome of planning one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Events due now whose keys are not in the ledger; reserve, send, confirm.
    pub events: Vec<ReminderEvent>,
    /// Facts to record in the ledger (insert when absent).
    pub facts: Vec<LedgerFact>,
    /// Reminders that would otherwise be due but are held back, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A reminder held back, for run reports and `preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The key that was not planned.
    pub key: String,
    /// Why.
    pub reason: SkipReason,
}

/// Why a reminder was held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The latest milestone is older than `max_lateness_days`; it is skipped for good.
    Stale {
        /// The milestone's date.
        milestone_date: NaiveDate,
        /// Days between the milestone and the run.
        days_late: i64,
    },
    /// The invoice is paused.
    Paused {
        /// The date reminders resume.
        until: NaiveDate,
        /// The user's reason.
        note: String,
    },
    /// The order already had the configured number of recurring reminders.
    CapReached {
        /// The configured cap.
        cap: u32,
    },
}

/// Order statuses at which recurring balance reminders stop (`closed_unbilled` is a
/// closed order too, so it stops them as well).
const BALANCE_STOP_STATUSES: [&str; 6] = [
    "pending_billing",
    "billed",
    "fulfilled",
    "closed",
    "cancelled",
    "closed_unbilled",
];

/// Plans reminder events; cheap to share, holds only the validated configuration.
#[derive(Debug, Clone)]
pub struct Planner {
    config: PlannerConfig,
}

impl Planner {
    /// Validates the configuration and builds a planner.
    pub fn new(config: PlannerConfig) -> Result<Planner, ConfigError> {
        Ok(Planner {
            config: config.validated()?,
        })
    }

    /// Returns the validated configuration.
    pub fn config(&self) -> &PlannerConfig {
        &self.config
    }

    /// Returns the events due for one customer as of `input.as_of`.
    ///
    /// Pure: the same input always gives the same plan, so two planners working on
    /// the same ledger state propose the same keys and the ledger's unique key decides
    /// which one sends.
    pub fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let mut plan = Plan::default();
        let context = Context::new(&self.config, input);
        for invoice in &input.snapshot.invoices {
            if !is_owing(invoice) {
                continue;
            }
            if self.config.kinds.milestone {
                self.plan_milestone(&context, invoice, &mut plan);
            }
            if self.config.kinds.aging {
                self.plan_aging(&context, invoice, &mut plan);
            }
        }
        if self.config.kinds.balance {
            for order in &input.snapshot.orders {
                self.plan_balance(&context, order, &mut plan);
            }
        }
        if self.config.kinds.standing
            && let Some(migration) = input.standing_migration
        {
            self.plan_standing(&context, migration, &mut plan);
        }
        plan
    }

    fn plan_milestone(&self, context: &Context<'_>, invoice: &Invoice, plan: &mut Plan) {
        let as_of = context.input.as_of;
        let due = invoice.effective_due_date(context.terms);
        let schedule = self.config.schedule_for(context.terms.map(|terms| terms.name.as_str()));
        // Only the latest eligible milestone is ever a candidate: earlier ones that
        // were missed are skipped for good, even if they would still be fresh.
        let Some(offset) = schedule
            .iter()
            .rev()
            .copied()
            .find(|&offset| shift_days(due, offset) <= as_of && !(offset < 0 && as_of >= due))
        else {
            return;
        };
        let key = due_key(&invoice.id, offset);
        if context.input.ledger.is_recorded(&key) {
            return;
        }
        if let Some(pause) = context.input.ledger.pause_on(&invoice.id, as_of) {
            plan.skipped.push(Skipped {
                key,
                reason: SkipReason::Paused {
                    until: pause.until,
                    note: pause.reason.clone(),
                },
            });
            return;
        }
        let milestone_date = shift_days(due, offset);
        let days_late = (as_of - milestone_date).num_days();
        if days_late > self.config.max_lateness_days {
            plan.skipped.push(Skipped {
                key,
                reason: SkipReason::Stale {
                    milestone_date,
                    days_late,
                },
            });
            return;
        }
        let (metric, milestone) = match offset {
            ..0 => (&self.config.metrics.due_soon, "due_soon"),
            0 => (&self.config.metrics.due_today, "due_today"),
            _ => (&self.config.metrics.past_due, "past_due"),
        };
        let mut properties = context.invoice_properties(invoice, milestone.to_owned());
        properties.offset_days = Some(offset);
        plan.events.push(context.event(
            key,
            ReminderKind::Milestone,
            metric,
            properties,
            milestone_date,
            invoice.amount_remaining,
        ));
    }

    fn plan_aging(&self, context: &Context<'_>, invoice: &Invoice, plan: &mut Plan) {
        let as_of = context.input.as_of;
        let due = invoice.effective_due_date(context.terms);
        let now = days_past_due(invoice, context.terms, as_of);
        let previous_date = context.input.ledger.previous_as_of(&invoice.id, as_of);
        let before = days_past_due(invoice, context.terms, previous_date);
        for &threshold in &self.config.aging_thresholds {
            if !(now > threshold && before <= threshold) {
                continue;
            }
            let key = aging_key(&invoice.id, threshold);
            if context.input.ledger.is_recorded(&key) {
                continue;
            }
            let mut properties = context.invoice_properties(invoice, format!("aging_{threshold}"));
            properties.threshold = Some(threshold);
            plan.events.push(context.event(
                key,
                ReminderKind::Aging,
                &self.config.metrics.aging,
                properties,
                // The threshold is crossed on the first day dpd exceeds it.
                shift_days(due, threshold.saturating_add(1)),
                invoice.amount_remaining,
            ));
        }
    }

    fn plan_balance(&self, context: &Context<'_>, order: &Order, plan: &mut Plan) {
        let Some(balance) = outstanding_balance(order) else {
            return;
        };
        let as_of = context.input.as_of;
        let detected = match context.input.ledger.balance_detected.get(&order.id) {
            Some(&date) => date,
            None => {
                plan.facts.push(LedgerFact::BalanceDetected {
                    order_id: order.id.clone(),
                    on: as_of,
                });
                as_of
            }
        };
        let elapsed_days = (as_of - detected).num_days();
        // A backfill run for a date before detection has no window to fire.
        let Ok(elapsed_days) = u64::try_from(elapsed_days) else {
            return;
        };
        let interval = u64::from(self.config.recurring_interval_hours);
        let window = elapsed_days.saturating_mul(24) / interval;
        let key = balance_key(&order.id, window);
        if context.input.ledger.is_recorded(&key) {
            return;
        }
        if let Some(cap) = self.config.recurring_cap {
            let sent = context
                .input
                .ledger
                .count_with_prefix(&format!("balance:{}:", order.id));
            if sent >= cap as usize {
                plan.skipped.push(Skipped {
                    key,
                    reason: SkipReason::CapReached { cap },
                });
                return;
            }
        }
        let window_start_days = window.saturating_mul(interval) / 24;
        let milestone_date = shift_days(detected, i64::try_from(window_start_days).unwrap_or(i64::MAX));
        let properties = EventProperties {
            invoice_id: None,
            order_id: Some(order.id.clone()),
            document_number: order.tran_id.clone(),
            amount_remaining: None,
            balance_due: Some(balance),
            total: Some(order.total),
            currency: context.currency(),
            due_date: None,
            days_past_due: None,
            payment_terms: context.term_name(),
            milestone: format!("balance_window_{window}"),
            account_standing: context.input.account_standing.to_owned(),
            offset_days: None,
            threshold: None,
            window: Some(window),
            days_outstanding: Some(elapsed_days as i64),
            from: None,
            to: None,
            toward_risk: None,
        };
        plan.events.push(context.event(
            key,
            ReminderKind::Balance,
            &self.config.metrics.balance,
            properties,
            milestone_date,
            balance,
        ));
    }

    fn plan_standing(&self, context: &Context<'_>, migration: &StandingMigration, plan: &mut Plan) {
        let input = context.input;
        let key = standing_key(&input.snapshot.customer.id, input.run_id);
        if input.ledger.is_recorded(&key) {
            return;
        }
        let open_balance: Money = input
            .snapshot
            .invoices
            .iter()
            .filter(|invoice| is_owing(invoice))
            .map(|invoice| invoice.amount_remaining)
            .sum();
        let properties = EventProperties {
            invoice_id: None,
            order_id: None,
            document_number: None,
            amount_remaining: None,
            balance_due: None,
            total: None,
            currency: context.currency(),
            due_date: None,
            days_past_due: None,
            payment_terms: context.term_name(),
            milestone: "standing_change".to_owned(),
            account_standing: input.account_standing.to_owned(),
            offset_days: None,
            threshold: None,
            window: None,
            days_outstanding: None,
            from: Some(migration.from.clone()),
            to: Some(migration.to.clone()),
            toward_risk: Some(migration.toward_risk),
        };
        plan.events.push(context.event(
            key,
            ReminderKind::Standing,
            &self.config.metrics.standing,
            properties,
            input.as_of,
            open_balance,
        ));
    }
}

/// What every event of one customer shares.
struct Context<'a> {
    input: &'a PlanInput<'a>,
    terms: Option<&'a Terms>,
    profile: ProfileIdentity,
    time_zone: Tz,
}

impl<'a> Context<'a> {
    fn new(config: &PlannerConfig, input: &'a PlanInput<'a>) -> Context<'a> {
        let customer = &input.snapshot.customer;
        Context {
            input,
            terms: customer.terms.as_ref(),
            profile: ProfileIdentity::for_customer(&customer.id, customer.email.as_deref()),
            time_zone: config.time_zone,
        }
    }

    fn currency(&self) -> Option<String> {
        self.input.snapshot.customer.currency.clone()
    }

    fn term_name(&self) -> Option<String> {
        self.terms.map(|terms| terms.name.clone())
    }

    fn invoice_properties(&self, invoice: &Invoice, milestone: String) -> EventProperties {
        EventProperties {
            invoice_id: Some(invoice.id.clone()),
            order_id: None,
            document_number: invoice.tran_id.clone(),
            amount_remaining: Some(invoice.amount_remaining),
            balance_due: None,
            total: Some(invoice.total),
            currency: self.currency(),
            due_date: Some(invoice.effective_due_date(self.terms)),
            days_past_due: Some(days_past_due(invoice, self.terms, self.input.as_of)),
            payment_terms: self.term_name(),
            milestone,
            account_standing: self.input.account_standing.to_owned(),
            offset_days: None,
            threshold: None,
            window: None,
            days_outstanding: None,
            from: None,
            to: None,
            toward_risk: None,
        }
    }

    fn event(
        &self,
        key: String,
        kind: ReminderKind,
        metric: &str,
        properties: EventProperties,
        milestone_date: NaiveDate,
        value: Money,
    ) -> ReminderEvent {
        ReminderEvent {
            key,
            kind,
            metric: metric.to_owned(),
            customer_id: self.input.snapshot.customer.id.clone(),
            profile: self.profile.clone(),
            properties,
            milestone_date,
            time: start_of_day(milestone_date, self.time_zone),
            value,
        }
    }
}

/// Returns true for an invoice that still owes money: open with `amount_remaining > 0`.
/// Paid and voided invoices get nothing, whatever their amount says.
pub fn is_owing(invoice: &Invoice) -> bool {
    invoice.status == InvoiceStatus::Open && invoice.amount_remaining.is_positive()
}

/// Days past due as of `date` (`spec/scoring.md` §2): `max(0, date - due_date)` for an
/// owing invoice, 0 otherwise.
pub fn days_past_due(invoice: &Invoice, terms: Option<&Terms>, date: NaiveDate) -> i64 {
    if !is_owing(invoice) {
        return 0;
    }
    (date - invoice.effective_due_date(terms)).num_days().max(0)
}

/// Returns the balance recurring reminders are about, or `None` when the order has
/// none (no `balance_due`, zero, or a status at which reminders stop).
pub fn outstanding_balance(order: &Order) -> Option<Money> {
    let balance = order.balance_due.filter(|balance| balance.is_positive())?;
    let status = order.status.trim().to_lowercase().replace([' ', '-'], "_");
    (!BALANCE_STOP_STATUSES.contains(&status.as_str())).then_some(balance)
}

/// `due:{invoice id}:{offset}`, the offset as a signed integer.
pub fn due_key(invoice_id: &str, offset: i64) -> String {
    format!("due:{invoice_id}:{offset}")
}

/// `aging:{invoice id}:{threshold}`.
pub fn aging_key(invoice_id: &str, threshold: i64) -> String {
    format!("aging:{invoice_id}:{threshold}")
}

/// `balance:{order id}:{window}`.
pub fn balance_key(order_id: &str, window: u64) -> String {
    format!("balance:{order_id}:{window}")
}

/// `standing:{customer id}:{run id}`.
pub fn standing_key(customer_id: &str, run_id: &str) -> String {
    format!("standing:{customer_id}:{run_id}")
}

/// Returns the first instant of `date` in `time_zone`.
///
/// Where a daylight-saving change skips midnight, the day starts at the first
/// instant that exists on it.
pub fn start_of_day(date: NaiveDate, time_zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    let mut local = midnight;
    for _ in 0..=24 {
        match time_zone.from_local_datetime(&local) {
            LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
                return instant.with_timezone(&Utc);
            }
            LocalResult::None => local += TimeDelta::minutes(30),
        }
    }
    Utc.from_utc_datetime(&midnight)
}
