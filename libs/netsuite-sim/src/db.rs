//! The simulated account's data: an embedded SQLite database with NetSuite's SuiteQL
//! table and column names, loaded from a synthetic data set.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ledgerlink_domain::CreditHold;
use ledgerlink_synthdata::{CustomerRecords, Generator, TransactionRecord};
use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::dates::{store, store_date};

/// Declared type of columns holding dates; the schema map uses it to know which
/// columns take part in date arithmetic.
const DATE_TYPE: &str = "DATETIME";

const SCHEMA: &str = r#"
CREATE TABLE customer (
  id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, altname TEXT, isperson TEXT, email TEXT, phone TEXT,
  terms INTEGER, creditlimit NUMERIC, creditholdoverride TEXT, oncredithold TEXT, balancesearch NUMERIC,
  overduebalancesearch NUMERIC, daysoverduesearch INTEGER, unbilledorderssearch NUMERIC,
  consolbalancesearch NUMERIC, consoloverduebalancesearch NUMERIC, consoldaysoverduesearch INTEGER,
  consolunbilledorderssearch NUMERIC, currency INTEGER, datecreated DATETIME, lastmodifieddate DATETIME,
  isinactive TEXT, parent INTEGER, toplevelparent INTEGER, subsidiary INTEGER, receivablesaccount INTEGER,
  salesrep INTEGER, category INTEGER, entitystatus INTEGER, firstsaledate DATETIME, lastsaledate DATETIME,
  firstorderdate DATETIME, lastorderdate DATETIME, externalid TEXT);
CREATE TABLE term (
  id INTEGER PRIMARY KEY, name TEXT, daysuntilnetdue INTEGER, discountpercent NUMERIC, daysuntilexpiry INTEGER,
  datedriven TEXT, dayofmonthnetdue INTEGER, duenextmonthifwithindays INTEGER, daydiscountexpires INTEGER,
  discountpercentdatedriven NUMERIC, installment TEXT, preferred TEXT, isinactive TEXT, externalid TEXT,
  lastmodifieddate DATETIME);
CREATE TABLE currency (
  id INTEGER PRIMARY KEY, name TEXT, symbol TEXT, isbasecurrency TEXT, isinactive TEXT, exchangerate NUMERIC,
  lastmodifieddate DATETIME);
CREATE TABLE contactrole (id INTEGER PRIMARY KEY, name TEXT, isinactive TEXT);
CREATE TABLE contact (
  id INTEGER PRIMARY KEY, entityid TEXT, firstname TEXT, lastname TEXT, email TEXT, phone TEXT,
  company INTEGER, contactrole INTEGER, isinactive TEXT, datecreated DATETIME, lastmodifieddate DATETIME);
CREATE TABLE "transaction" (
  id INTEGER PRIMARY KEY, tranid TEXT, transactionnumber TEXT, type TEXT, recordtype TEXT, status TEXT,
  trandate DATETIME, duedate DATETIME, closedate DATETIME, entity INTEGER, currency INTEGER,
  exchangerate NUMERIC, foreigntotal NUMERIC, foreignamountpaid NUMERIC, foreignamountunpaid NUMERIC,
  foreignpaymentamountused NUMERIC, foreignpaymentamountunused NUMERIC, daysoverduesearch INTEGER,
  daysopen INTEGER, terms INTEGER, postingperiod INTEGER, posting TEXT, voided TEXT, memo TEXT,
  otherrefnum TEXT, createddate DATETIME, lastmodifieddate DATETIME);
CREATE TABLE transactionline (
  id INTEGER, "transaction" INTEGER, linesequencenumber INTEGER, mainline TEXT, subsidiary INTEGER,
  entity INTEGER, foreignamount NUMERIC, netamount NUMERIC, memo TEXT, createdfrom INTEGER,
  PRIMARY KEY ("transaction", id));
CREATE TABLE nexttransactionlinelink (
  previousdoc INTEGER, previousline INTEGER, previoustype TEXT, nextdoc INTEGER, nextline INTEGER,
  nexttype TEXT, linktype TEXT, foreignamount NUMERIC, lastmodifieddate DATETIME);
CREATE VIEW previoustransactionlinelink AS SELECT previousdoc, previousline, previoustype, nextdoc, nextline,
  nexttype, linktype, foreignamount, lastmodifieddate FROM nexttransactionlinelink;
CREATE VIEW nexttransactionlink AS SELECT previousdoc, nextdoc, linktype, SUM(foreignamount) AS foreignamount
  FROM nexttransactionlinelink GROUP BY previousdoc, nextdoc, linktype;
CREATE VIEW previoustransactionlink AS SELECT previousdoc, nextdoc, linktype, foreignamount FROM nexttransactionlink;
CREATE TABLE deletedrecord (
  recordid INTEGER, recordtypeid INTEGER, type TEXT, name TEXT, scriptid TEXT, deleteddate DATETIME,
  deletedby INTEGER, context TEXT, iscustomrecord TEXT, iscustomtransaction TEXT, iscustomlist TEXT);
CREATE TABLE dual (dummy TEXT);
INSERT INTO dual VALUES ('X');
"#;

/// What the query layer knows about the schema: tables, their columns, date columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    pub(crate) tables: HashMap<String, HashSet<String>>,
    pub(crate) date_columns: HashSet<(String, String)>,
}

impl Schema {
    pub(crate) fn read(connection: &Connection) -> rusqlite::Result<Schema> {
        let mut schema = Schema::default();
        let names: Vec<String> = connection
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for table in names {
            let mut columns = HashSet::new();
            let mut statement = connection.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let name: String = row.get(1)?;
                let declared: String = row.get(2)?;
                if declared.eq_ignore_ascii_case(DATE_TYPE) {
                    schema
                        .date_columns
                        .insert((table.to_ascii_lowercase(), name.to_ascii_lowercase()));
                }
                columns.insert(name.to_ascii_lowercase());
            }
            schema.tables.insert(table.to_ascii_lowercase(), columns);
        }
        Ok(schema)
    }
}

// Built after the bulk load: inserting into indexed tables is several times slower.
const INDEXES: &str = r#"
CREATE INDEX customer_lastmodified ON customer(lastmodifieddate);
CREATE INDEX contact_company ON contact(company);
CREATE INDEX transaction_entity ON "transaction"(entity);
CREATE INDEX transaction_type_id ON "transaction"(type, id);
CREATE INDEX transaction_lastmodified ON "transaction"(lastmodifieddate);
CREATE INDEX link_previous ON nexttransactionlinelink(previousdoc);
CREATE INDEX link_next ON nexttransactionlinelink(nextdoc);
"#;

/// Creates the indexes; run once the bulk load is done.
pub(crate) fn create_indexes(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(INDEXES)
}

/// Creates the schema in a fresh connection.
pub(crate) fn create_schema(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    connection.execute_batch(SCHEMA)
}

fn money(value: Decimal) -> f64 {
    value.to_f64().unwrap_or_default()
}

fn flag(value: bool) -> &'static str {
    if value { "T" } else { "F" }
}

fn hold_text(hold: CreditHold) -> &'static str {
    match hold {
        CreditHold::On => "ON",
        CreditHold::Off => "OFF",
        CreditHold::Auto => "AUTO",
    }
}

/// Loads the catalog tables and every customer of `generator` in one transaction.
/// Returns the number of customers loaded.
pub(crate) fn load(connection: &mut Connection, generator: &Generator, zone: Tz) -> rusqlite::Result<u64> {
    let local = |instant: DateTime<Utc>| store(instant.with_timezone(&zone).naive_local());
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare(
            "INSERT OR REPLACE INTO term (id, name, daysuntilnetdue, discountpercent, daysuntilexpiry, datedriven, \
             installment, preferred, isinactive, lastmodifieddate) VALUES (?, ?, ?, ?, ?, 'F', 'F', 'F', 'F', ?)",
        )?;
        for term in generator.terms() {
            insert.execute(params![
                term.id,
                term.name,
                term.days_until_net_due,
                term.discount_percent.map(money),
                term.days_until_expiry,
                local(term.last_modified)
            ])?;
        }
        let mut insert = transaction.prepare(
            "INSERT OR REPLACE INTO currency (id, name, symbol, isbasecurrency, isinactive, exchangerate) \
             VALUES (?, ?, ?, ?, 'F', 1)",
        )?;
        for currency in generator.currencies() {
            insert.execute(params![
                currency.id,
                currency.name,
                currency.symbol,
                flag(currency.id == 1)
            ])?;
        }
        let mut insert =
            transaction.prepare("INSERT OR REPLACE INTO contactrole (id, name, isinactive) VALUES (?, ?, 'F')")?;
        for role in generator.contact_roles() {
            insert.execute(params![role.id, role.name])?;
        }
    }
    let mut loaded = 0;
    {
        let mut writer = Writer::new(&transaction, zone)?;
        for records in generator.customers() {
            writer.customer(&records)?;
            loaded += 1;
        }
    }
    transaction.commit()?;
    Ok(loaded)
}

/// Replaces one customer's records (used when time advances).
pub(crate) fn replace_customer(
    connection: &mut Connection,
    records: &CustomerRecords,
    zone: Tz,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let id = records.customer.id;
    transaction.execute(
        "DELETE FROM nexttransactionlinelink WHERE previousdoc IN (SELECT id FROM \"transaction\" WHERE entity = ?1) \
         OR nextdoc IN (SELECT id FROM \"transaction\" WHERE entity = ?1)",
        [id],
    )?;
    transaction.execute(
        "DELETE FROM transactionline WHERE \"transaction\" IN (SELECT id FROM \"transaction\" WHERE entity = ?1)",
        [id],
    )?;
    transaction.execute("DELETE FROM \"transaction\" WHERE entity = ?1", [id])?;
    transaction.execute("DELETE FROM contact WHERE company = ?1", [id])?;
    transaction.execute("DELETE FROM customer WHERE id = ?1", [id])?;
    {
        let mut writer = Writer::new(&transaction, zone)?;
        writer.customer(records)?;
    }
    transaction.commit()
}

struct Writer<'c> {
    zone: Tz,
    customer: rusqlite::Statement<'c>,
    contact: rusqlite::Statement<'c>,
    transaction: rusqlite::Statement<'c>,
    line: rusqlite::Statement<'c>,
    link: rusqlite::Statement<'c>,
}

impl<'c> Writer<'c> {
    fn new(connection: &'c Connection, zone: Tz) -> rusqlite::Result<Self> {
        Ok(Writer {
            zone,
            customer: connection.prepare(
                "INSERT INTO customer (id, entityid, companyname, altname, isperson, email, phone, terms, creditlimit, \
                 creditholdoverride, oncredithold, balancesearch, overduebalancesearch, daysoverduesearch, \
                 unbilledorderssearch, consolbalancesearch, consoloverduebalancesearch, consoldaysoverduesearch, \
                 consolunbilledorderssearch, currency, datecreated, lastmodifieddate, isinactive, subsidiary, \
                 receivablesaccount, entitystatus) \
                 VALUES (?1, ?2, ?3, ?3, 'F', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?10, ?11, ?12, ?13, ?14, \
                 ?15, ?16, ?17, ?18, 119, 13)",
            )?,
            contact: connection.prepare(
                "INSERT INTO contact (id, entityid, firstname, lastname, email, company, contactrole, isinactive, \
                 datecreated, lastmodifieddate) VALUES (?, ?, ?, ?, ?, ?, ?, 'F', ?, ?)",
            )?,
            transaction: connection.prepare(
                "INSERT INTO \"transaction\" (id, tranid, transactionnumber, type, recordtype, status, trandate, \
                 duedate, closedate, entity, currency, exchangerate, foreigntotal, foreignamountpaid, \
                 foreignamountunpaid, foreignpaymentamountused, foreignpaymentamountunused, daysoverduesearch, \
                 daysopen, terms, posting, voided, memo, createddate, lastmodifieddate) \
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
                 ?19, ?20, ?21, ?22, ?23)",
            )?,
            line: connection.prepare(
                "INSERT INTO transactionline (id, \"transaction\", linesequencenumber, mainline, subsidiary, entity, \
                 foreignamount, netamount, createdfrom) VALUES (0, ?1, 0, 'T', 1, ?2, ?3, ?3, ?4)",
            )?,
            link: connection.prepare(
                "INSERT INTO nexttransactionlinelink (previousdoc, previousline, previoustype, nextdoc, nextline, \
                 nexttype, linktype, foreignamount, lastmodifieddate) VALUES (?, 0, ?, ?, 1, ?, ?, ?, ?)",
            )?,
        })
    }

    fn local(&self, instant: DateTime<Utc>) -> String {
        store(instant.with_timezone(&self.zone).naive_local())
    }

    fn customer(&mut self, records: &CustomerRecords) -> rusqlite::Result<()> {
        let c = &records.customer;
        let open_balance = records.open_balance();
        self.customer.execute(params![
            c.id,
            c.entity_id,
            c.company_name,
            c.email,
            c.phone,
            c.terms,
            c.credit_limit.map(money),
            hold_text(c.credit_hold_override),
            flag(records.on_credit_hold()),
            money(open_balance),
            money(records.overdue_balance()),
            records.days_overdue(),
            money(records.unbilled_orders()),
            c.currency,
            self.local(c.date_created),
            self.local(c.last_modified),
            flag(c.is_inactive),
            c.subsidiary,
        ])?;
        for contact in &records.contacts {
            let created = self.local(contact.last_modified);
            self.contact.execute(params![
                contact.id,
                contact.entity_id,
                contact.first_name,
                contact.last_name,
                contact.email,
                contact.company,
                contact.role,
                created,
                created,
            ])?;
        }
        for record in records.transactions() {
            self.transaction(record, records)?;
        }
        for application in &records.applications {
            let modified = self.local(application.last_modified);
            self.link.execute(params![
                application.invoice_id,
                "CustInvc",
                application.payment_id,
                "CustPymt",
                "Payment",
                money(application.amount),
                modified
            ])?;
        }
        for link in &records.deposit_links {
            let modified = self.local(link.last_modified);
            // NetSuite's link type code for an order's deposit is not in the reference
            // (SOAP calls the relation `_salesOrderDeposit`); the extractor selects
            // deposit links by the deposit's type, never by this code.
            self.link.execute(params![
                link.order_id,
                "SalesOrd",
                link.deposit_id,
                "CustDep",
                "OrdDep",
                money(link.amount),
                modified
            ])?;
        }
        Ok(())
    }

    fn transaction(&mut self, t: &TransactionRecord, records: &CustomerRecords) -> rusqlite::Result<()> {
        let view = records.view_date;
        let is_open_invoice = t.kind == ledgerlink_synthdata::TransactionType::Invoice && t.status == 'A';
        let days_overdue = t
            .due_date
            .filter(|_| is_open_invoice)
            .map(|due| (view - due).num_days().max(0));
        let days_open = is_open_invoice.then(|| (view - t.tran_date).num_days().max(0));
        let (used, unused) = if t.kind == ledgerlink_synthdata::TransactionType::Payment {
            (Some(money(t.foreign_total)), Some(0.0))
        } else {
            (None, None)
        };
        let posting = t.status != 'D' && t.status != 'E' && t.kind != ledgerlink_synthdata::TransactionType::SalesOrder;
        self.transaction.execute(params![
            t.id,
            t.tran_id,
            t.kind.code(),
            t.kind.record_type(),
            t.status.to_string(),
            store_date(t.tran_date),
            t.due_date.map(store_date),
            t.close_date.map(store_date),
            t.entity,
            t.currency,
            money(t.foreign_total),
            t.foreign_amount_paid.map(money),
            t.foreign_amount_unpaid.map(money),
            used,
            unused,
            days_overdue,
            days_open,
            t.terms,
            flag(posting),
            flag(t.voided),
            t.memo,
            self.local(t.created),
            self.local(t.last_modified),
        ])?;
        let created_from = records
            .deposit_links
            .iter()
            .find(|link| link.deposit_id == t.id)
            .map(|link| link.order_id);
        self.line
            .execute(params![t.id, t.entity, money(t.foreign_total), created_from])?;
        Ok(())
    }
}
