//! The live-cluster target's kube code against a mock API server.
//!
//! As kube-rs tests itself: a `tower_test::mock` service stands in for the API server, a task
//! asserts each request (method and path) and answers with JSON fixtures from
//! `tests/fixtures/mock_api/`. Any request the script does not expect, and any expected
//! request that never comes, fails the test.
//!
//! The checks that exec into pods or reach the host through Services need a real HTTP
//! upgrade and real sockets: they run against [`live`], a mock API server over TCP shaped like
//! a live cluster's, through a [`ClusterTarget`](meshwork_checks::target::ClusterTarget)
//! connected by kubeconfig.

// A test binary: helpers panic on broken fixtures, and a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "mock_api/cluster.rs"]
mod cluster;
#[path = "mock_api/host_http.rs"]
mod host_http;
#[path = "mock_api/in_pods.rs"]
mod in_pods;
#[path = "mock_api/live.rs"]
mod live;
#[path = "mock_api/pods.rs"]
mod pods;
#[path = "mock_api/resource.rs"]
mod resource;
#[path = "mock_api/server.rs"]
mod server;
#[path = "mock_api/target.rs"]
mod target;
#[path = "support/ws_exec.rs"]
mod ws_exec;
