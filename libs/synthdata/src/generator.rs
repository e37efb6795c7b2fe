//! Per-customer timelines and the dated views of them.
//!
//! Each customer's whole timeline, from before the history window to `future_days`
//! past `as_of`, is drawn from its own seed (`seed` mixed with the customer index), so
//! any customer can be generated alone and a later view ("advance time") only reveals
//! events that were already planned: what changed between two views is exactly what
//! has a `lastmodifieddate` between them.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use ledgerlink_domain::{Contact, CreditHold, Customer, CustomerSnapshot, Invoice, InvoiceStatus, Money, Order, Terms};
use rust_decimal::Decimal;

use crate::catalog::{self, ROLE_ACCOUNTS_PAYABLE, ROLE_DECISION_MAKER, ROLE_PRIMARY_CONTACT};
use crate::records::{
    ContactRecord, ContactRoleRecord, CurrencyRecord, CustomerRecord, DepositLink, PaymentApplication, TermRecord,
    TransactionRecord, TransactionType,
};
use crate::rng::{Rng, mix};

/// Transaction ids of one customer live in `[(index + 1) * ID_BLOCK, (index + 2) * ID_BLOCK)`.
pub const ID_BLOCK: i64 = 10_000;
const PAYMENT_ID_OFFSET: i64 = 3_000;
const ORDER_ID_OFFSET: i64 = 7_000;
/// A customer deposit's id is its order's plus this (an order takes at most one).
const DEPOSIT_ID_OFFSET: i64 = 1_500;
const MAX_DOCUMENTS: u64 = 1_000;

/// What the generator makes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Seed of the whole data set.
    pub seed: u64,
    /// Number of customers.
    pub customers: u64,
    /// "Today" of the data set: history runs up to this date.
    pub as_of: NaiveDate,
    /// Days of history before `as_of`.
    pub history_days: u32,
    /// Days after `as_of` that are planned too, so time can be advanced that far.
    pub future_days: u32,
    /// Mean invoices per customer over the history window.
    pub invoices_per_customer: f64,
    /// Mean sales orders per customer over the history window.
    pub orders_per_customer: f64,
}

impl GeneratorConfig {
    /// The defaults: about two years of history, 20 invoices and 20 orders per customer
    /// on average, a year of future that advancing time can reveal.
    pub fn new(seed: u64, customers: u64, as_of: NaiveDate) -> Self {
        GeneratorConfig {
            seed,
            customers,
            as_of,
            history_days: 730,
            future_days: 365,
            invoices_per_customer: 20.0,
            orders_per_customer: 20.0,
        }
    }
}

/// A configuration the generator refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `history_days` is zero.
    #[error("history_days must be at least 1")]
    NoHistory,
    /// A per-customer mean is negative, not finite or too large.
    #[error("{name} must be between 0 and 300, got {value}")]
    BadMean {
        /// Which setting.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// The customer count would overflow the id space.
    #[error("customers must be at most 100000000, got {0}")]
    TooManyCustomers(u64),
}

/// How a customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayerProfile {
    /// Pays on time or early.
    Punctual,
    /// Pays late, consistently.
    Late,
    /// Anything from early to very late.
    Erratic,
    /// Was punctual, pays later and orders less over time.
    Declining,
    /// Large credit, large orders, pays on time.
    Vip,
}

/// The generator of one data set, viewed at one date.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    view_date: NaiveDate,
}

impl Generator {
    /// Checks the configuration and returns a generator viewing `as_of`.
    pub fn new(config: GeneratorConfig) -> Result<Self, ConfigError> {
        if config.history_days == 0 {
            return Err(ConfigError::NoHistory);
        }
        for (name, value) in [
            ("invoices_per_customer", config.invoices_per_customer),
            ("orders_per_customer", config.orders_per_customer),
        ] {
            if !value.is_finite() || !(0.0..=300.0).contains(&value) {
                return Err(ConfigError::BadMean { name, value });
            }
        }
        if config.customers > 100_000_000 {
            return Err(ConfigError::TooManyCustomers(config.customers));
        }
        let view_date = config.as_of;
        Ok(Generator { config, view_date })
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The date this generator shows the data at.
    pub fn view_date(&self) -> NaiveDate {
        self.view_date
    }

    /// The last instant shown: the end of the view date (UTC).
    pub fn cutoff(&self) -> DateTime<Utc> {
        end_of_day(self.view_date)
    }

    /// The same data set `days` later: new invoices, payments, order progress and
    /// customer edits up to the new date, each with its own `lastmodifieddate`.
    /// Beyond `future_days` past `as_of` nothing new happens.
    pub fn advanced(&self, days: u32) -> Generator {
        Generator {
            config: self.config.clone(),
            view_date: self.view_date + Days::new(u64::from(days)),
        }
    }

    /// The `term` table.
    pub fn terms(&self) -> Vec<TermRecord> {
        catalog::terms(self.epoch() - TimeDelta::days(400))
    }

    /// The `currency` table.
    pub fn currencies(&self) -> Vec<CurrencyRecord> {
        catalog::currencies()
    }

    /// The `contactrole` table.
    pub fn contact_roles(&self) -> Vec<ContactRoleRecord> {
        catalog::contact_roles()
    }

    /// The customer id of a customer index.
    pub fn customer_id(index: u64) -> i64 {
        index as i64 + 1
    }

    /// Every customer, generated one at a time (memory stays flat).
    pub fn customers(&self) -> impl Iterator<Item = CustomerRecords> + '_ {
        (0..self.config.customers).map(|index| self.customer(index))
    }

    /// One customer's records at the view date; independent of every other customer.
    pub fn customer(&self, index: u64) -> CustomerRecords {
        let plan = CustomerPlan::draw(&self.config, index);
        plan.view(self.cutoff())
    }

    fn epoch(&self) -> DateTime<Utc> {
        start_of_day(self.config.as_of - Days::new(u64::from(self.config.history_days)))
    }
}

/// Everything NetSuite holds about one customer at a view date.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecords {
    /// How this customer was drawn to pay (for tests and demos; not a NetSuite field).
    pub profile: PayerProfile,
    /// The `customer` row.
    pub customer: CustomerRecord,
    /// Invoices (`CustInvc`), by id.
    pub invoices: Vec<TransactionRecord>,
    /// Customer payments (`CustPymt`), by id.
    pub payments: Vec<TransactionRecord>,
    /// Sales orders (`SalesOrd`), by id.
    pub orders: Vec<TransactionRecord>,
    /// Customer deposits (`CustDep`) taken against prepayment orders, by id.
    pub deposits: Vec<TransactionRecord>,
    /// Payment → invoice applications (`NextTransactionLineLink`, linktype `Payment`).
    pub applications: Vec<PaymentApplication>,
    /// Sales order → customer deposit links (`NextTransactionLineLink`).
    pub deposit_links: Vec<DepositLink>,
    /// Contacts of the customer, by id.
    pub contacts: Vec<ContactRecord>,
    /// The view date.
    pub view_date: NaiveDate,
}

impl CustomerRecords {
    /// The latest `lastmodifieddate` of any record of this customer.
    pub fn last_modified(&self) -> DateTime<Utc> {
        self.transactions()
            .map(|t| t.last_modified)
            .chain(self.applications.iter().map(|a| a.last_modified))
            .chain(self.deposit_links.iter().map(|l| l.last_modified))
            .chain(self.contacts.iter().map(|c| c.last_modified))
            .fold(self.customer.last_modified, DateTime::max)
    }

    /// True when any record of this customer changed after `instant`.
    pub fn changed_since(&self, instant: DateTime<Utc>) -> bool {
        self.last_modified() > instant
    }

    /// What the customer must still pay before `order` ships: its total less the
    /// deposits taken against it, while a prepayment order waits for approval or
    /// fulfilment (`spec/reminders.md`); `None` for orders on credit terms and for
    /// orders past that gate.
    pub fn balance_due(&self, order: &TransactionRecord) -> Option<Decimal> {
        let prepayment = order.terms == Some(catalog::TERM_CASH_IN_ADVANCE);
        if !prepayment || !matches!(order.status, 'A' | 'B' | 'D') {
            return None;
        }
        let deposited: Decimal = self
            .deposit_links
            .iter()
            .filter(|link| link.order_id == order.id)
            .map(|link| link.amount)
            .sum();
        Some((order.foreign_total - deposited).max(Decimal::ZERO))
    }

    /// Every transaction (invoices, payments, orders, deposits).
    pub fn transactions(&self) -> impl Iterator<Item = &TransactionRecord> {
        self.invoices
            .iter()
            .chain(&self.payments)
            .chain(&self.orders)
            .chain(&self.deposits)
    }

    /// Sum of `foreignamountunpaid` over open invoices (`balancesearch`).
    pub fn open_balance(&self) -> Decimal {
        self.open_invoices()
            .map(|t| t.foreign_amount_unpaid.unwrap_or_default())
            .sum()
    }

    /// The same over open invoices past their due date (`overduebalancesearch`).
    pub fn overdue_balance(&self) -> Decimal {
        self.open_invoices()
            .filter(|t| t.due_date.is_some_and(|due| due < self.view_date))
            .map(|t| t.foreign_amount_unpaid.unwrap_or_default())
            .sum()
    }

    /// Days the oldest overdue open invoice is past due (`daysoverduesearch`).
    pub fn days_overdue(&self) -> i64 {
        self.open_invoices()
            .filter_map(|t| t.due_date)
            .map(|due| (self.view_date - due).num_days())
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Total of approved orders not billed yet (`unbilledorderssearch`).
    pub fn unbilled_orders(&self) -> Decimal {
        self.orders
            .iter()
            .filter(|t| matches!(t.status, 'B' | 'D' | 'E' | 'F'))
            .map(|t| t.foreign_total)
            .sum()
    }

    /// NetSuite's calculated `oncredithold`: `ON`, or `AUTO` with a limit the open
    /// balance exceeds.
    pub fn on_credit_hold(&self) -> bool {
        match self.customer.credit_hold_override {
            CreditHold::On => true,
            CreditHold::Off => false,
            CreditHold::Auto => self
                .customer
                .credit_limit
                .is_some_and(|limit| self.open_balance() > limit),
        }
    }

    fn open_invoices(&self) -> impl Iterator<Item = &TransactionRecord> {
        self.invoices.iter().filter(|t| t.status == 'A')
    }

    /// The snapshot a correct extractor assembles from these records
    /// (`spec/scoring.md` §1); see the crate README for the mapping.
    pub fn expected_snapshot(&self) -> CustomerSnapshot {
        let record = &self.customer;
        let terms = record.terms.and_then(|id| {
            catalog::terms(record.date_created)
                .into_iter()
                .find(|term| term.id == id)
                .map(|term| Terms {
                    id: term.id.to_string(),
                    name: term.name,
                    days_until_net_due: term.days_until_net_due,
                    discount_percent: term.discount_percent.map(Money),
                    discount_days: term.days_until_expiry,
                })
        });
        let currency = catalog::currencies()
            .into_iter()
            .find(|c| c.id == record.currency)
            .map(|c| c.symbol);
        let customer = Customer {
            id: record.id.to_string(),
            entity_id: Some(record.entity_id.clone()),
            company_name: Some(record.company_name.clone()),
            email: record.email.clone(),
            currency,
            is_inactive: record.is_inactive,
            terms,
            credit_limit: record.credit_limit.map(Money),
            credit_hold: record.credit_hold_override,
            last_modified: Some(record.last_modified),
        };
        let invoices = self
            .invoices
            .iter()
            .filter_map(|t| {
                let status = invoice_status(t.status)?;
                let paid_date = (status == InvoiceStatus::Paid)
                    .then(|| {
                        self.applications
                            .iter()
                            .filter(|a| a.invoice_id == t.id)
                            .map(|a| a.applied_on)
                            .max()
                    })
                    .flatten();
                Some(Invoice {
                    id: t.id.to_string(),
                    tran_id: Some(t.tran_id.clone()),
                    tran_date: t.tran_date,
                    due_date: t.due_date,
                    total: Money(t.foreign_total),
                    amount_remaining: Money(t.foreign_amount_unpaid.unwrap_or_default()),
                    status,
                    paid_date,
                })
            })
            .collect();
        let orders = self
            .orders
            .iter()
            .map(|t| Order {
                id: t.id.to_string(),
                tran_id: Some(t.tran_id.clone()),
                tran_date: t.tran_date,
                total: Money(t.foreign_total),
                status: order_status_name(t.status).unwrap_or("unknown").to_owned(),
                balance_due: self.balance_due(t).map(Money),
            })
            .collect();
        let roles = catalog::contact_roles();
        let contacts = self
            .contacts
            .iter()
            .filter_map(|c| {
                let email = c.email.clone().filter(|e| !e.trim().is_empty())?;
                let role = c
                    .role
                    .and_then(|id| roles.iter().find(|r| r.id == id))
                    .map(|r| r.name.clone());
                Some(Contact {
                    id: c.id.to_string(),
                    email,
                    role,
                })
            })
            .collect();
        CustomerSnapshot {
            customer,
            invoices,
            orders,
            contacts,
        }
    }
}

/// The snapshot status of an invoice status letter; `None` for `D` (pending approval)
/// and `E` (rejected), which are not receivables and stay out of the snapshot.
pub fn invoice_status(letter: char) -> Option<InvoiceStatus> {
    match letter {
        'A' => Some(InvoiceStatus::Open),
        'B' => Some(InvoiceStatus::Paid),
        'V' => Some(InvoiceStatus::Voided),
        _ => None,
    }
}

/// The snapshot status name of a sales order status letter (`spec/reminders.md`).
/// `E` (Pending Billing/Partially Fulfilled) is `pending_billing`; no letter gives
/// `fulfilled`.
pub fn order_status_name(letter: char) -> Option<&'static str> {
    Some(match letter {
        'A' => "pending_approval",
        'B' => "pending_fulfillment",
        'C' => "cancelled",
        'D' => "partially_fulfilled",
        'E' | 'F' => "pending_billing",
        'G' => "billed",
        'H' => "closed",
        _ => return None,
    })
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    start_of_day(date) + TimeDelta::seconds(86_399)
}

/// An instant on `date` during business hours.
fn during(date: NaiveDate, rng: &mut Rng) -> DateTime<Utc> {
    start_of_day(date) + TimeDelta::seconds(8 * 3600 + rng.range(0, 10 * 3600 - 1))
}

fn cents(value: f64) -> Decimal {
    Decimal::new((value * 100.0).round().max(1.0) as i64, 2)
}

fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    ledgerlink_domain::shift_days(date, days)
}

#[derive(Debug, Clone)]
enum CustomerChange {
    CreditLimit(Option<Decimal>),
    Hold(CreditHold),
    Phone(String),
}

#[derive(Debug, Clone)]
enum InvoiceFate {
    Normal,
    Voided(DateTime<Utc>),
    PendingApproval,
    Rejected(DateTime<Utc>),
}

#[derive(Debug, Clone)]
struct Installment {
    payment_id: i64,
    date: NaiveDate,
    at: DateTime<Utc>,
    deposited_at: DateTime<Utc>,
    amount: Decimal,
}

#[derive(Debug, Clone)]
struct InvoicePlan {
    id: i64,
    tran_date: NaiveDate,
    due_date: NaiveDate,
    total: Decimal,
    created: DateTime<Utc>,
    fate: InvoiceFate,
    installments: Vec<Installment>,
}

#[derive(Debug, Clone)]
struct OrderPlan {
    id: i64,
    tran_date: NaiveDate,
    total: Decimal,
    steps: Vec<(DateTime<Utc>, char)>,
    deposits: Option<Vec<(DateTime<Utc>, Decimal)>>,
}

#[derive(Debug, Clone)]
struct CustomerPlan {
    profile: PayerProfile,
    base: CustomerRecord,
    changes: Vec<(DateTime<Utc>, CustomerChange)>,
    contacts: Vec<ContactRecord>,
    invoices: Vec<InvoicePlan>,
    orders: Vec<OrderPlan>,
}

const ADJECTIVES: [&str; 16] = [
    "Acme",
    "Blue",
    "Northern",
    "Summit",
    "Granite",
    "Pacific",
    "Golden",
    "Silver",
    "Prairie",
    "Harbor",
    "Evergreen",
    "Atlas",
    "Crescent",
    "Pioneer",
    "Redwood",
    "Keystone",
];
const NOUNS: [&str; 16] = [
    "Supply",
    "Industries",
    "Foods",
    "Logistics",
    "Tools",
    "Textiles",
    "Hardware",
    "Farms",
    "Electric",
    "Outfitters",
    "Packaging",
    "Labs",
    "Builders",
    "Trading",
    "Marine",
    "Medical",
];
const SUFFIXES: [&str; 5] = ["Inc.", "LLC", "Co.", "Ltd.", "Group"];
const FIRST_NAMES: [&str; 10] = [
    "Ana", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hugo", "Ines", "Jon",
];
const LAST_NAMES: [&str; 10] = [
    "Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
];

impl CustomerPlan {
    fn draw(config: &GeneratorConfig, index: u64) -> CustomerPlan {
        let mut rng = Rng::new(config.seed ^ mix(index.wrapping_add(0x5EED)));
        let id = Generator::customer_id(index);
        let history_start = config.as_of - Days::new(u64::from(config.history_days));
        let horizon = config.as_of + Days::new(u64::from(config.future_days));

        let profile = [
            PayerProfile::Punctual,
            PayerProfile::Late,
            PayerProfile::Erratic,
            PayerProfile::Declining,
            PayerProfile::Vip,
        ][rng.weighted(&[35, 20, 15, 18, 12])];

        // Most customers predate the window; some joined during it (shorter history).
        let created_date = if rng.chance(0.15) {
            add_days(history_start, rng.range(0, i64::from(config.history_days) - 1))
        } else {
            add_days(history_start, -rng.range(1, 1_000))
        };
        let date_created = during(created_date, &mut rng);

        let company_name = format!("{} {} {}", rng.pick(&ADJECTIVES), rng.pick(&NOUNS), rng.pick(&SUFFIXES));
        let domain: String = company_name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let domain = format!("{domain}{id}.example");
        let email = match rng.weighted(&[86, 8, 6]) {
            0 => Some(format!("ap@{domain}")),
            1 => None,
            _ => Some(
                [
                    format!("ap at {domain}"),
                    format!("ap@@{domain}"),
                    domain.clone(),
                    format!("accounts payable@{domain}"),
                ][rng.below(4) as usize]
                    .clone(),
            ),
        };
        let terms = [Some(2), Some(1), Some(3), Some(7), Some(4), Some(6), Some(5), None]
            [rng.weighted(&[35, 12, 12, 6, 10, 8, 5, 12])];
        let credit_limit = if profile == PayerProfile::Vip {
            Some(Decimal::from(*rng.pick(&[50_000, 75_000, 100_000, 250_000])))
        } else {
            match rng.weighted(&[20, 5, 75]) {
                0 => None,
                1 => Some(Decimal::ZERO),
                _ => Some(Decimal::from(
                    *rng.pick(&[1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]),
                )),
            }
        };
        let credit_hold_override = [CreditHold::Auto, CreditHold::On, CreditHold::Off][rng.weighted(&[80, 7, 13])];
        let currency = [1, 2, 3, 4][rng.weighted(&[80, 8, 8, 4])];
        let base = CustomerRecord {
            id,
            entity_id: format!("CUST-{id}"),
            company_name,
            email,
            phone: Some(format!("555-{:04}", rng.below(10_000))),
            terms,
            credit_limit,
            credit_hold_override,
            currency,
            is_inactive: rng.chance(0.03),
            subsidiary: 1,
            date_created,
            last_modified: date_created,
        };

        let mut changes = Vec::new();
        for _ in 0..rng.below(4) {
            let span = (horizon - created_date).num_days().max(2);
            let at = during(add_days(created_date, rng.range(1, span)), &mut rng);
            let change = match rng.below(3) {
                0 => CustomerChange::CreditLimit(Some(Decimal::from(*rng.pick(&[2_500, 5_000, 15_000, 60_000])))),
                1 => CustomerChange::Hold([CreditHold::Auto, CreditHold::On, CreditHold::Off][rng.below(3) as usize]),
                _ => CustomerChange::Phone(format!("555-{:04}", rng.below(10_000))),
            };
            changes.push((at, change));
        }
        changes.sort_by_key(|(at, _)| *at);

        let mut contacts = Vec::new();
        for k in 0..rng.below(4) as i64 {
            let first = (*rng.pick(&FIRST_NAMES)).to_owned();
            let last = (*rng.pick(&LAST_NAMES)).to_owned();
            let role = match (k, rng.below(3)) {
                (0, 0) => Some(ROLE_PRIMARY_CONTACT),
                (0, _) => Some(ROLE_ACCOUNTS_PAYABLE),
                (_, 0) => Some(ROLE_DECISION_MAKER),
                (_, 1) => Some(ROLE_ACCOUNTS_PAYABLE),
                _ => None,
            };
            let email = match rng.weighted(&[85, 11, 4]) {
                0 => Some(format!(
                    "{}.{}@{domain}",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase()
                )),
                1 => None,
                _ => Some(format!("{first} {last}")),
            };
            let contact_id = id * 10 + k;
            contacts.push(ContactRecord {
                id: contact_id,
                entity_id: format!("{first} {last}"),
                first_name: first,
                last_name: last,
                email,
                company: id,
                role,
                last_modified: date_created + TimeDelta::minutes(5 + k),
            });
        }

        let begin = created_date.max(history_start);
        let span_days = (horizon - begin).num_days().max(1);
        let scale = span_days as f64 / f64::from(config.history_days);
        let decline_from = add_days(config.as_of, -120);
        let keep = |date: NaiveDate, rng: &mut Rng| {
            profile != PayerProfile::Declining || date < decline_from || rng.chance(0.3)
        };
        let count = |mean: f64, rng: &mut Rng| ((mean * scale * (0.5 + rng.unit())).round() as u64).min(MAX_DOCUMENTS);
        let term_days = terms.and_then(catalog::term_days).unwrap_or(0);

        let mut invoice_dates: Vec<NaiveDate> = (0..count(config.invoices_per_customer, &mut rng))
            .map(|_| add_days(begin, rng.range(0, span_days)))
            .collect();
        invoice_dates.sort();
        let invoice_dates: Vec<NaiveDate> = invoice_dates.into_iter().filter(|d| keep(*d, &mut rng)).collect();
        let mut next_payment_id = (id) * ID_BLOCK + PAYMENT_ID_OFFSET;
        let mut invoices = Vec::with_capacity(invoice_dates.len());
        for (k, tran_date) in invoice_dates.into_iter().enumerate() {
            let invoice_id = id * ID_BLOCK + 1 + k as i64;
            let total = amount(profile, &mut rng);
            let due_date = add_days(tran_date, term_days);
            let created = during(tran_date, &mut rng);
            let fate = match rng.weighted(&[960, 25, 10, 5]) {
                0 => InvoiceFate::Normal,
                1 => InvoiceFate::Voided(created + TimeDelta::days(rng.range(1, 10))),
                2 => InvoiceFate::PendingApproval,
                _ => InvoiceFate::Rejected(created + TimeDelta::days(rng.range(1, 5))),
            };
            let mut installments = Vec::new();
            if matches!(fate, InvoiceFate::Normal) {
                plan_payments(
                    &mut installments,
                    &mut next_payment_id,
                    PaymentContext {
                        profile,
                        tran_date,
                        due_date,
                        total,
                        progress: (tran_date - history_start).num_days() as f64 / f64::from(config.history_days),
                    },
                    &mut rng,
                );
            }
            invoices.push(InvoicePlan {
                id: invoice_id,
                tran_date,
                due_date,
                total,
                created,
                fate,
                installments,
            });
        }

        let mut order_dates: Vec<NaiveDate> = (0..count(config.orders_per_customer, &mut rng))
            .map(|_| add_days(begin, rng.range(0, span_days)))
            .collect();
        order_dates.sort();
        let order_dates: Vec<NaiveDate> = order_dates.into_iter().filter(|d| keep(*d, &mut rng)).collect();
        let orders = order_dates
            .into_iter()
            .enumerate()
            .map(|(k, tran_date)| plan_order(id * ID_BLOCK + ORDER_ID_OFFSET + k as i64, tran_date, profile, &mut rng))
            .collect();

        CustomerPlan {
            profile,
            base,
            changes,
            contacts,
            invoices,
            orders,
        }
    }

    fn view(&self, cutoff: DateTime<Utc>) -> CustomerRecords {
        let view_date = cutoff.date_naive();
        let mut customer = self.base.clone();
        for (at, change) in self.changes.iter().filter(|(at, _)| *at <= cutoff) {
            match change {
                CustomerChange::CreditLimit(limit) => customer.credit_limit = *limit,
                CustomerChange::Hold(hold) => customer.credit_hold_override = *hold,
                CustomerChange::Phone(phone) => customer.phone = Some(phone.clone()),
            }
            customer.last_modified = *at;
        }

        let mut invoices = Vec::new();
        let mut payments = Vec::new();
        let mut applications = Vec::new();
        for plan in self.invoices.iter().filter(|p| p.created <= cutoff) {
            let mut record = TransactionRecord {
                id: plan.id,
                tran_id: format!("INV-{}", plan.id),
                kind: TransactionType::Invoice,
                status: 'A',
                tran_date: plan.tran_date,
                due_date: Some(plan.due_date),
                close_date: None,
                entity: customer.id,
                currency: customer.currency,
                terms: customer.terms,
                foreign_total: plan.total,
                foreign_amount_paid: Some(Decimal::ZERO),
                foreign_amount_unpaid: Some(plan.total),
                voided: false,
                memo: None,
                created: plan.created,
                last_modified: plan.created,
            };
            match plan.fate {
                InvoiceFate::Voided(at) if at <= cutoff => {
                    // NetSuite zeroes a voided transaction's amounts.
                    record.status = 'V';
                    record.voided = true;
                    record.memo = Some("VOID".to_owned());
                    record.foreign_total = Decimal::ZERO;
                    record.foreign_amount_unpaid = Some(Decimal::ZERO);
                    record.last_modified = at;
                }
                InvoiceFate::PendingApproval => record.status = 'D',
                InvoiceFate::Rejected(at) => {
                    record.status = 'D';
                    if at <= cutoff {
                        record.status = 'E';
                        record.last_modified = at;
                    }
                }
                InvoiceFate::Normal | InvoiceFate::Voided(_) => {}
            }
            let mut paid = Decimal::ZERO;
            for installment in plan.installments.iter().filter(|i| i.at <= cutoff) {
                paid += installment.amount;
                record.last_modified = record.last_modified.max(installment.at);
                let deposited = installment.deposited_at <= cutoff;
                payments.push(TransactionRecord {
                    id: installment.payment_id,
                    tran_id: format!("PYMT-{}", installment.payment_id),
                    kind: TransactionType::Payment,
                    status: if deposited { 'C' } else { 'B' },
                    tran_date: installment.date,
                    due_date: None,
                    close_date: None,
                    entity: customer.id,
                    currency: customer.currency,
                    terms: None,
                    foreign_total: installment.amount,
                    foreign_amount_paid: None,
                    foreign_amount_unpaid: None,
                    voided: false,
                    memo: None,
                    created: installment.at,
                    last_modified: if deposited {
                        installment.deposited_at
                    } else {
                        installment.at
                    },
                });
                applications.push(PaymentApplication {
                    invoice_id: plan.id,
                    payment_id: installment.payment_id,
                    amount: installment.amount,
                    applied_on: installment.date,
                    last_modified: installment.at,
                });
                if paid >= plan.total {
                    record.status = 'B';
                    record.close_date = Some(installment.date);
                }
            }
            if !record.voided {
                record.foreign_amount_paid = Some(paid);
                record.foreign_amount_unpaid = Some(plan.total - paid);
            }
            invoices.push(record);
        }
        payments.sort_by_key(|p| p.id);
        applications.sort_by_key(|a| (a.invoice_id, a.payment_id));

        let mut orders = Vec::new();
        let mut deposits = Vec::new();
        let mut deposit_links = Vec::new();
        for plan in &self.orders {
            let (created, _) = plan.steps[0];
            if created > cutoff {
                continue;
            }
            let (last_modified, status) = plan
                .steps
                .iter()
                .rev()
                .find(|(at, _)| *at <= cutoff)
                .copied()
                .unwrap_or(plan.steps[0]);
            let prepayment = plan.deposits.is_some();
            let taken = plan.deposits.iter().flatten().filter(|(at, _)| *at <= cutoff);
            for (k, &(at, amount)) in taken.enumerate() {
                let id = plan.id + DEPOSIT_ID_OFFSET + k as i64;
                // Not Deposited until the money reaches the bank, like a payment.
                let banked = at + TimeDelta::days(2);
                let status = if banked <= cutoff { 'B' } else { 'A' };
                deposits.push(TransactionRecord {
                    id,
                    tran_id: format!("DEP-{id}"),
                    kind: TransactionType::CustomerDeposit,
                    status,
                    tran_date: at.date_naive(),
                    due_date: None,
                    close_date: None,
                    entity: customer.id,
                    currency: customer.currency,
                    terms: None,
                    foreign_total: amount,
                    foreign_amount_paid: None,
                    foreign_amount_unpaid: None,
                    voided: false,
                    memo: None,
                    created: at,
                    last_modified: if status == 'B' { banked } else { at },
                });
                deposit_links.push(DepositLink {
                    order_id: plan.id,
                    deposit_id: id,
                    amount,
                    last_modified: at,
                });
            }
            orders.push(TransactionRecord {
                id: plan.id,
                tran_id: format!("SO-{}", plan.id),
                kind: TransactionType::SalesOrder,
                status,
                tran_date: plan.tran_date,
                due_date: None,
                close_date: None,
                entity: customer.id,
                currency: customer.currency,
                terms: if prepayment {
                    Some(catalog::TERM_CASH_IN_ADVANCE)
                } else {
                    customer.terms
                },
                foreign_total: plan.total,
                foreign_amount_paid: None,
                foreign_amount_unpaid: None,
                voided: false,
                memo: None,
                created,
                last_modified,
            });
        }
        deposits.sort_by_key(|d| d.id);

        CustomerRecords {
            profile: self.profile,
            customer,
            invoices,
            payments,
            orders,
            deposits,
            applications,
            deposit_links,
            contacts: self.contacts.clone(),
            view_date,
        }
    }
}

fn amount(profile: PayerProfile, rng: &mut Rng) -> Decimal {
    let (low, high) = match profile {
        PayerProfile::Vip => (4_000.0_f64, 60_000.0_f64),
        _ => (120.0, 9_000.0),
    };
    // Log-uniform: many small invoices, a few large ones.
    cents((low.ln() + rng.unit() * (high.ln() - low.ln())).exp())
}

struct PaymentContext {
    profile: PayerProfile,
    tran_date: NaiveDate,
    due_date: NaiveDate,
    total: Decimal,
    /// Position of the invoice in the history window (0 at its start, 1 at `as_of`).
    progress: f64,
}

fn plan_payments(out: &mut Vec<Installment>, next_id: &mut i64, context: PaymentContext, rng: &mut Rng) {
    let PaymentContext {
        profile,
        tran_date,
        due_date,
        total,
        progress,
    } = context;
    let never_paid = match profile {
        PayerProfile::Late => 0.08,
        PayerProfile::Erratic => 0.12,
        PayerProfile::Declining => 0.02 + 0.08 * progress.clamp(0.0, 1.0),
        _ => 0.01,
    };
    if rng.chance(never_paid) {
        return;
    }
    let days_late = match profile {
        PayerProfile::Punctual => rng.range(-10, 1),
        PayerProfile::Late => rng.range(3, 45),
        PayerProfile::Erratic => rng.range(-15, 100),
        PayerProfile::Declining => (-5.0 + 45.0 * progress.clamp(0.0, 1.2)) as i64 + rng.range(0, 10),
        PayerProfile::Vip => rng.range(-5, 2),
    };
    let pay_date = add_days(due_date, days_late).max(tran_date);
    let mut push = |date: NaiveDate, amount: Decimal, rng: &mut Rng| {
        let at = during(date, rng);
        out.push(Installment {
            payment_id: *next_id,
            date,
            at,
            deposited_at: at + TimeDelta::days(rng.range(1, 4)),
            amount,
        });
        *next_id += 1;
    };
    if rng.chance(0.2) {
        let share = 0.3 + 0.4 * rng.unit();
        let first = (total * Decimal::try_from(share).unwrap_or(Decimal::ONE)).round_dp(2);
        let first = first.clamp(Decimal::new(1, 2), total - Decimal::new(1, 2));
        let first_date = add_days(pay_date, -rng.range(5, 30)).max(tran_date);
        push(first_date, first, rng);
        // A few partial payments are never completed.
        if !rng.chance(0.1) {
            push(pay_date, total - first, rng);
        }
    } else {
        push(pay_date, total, rng);
    }
}

struct Steps {
    at: DateTime<Utc>,
    steps: Vec<(DateTime<Utc>, char)>,
}

impl Steps {
    fn then(&mut self, letter: char, min_days: i64, max_days: i64, rng: &mut Rng) {
        self.at += TimeDelta::days(rng.range(min_days, max_days)) + TimeDelta::minutes(rng.range(1, 600));
        self.steps.push((self.at, letter));
    }
}

fn plan_order(id: i64, tran_date: NaiveDate, profile: PayerProfile, rng: &mut Rng) -> OrderPlan {
    let total = amount(profile, rng);
    let created = during(tran_date, rng);
    let mut path = Steps {
        at: created,
        steps: vec![(created, 'A')],
    };
    let prepayment = rng.chance(0.12);
    let mut deposits = None;
    match rng.weighted(&[80, 6, 5, 3, 3, 3]) {
        0 => {
            path.then('B', 0, 2, rng);
            if prepayment {
                // The goods wait for the deposit.
                let deposit_at = path.at + TimeDelta::days(rng.range(1, 20));
                let amount = if rng.chance(0.25) {
                    (total / Decimal::TWO).round_dp(2)
                } else {
                    total
                };
                deposits = Some(vec![(deposit_at, amount)]);
                if amount < total {
                    // Half paid: held before fulfilment until the seller gives up on it.
                    path.then('C', 20, 60, rng);
                    return OrderPlan {
                        id,
                        tran_date,
                        total,
                        steps: path.steps,
                        deposits,
                    };
                }
                path.at = deposit_at;
            }
            if rng.chance(0.5) {
                path.then('D', 1, 6, rng);
                if rng.chance(0.4) {
                    path.then('E', 0, 3, rng);
                }
            }
            path.then('F', 1, 8, rng);
            path.then('G', 0, 5, rng);
        }
        1 => path.then('C', 1, 5, rng),
        2 => {
            path.then('B', 0, 2, rng);
            path.then('H', 5, 40, rng);
        }
        3 => {}
        4 => path.then('B', 0, 2, rng),
        _ => {
            path.then('B', 0, 2, rng);
            path.then('D', 1, 6, rng);
        }
    }
    if prepayment && deposits.is_none() {
        deposits = Some(Vec::new());
        // An unpaid prepayment order is not kept open for ever: cancelled before any
        // shipment, closed after a partial one.
        match path.steps.last().map(|(_, letter)| *letter) {
            Some('A' | 'B') => path.then('C', 20, 60, rng),
            Some('D') => path.then('H', 20, 60, rng),
            _ => {}
        }
    }
    OrderPlan {
        id,
        tran_date,
        total,
        steps: path.steps,
        deposits,
    }
}
