//! Integration tests: the real `trailq` binary, checked with independent tools (DuckDB CLI).
//! One test binary (faster to build); one module per area.

mod util;

mod convert;
mod schema_ddl;
