//! One Parquet file of the dataset, encoded on two cores.
//!
//! `eventJson` is about half of the encoding work (whole records, stronger zstd), so its column
//! writer runs on a helper thread while the calling thread encodes every other column; row groups
//! are assembled in column order as usual. This keeps the memory of a single file writer (one
//! writer at a time keeps peak RSS low) and still uses both cores (BENCHMARKS.md).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::schema;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 32 * 1024;

enum ToHelper {
    Writer(Box<ArrowColumnWriter>),
    Leaf(ArrowLeafColumn),
    Close,
}

/// The helper thread: encodes the leaves it is sent, returns the chunk when asked to close.
struct Helper<'scope> {
    to: SyncSender<ToHelper>,
    from: Receiver<Result<ArrowColumnChunk>>,
    handle: ScopedJoinHandle<'scope, ()>,
}

pub struct ParquetFileWriter<'scope> {
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    /// Writers of the current row group encoded here; `None` at the helper's leaf.
    local: Vec<Option<ArrowColumnWriter>>,
    helper_leaf: usize,
    helper: Helper<'scope>,
    rows_in_group: usize,
    row_groups: usize,
    pub path: PathBuf,
}

impl<'scope> ParquetFileWriter<'scope> {
    pub fn try_new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        file: File,
        path: PathBuf,
        props: WriterProperties,
    ) -> Result<Self> {
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
        let (to, rx) = sync_channel::<ToHelper>(4);
        let (tx, from) = sync_channel::<Result<ArrowColumnChunk>>(1);
        let handle = scope.spawn(move || {
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
        let mut file = ParquetFileWriter {
            writer,
            factory,
            local: Vec::new(),
            helper_leaf,
            helper: Helper { to, from, handle },
            rows_in_group: 0,
            row_groups: 0,
            path,
        };
        file.start_row_group()?;
        Ok(file)
    }

    fn start_row_group(&mut self) -> Result<()> {
        let mut writers = self.factory.create_column_writers(self.row_groups)?;
        let helper_writer = writers.remove(self.helper_leaf);
        self.local = writers.into_iter().map(Some).collect();
        self.local.insert(self.helper_leaf, None);
        self.send(ToHelper::Writer(Box::new(helper_writer)))
    }

    fn send(&self, msg: ToHelper) -> Result<()> {
        self.helper
            .to
            .send(msg)
            .map_err(|_| ParquetError::General("the eventJson encoder stopped".into()))
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
                    self.send(ToHelper::Leaf(leaf_column))?;
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

    fn close_row_group(&mut self) -> Result<()> {
        if self.rows_in_group == 0 {
            return Ok(());
        }
        self.send(ToHelper::Close)?;
        let helper_chunk = self
            .helper
            .from
            .recv()
            .map_err(|_| ParquetError::General("the eventJson encoder stopped".into()))??;
        let mut row_group = self.writer.next_row_group()?;
        let mut helper_chunk = Some(helper_chunk);
        for writer in std::mem::take(&mut self.local) {
            let chunk = match writer {
                Some(w) => w.close()?,
                None => helper_chunk.take().expect("one helper leaf"),
            };
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.rows_in_group = 0;
        self.row_groups += 1;
        Ok(())
    }

    /// Bytes written so far plus an estimate of the open row group.
    pub fn estimated_size(&self) -> usize {
        let local: usize = self
            .local
            .iter()
            .flatten()
            .map(|w| w.get_estimated_total_bytes())
            .sum();
        // The helper's column is about as big as all the others together.
        self.writer.bytes_written() + local * 2
    }

    /// Finishes the file and returns the underlying file handle.
    pub fn finish(mut self) -> Result<File> {
        self.close_row_group()?;
        let ParquetFileWriter { writer, helper, .. } = self;
        drop(helper.to);
        let _ = helper.handle.join();
        let buffered = writer.into_inner()?;
        buffered
            .into_inner()
            .map_err(|e| ParquetError::External(Box::new(e.into_error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::EventBatchBuilder;
    use crate::record::parse_record;
    use arrow::array::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn row_groups_split_across_writes_keep_every_row_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let rows = 2 * ROW_GROUP_ROWS + 1234;
        std::thread::scope(|scope| {
            let props = WriterProperties::builder().build();
            let mut w = ParquetFileWriter::try_new(
                scope,
                File::create(&path).unwrap(),
                path.clone(),
                props,
            )
            .unwrap();
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
        });
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
