//! Security policies enforced by the real Envoy, configured with the real kubectl: Istio's
//! httpbin and curl samples injected, AuthorizationPolicy at the sidecar (DENY on a path, the
//! empty ALLOW, headers, peer identities over mutual TLS), RequestAuthentication at the ingress
//! gateway with tokens signed here (inline JWKS and a `jwksUri` inside the mesh), and Istio's
//! local rate limit EnvoyFilter at the sidecar and at the gateway.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meshwork_mesh::envoy;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::harness::{Env, kubectl_path};
use super::istio_env::{
    apply_inline, dechunk, envoy_admin, envoy_present, eventually, gateway_port, istio, ready,
    sample,
};

const ISSUER: &str = "testing@secure.istio.io";

/// What curl in the `curl` pod of `namespace` printed for `args` and its exit code (with what
/// kubectl said on stderr when it failed).
async fn curl(env: &Env, namespace: &str, args: &[&str]) -> (String, i32) {
    let mut all = vec![
        "exec",
        "-n",
        namespace,
        "deploy/curl",
        "-c",
        "curl",
        "--",
        "curl",
        "-sS",
    ];
    all.extend_from_slice(args);
    let out = env.kubectl(&all).await;
    if out.code == 0 {
        (out.stdout, 0)
    } else {
        (format!("{}{}", out.stdout, out.stderr), out.code)
    }
}

/// The status code httpbin's `path` answers the curl pod of `namespace` with.
async fn status(env: &Env, namespace: &str, path: &str, headers: &[&str]) -> String {
    let url = format!("http://httpbin.default:8000{path}");
    let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    for h in headers {
        args.extend_from_slice(&["-H", h]);
    }
    args.push(&url);
    let (out, code) = curl(env, namespace, &args).await;
    if code == 0 {
        out.trim().to_owned()
    } else {
        format!("{} (curl exit code {code})", out.trim())
    }
}

/// Waits until `path` answers the curl pod of `namespace` with `code`.
async fn until_status(env: &Env, namespace: &str, path: &str, headers: &[&str], code: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = status(env, namespace, path, headers).await;
        if got == code {
            return;
        }
        if Instant::now() >= deadline {
            let client = env
                .kubectl(&["logs", "-n", namespace, "deploy/curl", "-c", "istio-proxy"])
                .await;
            let server = env
                .kubectl(&["logs", "deploy/httpbin", "-c", "istio-proxy"])
                .await;
            panic!(
                "gave up waiting for {path} from {namespace} to answer {code}; the last answer was {got:?}\nclient's sidecar:\n{}\nhttpbin's sidecar:\n{}",
                client.stdout, server.stdout
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last lines of istiod's log.
async fn istiod_log(env: &Env) -> String {
    env.ok(&["logs", "-n", "istio-system", "deploy/istiod"])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_policies_and_the_local_rate_limit_at_httpbins_sidecar() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = istio().await;
    env.ok(&["apply", "-f", &sample("httpbin/httpbin.yaml")])
        .await;
    env.ok(&["apply", "-f", &sample("curl/curl.yaml")]).await;
    env.ok(&["create", "namespace", "other"]).await;
    env.ok(&["label", "namespace", "other", "istio-injection=enabled"])
        .await;
    env.ok(&["apply", "-n", "other", "-f", &sample("curl/curl.yaml")])
        .await;
    ready(&env, "default", "app=httpbin").await;
    ready(&env, "default", "app=curl").await;
    ready(&env, "other", "app=curl").await;
    until_status(&env, "default", "/headers", &[], "200").await;

    // DENY on /headers: 403 there with Envoy's body, 200 on /ip.
    apply_inline(
        &env,
        "deny-headers.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-headers
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: [/headers]
",
    )
    .await;
    until_status(&env, "default", "/headers", &[], "403").await;
    let (body, _) = curl(&env, "default", &["http://httpbin:8000/headers"]).await;
    assert_eq!(body.trim(), "RBAC: access denied");
    assert_eq!(status(&env, "default", "/ip", &[]).await, "200");
    assert_eq!(
        status(&env, "default", "/headers/", &[]).await,
        "404",
        "only the exact path is denied (httpbin has no /headers/)"
    );

    // The empty ALLOW policy denies everything; removing the policies restores access.
    env.ok(&["delete", "authorizationpolicy", "deny-headers"])
        .await;
    apply_inline(
        &env,
        "allow-nothing.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
spec: {}
",
    )
    .await;
    until_status(&env, "default", "/ip", &[], "403").await;
    assert_eq!(status(&env, "default", "/headers", &[]).await, "403");

    // ALLOW GET with a header (a `when` condition): only requests carrying it pass.
    apply_inline(
        &env,
        "allow-tester.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-tester
spec:
  selector:
    matchLabels:
      app: httpbin
  rules:
  - to:
    - operation:
        methods: [GET]
        paths: [/ip, /status/*]
    when:
    - key: request.headers[x-tester]
      values: [alice, bob]
",
    )
    .await;
    until_status(&env, "default", "/ip", &["x-tester: alice"], "200").await;
    assert_eq!(status(&env, "default", "/ip", &[]).await, "403");
    assert_eq!(
        status(&env, "default", "/ip", &["x-tester: mallory"]).await,
        "403"
    );
    assert_eq!(
        status(&env, "default", "/status/418", &["x-tester: bob"]).await,
        "418",
        "the `/status/*` prefix is allowed"
    );
    assert_eq!(
        status(&env, "default", "/headers", &["x-tester: bob"]).await,
        "403"
    );
    env.ok(&[
        "delete",
        "authorizationpolicy",
        "allow-nothing",
        "allow-tester",
    ])
    .await;
    until_status(&env, "default", "/headers", &[], "200").await;

    // Peer identities over mutual TLS: ALLOW curl's service account in default only, then the
    // namespace `other` only.
    apply_inline(
        &env,
        "allow-default-curl.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-peers
spec:
  selector:
    matchLabels:
      app: httpbin
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/default/sa/curl]
",
    )
    .await;
    // (Connections opened under the previous policy keep it until they drain: wait for both.)
    until_status(&env, "other", "/ip", &[], "403").await;
    until_status(&env, "default", "/ip", &[], "200").await;
    apply_inline(
        &env,
        "allow-other.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-peers
spec:
  selector:
    matchLabels:
      app: httpbin
  rules:
  - from:
    - source:
        namespaces: [other]
",
    )
    .await;
    until_status(&env, "default", "/ip", &[], "403").await;
    until_status(&env, "other", "/ip", &[], "200").await;
    env.ok(&["delete", "authorizationpolicy", "allow-peers"])
        .await;
    until_status(&env, "default", "/headers", &[], "200").await;

    // Istio's local rate limit: a bucket of 4 a minute. Connections opened before the filter
    // arrived drain first, so send requests until the filter answers one with 429: by then it
    // has let exactly the bucket's 4 through, and a burst beyond it gets only 429s.
    apply_inline(&env, "ratelimit.yaml", &rate_limit_filter()).await;
    let httpbin = envoy_admin(&env, "default", "httpbin-").await;
    let mut first = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.last().is_none_or(|c| c != "429") {
        assert!(
            Instant::now() < deadline,
            "no request was rate limited: {first:?}"
        );
        first.push(status(&env, "default", "/get", &[]).await);
    }
    let counter = |stats: &str, name: &str| {
        stats
            .lines()
            .find(|l| {
                l.ends_with(&format!("http_local_rate_limit.{}", name))
                    || l.contains(&format!("http_local_rate_limit.{name}:"))
            })
            .and_then(|l| l.rsplit(':').next())
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    let stats = envoy::admin_get(httpbin, "/stats?filter=http_local_rate_limit")
        .await
        .expect("httpbin's Envoy admin")
        .text();
    assert_eq!(
        counter(&stats, "ok"),
        Some(4),
        "the filter let the bucket's 4 requests through before the first 429 ({first:?}):\n{stats}"
    );
    let mut burst = Vec::new();
    for _ in 0..6 {
        burst.push(status(&env, "default", "/get", &[]).await);
    }
    assert!(
        burst.iter().all(|c| c == "429"),
        "a burst beyond the bucket is rate limited: {burst:?}"
    );
    let (verbose, _) = curl(&env, "default", &["-i", "http://httpbin:8000/get"]).await;
    assert!(verbose.starts_with("HTTP/1.1 429"), "{verbose}");
    assert!(verbose.contains("local_rate_limited"), "{verbose}");
    assert!(
        verbose
            .to_ascii_lowercase()
            .contains("x-local-rate-limit: true"),
        "{verbose}"
    );
    let stats = envoy::admin_get(httpbin, "/stats?filter=http_local_rate_limit")
        .await
        .expect("httpbin's Envoy admin")
        .text();
    assert!(
        counter(&stats, "rate_limited").is_some_and(|n| n >= 7),
        "{stats}"
    );

    // Other EnvoyFilter patches are refused in istiod's log, naming the field.
    apply_inline(
        &env,
        "lua.yaml",
        "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: cluster-tweak
spec:
  configPatches:
  - applyTo: CLUSTER
    patch:
      operation: MERGE
      value: {connect_timeout: 1s}
",
    )
    .await;
    let line = eventually(
        "istiod's warning about EnvoyFilter default/cluster-tweak",
        Duration::from_secs(30),
        || async {
            istiod_log(&env)
                .await
                .lines()
                .find(|l| l.contains("EnvoyFilter default/cluster-tweak:"))
                .map(str::to_owned)
        },
    )
    .await;
    assert!(
        line.contains("configPatches[0].applyTo") && line.contains("local rate limit"),
        "{line}"
    );
    env.stop().await;
}

/// Istio's documented local rate limit for httpbin's sidecar (TypedStruct form).
fn rate_limit_filter() -> String {
    "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: httpbin
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket:
              max_tokens: 4
              tokens_per_fill: 4
              fill_interval: 60s
            filter_enabled:
              runtime_key: local_rate_limit_enabled
              default_value:
                numerator: 100
                denominator: HUNDRED
            filter_enforced:
              runtime_key: local_rate_limit_enforced
              default_value:
                numerator: 100
                denominator: HUNDRED
            response_headers_to_add:
            - append: false
              header:
                key: x-local-rate-limit
                value: 'true'
"
    .to_owned()
}

/// An ES256 signing key, its JWKS, and tokens.
struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    fn new(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Signer {
            key,
            kid: kid.to_owned(),
            rng,
        }
    }

    /// The public key as a JSON Web Key Set.
    fn jwks(&self) -> String {
        // An uncompressed P-256 point: 0x04 ‖ x ‖ y.
        let point = self.key.public_key().as_ref();
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
        .to_string()
    }

    /// A compact JWS of `claims`.
    fn token(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(issuer: &str, sub: &str, groups: &[&str], exp: u64) -> serde_json::Value {
    serde_json::json!({"iss": issuer, "sub": sub, "groups": groups, "exp": exp, "iat": now()})
}

/// One HTTP/1.1 answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

/// `GET path` through the ingress gateway's NodePort, with an optional bearer token.
async fn gateway_get(port: u16, path: &str, token: Option<&str>) -> Option<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: httpbin.example.com\r\nUser-Agent: meshwork-test\r\nConnection: close\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some(Reply { status, body })
}

/// Waits until the gateway answers `path` (with `token`) with `status`, and returns the reply.
async fn until_gateway(port: u16, path: &str, token: Option<&str>, status: u16) -> Reply {
    eventually(
        &format!("{path} through the gateway answering {status}"),
        Duration::from_secs(30),
        || async {
            gateway_get(port, path, token)
                .await
                .filter(|r| r.status == status)
        },
    )
    .await
}

/// A loopback HTTP server answering every request with `body` (a JWKS "inside the mesh",
/// reached through a ServiceEntry). Aborted when dropped.
struct JwksServer {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(body: String) -> JwksServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        JwksServer { port, task }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_at_the_ingress_gateway_with_inline_keys_and_a_jwks_uri_in_the_mesh() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = istio().await;
    env.ok(&["apply", "-f", &sample("httpbin/httpbin.yaml")])
        .await;
    env.ok(&["apply", "-f", &sample("httpbin/httpbin-gateway.yaml")])
        .await;
    ready(&env, "default", "app=httpbin").await;
    let port = gateway_port(&env).await;
    until_gateway(port, "/headers", None, 200).await;

    let signer = Signer::new("meshwork-test");
    let hour = now() + 3600;
    let alice = signer.token(&claims(ISSUER, "alice", &["group1"], hour));
    let bob = signer.token(&claims(ISSUER, "bob", &["group2"], hour));
    let expired = signer.token(&claims(ISSUER, "alice", &["group1"], now() - 600));
    let forged = Signer::new("meshwork-test").token(&claims(ISSUER, "alice", &["group1"], hour));
    apply_inline(
        &env,
        "jwt.yaml",
        &format!(
            "apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
  - issuer: {ISSUER}
    jwks: '{}'
    outputPayloadToHeader: x-jwt-payload
",
            signer.jwks()
        ),
    )
    .await;

    // A bad token is refused with Envoy's 401s; no token and a valid one pass.
    let garbage = until_gateway(port, "/headers", Some("not-a-token"), 401).await;
    println!("garbage token: {}", garbage.body);
    let reply = gateway_get(port, "/headers", Some(&forged)).await.unwrap();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (401, "Jwt verification fails")
    );
    let reply = gateway_get(port, "/headers", Some(&expired)).await.unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (401, "Jwt is expired"));
    let reply = gateway_get(port, "/headers", None).await.unwrap();
    assert_eq!(reply.status, 200, "no token is allowed: {reply:?}");
    let reply = gateway_get(port, "/headers", Some(&alice)).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.contains("X-Jwt-Payload"),
        "the verified payload is forwarded to httpbin: {}",
        reply.body
    );

    // DENY requests without a principal: now a token is required.
    apply_inline(
        &env,
        "require-jwt.yaml",
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: frontend-ingress
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ['*']
",
    )
    .await;
    let denied = until_gateway(port, "/headers", None, 403).await;
    assert_eq!(denied.body, "RBAC: access denied");
    let reply = gateway_get(port, "/headers", Some(&alice)).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");

    // ALLOW by request principal and a claim: alice (group1) passes, bob (group2) does not.
    apply_inline(
        &env,
        "allow-group1.yaml",
        &format!(
            "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-group1
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  rules:
  - from:
    - source:
        requestPrincipals: ['{ISSUER}/*']
    when:
    - key: request.auth.claims[groups]
      values: [group1]
"
        ),
    )
    .await;
    until_gateway(port, "/headers", Some(&bob), 403).await;
    let reply = gateway_get(port, "/headers", Some(&alice)).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    env.ok(&[
        "delete",
        "-n",
        "istio-system",
        "authorizationpolicy",
        "allow-group1",
        "frontend-ingress",
    ])
    .await;
    until_gateway(port, "/headers", Some(&bob), 200).await;

    // A jwksUri inside the mesh: unreachable first (a clear 401 and istiod's warning), then
    // served through a ServiceEntry.
    let uri_issuer = "keys@meshwork.test";
    let other = Signer::new("uri-key");
    let carol = other.token(&claims(uri_issuer, "carol", &[], hour));
    let server = JwksServer::start(other.jwks()).await;
    apply_inline(
        &env,
        "jwt-uri.yaml",
        &format!(
            "apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-uri
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
  - issuer: {uri_issuer}
    jwksUri: http://jwks.meshwork.test/keys.json
"
        ),
    )
    .await;
    // (Before the RequestAuthentication arrives the issuer is unknown: also a 401.)
    eventually(
        "carol's token refused because her issuer's keys cannot be fetched",
        Duration::from_secs(30),
        || async {
            gateway_get(port, "/headers", Some(&carol))
                .await
                .filter(|r| r.status == 401 && r.body == "Jwks remote fetch is failed")
        },
    )
    .await;
    let warning = eventually(
        "istiod's warning about the unreachable jwksUri",
        Duration::from_secs(30),
        || async {
            istiod_log(&env)
                .await
                .lines()
                .find(|l| l.contains("RequestAuthentication istio-system/jwt-uri:"))
                .map(str::to_owned)
        },
    )
    .await;
    assert!(
        warning.contains("jwtRules[0].jwksUri") && warning.contains("jwks.meshwork.test"),
        "{warning}"
    );
    apply_inline(
        &env,
        "jwks-entry.yaml",
        &format!(
            "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: jwks
  namespace: istio-system
spec:
  hosts: [jwks.meshwork.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 80
    name: http
    protocol: HTTP
  endpoints:
  - address: 127.0.0.1
    ports:
      http: {}
",
            server.port
        ),
    )
    .await;
    let reply = until_gateway(port, "/headers", Some(&carol), 200).await;
    assert!(reply.body.contains("\"Host\""), "{}", reply.body);
    // alice's issuer still verifies with the inline keys.
    let reply = gateway_get(port, "/headers", Some(&alice)).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    drop(server);

    // The local rate limit at the gateway (context GATEWAY, the direct @type, before the
    // router): a bucket of 3 a minute; the gateway answers the rest with 429.
    apply_inline(
        &env,
        "gateway-ratelimit.yaml",
        "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: gateway-ratelimit
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      istio: ingressgateway
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter:
              name: envoy.filters.http.router
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: gateway_rate_limiter
          token_bucket: {max_tokens: 3, tokens_per_fill: 3, fill_interval: 60s}
          filter_enabled:
            runtime_key: local_rate_limit_enabled
            default_value: {numerator: 100, denominator: HUNDRED}
          filter_enforced:
            runtime_key: local_rate_limit_enforced
            default_value: {numerator: 100, denominator: HUNDRED}
",
    )
    .await;
    let limited = until_gateway(port, "/headers", None, 429).await;
    assert_eq!(limited.body, "local_rate_limited");
    for _ in 0..3 {
        let reply = gateway_get(port, "/headers", None).await.unwrap();
        assert_eq!(reply.status, 429, "the bucket stays empty: {reply:?}");
    }
    env.stop().await;
}
