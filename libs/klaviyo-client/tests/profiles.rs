//! Profile behaviour: bulk import jobs, polling, import errors, duplicates, unset, lookups.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ledgerlink_klaviyo_client::{ProfileKey, ProfileUpsert};
use serde_json::{Map, Value, json};
use support::{Mock, Recorded, Reply};

fn profile(n: usize, padding: usize) -> ProfileUpsert {
    let mut properties = Map::new();
    properties.insert("netsuite_customer_id".into(), json!(n.to_string()));
    if padding > 0 {
        properties.insert("notes".into(), Value::String("x".repeat(padding)));
    }
    ProfileUpsert {
        email: Some(format!("c{n}@example.com")),
        external_id: Some(format!("netsuite:{n}")),
        properties,
        ..ProfileUpsert::default()
    }
}

fn job(id: &str, status: &str, total: usize, failed: usize) -> Reply {
    Reply::json(
        200,
        json!({"data": {"type": "profile-bulk-import-job", "id": id,
            "attributes": {"status": status, "created_at": "2026-11-23T12:00:00Z", "total_count": total,
                           "completed_count": total - failed, "failed_count": failed},
            "links": {"self": "x"}}}),
    )
}

/// A stand-in for bulk import: jobs get ids job-0, job-1, …, go queued → processing →
/// complete over three polls, and report no errors.
fn bulk_import_server() -> impl Fn(&Recorded) -> Reply {
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    let polls: Arc<Mutex<Vec<usize>>> = Arc::default();
    move |request| match request.operation.as_deref() {
        Some("bulk_import_profiles") => {
            let count = request.body.as_ref().expect("body")["data"]["attributes"]["profiles"]["data"]
                .as_array()
                .expect("profiles")
                .len();
            let mut sizes = sizes.lock().expect("lock");
            sizes.push(count);
            polls.lock().expect("lock").push(0);
            let id = format!("job-{}", sizes.len() - 1);
            let reply = job(&id, "queued", count, 0);
            Reply { status: 202, ..reply }
        }
        Some("get_bulk_import_profiles_job") => {
            let index: usize = request.path.rsplit('-').next().expect("id").parse().expect("index");
            let mut polls = polls.lock().expect("lock");
            polls[index] += 1;
            let status = match polls[index] {
                1 => "queued",
                2 => "processing",
                _ => "complete",
            };
            job(&format!("job-{index}"), status, sizes.lock().expect("lock")[index], 0)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn bulk_import_splits_by_count_and_polls_until_complete() {
    let mock = Mock::start(bulk_import_server()).await;
    let profiles: Vec<ProfileUpsert> = (0..25_000).map(|n| profile(n, 0)).collect();
    let report = mock.client().import_profiles(&profiles, &[]).await.expect("import");
    let sizes: Vec<usize> = mock
        .requests_to("bulk_import_profiles")
        .iter()
        .map(|r| {
            r.body.as_ref().expect("body")["data"]["attributes"]["profiles"]["data"]
                .as_array()
                .expect("a")
                .len()
        })
        .collect();
    assert_eq!(sizes, vec![10_000, 10_000, 5_000]);
    assert_eq!(report.jobs.len(), 3);
    assert!(
        report
            .jobs
            .iter()
            .all(|(job, _)| job.status == ledgerlink_klaviyo_client::JobStatus::Complete)
    );
    // Three polls per job: queued, processing, complete.
    assert_eq!(mock.requests_to("get_bulk_import_profiles_job").len(), 9);
    assert_eq!(report.imported_indices().len(), 25_000);
    assert!(report.failures.is_empty());
    mock.assert_all_valid();
}

#[tokio::test]
async fn bulk_import_splits_by_body_size() {
    let mock = Mock::start(bulk_import_server()).await;
    // ~30 KB each: far under 10,000 profiles, but over 5 MB in one body.
    let profiles: Vec<ProfileUpsert> = (0..400).map(|n| profile(n, 30_000)).collect();
    let report = mock
        .client()
        .import_profiles(&profiles, &["LIST1".to_owned()])
        .await
        .expect("import");
    let requests = mock.requests_to("bulk_import_profiles");
    assert!(requests.len() >= 3, "{} requests", requests.len());
    assert!(requests.iter().all(|request| request.body_len <= 5_000_000));
    // Each job is full: adding the next profile (~30 KB) would have crossed the cap.
    for request in &requests[..requests.len() - 1] {
        assert!(
            request.body_len > 5_000_000 - 31_000,
            "job of {} bytes is not full",
            request.body_len
        );
        assert_eq!(
            request.body.as_ref().expect("b")["data"]["relationships"]["lists"]["data"][0]["id"],
            "LIST1"
        );
    }
    assert_eq!(report.imported_indices(), (0..400).collect::<Vec<_>>());
    mock.assert_all_valid();
}

#[tokio::test]
async fn import_errors_are_mapped_back_to_input_records() {
    let mock = Mock::start(|request: &Recorded| match request.operation.as_deref() {
        Some("bulk_import_profiles") => Reply {
            status: 202,
            ..job("job-a", "queued", 5, 0)
        },
        Some("get_bulk_import_profiles_job") => job("job-a", "complete", 5, 2),
        Some("get_errors_for_bulk_import_profiles_job") => {
            if request.query.get("page[cursor]").map(String::as_str) == Some("c2") {
                Reply::json(200, json!({"data": [{"type": "import-error", "id": "e2", "attributes": {
                    "code": "invalid", "title": "Invalid input.", "detail": "bad external id",
                    "source": {"pointer": null},
                    "original_payload": {"type": "profile", "attributes": {"email": "C3@example.com"}}}}],
                    "links": {"self": "x"}}))
            } else {
                Reply::json(200, json!({"data": [{"type": "import-error", "id": "e1", "attributes": {
                    "code": "invalid", "title": "Invalid input.", "detail": "phone number invalid",
                    "source": {"pointer": "/data/attributes/profiles/data/1/attributes/phone_number"}}}],
                    "links": {"self": "x", "next": format!("http://x/api/profile-bulk-import-jobs/job-a/import-errors?page%5Bcursor%5D=c2")}}))
            }
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let profiles: Vec<ProfileUpsert> = (0..5).map(|n| profile(n, 0)).collect();
    let report = mock.client().import_profiles(&profiles, &[]).await.expect("import");
    let mut failed: Vec<(Option<usize>, String)> =
        report.failures.iter().map(|f| (f.index, f.detail.clone())).collect();
    failed.sort();
    assert_eq!(
        failed,
        vec![
            (Some(1), "phone number invalid".to_owned()),
            (Some(3), "bad external id".to_owned())
        ]
    );
    assert_eq!(report.imported_indices(), vec![0, 2, 4]);
    assert_eq!(mock.requests_to("get_errors_for_bulk_import_profiles_job").len(), 2);
    mock.assert_all_valid();
}

#[tokio::test]
async fn a_job_refused_for_one_profile_is_resubmitted_without_it() {
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let mock = Mock::start(move |request: &Recorded| match request.operation.as_deref() {
        Some("bulk_import_profiles") => {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::error(
                    400,
                    "invalid",
                    "Invalid email address",
                    Some("/data/attributes/profiles/data/2/attributes/email"),
                )
            } else {
                Reply {
                    status: 202,
                    ..job("job-b", "queued", 3, 0)
                }
            }
        }
        Some("get_bulk_import_profiles_job") => job("job-b", "complete", 3, 0),
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let profiles: Vec<ProfileUpsert> = (0..4).map(|n| profile(n, 0)).collect();
    let report = mock.client().import_profiles(&profiles, &[]).await.expect("import");
    let bodies = mock.requests_to("bulk_import_profiles");
    assert_eq!(bodies.len(), 2);
    let second: Vec<&str> = bodies[1].body.as_ref().expect("b")["data"]["attributes"]["profiles"]["data"]
        .as_array()
        .expect("a")
        .iter()
        .map(|p| p["attributes"]["email"].as_str().expect("email"))
        .collect();
    assert_eq!(second, vec!["c0@example.com", "c1@example.com", "c3@example.com"]);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].index, Some(2));
    assert_eq!(report.failures[0].code, "invalid");
    assert_eq!(report.imported_indices(), vec![0, 1, 3]);
    mock.assert_all_valid();
}

#[tokio::test]
async fn duplicate_profile_conflict_is_resolved_through_the_existing_profile() {
    let mock = Mock::start(|request: &Recorded| {
        let data = &request.body.as_ref().expect("body")["data"];
        if data.get("id").is_none() {
            Reply::json(409, json!({"errors": [{"id": "e", "status": 409, "code": "duplicate_profile",
                "title": "Conflict.", "detail": "A profile already exists with one of these identifiers.",
                "source": {"pointer": "/data/attributes"}, "links": {}, "meta": {"duplicate_profile_id": "01EXISTING"}}]}))
        } else {
            Reply::json(200, json!({"data": {"type": "profile", "id": data["id"], "attributes": {}}}))
        }
    })
    .await;
    let client = mock.client();
    let upsert = ProfileUpsert {
        phone_number: Some("+15005550006".into()),
        ..profile(1, 0)
    };
    let outcome = client.upsert_profile(&upsert).await.expect("resolved");
    assert_eq!(outcome.id, "01EXISTING");
    assert_eq!(outcome.resolved_duplicate.as_deref(), Some("01EXISTING"));
    assert!(!outcome.created);
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let retry = &requests[1].body.as_ref().expect("body")["data"];
    assert_eq!(retry["id"], "01EXISTING");
    assert!(retry["attributes"].get("phone_number").is_none());
    assert_eq!(retry["attributes"]["email"], "c1@example.com");
    // The resolved id is cached for the identifiers: no lookup request.
    let id = client
        .find_profile_id(&ProfileKey::email("C1@example.com"))
        .await
        .expect("lookup");
    assert_eq!(id.as_deref(), Some("01EXISTING"));
    assert_eq!(mock.requests().len(), 2);
    mock.assert_all_valid();
}

#[tokio::test]
async fn a_second_conflict_is_reported_as_duplicate_profile() {
    let mock = Mock::start(|_| {
        Reply::json(
            409,
            json!({"errors": [{"id": "e", "status": 409, "code": "duplicate_profile",
            "title": "Conflict.", "detail": "exists", "meta": {"duplicate_profile_id": "01OTHER"}}]}),
        )
    })
    .await;
    let error = mock
        .client()
        .upsert_profile(&profile(1, 0))
        .await
        .expect_err("unresolvable");
    assert!(
        matches!(&error, ledgerlink_klaviyo_client::Error::DuplicateProfile { duplicate_profile_id, .. } if duplicate_profile_id == "01OTHER"),
        "{error}"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn properties_that_became_undefined_are_unset() {
    let mock =
        Mock::start(|_| Reply::json(200, json!({"data": {"type": "profile", "id": "01P", "attributes": {}}}))).await;
    let upsert = ProfileUpsert {
        unset: vec!["on_time_rate_pct".into(), "avg_days_to_pay".into()],
        ..profile(1, 0)
    };
    mock.client().upsert_profile(&upsert).await.expect("upsert");
    let body = mock.requests()[0].body.clone().expect("body");
    assert_eq!(
        body["data"]["meta"]["patch_properties"]["unset"],
        json!(["on_time_rate_pct", "avg_days_to_pay"])
    );
    assert!(
        body["data"]["attributes"]["properties"]
            .get("on_time_rate_pct")
            .is_none()
    );
    mock.assert_all_valid();
}

#[tokio::test]
async fn lookups_are_cached_and_resolved_again_after_a_merge() {
    // The profile was merged: the first lookup answers the old id, later ones the new one;
    // list membership with the old id answers 404.
    let lookups = Arc::new(AtomicUsize::new(0));
    let counter = lookups.clone();
    let mock = Mock::start(move |request: &Recorded| match request.operation.as_deref() {
        Some("get_profiles") => {
            assert_eq!(request.query["filter"], r#"equals(email,"ap@example.com")"#);
            let id = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                "01OLD"
            } else {
                "01NEW"
            };
            Reply::json(
                200,
                json!({"data": [{"type": "profile", "id": id, "attributes": {}}], "links": {"self": "x"}}),
            )
        }
        Some("add_profiles_to_list") => {
            let id = &request.body.as_ref().expect("body")["data"][0]["id"];
            if id == "01OLD" {
                Reply::error(404, "not_found", "Profile not found", Some("/data/0"))
            } else {
                Reply::empty(204)
            }
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let client = mock.client();
    let key = ProfileKey::email("ap@example.com");
    assert_eq!(
        client.find_profile_id(&key).await.expect("lookup").as_deref(),
        Some("01OLD")
    );
    assert_eq!(
        client.find_profile_id(&key).await.expect("cached").as_deref(),
        Some("01OLD")
    );
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
    let report = client
        .add_to_list_by_keys("LIST1", std::slice::from_ref(&key))
        .await
        .expect("add");
    assert_eq!(report.done, vec![0]);
    assert_eq!(lookups.load(Ordering::SeqCst), 2);
    assert_eq!(
        client.find_profile_id(&key).await.expect("cached").as_deref(),
        Some("01NEW")
    );
    mock.assert_all_valid();
}
