//! One Parquet file of the dataset, encoded on every core.
//!
//! `eventJson` is most of the encoding work (whole records; at zstd 11 it was ~45% of a convert's CPU
//! time), and one thread compressing it was the bottleneck of the write phase while the thread
//! encoding every other column idled. So `eventJson` goes to helper threads, one per core, taking
//! row groups in turn: while one helper still compresses row group k, the next compresses k+1
//! and this thread encodes the other columns. Row groups are written to the file in order as
//! their helper finishes. Memory: each helper may have half a row group of `eventJson` waiting;
//! that is the price of the parallelism (BENCHMARKS.md).

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use trailq_events::schema;

/// Rows per row group: 16 Ki rather than 32 Ki keeps the helpers' queues (and peak RSS) small,
/// and costs nothing in size once `eventJson` uses DELTA_LENGTH_BYTE_ARRAY (BENCHMARKS.md).
pub const ROW_GROUP_ROWS: usize = 16 * 1024;

/// Leaves (the merge's 1,024-row batches) a helper can have waiting: half a row group. This
/// thread encodes several times faster than a helper compresses, so while it fills one helper's
/// queue the other helper works off its own half row group; both stay busy.
const HELPER_QUEUE: usize = ROW_GROUP_ROWS / 2048 + 2;

enum ToHelper {
    Writer(Box<ArrowColumnWriter>),
    Leaf(ArrowLeafColumn),
    Close,
}

/// A helper thread: encodes the leaves it is sent, returns the chunk when asked to close. It owns
/// what it uses, so a file can be finished after the call that wrote its rows has returned
/// (`partition_writer::Finishing`); dropped unfinished, its channels close and it ends.
struct Helper {
    to: SyncSender<ToHelper>,
    from: Receiver<Result<ArrowColumnChunk>>,
    handle: JoinHandle<()>,
}

impl Helper {
    fn spawn() -> Self {
        let (to, rx) = sync_channel::<ToHelper>(HELPER_QUEUE);
        let (tx, from) = sync_channel::<Result<ArrowColumnChunk>>(1);
        let handle = crate::threads::spawn("eventjson", move || {
            let mut current: Option<Box<ArrowColumnWriter>> = None;
            let mut failed: Option<ParquetError> = None;
            for msg in rx {
                match msg {
                    ToHelper::Writer(w) => current = Some(w),
                    ToHelper::Leaf(leaf) => {
                        if let (Some(w), None) = (current.as_mut(), &failed) {
                            failed = w.write(&leaf).err();
                        }
                    }
                    ToHelper::Close => {
                        let result = match (current.take(), failed.take()) {
                            (_, Some(e)) => Err(e),
                            (Some(w), None) => w.close(),
                            (None, None) => Err(ParquetError::General("no column writer".into())),
                        };
                        if tx.send(result).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Helper { to, from, handle }
    }

    fn send(&self, msg: ToHelper) -> Result<()> {
        self.to.send(msg).map_err(|_| stopped())
    }

    fn chunk(&self) -> Result<ArrowColumnChunk> {
        self.from.recv().map_err(|_| stopped())?
    }
}

fn stopped() -> ParquetError {
    ParquetError::General("an eventJson encoder stopped".into())
}

/// A row group whose other columns are encoded, waiting for its helper's `eventJson` chunk.
struct Pending {
    chunks: Vec<Option<ArrowColumnChunk>>,
    helper: usize,
}

pub struct ParquetFileWriter {
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    /// Writers of the current row group encoded here; `None` at the helpers' leaf.
    local: Vec<Option<ArrowColumnWriter>>,
    helper_leaf: usize,
    helpers: Vec<Helper>,
    /// Row groups handed to helpers and not yet in the file, oldest first.
    pending: VecDeque<Pending>,
    rows_in_group: usize,
    row_groups: usize,
    pub path: PathBuf,
}

impl ParquetFileWriter {
    pub fn try_new(file: File, path: PathBuf, props: WriterProperties) -> Result<Self> {
        // ArrowWriter lays down the schema and key-value metadata; we take over its row groups.
        let (writer, factory) = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema::event_schema(),
            Some(props),
        )?
        .into_serialized_writer()?;
        let helper_leaf = writer
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().parts() == [schema::EVENT_JSON])
            .ok_or_else(|| ParquetError::General("eventJson is a leaf column".into()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let helpers = (0..cores.clamp(2, 4)).map(|_| Helper::spawn()).collect();
        let mut file = ParquetFileWriter {
            writer,
            factory,
            local: Vec::new(),
            helper_leaf,
            helpers,
            pending: VecDeque::new(),
            rows_in_group: 0,
            row_groups: 0,
            path,
        };
        file.start_row_group()?;
        Ok(file)
    }

    /// The helper that encodes the current row group's `eventJson`.
    fn helper(&self) -> &Helper {
        &self.helpers[self.row_groups % self.helpers.len()]
    }

    fn start_row_group(&mut self) -> Result<()> {
        let mut writers = self.factory.create_column_writers(self.row_groups)?;
        let helper_writer = writers.remove(self.helper_leaf);
        self.local = writers.into_iter().map(Some).collect();
        self.local.insert(self.helper_leaf, None);
        self.helper()
            .send(ToHelper::Writer(Box::new(helper_writer)))
    }

    /// Appends rows (of the event schema), closing row groups at `ROW_GROUP_ROWS`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let n = (ROW_GROUP_ROWS - self.rows_in_group).min(batch.num_rows() - offset);
            self.write_rows(&batch.slice(offset, n))?;
            offset += n;
            if self.rows_in_group == ROW_GROUP_ROWS {
                self.close_row_group()?;
                self.start_row_group()?;
            }
        }
        Ok(())
    }

    fn write_rows(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = schema::event_schema();
        let mut leaf = 0;
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            for leaf_column in compute_leaves(field, column)? {
                if leaf == self.helper_leaf {
                    self.helper().send(ToHelper::Leaf(leaf_column))?;
                } else {
                    self.local[leaf]
                        .as_mut()
                        .expect("a writer per local leaf")
                        .write(&leaf_column)?;
                }
                leaf += 1;
            }
        }
        self.rows_in_group += batch.num_rows();
        Ok(())
    }

    /// Hands the current row group to its helper to finish; writes out the oldest pending row
    /// group when every helper has one (the next row group's helper must be free).
    fn close_row_group(&mut self) -> Result<()> {
        if self.rows_in_group == 0 {
            return Ok(());
        }
        self.helper().send(ToHelper::Close)?;
        let chunks = std::mem::take(&mut self.local)
            .into_iter()
            .map(|w| w.map(|w| w.close()).transpose())
            .collect::<Result<_>>()?;
        let helper = self.row_groups % self.helpers.len();
        self.pending.push_back(Pending { chunks, helper });
        self.rows_in_group = 0;
        self.row_groups += 1;
        while self.pending.len() >= self.helpers.len() {
            self.flush_oldest()?;
        }
        Ok(())
    }

    fn flush_oldest(&mut self) -> Result<()> {
        let Some(Pending { chunks, helper }) = self.pending.pop_front() else {
            return Ok(());
        };
        let mut helper_chunk = Some(self.helpers[helper].chunk()?);
        let mut row_group = self.writer.next_row_group()?;
        for chunk in chunks {
            let chunk = match chunk {
                Some(chunk) => chunk,
                None => helper_chunk.take().expect("one helper leaf"),
            };
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        crate::memory::release_freed_memory();
        Ok(())
    }

    /// Bytes written so far plus an estimate of the open row group; a row group still with
    /// its helper is not counted, so a file can end up one row group (a few MiB) over.
    pub fn estimated_size(&self) -> usize {
        let local: usize = self
            .local
            .iter()
            .flatten()
            .map(|w| w.get_estimated_total_bytes())
            .sum();
        // The helpers' column is about as big as all the others together.
        self.writer.bytes_written() + local * 2
    }

    /// Finishes the file and returns the underlying file handle.
    pub fn finish(mut self) -> Result<File> {
        self.close_row_group()?;
        while !self.pending.is_empty() {
            self.flush_oldest()?;
        }
        let ParquetFileWriter {
            writer, helpers, ..
        } = self;
        for helper in helpers {
            drop(helper.to);
            let _ = helper.handle.join();
        }
        let buffered = writer.into_inner()?;
        buffered
            .into_inner()
            .map_err(|e| ParquetError::External(Box::new(e.into_error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use trailq_events::batch::EventBatchBuilder;
    use trailq_events::record::parse_record;

    #[test]
    fn row_groups_split_across_writes_keep_every_row_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let rows = 2 * ROW_GROUP_ROWS + 1234;
        let props = WriterProperties::builder().build();
        let mut w =
            ParquetFileWriter::try_new(File::create(&path).unwrap(), path.clone(), props).unwrap();
        let mut b = EventBatchBuilder::new();
        for i in 0..rows {
            let text = format!(r#"{{"eventTime":"2024-05-01T10:00:00Z","eventID":"{i}"}}"#);
            b.append(&parse_record(&text).unwrap(), &text);
            // Odd-sized writes, so row-group boundaries fall inside batches.
            if b.len() == 7777 {
                w.write(&b.finish()).unwrap();
            }
        }
        w.write(&b.finish()).unwrap();
        w.finish().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        let mut n = 0;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let ids = batch.column_by_name("eventID").unwrap().as_string::<i32>();
            let json = batch
                .column_by_name("eventJson")
                .unwrap()
                .as_string::<i32>();
            for i in 0..batch.num_rows() {
                assert_eq!(ids.value(i), n.to_string());
                assert!(json.value(i).ends_with(&format!(r#""eventID":"{n}"}}"#)));
                n += 1;
            }
        }
        assert_eq!(n, rows);
    }
}
