//! Which events a partition already holds, so that an `eventID` lands once in a dataset.
//!
//! CloudTrail's duplicate deliveries are the same record, so they share eventTime and therefore a
//! partition: ids are kept per partition as 128-bit hashes. Records without an eventID
//! (eventVersion 1.0) are never merged with each other: the n-th copy of a text in a run is a
//! duplicate only if the partition already holds n copies of it, so a re-run adds nothing.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use arrow::array::{Array, AsArray, RecordBatch};
use trailq_events::schema;

pub(super) struct SeenEvents {
    /// Hashes of every eventID on disk, spilled or buffered in this partition.
    ids: HashSet<u128, Hashed>,
    /// Records without an eventID: copies of each text on disk, and copies seen in this run.
    idless_on_disk: HashMap<u128, u32, Hashed>,
    idless_seen: HashMap<u128, u32, Hashed>,
    /// The seed of this partition's hashes, drawn at random: ids written to collide cannot be
    /// made to pile up in one bucket of these tables.
    seed: u64,
}

impl Default for SeenEvents {
    fn default() -> Self {
        SeenEvents {
            ids: HashSet::default(),
            idless_on_disk: HashMap::default(),
            idless_seen: HashMap::default(),
            seed: RandomState::new().hash_one(0u8),
        }
    }
}

/// The tables' keys are seeded xxh3 hashes already, so the tables use their low 64 bits as they
/// are. Hashing them again with std's SipHash was ~8% of the dataset thread's time in a
/// real-shaped convert, the thread that holds the others up (BENCHMARKS.md, issue 15 session 23).
type Hashed = BuildHasherDefault<KeyIsHash>;

#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }

    /// Only `u128` keys are hashed here; any other input is folded in, so it still works.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl SeenEvents {
    /// True if the row is new to the dataset; records it as seen either way.
    pub(super) fn admit(&mut self, event_id: Option<&str>, text: &str) -> bool {
        match event_id {
            Some(id) => self.ids.insert(self.hash(id)),
            None => {
                let h = self.hash(text);
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
                self.ids.insert(self.hash(ids.value(row)));
            } else if let Some(texts) = texts {
                let h = self.hash(texts.value(row));
                *self.idless_on_disk.entry(h).or_default() += 1;
            }
        }
    }

    /// Entries held in memory.
    pub(super) fn resident(&self) -> usize {
        self.ids.len() + self.idless_seen.len() + self.idless_on_disk.len()
    }

    fn hash(&self, text: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(text.as_bytes(), self.seed)
    }
}
