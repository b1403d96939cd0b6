//! Integration tests: the real `trailq` binary and the emulator, checked with independent tools
//! (DuckDB CLI, AWS CLI) and the real AWS SDK.
//! One test binary (faster to build); one module per area.

mod util;

mod convert;
mod detect;
mod emulator;
mod export;
mod org;
mod params_properties;
mod pipes;
mod queries;
mod query;
mod s3;
mod schema_ddl;
mod snapshots;
mod tls;
