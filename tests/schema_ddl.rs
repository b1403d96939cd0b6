//! `trailq schema`: the tree users read, and DDL that really opens a dataset.

use std::fs;

use crate::util::*;

#[test]
fn the_duckdb_ddl_and_the_local_engine_open_a_dataset_whatever_its_folder_is_called() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    fs::write(
        &input,
        r#"{"Records":[{"eventTime":"2024-05-01T10:00:00Z","eventID":"d-1","eventSource":"inspector2.amazonaws.com","eventName":"Disable","userIdentity":{"arn":"arn:aws:iam::1:user/bob"}}]}"#,
    )
    .unwrap();
    // A sibling that a glob made of the name would match as well (`ds?1?` matches `dsX1Y`).
    let decoy = dir.path().join("dsX1Y");
    assert_eq!(convert(&[&input], &decoy).0, 0);
    // Glob characters, a space, a quote and Unicode: DuckDB and DataFusion read paths as globs.
    for name in ["ds", "ds[1]", "a*b ? c", "it's ü"] {
        let out = dir.path().join(name);
        assert_eq!(convert(&[&input], &out).0, 0, "{name}");
        let ddl = trailq(["schema", "--ddl", "duckdb", out.to_str().unwrap()]);
        assert!(ddl.status.success(), "{}", stderr(&ddl));
        let rows = duckdb(&format!(
            "{} SELECT eventName, userIdentity.arn AS arn, event_date::VARCHAR AS d FROM cloudtrail_events",
            stdout(&ddl)
        ));
        assert_eq!(
            rows,
            vec![
                serde_json::json!({"eventName": "Disable", "arn": "arn:aws:iam::1:user/bob", "d": "2024-05-01"})
            ],
            "{name}"
        );
        let o = trailq([
            "queries",
            "run",
            "top-callers",
            "--data",
            out.to_str().unwrap(),
            "--param",
            "start=2024-01-01",
            "--format",
            "csv",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(
            stdout(&o)
                .lines()
                .nth(1)
                .unwrap_or_default()
                .split(',')
                .next(),
            Some("arn:aws:iam::1:user/bob"),
            "{name}: {}",
            stdout(&o)
        );
        assert!(stderr(&o).contains("1 row;"), "{name}: {}", stderr(&o));
    }
}

#[test]
fn the_tree_and_athena_ddl_describe_every_column() {
    let tree = stdout(&trailq(["schema"]));
    for column in [
        "eventVersion",
        "userIdentity",
        "  sessionContext",
        "requestParameters",
        "tlsDetails",
        "eventJson",
        "event_date",
    ] {
        assert!(tree.contains(column), "{column} missing from\n{tree}");
    }
    let athena = trailq(["schema", "--ddl", "athena", "s3://bucket/inspector/"]);
    assert!(athena.status.success());
    let ddl = stdout(&athena);
    assert!(
        ddl.contains("PARTITIONED BY (`event_date` string)"),
        "{ddl}"
    );
    assert!(
        ddl.contains("'projection.event_date.type' = 'date'"),
        "{ddl}"
    );
    let local = trailq(["schema", "--ddl", "athena", "/tmp/ds"]);
    assert_eq!(local.status.code(), Some(2));
    assert!(stderr(&local).contains("give the dataset's s3:// prefix"));
}
