//! A dataset in S3 (`--out s3://BUCKET/PREFIX`), worked on through a local staging copy.
//!
//! The sink writes into a staging folder exactly as it writes a local dataset (dedup, spills,
//! merging small files, journaled replacement), and this module keeps that folder and the bucket
//! in step:
//! - at open: takes the dataset's lock (`_trailq/lock`, created only if absent), repairs what a
//!   publish cut short, and brings down the state files (`export.json`, `convert-s3.json`,
//!   `rejected.jsonl`) so a resumed or incremental run finds them;
//! - the first time a run touches a partition, its objects come down, so ids already in S3 are
//!   not added again and its small files are merged as locally;
//! - [`Remote::publish`] sends what the commits changed: new data files (whole: a multipart
//!   upload completes last), then the state files, then deletes the files the commits replaced.
//!   When anything is to be deleted, `_trailq/publish.json` lists both sides first: a publish cut
//!   short is finished by the next run when every new file is there, and undone otherwise, so
//!   rows never stay twice. (Between a merged file's upload and its small files' deletion, a
//!   reader listing the partition sees those rows twice; S3 has no rename.)
//!
//! The staging folder holds only the partitions the run touched and is removed when it ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::layout;
use super::sink::DatasetError;
use crate::s3::{self, Bucket, Failure, S3Url};

/// A lock whose holder has not refreshed it for this long is taken over: its run died on
/// another machine (on this one, a holder whose process is gone is taken over at once).
const LOCK_STALE: Duration = Duration::from_secs(10 * 60);
/// How often the holder refreshes the lock.
const LOCK_REFRESH: Duration = Duration::from_secs(60);
/// Files sent or fetched at once.
const TRANSFERS: usize = 8;
/// Part size of a multipart upload (S3's minimum is 5 MiB); a file no larger goes in one PUT.
const PART_BYTES: usize = 8 << 20;
/// Bytes of data files held in memory to be sent, over all transfers at once. A publish runs in
/// the middle of a convert, beside its batches and merges, so uploads get a fixed share of the
/// 300 MB bound: when each of 8 transfers buffered a whole ~17 MiB day file, a 10 M-record
/// `convert s3:// --out s3://` peaked at 293 MiB (BENCHMARKS.md, issue 15 session 23).
const UPLOAD_BUDGET_BYTES: usize = 32 << 20;

type Result<T> = std::result::Result<T, DatasetError>;

/// The lock's content: who holds it, so another run can say so or see that it died.
#[derive(Debug, Serialize, Deserialize)]
struct LockHolder {
    host: String,
    pid: u32,
    started: String,
    refreshed_unix: u64,
}

/// `_trailq/publish.json`: a publish that replaces files, written before it starts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PublishJournal {
    uploads: Vec<String>,
    deletes: Vec<String>,
}

/// What publishing has sent so far, for the summary.
#[derive(Debug, Default, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfers {
    pub files_up: u64,
    pub bytes_up: u64,
    pub files_down: u64,
    pub bytes_down: u64,
    pub deleted: u64,
}

pub struct Remote {
    url: S3Url,
    bucket: Bucket,
    staging: tempfile::TempDir,
    handle: tokio::runtime::Handle,
    /// Data files in S3 of each partition this run touched (name → size), as last published.
    partitions: BTreeMap<i32, BTreeMap<String, u64>>,
    /// State files as last sent (name → size and modification time).
    state_sent: BTreeMap<&'static str, (u64, SystemTime)>,
    lock_keeper: Option<tokio::task::JoinHandle<()>>,
    lock_etag: Arc<std::sync::Mutex<Option<String>>>,
    /// [`UPLOAD_BUDGET_BYTES`], one permit a byte: an upload reads a part only once it has room.
    upload_budget: tokio::sync::Semaphore,
    released: bool,
    pub transfers: Transfers,
}

impl Remote {
    /// Connects, takes the lock, repairs an interrupted publish and brings the state files down.
    pub async fn open(url: &S3Url, config: &aws_config::SdkConfig) -> Result<Remote> {
        let bucket = s3::open(config, &url.bucket)
            .await
            .map_err(DatasetError::Remote)?;
        remove_abandoned_staging();
        let staging = tempfile::Builder::new()
            .prefix(&format!("trailq-out-{}-", std::process::id()))
            .tempdir()
            .map_err(|e| DatasetError::Remote(format!(
                "cannot create a staging folder for {url} under {}: {e}; set TMPDIR to a folder with room for the partitions the run touches",
                std::env::temp_dir().display()
            )))?;
        let mut remote = Remote {
            url: url.clone(),
            bucket,
            staging,
            handle: tokio::runtime::Handle::current(),
            partitions: BTreeMap::new(),
            state_sent: BTreeMap::new(),
            lock_keeper: None,
            lock_etag: Arc::new(std::sync::Mutex::new(None)),
            upload_budget: tokio::sync::Semaphore::new(UPLOAD_BUDGET_BYTES),
            released: false,
            transfers: Transfers::default(),
        };
        remote.lock().await?;
        remote.repair().await?;
        std::fs::create_dir_all(layout::state_dir(remote.staging.path()))
            .map_err(|e| DatasetError::Remote(format!("staging: {e}")))?;
        for name in layout::SHARED_STATE_FILES {
            let key = remote.key(&format!("{}/{name}", layout::STATE_DIR));
            let local = layout::state_dir(remote.staging.path()).join(name);
            match remote.download(&key, &local).await {
                Ok(_) => {
                    let stamp = stamp(&local);
                    remote.state_sent.insert(name, stamp);
                }
                Err(Failure::NotFound) => {}
                Err(f) => return Err(remote.failure(&key, &f)),
            }
        }
        Ok(remote)
    }

    /// The folder the sink writes in.
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }

    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// Makes the staging partition `dir` hold the partition's files in S3 (once per run: after
    /// that the staging copy is ahead, and this run is the only writer).
    pub fn fetch_partition(&mut self, day: i32, dir: &Path) -> Result<()> {
        if self.partitions.contains_key(&day) {
            return Ok(());
        }
        let handle = self.handle.clone();
        let files = handle.block_on(self.fetch_partition_async(day, dir))?;
        self.partitions.insert(day, files);
        Ok(())
    }

    async fn fetch_partition_async(
        &mut self,
        day: i32,
        dir: &Path,
    ) -> Result<BTreeMap<String, u64>> {
        let prefix = self.key(&layout::partition_name(day));
        let listed: Vec<_> = self
            .bucket
            .store
            .list(Some(&ObjectPath::from(prefix.as_str())))
            .try_collect()
            .await
            .map_err(|e| self.failure(&format!("{prefix}/"), &Failure::of(&e)))?;
        let mut files = BTreeMap::new();
        for meta in listed {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            // Only direct children that trailq wrote; anything else is left as it is.
            if layout::is_data_file(name) && meta.location.as_ref() == format!("{prefix}/{name}") {
                files.insert(name.to_owned(), meta.size);
            }
        }
        if !files.is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| DatasetError::Remote(format!("staging {}: {e}", dir.display())))?;
        }
        let this = &*self;
        let jobs = files.keys().map(|name| {
            let key = format!("{prefix}/{name}");
            let local = dir.join(name);
            async move { (this.download(&key, &local).await, key) }
        });
        let results: Vec<_> = futures::stream::iter(jobs)
            .buffer_unordered(TRANSFERS)
            .collect()
            .await;
        let mut down = (0, 0);
        for (result, key) in results {
            let bytes = result.map_err(|f| self.failure(&key, &f))?;
            down.0 += 1;
            down.1 += bytes;
        }
        self.transfers.files_down += down.0;
        self.transfers.bytes_down += down.1;
        Ok(files)
    }

    /// [`Remote::publish_async`], from a thread outside the runtime.
    pub fn publish(&mut self) -> Result<()> {
        let handle = self.handle.clone();
        handle.block_on(self.publish_async())
    }

    /// Sends what the commits since the last publish changed: new data files, then the state
    /// files, then deletes the replaced files (journaled when there are any).
    pub async fn publish_async(&mut self) -> Result<()> {
        let root = self.staging.path().to_owned();
        let mut journal = PublishJournal::default();
        let mut now_there = BTreeMap::new();
        for (&day, before) in &self.partitions {
            let dir = layout::partition_dir(&root, day);
            let partition = self.key(&layout::partition_name(day));
            let local: BTreeMap<String, u64> = super::sink::data_files(&dir)?
                .into_iter()
                .filter_map(|(p, len)| Some((p.file_name()?.to_str()?.to_owned(), len)))
                .collect();
            for name in local.keys().filter(|n| !before.contains_key(*n)) {
                journal.uploads.push(format!("{partition}/{name}"));
            }
            for name in before.keys().filter(|n| !local.contains_key(*n)) {
                journal.deletes.push(format!("{partition}/{name}"));
            }
            now_there.insert(day, local);
        }
        let journal_key = self.key(&format!("{}/publish.json", layout::STATE_DIR));
        if !journal.deletes.is_empty() {
            let body = serde_json::to_vec(&journal).expect("plain data serializes");
            self.bucket
                .store
                .put(&ObjectPath::from(journal_key.as_str()), body.into())
                .await
                .map_err(|e| self.failure(&journal_key, &Failure::of(&e)))?;
        }
        let this = &*self;
        let uploads = journal.uploads.iter().map(|key| {
            let local = root.join(key.strip_prefix(&this.url.prefix).unwrap_or(key));
            async move { (this.upload(key, &local).await, key) }
        });
        let results: Vec<_> = futures::stream::iter(uploads)
            .buffer_unordered(TRANSFERS)
            .collect()
            .await;
        for (result, key) in results {
            let bytes = result.map_err(|f| self.failure(key, &f))?;
            self.transfers.files_up += 1;
            self.transfers.bytes_up += bytes;
        }
        for name in layout::SHARED_STATE_FILES {
            let local = layout::state_dir(&root).join(name);
            let stamp = stamp(&local);
            if stamp.0 == 0 || self.state_sent.get(name) == Some(&stamp) {
                continue;
            }
            let key = self.key(&format!("{}/{name}", layout::STATE_DIR));
            self.upload(&key, &local)
                .await
                .map_err(|f| self.failure(&key, &f))?;
            self.state_sent.insert(name, stamp);
        }
        self.delete_all(&journal.deletes).await?;
        if !journal.deletes.is_empty() {
            self.delete_all(std::slice::from_ref(&journal_key)).await?;
        }
        self.partitions = now_there;
        Ok(())
    }

    /// Publishes and releases the lock; the staging folder goes with `self`.
    pub async fn close(mut self) -> Result<Transfers> {
        self.publish_async().await?;
        self.release().await;
        Ok(self.transfers)
    }

    /// `PREFIX/rel`: the key of `rel` under the dataset.
    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.url.prefix)
    }

    fn failure(&self, key: &str, f: &Failure) -> DatasetError {
        let what = s3::key_url(&self.url.bucket, key);
        DatasetError::Remote(match f {
            Failure::AccessDenied(text) => format!(
                "{what}: access denied ({text}); writing a dataset needs s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject under the prefix (and kms:GenerateDataKey with a KMS key)"
            ),
            other => other.describe(&what),
        })
    }

    async fn download(&self, key: &str, local: &Path) -> std::result::Result<u64, Failure> {
        let got = self
            .bucket
            .store
            .get(&ObjectPath::from(key))
            .await
            .map_err(|e| Failure::of(&e))?;
        let mut stream = got.into_stream();
        let mut file = tokio::fs::File::create(local)
            .await
            .map_err(|e| Failure::Other(format!("staging {}: {e}", local.display())))?;
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Failure::of(&e))?;
            bytes += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Failure::Other(format!("staging {}: {e}", local.display())))?;
        }
        file.flush()
            .await
            .map_err(|e| Failure::Other(format!("staging {}: {e}", local.display())))?;
        Ok(bytes)
    }

    /// Sends a local file to `key`; the object appears only once all of it is there. A file of
    /// up to [`PART_BYTES`] goes in one PUT, a larger one as a multipart upload of parts sent
    /// one after the other; either way only the part being sent is in memory.
    async fn upload(&self, key: &str, local: &Path) -> std::result::Result<u64, Failure> {
        let local_err =
            |e: std::io::Error| Failure::Other(format!("staging {}: {e}", local.display()));
        let mut file = tokio::fs::File::open(local).await.map_err(local_err)?;
        let len = file.metadata().await.map_err(local_err)?.len();
        let path = ObjectPath::from(key);
        let store = &self.bucket.store;
        if len <= PART_BYTES as u64 {
            let (_room, body) = self.read_part(&mut file, len as usize, local).await?;
            store.put(&path, body).await.map_err(|e| Failure::of(&e))?;
            return Ok(len);
        }
        let mut upload = store
            .put_multipart(&path)
            .await
            .map_err(|e| Failure::of(&e))?;
        let sent: std::result::Result<(), Failure> = async {
            let mut left = len;
            while left > 0 {
                let n = left.min(PART_BYTES as u64) as usize;
                let (_room, part) = self.read_part(&mut file, n, local).await?;
                upload.put_part(part).await.map_err(|e| Failure::of(&e))?;
                left -= n as u64;
            }
            // Only now does the object exist, whole.
            upload
                .complete()
                .await
                .map(drop)
                .map_err(|e| Failure::of(&e))
        }
        .await;
        if let Err(f) = sent {
            let _ = upload.abort().await;
            return Err(f);
        }
        Ok(len)
    }

    /// The next `len` bytes of `file`, read once the upload budget has room for them; the
    /// permit returns the room when the caller drops it, after sending them.
    async fn read_part(
        &self,
        file: &mut tokio::fs::File,
        len: usize,
        local: &Path,
    ) -> std::result::Result<(tokio::sync::SemaphorePermit<'_>, PutPayload), Failure> {
        let room = self
            .upload_budget
            .acquire_many(len as u32)
            .await
            .expect("the upload budget is never closed");
        let mut bytes = vec![0; len];
        file.read_exact(&mut bytes)
            .await
            .map_err(|e| Failure::Other(format!("staging {}: {e}", local.display())))?;
        Ok((room, bytes.into()))
    }

    async fn delete_all(&mut self, keys: &[String]) -> Result<()> {
        for key in keys {
            match self
                .bucket
                .store
                .delete(&ObjectPath::from(key.as_str()))
                .await
            {
                Ok(()) => self.transfers.deleted += 1,
                Err(e) => match Failure::of(&e) {
                    Failure::NotFound => {}
                    f => return Err(self.failure(key, &f)),
                },
            }
        }
        Ok(())
    }

    /// Finishes or undoes a publish that was cut short: finished when every new file made it
    /// (the replaced files are then deleted), undone otherwise (the new files that made it are
    /// deleted: the state files were not sent yet, so their rows are read again).
    async fn repair(&mut self) -> Result<()> {
        let key = self.key(&format!("{}/publish.json", layout::STATE_DIR));
        let journal: PublishJournal = match self
            .bucket
            .store
            .get(&ObjectPath::from(key.as_str()))
            .await
        {
            Ok(got) => {
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| self.failure(&key, &Failure::of(&e)))?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    DatasetError::Remote(format!(
                        "{}: not a publish journal ({e}); if no trailq run is writing, delete it and run again",
                        s3::key_url(&self.url.bucket, &key)
                    ))
                })?
            }
            Err(e) => match Failure::of(&e) {
                Failure::NotFound => return Ok(()),
                f => return Err(self.failure(&key, &f)),
            },
        };
        let mut all_there = true;
        for upload in &journal.uploads {
            match self
                .bucket
                .store
                .head(&ObjectPath::from(upload.as_str()))
                .await
            {
                Ok(_) => {}
                Err(e) => match Failure::of(&e) {
                    Failure::NotFound => all_there = false,
                    f => return Err(self.failure(upload, &f)),
                },
            }
        }
        let undo = if all_there {
            journal.deletes
        } else {
            journal.uploads
        };
        self.delete_all(&undo).await?;
        self.delete_all(std::slice::from_ref(&key)).await
    }

    /// Takes `_trailq/lock`: created only if absent; taken over only from a holder that died.
    async fn lock(&mut self) -> Result<()> {
        let key = self.key(&format!("{}/lock", layout::STATE_DIR));
        let path = ObjectPath::from(key.as_str());
        let me = LockHolder {
            host: host_name(),
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            refreshed_unix: unix_now(),
        };
        let body = || PutPayload::from(serde_json::to_vec(&me).expect("plain data serializes"));
        let create = PutOptions::from(PutMode::Create);
        let taken = match self.bucket.store.put_opts(&path, body(), create).await {
            Ok(r) => r,
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                let got = self
                    .bucket
                    .store
                    .get(&path)
                    .await
                    .map_err(|e| self.failure(&key, &Failure::of(&e)))?;
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| self.failure(&key, &Failure::of(&e)))?;
                let holder: Option<LockHolder> = serde_json::from_slice(&bytes).ok();
                // Our own, when an answer to the create was lost and the retry found it.
                let dead = holder.as_ref().is_none_or(|h| {
                    (h.host == me.host && (h.pid == me.pid || !process_alive(h.pid)))
                        || unix_now().saturating_sub(h.refreshed_unix) > LOCK_STALE.as_secs()
                });
                if !dead {
                    let h = holder.expect("alive means parsed");
                    return Err(DatasetError::Remote(format!(
                        "another trailq run (process {} on {}, since {}) is writing to {}; wait for it to finish, or if it died, delete {} (it is taken over by itself {} minutes after its last refresh)",
                        h.pid,
                        h.host,
                        h.started,
                        self.url,
                        s3::key_url(&self.url.bucket, &key),
                        LOCK_STALE.as_secs() / 60
                    )));
                }
                let update = PutOptions::from(PutMode::Update(version));
                self.bucket
                    .store
                    .put_opts(&path, body(), update)
                    .await
                    .map_err(|e| match e {
                        object_store::Error::Precondition { .. } => DatasetError::Remote(format!(
                            "another trailq run took the lock of {} at the same moment; wait for it to finish",
                            self.url
                        )),
                        e => self.failure(&key, &Failure::of(&e)),
                    })?
            }
            Err(e) => return Err(self.failure(&key, &Failure::of(&e))),
        };
        *self.lock_etag.lock().unwrap_or_else(|e| e.into_inner()) = taken.e_tag;
        // Refreshed while held, so that another machine does not take it as abandoned during
        // a long run.
        let (store, etag) = (self.bucket.store.clone(), Arc::clone(&self.lock_etag));
        self.lock_keeper = Some(tokio::spawn(async move {
            let mut me = me;
            loop {
                tokio::time::sleep(LOCK_REFRESH).await;
                me.refreshed_unix = unix_now();
                let current = etag.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let mode = PutMode::Update(UpdateVersion {
                    e_tag: current,
                    version: None,
                });
                let body =
                    PutPayload::from(serde_json::to_vec(&me).expect("plain data serializes"));
                if let Ok(r) = store.put_opts(&path, body, mode.into()).await {
                    *etag.lock().unwrap_or_else(|e| e.into_inner()) = r.e_tag;
                }
            }
        }));
        Ok(())
    }

    async fn release(&mut self) {
        if let Some(keeper) = self.lock_keeper.take() {
            keeper.abort();
        }
        if !self.released {
            self.released = true;
            let key = self.key(&format!("{}/lock", layout::STATE_DIR));
            let _ = self
                .bucket
                .store
                .delete(&ObjectPath::from(key.as_str()))
                .await;
        }
    }
}

impl Drop for Remote {
    /// A run that ends on an error releases the lock too (what it published stays; the next run
    /// repairs an unfinished publish). The runtime may be busy in this very thread, so the
    /// release runs on a thread of its own.
    fn drop(&mut self) {
        if let Some(keeper) = self.lock_keeper.take() {
            keeper.abort();
        }
        if self.released {
            return;
        }
        self.released = true;
        let (handle, store) = (self.handle.clone(), self.bucket.store.clone());
        let key = ObjectPath::from(self.key(&format!("{}/lock", layout::STATE_DIR)));
        let _ = crate::threads::spawn("s3-unlock", move || {
            handle.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), store.delete(&key)).await;
            })
        })
        .join();
    }
}

/// A file's size and modification time, to send a state file only when it changed.
fn stamp(path: &Path) -> (u64, SystemTime) {
    std::fs::metadata(path)
        .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
        .unwrap_or((0, SystemTime::UNIX_EPOCH))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Staging folders of runs on this machine whose process is gone (killed: no clean-up ran).
fn remove_abandoned_staging() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("trailq-out-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
