//! Property tests of the parameter filler: whatever text a user passes with `--param`, the filled
//! statement holds it as exactly one literal of its kind (no value can change the statement's
//! structure), and nothing panics. The test command runs proptest's default number of cases;
//! `PROPTEST_CASES=1000000` is the long run (BENCHMARKS.md).

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use proptest::prelude::*;
use trailq::params::{Kind, Value, fill, names};
use trailq_events::time::USER_TIMES;

/// The statement's tokens, whitespace left out, as Lake's dialect (Trino, read by sqlparser's
/// generic dialect, as `trailq_lake_sql::dialect` does) reads them.
fn tokens(sql: &str) -> Vec<Token> {
    Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .unwrap_or_else(|e| panic!("the filled statement does not tokenize: {e}: {sql}"))
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect()
}

fn filled(sql: &str, value: Value) -> String {
    fill(sql, &BTreeMap::from([("v".to_owned(), value)])).unwrap()
}

const NOW: i64 = 1_780_000_000_000_000;

proptest! {
    #[test]
    fn a_text_value_is_one_string_literal(text in any::<String>()) {
        let value = Kind::Text.value("v", &text, NOW).unwrap();
        let sql = filled("SELECT x FROM t WHERE y = {{v}} AND z = 1", value);
        let t = tokens(&sql);
        prop_assert_eq!(&t[7], &Token::SingleQuotedString(text.clone()), "{}", sql);
        prop_assert_eq!(t.len(), 12, "{}", sql);
    }

    #[test]
    fn a_list_value_is_a_list_of_string_literals(text in any::<String>()) {
        let Ok(value) = Kind::TextList.value("v", &text, NOW) else {
            return Ok(());
        };
        let Value::TextList(items) = value.clone() else {
            return Err(TestCaseError::fail("a list kind gives a list"));
        };
        let sql = filled("SELECT 1 WHERE y IN {{v}}", value);
        let t = tokens(&sql);
        let mut expected = vec![Token::LParen];
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                expected.push(Token::Comma);
            }
            expected.push(Token::SingleQuotedString(item.clone()));
        }
        expected.push(Token::RParen);
        prop_assert_eq!(&t[5..], &expected[..], "{}", sql);
    }

    #[test]
    fn every_kind_takes_any_text_without_panicking(text in any::<String>()) {
        for (_, kind) in Kind::ALL {
            if let Ok(value) = kind.value("v", &text, NOW) {
                if let Value::Timestamp(micros) = value {
                    prop_assert!(USER_TIMES.contains(&micros), "{} -> {}", text, micros);
                }
                // Any accepted value fills a statement that still tokenizes.
                tokens(&filled("SELECT {{v}}", value));
            }
        }
        let _ = Kind::EventDataStore.value("v", &text, NOW);
    }

    #[test]
    fn relative_and_absolute_times_stay_in_range(
        n in any::<u64>(),
        unit in prop::sample::select(vec!["ms", "s", "m", "h", "d", "w", ""]),
        now in any::<i64>(),
    ) {
        if let Ok(Value::Timestamp(micros)) = Kind::Timestamp.value("v", &format!("-{n}{unit}"), now) {
            prop_assert!(USER_TIMES.contains(&micros));
        }
    }

    #[test]
    fn any_statement_text_is_scanned_without_panicking(sql in any::<String>(), text in any::<String>()) {
        if let Ok(found) = names(&sql) {
            let values = found
                .into_iter()
                .map(|n| (n, Value::Text(text.clone())))
                .collect::<BTreeMap<_, _>>();
            let _ = fill(&sql, &values);
        }
    }
}
