//! Sources: where raw CloudTrail records come from. Each yields the record's JSON text exactly
//! as AWS gave it, so every source lands in the same schema through the one record parser.

pub mod lake;
pub mod lookup_events;
pub mod trail_bucket;
