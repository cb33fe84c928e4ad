//! Conformance: the real kubectl (and the kube crate) against an in-process reference mesh.
//!
//! Each test starts its own mesh on a random port in a temp state dir and gives kubectl its own
//! HOME and cache dir. Set `MESHWORK_SKIP_KUBECTL=1` to skip the kubectl tests on a machine
//! without `/usr/bin/kubectl` (they fail otherwise, loudly).

// A panic in a test harness is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance {
    mod acceptance;
    mod apps;
    mod browser;
    mod crds;
    mod egress;
    mod envoy;
    mod explain;
    pub mod harness;
    mod hostile;
    mod identity;
    mod injection;
    mod istio_env;
    mod istio_install;
    mod istio_lessons;
    mod kube_client;
    mod kubectl;
    mod kubelet;
    mod mesh_traffic;
    mod mtls;
    mod network;
    mod pilot_status;
    mod policy;
    mod server_side_apply;
    mod streams;
    mod validation;
    mod workloads;
}
