//! The CloudTrail emulator's parts. So far: its seeded data set and the trail files it can write;
//! the HTTP server (issue "The CloudTrail emulator") builds on these.

pub mod generate;
pub mod trail_files;
