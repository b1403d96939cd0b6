//! Repairs what a crashed run left in a dataset, before the next run writes: replacements of
//! small files that were under way are finished (journal committed) or undone (not committed),
//! spilled runs and half-written `.partial` files are removed. Only the run holding the dataset's
//! lock calls it, so nothing it removes can belong to a live writer.

use std::fs;
use std::path::Path;

use super::layout;
use super::partition_writer::Journal;
use super::sink::{DatasetError, data_files};
use super::spill;

/// Finishes or undoes interrupted replacements and removes what crashed runs left.
pub(super) fn recover(root: &Path) -> Result<(), DatasetError> {
    let state = layout::state_dir(root);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DatasetError::Io { path, source }
    };
    spill::remove_stale(root);
    for entry in fs::read_dir(&state).map_err(io(&state))? {
        let path = entry.map_err(io(&state))?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !layout::is_replace_journal(&name) {
            continue;
        }
        let journal: Option<Journal> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(j) = journal {
            // A journal is our own file, but never let one point outside the dataset.
            let plain = |n: &str| !n.contains(['/', '\\']) && !n.starts_with('.');
            if layout::partition_day(&j.partition).is_some() && plain(&j.partition) && plain(&j.run)
            {
                let dir = root.join(&j.partition);
                if j.committed {
                    for input in j.inputs.iter().filter(|n| plain(n)) {
                        let _ = fs::remove_file(dir.join(input));
                    }
                } else {
                    // The merge did not finish: its inputs are whole, its outputs go.
                    for (file, _) in data_files(&dir)? {
                        if file_name(&file)
                            .and_then(|n| layout::file_number(n, &j.run))
                            .is_some_and(|n| n > j.outputs_after)
                        {
                            let _ = fs::remove_file(file);
                        }
                    }
                }
            }
        }
        let _ = fs::remove_file(&path);
    }
    // Temporary files only ever exist while a run holds the lock, which we now hold.
    for entry in fs::read_dir(root).map_err(io(root))? {
        let dir = entry.map_err(io(root))?.path();
        let is_partition = file_name(&dir).is_some_and(|n| layout::partition_day(n).is_some());
        if !is_partition || !dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&dir).map_err(io(&dir))? {
            let file = file.map_err(io(&dir))?.path();
            if file_name(&file).is_some_and(layout::is_partial) {
                let _ = fs::remove_file(&file);
            }
        }
    }
    Ok(())
}

/// A path's file name, when it is text.
fn file_name(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::sink::{DatasetOptions, ParquetDatasetSink};

    #[test]
    fn recovery_undoes_an_unfinished_replacement_and_finishes_a_committed_one() {
        let dir = tempfile::tempdir().unwrap();
        let sink = ParquetDatasetSink::open(dir.path(), DatasetOptions::default()).unwrap();
        drop(sink);
        let part = dir.path().join("event_date=2024-05-01");
        fs::create_dir_all(&part).unwrap();
        for name in [
            "part-old-00001.parquet",
            "part-crashed-00001.parquet",
            "part-crashed-00002.parquet",
            "part-done-00001.parquet",
            "part-old-00002.parquet",
        ] {
            fs::write(part.join(name), b"x").unwrap();
        }
        fs::write(part.join(".part-crashed-00002.parquet.partial"), b"x").unwrap();
        let state = layout::state_dir(dir.path());
        let journal = |run: &str, inputs: &[&str], committed: bool| {
            serde_json::to_vec(&Journal {
                partition: "event_date=2024-05-01".into(),
                run: run.into(),
                inputs: inputs.iter().map(|s| s.to_string()).collect(),
                committed,
                outputs_after: 1,
            })
            .unwrap()
        };
        // The run had committed crashed-1 earlier, then was merging it with old-1 into
        // crashed-2 when it crashed: the output goes, both inputs stay.
        fs::write(
            state.join("replace-crashed-2024-05-01.json"),
            journal(
                "crashed",
                &["part-old-00001.parquet", "part-crashed-00001.parquet"],
                false,
            ),
        )
        .unwrap();
        // Committed merge of old-2 into done-1: the input goes.
        fs::write(
            state.join("replace-done-2024-05-01.json"),
            journal("done", &["part-old-00002.parquet"], true),
        )
        .unwrap();
        // A journal must never reach outside its partition.
        fs::write(
            state.join("replace-evil-x.json"),
            serde_json::to_vec(&Journal {
                partition: "event_date=2024-05-01".into(),
                run: "../x".into(),
                inputs: vec!["../../keep".into()],
                committed: true,
                outputs_after: 0,
            })
            .unwrap(),
        )
        .unwrap();
        fs::write(dir.path().join("keep"), b"x").unwrap();
        let _sink = ParquetDatasetSink::open(dir.path(), DatasetOptions::default()).unwrap();
        let mut left: Vec<String> = fs::read_dir(&part)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "part-crashed-00001.parquet",
                "part-done-00001.parquet",
                "part-old-00001.parquet"
            ]
        );
        assert!(dir.path().join("keep").exists());
        assert!(!fs::read_dir(&state).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("replace-")
        }));
    }
}
