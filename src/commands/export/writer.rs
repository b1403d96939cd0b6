//! The export's one writer: finished slices from every stream → the record parser → the dataset,
//! then the checkpoint. It runs on its own thread so that parsing and Parquet writing never hold
//! up the paced requests.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::sync::mpsc::Receiver;

use crate::batch::EventBatchBuilder;
use crate::checkpoint::{self, ExportState};
use crate::error::Result;
use crate::json::truncate;
use crate::record::parse_record;
use crate::schema::{EVENT_NAME, RECIPIENT_ACCOUNT_ID};
use crate::sink::parquet_dataset::ParquetDatasetSink;
use crate::sink::rejected::{RejectLog, Rejection};
use crate::source::lookup_events::Chunk;

/// Filters the API cannot combine with the lookup attribute, applied to each record.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub event_names: Vec<String>,
    pub read_only: Option<bool>,
}

impl Filters {
    fn keep(&self, event_name: Option<&str>, read_only: Option<bool>) -> bool {
        (self.event_names.is_empty()
            || event_name.is_some_and(|n| self.event_names.iter().any(|w| w == n)))
            && self.read_only.is_none_or(|want| read_only == Some(want))
    }
}

/// What the writer did.
#[derive(Debug, Default)]
pub struct Written {
    pub records: u64,
    pub filtered: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub rows_written: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    /// The account each stream's records belong to (`recipientAccountId`).
    pub accounts: BTreeMap<usize, String>,
}

/// Writes chunks until every sender is gone. Each batch of chunks received together is
/// committed to the dataset before the checkpoint records it.
pub fn write_chunks(
    root: &Path,
    sink: &mut ParquetDatasetSink,
    chunks: &mut Receiver<Chunk>,
    stream_keys: &[String],
    state: &mut ExportState,
    filters: &Filters,
) -> Result<Written> {
    let mut written = Written::default();
    let mut rejects = RejectLog::new(root);
    let run_id = sink.run_id().to_owned();
    let mut builder = EventBatchBuilder::new();
    while let Some(first) = chunks.blocking_recv() {
        let mut received = vec![first];
        while let Ok(more) = chunks.try_recv() {
            received.push(more);
        }
        for chunk in &received {
            let key = &stream_keys[chunk.stream];
            for text in &chunk.records {
                written.records += 1;
                match parse_record(text) {
                    Ok(row) => {
                        if !filters.keep(row.scalar(EVENT_NAME), row.read_only) {
                            written.filtered += 1;
                            continue;
                        }
                        if let Some(account) = row.scalar(RECIPIENT_ACCOUNT_ID) {
                            written
                                .accounts
                                .entry(chunk.stream)
                                .or_insert_with(|| account.to_owned());
                        }
                        builder.append(&row, text);
                    }
                    Err(e) => {
                        written.rejected += 1;
                        rejects.add(&Rejection {
                            run: &run_id,
                            source: &format!("LookupEvents {key}"),
                            position: None,
                            reason: truncate(&e.to_string(), 300).into_owned(),
                            record: Some(text),
                        })?;
                    }
                }
                if builder.len() >= 8192 {
                    sink.write(&builder.finish())?;
                }
            }
        }
        if !builder.is_empty() {
            sink.write(&builder.finish())?;
        }
        let stats = sink.commit()?;
        written.duplicates = stats.duplicates_dropped;
        written.rows_written = stats.rows_written;
        written.files_written = stats.files_written;
        written.bytes_written = stats.bytes_written;
        if let Some(run) = state.current.as_mut() {
            for chunk in &received {
                let covered = run
                    .covered_from
                    .entry(stream_keys[chunk.stream].clone())
                    .or_insert(i64::MAX);
                *covered = (*covered).min(chunk.covered_from);
            }
        }
        checkpoint::save(root, state)?;
    }
    rejects.finish()?;
    Ok(written)
}
