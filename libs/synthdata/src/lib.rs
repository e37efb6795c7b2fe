//! Seeded synthetic receivables histories for tests, demos and benchmarks.
//!
//! [`Generator`] draws NetSuite-level records (customers, terms, invoices and payments
//! as transactions with status letters, payment applications, sales orders, contacts,
//! `lastmodifieddate` values) per customer, lazily, each customer from its own seed, so
//! a million customers stream in flat memory. [`CustomerRecords::expected_snapshot`]
//! gives the `CustomerSnapshot` a correct extractor must assemble from those records,
//! and [`Generator::advanced`] moves the view forward in time.
//!
//! ```
//! use ledgerlink_synthdata::{Generator, GeneratorConfig};
//! let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
//! let generator = Generator::new(GeneratorConfig::new(42, 100, as_of)).unwrap();
//! let first = generator.customer(0);
//! let snapshot = first.expected_snapshot();
//! assert_eq!(snapshot.customer.id, "1");
//! let later = generator.advanced(7).customer(0);
//! assert!(later.invoices.len() >= first.invoices.len());
//! ```

mod catalog;
mod generator;
mod records;
mod rng;

pub use catalog::{
    ROLE_ACCOUNTS_PAYABLE, ROLE_DECISION_MAKER, ROLE_PRIMARY_CONTACT, TERM_CASH_IN_ADVANCE, contact_roles, currencies,
    terms,
};
pub use generator::{
    ConfigError, CustomerRecords, Generator, GeneratorConfig, ID_BLOCK, PayerProfile, invoice_status, order_status_name,
};
pub use records::{
    ContactRecord, ContactRoleRecord, CurrencyRecord, CustomerRecord, DepositLink, PaymentApplication, TermRecord,
    TransactionRecord, TransactionType,
};
