//! Leader election among coordinator replicas on PostgreSQL.

use std::time::Duration;

use ledgerlink_coordinator::leader;
use tokio_util::sync::CancellationToken;

async fn until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < end {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

#[tokio::test]
async fn exactly_one_replica_leads_and_another_takes_over_when_it_stops() {
    let url = ledgerlink_store::testing::fresh_postgres_url(&ledgerlink_test_support::postgres_server_url())
        .await
        .expect("postgresql must be reachable (LEDGERLINK_TEST_DATABASE_URL)");
    let first_stop = CancellationToken::new();
    let second_stop = CancellationToken::new();
    let first = leader::elect(url.clone(), first_stop.clone());
    let second = leader::elect(url, second_stop.clone());
    assert!(
        until(Duration::from_secs(10), || *first.borrow() || *second.borrow()).await,
        "nobody leads"
    );
    assert!(!(*first.borrow() && *second.borrow()), "two leaders");
    let (leader_stop, follower) = if *first.borrow() {
        (first_stop, second.clone())
    } else {
        (second_stop.clone(), first.clone())
    };
    // Both keep checking; still one leader a few rounds later.
    tokio::time::sleep(leader::CHECK_INTERVAL * 2).await;
    assert!(*first.borrow() != *second.borrow(), "exactly one leader");
    leader_stop.cancel();
    assert!(
        until(leader::CHECK_INTERVAL * 5, || *follower.borrow()).await,
        "the follower did not take over"
    );
    second_stop.cancel();
}

#[tokio::test]
async fn sqlite_has_one_process_which_leads() {
    let stop = CancellationToken::new();
    let elected = leader::elect("sqlite://x.db".to_owned(), stop.clone());
    assert!(*elected.borrow());
    stop.cancel();
}
