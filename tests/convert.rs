//! `trailq convert`: real records in, a dataset DuckDB reads out, nothing lost or duplicated.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::TimestampMicrosecondType;
use serde_json::Value;

use crate::util::*;

pub fn record(id: &str, time: &str, name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"eventTime":"{time}","eventSource":"inspector2.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","requestParameters":{{"maxResults":12345678901234567890,"filterName":"hide-critical"}},"responseElements":null,"eventID":"{id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#
    )
}

pub fn trail_file(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

/// Does this corpus line have an eventTime a CloudTrail reader must accept? (the test's oracle:
/// ISO-8601 date and time, whatever the separator or fraction; `redacted` and absent are not)
fn has_time(v: &Value) -> bool {
    v.get("eventTime").and_then(Value::as_str).is_some_and(|t| {
        let b = t.as_bytes();
        b.len() >= 19
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && (b[10] == b'T' || b[10] == b' ')
    })
}

#[test]
fn every_corpus_record_lands_once_or_is_rejected_for_its_time() {
    let input = corpus().join("real-records.jsonl");
    let lines: Vec<String> = fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() > 1000);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accepted: Vec<usize> = (0..lines.len()).filter(|&i| has_time(&parsed[i])).collect();
    // The parser matches keys case-insensitively (a few producers write `eventId`).
    let ids = |i: &usize| {
        parsed[*i].as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("eventID"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
        })
    };
    // A duplicate is the same eventID on the same UTC day (CloudTrail's re-deliveries share
    // eventTime); documentation examples reuse placeholder ids for different events on other days.
    let day = |i: &usize| parsed[*i]["eventTime"].as_str().unwrap()[..10].to_owned();
    let distinct_ids: HashSet<(String, String)> = accepted
        .iter()
        .filter_map(|i| Some((day(i), ids(i)?)))
        .collect();
    let without_id = accepted.iter().filter(|i| ids(i).is_none()).count();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let (code, summary, _) = convert(&[&input], &out);
    assert_eq!(
        code, 1,
        "some corpus records have no eventTime: exit status 1"
    );
    assert_eq!(summary["records_read"], lines.len());
    assert_eq!(summary["records_rejected"], lines.len() - accepted.len());
    assert_eq!(summary["rows_written"], distinct_ids.len() + without_id);
    assert_eq!(
        summary["duplicates_dropped"],
        accepted.len() - distinct_ids.len() - without_id
    );

    // eventJson is each record byte for byte, and every accepted record is there (or its eventID).
    let event_json: HashSet<String> = strings(&out, "eventJson").into_iter().flatten().collect();
    let dataset_ids: HashSet<String> = strings(&out, "eventID").into_iter().flatten().collect();
    let input_lines: HashSet<&String> = lines.iter().collect();
    assert!(event_json.iter().all(|j| input_lines.contains(j)));
    for i in &accepted {
        assert!(
            event_json.contains(&lines[*i]) || ids(i).is_some_and(|id| dataset_ids.contains(&id)),
            "line {} is missing",
            i + 1
        );
    }

    // Every rejected line is in rejected.jsonl with its line, reason and whole text.
    let rejected: Vec<Value> = fs::read_to_string(out.join("_trailq/rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejected.len(), lines.len() - accepted.len());
    for r in &rejected {
        let line: usize = r["position"].as_str().unwrap()["line ".len()..]
            .parse()
            .unwrap();
        assert_eq!(r["record"].as_str().unwrap(), lines[line - 1]);
        assert!(!has_time(&parsed[line - 1]));
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("eventTime"), "{reason}");
    }
}

#[test]
fn typed_columns_agree_with_the_record_text_in_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    convert(&[&corpus().join("real-records.jsonl")], &out);
    let ds = dataset_sql(&out);
    // DuckDB's own JSON functions are the oracle: any row where a typed column disagrees with the
    // record's text is a parser bug.
    let checks = [
        "eventName IS DISTINCT FROM json_extract_string(eventJson, '$.eventName')",
        "eventSource IS DISTINCT FROM json_extract_string(eventJson, '$.eventSource')",
        "awsRegion IS DISTINCT FROM json_extract_string(eventJson, '$.awsRegion')",
        "errorCode IS DISTINCT FROM json_extract_string(eventJson, '$.errorCode')",
        "userIdentity.arn IS DISTINCT FROM json_extract_string(eventJson, '$.userIdentity.arn')",
        "userIdentity.type IS DISTINCT FROM json_extract_string(eventJson, '$.userIdentity.type')",
        "readOnly IS DISTINCT FROM TRY_CAST(json_extract_string(eventJson, '$.readOnly') AS BOOLEAN)",
        "requestParameters['bucketName'] IS DISTINCT FROM json_extract_string(eventJson, '$.requestParameters.bucketName')",
        "len(resources) IS DISTINCT FROM json_array_length(eventJson, '$.resources')",
        "event_date IS DISTINCT FROM CAST(eventTime AS DATE)",
        "(regexp_matches(json_extract_string(eventJson, '$.eventTime'), '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$') \
          AND strftime(eventTime, '%Y-%m-%dT%H:%M:%SZ') <> json_extract_string(eventJson, '$.eventTime'))",
    ];
    for check in checks {
        let rows = duckdb(&format!("SELECT count(*) AS n FROM {ds} WHERE {check}"));
        assert_eq!(rows[0]["n"], 0, "rows where {check}");
    }
    let rows = duckdb(&format!(
        "SELECT count(*) AS n, count(userIdentity.sessionContext.attributes.creationDate) AS created, \
         count(tlsDetails.tlsVersion) AS tls FROM {ds}"
    ));
    assert!(rows[0]["created"].as_u64().unwrap() > 100, "{rows:?}");
    assert!(rows[0]["tls"].as_u64().unwrap() > 100, "{rows:?}");
}

#[test]
fn duckdb_sees_timestamps_struct_fields_and_map_lookups_with_exact_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    fs::write(
        &input,
        trail_file(&[record("e-1", "2024-05-01T10:00:00Z", "CreateFilter")]),
    )
    .unwrap();
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&input], &out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 1);
    let rows = duckdb(&format!(
        "SELECT typeof(eventTime) AS t, typeof(event_date) AS d, eventTime = TIMESTAMPTZ '2024-05-01 10:00:00+00' AS same_time, \
         userIdentity.arn AS arn, requestParameters['maxResults'] AS max_results, requestParameters['filterName'] AS filter, \
         json_extract(eventJson, '$.requestParameters.maxResults')::VARCHAR AS in_json, readOnly AS ro \
         FROM {}",
        dataset_sql(&out)
    ));
    let r = &rows[0];
    assert_eq!(r["t"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(r["d"], "DATE");
    assert_eq!(r["same_time"], true);
    assert_eq!(r["arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(r["max_results"], "12345678901234567890");
    assert_eq!(r["filter"], "hide-critical");
    assert_eq!(r["in_json"], "12345678901234567890");
    assert_eq!(r["ro"], false);
}

#[test]
fn rerunning_on_the_same_input_adds_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let trails = corpus().join("trail_files");
    let (_, first, _) = convert(&[&trails], &out);
    let written = first["rows_written"].as_u64().unwrap();
    assert!(written > 100, "{first}");
    let files_before = read_files(&out).len();
    let (_, second, _) = convert(&[&trails], &out);
    assert_eq!(second["rows_written"], 0, "{second}");
    assert_eq!(
        second["duplicates_dropped"].as_u64().unwrap(),
        written + first["duplicates_dropped"].as_u64().unwrap()
    );
    assert_eq!(read_files(&out).len(), files_before);
    let rows = duckdb(&format!(
        "SELECT count(*) AS n, count(DISTINCT (event_date, eventID)) FILTER (WHERE eventID IS NOT NULL) AS ids, count(eventID) AS with_id FROM {}",
        dataset_sql(&out)
    ));
    assert_eq!(rows[0]["n"], written);
    assert_eq!(
        rows[0]["ids"], rows[0]["with_id"],
        "an eventID appears twice on a day"
    );
}

#[test]
fn a_dataset_inside_the_input_folder_is_not_read_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("logs");
    std::fs::create_dir(&input).unwrap();
    let good = record("in-1", "2024-05-01T10:00:00Z", "Disable");
    // One record without eventTime, so the dataset's rejected.jsonl has a line in it.
    std::fs::write(
        input.join("a.json"),
        trail_file(&[good, r#"{"eventID":"no-time"}"#.to_owned()]),
    )
    .unwrap();
    let out = input.join("ds");
    for run in 0..2 {
        let (code, summary, err) = convert(&[&input], &out);
        assert_eq!(code, 1, "{err}");
        assert_eq!(summary["files_read"], 1, "run {run}: {summary}");
        assert_eq!(summary["records_rejected"], 1, "run {run}: {summary}");
        assert_eq!(summary["rows_written"], 1 - run, "run {run}: {summary}");
    }
}

#[test]
fn records_without_event_id_are_never_merged_but_a_rerun_adds_none() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("v10.json");
    // eventVersion 1.0 has no eventID: two identical calls in one second are two events.
    let v10 = r#"{"eventVersion":"1.0","eventTime":"2014-03-06T21:22:54Z","eventSource":"ec2.amazonaws.com","eventName":"StartInstances","awsRegion":"us-east-2"}"#;
    fs::write(&input, trail_file(&[v10.into(), v10.into()])).unwrap();
    let out = dir.path().join("ds");
    let (_, first, _) = convert(&[&input], &out);
    assert_eq!(first["rows_written"], 2);
    let (_, second, _) = convert(&[&input], &out);
    assert_eq!(second["rows_written"], 0);
    assert_eq!(second["duplicates_dropped"], 2);
    fs::write(&input, trail_file(&[v10.into(), v10.into(), v10.into()])).unwrap();
    let (_, third, _) = convert(&[&input], &out);
    assert_eq!(third["rows_written"], 1, "only the third copy is new");
    assert_eq!(strings(&out, "eventJson").len(), 3);
}

#[test]
fn each_bad_input_gets_one_clear_error_and_good_files_still_land() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    fs::create_dir_all(&inputs).unwrap();
    fs::write(
        inputs.join("good.json"),
        trail_file(&[
            record("g-1", "2024-05-01T10:00:00Z", "ListFindings"),
            record("g-2", "2024-05-02T10:00:00Z", "ListFindings"),
        ]),
    )
    .unwrap();
    // A gzip cut in half, as an interrupted download leaves it.
    let gz = fs::read(corpus().join(
        "trail_files/trail__loki__tools_lambda-promtail_testdata_cloudtrail-log-file.json.gz",
    ))
    .unwrap();
    fs::write(inputs.join("truncated.json.gz"), &gz[..gz.len() / 2]).unwrap();
    fs::copy(
        corpus().join("trail_files/trail__aws-cloudtrail-user-guide__doc_source_cloudtrail-log-file-examples__block7.INVALID_JSON.txt"),
        inputs.join("invalid.json"),
    )
    .unwrap();
    fs::write(
        inputs.join("config.json"),
        r#"{"name":"not cloudtrail","version":3}"#,
    )
    .unwrap();
    fs::write(inputs.join("empty.json"), "").unwrap();
    fs::write(
        inputs.join("mixed.jsonl"),
        format!(
            "{}\n{}\n",
            r#"{"eventName":"ListFindings","eventSource":"inspector2.amazonaws.com","@timestamp":"2024-05-01T10:00:00Z"}"#,
            record("g-3", "2024-05-03T10:00:00Z", "Disable")
        ),
    )
    .unwrap();
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&inputs], &out);
    assert_eq!(code, 1, "{err}");
    assert_eq!(summary["rows_written"], 3, "{summary}");
    assert_eq!(summary["files_rejected"], 4, "{summary}");
    assert_eq!(summary["records_rejected"], 1, "{summary}");
    let expect = [
        ("truncated.json.gz", "truncated"),
        ("invalid.json", "not valid JSON"),
        (
            "config.json",
            "not CloudTrail records: a JSON object with keys `name`, `version`",
        ),
        ("empty.json", "the file is empty"),
        ("mixed.jsonl", "line 1: record has no `eventTime`"),
    ];
    for (file, message) in expect {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error line for {file}:\n{err}"));
        assert!(line.contains(message), "{line}");
    }
    let rejected = fs::read_to_string(out.join("_trailq/rejected.jsonl")).unwrap();
    assert_eq!(rejected.lines().count(), 5);
    let ids: HashSet<_> = strings(&out, "eventID").into_iter().flatten().collect();
    assert_eq!(
        ids,
        HashSet::from(["g-1".into(), "g-2".into(), "g-3".into()])
    );
}

#[test]
fn organization_trail_layout_skips_digests_and_insights() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir
        .path()
        .join("bucket/AWSLogs/o-exampleorgid/111122223333");
    write_gz(
        &logs.join("CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1005Z_Mu0KsOhtH1ar15ZZ.json.gz"),
        &trail_file(&[record("o-1", "2024-05-01T10:00:00Z", "Enable")]),
    );
    write_gz(
        &logs.join("CloudTrail/eu-west-1/2024/05/01/111122223333_CloudTrail_eu-west-1_20240501T1005Z_abcdefABCDEF0123.json.gz"),
        &trail_file(&[record("o-2", "2024-05-01T11:00:00Z", "Enable")]),
    );
    let digest = fs::read_to_string(corpus().join("trail_files/digest__aws-cloudtrail-user-guide__doc_source_cloudtrail-log-file-validation-digest-file-structure__block2.json")).unwrap();
    write_gz(
        &logs.join("CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T100500Z.json.gz"),
        &digest,
    );
    write_gz(
        &logs.join("CloudTrail-Insight/us-east-1/2024/05/01/111122223333_CloudTrail-Insight_us-east-1_20240501T1005Z_x.json.gz"),
        r#"{"Records":[]}"#,
    );
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&dir.path().join("bucket")], &out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["files_read"], 2);
    assert_eq!(summary["rows_written"], 2);
    assert_eq!(summary["files_skipped"]["digest files"], 1);
    assert_eq!(summary["files_skipped"]["Insights files"], 1);
}

#[test]
fn lookup_events_responses_and_json_arrays_convert() {
    let dir = tempfile::tempdir().unwrap();
    let lookup = corpus()
        .join("api_responses/lookup__aws-cli__awscli_examples_cloudtrail_lookup-events.rst.json");
    let array =
        corpus().join("trail_files/other_shapes/stratus__aws.impact.bedrock-invoke-model.json");
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&lookup, &array], &out);
    assert_eq!(code, 0, "{err}");
    let response: Value = serde_json::from_str(&fs::read_to_string(&lookup).unwrap()).unwrap();
    let texts: HashSet<String> = strings(&out, "eventJson").into_iter().flatten().collect();
    for event in response["Events"].as_array().unwrap() {
        assert!(texts.contains(event["CloudTrailEvent"].as_str().unwrap()));
    }
    let items: Vec<Value> = serde_json::from_str(&fs::read_to_string(&array).unwrap()).unwrap();
    assert_eq!(
        summary["rows_written"].as_u64().unwrap() + summary["duplicates_dropped"].as_u64().unwrap(),
        (items.len() + response["Events"].as_array().unwrap().len()) as u64
    );
}

#[test]
fn partition_paths_come_from_the_time_never_from_record_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    let evil = record("../../../../escape", "2024-05-01T10:00:00Z", "../../x")
        .replace("\"us-east-1\"", "\"../../../../tmp/evil\"");
    fs::write(&input, trail_file(&[evil])).unwrap();
    let out = dir.path().join("ds");
    let (code, _, err) = convert(&[&input], &out);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["_trailq", "event_date=2024-05-01"]);
    let mut everything: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    everything.sort();
    assert_eq!(everything, ["ds", "in.json"]);
}

#[test]
fn files_are_sorted_carry_versions_and_no_temporary_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // Times out of order, over two days.
    let lines: Vec<String> = (0..500)
        .map(|i| {
            let day = 1 + (i * 7) % 2;
            let minute = (i * 37) % 60;
            let second = (i * 13) % 60;
            record(
                &format!("s-{i}"),
                &format!("2024-05-0{day}T10:{minute:02}:{second:02}Z"),
                "ListCoverage",
            )
        })
        .collect();
    fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&input], &out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 500);
    let files = read_files(&out);
    assert_eq!(files.len(), 2);
    for (path, batches) in &files {
        let times: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("eventTime")
                    .unwrap()
                    .as_primitive::<TimestampMicrosecondType>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{} is not sorted",
            path.display()
        );
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        );
    }
    let meta = duckdb(&format!(
        "SELECT DISTINCT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('{}/**/*.parquet') WHERE decode(key) LIKE 'trailq.%' ORDER BY k",
        out.display()
    ));
    assert_eq!(meta[0]["k"], "trailq.schema_version");
    assert_eq!(meta[0]["v"], "1");
    assert_eq!(meta[1]["k"], "trailq.version");
    let compression = duckdb(&format!(
        "SELECT DISTINCT compression FROM parquet_metadata('{}/**/*.parquet')",
        out.display()
    ));
    assert_eq!(
        compression,
        vec![serde_json::json!({"compression": "ZSTD"})]
    );
    assert_no_temporaries(&out);
}

#[test]
fn small_files_from_repeated_runs_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    for i in 0..5 {
        let input = dir.path().join(format!("in{i}.json"));
        fs::write(
            &input,
            trail_file(&[record(
                &format!("m-{i}"),
                &format!("2024-05-01T1{i}:00:00Z"),
                "ListMembers",
            )]),
        )
        .unwrap();
        let (code, summary, err) = convert(&[&input], &out);
        assert_eq!(code, 0, "{err}");
        assert_eq!(summary["rows_written"], 1);
    }
    let files = read_files(&out);
    assert_eq!(
        files.len(),
        1,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let ids: Vec<_> = strings(&out, "eventID").into_iter().flatten().collect();
    assert_eq!(
        ids,
        ["m-0", "m-1", "m-2", "m-3", "m-4"],
        "merged and still sorted by time"
    );
}

/// Files are read in delivery-day order, and the days the input has passed are written while
/// it reads on. A late delivery (day 1's events in a file delivered on day 8, two of them sent
/// before) still ends in day 1's one file, sorted, each event once. (Six big files come between:
/// both workers are far past day 2 when the late file, the last one, is read.)
#[test]
fn days_the_input_has_passed_are_written_early_and_late_deliveries_still_land() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    let expected = eight_days_and_a_late_delivery(&inputs);
    let out = dir.path().join("ds");
    let (code, summary, err) = convert(&[&inputs], &out);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 40_010);
    assert_eq!(summary["duplicates_dropped"], 2);
    // Day 1 was written before its late rows came, and its file rewritten with them.
    assert_eq!(summary["files_merged"], 1, "{summary}");
    let files = read_files(&out);
    assert_eq!(files.len(), 8, "one file a day");
    let (day1, batches) = &files[0];
    assert!(day1.to_string_lossy().contains("2024-05-01"));
    let mut times = Vec::new();
    for b in batches {
        let t = b
            .column_by_name("eventTime")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        times.extend(t.values().iter().copied());
    }
    assert_eq!(times.len(), 5010);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "day 1 is sorted");
    let ids: Vec<String> = strings(&out, "eventID").into_iter().flatten().collect();
    assert_eq!(ids.len(), expected.len(), "every event exactly once");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), expected);
    assert_no_temporaries(&out);
}

/// Eight days of trail files of 5,000 records each, and in day 8's folder a late delivery with
/// ten more events of day 1 and two duplicates of day 1's; returns every eventID.
pub fn eight_days_and_a_late_delivery(inputs: &Path) -> HashSet<String> {
    let folder = |day: u32| {
        inputs.join(format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/{day:02}"
        ))
    };
    let mut expected = HashSet::new();
    for day in 1..=8u32 {
        // More records than a parse batch holds, so a file's rows reach the dataset mid-run.
        let records: Vec<String> = (0..5000)
            .map(|i| {
                let id = format!("d{day}-{i}");
                expected.insert(id.clone());
                let time = format!(
                    "2024-05-{day:02}T{:02}:{:02}:{:02}Z",
                    i / 240,
                    i / 4 % 60,
                    i % 60
                );
                record(&id, &time, "ListFindings")
            })
            .collect();
        write_gz(
            &folder(day).join(format!(
                "111122223333_CloudTrail_us-east-1_202405{day:02}T2355Z_a.json.gz"
            )),
            &trail_file(&records),
        );
    }
    let mut late: Vec<String> = (0..10)
        .map(|i| {
            let id = format!("late-{i}");
            expected.insert(id.clone());
            record(&id, &format!("2024-05-01T23:59:{i:02}Z"), "CreateFilter")
        })
        .collect();
    late.push(record("d1-7", "2024-05-01T00:01:07Z", "ListFindings"));
    late.push(record("d1-4999", "2024-05-01T20:49:59Z", "ListFindings"));
    write_gz(
        &folder(8).join("111122223333_CloudTrail_us-east-1_20240508T2359Z_b.json.gz"),
        &trail_file(&late),
    );
    expected
}

#[test]
fn a_killed_run_leaves_only_readable_files_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    let mut expected = HashSet::new();
    for f in 0..24 {
        let records: Vec<String> = (0..1500)
            .map(|i| {
                let id = format!("k-{f}-{i}");
                expected.insert(id.clone());
                record(
                    &id,
                    &format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + f % 3, i % 24, i % 60),
                    "ListFindings",
                )
            })
            .collect();
        write_gz(
            &inputs.join(format!("f{f:02}.json.gz")),
            &trail_file(&records),
        );
    }
    let out = dir.path().join("ds");
    for delay_ms in [150, 400, 900] {
        let mut child = trailq_command()
            .args(["convert", "--quiet"])
            .arg(&inputs)
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let _ = child.wait();
        // Whatever is there is whole: every data file opens and reads fully, in DuckDB too.
        if !read_files(&out).is_empty() {
            duckdb(&format!("SELECT count(*) FROM {}", dataset_sql(&out)));
        }
    }
    let (code, _, err) = convert(&[&inputs], &out);
    assert_eq!(code, 0, "{err}");
    let ids: Vec<String> = strings(&out, "eventID").into_iter().flatten().collect();
    assert_eq!(ids.len(), expected.len(), "every event exactly once");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), expected);
    assert_no_temporaries(&out);
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    fs::create_dir_all(out.join("_trailq")).unwrap();
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join("_trailq/lock"))
        .unwrap();
    lock.lock().unwrap();
    let input = dir.path().join("in.json");
    fs::write(
        &input,
        trail_file(&[record("l-1", "2024-05-01T10:00:00Z", "Enable")]),
    )
    .unwrap();
    let o = trailq([
        "convert".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another trailq run is writing to"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_input_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = trailq([
        "convert".as_ref(),
        dir.path().join("nope").as_os_str(),
        "--out".as_ref(),
        dir.path().join("ds").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with("error: cannot read `"), "{err}");
    assert!(err.contains("`: No such file or directory"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// No half-written file and no spilled run is left once a run has finished.
fn assert_no_temporaries(out: &Path) {
    let leftovers: Vec<_> = walk(out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!out.join("_trailq/spill").exists(), "spilled runs are left");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
