//! The fixed lists every data set shares: payment terms, currencies, contact roles.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::records::{ContactRoleRecord, CurrencyRecord, TermRecord};

/// Id of the `Accounts Payable` contact role.
pub const ROLE_ACCOUNTS_PAYABLE: i64 = 1;
/// Id of NetSuite's built-in `Primary Contact` role.
pub const ROLE_PRIMARY_CONTACT: i64 = -10;
/// Id of the `Decision Maker` contact role.
pub const ROLE_DECISION_MAKER: i64 = 2;

struct TermSpec {
    id: i64,
    name: &'static str,
    days: i64,
    discount: Option<(i64, i64)>,
}

/// Id of the `Cash in Advance` term: no customer is on it; prepayment sales orders carry
/// it, which is how an account tells them from orders on credit terms.
pub const TERM_CASH_IN_ADVANCE: i64 = 8;

const TERMS: [TermSpec; 8] = [
    TermSpec {
        id: 1,
        name: "Net 15",
        days: 15,
        discount: None,
    },
    TermSpec {
        id: 2,
        name: "Net 30",
        days: 30,
        discount: None,
    },
    TermSpec {
        id: 3,
        name: "Net 60",
        days: 60,
        discount: None,
    },
    TermSpec {
        id: 4,
        name: "Due on receipt",
        days: 0,
        discount: None,
    },
    TermSpec {
        id: 5,
        name: "1% 10 Net 30",
        days: 30,
        discount: Some((1, 10)),
    },
    TermSpec {
        id: 6,
        name: "2% 10 Net 30",
        days: 30,
        discount: Some((2, 10)),
    },
    TermSpec {
        id: 7,
        name: "Net 90",
        days: 90,
        discount: None,
    },
    TermSpec {
        id: TERM_CASH_IN_ADVANCE,
        name: "Cash in Advance",
        days: 0,
        discount: None,
    },
];

/// The `term` table. `last_modified` is the same for every term: terms are set up
/// once, long before the history starts.
pub fn terms(last_modified: DateTime<Utc>) -> Vec<TermRecord> {
    TERMS
        .iter()
        .map(|spec| TermRecord {
            id: spec.id,
            name: spec.name.to_owned(),
            days_until_net_due: Some(spec.days),
            discount_percent: spec.discount.map(|(percent, _)| Decimal::from(percent)),
            days_until_expiry: spec.discount.map(|(_, days)| days),
            last_modified,
        })
        .collect()
}

/// Returns the net days of a term id of [`terms`].
pub(crate) fn term_days(id: i64) -> Option<i64> {
    TERMS.iter().find(|spec| spec.id == id).map(|spec| spec.days)
}

/// The `currency` table.
pub fn currencies() -> Vec<CurrencyRecord> {
    [
        (1, "US Dollar", "USD"),
        (2, "Canadian Dollar", "CAD"),
        (3, "Euro", "EUR"),
        (4, "British pound", "GBP"),
    ]
    .into_iter()
    .map(|(id, name, symbol)| CurrencyRecord {
        id,
        name: name.to_owned(),
        symbol: symbol.to_owned(),
    })
    .collect()
}

/// The `contactrole` table.
pub fn contact_roles() -> Vec<ContactRoleRecord> {
    [
        (ROLE_PRIMARY_CONTACT, "Primary Contact"),
        (ROLE_ACCOUNTS_PAYABLE, "Accounts Payable"),
        (ROLE_DECISION_MAKER, "Decision Maker"),
    ]
    .into_iter()
    .map(|(id, name)| ContactRoleRecord {
        id,
        name: name.to_owned(),
    })
    .collect()
}
