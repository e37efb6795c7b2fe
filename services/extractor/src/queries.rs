//! The SuiteQL statements, written to NetSuite's schema as `shared/reference/netsuite.md`
//! §3 documents it. Pure text: no I/O.
//!
//! Every date and datetime is selected through `TO_CHAR`, so the integration user's date
//! format never reaches a parser. Ids spliced into statements are `i64`s rendered by
//! Rust, so nothing can be injected, and comparisons stay numeric.

use ledgerlink_netsuite_client::{KeysetQuery, SuiteQl};

/// The `TO_CHAR`/`TO_DATE` format of datetimes.
pub const DATETIME_FORMAT: &str = "YYYY-MM-DD HH24:MI:SS";

/// NetSuite's `IN (…)` list limit.
pub const MAX_IN_LIST: usize = 1000;

/// Which customers' records a statement reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerFilter {
    /// Customer ids from `lo` to `hi`, both included.
    Between(i64, i64),
    /// These customer ids (at most [`MAX_IN_LIST`]).
    In(Vec<i64>),
}

impl CustomerFilter {
    /// The condition on `column` (e.g. `t.entity`).
    pub fn condition(&self, column: &str) -> String {
        match self {
            CustomerFilter::Between(lo, hi) => format!("{column} BETWEEN {lo} AND {hi}"),
            CustomerFilter::In(ids) => format!("{column} IN ({})", id_list(ids)),
        }
    }
}

/// Renders ids as a comma-separated list of integer literals.
pub fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

const CUSTOMER_SELECT: &str = "SELECT c.id, c.entityid, c.companyname, c.email, c.terms, c.creditlimit, \
     c.creditholdoverride, c.currency, BUILTIN.DF(c.currency) AS currency_name, c.isinactive, c.parent, \
     c.subsidiary, TO_CHAR(c.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodifieddate FROM customer c";

/// Customers by keyset on `c.id`, optionally bounded above (inclusive) or limited to ids.
pub fn customers(until: Option<i64>, ids: Option<&[i64]>) -> KeysetQuery {
    let mut conditions = Vec::new();
    if let Some(until) = until {
        conditions.push(format!("c.id <= {until}"));
    }
    if let Some(ids) = ids {
        conditions.push(format!("c.id IN ({})", id_list(ids)));
    }
    let query = KeysetQuery::by_id(CUSTOMER_SELECT, "c.id");
    if conditions.is_empty() {
        query
    } else {
        query.filter(conditions.join(" AND "))
    }
}

/// The whole `term` table (small; read once per extraction).
pub fn terms() -> KeysetQuery {
    KeysetQuery::by_id(
        "SELECT id, name, daysuntilnetdue, discountpercent, daysuntilexpiry FROM term",
        "id",
    )
}

/// The whole `currency` table, for ISO codes (`symbol`) of customers' currencies.
pub fn currencies() -> KeysetQuery {
    KeysetQuery::by_id("SELECT id, symbol FROM currency", "id")
}

/// Invoices of a set of customers, by keyset on `t.id`.
pub fn invoices(customers: &CustomerFilter) -> KeysetQuery {
    KeysetQuery::by_id(
        "SELECT t.id, t.tranid, t.entity, t.status, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, \
         TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate, TO_CHAR(t.closedate, 'YYYY-MM-DD') AS closedate, \
         t.foreigntotal, t.foreignamountunpaid FROM transaction t",
        "t.id",
    )
    .filter(format!("t.type = 'CustInvc' AND {}", customers.condition("t.entity")))
}

const APPLICATION_SELECT: &str = "SELECT l.previousdoc AS invoice_id, l.nextdoc AS applying_id, p.type AS applying_type, \
     TO_CHAR(p.trandate, 'YYYY-MM-DD') AS applied_on, l.foreignamount AS applied_amount \
     FROM NextTransactionLineLink l JOIN transaction p ON p.id = l.nextdoc";

/// Link rows have no id of their own: a unique order keeps offset paging from
/// repeating or skipping rows.
const LINK_ORDER: &str = "ORDER BY l.previousdoc, l.nextdoc, l.previousline, l.nextline";

/// Payment and credit applications of up to [`MAX_IN_LIST`] invoices, with the applying
/// transaction's date, paged by offset; the client refuses to go past the 100,000-row cap
/// rather than truncate.
pub fn applications(invoice_ids: &[i64]) -> SuiteQl {
    SuiteQl::new(format!(
        "{APPLICATION_SELECT} WHERE l.linktype = 'Payment' AND l.previousdoc IN ({}) {LINK_ORDER}",
        id_list(invoice_ids)
    ))
}

/// Payment and credit applications of the paid invoices of a set of customers, with
/// the applying transaction's date: the same rows as [`applications`] of those
/// invoices, read beside the invoices instead of after them. Paged by offset, so a
/// set past 100,000 links falls back to [`applications`].
pub fn applications_of(customers: &CustomerFilter) -> SuiteQl {
    SuiteQl::new(format!(
        "{APPLICATION_SELECT} JOIN transaction i ON i.id = l.previousdoc \
         WHERE l.linktype = 'Payment' AND i.type = 'CustInvc' AND BUILTIN.CF(i.status) = 'CustInvc:B' \
         AND {} {LINK_ORDER}",
        customers.condition("i.entity")
    ))
}

/// Sales orders of a set of customers, by keyset on `t.id`.
pub fn orders(customers: &CustomerFilter) -> KeysetQuery {
    KeysetQuery::by_id(
        "SELECT t.id, t.tranid, t.entity, t.status, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, \
         t.foreigntotal, t.terms FROM transaction t",
        "t.id",
    )
    .filter(format!("t.type = 'SalesOrd' AND {}", customers.condition("t.entity")))
}

/// Active contacts with an email of a set of customers, with their role's name, by
/// keyset on `c.id` (the contact's company is the customer).
pub fn contacts(customers: &CustomerFilter) -> KeysetQuery {
    KeysetQuery::by_id(
        "SELECT c.id, c.company AS entity, c.email, r.name AS role FROM contact c \
         LEFT JOIN contactrole r ON r.id = c.contactrole",
        "c.id",
    )
    .filter(format!(
        "c.isinactive = 'F' AND c.email IS NOT NULL AND {}",
        customers.condition("c.company")
    ))
}

const DEPOSIT_SELECT: &str = "SELECT l.previousdoc AS order_id, l.nextdoc AS deposit_id, l.foreignamount AS amount \
     FROM NextTransactionLineLink l JOIN transaction d ON d.id = l.nextdoc";

/// Customer deposits linked to up to [`MAX_IN_LIST`] sales orders.
pub fn deposits(order_ids: &[i64]) -> SuiteQl {
    SuiteQl::new(format!(
        "{DEPOSIT_SELECT} WHERE d.type = 'CustDep' AND l.previousdoc IN ({}) {LINK_ORDER}",
        id_list(order_ids)
    ))
}

/// Customer deposits linked to the sales orders of a set of customers that still wait
/// for prepayment (`order_statuses`, composite `SalesOrd:X` values): the same rows as
/// [`deposits`] of those orders, read beside the orders instead of after them.
pub fn deposits_of(customers: &CustomerFilter, order_statuses: &[&str]) -> SuiteQl {
    let statuses = order_statuses
        .iter()
        .map(|status| format!("'{status}'"))
        .collect::<Vec<_>>()
        .join(", ");
    SuiteQl::new(format!(
        "{DEPOSIT_SELECT} JOIN transaction o ON o.id = l.previousdoc \
         WHERE d.type = 'CustDep' AND o.type = 'SalesOrd' AND BUILTIN.CF(o.status) IN ({statuses}) \
         AND {} {LINK_ORDER}",
        customers.condition("o.entity")
    ))
}

/// Customers whose own record changed at or after `since_local` (account time,
/// `YYYY-MM-DD HH24:MI:SS`).
pub fn changed_customers(since_local: &str) -> KeysetQuery {
    KeysetQuery::by_id("SELECT c.id FROM customer c", "c.id")
        .filter("c.lastmodifieddate >= TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS')")
        .bind(since_local)
}

/// Transactions that change a snapshot (invoices, payments, credit memos, orders,
/// deposits) modified at or after `since_local`, with their customer. Applying or
/// unapplying a payment bumps the payment's `lastmodifieddate`, not the invoice's.
pub fn changed_transactions(since_local: &str) -> KeysetQuery {
    KeysetQuery::by_id("SELECT t.id, t.entity FROM transaction t", "t.id")
        .filter(
            "t.type IN ('CustInvc', 'CustPymt', 'CustCred', 'SalesOrd', 'CustDep') \
             AND t.lastmodifieddate >= TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS')",
        )
        .bind(since_local)
}

/// The customers of up to [`MAX_IN_LIST`] invoices.
pub fn invoice_owners(invoice_ids: &[i64]) -> KeysetQuery {
    KeysetQuery::by_id("SELECT t.id, t.entity FROM transaction t", "t.id")
        .filter(format!("t.type = 'CustInvc' AND t.id IN ({})", id_list(invoice_ids)))
}

/// NetSuite's clock in the account's time zone (reference §6).
pub fn server_time() -> SuiteQl {
    SuiteQl::new("SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') AS now FROM DUAL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_queries_bound_customers_by_range_or_list() {
        let range = invoices(&CustomerFilter::Between(10, 42)).statement(Some(7));
        assert!(
            range
                .q
                .ends_with("WHERE (t.type = 'CustInvc' AND t.entity BETWEEN 10 AND 42) AND t.id > 7 ORDER BY t.id"),
            "{}",
            range.q
        );
        let list = orders(&CustomerFilter::In(vec![3, 5, 8])).statement(None);
        assert!(
            list.q
                .ends_with("WHERE (t.type = 'SalesOrd' AND t.entity IN (3,5,8)) ORDER BY t.id"),
            "{}",
            list.q
        );
    }

    #[test]
    fn every_selected_date_goes_through_to_char_and_no_unknown_column_is_used() {
        let statements = [
            customers(None, None).statement(None).q,
            invoices(&CustomerFilter::Between(1, 2)).statement(None).q,
            orders(&CustomerFilter::Between(1, 2)).statement(None).q,
            applications(&[1]).q,
            server_time().q,
        ];
        for q in &statements {
            assert!(!q.contains("foreignamountremaining"), "{q}");
            let select_list = &q[..q.find(" FROM ").unwrap()];
            for column in [".trandate", ".duedate", ".closedate", ".lastmodifieddate", "SYSDATE"] {
                for (index, _) in select_list.match_indices(column) {
                    let alias_start = if column.starts_with('.') { index - 1 } else { index };
                    assert!(
                        select_list[..alias_start].ends_with("TO_CHAR("),
                        "{column} selected without TO_CHAR in {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn customer_chunks_can_be_bounded_and_listed() {
        let query = customers(Some(500), Some(&[4, 9]));
        assert!(
            query
                .statement(Some(3))
                .q
                .ends_with("WHERE (c.id <= 500 AND c.id IN (4,9)) AND c.id > 3 ORDER BY c.id")
        );
        let changed = changed_transactions("2026-01-01 00:00:00").statement(None);
        assert_eq!(changed.params, ["2026-01-01 00:00:00"]);
        assert!(changed.q.contains("'CustPymt'"), "{}", changed.q);
    }
}
