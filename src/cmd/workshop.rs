//! `meshwork workdir`: the folder a learner types the labs' commands in, and the [`Runner`]
//! that carries out solutions and resets there for the chosen target.
//!
//! The course's manifests are embedded in the binary; the labs tell the learner to type
//! `kubectl apply -f manifests/…`, so they are written out to `$XDG_DATA_HOME/meshwork/workshop`
//! (refreshed on every use) and the commands run from there.

use super::{CmdResult, EXIT_OK, Global};
use anyhow::Context as _;
use meshwork_checks::solve::{self, Runner};
use meshwork_checks::{Content, TargetSpec};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the workshop folder lives: `$XDG_DATA_HOME/meshwork/workshop`.
pub fn default_dir() -> anyhow::Result<PathBuf> {
    Ok(meshwork_checks::progress::data_dir()?.join("workshop"))
}

/// Writes the course's manifests into `dir` (default: [`default_dir`]) and returns it.
pub fn prepare(content: &Content, dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => default_dir()?,
    };
    Ok(solve::write_workshop(content, &dir)?)
}

/// The shell line that points a second terminal at `target` and the workshop folder.
pub fn second_terminal(target: &TargetSpec, workshop: &Path) -> String {
    let cd = format!("cd {}", super::mesh::sh_quote(&workshop.to_string_lossy()));
    match target {
        TargetSpec::Reference => format!("{cd} && eval \"$(meshwork mesh env)\""),
        TargetSpec::Cluster { context: None } => cd,
        TargetSpec::Cluster { context: Some(c) } => {
            format!(
                "{cd} && kubectl config use-context {}",
                super::mesh::sh_quote(c)
            )
        }
    }
}

/// A runner for `target` working in `workshop`: the reference mesh's kubeconfig, or for a
/// named cluster context a kubeconfig narrowed to that context (written next to the
/// manifests), so commands reach the same place the checks look; `meshwork` in a command
/// uses the same target (`MESHWORK_TARGET`).
pub fn runner(target: &TargetSpec, workshop: &Path) -> anyhow::Result<Runner> {
    let exe = std::env::current_exe().context("failed to find meshwork's own executable")?;
    let exe = named_meshwork(&exe, &workshop.join(".bin"))?;
    let kubeconfig = match target {
        TargetSpec::Reference => Some(super::mesh::state_dir()?.join("kubeconfig")),
        TargetSpec::Cluster { context: None } => None,
        TargetSpec::Cluster {
            context: Some(context),
        } => Some(narrowed(context, workshop)?),
    };
    Ok(
        Runner::new(target.kind(), workshop, kubeconfig.as_deref(), Some(&exe))
            .with_env(super::TARGET_ENV, target.to_string()),
    )
}

/// Commands say `meshwork`; when this binary has another name (a test harness, a renamed
/// copy) a `meshwork` link to it in the folder `bin` stands in. Returns what to run.
pub fn named_meshwork(exe: &Path, bin: &Path) -> anyhow::Result<PathBuf> {
    if exe.file_name().is_some_and(|n| n == "meshwork") {
        return Ok(exe.to_path_buf());
    }
    std::fs::create_dir_all(bin).with_context(|| format!("failed to create {}", bin.display()))?;
    let link = bin.join("meshwork");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(exe, &link)
        .with_context(|| format!("failed to link {} to {}", link.display(), exe.display()))?;
    Ok(link)
}

/// The learner's kubeconfig with `context` as its current context, written (readable by the
/// owner only: it holds credentials) into the workshop folder.
fn narrowed(context: &str, workshop: &Path) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut config = kube::config::Kubeconfig::read().context("failed to read the kubeconfig")?;
    if !config.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "the kubeconfig has no context `{context}`; its contexts are: {}",
            known.join(", ")
        );
    }
    config.current_context = Some(context.to_string());
    let text = serde_yaml::to_string(&config).context("failed to write the kubeconfig")?;
    let path = workshop.join(format!(
        ".kubeconfig-{}",
        TargetSpec::Cluster {
            context: Some(context.to_string())
        }
        .key()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}

/// `meshwork workdir [--print-env]`.
pub fn run(global: &Global, env: bool) -> CmdResult {
    let content = global.content()?;
    let dir = prepare(&content, None)?;
    let mut out = std::io::stdout().lock();
    if env {
        writeln!(out, "{}", second_terminal(&global.target()?, &dir))?;
    } else {
        writeln!(out, "{}", dir.display())?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_terminal_line_goes_to_the_workshop_and_the_target() {
        let dir = Path::new("/data/my workshop");
        assert_eq!(
            second_terminal(&TargetSpec::Reference, dir),
            "cd '/data/my workshop' && eval \"$(meshwork mesh env)\""
        );
        assert_eq!(
            second_terminal(&TargetSpec::Cluster { context: None }, dir),
            "cd '/data/my workshop'"
        );
        assert_eq!(
            second_terminal(
                &TargetSpec::Cluster {
                    context: Some("kind-istio".into())
                },
                dir
            ),
            "cd '/data/my workshop' && kubectl config use-context kind-istio"
        );
    }
}
