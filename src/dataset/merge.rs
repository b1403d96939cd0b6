//! K-way merge of batches into one stream sorted by `eventTime`, in bounded-size chunks.
//!
//! Inputs are buffered batches in any order (each sorted through an index, not copied), spilled
//! runs and existing files (already sorted). Memory stays at one batch per input plus one output
//! chunk, whatever the total size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{interleave_record_batch, sort_to_indices};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;

use trailq_events::schema;

/// Rows per output chunk at most; a merge of k inputs holds about k + 1 chunks.
pub const CHUNK_ROWS: usize = 1024;
/// …and `eventJson` bytes per chunk at most (one record more may cross it). glibc maps a block of
/// 2 MiB or more on its own ([`crate::memory::MMAP_ABOVE_BYTES`]), and every new mapping is
/// zero-filled page by page: 1,024 real-shaped records made each chunk's `eventJson` ~2.2 MiB,
/// and page faults were a quarter of the time of the thread that owns the dataset. Chunks of up
/// to 1 MiB reuse freed heap memory instead: with the parsers' batches bounded the same way
/// (`pipeline::BATCH_TEXT_BYTES`), a real-shaped convert took 0.8–0.9 M page faults instead of
/// 1.2–1.3 M; with chunks of up to 1.5 MiB, no fewer (BENCHMARKS.md, issue 15 session 23).
pub const CHUNK_TEXT_BYTES: usize = crate::memory::MMAP_ABOVE_BYTES / 2;

/// An input of a merge.
pub enum Source {
    /// Batches in `eventTime` order across all of them (a spilled run, a dataset file).
    Sorted(Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>),
    /// One batch in any order.
    Unsorted(RecordBatch),
}

struct Cursor {
    source: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
    sort: bool,
    /// Index of the current batch in `Merge::in_play`.
    slot: usize,
    times: Vec<i64>,
    /// The current batch's `eventJson` offsets: the length of each row's record.
    text_offsets: OffsetBuffer<i32>,
    /// Row order within the current batch (sorted by time); `None` when the batch is in order.
    order: Option<UInt32Array>,
    pos: usize,
}

impl Cursor {
    fn row(&self) -> usize {
        match &self.order {
            Some(order) => order.value(self.pos) as usize,
            None => self.pos,
        }
    }
}

/// Merges `sources` and calls `emit` with each chunk, in `eventTime` order (ties: source order).
pub fn merge_sorted(
    sources: Vec<Source>,
    mut emit: impl FnMut(RecordBatch) -> Result<(), ArrowError>,
) -> Result<(), ArrowError> {
    let mut in_play: Vec<RecordBatch> = Vec::new();
    let mut cursors: Vec<Cursor> = Vec::new();
    let mut heap = BinaryHeap::new();
    for source in sources {
        let (source, sort) = match source {
            Source::Sorted(iter) => (iter, false),
            Source::Unsorted(batch) => (
                Box::new(std::iter::once(Ok(batch))) as Box<dyn Iterator<Item = _> + Send>,
                true,
            ),
        };
        let mut cursor = Cursor {
            source,
            sort,
            slot: 0,
            times: Vec::new(),
            text_offsets: OffsetBuffer::new_empty(),
            order: None,
            pos: 0,
        };
        if advance_batch(&mut cursor, &mut in_play)? {
            heap.push(Reverse((cursor.times[cursor.row()], cursors.len())));
            cursors.push(cursor);
        }
    }
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(CHUNK_ROWS);
    let mut picked_bytes = 0;
    while let Some(Reverse((_, c))) = heap.pop() {
        let cursor = &mut cursors[c];
        let row = cursor.row();
        picks.push((cursor.slot, row));
        let offsets = &cursor.text_offsets;
        picked_bytes += (offsets[row + 1] - offsets[row]) as usize;
        cursor.pos += 1;
        let more = if cursor.pos < cursor.times.len() {
            true
        } else {
            // The chunk may still point into the finished batch: emit before replacing slots.
            if picks.len() >= CHUNK_ROWS
                || picked_bytes >= CHUNK_TEXT_BYTES
                || in_play.len() > cursors.len() * 2
            {
                emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
                picked_bytes = 0;
            }
            advance_batch(&mut cursors[c], &mut in_play)?
        };
        if more {
            let cursor = &cursors[c];
            heap.push(Reverse((cursor.times[cursor.row()], c)));
        }
        if picks.len() >= CHUNK_ROWS || picked_bytes >= CHUNK_TEXT_BYTES {
            emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
            picked_bytes = 0;
        }
    }
    if !picks.is_empty() {
        emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
    }
    Ok(())
}

/// Loads the cursor's next non-empty batch; `false` when its source is exhausted.
fn advance_batch(cursor: &mut Cursor, in_play: &mut Vec<RecordBatch>) -> Result<bool, ArrowError> {
    loop {
        let Some(batch) = cursor.source.next().transpose()? else {
            cursor.times.clear();
            cursor.pos = 0;
            return Ok(false);
        };
        if batch.num_rows() == 0 {
            continue;
        }
        let times = batch
            .column(schema::column_index(schema::EVENT_TIME))
            .as_primitive::<TimestampMicrosecondType>();
        cursor.order = if cursor.sort {
            Some(sort_to_indices(times, None, None)?)
        } else {
            None
        };
        cursor.times = times.values().to_vec();
        cursor.text_offsets = batch
            .column(schema::column_index(schema::EVENT_JSON))
            .as_string::<i32>()
            .offsets()
            .clone();
        cursor.pos = 0;
        cursor.slot = in_play.len();
        in_play.push(batch);
        return Ok(true);
    }
}

/// Writes out the picked rows, then keeps only the batches cursors still read from.
fn emit_chunk(
    picks: &mut Vec<(usize, usize)>,
    in_play: &mut Vec<RecordBatch>,
    cursors: &mut [Cursor],
    emit: &mut impl FnMut(RecordBatch) -> Result<(), ArrowError>,
) -> Result<(), ArrowError> {
    if !picks.is_empty() {
        let refs: Vec<&RecordBatch> = in_play.iter().collect();
        let chunk = interleave_record_batch(&refs, picks)?;
        picks.clear();
        emit(chunk)?;
    }
    let mut kept = Vec::with_capacity(cursors.len());
    for cursor in cursors.iter_mut() {
        if cursor.pos < cursor.times.len() {
            kept.push(in_play[cursor.slot].clone());
            cursor.slot = kept.len() - 1;
        }
    }
    *in_play = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailq_events::batch::EventBatchBuilder;
    use trailq_events::record::parse_record;

    fn batch(times: &[u32]) -> RecordBatch {
        let mut b = EventBatchBuilder::new();
        for t in times {
            let (m, sec) = (t / 60, t % 60);
            let text =
                format!(r#"{{"eventTime":"2024-05-01T10:{m:02}:{sec:02}Z","eventID":"{t}"}}"#);
            b.append(&parse_record(&text).unwrap(), &text);
        }
        b.finish()
    }

    fn merged(sources: Vec<Source>) -> Vec<i64> {
        let mut out = Vec::new();
        merge_sorted(sources, |chunk| {
            let t = chunk
                .column(schema::column_index(schema::EVENT_TIME))
                .as_primitive::<TimestampMicrosecondType>();
            out.extend(t.values().iter().map(|v| (v / 1_000_000) % 3600));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn a_chunk_holds_at_most_about_a_mebibyte_of_records() {
        // Records of just over 64 KiB: the 16th takes a chunk past 1 MiB and ends it.
        let mut b = EventBatchBuilder::new();
        for t in (0..100u32).rev() {
            let text = format!(
                r#"{{"eventTime":"2024-05-01T10:{:02}:{:02}Z","eventID":"{t}","requestParameters":{{"pad":"{}"}}}}"#,
                t / 60,
                t % 60,
                "x".repeat(64 << 10)
            );
            b.append(&parse_record(&text).unwrap(), &text);
        }
        let mut rows = Vec::new();
        let mut first = Vec::new();
        merge_sorted(vec![Source::Unsorted(b.finish())], |chunk| {
            rows.push(chunk.num_rows());
            let ids = chunk
                .column(schema::column_index(schema::EVENT_ID))
                .as_string::<i32>();
            first.push(ids.value(0).to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, [16, 16, 16, 16, 16, 16, 4]);
        assert_eq!(
            first,
            ["0", "16", "32", "48", "64", "80", "96"],
            "in time order"
        );
    }

    #[test]
    fn merges_unsorted_batches_into_one_order() {
        let got = merged(vec![
            Source::Unsorted(batch(&[5, 1, 9])),
            Source::Unsorted(batch(&[3, 0, 3])),
            Source::Unsorted(batch(&[])),
            Source::Unsorted(batch(&[7])),
        ]);
        assert_eq!(got, vec![0, 1, 3, 3, 5, 7, 9]);
    }

    #[test]
    fn merges_sorted_sources_with_unsorted_ones_across_many_chunks() {
        let sorted = |v: Vec<u32>| {
            let batches: Vec<_> = v.chunks(7).map(batch).map(Ok).collect();
            Source::Sorted(Box::new(batches.into_iter()))
        };
        let got = merged(vec![
            sorted((0..3600).step_by(3).collect()),
            sorted((1..3600).step_by(3).collect()),
            Source::Unsorted(batch(&(2..3600).step_by(3).rev().collect::<Vec<_>>())),
        ]);
        assert_eq!(got, (0..3600).collect::<Vec<i64>>());
    }
}
