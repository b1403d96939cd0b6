//! The emulator, driven by the real `aws-sdk-cloudtrail` client and by the AWS CLI.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{EventCategory, LookupAttribute, LookupAttributeKey, QueryStatus};
use serde_json::Value;

use trailq_emulator::generate::{GeneratorConfig, INSPECTOR_SCAN, INSPECTOR2};
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::server::KeyAccess;
use trailq_emulator::store::GroundTruthEvent;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

use crate::util::{aws_cli, stderr, stdout, trailq_command};

const A1: &str = "111122223333";
const A2: &str = "444455556666";
const KEY1: &str = "AKIAEMULATORACCOUNT1";
const KEY2: &str = "AKIAEMULATORACCOUNT2";
const DENIED: &str = "AKIAEMULATORDENIED00";
/// 2026-11-20T12:00:00Z: the emulator's clock at start in these tests.
const NOW: i64 = 1_795_176_000_000_000;
const DAY: i64 = 86_400_000_000;

fn config(limits: Limits, faults: &str) -> EmulatorConfig {
    EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            seed: 7,
            now_micros: NOW,
            // More than Event history's 90 days, so that its reach is tested too.
            days: 95,
            events_per_day: 300,
            accounts: vec![A1.into(), A2.into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            noise: 0.3,
        }),
        keys: vec![
            (KEY1.into(), KeyAccess::Account(A1.into())),
            (KEY2.into(), KeyAccess::Account(A2.into())),
            (DENIED.into(), KeyAccess::Deny),
        ],
        disabled_regions: vec![(A2.into(), "ap-east-1".into())],
        limits,
        lake: LakeTiming {
            queued: Duration::from_millis(40),
            running: Duration::from_millis(40),
            timeout: Duration::from_secs(60),
        },
        faults: faults.into(),
        ..EmulatorConfig::default()
    }
}

fn at(micros: i64) -> DateTime {
    DateTime::from_millis(micros / 1000)
}

fn client(emulator: &Emulator, key: &str, region: &str) -> Client {
    client_with(
        emulator,
        key,
        region,
        RetryConfig::standard()
            .with_max_attempts(6)
            .with_initial_backoff(Duration::from_millis(5))
            .with_max_backoff(Duration::from_millis(50)),
    )
}

fn client_with(emulator: &Emulator, key: &str, region: &str, retry: RetryConfig) -> Client {
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(trailq::aws::https_client())
        .region(Region::new(region.to_owned()))
        .endpoint_url(emulator.endpoint_url())
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .retry_config(retry)
        .build();
    Client::from_conf(conf)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The IDs the emulator holds for one account, region and source within [start, end].
fn truth(
    truth: &[GroundTruthEvent],
    account: &str,
    region: &str,
    source: &str,
    start: i64,
    end: i64,
) -> BTreeSet<String> {
    truth
        .iter()
        .filter(|e| e.account == account && e.region == region)
        .filter(|e| e.event_source.as_deref() == Some(source))
        .filter(|e| (start..=end).contains(&e.event_time_micros))
        .map(|e| e.event_id.clone())
        .collect()
}

fn source_attribute(source: &str) -> LookupAttribute {
    LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventSource)
        .attribute_value(source)
        .build()
        .unwrap()
}

/// Pages LookupEvents to the end; returns the IDs in the order received and the page count.
async fn lookup_all(
    client: &Client,
    source: &str,
    start: i64,
    end: i64,
) -> Result<(Vec<String>, usize), String> {
    let mut pages = client
        .lookup_events()
        .lookup_attributes(source_attribute(source))
        .start_time(at(start))
        .end_time(at(end))
        .into_paginator()
        .send();
    let (mut ids, mut n, mut last_time) = (Vec::new(), 0, f64::INFINITY);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("{:?}: {:?}", e.code(), e.message()))?;
        n += 1;
        assert!(page.events().len() <= 50, "at most 50 events a page");
        for e in page.events() {
            let t = e.event_time().unwrap().as_secs_f64();
            assert!(t <= last_time, "newest first");
            last_time = t;
            // CloudTrailEvent is the record itself.
            let record: Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
            assert_eq!(record["eventID"].as_str(), e.event_id());
            assert_eq!(record["eventSource"].as_str(), Some(source));
            assert_eq!(e.event_source(), Some(source));
            assert!(matches!(e.read_only(), Some("true" | "false")));
            ids.push(e.event_id().unwrap().to_owned());
        }
    }
    Ok((ids, n))
}

#[test]
fn sdk_pages_lookup_events_to_the_ground_truth_in_every_account_and_region() {
    let emulator = Emulator::spawn(config(Limits::OFF, "")).unwrap();
    let all = emulator.ground_truth();
    let (start, end) = (NOW - 90 * DAY, NOW);
    assert!(
        all.iter().any(|e| e.event_time_micros < start),
        "the data reaches past Event history's 90 days"
    );
    let rt = runtime();
    for (key, account) in [(KEY1, A1), (KEY2, A2)] {
        for region in ["us-east-1", "eu-west-1"] {
            let client = client(&emulator, key, region);
            for source in [INSPECTOR2, INSPECTOR_SCAN] {
                let expected = truth(&all, account, region, source, start, end);
                let (ids, pages) = rt
                    .block_on(lookup_all(&client, source, start, end))
                    .unwrap();
                let got: BTreeSet<_> = ids.iter().cloned().collect();
                assert_eq!(got.len(), ids.len(), "no event twice");
                assert_eq!(got, expected, "{account} {region} {source}");
                assert!(!expected.is_empty());
                assert_eq!(pages, expected.len().div_ceil(50).max(1));
            }
        }
    }
    // Without a StartTime, Event history still reaches back only 90 days.
    let client = client(&emulator, KEY1, "us-east-1");
    let ids = rt.block_on(async {
        let mut pages = client
            .lookup_events()
            .lookup_attributes(source_attribute(INSPECTOR2))
            .into_paginator()
            .items()
            .send();
        let mut ids = BTreeSet::new();
        while let Some(e) = pages.next().await {
            ids.insert(e.unwrap().event_id().unwrap().to_owned());
        }
        ids
    });
    let oldest = all
        .iter()
        .filter(|e| ids.contains(&e.event_id))
        .map(|e| e.event_time_micros)
        .min()
        .unwrap();
    assert!(oldest >= NOW - 90 * DAY, "nothing older than 90 days");
}

#[test]
fn lookup_attributes_filter_like_event_history() {
    let emulator = Emulator::spawn(config(Limits::OFF, "")).unwrap();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    let all = emulator.ground_truth();
    let planted = all
        .iter()
        .filter(|e| e.account == A1 && e.region == "us-east-1")
        .filter(|e| e.event_time_micros > NOW - 89 * DAY)
        .find(|e| e.event_name.as_deref() == Some("CreateFilter"))
        .expect("generated CreateFilter events");
    let lookup = |key: LookupAttributeKey, value: &str| {
        let attr = LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build()
            .unwrap();
        rt.block_on(
            client
                .lookup_events()
                .lookup_attributes(attr)
                .start_time(at(NOW - 90 * DAY))
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        )
        .unwrap()
    };
    let by_id = lookup(LookupAttributeKey::EventId, &planted.event_id);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].event_id(), Some(planted.event_id.as_str()));
    let by_name = lookup(LookupAttributeKey::EventName, "CreateFilter");
    assert!(by_name.len() > 1, "the planted one and others");
    assert!(
        by_name
            .iter()
            .all(|e| e.event_name() == Some("CreateFilter"))
    );
    let writes = lookup(LookupAttributeKey::ReadOnly, "false");
    assert!(!writes.is_empty() && writes.iter().all(|e| e.read_only() == Some("false")));
    let by_user = lookup(LookupAttributeKey::Username, "mallory");
    assert!(by_user.iter().all(|e| e.username() == Some("mallory")));
    assert!(!by_user.is_empty(), "the planted events' caller");
    let key = writes
        .iter()
        .find_map(|e| e.access_key_id())
        .unwrap()
        .to_owned();
    let by_key = lookup(LookupAttributeKey::AccessKeyId, &key);
    assert!(!by_key.is_empty(), "at least the write the key came from");
    assert!(
        by_key
            .iter()
            .all(|e| e.access_key_id() == Some(key.as_str()))
    );
    // Insights: none generated, and an insight lookup only returns insights.
    let insights = rt
        .block_on(
            client
                .lookup_events()
                .event_category(EventCategory::Insight)
                .send(),
        )
        .unwrap();
    assert!(insights.events().is_empty());
}

fn error_of<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> (String, String) {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => (
            e.code().unwrap_or_default().to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    }
}

#[test]
fn bad_requests_get_the_documented_errors_from_the_sdk() {
    let emulator = Emulator::spawn(config(Limits::OFF, "")).unwrap();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    let two = rt.block_on(
        client
            .lookup_events()
            .lookup_attributes(source_attribute(INSPECTOR2))
            .lookup_attributes(source_attribute(INSPECTOR_SCAN))
            .send(),
    );
    let e = two.unwrap_err().into_service_error();
    assert!(e.is_invalid_lookup_attributes_exception(), "{e:?}");
    let range = rt.block_on(
        client
            .lookup_events()
            .start_time(at(NOW))
            .end_time(at(NOW - DAY))
            .send(),
    );
    assert!(
        range
            .unwrap_err()
            .into_service_error()
            .is_invalid_time_range_exception()
    );
    let big = rt.block_on(client.lookup_events().max_results(51).send());
    assert!(
        big.unwrap_err()
            .into_service_error()
            .is_invalid_max_results_exception()
    );
    let category = rt.block_on(
        client
            .lookup_events()
            .event_category(EventCategory::from("management"))
            .send(),
    );
    assert!(
        category
            .unwrap_err()
            .into_service_error()
            .is_invalid_event_category_exception()
    );

    // A token is bound to the parameters it was issued for.
    let first = rt
        .block_on(
            client
                .lookup_events()
                .lookup_attributes(source_attribute(INSPECTOR2))
                .max_results(5)
                .send(),
        )
        .unwrap();
    let token = first.next_token().unwrap().to_owned();
    let same = rt.block_on(
        client
            .lookup_events()
            .lookup_attributes(source_attribute(INSPECTOR2))
            .max_results(5)
            .next_token(&token)
            .send(),
    );
    assert_eq!(same.unwrap().events().len(), 5);
    let other = rt.block_on(
        client
            .lookup_events()
            .lookup_attributes(source_attribute(INSPECTOR_SCAN))
            .next_token(&token)
            .send(),
    );
    let e = other.unwrap_err().into_service_error();
    assert!(e.is_invalid_next_token_exception(), "{e:?}");
    let forged = rt.block_on(client.lookup_events().next_token("bm90LWEtdG9rZW4").send());
    assert!(
        forged
            .unwrap_err()
            .into_service_error()
            .is_invalid_next_token_exception()
    );
    // Another account's token is another request's token.
    let stolen = rt.block_on(
        self::client(&emulator, KEY2, "us-east-1")
            .lookup_events()
            .lookup_attributes(source_attribute(INSPECTOR2))
            .max_results(5)
            .next_token(&token)
            .send(),
    );
    assert!(
        stolen
            .unwrap_err()
            .into_service_error()
            .is_invalid_next_token_exception()
    );

    let (code, message) = error_of(
        rt.block_on(
            self::client(&emulator, DENIED, "us-east-1")
                .lookup_events()
                .send(),
        ),
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("cloudtrail:LookupEvents"), "{message}");
    let (code, _) = error_of(
        rt.block_on(
            self::client(&emulator, KEY2, "ap-east-1")
                .lookup_events()
                .send(),
        ),
    );
    assert_eq!(code, "UnrecognizedClientException");
}

/// Starts a Lake query and polls it to a terminal status.
async fn run_query(client: &Client, sql: &str) -> (String, QueryStatus, Vec<QueryStatus>) {
    let id = client
        .start_query()
        .query_statement(sql)
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_owned();
    let mut seen = Vec::new();
    loop {
        let d = client.describe_query().query_id(&id).send().await.unwrap();
        let status = d.query_status().unwrap().clone();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if !matches!(status, QueryStatus::Queued | QueryStatus::Running) {
            return (id, status, seen);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// All result rows of a query as (column, value) lists.
async fn results(client: &Client, id: &str) -> Vec<Vec<(String, Option<String>)>> {
    let mut pages = client
        .get_query_results()
        .query_id(id)
        .max_query_results(1000)
        .into_paginator()
        .send();
    let mut rows = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert!(page.query_result_rows().len() <= 1000);
        for row in page.query_result_rows() {
            rows.push(
                row.iter()
                    .map(|cell| match cell.iter().next() {
                        Some((k, v)) => (k.clone(), Some(v.clone())),
                        None => (String::new(), None),
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[test]
fn lake_queries_run_sql_over_the_events_and_render_values_as_lake_does() {
    let emulator = Emulator::spawn(config(Limits::OFF, "")).unwrap();
    let eds = emulator.event_data_stores()[0].clone();
    let all = emulator.ground_truth();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");

    let stores = rt.block_on(client.list_event_data_stores().send()).unwrap();
    assert_eq!(
        stores.event_data_stores()[0].event_data_store_arn(),
        Some(eds.arn.as_str())
    );
    let got = rt
        .block_on(
            client
                .get_event_data_store()
                .event_data_store(&eds.id)
                .send(),
        )
        .unwrap();
    assert_eq!(got.name(), Some("trailq-emulator"));
    assert_eq!(got.multi_region_enabled(), Some(true));

    // Mixed-case names, a struct field, a map lookup, an aggregate without alias.
    let sql = format!(
        "SELECT eventID, eventTime, userIdentity.arn, element_at(requestParameters, 'action') AS action, \
         json_extract_scalar(element_at(requestParameters, 'filterCriteria'), '$.severity[0].value') AS severity \
         FROM {} WHERE eventName = 'CreateFilter' AND recipientAccountId = '{A1}' ORDER BY eventTime",
        eds.id
    );
    let (id, status, seen) = rt.block_on(run_query(&client, &sql));
    assert_eq!(status, QueryStatus::Finished);
    assert_eq!(seen[0], QueryStatus::Queued, "{seen:?}");
    assert!(seen.contains(&QueryStatus::Running), "{seen:?}");
    let rows = rt.block_on(results(&client, &id));
    let expected: BTreeSet<_> = all
        .iter()
        .filter(|e| e.account == A1 && e.event_name.as_deref() == Some("CreateFilter"))
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(rows.len(), expected.len());
    let columns: Vec<_> = rows[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        columns,
        ["eventID", "eventTime", "arn", "action", "severity"]
    );
    let suppress = rows
        .iter()
        .find(|r| {
            r[3].1.as_deref() == Some("SUPPRESS")
                && r[2]
                    .1
                    .as_deref()
                    .is_some_and(|a| a.ends_with("user/mallory"))
        })
        .expect("the planted SUPPRESS filter");
    assert_eq!(suppress[4].1.as_deref(), Some("CRITICAL"));
    let time = suppress[1].1.as_deref().unwrap();
    assert!(
        time.len() == 23 && time.as_bytes()[10] == b' ' && time.ends_with(".000"),
        "Lake's timestamp text: {time}"
    );
    let ids: BTreeSet<_> = rows.iter().map(|r| r[0].1.clone().unwrap()).collect();
    assert_eq!(ids, expected);

    // More than 5,000 rows page 1,000 at a time; unaliased expressions are _colN.
    let (id, status, _) = rt.block_on(run_query(
        &client,
        &format!(
            "SELECT eventID, upper(eventName) FROM {} WHERE eventTime > '2000-01-01 00:00:00'",
            eds.id
        ),
    ));
    assert_eq!(status, QueryStatus::Finished);
    let rows = rt.block_on(results(&client, &id));
    assert_eq!(rows.len(), all.len());
    assert!(all.len() > 5000);
    assert_eq!(rows[0][1].0, "_col1");
    let d = rt
        .block_on(client.describe_query().query_id(&id).send())
        .unwrap();
    let stats = d.query_statistics().unwrap();
    assert_eq!(stats.events_matched(), Some(all.len() as i64));
    assert_eq!(stats.events_scanned(), Some(all.len() as i64));
    assert!(stats.bytes_scanned().unwrap() > 0);

    // Structs and maps come back as Trino's text; eventJson is the record.
    let (id, _, _) = rt.block_on(run_query(
        &client,
        &format!("SELECT userIdentity, requestParameters, eventJson FROM {} WHERE eventName = 'CreateFilter' LIMIT 1", eds.id),
    ));
    let row = &rt.block_on(results(&client, &id))[0];
    assert!(
        row[0].1.as_deref().unwrap().starts_with("{type="),
        "{row:?}"
    );
    assert!(row[1].1.as_deref().unwrap().contains("action="), "{row:?}");
    let record: Value = serde_json::from_str(row[2].1.as_deref().unwrap()).unwrap();
    assert_eq!(record["eventName"], "CreateFilter");

    let listed = rt
        .block_on(client.list_queries().event_data_store(&eds.arn).send())
        .unwrap();
    assert_eq!(listed.queries().len(), 3);
    assert_eq!(
        listed.queries()[0].query_id(),
        Some(id.as_str()),
        "newest first"
    );
}

#[test]
fn lake_failures_cancellation_and_the_concurrency_limit() {
    let limits = Limits {
        concurrent_queries: Some(10),
        ..Limits::OFF
    };
    let mut cfg = config(limits, "");
    cfg.lake.queued = Duration::from_secs(30);
    let emulator = Emulator::spawn(cfg).unwrap();
    let eds = emulator.event_data_stores()[0].id.clone();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    // The query ID, or the service's error (boxed: SDK errors are large).
    let start = |sql: String| {
        rt.block_on(client.start_query().query_statement(sql).send())
            .map(|o| o.query_id().unwrap().to_owned())
            .map_err(|e| Box::new(e.into_service_error()))
    };

    for (sql, needle) in [
        (format!("DELETE FROM {eds}"), "only SELECT"),
        (format!("SELEC eventName FROM {eds}"), "not valid SQL"),
        (
            "SELECT eventName FROM 11111111-2222-3333-4444-555555555555".into(),
            "does not exist",
        ),
        (format!("SELECT nosuchcolumn FROM {eds}"), "nosuchcolumn"),
    ] {
        let e = start(sql.clone()).unwrap_err();
        assert!(e.is_invalid_query_statement_exception(), "{sql}: {e:?}");
        assert!(
            e.message().unwrap().contains(needle),
            "{sql}: {:?}",
            e.message()
        );
    }

    // Ten queries may be queued or running at once; the eleventh waits.
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(start(format!("SELECT eventID FROM {eds} LIMIT 1")).unwrap());
    }
    let e = start(format!("SELECT 1 FROM {eds}")).unwrap_err();
    assert!(e.is_max_concurrent_queries_exception(), "{e:?}");
    // Another account has its own ten.
    assert!(
        rt.block_on(
            self::client(&emulator, KEY2, "us-east-1")
                .start_query()
                .query_statement(format!("SELECT 1 FROM {eds}"))
                .send()
        )
        .is_ok()
    );
    let cancelled = rt
        .block_on(client.cancel_query().query_id(&ids[0]).send())
        .unwrap();
    assert_eq!(cancelled.query_status(), &QueryStatus::Cancelled);
    let d = rt
        .block_on(client.describe_query().query_id(&ids[0]).send())
        .unwrap();
    assert_eq!(d.query_status(), Some(&QueryStatus::Cancelled));
    let again = rt.block_on(client.cancel_query().query_id(&ids[0]).send());
    assert!(
        again
            .unwrap_err()
            .into_service_error()
            .is_inactive_query_exception()
    );
    assert!(
        start(format!("SELECT 1 FROM {eds}")).is_ok(),
        "a slot is free again"
    );
    let e = rt
        .block_on(
            client
                .describe_query()
                .query_id("00000000-0000-4000-8000-000000000000")
                .send(),
        )
        .unwrap_err()
        .into_service_error();
    assert!(e.is_query_id_not_found_exception());
}

#[test]
fn failed_queries_say_why() {
    let emulator = Emulator::spawn(config(Limits::OFF, "query-fail@2-2")).unwrap();
    let eds = emulator.event_data_stores()[0].id.clone();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    // Plans, then fails while running: a value that is not a number.
    let (id, status, _) = rt.block_on(run_query(
        &client,
        &format!("SELECT CAST(eventName AS INTEGER) AS n FROM {eds}"),
    ));
    assert_eq!(status, QueryStatus::Failed);
    let d = rt
        .block_on(client.describe_query().query_id(&id).send())
        .unwrap();
    assert!(
        d.error_message().unwrap().contains("Cast"),
        "{:?}",
        d.error_message()
    );
    let r = rt
        .block_on(client.get_query_results().query_id(&id).send())
        .unwrap();
    assert_eq!(r.query_status(), Some(&QueryStatus::Failed));
    assert!(r.query_result_rows().is_empty());
    // The injected fault: the second query fails as Lake's do under load.
    let (id, status, _) = rt.block_on(run_query(&client, &format!("SELECT eventID FROM {eds}")));
    assert_eq!(status, QueryStatus::Failed);
    let d = rt
        .block_on(client.describe_query().query_id(&id).send())
        .unwrap();
    assert_eq!(
        d.error_message(),
        Some("Query exhausted resources at this scale factor")
    );
}

#[test]
fn lookup_events_is_held_to_two_requests_a_second_per_account_and_region() {
    let emulator = Emulator::spawn(config(Limits::AWS, "")).unwrap();
    let rt = runtime();
    let started = Instant::now();
    // Four clients hammer one account-region, one client another region: far above 2/s.
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, region) in [
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "eu-west-1",
        ]
        .iter()
        .enumerate()
        {
            // No retries: every request the client makes reaches the limiter once.
            let client = client_with(&emulator, KEY1, region, RetryConfig::disabled());
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut throttled) = (0, 0);
                while started.elapsed() < Duration::from_secs(3) {
                    match client.lookup_events().max_results(1).send().await {
                        Ok(_) => ok += 1,
                        Err(e) if e.code() == Some("ThrottlingException") => throttled += 1,
                        Err(e) => panic!("client {i}: {e:?}"),
                    }
                }
                (ok, throttled)
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let rates = emulator.rates();
    for r in &rates {
        eprintln!(
            "emulator measured {} {} {}: accepted {}, throttled {}, at most {} in any 1-second window (limit {:?}/s)",
            r.account,
            r.region,
            r.operation,
            r.accepted,
            r.throttled,
            r.max_in_any_second,
            r.limit_per_second
        );
    }
    let hammered = rates
        .iter()
        .find(|r| r.region == "us-east-1" && r.operation == "LookupEvents")
        .unwrap();
    assert!(
        hammered.throttled > 0,
        "the clients asked for more than 2/s"
    );
    assert!(hammered.accepted >= 4, "the limit is 2/s, not less");
    for r in rates.iter().filter(|r| r.operation == "LookupEvents") {
        assert!(r.max_in_any_second <= 2, "{r:?}");
    }
}

#[test]
fn paging_survives_injected_faults() {
    let faults = "503@2-2/LookupEvents,reset@4-4/LookupEvents,500@every:7/LookupEvents,throttle:3@9-9/LookupEvents,slow:200ms@11-11/LookupEvents";
    let emulator = Emulator::spawn(config(Limits::OFF, faults)).unwrap();
    let all = emulator.ground_truth();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    let (start, end) = (NOW - 90 * DAY, NOW);
    let (ids, _) = rt
        .block_on(lookup_all(&client, INSPECTOR2, start, end))
        .unwrap();
    let got: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(got.len(), ids.len(), "no event twice");
    assert_eq!(got, truth(&all, A1, "us-east-1", INSPECTOR2, start, end));
    let faulted: u64 = emulator.rates().iter().map(|r| r.faulted).sum();
    assert!(faulted >= 6, "faults were injected: {faulted}");

    // An expired token is not retried: the client has to start over.
    let emulator = Emulator::spawn(config(Limits::OFF, "expired-token@1-1")).unwrap();
    let client = self::client(&emulator, KEY1, "us-east-1");
    let e = rt
        .block_on(lookup_all(&client, INSPECTOR2, start, end))
        .unwrap_err();
    assert!(
        e.contains("InvalidNextTokenException") && e.contains("expired"),
        "{e}"
    );
}

#[test]
fn the_aws_cli_pages_lookup_events_and_runs_lake_queries() {
    let emulator = Emulator::spawn(config(Limits::AWS, "")).unwrap();
    let url = emulator.endpoint_url();
    let all = emulator.ground_truth();
    let (start, end) = (NOW - 90 * DAY, NOW);
    let iso = |t: i64| trailq_events::time::format_micros(t);
    // Inspector Scan: a few pages, so the CLI's own pagination (botocore) is exercised at 2/s.
    let o = aws_cli(
        &url,
        KEY1,
        "eu-west-1",
        &[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            &format!("AttributeKey=EventSource,AttributeValue={INSPECTOR_SCAN}"),
            "--start-time",
            &iso(start),
            "--end-time",
            &iso(end),
            "--page-size",
            "20",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ids: BTreeSet<String> = out["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventId"].as_str().unwrap().to_owned())
        .collect();
    let expected = truth(&all, A1, "eu-west-1", INSPECTOR_SCAN, start, end);
    assert!(expected.len() > 20, "more than one page");
    assert_eq!(ids, expected);

    // The documented errors reach the CLI user.
    let fails = |args: &[&str], code: &str| {
        let o = aws_cli(&url, KEY1, "us-east-1", args);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(code), "{args:?}: {}", stderr(&o));
    };
    fails(
        &[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=Disable",
            "AttributeKey=EventSource,AttributeValue=inspector2.amazonaws.com",
        ],
        "InvalidLookupAttributesException",
    );
    fails(
        &[
            "cloudtrail",
            "lookup-events",
            "--start-time",
            "2026-11-20T00:00:00Z",
            "--end-time",
            "2026-11-01T00:00:00Z",
        ],
        "InvalidTimeRangeException",
    );
    fails(
        &[
            "cloudtrail",
            "lookup-events",
            "--starting-token",
            "bm90LWEtdG9rZW4",
        ],
        "InvalidNextTokenException",
    );
    fails(
        &[
            "cloudtrail",
            "start-query",
            "--query-statement",
            "SELECT FROM WHERE",
        ],
        "InvalidQueryStatementException",
    );

    // A Lake query from start to results.
    let eds = &emulator.event_data_stores()[0].id;
    let o = aws_cli(
        &url,
        KEY1,
        "us-east-1",
        &[
            "cloudtrail",
            "start-query",
            "--query-statement",
            &format!(
                "SELECT eventName, count(*) AS n FROM {eds} WHERE eventSource = '{INSPECTOR2}' AND recipientAccountId = '{A1}' GROUP BY eventName ORDER BY n DESC"
            ),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let id = serde_json::from_str::<Value>(&stdout(&o)).unwrap()["QueryId"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let results = loop {
        let o = aws_cli(
            &url,
            KEY1,
            "us-east-1",
            &["cloudtrail", "get-query-results", "--query-id", &id],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
        if r["QueryStatus"] == "FINISHED" {
            break r;
        }
        assert!(Instant::now() < deadline, "query never finished: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows = results["QueryResultRows"].as_array().unwrap();
    let total: u64 = rows
        .iter()
        .map(|r| r[1]["n"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    let expected = all
        .iter()
        .filter(|e| e.account == A1 && e.event_source.as_deref() == Some(INSPECTOR2))
        .count() as u64;
    assert_eq!(
        total, expected,
        "counts are strings that add up to the events held"
    );
    assert_eq!(rows[0][0]["eventName"], "ListFindings", "reads dominate");
}

/// Starts `trailq emulator` (`command`), waits for its first line and returns the process, the
/// URL it serves on, and the thread that keeps reading its stdout (a closed pipe would stop the
/// emulator, as `trailq … | head` should).
fn serving(
    command: &mut std::process::Command,
) -> (
    std::process::Child,
    String,
    std::thread::JoinHandle<std::io::Result<u64>>,
) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    lines.read_line(&mut first).unwrap();
    let drain = std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let url = first
        .trim()
        .strip_prefix("trailq emulator listening on ")
        .unwrap_or_else(|| panic!("first line says where: {first}"))
        .to_owned();
    (child, url, drain)
}

#[test]
fn the_emulator_command_serves_until_stopped_and_writes_its_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let truth_file = dir.path().join("truth.jsonl");
    let mut command = trailq_command();
    command
        .args([
            "emulator",
            "--port",
            "0",
            "--days",
            "10",
            "--events-per-day",
            "200",
            "--now",
            "2026-11-20T12:00:00Z",
            "--ground-truth",
        ])
        .arg(&truth_file)
        .stderr(Stdio::piped());
    let (mut child, url, drain) = serving(&mut command);
    let o = aws_cli(
        &url,
        "AKIAANYKEY",
        "us-east-1",
        &["cloudtrail", "lookup-events", "--max-items", "3"],
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = drain.join();
    assert!(o.status.success(), "{}", stderr(&o));
    let events = serde_json::from_str::<Value>(&stdout(&o)).unwrap()["Events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(events, 3);
    let truth = std::fs::read_to_string(&truth_file).unwrap();
    let lines: Vec<Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.len() > 1500,
        "10 days × 200 events, all accounts: {}",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|l| l["eventId"].is_string() && l["account"].is_string())
    );
}

#[test]
fn a_query_that_runs_too_long_times_out() {
    let mut cfg = config(Limits::OFF, "");
    cfg.lake.timeout = Duration::from_millis(100);
    let emulator = Emulator::spawn(cfg).unwrap();
    let eds = emulator.event_data_stores()[0].id.clone();
    let rt = runtime();
    let client = client(&emulator, KEY1, "us-east-1");
    // Every pair of events: billions of rows, far more than 100 ms of work.
    let (id, status, _) = rt.block_on(run_query(
        &client,
        &format!("SELECT count(*) FROM {eds} a CROSS JOIN {eds} b WHERE a.eventID <> b.eventID"),
    ));
    assert_eq!(status, QueryStatus::TimedOut);
    let d = rt
        .block_on(client.describe_query().query_id(&id).send())
        .unwrap();
    assert!(
        d.error_message().unwrap().contains("timed out"),
        "{:?}",
        d.error_message()
    );
}

#[test]
fn the_emulator_serves_records_loaded_from_files() {
    let files = vec![crate::util::corpus().join("trail_files")];
    // What the files hold, read the way `trailq emulator --load` reads them.
    let loaded = trailq::pipeline::read_records(&files).unwrap();
    let (store, report) = trailq_emulator::store::EventStore::from_records(loaded.records.clone());
    assert!(
        store.len() > 50,
        "{} events loaded: {:?}",
        store.len(),
        report.problems
    );
    let truth = store.ground_truth();
    let newest = truth.iter().max_by_key(|e| e.event_time_micros).unwrap();
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Records(loaded.records),
        default_account: Some(newest.account.clone()),
        limits: Limits::OFF,
        ..EmulatorConfig::default()
    })
    .unwrap();
    assert_eq!(emulator.event_count(), store.len());
    // The clock starts just after the newest record, so Event history reaches it.
    let rt = runtime();
    let attr = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventId)
        .attribute_value(&newest.event_id)
        .build()
        .unwrap();
    let found = rt
        .block_on(
            client(&emulator, "AKIAANYKEY", &newest.region)
                .lookup_events()
                .lookup_attributes(attr)
                .send(),
        )
        .unwrap();
    assert_eq!(found.events().len(), 1);
    let record: Value =
        serde_json::from_str(found.events()[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(record["eventID"].as_str(), Some(newest.event_id.as_str()));
}

/// CPU seconds a process has used (Linux: /proc/PID/stat, utime + stime in clock ticks of 1/100 s).
#[cfg(target_os = "linux")]
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_the_emulator_waits_instead_of_spinning() {
    // `ulimit -n 64`: a few dozen connections use up the emulator's descriptors.
    let log_dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "ulimit -n 64 && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_trailq"))
        .args([
            "emulator",
            "--port",
            "0",
            "--days",
            "2",
            "--events-per-day",
            "20",
        ])
        // Kept for the failure message, which showed why this test failed in loaded CI runs
        // (every request refused after the drop): the emulator built the runtime that waits for
        // Ctrl-C after printing its address, and the held connections had taken the descriptors
        // it needed ("cannot wait for Ctrl-C: Too many open files"). It is built first now.
        .stderr(std::fs::File::create(log_dir.path().join("stderr")).unwrap());
    let (mut child, url, drain) = serving(&mut command);
    let addr = url.strip_prefix("http://").unwrap().to_owned();
    // Idle connections, more than it has descriptors for: the kernel queues the rest. Under a
    // loaded CI run a few connects were once refused (cause not found; the emulator served again
    // afterwards is asserted below), so what matters is holding more than its 64 descriptors.
    let held: Vec<std::net::TcpStream> = (0..120)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    assert!(held.len() > 64, "only {} connections held", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let busy = (cpu_seconds(child.id()) - before) / 2.0;
    drop(held);
    // Once connections close, it serves again: within seconds (under a loaded test run one
    // request failed right after the drop, while the queued connections were being accepted
    // and closed).
    let mut o = None;
    for _ in 0..15 {
        let answer = aws_cli(
            &url,
            "AKIAANYKEY",
            "us-east-1",
            &["cloudtrail", "lookup-events", "--max-items", "1"],
        );
        let served = answer.status.success();
        o = Some(answer);
        if served {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let o = o.expect("asked at least once");
    let state = match child.try_wait() {
        Ok(Some(status)) => format!("had exited ({status})"),
        _ => "was still running".to_owned(),
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = drain.join();
    // A spinning accept loop keeps a core busy (92% before the fix); waiting uses next to none.
    assert!(
        busy < 0.3,
        "the emulator used {:.0}% of a core while out of descriptors",
        busy * 100.0
    );
    assert!(
        o.status.success(),
        "{}\nthe emulator {state}; its stderr:\n{}",
        stderr(&o),
        std::fs::read_to_string(log_dir.path().join("stderr")).unwrap_or_default()
    );
}
