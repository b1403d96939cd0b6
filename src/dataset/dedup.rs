//! Which events a partition already holds, so that an `eventID` lands once in a dataset.
//!
//! CloudTrail's duplicate deliveries are the same record, so they share eventTime and therefore a
//! partition: ids are kept per partition as 128-bit hashes. Records without an eventID
//! (eventVersion 1.0) are never merged with each other: the n-th copy of a text in a run is a
//! duplicate only if the partition already holds n copies of it, so a re-run adds nothing.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, AsArray, RecordBatch};
use trailq_events::schema;

#[derive(Default)]
pub(super) struct SeenEvents {
    /// Hashes of every eventID on disk, spilled or buffered in this partition.
    ids: HashSet<u128>,
    /// Records without an eventID: copies of each text on disk, and copies seen in this run.
    idless_on_disk: HashMap<u128, u32>,
    idless_seen: HashMap<u128, u32>,
}

impl SeenEvents {
    /// True if the row is new to the dataset; records it as seen either way.
    pub(super) fn admit(&mut self, event_id: Option<&str>, text: &str) -> bool {
        match event_id {
            Some(id) => self.ids.insert(id_hash(id)),
            None => {
                let h = id_hash(text);
                let seen = self.idless_seen.entry(h).or_default();
                *seen += 1;
                *seen > self.idless_on_disk.get(&h).copied().unwrap_or(0)
            }
        }
    }

    /// Records the events of rows already in the dataset (`eventID`, and `eventJson` if
    /// projected: only files holding id-less records need it read).
    pub(super) fn remember(&mut self, batch: &RecordBatch) {
        let ids = batch
            .column_by_name(schema::EVENT_ID)
            .expect("projected")
            .as_string::<i32>();
        let texts = batch
            .column_by_name(schema::EVENT_JSON)
            .map(|c| c.as_string::<i32>());
        for row in 0..batch.num_rows() {
            if ids.is_valid(row) {
                self.ids.insert(id_hash(ids.value(row)));
            } else if let Some(texts) = texts {
                *self
                    .idless_on_disk
                    .entry(id_hash(texts.value(row)))
                    .or_default() += 1;
            }
        }
    }

    /// Entries held in memory.
    pub(super) fn resident(&self) -> usize {
        self.ids.len() + self.idless_seen.len() + self.idless_on_disk.len()
    }
}

fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}
