//! `trailq query`, `stores` and `history` (the real binary) against the emulator's Lake.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use trailq_emulator::generate::{Generator, GeneratorConfig};
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::store::EventStore;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

use crate::util::{aws_cli, duckdb, stderr, stdout, trailq_command};

const NOW: i64 = 1_795_176_000_000_000;

fn generator() -> GeneratorConfig {
    GeneratorConfig {
        seed: 21,
        now_micros: NOW,
        days: 30,
        events_per_day: 250,
        accounts: vec!["111122223333".into(), "444455556666".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        noise: 0.3,
    }
}

fn emulator(queued: Duration) -> Emulator {
    Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(generator()),
        limits: Limits {
            // StartQuery's 1/s would only slow the tests down; the slot limit is what they test.
            lake_write: None,
            ..Limits::AWS
        },
        lake: LakeTiming {
            queued,
            running: Duration::from_millis(30),
            timeout: Duration::from_secs(60),
        },
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn command(emulator: &Emulator, args: &[&str]) -> Command {
    let mut c = trailq_command();
    c.args(args)
        .args([
            "--endpoint-url",
            &emulator.endpoint_url(),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIAQUERYTEST")
        .env("AWS_SECRET_ACCESS_KEY", "x");
    c
}

fn run(emulator: &Emulator, args: &[&str]) -> Output {
    command(emulator, args).output().unwrap()
}

fn eds(emulator: &Emulator) -> String {
    emulator.event_data_stores()[0].id.clone()
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The same SQL on the same events, run here on the embedded engine with Lake's dialect.
fn locally(sql: &str) -> Vec<RecordBatch> {
    let store = EventStore::generated(&Generator::new(generator()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let batches: Vec<RecordBatch> = store
            .record_batches()
            .unwrap()
            .iter()
            .map(|b| trailq_lake_sql::lowercase::lowercase_batch(b).unwrap())
            .collect();
        let schema = batches[0].schema();
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
        let ctx = trailq_lake_sql::lake_context(NOW);
        ctx.register_table("events", std::sync::Arc::new(table))
            .unwrap();
        let prepared = trailq_lake_sql::dialect::prepare(sql, |_| Some("events".into())).unwrap();
        ctx.sql(&prepared.sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
    })
}

#[test]
fn results_have_the_rows_and_types_the_same_sql_gives_locally() {
    let emulator = emulator(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("by-name.parquet");
    let sql = "SELECT eventName, count(*) AS n, min(eventTime) AS first_seen, avg(length(eventID)) AS idlen \
               FROM {{eds}} WHERE eventSource = {{source}} GROUP BY eventName ORDER BY n DESC, eventName";
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            sql,
            "--eds",
            &eds(&emulator),
            "--param",
            "source=inspector2.amazonaws.com",
            "--format",
            "parquet",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["status"], "FINISHED");
    assert!(summary["bytesScanned"].as_i64().unwrap() > 0);
    assert!(summary["estimatedCostUsd"].as_f64().unwrap() > 0.0);

    let got = read_parquet(&out);
    let local = locally(
        &sql.replace("{{eds}}", "x")
            .replace("{{source}}", "'inspector2.amazonaws.com'"),
    );
    let types: Vec<DataType> = got[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Utf8,
            DataType::Int64,
            trailq_events::schema::timestamp_type(),
            DataType::Float64
        ]
    );
    let rows = |batches: &[RecordBatch]| -> Vec<(String, i64, i64)> {
        batches
            .iter()
            .flat_map(|b| {
                let names = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                let names = names.as_string::<i32>().clone();
                let n = b.column(1).as_primitive::<Int64Type>().clone();
                let first =
                    arrow::compute::cast(b.column(2), &trailq_events::schema::timestamp_type())
                        .unwrap();
                let first = first.as_primitive::<TimestampMicrosecondType>().clone();
                (0..b.num_rows())
                    .map(move |i| (names.value(i).to_owned(), n.value(i), first.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(rows(&got), rows(&local));
    assert!(rows(&got).len() > 10);
    // The same file read by DuckDB.
    let duck = duckdb(&format!(
        "SELECT sum(n) AS total FROM read_parquet('{}')",
        out.display()
    ));
    let total: i64 = rows(&local).iter().map(|r| r.1).sum();
    // DuckDB's JSON mode may print a BIGINT as a string.
    assert_eq!(
        duck[0]["total"].to_string().trim_matches('"'),
        total.to_string()
    );
}

#[test]
fn thousands_of_rows_page_through_and_a_query_id_fetches_them_again() {
    let emulator = emulator(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let (csv, jsonl) = (dir.path().join("ids.csv"), dir.path().join("ids.jsonl"));
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            "SELECT eventID, eventTime, readOnly FROM {{eds}} ORDER BY eventTime",
            "--eds",
            &eds(&emulator),
            "--format",
            "csv",
            "--out",
            csv.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("eventID,eventTime,readOnly"));
    let ids: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert!(ids.len() > 5000, "{} rows", ids.len());
    assert_eq!(ids.len(), emulator.event_count());

    let id = summary["queryId"].as_str().unwrap();
    let o = run(
        &emulator,
        &[
            "query",
            "--query-id",
            id,
            "--format",
            "jsonl",
            "--out",
            jsonl.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let again: Vec<String> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["eventID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(again, ids);
}

#[test]
fn a_failed_query_shows_lakes_message_and_the_statement() {
    let emulator = emulator(Duration::from_millis(30));
    let sql = "SELECT CAST(eventName AS INTEGER) AS n\nFROM {{eds}}";
    let o = run(
        &emulator,
        &["query", "--sql", sql, "--eds", &eds(&emulator), "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("ended FAILED") && e.contains("Cast"), "{e}");
    assert!(
        e.contains("SELECT CAST(eventName AS INTEGER) AS n"),
        "the statement: {e}"
    );
    // Bad SQL is refused when the query starts.
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            "SELEC 1 FROM {{eds}}",
            "--eds",
            &eds(&emulator),
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("InvalidQueryStatementException"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ctrl_c_cancels_the_query_on_lake() {
    let emulator = emulator(Duration::from_secs(60));
    let child = command(
        &emulator,
        &[
            "query",
            "--sql",
            "SELECT eventID FROM {{eds}}",
            "--eds",
            &eds(&emulator),
            "--quiet",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until the query is on Lake, then interrupt as a terminal would.
    let listed = || {
        let o = aws_cli(
            &emulator.endpoint_url(),
            "AKIAQUERYTEST",
            "us-east-1",
            &[
                "cloudtrail",
                "list-queries",
                "--event-data-store",
                &eds(&emulator),
            ],
        );
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["Queries"]
            .as_array()
            .unwrap()
            .clone()
    };
    for _ in 0..100 {
        if !listed().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("cancelled query"), "{}", stderr(&o));
    // Not the export's "finished slices are in the dataset": a query keeps nothing.
    assert!(
        stderr(&o).contains("interrupted: no output was written"),
        "{}",
        stderr(&o)
    );
    let queries = listed();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0]["QueryStatus"], "CANCELLED");
}

#[test]
fn a_full_house_of_queries_is_waited_out() {
    // Queued long enough for ten AWS CLI starts, run side by side, to fill the slots.
    let emulator = emulator(Duration::from_secs(8));
    let url = emulator.endpoint_url();
    let sql = format!("SELECT eventID FROM {} LIMIT 1", eds(&emulator));
    let starts: Vec<_> = (0..10)
        .map(|_| {
            let (url, sql) = (url.clone(), sql.clone());
            std::thread::spawn(move || {
                aws_cli(
                    &url,
                    "AKIAQUERYTEST",
                    "us-east-1",
                    &["cloudtrail", "start-query", "--query-statement", &sql],
                )
            })
        })
        .collect();
    for s in starts {
        let o = s.join().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = aws_cli(
        &url,
        "AKIAQUERYTEST",
        "us-east-1",
        &[
            "cloudtrail",
            "start-query",
            "--query-statement",
            &format!("SELECT 1 FROM {}", eds(&emulator)),
        ],
    );
    assert!(
        stderr(&o).contains("MaxConcurrentQueriesException"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            "SELECT count(*) AS n FROM {{eds}}",
            "--eds",
            &eds(&emulator),
            "--format",
            "json",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows[0]["n"], emulator.event_count());
}

#[test]
fn parameter_values_cannot_change_the_statement() {
    let emulator = emulator(Duration::from_millis(30));
    let sql = "SELECT eventID FROM {{eds}} WHERE eventName = {{name}}";
    for evil in [
        "x'; DROP TABLE t; --",
        "' OR '1'='1",
        "Disable' UNION SELECT eventJson FROM y --",
    ] {
        let o = run(
            &emulator,
            &[
                "query",
                "--sql",
                sql,
                "--eds",
                &eds(&emulator),
                "--param",
                &format!("name={evil}"),
                "--format",
                "csv",
                "--quiet",
            ],
        );
        assert!(o.status.success(), "{evil}: {}", stderr(&o));
        assert_eq!(
            stdout(&o).trim(),
            "eventID",
            "no rows match the literal text {evil:?}"
        );
    }
    for evil in ["x; DELETE FROM y", "a b", "x'--"] {
        let o = run(
            &emulator,
            &[
                "query",
                "--sql",
                sql,
                "--eds",
                evil,
                "--param",
                "name=Disable",
                "--quiet",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{evil}");
        let o = run(
            &emulator,
            &[
                "query",
                "--sql",
                sql,
                "--param",
                &format!("eds={evil}"),
                "--param",
                "name=Disable",
                "--quiet",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{evil}");
        assert!(
            stderr(&o).contains("not a valid event data store ID"),
            "{}",
            stderr(&o)
        );
    }
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            "SELECT 1 FROM {{eds}} WHERE eventName = '{{name}}'",
            "--eds",
            &eds(&emulator),
            "--param",
            "name=x",
        ],
    );
    assert!(
        stderr(&o).contains("inside a quoted string"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn every_format_round_trips_and_the_table_reads_well() {
    let emulator = emulator(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT eventName, count(*) AS n, max(eventTime) AS last_seen FROM {{eds}} \
               WHERE eventSource = 'inspector.amazonaws.com' GROUP BY eventName ORDER BY n DESC, eventName LIMIT 3";
    let base = ["query", "--sql", sql, "--eds", &eds(&emulator), "--quiet"];
    let fetch = |format: &str| {
        let o = run(&emulator, &[&base[..], &["--format", format]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let json: Vec<BTreeMap<String, Value>> = serde_json::from_str(&fetch("json")).unwrap();
    assert_eq!(json.len(), 3);
    let jsonl: Vec<BTreeMap<String, Value>> = fetch("jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(jsonl, json);
    assert!(json[0]["n"].is_i64(), "counts are numbers: {:?}", json[0]);
    let csv = fetch("csv");
    let csv_rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(csv_rows[0], ["eventName", "n", "last_seen"]);
    for (row, j) in csv_rows[1..].iter().zip(&json) {
        assert_eq!(row[0], j["eventName"].as_str().unwrap());
        assert_eq!(row[1], j["n"].to_string());
    }
    // The seeded data is the same every run: the table is a snapshot.
    let table = fetch("table");
    assert_eq!(
        table,
        "\
+--------------------+----+----------------------+
| eventName          | n  | last_seen            |
+--------------------+----+----------------------+
| ListFindings       | 84 | 2026-11-19T11:46:10Z |
| DescribeFindings   | 62 | 2026-11-18T15:06:59Z |
| ListAssessmentRuns | 33 | 2026-11-19T22:15:11Z |
+--------------------+----+----------------------+
"
    );
    for j in &json {
        assert!(table.contains(j["eventName"].as_str().unwrap()), "{table}");
    }
    let parquet = dir.path().join("top.parquet");
    let o = run(
        &emulator,
        &[
            &base[..],
            &["--format", "parquet", "--out", parquet.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let duck = duckdb(&format!(
        "SELECT eventName, n FROM read_parquet('{}') ORDER BY n DESC, eventName",
        parquet.display()
    ));
    for (d, j) in duck.iter().zip(&json) {
        assert_eq!(d["eventName"], j["eventName"]);
        assert_eq!(d["n"], j["n"]);
    }
    let o = run(&emulator, &[&base[..], &["--format", "parquet"]].concat());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--out"), "{}", stderr(&o));
}

#[test]
fn stores_and_history_list_what_lake_has() {
    let emulator = emulator(Duration::from_millis(30));
    let o = run(&emulator, &["stores"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&eds(&emulator))
            && text.contains("trailq-emulator")
            && text.contains("ENABLED"),
        "{text}"
    );
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            "SELECT count(*) AS n FROM {{eds}}",
            "--eds",
            "trailq-emulator",
            "--quiet",
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success(), "by name: {}", stderr(&o));
    let o = run(
        &emulator,
        &["history", "--eds", "trailq-emulator", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let history: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(history[0]["status"], "FINISHED");
    assert!(
        history[0]["statement"]
            .as_str()
            .unwrap()
            .starts_with("SELECT count(*) AS n FROM ")
    );
}

#[test]
fn digit_strings_and_ids_keep_their_text_in_every_format() {
    let emulator = emulator(Duration::from_millis(30));
    // Lake sends every value as a string; only values that print back identically become numbers.
    let sql = "SELECT '012345678901' AS padded, recipientAccountId AS member, 'inf' AS word, \
               '1.50' AS price, 7 AS n, 2.5 AS x FROM {{eds}} LIMIT 1";
    let o = run(
        &emulator,
        &[
            "query",
            "--sql",
            sql,
            "--eds",
            &eds(&emulator),
            "--quiet",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<BTreeMap<String, Value>> = serde_json::from_str(&stdout(&o)).unwrap();
    let row = &rows[0];
    assert_eq!(row["padded"], Value::from("012345678901"));
    assert!(
        row["member"].is_string(),
        "an account ID stays text: {row:?}"
    );
    assert_eq!(row["word"], Value::from("inf"));
    assert_eq!(row["price"], Value::from("1.50"));
    assert_eq!(row["n"], Value::from(7));
    assert_eq!(row["x"], Value::from(2.5));
}

#[test]
fn an_unwritable_out_fails_before_the_query_runs() {
    let emulator = emulator(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder/r.csv");
    for out in [dir.path(), missing.as_path()] {
        let o = run(
            &emulator,
            &[
                "query",
                "--sql",
                "SELECT count(*) AS n FROM {{eds}}",
                "--eds",
                &eds(&emulator),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).starts_with(&format!("error: cannot write `{}`", out.display())),
            "{}",
            stderr(&o)
        );
    }
    // Lake never saw a query, so nothing was billed.
    let o = run(&emulator, &["history", "--eds", &eds(&emulator), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        Value::Array(vec![])
    );
}
