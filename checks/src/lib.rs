//! meshwork-checks: everything meshwork knows about a course and how to verify it.
//!
//! - [`content`]: the files a course is made of (embedded in the binary or read from a directory).
//! - [`course`]: the lab model — raw `lab.yaml` types, validated domain types, the loader and `lint`.
//! - [`target`]: the [`Target`](target::Target) seam — where checks look (a live cluster today).
//! - [`check`]: one module per check kind (`command`, `cluster`, `resource`, `pods`, `http`, `exec`).
//! - [`manifest`]: multi-document YAML manifests: parse, find an object, normalise, diff.
//! - [`explain`]: recent requests from the proxies' access logs, hop by hop, with the route
//!   rule each hop matched and Envoy's response flags in words.
//! - [`engine`]: runs a step's checks concurrently with timeouts and reports [`CheckResult`]s.
//! - [`progress`]: the learner's progress per target, written atomically.
//! - [`solve`]: carrying out a step's solution or reset with the commands a learner would type.

pub mod check;
pub mod content;
pub mod course;
pub mod engine;
pub mod explain;
pub mod manifest;
pub mod progress;
pub mod solve;
pub mod target;

pub use content::Content;
pub use course::{Course, Lab, Step};
pub use engine::{CheckResult, Outcome};
pub use target::{Target, TargetKind, TargetSpec};
