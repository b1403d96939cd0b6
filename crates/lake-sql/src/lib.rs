//! CloudTrail Lake's SQL dialect on Apache DataFusion: the one embedded SQL engine, used by the
//! emulator's Lake and by offline saved-query runs over an export.
//!
//! Lake runs Trino SQL over a table whose columns and struct fields are matched
//! case-insensitively and whose `FROM` names an event data store by its ID (a UUID, unquoted).
//! DataFusion needs three shims for that:
//! - [`dialect::prepare`] checks the statement is one `SELECT`, points `FROM <eds id>` at a
//!   registered table, lowercases quoted identifiers, and works out Lake's result column names;
//! - [`lowercase`] presents the event schema with every column and struct field in lowercase, so
//!   that DataFusion's identifier normalisation (unquoted names are lowercased) finds them;
//! - [`functions`] registers the Trino functions Lake queries use (`element_at` on maps,
//!   `json_extract_scalar`, `date_add`, …) and pins `now()` to the caller's clock.
//!
//! [`typing`] types Lake's string results back into columns. [`lake_values`] renders results as Lake's strings, so a query gives the same output from the
//! emulator's Lake and from an export (whose table, `trailq::local_engine`, is the trailq crate's:
//! it knows the dataset's layout).

pub mod dialect;
pub mod functions;
pub mod lake_values;
pub mod lowercase;
pub mod typing;

use datafusion::prelude::{SessionConfig, SessionContext};

/// A DataFusion session that speaks the Lake dialect, with `now()` = `now_micros`.
pub fn lake_context(now_micros: i64) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(false);
    // Planning a scan would otherwise read every file's footer into column statistics for every
    // column (~100 leaves), ~0.1 s per query over a 91-day export, for nothing: files and row
    // groups are still pruned from their footers when read. (BENCHMARKS.md, issue 15.)
    config.options_mut().execution.collect_statistics = false;
    let ctx = SessionContext::new_with_config(config);
    functions::register(&ctx, now_micros);
    ctx
}
