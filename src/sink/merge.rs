//! K-way merge of batches sorted by `eventTime` into one sorted stream of bounded-size chunks.
//!
//! Used for both ways a Parquet file is made: flushing a partition's buffered batches (each batch
//! is sorted by an index, not copied) and compacting small files (each file is already sorted).
//! Memory stays at one batch per input plus one output chunk, whatever the total size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::{interleave_record_batch, sort_to_indices};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;

use crate::schema;

/// Rows per output chunk: small enough that a chunk of ~2 KB records stays a few tens of MB.
pub const CHUNK_ROWS: usize = 8192;

/// A source of batches in `eventTime` order across all its batches. With `sort_each` on the merge,
/// batches are sorted one by one, so there each unsorted batch must be a source of its own.
pub type BatchSource<'a> = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + 'a>;

struct Cursor<'a> {
    source: BatchSource<'a>,
    /// Index of the current batch in `Merge::in_play`.
    slot: usize,
    times: Vec<i64>,
    /// Row order within the current batch (sorted by time); `None` when the batch is in order.
    order: Option<UInt32Array>,
    pos: usize,
}

impl Cursor<'_> {
    fn row(&self) -> usize {
        match &self.order {
            Some(order) => order.value(self.pos) as usize,
            None => self.pos,
        }
    }
}

/// Merges `sources` and calls `emit` with each chunk, in `eventTime` order (ties: source order).
pub fn merge_sorted<'a>(
    sources: Vec<BatchSource<'a>>,
    sort_each: bool,
    mut emit: impl FnMut(RecordBatch) -> Result<(), ArrowError>,
) -> Result<(), ArrowError> {
    let mut in_play: Vec<RecordBatch> = Vec::new();
    let mut cursors: Vec<Cursor<'a>> = Vec::new();
    let mut heap = BinaryHeap::new();
    for source in sources {
        let mut cursor = Cursor {
            source,
            slot: 0,
            times: Vec::new(),
            order: None,
            pos: 0,
        };
        if advance_batch(&mut cursor, &mut in_play, sort_each)? {
            heap.push(Reverse((cursor.times[cursor.row()], cursors.len())));
            cursors.push(cursor);
        }
    }
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(CHUNK_ROWS);
    while let Some(Reverse((_, c))) = heap.pop() {
        let cursor = &mut cursors[c];
        picks.push((cursor.slot, cursor.row()));
        cursor.pos += 1;
        let more = if cursor.pos < cursor.times.len() {
            true
        } else {
            // The chunk may still point into the finished batch: emit before replacing slots.
            if picks.len() >= CHUNK_ROWS || in_play.len() > cursors.len() * 2 {
                emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
            }
            advance_batch(&mut cursors[c], &mut in_play, sort_each)?
        };
        if more {
            let cursor = &cursors[c];
            heap.push(Reverse((cursor.times[cursor.row()], c)));
        }
        if picks.len() >= CHUNK_ROWS {
            emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
        }
    }
    if !picks.is_empty() {
        emit_chunk(&mut picks, &mut in_play, &mut cursors, &mut emit)?;
    }
    Ok(())
}

/// Loads the cursor's next non-empty batch; `false` when its source is exhausted.
fn advance_batch(
    cursor: &mut Cursor<'_>,
    in_play: &mut Vec<RecordBatch>,
    sort_each: bool,
) -> Result<bool, ArrowError> {
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
        cursor.order = if sort_each {
            Some(sort_to_indices(times, None, None)?)
        } else {
            None
        };
        cursor.times = times.values().to_vec();
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
    cursors: &mut [Cursor<'_>],
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
    use crate::batch::EventBatchBuilder;
    use crate::record::parse_record;

    fn batch(times: &[u32]) -> RecordBatch {
        let mut b = EventBatchBuilder::new();
        for t in times {
            let text = format!(r#"{{"eventTime":"2024-05-01T10:00:{t:02}Z","eventID":"{t}"}}"#);
            b.append(&parse_record(&text).unwrap(), &text);
        }
        b.finish()
    }

    fn merged(batches: Vec<Vec<RecordBatch>>, sort_each: bool) -> Vec<i64> {
        let sources = batches
            .into_iter()
            .map(|bs| Box::new(bs.into_iter().map(Ok)) as BatchSource)
            .collect();
        let mut out = Vec::new();
        merge_sorted(sources, sort_each, |chunk| {
            let t = chunk
                .column(schema::column_index(schema::EVENT_TIME))
                .as_primitive::<TimestampMicrosecondType>();
            out.extend(t.values().iter().map(|v| (v / 1_000_000) % 60));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn merges_unsorted_batches_into_one_order() {
        let got = merged(
            vec![
                vec![batch(&[5, 1, 9])],
                vec![batch(&[3, 0, 3])],
                vec![batch(&[])],
                vec![batch(&[7])],
            ],
            true,
        );
        assert_eq!(got, vec![0, 1, 3, 3, 5, 7, 9]);
    }

    #[test]
    fn merges_sorted_sources_across_many_chunks() {
        let a: Vec<u32> = (0..60).step_by(2).collect();
        let b: Vec<u32> = (1..60).step_by(2).collect();
        let many = |v: &[u32]| v.chunks(7).map(batch).collect::<Vec<_>>();
        let got = merged(vec![many(&a), many(&b)], false);
        assert_eq!(got, (0..60).collect::<Vec<i64>>());
    }
}
