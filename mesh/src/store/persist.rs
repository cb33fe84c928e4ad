//! Durable snapshots of the store: `store.json`, written atomically (temp file, fsync, rename).
//!
//! Between snapshots, writes go to the write-ahead log (see `wal`); compaction folds the log
//! into a new snapshot.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ResourceKey;

/// The snapshot format this build writes and reads.
const FORMAT_VERSION: u32 = 1;

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// A file operation failed.
    #[error("could not {action} {}: {source}; check that the state directory is writable and the disk is not full", path.display())]
    Io {
        /// What was being done (`write`, `rename`, …).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The in-memory store could not be serialised (should not happen for JSON values).
    #[error("could not serialise the store: {0}")]
    Serialize(#[from] serde_json::Error),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotOut<'a> {
    format_version: u32,
    resource_version: String,
    objects: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    resource: &'a ResourceKey,
    object: &'a Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SnapshotIn {
    format_version: u32,
    resource_version: String,
    objects: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    resource: ResourceKey,
    object: Value,
}

/// What [`load`] found.
pub(super) struct Loaded {
    pub resource_version: u64,
    pub objects: Vec<(ResourceKey, Value)>,
    pub notice: Option<String>,
}

/// Reads the snapshot; a missing file is an empty store, an unreadable one is moved aside.
pub(super) fn load(file: &Path) -> Result<Loaded, PersistError> {
    let empty = |notice| Loaded {
        resource_version: 0,
        objects: Vec::new(),
        notice,
    };
    let bytes = match fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty(None)),
        Err(source) => {
            return Err(PersistError::Io {
                action: "read",
                path: file.to_owned(),
                source,
            });
        }
    };
    match parse(&bytes) {
        Ok(loaded) => Ok(loaded),
        Err(problem) => {
            let aside = aside_name(file);
            fs::rename(file, &aside).map_err(|source| PersistError::Io {
                action: "move aside the unreadable",
                path: file.to_owned(),
                source,
            })?;
            let notice = format!(
                "the mesh's state file {} could not be read ({problem}); it was moved to {} and the mesh starts empty. \
                 Re-apply your manifests; keep the moved file if you want to inspect it.",
                file.display(),
                aside.display()
            );
            tracing::warn!("{notice}");
            Ok(empty(Some(notice)))
        }
    }
}

/// Where an unreadable state file is moved: `<name>.corrupt-<UTC time>`.
pub(super) fn aside_name(file: &Path) -> PathBuf {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("store.json");
    file.with_file_name(format!("{name}.corrupt-{stamp}"))
}

fn parse(bytes: &[u8]) -> Result<Loaded, String> {
    let snap: SnapshotIn = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if snap.format_version != FORMAT_VERSION {
        return Err(format!(
            "format version {} is not supported (this build reads {FORMAT_VERSION})",
            snap.format_version
        ));
    }
    let resource_version: u64 = snap.resource_version.parse().map_err(|_| {
        format!(
            "resourceVersion {:?} is not a number",
            snap.resource_version
        )
    })?;
    let mut objects = Vec::with_capacity(snap.objects.len());
    for (i, entry) in snap.objects.into_iter().enumerate() {
        if crate::meta::name(&entry.object).is_none() {
            return Err(format!(
                "object #{i} ({}) has no metadata.name",
                entry.resource
            ));
        }
        objects.push((entry.resource, entry.object));
    }
    Ok(Loaded {
        resource_version,
        objects,
        notice: None,
    })
}

/// Writes the snapshot atomically (a temp file beside the target, fsync, rename, fsync of the
/// directory) and returns its size in bytes.
pub(super) fn save<'a>(
    file: &Path,
    resource_version: u64,
    objects: impl Iterator<Item = (&'a ResourceKey, &'a Value)>,
) -> Result<u64, PersistError> {
    let snapshot = SnapshotOut {
        format_version: FORMAT_VERSION,
        resource_version: resource_version.to_string(),
        objects: objects
            .map(|(resource, object)| EntryOut { resource, object })
            .collect(),
    };
    let bytes = serde_json::to_vec(&snapshot)?;
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| PersistError::Io {
            action,
            path,
            source,
        }
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let tmp = file.with_extension("json.tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(&bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
    }
    fs::rename(&tmp, file).map_err(io("rename into place", file))?;
    if let Ok(d) = fs::File::open(dir) {
        // Directory fsync makes the rename durable; some filesystems refuse it, which is harmless.
        let _ = d.sync_all();
    }
    Ok(bytes.len() as u64)
}
