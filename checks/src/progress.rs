//! The learner's progress, one JSON file per target, never lost.
//!
//! Files live in `$XDG_DATA_HOME/meshwork/progress/<target>.json` (default
//! `~/.local/share/meshwork/…`). Every change is written to a temporary file in the same
//! folder, fsynced, then renamed over the old file, so a crash or `kill -9` in the middle of a
//! write leaves either the old or the new progress, never a torn file. A file that cannot be
//! read is moved aside (`<name>.corrupt-<unix time>`) with a message, never a crash.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Progress could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// No data directory could be determined.
    #[error("cannot find a place for progress: set XDG_DATA_HOME or HOME")]
    NoDataDir,
    /// Writing failed.
    #[error("cannot save progress to {}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Always [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Per lab id.
    #[serde(default)]
    pub labs: BTreeMap<String, LabProgress>,
    /// Where the learner was last (`lab id`, `step id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<(String, String)>,
}

/// Progress in one lab.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabProgress {
    /// Per step id.
    #[serde(default)]
    pub steps: BTreeMap<String, StepProgress>,
}

/// Progress in one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepProgress {
    /// When all checks first passed (seconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    /// How many hints the learner has revealed.
    #[serde(default)]
    pub hints_revealed: usize,
}

/// The progress file of one target.
#[derive(Debug)]
pub struct ProgressStore {
    path: PathBuf,
    data: Progress,
}

/// `$XDG_DATA_HOME/meshwork`, else `$HOME/.local/share/meshwork`.
pub fn data_dir() -> Result<PathBuf, ProgressError> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("meshwork"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/meshwork"))
        .ok_or(ProgressError::NoDataDir)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ProgressStore {
    /// The default file for a target key (see [`crate::TargetSpec::key`]).
    pub fn default_path(target_key: &str) -> Result<PathBuf, ProgressError> {
        Ok(data_dir()?
            .join("progress")
            .join(format!("{target_key}.json")))
    }

    /// Opens (or starts) the progress at `path`. A missing file is empty progress; an
    /// unreadable one is moved aside and the returned message says where.
    pub fn open(path: impl Into<PathBuf>) -> (Self, Option<String>) {
        let path = path.into();
        let (data, warning) = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Progress::default(), None),
            Err(e) => (
                Progress::default(),
                Some(format!(
                    "could not read progress from {}: {e}; starting with empty progress",
                    path.display()
                )),
            ),
            Ok(bytes) => match serde_json::from_slice::<Progress>(&bytes) {
                Ok(p) if p.format_version <= FORMAT_VERSION => (p, None),
                Ok(p) => (
                    Progress::default(),
                    Some(Self::move_aside(
                        &path,
                        &format!(
                            "it was written by a newer meshwork (format {})",
                            p.format_version
                        ),
                    )),
                ),
                Err(e) => (
                    Progress::default(),
                    Some(Self::move_aside(&path, &e.to_string())),
                ),
            },
        };
        let mut data = data;
        data.format_version = FORMAT_VERSION;
        (Self { path, data }, warning)
    }

    fn move_aside(path: &Path, why: &str) -> String {
        let aside = path.with_extension(format!("json.corrupt-{}", now()));
        match std::fs::rename(path, &aside) {
            Ok(()) => format!(
                "progress file {} could not be read ({why}); it was moved to {} and progress starts empty",
                path.display(),
                aside.display()
            ),
            Err(e) => format!(
                "progress file {} could not be read ({why}) nor moved aside ({e}); progress starts empty",
                path.display()
            ),
        }
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole progress.
    pub fn data(&self) -> &Progress {
        &self.data
    }

    fn step(&self, lab: &str, step: &str) -> Option<&StepProgress> {
        self.data.labs.get(lab)?.steps.get(step)
    }

    fn step_mut(&mut self, lab: &str, step: &str) -> &mut StepProgress {
        self.data
            .labs
            .entry(lab.to_string())
            .or_default()
            .steps
            .entry(step.to_string())
            .or_default()
    }

    /// Whether the step's checks have all passed once.
    pub fn is_done(&self, lab: &str, step: &str) -> bool {
        self.step(lab, step)
            .is_some_and(|s| s.completed_at.is_some())
    }

    /// How many steps of a lab are done, given its step ids.
    pub fn done_count<'a>(&self, lab: &str, steps: impl IntoIterator<Item = &'a str>) -> usize {
        steps.into_iter().filter(|s| self.is_done(lab, s)).count()
    }

    /// Hints revealed so far for a step.
    pub fn hints_revealed(&self, lab: &str, step: &str) -> usize {
        self.step(lab, step).map_or(0, |s| s.hints_revealed)
    }

    /// Marks a step done (keeps the first completion time) and saves.
    pub fn mark_done(&mut self, lab: &str, step: &str) -> Result<(), ProgressError> {
        let s = self.step_mut(lab, step);
        if s.completed_at.is_some() {
            return Ok(());
        }
        s.completed_at = Some(now());
        self.save()
    }

    /// Marks a step not done again (its step was reset) and saves; revealed hints are kept.
    pub fn mark_undone(&mut self, lab: &str, step: &str) -> Result<(), ProgressError> {
        let s = self.step_mut(lab, step);
        if s.completed_at.is_none() {
            return Ok(());
        }
        s.completed_at = None;
        self.save()
    }

    /// Reveals one more hint (up to `available`), saves, and returns how many are revealed.
    pub fn reveal_hint(
        &mut self,
        lab: &str,
        step: &str,
        available: usize,
    ) -> Result<usize, ProgressError> {
        let s = self.step_mut(lab, step);
        if s.hints_revealed >= available {
            return Ok(s.hints_revealed);
        }
        s.hints_revealed += 1;
        let n = s.hints_revealed;
        self.save()?;
        Ok(n)
    }

    /// Remembers where the learner is and saves.
    pub fn set_last(&mut self, lab: &str, step: &str) -> Result<(), ProgressError> {
        let last = Some((lab.to_string(), step.to_string()));
        if self.data.last == last {
            return Ok(());
        }
        self.data.last = last;
        self.save()
    }

    /// Forgets one lab's progress (all labs with `None`) and saves.
    pub fn reset(&mut self, lab: Option<&str>) -> Result<(), ProgressError> {
        match lab {
            Some(lab) => {
                self.data.labs.remove(lab);
                if self.data.last.as_ref().is_some_and(|(l, _)| l == lab) {
                    self.data.last = None;
                }
            }
            None => {
                self.data = Progress {
                    format_version: FORMAT_VERSION,
                    ..Progress::default()
                }
            }
        }
        self.save()
    }

    /// Writes the file atomically: temp file, fsync, rename, fsync of the folder.
    pub fn save(&self) -> Result<(), ProgressError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ProgressError::Io { path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json = serde_json::to_vec_pretty(&self.data).map_err(|e| ProgressError::Io {
            path: self.path.clone(),
            source: e.into(),
        })?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ProgressError::Io {
                path: self.path.clone(),
                source: e,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p/cluster.json");
        let (mut store, warning) = ProgressStore::open(&path);
        assert_eq!(warning, None);
        store.mark_done("prerequisites", "tools").unwrap();
        assert_eq!(store.reveal_hint("prerequisites", "cluster", 2).unwrap(), 1);
        assert_eq!(store.reveal_hint("prerequisites", "cluster", 2).unwrap(), 2);
        assert_eq!(store.reveal_hint("prerequisites", "cluster", 2).unwrap(), 2);
        store.set_last("prerequisites", "cluster").unwrap();

        let (again, warning) = ProgressStore::open(&path);
        assert_eq!(warning, None);
        assert!(again.is_done("prerequisites", "tools"));
        assert!(!again.is_done("prerequisites", "cluster"));
        assert_eq!(again.hints_revealed("prerequisites", "cluster"), 2);
        assert_eq!(again.done_count("prerequisites", ["tools", "cluster"]), 1);
        assert_eq!(
            again.data().last,
            Some(("prerequisites".into(), "cluster".into()))
        );
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["cluster.json"]);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_with_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.json");
        std::fs::write(&path, b"{\"format_version\": 1, \"labs\": {tru").unwrap();
        let (store, warning) = ProgressStore::open(&path);
        let warning = warning.unwrap();
        assert!(warning.contains("could not be read"), "{warning}");
        assert!(warning.contains("moved to"), "{warning}");
        assert!(store.data().labs.is_empty());
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("cluster.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1);
        // The next save writes a fresh, readable file.
        store.save().unwrap();
        assert_eq!(ProgressStore::open(&path).1, None);
    }

    #[test]
    fn reset_forgets_one_lab_or_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = ProgressStore::open(dir.path().join("x.json"));
        store.mark_done("a", "1").unwrap();
        store.mark_done("b", "1").unwrap();
        store.reset(Some("a")).unwrap();
        assert!(!store.is_done("a", "1"));
        assert!(store.is_done("b", "1"));
        store.reset(None).unwrap();
        assert!(!store.is_done("b", "1"));
    }
}
