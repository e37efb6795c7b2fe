//! NetSuite-level records, named after the SuiteQL tables and columns of the reference
//! (`customer`, `term`, `currency`, `transaction`, `NextTransactionLineLink`, `contact`).

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::CreditHold;
use rust_decimal::Decimal;

/// A row of the `term` table.
#[derive(Debug, Clone, PartialEq)]
pub struct TermRecord {
    /// `id`.
    pub id: i64,
    /// `name`, e.g. `Net 30`.
    pub name: String,
    /// `daysuntilnetdue`.
    pub days_until_net_due: Option<i64>,
    /// `discountpercent`.
    pub discount_percent: Option<Decimal>,
    /// `daysuntilexpiry` (the discount window in days).
    pub days_until_expiry: Option<i64>,
    /// `lastmodifieddate`.
    pub last_modified: DateTime<Utc>,
}

/// A row of the `currency` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyRecord {
    /// `id`.
    pub id: i64,
    /// `name`, e.g. `US Dollar`.
    pub name: String,
    /// `symbol`, the ISO code, e.g. `USD`.
    pub symbol: String,
}

/// A row of the `contactrole` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRoleRecord {
    /// `id`.
    pub id: i64,
    /// `name`, e.g. `Accounts Payable`.
    pub name: String,
}

/// A row of the `customer` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    /// `id`.
    pub id: i64,
    /// `entityid`.
    pub entity_id: String,
    /// `companyname`.
    pub company_name: String,
    /// `email`, as typed into NetSuite (may be malformed).
    pub email: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `terms` (→ `term.id`).
    pub terms: Option<i64>,
    /// `creditlimit`.
    pub credit_limit: Option<Decimal>,
    /// `creditholdoverride`.
    pub credit_hold_override: CreditHold,
    /// `currency` (→ `currency.id`).
    pub currency: i64,
    /// `isinactive`.
    pub is_inactive: bool,
    /// `subsidiary`.
    pub subsidiary: i64,
    /// `datecreated`.
    pub date_created: DateTime<Utc>,
    /// `lastmodifieddate`.
    pub last_modified: DateTime<Utc>,
}

/// The transaction types the generator produces (`transaction.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// `CustInvc`.
    Invoice,
    /// `CustPymt`.
    Payment,
    /// `SalesOrd`.
    SalesOrder,
    /// `CustDep`: a deposit the customer pays against a sales order before it ships.
    CustomerDeposit,
}

impl TransactionType {
    /// Every type the generator produces.
    pub const ALL: [TransactionType; 4] = [
        TransactionType::Invoice,
        TransactionType::Payment,
        TransactionType::SalesOrder,
        TransactionType::CustomerDeposit,
    ];

    /// The type of a `type` code, if the generator produces it.
    pub fn from_code(code: &str) -> Option<TransactionType> {
        TransactionType::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The `type` code.
    pub fn code(self) -> &'static str {
        match self {
            TransactionType::Invoice => "CustInvc",
            TransactionType::Payment => "CustPymt",
            TransactionType::SalesOrder => "SalesOrd",
            TransactionType::CustomerDeposit => "CustDep",
        }
    }

    /// The `recordtype` value.
    pub fn record_type(self) -> &'static str {
        match self {
            TransactionType::Invoice => "invoice",
            TransactionType::Payment => "customerpayment",
            TransactionType::SalesOrder => "salesorder",
            TransactionType::CustomerDeposit => "customerdeposit",
        }
    }

    /// Display text of a status letter, as `BUILTIN.DF(status)` shows it.
    pub fn status_text(self, letter: char) -> Option<&'static str> {
        let text = match (self, letter) {
            (TransactionType::Invoice, 'A') => "Invoice : Open",
            (TransactionType::Invoice, 'B') => "Invoice : Paid In Full",
            (TransactionType::Invoice, 'D') => "Invoice : Pending Approval",
            (TransactionType::Invoice, 'E') => "Invoice : Rejected",
            (TransactionType::Invoice, 'V') => "Invoice : Voided",
            (TransactionType::Payment, 'A') => "Payment : Unapproved Payment",
            (TransactionType::Payment, 'B') => "Payment : Not Deposited",
            (TransactionType::Payment, 'C') => "Payment : Deposited",
            (TransactionType::CustomerDeposit, 'A') => "Customer Deposit : Not Deposited",
            (TransactionType::CustomerDeposit, 'B') => "Customer Deposit : Deposited",
            (TransactionType::CustomerDeposit, 'C') => "Customer Deposit : Fully Applied",
            (TransactionType::SalesOrder, 'A') => "Sales Order : Pending Approval",
            (TransactionType::SalesOrder, 'B') => "Sales Order : Pending Fulfillment",
            (TransactionType::SalesOrder, 'C') => "Sales Order : Cancelled",
            (TransactionType::SalesOrder, 'D') => "Sales Order : Partially Fulfilled",
            (TransactionType::SalesOrder, 'E') => "Sales Order : Pending Billing/Partially Fulfilled",
            (TransactionType::SalesOrder, 'F') => "Sales Order : Pending Billing",
            (TransactionType::SalesOrder, 'G') => "Sales Order : Billed",
            (TransactionType::SalesOrder, 'H') => "Sales Order : Closed",
            _ => return None,
        };
        Some(text)
    }
}

/// A row of the `transaction` table (invoice, payment or sales order).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionRecord {
    /// `id` (unique across all types).
    pub id: i64,
    /// `tranid`, the document number.
    pub tran_id: String,
    /// `type`.
    pub kind: TransactionType,
    /// `status`, the single letter.
    pub status: char,
    /// `trandate`.
    pub tran_date: NaiveDate,
    /// `duedate` (invoices).
    pub due_date: Option<NaiveDate>,
    /// `closedate` (invoices paid in full).
    pub close_date: Option<NaiveDate>,
    /// `entity` (→ `customer.id`).
    pub entity: i64,
    /// `currency` (→ `currency.id`).
    pub currency: i64,
    /// `terms` (→ `term.id`).
    pub terms: Option<i64>,
    /// `foreigntotal`.
    pub foreign_total: Decimal,
    /// `foreignamountpaid` (invoices).
    pub foreign_amount_paid: Option<Decimal>,
    /// `foreignamountunpaid` (invoices).
    pub foreign_amount_unpaid: Option<Decimal>,
    /// `voided`.
    pub voided: bool,
    /// `memo`.
    pub memo: Option<String>,
    /// `createddate`.
    pub created: DateTime<Utc>,
    /// `lastmodifieddate`.
    pub last_modified: DateTime<Utc>,
}

/// A row of `NextTransactionLineLink` linking a sales order to a customer deposit
/// taken against it.
#[derive(Debug, Clone, PartialEq)]
pub struct DepositLink {
    /// `previousdoc`: the sales order.
    pub order_id: i64,
    /// `nextdoc`: the customer deposit.
    pub deposit_id: i64,
    /// `foreignamount`: the amount deposited.
    pub amount: Decimal,
    /// `lastmodifieddate` of the link (when the deposit was taken).
    pub last_modified: DateTime<Utc>,
}

/// A row of `NextTransactionLineLink`: a payment applied to an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentApplication {
    /// `previousdoc`: the invoice.
    pub invoice_id: i64,
    /// `nextdoc`: the payment.
    pub payment_id: i64,
    /// `foreignamount`: the amount applied.
    pub amount: Decimal,
    /// The payment's `trandate`, the date of the application.
    pub applied_on: NaiveDate,
    /// `lastmodifieddate` of the link (when it was applied).
    pub last_modified: DateTime<Utc>,
}

/// A row of the `contact` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRecord {
    /// `id`.
    pub id: i64,
    /// `entityid`.
    pub entity_id: String,
    /// `firstname`.
    pub first_name: String,
    /// `lastname`.
    pub last_name: String,
    /// `email`.
    pub email: Option<String>,
    /// `company` (→ `customer.id`).
    pub company: i64,
    /// `contactrole` (→ `contactrole.id`).
    pub role: Option<i64>,
    /// `lastmodifieddate`.
    pub last_modified: DateTime<Utc>,
}
