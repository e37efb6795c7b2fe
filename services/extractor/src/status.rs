//! NetSuite's single-letter transaction statuses, mapped to the snapshot's names
//! (reference §3, `spec/scoring.md` §1, `spec/reminders.md`).

use ledgerlink_domain::InvoiceStatus;

/// What an invoice status letter means for a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceDisposition {
    /// A receivable with this status.
    Keep(InvoiceStatus),
    /// Not a receivable: pending approval (`D`, not posted yet) or rejected (`E`, never
    /// posted). The customer owes nothing on it, so it stays out of the snapshot.
    Skip,
}

/// Maps an invoice status (`A`, or the composite `CustInvc:A`) to its disposition;
/// `None` for a letter NetSuite does not document.
pub fn invoice_status(status: &str) -> Option<InvoiceDisposition> {
    let letter = status.trim().strip_prefix("CustInvc:").unwrap_or(status.trim());
    match letter {
        "A" => Some(InvoiceDisposition::Keep(InvoiceStatus::Open)),
        "B" => Some(InvoiceDisposition::Keep(InvoiceStatus::Paid)),
        "V" => Some(InvoiceDisposition::Keep(InvoiceStatus::Voided)),
        "D" | "E" => Some(InvoiceDisposition::Skip),
        _ => None,
    }
}

/// Maps a sales order status (`B`, or `SalesOrd:B`) to the status names of
/// `spec/reminders.md`; `None` for a letter NetSuite does not document.
///
/// `E` ("Pending Billing/Partially Fulfilled") has shipped goods waiting for an invoice,
/// so it is `pending_billing`: the prepayment gate is behind it. NetSuite has no letter
/// for a fully fulfilled order that is not yet billed other than `F`, so `fulfilled`
/// never comes out of a letter.
pub fn order_status(status: &str) -> Option<&'static str> {
    let letter = status.trim().strip_prefix("SalesOrd:").unwrap_or(status.trim());
    match letter {
        "A" => Some("pending_approval"),
        "B" => Some("pending_fulfillment"),
        "C" => Some("cancelled"),
        "D" => Some("partially_fulfilled"),
        "E" | "F" => Some("pending_billing"),
        "G" => Some("billed"),
        "H" => Some("closed"),
        _ => None,
    }
}

/// True for order statuses in which the customer may still have to pay before the goods
/// ship, so a deposit balance matters (`spec/reminders.md`, recurring balance).
pub fn order_awaits_prepayment(status_name: &str) -> bool {
    matches!(
        status_name,
        "pending_approval" | "pending_fulfillment" | "partially_fulfilled"
    )
}

/// The composite statuses (`SalesOrd:X`) of orders that wait for prepayment, for
/// filtering in SuiteQL with `BUILTIN.CF(status)` as NetSuite documents.
pub const AWAITING_PREPAYMENT_STATUSES: [&str; 3] = ["SalesOrd:A", "SalesOrd:B", "SalesOrd:D"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_letters_map_per_the_reference_table() {
        let table = [
            ("A", Some(InvoiceDisposition::Keep(InvoiceStatus::Open))),
            ("B", Some(InvoiceDisposition::Keep(InvoiceStatus::Paid))),
            ("D", Some(InvoiceDisposition::Skip)),
            ("E", Some(InvoiceDisposition::Skip)),
            ("V", Some(InvoiceDisposition::Keep(InvoiceStatus::Voided))),
            ("CustInvc:B", Some(InvoiceDisposition::Keep(InvoiceStatus::Paid))),
            (" A ", Some(InvoiceDisposition::Keep(InvoiceStatus::Open))),
            ("C", None),
            ("a", None),
            ("SalesOrd:A", None),
            ("", None),
        ];
        for (letter, expected) in table {
            assert_eq!(invoice_status(letter), expected, "letter {letter:?}");
        }
    }

    #[test]
    fn sales_order_letters_map_per_the_reference_table() {
        let table = [
            ("A", Some("pending_approval")),
            ("B", Some("pending_fulfillment")),
            ("C", Some("cancelled")),
            ("D", Some("partially_fulfilled")),
            ("E", Some("pending_billing")),
            ("F", Some("pending_billing")),
            ("G", Some("billed")),
            ("H", Some("closed")),
            ("SalesOrd:G", Some("billed")),
            ("I", None),
            ("CustInvc:A", None),
        ];
        for (letter, expected) in table {
            assert_eq!(order_status(letter), expected, "letter {letter:?}");
        }
    }

    #[test]
    fn only_orders_before_shipping_await_prepayment() {
        let awaiting: Vec<_> = ["A", "B", "C", "D", "E", "F", "G", "H"]
            .into_iter()
            .filter_map(order_status)
            .filter(|name| order_awaits_prepayment(name))
            .collect();
        assert_eq!(
            awaiting,
            ["pending_approval", "pending_fulfillment", "partially_fulfilled"]
        );
        // The SuiteQL filter names exactly those statuses.
        let filtered: Vec<_> = AWAITING_PREPAYMENT_STATUSES
            .into_iter()
            .filter_map(order_status)
            .collect();
        assert_eq!(filtered, awaiting);
    }
}
