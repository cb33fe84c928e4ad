//! Test fixtures shared by the crate's unit tests and the integration tests: a small course
//! from `tests/fixtures/course`, a fake target and a progress store in a temp dir.
//!
//! Uses only meshwork-checks types, so both test crates can include it.

use meshwork_checks::check::Context;
use meshwork_checks::content::Content;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::target::{Target, TargetError, TargetKind};
use meshwork_checks::{CheckResult, Course, Outcome, TargetSpec};
use meshwork_tui::{Connect, Switched, TargetChoice, TargetSwitch};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A target with no cluster behind it.
pub struct FakeTarget {
    kind: TargetKind,
    describe: String,
    error: TargetError,
}

impl FakeTarget {
    /// A target of `kind` that describes itself as `describe` and has no kubeconfig.
    pub fn new(kind: TargetKind, describe: &str) -> Self {
        Self {
            kind,
            describe: describe.into(),
            error: TargetError::NotConfigured {
                searched: "~/.kube/config".into(),
            },
        }
    }
}

impl Target for FakeTarget {
    fn kind(&self) -> TargetKind {
        self.kind
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
    fn client(&self) -> Result<&kube::Client, &TargetError> {
        Err(&self.error)
    }
}

/// A course, a context and progress, with the temp dir that holds the progress file.
pub struct Fixture {
    /// The fixture course.
    pub course: Course,
    /// Fake target and the fixture content.
    pub ctx: Arc<Context>,
    /// Progress in `dir`.
    pub progress: ProgressStore,
    /// Keeps the progress folder alive.
    pub dir: tempfile::TempDir,
}

/// Loads the fixture course.
pub fn fixture() -> Fixture {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
    let content = Content::from_dir(&root).expect("fixture content");
    let course = meshwork_checks::course::load::load(&content).expect("fixture course is valid");
    let target = FakeTarget::new(TargetKind::Cluster, "cluster (context kind-meshwork)");
    let ctx = Arc::new(Context {
        target: Arc::new(target),
        content: Arc::new(content),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let (progress, warning) = ProgressStore::open(dir.path().join("progress/cluster.json"));
    assert_eq!(warning, None);
    Fixture {
        course,
        ctx,
        progress,
        dir,
    }
}

/// A check result as the engine would report it.
pub fn result(title: &str, outcome: Outcome, message: &str) -> CheckResult {
    CheckResult {
        id: title.replace(' ', "-"),
        title: title.into(),
        outcome,
        message: message.into(),
        hint: None,
        diff: None,
        elapsed: Duration::from_millis(5),
    }
}

/// A unified diff like the resource check produces.
pub const DIFF: &str = "\
--- yours: VirtualService default/reviews
+++ reference: manifests/labs/01/reviews-jason.yaml
@@ -4,6 +4,10 @@
   hosts: [reviews]
   http:
+  - match:
+    - headers:
+        end-user: {exact: jason}
+    route:
+    - destination: {host: reviews, subset: v2}
   - route:
-    - destination: {host: reviews, subset: v3}
+    - destination: {host: reviews, subset: v1}
";

/// Targets the learner switched to, in order (what [`switch`] remembered).
pub type Remembered = Arc<Mutex<Vec<TargetSpec>>>;

/// A target switch offering the reference mesh and the contexts `kind-meshwork` (the
/// kubeconfig's current one) and `prod`, on `current`. Connecting gives a [`FakeTarget`] named
/// after the spec with progress under `dir`; choices are recorded in the returned list.
pub fn switch(current: TargetSpec, dir: &Path) -> (TargetSwitch, Remembered) {
    let remembered = Remembered::default();
    let record = Arc::clone(&remembered);
    let dir = dir.to_path_buf();
    let connect: Connect = Arc::new(move |spec: TargetSpec| {
        let path = dir.join("progress").join(format!("{}.json", spec.key()));
        Box::pin(async move {
            let (progress, notice) = ProgressStore::open(path);
            Switched {
                target: Arc::new(FakeTarget::new(spec.kind(), &format!("fake {spec}"))),
                progress,
                notice,
                workshop: None,
            }
        })
    });
    let switch = TargetSwitch {
        current,
        choices: vec![
            TargetChoice::reference(),
            TargetChoice::cluster(
                "kind-meshwork",
                "https://127.0.0.1:6443 · kubectl's current context".into(),
                true,
            ),
            TargetChoice::cluster(
                "prod",
                "https://10.0.0.1:443 · namespace shop".into(),
                false,
            ),
        ],
        note: None,
        connect,
        remember: Box::new(move |spec: &TargetSpec| {
            record.lock().map_err(|e| e.to_string())?.push(spec.clone());
            Ok(())
        }),
    };
    (switch, remembered)
}
