//! `meshwork istioctl analyze` on the reference mesh with Istio's minimal profile (no Envoy
//! needed): a clean namespace, VirtualServices naming a missing subset or gateway, a pod
//! without its sidecar in an injected namespace and a namespace nobody marked for injection.

use crate::util::mesh::{self, Sandbox};
use crate::util::{stderr, stdout};

/// `meshwork istioctl analyze ARGS`: exit code and stdout.
fn analyze(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["istioctl", "analyze"];
    all.extend_from_slice(args);
    let out = sb.meshwork(&all);
    (out.status.code(), stdout(&out))
}

const REVIEWS: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector:
    app: reviews
  ports:
  - name: http
    port: 9080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v9
";

const FRONT: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: front
  namespace: web
spec:
  hosts:
  - '*'
  gateways:
  - mesh
  - front-gateway
  http:
  - route:
    - destination:
        host: example.com
";

#[test]
fn analyze_reports_missing_references_and_sidecars_as_istioctl_does() {
    if !mesh::has_kubectl() {
        eprintln!("skipped: this test needs the real kubectl at /usr/bin/kubectl");
        return;
    }
    let sb = Sandbox::new();
    let out = sb.meshwork(&["istioctl", "install", "--set", "profile=minimal", "-y"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Nothing in `default` yet: the clean line, exit 0.
    let (code, text) = analyze(&sb, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        text.trim(),
        "✔ No validation issues found when analyzing namespace: default."
    );

    // A route to subset v9 with no DestinationRule: an Error and exit 79.
    sb.apply("reviews", REVIEWS);
    let (code, text) = analyze(&sb, &[]);
    assert_eq!(code, Some(79), "{text}");
    assert_eq!(
        text.trim(),
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in \
         destinationrule not found: \"reviews+v9\""
    );

    // A gateway that does not exist (`mesh` is fine, so is a host outside the cluster).
    sb.kubectl(&["create", "namespace", "web"]);
    sb.kubectl(&["label", "namespace", "web", "istio-injection=disabled"]);
    sb.apply("front", FRONT);
    let (code, text) = analyze(&sb, &["-n", "web"]);
    assert_eq!(code, Some(79), "{text}");
    assert_eq!(
        text.trim(),
        "Error [IST0101] (VirtualService web/front) Referenced gateway not found: \
         \"front-gateway\""
    );

    // An injected namespace with a pod that opted out of its sidecar: a Warning, exit 0.
    sb.kubectl(&["create", "namespace", "meshed"]);
    sb.kubectl(&["label", "namespace", "meshed", "istio-injection=enabled"]);
    sb.kubectl(&[
        "run",
        "plain",
        "-n",
        "meshed",
        "--image=curlimages/curl",
        "--annotations=sidecar.istio.io/inject=false",
        "--",
        "sleep",
        "3600",
    ]);
    let (code, text) = analyze(&sb, &["-n", "meshed"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("Warning [IST0103] (Pod meshed/plain) The pod meshed/plain is missing"),
        "{text}"
    );

    // A namespace with pods that nobody marked for injection: Info, exit 0.
    sb.kubectl(&["create", "namespace", "bare"]);
    sb.kubectl(&[
        "run",
        "plain",
        "-n",
        "bare",
        "--image=curlimages/curl",
        "--",
        "sleep",
        "3600",
    ]);
    let (code, text) = analyze(&sb, &["-n", "bare"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(
            "Info [IST0102] (Namespace bare) The namespace is not enabled for Istio injection. \
             Run 'kubectl label namespace bare istio-injection=enabled'"
        ),
        "{text}"
    );

    // Every namespace at once: all of the above, errors first, and exit 79.
    let (code, text) = analyze(&sb, &["-A"]);
    assert_eq!(code, Some(79), "{text}");
    let codes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        codes,
        ["[IST0101]", "[IST0101]", "[IST0103]", "[IST0102]"],
        "{text}"
    );
}
