//! `trailq schema`: the tree users read, and DDL that really opens a dataset.

use std::fs;

use crate::util::*;

#[test]
fn the_duckdb_ddl_opens_a_converted_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    fs::write(
        &input,
        r#"{"Records":[{"eventTime":"2024-05-01T10:00:00Z","eventID":"d-1","eventName":"Disable","userIdentity":{"arn":"arn:aws:iam::1:user/bob"}}]}"#,
    )
    .unwrap();
    let out = dir.path().join("ds");
    assert_eq!(convert(&[&input], &out).0, 0);
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
        ]
    );
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
