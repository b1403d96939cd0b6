//! Writes generated events as CloudTrail writes them to S3: gzipped `{"Records":[…]}` files, one
//! per account, region and 5-minute delivery window, under the organization trail layout
//! `AWSLogs/<o-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz`.
//! Records inside a file are in no particular order, as CloudTrail documents.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::generate::{GeneratedEvent, Generator};

const WINDOW_MICROS: i64 = 5 * 60 * 1_000_000;

#[derive(Debug, Default, Clone, Copy)]
pub struct TrailFilesWritten {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
}

/// Writes every day of `generator` under `dir`, using `threads` threads (days are independent).
pub fn write_trail_files(
    generator: &Generator,
    dir: &Path,
    org_id: &str,
    threads: usize,
) -> io::Result<TrailFilesWritten> {
    let days = generator.day_count();
    let next = std::sync::atomic::AtomicU32::new(0);
    let results: Vec<io::Result<TrailFilesWritten>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut total = TrailFilesWritten::default();
                    loop {
                        let d = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if d >= days {
                            return Ok(total);
                        }
                        let w = write_day(generator.day(d), dir, org_id, u64::from(d))?;
                        total.files += w.files;
                        total.records += w.records;
                        total.bytes += w.bytes;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer threads do not panic"))
            .collect()
    });
    let mut total = TrailFilesWritten::default();
    for r in results {
        let r = r?;
        total.files += r.files;
        total.records += r.records;
        total.bytes += r.bytes;
    }
    Ok(total)
}

fn write_day(
    mut events: Vec<GeneratedEvent>,
    dir: &Path,
    org_id: &str,
    salt: u64,
) -> io::Result<TrailFilesWritten> {
    let mut rng = fastrand::Rng::with_seed(salt);
    events.sort_by(|a, b| {
        (&a.account, &a.region, a.time_micros / WINDOW_MICROS).cmp(&(
            &b.account,
            &b.region,
            b.time_micros / WINDOW_MICROS,
        ))
    });
    let mut written = TrailFilesWritten::default();
    for group in events.chunk_by_mut(|a, b| {
        a.account == b.account
            && a.region == b.region
            && a.time_micros / WINDOW_MICROS == b.time_micros / WINDOW_MICROS
    }) {
        rng.shuffle(group);
        let first = &group[0];
        let delivered = DateTime::<Utc>::from_timestamp_micros(
            (first.time_micros / WINDOW_MICROS + 1) * WINDOW_MICROS,
        )
        .expect("generated times are valid");
        let folder = dir
            .join("AWSLogs")
            .join(org_id)
            .join(&first.account)
            .join("CloudTrail")
            .join(&first.region)
            .join(delivered.format("%Y/%m/%d").to_string());
        fs::create_dir_all(&folder)?;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let unique: String = (0..16)
            .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())] as char)
            .collect();
        let path = folder.join(format!(
            "{}_CloudTrail_{}_{}_{unique}.json.gz",
            first.account,
            first.region,
            delivered.format("%Y%m%dT%H%MZ")
        ));
        let mut gz = GzEncoder::new(BufWriter::new(File::create(&path)?), Compression::default());
        gz.write_all(b"{\"Records\":[")?;
        for (i, e) in group.iter().enumerate() {
            if i > 0 {
                gz.write_all(b",")?;
            }
            gz.write_all(e.json.as_bytes())?;
        }
        gz.write_all(b"]}")?;
        let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        written.bytes += file.metadata()?.len();
        written.files += 1;
        written.records += group.len() as u64;
    }
    Ok(written)
}
