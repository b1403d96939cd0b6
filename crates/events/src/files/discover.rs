//! Where records lie on disk: the files under the paths a user gave (folders walked, the
//! organization trail layout understood), and those to skip without reading (digests, Insights,
//! files that are not JSON, FIFOs and devices, folders met again through symlinks, dangling
//! links), each with the reason it is skipped. Nothing here can wait forever or walk forever.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A file to read, with its size on disk and its delivery day.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub bytes: u64,
    /// From the trail layout's `…/YYYY/MM/DD/…` folders ([`path_day`]), if it has them.
    pub delivery_day: Option<i32>,
}

impl InputFile {
    pub fn new(path: PathBuf, bytes: u64) -> Self {
        let delivery_day = path_day(&path);
        InputFile {
            path,
            bytes,
            delivery_day,
        }
    }
}

/// Files that are recognised but hold no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    Digest,
    Insight,
    LakeResult,
    /// Met while walking a folder, without a JSON name (`.json`, `.jsonl`, `.ndjson`, maybe `.gz`).
    NotJsonName,
    /// Met while walking a folder: a FIFO, socket or device. Reading a FIFO nobody writes to
    /// would wait forever. (Named explicitly, as `<(zcat …)` does, it is read.)
    NotRegular,
    /// A folder already walked, reached again through a symlink (a loop, or two links to one
    /// folder): walking it again would never end, or read its files twice.
    SeenFolder,
    /// A symlink whose target does not exist.
    BrokenLink,
}

impl fmt::Display for SkipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipKind::Digest => "digest files",
            SkipKind::Insight => "Insights files",
            SkipKind::LakeResult => "Lake query-result files",
            SkipKind::NotJsonName => "files without a .json/.jsonl name",
            SkipKind::NotRegular => "FIFOs, sockets or devices",
            SkipKind::SeenFolder => "folders reached again through a symlink",
            SkipKind::BrokenLink => "symlinks to nothing",
        })
    }
}

/// What was found under the paths a user named.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    pub skipped: Vec<(PathBuf, SkipKind)>,
}

/// A named input that cannot be read or listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`")]
pub struct PathError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Walks the named files and folders, leaving out the folder `exclude` (the output dataset).
/// A name that cannot be read is an error; everything else is decided per file later, so one bad
/// file never stops the others.
pub fn discover(paths: &[PathBuf], exclude: Option<&Path>) -> Result<Discovered, PathError> {
    let mut found = Discovered::default();
    let mut walked = HashSet::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| PathError {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &meta, exclude, &mut walked, &mut found)?;
        } else {
            // A file named explicitly is always read (whatever its name) unless the trail layout
            // says it is not a log file.
            match skip_by_layout(path) {
                Some(kind) => found.skipped.push((path.clone(), kind)),
                None => found.files.push(InputFile::new(path.clone(), meta.len())),
            }
        }
    }
    // Delivery-day order (trail layout `…/YYYY/MM/DD/…`) rather than account → region → day: the
    // dataset's partitions are then filled one or two at a time, which keeps the set of eventIDs
    // the sink must hold small however many days the input spans.
    found
        .files
        .sort_by(|a, b| (a.delivery_day, &a.path).cmp(&(b.delivery_day, &b.path)));
    Ok(found)
}

/// The delivery day of a trail log file from its `…/YYYY/MM/DD/…` folders, if it has them.
pub fn path_day(path: &Path) -> Option<i32> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    parts.windows(3).rev().find_map(|w| {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if digits(w[0], 4) && digits(w[1], 2) && digits(w[2], 2) {
            crate::time::parse_day(&format!("{}-{}-{}", w[0], w[1], w[2]))
        } else {
            None
        }
    })
}

/// A folder's identity on disk, whatever path reached it.
#[cfg(unix)]
fn folder_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}
#[cfg(not(unix))]
fn folder_id(_: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

fn walk(
    dir: &Path,
    meta: &fs::Metadata,
    exclude: Option<&Path>,
    walked: &mut HashSet<(u64, u64)>,
    found: &mut Discovered,
) -> Result<(), PathError> {
    if exclude.is_some_and(|ex| fs::canonicalize(dir).is_ok_and(|d| d == ex)) {
        return Ok(());
    }
    if let Some(id) = folder_id(meta)
        && !walked.insert(id)
    {
        found.skipped.push((dir.to_owned(), SkipKind::SeenFolder));
        return Ok(());
    }
    let err = |source| PathError {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .and_then(|rd| rd.collect::<io::Result<Vec<_>>>())
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(err)?;
        // Follow symlinks like `find -L` would: metadata() resolves them.
        let meta = if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => {
                    found.skipped.push((path, SkipKind::BrokenLink));
                    continue;
                }
            }
        } else {
            entry.metadata().map_err(err)?
        };
        if meta.is_dir() {
            walk(&path, &meta, exclude, walked, found)?;
        } else if !meta.is_file() {
            found.skipped.push((path, SkipKind::NotRegular));
        } else if let Some(kind) = skip_by_layout(&path) {
            found.skipped.push((path, kind));
        } else if has_json_name(&name) {
            found.files.push(InputFile::new(path, meta.len()));
        } else {
            found.skipped.push((path, SkipKind::NotJsonName));
        }
    }
    Ok(())
}

fn has_json_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Trails write digests, Insights events and Lake results next to the logs
/// (`AWSLogs/[o-id/]<acct>/CloudTrail-Digest/…`): recognise them by the folder after the account.
pub fn skip_by_layout(path: &Path) -> Option<SkipKind> {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str()).collect();
    let logs = parts.iter().position(|p| *p == "AWSLogs")?;
    parts[logs + 1..].iter().find_map(|p| match p.to_str()? {
        "CloudTrail-Digest" => Some(SkipKind::Digest),
        "CloudTrail-Insight" => Some(SkipKind::Insight),
        "CloudTrail-Lake" => Some(SkipKind::LakeResult),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn fifos_loops_and_dangling_links_are_skipped_and_named() {
        let dir = std::env::temp_dir().join(format!("trailq-discover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::write(dir.join("a/x.json"), "{}").unwrap();
        std::os::unix::fs::symlink("..", dir.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("missing.json", dir.join("a/gone.json")).unwrap();
        let mkfifo = std::process::Command::new("mkfifo")
            .arg(dir.join("a/pipe.json"))
            .status()
            .unwrap();
        assert!(mkfifo.success());
        let found = discover(std::slice::from_ref(&dir), None).unwrap();
        let names = |v: Vec<&PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(
            names(found.files.iter().map(|f| &f.path).collect()),
            ["a/x.json"]
        );
        let mut skipped: Vec<(String, SkipKind)> = found
            .skipped
            .iter()
            .map(|(p, k)| (names(vec![p]).remove(0), *k))
            .collect();
        skipped.sort();
        assert_eq!(
            skipped,
            [
                ("a/b/up".to_owned(), SkipKind::SeenFolder),
                ("a/gone.json".to_owned(), SkipKind::BrokenLink),
                ("a/pipe.json".to_owned(), SkipKind::NotRegular),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn delivery_days_come_from_the_trail_layout() {
        let day = |s: &str| path_day(Path::new(s)).map(crate::time::format_day);
        assert_eq!(
            day("b/AWSLogs/o-1/1/CloudTrail/us-east-1/2024/05/01/x.json.gz").as_deref(),
            Some("2024-05-01")
        );
        assert_eq!(day("exports/2024/13/01/x.json"), None);
        assert_eq!(day("lookup-events.json"), None);
    }

    #[test]
    fn trail_layout_siblings_are_skipped_only_under_awslogs() {
        let p = |s: &str| skip_by_layout(Path::new(s));
        assert_eq!(
            p("b/AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"),
            Some(SkipKind::Digest)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail-Insight/r/x.json.gz"),
            Some(SkipKind::Insight)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail-Lake/Query/x.csv.gz"),
            Some(SkipKind::LakeResult)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail/us-east-1/2024/01/01/x.json.gz"),
            None
        );
        assert_eq!(p("CloudTrail-Digest/x.json"), None);
    }
}
