//! Integration tests of the `meshwork` binary: every subcommand, its output and exit code.
//!
//! Each test runs the real binary in its own temporary HOME, XDG data dir and KUBECONFIG
//! (see [`util::Env`]), so nothing touches the real user's files or clusters.

// A test that cannot set up its sandbox should stop right there, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analyze;
mod check;
mod envoy;
mod explain;
mod hint;
mod identity;
mod istioctl;
mod kube_inject;
mod lab_test;
mod labs;
mod lint;
mod mesh;
mod misc;
mod pilot_status;
mod progress;
mod proxy_config;
mod settings;
mod show;
mod tui_pty;
mod util;
