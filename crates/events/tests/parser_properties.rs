//! Property tests of the one record parser: whatever text arrives (bytes, JSON of any shape,
//! real records cut and spliced), it never panics, and a record it accepts is JSON that a JSON
//! reader reads back, with the typed columns holding exactly what that reader sees.
//!
//! The test command runs proptest's default number of cases; `PROPTEST_CASES=1000000 cargo test
//! --release -p trailq-events --test parser_properties` is the long run (BENCHMARKS.md).

use proptest::prelude::*;
use serde_json::Value;
use trailq_events::batch::EventBatchBuilder;
use trailq_events::record::{Row, parse_record};
use trailq_events::schema::SCALAR_COLUMNS;

/// Real records from the corpus the repository carries.
const CORPUS: &str = include_str!("../../../tests/corpus/real-records.jsonl");

fn corpus() -> Vec<&'static str> {
    CORPUS.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// What must hold for any input: no panic (proptest reports one as a failure), and an accepted
/// record is valid JSON whose string columns equal what a JSON reader decodes.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Ok(row) = parse_record(text) else {
        return Ok(());
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        TestCaseError::fail(format!(
            "accepted, but not JSON a reader accepts: {e}: {text}"
        ))
    })?;
    check_scalars(&row, &value)?;
    // The batch builder takes every accepted row.
    let mut builder = EventBatchBuilder::new();
    builder.append(&row, text);
    prop_assert_eq!(builder.finish().num_rows(), 1);
    Ok(())
}

fn check_scalars(row: &Row<'_>, value: &Value) -> Result<(), TestCaseError> {
    let Some(object) = value.as_object() else {
        return Err(TestCaseError::fail(
            "accepted a record that is not an object",
        ));
    };
    for column in SCALAR_COLUMNS {
        // An exactly spelled key wins; JSON readers keep the last of duplicate keys, the parser
        // its own rule, so only unambiguous records are compared.
        let matching: Vec<&Value> = object
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(column))
            .map(|(_, v)| v)
            .collect();
        if let [Value::String(s)] = matching[..] {
            prop_assert_eq!(row.scalar(column), Some(s.as_str()), "column {}", column);
        }
    }
    Ok(())
}

/// A JSON string's inside, as raw text: plain characters, standard escapes, and `\uXXXX` escapes
/// of any code unit, lone surrogates included.
fn string_body() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        // Any character, escaped where JSON requires it (no filter: rejects would end long runs).
        4 => any::<char>().prop_map(|c| match c {
            '"' => "\\\"".to_owned(),
            '\\' => "\\\\".to_owned(),
            c if c < ' ' => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        }),
        1 => prop::sample::select(vec!["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])
            .prop_map(String::from),
        1 => any::<u16>().prop_map(|u| format!("\\u{u:04x}")),
        1 => (0xD800u16..0xDC00, 0xDC00u16..0xE000)
            .prop_map(|(h, l)| format!("\\u{h:04X}\\u{l:04x}")),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// Any JSON value as text, strings from [`string_body`].
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        // JSON has no NaN or infinity.
        any::<f64>().prop_map(|f| format!("{:e}", if f.is_finite() { f } else { 0.5 })),
        "[0-9]{20,40}",
        string_body().prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..6).prop_map(|v| {
                let fields: Vec<String> = v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// A key: usually one the schema knows (any case), sometimes anything.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<String> = SCALAR_COLUMNS
        .iter()
        .chain(&[
            "eventTime",
            "userIdentity",
            "requestParameters",
            "resources",
            "tlsDetails",
            "readOnly",
            "sessionContext",
            "arn",
        ])
        .flat_map(|k| [k.to_string(), k.to_ascii_lowercase()])
        .collect();
    prop_oneof![3 => prop::sample::select(known), 1 => string_body()]
}

/// A record-like object: an eventTime (mostly valid) and fields of any shape.
fn record() -> impl Strategy<Value = String> {
    let time = prop_oneof![
        4 => (2013i32..2030, 1u32..13, 1u32..29, 0u32..24, 0u32..60, 0u32..60).prop_map(
            |(y, mo, d, h, mi, s)| format!("\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z\"")
        ),
        1 => json_value(),
    ];
    (time, prop::collection::vec((key(), json_value()), 0..10)).prop_map(|(time, fields)| {
        let mut parts = vec![format!("\"eventTime\":{time}")];
        parts.extend(fields.iter().map(|(k, v)| format!("\"{k}\":{v}")));
        format!("{{{}}}", parts.join(","))
    })
}

proptest! {
    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn any_json_record(text in record()) {
        check(&text)?;
    }

    #[test]
    fn real_records_cut_and_spliced(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in prop_oneof![
            string_body(),
            json_value(),
            prop::sample::select(vec!["\\ud800", "\\udc00", "\"", "{", "}", "[", "]", ",", ":", "\\"])
                .prop_map(String::from),
        ],
    ) {
        let records = corpus();
        let original = records[pick.index(records.len())];
        // Splice at a char boundary.
        let mut i = at.index(original.len() + 1);
        while !original.is_char_boundary(i) {
            i -= 1;
        }
        let mut end = (i + cut).min(original.len());
        while !original.is_char_boundary(end) {
            end -= 1;
        }
        let text = format!("{}{}{}", &original[..i], insert, &original[end..]);
        check(&text)?;
    }
}

#[test]
fn every_corpus_record_holds_the_properties() {
    for text in corpus() {
        check(text).unwrap();
    }
}
