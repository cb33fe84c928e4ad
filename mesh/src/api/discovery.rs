//! `/version`, legacy discovery (`/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`) and the
//! minimal OpenAPI v3 documents that let `kubectl apply` leave validation to the server.

use serde_json::{Value, json};

use crate::kinds::{Catalog, Kind, VERBS};

/// The Kubernetes version the mesh reports (kubectl's dispatcher picks its 1.32 client from it).
pub const KUBERNETES_VERSION: &str = "v1.32.4-meshwork";

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// One group with its versions; the first (most preferred) is the preferred version.
fn group_json(group: &str, versions: &[String]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = gvs.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": gvs, "preferredVersion": preferred})
}

/// `GET /apis`.
pub fn groups(catalog: &Catalog) -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": catalog.groups().iter().map(|(g, vs)| group_json(g, vs)).collect::<Vec<_>>(),
    })
}

/// `GET /apis/<group>`, or `None` when the group is not served.
pub fn group(catalog: &Catalog, name: &str) -> Option<Value> {
    let (g, vs) = catalog.groups().iter().find(|(g, _)| g == name)?;
    let mut out = group_json(g, vs);
    out["kind"] = json!("APIGroup");
    out["apiVersion"] = json!("v1");
    Some(out)
}

fn resource_json(k: &Kind) -> Vec<Value> {
    let mut main = json!({
        "name": k.resource,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": VERBS,
    });
    if !k.short_names.is_empty() {
        main["shortNames"] = json!(k.short_names);
    }
    if !k.categories.is_empty() {
        main["categories"] = json!(k.categories);
    }
    let mut out = vec![main];
    for sub in &k.subresources {
        let mut r = json!({
            "name": format!("{}/{sub}", k.resource),
            "singularName": "",
            "namespaced": k.namespaced,
            "kind": k.subresource_kind(sub),
            "verbs": Kind::subresource_verbs(sub),
        });
        if sub == "scale" {
            r["group"] = json!("autoscaling");
            r["version"] = json!("v1");
        }
        out.push(r);
    }
    out
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`, or `None` when that group/version is not served.
pub fn resources(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let list: Vec<&Kind> = catalog
        .in_group_version(group, version)
        .map(AsRef::as_ref)
        .collect();
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": list.into_iter().flat_map(resource_json).collect::<Vec<_>>(),
    }))
}

fn openapi_paths(catalog: &Catalog) -> Vec<(String, &str, &str)> {
    let mut out = vec![("api/v1".to_owned(), "", "v1")];
    for (g, v) in catalog.group_versions() {
        out.push((format!("apis/{g}/{v}"), g, v));
    }
    out
}

/// A stable content hash for the OpenAPI index (kubectl caches documents by it): it changes when
/// the kinds of the group/version change (a CRD applied, updated or deleted).
fn doc_hash(catalog: &Catalog, group: &str, version: &str) -> String {
    let mut text = String::new();
    for k in catalog.in_group_version(group, version) {
        text.push_str(&k.resource);
        text.push(':');
        text.push_str(&k.kind);
        text.push(':');
        text.push_str(if k.namespaced { "n" } else { "c" });
        text.push(',');
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest
        .as_ref()
        .iter()
        .take(16)
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `GET /openapi/v3`: the index of per-group-version documents.
pub fn openapi_index(catalog: &Catalog) -> Value {
    let mut paths = serde_json::Map::new();
    for (path, g, v) in openapi_paths(catalog) {
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", doc_hash(catalog, g, v))}),
        );
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/<path>`: one patch operation per kind carrying its GVK and the
/// `fieldValidation` parameter, so kubectl sends `fieldValidation=Strict` and lets the server decide.
pub fn openapi_document(catalog: &Catalog, path: &str) -> Option<Value> {
    let (_, group, version) = openapi_paths(catalog)
        .into_iter()
        .find(|(p, _, _)| p == path)?;
    let mut paths = serde_json::Map::new();
    for k in catalog.in_group_version(group, version) {
        let url = if k.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", k.resource)
        } else {
            format!("/{path}/{}/{{name}}", k.resource)
        };
        let gvk = json!({"group": k.group, "version": k.version, "kind": k.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
        ]);
        let body_types = [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ];
        let content: serde_json::Map<String, Value> = body_types
            .iter()
            .filter(|t| !(k.is_custom() && t.starts_with("application/strategic")))
            .map(|t| ((*t).to_owned(), json!({"schema": {"type": "object"}})))
            .collect();
        paths.insert(
            url,
            json!({"patch": {
                "operationId": format!("patch{}", k.kind),
                "parameters": params,
                "requestBody": {"content": content, "required": true},
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_discovery_lists_pods_with_short_names_categories_and_subresources() {
        let catalog = Catalog::builtin();
        let resources = |g, v| resources(&catalog, g, v);
        let list = resources("", "v1").expect("v1");
        let res = list["resources"].as_array().expect("resources");
        let pods = res.iter().find(|r| r["name"] == "pods").expect("pods");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["namespaced"], true);
        for sub in ["pods/status", "pods/log", "pods/exec", "pods/portforward"] {
            assert!(res.iter().any(|r| r["name"] == sub), "{sub}");
        }
        let apps = resources("apps", "v1").expect("apps");
        let scale = apps["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .expect("scale");
        assert_eq!(scale["kind"], "Scale");
        assert!(resources("apps", "v2").is_none());
    }

    #[test]
    fn openapi_index_points_at_documents_that_exist() {
        let catalog = Catalog::builtin();
        let openapi_document = |p| openapi_document(&catalog, p);
        let index = openapi_index(&catalog);
        let paths = index["paths"].as_object().expect("paths");
        assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
        for (path, entry) in paths {
            let url = entry["serverRelativeURL"].as_str().expect("url");
            assert!(url.starts_with(&format!("/openapi/v3/{path}?hash=")));
            let doc = openapi_document(path).expect("document");
            assert!(!doc["paths"].as_object().expect("paths").is_empty());
        }
        let doc = openapi_document("apis/apps/v1").expect("apps");
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(openapi_document("apis/nope/v1").is_none());
    }
}
