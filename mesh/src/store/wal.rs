//! The write-ahead log: `store.wal`, one JSON line per committed write, appended and fsynced
//! before the write is acknowledged.
//!
//! A line is `{"rv":N,"changes":[{"put":{"resource":…,"object":…}} | {"delete":{"resource":…,
//! "namespace":…,"name":…}}, …]}`; `rv` is the store's resourceVersion after the write. On open
//! the log is replayed over the snapshot (lines at or below the snapshot's resourceVersion were
//! already folded into it). A torn last line — a write cut short by a crash, never acknowledged —
//! is dropped; an unreadable line before the end means the file was damaged, and the log is
//! moved aside with a notice.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ResourceKey;
use super::persist::{PersistError, aside_name};

/// One change inside a committed write, as written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum ChangeOut<'a> {
    /// The object now is this (create, update, status change).
    Put {
        resource: &'a ResourceKey,
        object: &'a Value,
    },
    /// The object is gone.
    Delete {
        resource: &'a ResourceKey,
        namespace: &'a str,
        name: &'a str,
    },
}

#[derive(Serialize)]
struct RecordOut<'a> {
    rv: u64,
    changes: &'a [ChangeOut<'a>],
}

/// One change, as read back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) enum Change {
    /// See [`ChangeOut::Put`].
    Put {
        resource: ResourceKey,
        object: Value,
    },
    /// See [`ChangeOut::Delete`].
    Delete {
        resource: ResourceKey,
        namespace: String,
        name: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Record {
    pub rv: u64,
    pub changes: Vec<Change>,
}

/// What [`replay`] found in the log.
pub(super) struct Replayed {
    /// Records newer than the snapshot, in order.
    pub records: Vec<Record>,
    /// Bytes in the file (valid or not); zero when there was no log.
    pub bytes: u64,
    /// Set when a torn tail was dropped (no notice: it was never acknowledged).
    pub torn_tail: bool,
    /// Set when the log was damaged and moved aside.
    pub notice: Option<String>,
}

/// Reads the log at `path`, keeping records newer than `snapshot_rv`.
pub(super) fn replay(path: &Path, snapshot_rv: u64) -> Result<Replayed, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Replayed {
                records: Vec::new(),
                bytes: 0,
                torn_tail: false,
                notice: None,
            });
        }
        Err(source) => {
            return Err(PersistError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut records = Vec::new();
    let mut last_rv = snapshot_rv;
    let mut torn_tail = false;
    let mut notice = None;
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let is_last = lines.peek().is_none_or(|(_, rest)| rest.is_empty());
        if line.is_empty() {
            continue;
        }
        let problem = match serde_json::from_slice::<Record>(line) {
            Ok(record) if record.rv <= snapshot_rv => continue,
            Ok(record) if record.rv <= last_rv => format!(
                "line {} has resourceVersion {} after {last_rv}",
                index + 1,
                record.rv
            ),
            Ok(record) => {
                last_rv = record.rv;
                records.push(record);
                continue;
            }
            Err(_) if is_last => {
                // A write cut short by a crash: it was never acknowledged, so nothing is lost.
                torn_tail = true;
                break;
            }
            Err(e) => format!("line {}: {e}", index + 1),
        };
        let aside = aside_name(path);
        fs::rename(path, &aside).map_err(|source| PersistError::Io {
            action: "move aside the damaged",
            path: path.to_owned(),
            source,
        })?;
        let kept = records.last().map_or(snapshot_rv, |r: &Record| r.rv);
        let text = format!(
            "the mesh's write-ahead log {} is damaged ({problem}); changes up to resourceVersion {kept} \
             were recovered, later ones were not. The log was moved to {} for inspection; re-apply \
             your latest manifests.",
            path.display(),
            aside.display()
        );
        tracing::warn!("{text}");
        notice = Some(text);
        break;
    }
    Ok(Replayed {
        records,
        bytes: bytes.len() as u64,
        torn_tail,
        notice,
    })
}

/// The open log, positioned at its end.
pub(super) struct Log {
    path: PathBuf,
    file: File,
    /// Length of the valid content; a failed append is cut back to this.
    len: u64,
    /// A failed append may have left a partial line that must be cut before the next one.
    dirty: bool,
    buf: Vec<u8>,
}

impl Log {
    /// Opens (creating) the log for appending; it must hold only whole records.
    pub(super) fn open(path: &Path) -> Result<Self, PersistError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| PersistError::Io {
                action: "open",
                path: path.to_owned(),
                source,
            })?;
        let len = file
            .metadata()
            .map_err(|source| PersistError::Io {
                action: "inspect",
                path: path.to_owned(),
                source,
            })?
            .len();
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
            dirty: false,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Bytes of whole records in the log.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Appends one record and makes it durable; on failure the log is as it was before.
    pub(super) fn append(
        &mut self,
        rv: u64,
        changes: &[ChangeOut<'_>],
    ) -> Result<(), PersistError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &RecordOut { rv, changes })?;
        self.buf.push(b'\n');
        if self.dirty {
            self.cut(self.len, "cut back a partly written record in")?;
        }
        let written = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            self.dirty = true;
            // Best effort now; retried before the next append.
            if self.cut(self.len, "cut back").is_ok() {
                self.dirty = false;
            }
            return Err(PersistError::Io {
                action: "append to",
                path: self.path.clone(),
                source,
            });
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    /// Empties the log (after its records were folded into a durable snapshot).
    pub(super) fn clear(&mut self) -> Result<(), PersistError> {
        self.cut(0, "truncate")?;
        self.len = 0;
        self.dirty = false;
        Ok(())
    }

    fn cut(&mut self, len: u64, action: &'static str) -> Result<(), PersistError> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| PersistError::Io {
                action,
                path: self.path.clone(),
                source,
            })?;
        self.dirty = false;
        Ok(())
    }

    /// Makes the next append fail as a full disk would (tests of the rollback path).
    #[cfg(test)]
    pub(super) fn break_for_test(&mut self) -> Result<(), PersistError> {
        self.file = File::open(&self.path).map_err(|source| PersistError::Io {
            action: "reopen",
            path: self.path.clone(),
            source,
        })?;
        Ok(())
    }
}
