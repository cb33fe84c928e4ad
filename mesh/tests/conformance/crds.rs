//! CustomResourceDefinitions with the real kubectl and the kube crate: a CRD applied makes its
//! kind servable (discovery, short names, categories, printer columns, every served version),
//! deleting it removes the kind and its objects, and Istio's networking samples apply unchanged.

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::Discovery;

use super::harness::{Env, header_line, kubectl_path, row};

/// A CRD for one Istio networking kind, written the way Istio declares it: v1 stored, v1beta1
/// and v1alpha3 served too, status subresource, short name and the `istio-io` categories.
fn istio_crd(kind: &str, plural: &str, short: &str, columns: &str) -> String {
    let mut versions = String::new();
    for (name, storage) in [("v1", true), ("v1alpha3", false), ("v1beta1", false)] {
        versions.push_str(&format!(
            r#"  - name: {name}
    served: true
    storage: {storage}
    subresources:
      status: {{}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
    additionalPrinterColumns:
{columns}"#
        ));
    }
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.networking.istio.io
  labels:
    app: istio-pilot
spec:
  group: networking.istio.io
  names:
    categories:
    - istio-io
    - networking-istio-io
    kind: {kind}
    listKind: {kind}List
    plural: {plural}
    shortNames:
    - {short}
    singular: {singular}
  scope: Namespaced
  versions:
{versions}"#,
        singular = kind.to_ascii_lowercase(),
    )
}

const AGE_COLUMN: &str = r#"    - description: 'CreationTimestamp is a timestamp representing the server time when this object was created.'
      jsonPath: .metadata.creationTimestamp
      name: Age
      type: date
"#;

fn virtual_service_crd() -> String {
    let columns = format!(
        r#"    - description: The names of gateways and sidecars that should apply these routes
      jsonPath: .spec.gateways
      name: Gateways
      type: string
    - description: The destination hosts to which traffic is being sent
      jsonPath: .spec.hosts
      name: Hosts
      type: string
{AGE_COLUMN}"#
    );
    istio_crd("VirtualService", "virtualservices", "vs", &columns)
}

fn destination_rule_crd() -> String {
    let columns = format!(
        r#"    - description: The name of a service from the service registry
      jsonPath: .spec.host
      name: Host
      type: string
{AGE_COLUMN}"#
    );
    istio_crd("DestinationRule", "destinationrules", "dr", &columns)
}

const VIRTUAL_SERVICE: &str = r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  gateways:
  - bookinfo-gateway
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_makes_its_kind_servable_and_deleting_it_removes_the_kind_and_its_objects() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let manifest = format!("{}---\n{VIRTUAL_SERVICE}", virtual_service_crd());
    let file = env.write("vs.yaml", &manifest);
    let file = file.to_str().expect("utf8 path");

    // As on a real cluster: kubectl mapped every kind before the CRD existed.
    let first = env.kubectl(&["apply", "-f", file]).await;
    assert_ne!(first.code, 0, "{first:?}");
    assert_eq!(
        first.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created"
    );
    assert!(
        first.stderr.contains(&format!(
            "error: resource mapping not found for name: \"reviews\" namespace: \"\" from \"{file}\": no matches for kind \"VirtualService\" in version \"networking.istio.io/v1\""
        )) && first.stderr.contains("ensure CRDs are installed first"),
        "{first:?}"
    );

    let second = env.ok(&["apply", "-f", file]).await;
    assert_eq!(
        second.lines().collect::<Vec<_>>(),
        [
            "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io unchanged",
            "virtualservice.networking.istio.io/reviews created",
        ]
    );

    let resources = env
        .ok(&["api-resources", "--api-group=networking.istio.io"])
        .await;
    assert_eq!(
        row(&resources, "virtualservices"),
        [
            "virtualservices",
            "vs",
            "networking.istio.io/v1",
            "true",
            "VirtualService"
        ]
    );
    let versions = env.ok(&["api-versions"]).await;
    for v in [
        "networking.istio.io/v1",
        "networking.istio.io/v1beta1",
        "networking.istio.io/v1alpha3",
    ] {
        assert!(versions.lines().any(|l| l == v), "{v} missing: {versions}");
    }

    let vs = env.ok(&["get", "vs"]).await;
    assert_eq!(header_line(&vs), "NAME GATEWAYS HOSTS AGE");
    let cells = row(&vs, "reviews");
    assert_eq!(
        cells[1..3],
        ["[\"bookinfo-gateway\"]", "[\"reviews\"]"],
        "{vs}"
    );
    assert!(cells[3].ends_with('s'), "age {vs}");

    // Every served version reads the same object, with its own apiVersion.
    let beta = env
        .ok(&[
            "get",
            "virtualservices.v1beta1.networking.istio.io",
            "reviews",
            "-o",
            "jsonpath={.apiVersion} {.spec.hosts[0]}",
        ])
        .await;
    assert_eq!(beta, "networking.istio.io/v1beta1 reviews");
    // A category names every kind in it (one kind so far: kubectl prints its plain table).
    let by_category = env.ok(&["get", "istio-io"]).await;
    assert_eq!(header_line(&by_category), "NAME GATEWAYS HOSTS AGE");
    assert_eq!(row(&by_category, "reviews")[2], "[\"reviews\"]");

    let crds = env.ok(&["get", "crd"]).await;
    assert_eq!(header_line(&crds), "NAME CREATED AT");
    assert!(
        row(&crds, "virtualservices.networking.istio.io")[1].ends_with('Z'),
        "{crds}"
    );
    let established = env
        .ok(&["get", "crd", "virtualservices.networking.istio.io", "-o", "jsonpath={.status.conditions[?(@.type==\"Established\")].status} {.status.acceptedNames.shortNames[0]}"])
        .await;
    assert_eq!(established, "True vs");

    let again = env.ok(&["apply", "-f", file]).await;
    assert!(
        again.contains("virtualservice.networking.istio.io/reviews unchanged"),
        "{again}"
    );
    let edited = env.write(
        "vs2.yaml",
        &manifest.replace("subset: v1", "subset: v2").replace(
            "  - reviews\n  gateways",
            "  - reviews\n  - reviews.lab\n  gateways",
        ),
    );
    let configured = env
        .ok(&["apply", "-f", edited.to_str().expect("utf8")])
        .await;
    assert!(
        configured.contains("virtualservice.networking.istio.io/reviews configured"),
        "{configured}"
    );
    let after = env
        .ok(&[
            "get",
            "vs",
            "reviews",
            "-o",
            "jsonpath={.spec.http[0].route[0].destination.subset} {.metadata.generation}",
        ])
        .await;
    assert_eq!(after, "v2 2");
    let listed = env.ok(&["get", "vs"]).await;
    assert_eq!(row(&listed, "reviews")[2], "[\"reviews\",\"reviews.lab\"]");

    // Labels and field selectors work on custom resources too.
    env.ok(&["label", "vs", "reviews", "team=books"]).await;
    let selected = env
        .ok(&["get", "vs", "-l", "team=books", "-o", "name"])
        .await;
    assert_eq!(
        selected.trim(),
        "virtualservice.networking.istio.io/reviews"
    );
    let none = env
        .ok(&["get", "vs", "-l", "team=music", "-o", "name"])
        .await;
    assert_eq!(none.trim(), "");
    let by_name = env
        .ok(&[
            "get",
            "vs",
            "--field-selector",
            "metadata.name=reviews",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(by_name.trim(), "virtualservice.networking.istio.io/reviews");

    let deleted = env
        .ok(&["delete", "crd", "virtualservices.networking.istio.io"])
        .await;
    assert!(deleted.contains("deleted"), "{deleted}");
    // kubectl still maps `vs` from its discovery cache; the server no longer serves it.
    let gone = env.kubectl(&["get", "vs"]).await;
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("Error from server (NotFound): Unable to list \"networking.istio.io/v1, Resource=virtualservices\": the server could not find the requested resource"),
        "{gone:?}"
    );
    let raw = env
        .kubectl(&["get", "--raw", "/apis/networking.istio.io/v1"])
        .await;
    assert_ne!(raw.code, 0, "{raw:?}");
    let groups = env.ok(&["get", "--raw", "/apis"]).await;
    assert!(!groups.contains("networking.istio.io"), "{groups}");
    // Recreating the CRD does not bring the old objects back.
    let crd_only = env.write("crd.yaml", &virtual_service_crd());
    env.ok(&["apply", "-f", crd_only.to_str().expect("utf8")])
        .await;
    let empty = env.kubectl(&["get", "vs"]).await;
    assert_eq!(empty.code, 0, "{empty:?}");
    assert!(
        empty
            .stderr
            .contains("No resources found in default namespace."),
        "{empty:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_crds_are_refused_with_the_fields_that_are_wrong() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let file = env.write(
        "bad.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names:\n    plural: widgets\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n",
    );
    let out = env
        .kubectl(&["apply", "-f", file.to_str().expect("utf8")])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("The CustomResourceDefinition \"widgets.example.com\" is invalid:")
            && out.stderr.contains("spec.names.kind: Required value")
            && out.stderr.contains("spec.scope: Required value"),
        "{out:?}"
    );
    let crds = env.kubectl(&["get", "crd"]).await;
    assert!(crds.stderr.contains("No resources found"), "{crds:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_survive_a_restart_and_their_kinds_stay_servable() {
    if kubectl_path().is_none() {
        return;
    }
    let mut env = Env::start().await;
    let manifest = format!("{}---\n{VIRTUAL_SERVICE}", virtual_service_crd());
    let file = env.write("vs.yaml", &manifest);
    let file = file.to_str().expect("utf8 path");
    let _ = env.kubectl(&["apply", "-f", file]).await;
    env.ok(&["apply", "-f", file]).await;
    env.restart().await;
    let vs = env.ok(&["get", "vs", "reviews", "-o", "name"]).await;
    assert_eq!(vs.trim(), "virtualservice.networking.istio.io/reviews");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_bookinfo_networking_samples_apply_unchanged() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let crds = [
        virtual_service_crd(),
        destination_rule_crd(),
        istio_crd("Gateway", "gateways", "gw", AGE_COLUMN),
        istio_crd("ServiceEntry", "serviceentries", "se", AGE_COLUMN),
    ]
    .join("---\n");
    let crd_file = env.write("istio-crds.yaml", &crds);
    env.ok(&["apply", "-f", crd_file.to_str().expect("utf8")])
        .await;
    // One sample (cert-manager's gateway) lives where Istio's install puts its gateways.
    env.ok(&["create", "namespace", "istio-system"]).await;

    let dir = std::path::Path::new("/work/shared/istio-samples/samples/bookinfo/networking");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("istio samples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "{files:?}");
    for f in &files {
        let out = env.ok(&["apply", "-f", f.to_str().expect("utf8")]).await;
        for line in out.lines() {
            assert!(
                line.ends_with(" created")
                    || line.ends_with(" configured")
                    || line.ends_with(" unchanged"),
                "{}: {line}",
                f.display()
            );
        }
    }
    let drs = env.ok(&["get", "dr"]).await;
    assert_eq!(header_line(&drs), "NAME HOST AGE");
    assert_eq!(row(&drs, "reviews")[1], "reviews");
    let gws = env.ok(&["get", "gw", "-o", "name"]).await;
    assert!(
        gws.contains("gateway.networking.istio.io/bookinfo-gateway"),
        "{gws}"
    );
    let vs = env.ok(&["get", "vs", "bookinfo"]).await;
    assert_eq!(
        row(&vs, "bookinfo")[1..3],
        ["[\"bookinfo-gateway\"]", "[\"*\"]"]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_dynamic_api_discovers_lists_and_patches_a_virtual_service() {
    let env = Env::start().await;
    let client = env.kube_client().await;
    let crd: serde_json::Value = serde_yaml::from_str(&virtual_service_crd()).expect("crd yaml");
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(crd).expect("crd");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");

    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (resource, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "networking.istio.io",
            "v1",
            "VirtualService",
        ))
        .expect("VirtualService is discovered");
    assert_eq!(resource.plural, "virtualservices");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let group = discovery.get("networking.istio.io").expect("group");
    assert_eq!(group.preferred_version_or_latest(), "v1");

    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let vs: DynamicObject = serde_yaml::from_str(VIRTUAL_SERVICE).expect("vs yaml");
    api.create(&PostParams::default(), &vs)
        .await
        .expect("create vs");
    let listed = api.list(&ListParams::default()).await.expect("list");
    let names: Vec<_> = listed
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    assert_eq!(names, ["reviews"]);
    let patched = api
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"hosts": ["reviews", "ratings"]}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        patched.data["spec"]["hosts"],
        serde_json::json!(["reviews", "ratings"])
    );
    assert_eq!(
        patched.data["spec"]["gateways"],
        serde_json::json!(["bookinfo-gateway"])
    );

    // Strategic merge patches are refused for custom resources, as a real server does.
    let strategic = api
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Strategic(serde_json::json!({"spec": {"hosts": ["x"]}})),
        )
        .await
        .expect_err("strategic merge is unsupported");
    assert!(
        matches!(&strategic, kube::Error::Api(s) if s.code == 415),
        "{strategic:?}"
    );

    let beta = GroupVersionKind::gvk("networking.istio.io", "v1beta1", "VirtualService");
    let (beta_resource, _) = discovery.resolve_gvk(&beta).expect("v1beta1 served");
    let beta_api: Api<DynamicObject> = Api::namespaced_with(client, "default", &beta_resource);
    let seen: Vec<DynamicObject> = beta_api
        .list(&ListParams::default())
        .await
        .expect("list v1beta1")
        .items;
    assert_eq!(
        seen.first()
            .and_then(|o| o.types.as_ref())
            .map(|t| t.api_version.as_str()),
        Some("networking.istio.io/v1beta1")
    );
    env.stop().await;
}
