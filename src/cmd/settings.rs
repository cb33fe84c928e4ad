//! What meshwork remembers between runs: the target last chosen in the terminal UI.
//!
//! Kept in `$XDG_CONFIG_HOME/meshwork/settings.json` (default `~/.config/meshwork/`), written
//! atomically (a temporary file renamed over the old one), so a crash never leaves half a
//! file. Keys this version does not know are kept when it writes.

use anyhow::Context as _;
use meshwork_checks::TargetSpec;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The key holding the remembered target (`reference`, `cluster:CONTEXT`).
const TARGET_KEY: &str = "target";

/// `$XDG_CONFIG_HOME/meshwork/settings.json`, else `$HOME/.config/meshwork/settings.json`.
pub fn path() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
            .context(
                "cannot find where to keep meshwork's settings: set XDG_CONFIG_HOME or HOME",
            )?,
    };
    Ok(dir.join("meshwork").join("settings.json"))
}

/// The target remembered at `path`, if any. A file that is missing holds none; one that
/// cannot be read or names no valid target is an error that names the file.
pub fn remembered_target_at(path: &Path) -> anyhow::Result<Option<TargetSpec>> {
    let Some(settings) = read(path)? else {
        return Ok(None);
    };
    match settings.get(TARGET_KEY) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => TargetSpec::parse(text).map(Some).map_err(|e| {
            anyhow::anyhow!(
                "{}: the remembered target `{text}` is not a target: {e}",
                path.display()
            )
        }),
        Some(other) => anyhow::bail!(
            "{}: the remembered target should be text like \"reference\", not {other}",
            path.display()
        ),
    }
}

/// The target remembered in the default settings file, if any.
pub fn remembered_target() -> anyhow::Result<Option<TargetSpec>> {
    remembered_target_at(&path()?)
}

/// Remembers `target` at `path`, keeping the file's other settings.
pub fn remember_target_at(path: &Path, target: &TargetSpec) -> anyhow::Result<()> {
    // A settings file that cannot be read is replaced rather than blocking the choice.
    let mut settings = read(path).ok().flatten().unwrap_or_default();
    settings.insert(TARGET_KEY.into(), Value::String(target.to_string()));
    write_atomically(path, &Value::Object(settings))
}

/// Remembers `target` in the default settings file.
pub fn remember_target(target: &TargetSpec) -> anyhow::Result<()> {
    remember_target_at(&path()?, target)
}

fn read(path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => anyhow::bail!("{} is not a JSON object", path.display()),
        Err(e) => anyhow::bail!("{} is not valid JSON: {e}", path.display()),
    }
}

fn write_atomically(path: &Path, value: &Value) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let tmp = dir.join(format!(".settings.json.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        let mut text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
        text.push(b'\n');
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("failed to write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str) -> TargetSpec {
        TargetSpec::Cluster {
            context: Some(name.into()),
        }
    }

    #[test]
    fn a_remembered_target_is_read_back_and_replaced_by_the_next_choice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meshwork/settings.json");
        assert_eq!(remembered_target_at(&path).unwrap(), None);
        remember_target_at(&path, &cluster("kind-istio")).unwrap();
        assert_eq!(
            remembered_target_at(&path).unwrap(),
            Some(cluster("kind-istio"))
        );
        remember_target_at(&path, &TargetSpec::Reference).unwrap();
        assert_eq!(
            remembered_target_at(&path).unwrap(),
            Some(TargetSpec::Reference)
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["settings.json"], "no temporary file is left");
    }

    #[test]
    fn settings_this_version_does_not_know_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, r#"{"theme": "dark", "target": "reference"}"#).unwrap();
        remember_target_at(&path, &cluster("prod")).unwrap();
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(value["theme"], "dark");
        assert_eq!(value["target"], "cluster:prod");
    }

    #[test]
    fn a_broken_file_names_itself_and_a_new_choice_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = remembered_target_at(&path).unwrap_err().to_string();
        assert!(err.contains("settings.json is not valid JSON"), "{err}");
        std::fs::write(&path, r#"{"target": "kind"}"#).unwrap();
        let err = remembered_target_at(&path).unwrap_err().to_string();
        assert!(err.contains("`kind` is not a target"), "{err}");
        remember_target_at(&path, &TargetSpec::Reference).unwrap();
        assert_eq!(
            remembered_target_at(&path).unwrap(),
            Some(TargetSpec::Reference)
        );
    }
}
