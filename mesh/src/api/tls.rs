//! Credentials: a self-signed CA, a server certificate for 127.0.0.1, a bearer token and the
//! kubeconfig that carries them. All persist in the state directory so restarts keep them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// File names inside the state directory.
pub const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "apiserver.crt";
const SERVER_KEY: &str = "apiserver.key";
const TOKEN: &str = "token";
/// The kubeconfig file name inside the state directory.
pub const KUBECONFIG: &str = "kubeconfig";

/// The TLS and token material of one mesh.
#[derive(Clone)]
pub struct Credentials {
    /// PEM of the CA certificate (what kubeconfig's certificate-authority-data carries).
    pub ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    /// The bearer token clients must present.
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes a file atomically with owner-only permissions.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io_err("create", &tmp))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(io_err("restrict permissions of", &tmp))?;
        }
        f.write_all(contents).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))
}

fn tls_err(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Tls(format!("could not {what}: {e}"))
}

impl Credentials {
    /// Loads the credentials from `state_dir`, creating any that are missing.
    ///
    /// The CA and server certificate are created together: if any of their four files is
    /// missing, all four are regenerated (and kubeconfigs written before then stop working).
    pub fn load_or_create(state_dir: &Path) -> Result<Self, Error> {
        fs::create_dir_all(state_dir).map_err(io_err("create", state_dir))?;
        let files: Vec<PathBuf> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
            .iter()
            .map(|f| state_dir.join(f))
            .collect();
        let read = |p: &Path| fs::read_to_string(p).ok().filter(|s| !s.trim().is_empty());
        let existing: Vec<Option<String>> = files.iter().map(|p| read(p)).collect();
        let (ca_pem, server_cert_pem, server_key_pem) = match existing.as_slice() {
            [Some(ca), Some(_), Some(cert), Some(key)] => (ca.clone(), cert.clone(), key.clone()),
            _ => {
                let generated = generate()?;
                write_private(&files[0], generated.0.as_bytes())?;
                write_private(&files[1], generated.1.as_bytes())?;
                write_private(&files[2], generated.2.as_bytes())?;
                write_private(&files[3], generated.3.as_bytes())?;
                (generated.0, generated.2, generated.3)
            }
        };
        let token_path = state_dir.join(TOKEN);
        let token = match read(&token_path) {
            Some(t) => t.trim().to_owned(),
            None => {
                let t: String = crate::meta::random_bytes::<24>()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                write_private(&token_path, t.as_bytes())?;
                t
            }
        };
        Ok(Self {
            ca_pem,
            server_cert_pem,
            server_key_pem,
            token,
        })
    }

    /// The rustls server configuration (HTTP/1.1 only).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            Error::Tls(format!(
                "the stored {what} is unreadable ({e}); delete the state directory's *.crt/*.key files to regenerate them"
            ))
        };
        let mut chain = Vec::new();
        for pem in [&self.server_cert_pem, &self.ca_pem] {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                chain.push(cert.map_err(|e| bad("certificate", &e))?);
            }
        }
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes())
            .map_err(|e| bad("server key", &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| bad("certificate/key pair", &e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The kubeconfig text for a server at `url` (context, cluster and user all named `meshwork`).
    pub fn kubeconfig(&self, url: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: meshwork\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: meshwork\n  user:\n    token: {token}\ncontexts:\n- name: meshwork\n  context:\n    cluster: meshwork\n    user: meshwork\n    namespace: default\ncurrent-context: meshwork\n",
            token = self.token
        )
    }

    /// Whether an `Authorization` header value carries this mesh's token (constant-time compare).
    pub fn authorized(&self, header: Option<&str>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        let given = given.trim().as_bytes();
        let want = self.token.as_bytes();
        given.len() == want.len()
            && given
                .iter()
                .zip(want)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Generates (CA cert, CA key, server cert, server key) as PEM.
fn generate() -> Result<(String, String, String, String), Error> {
    let ca_key = KeyPair::generate().map_err(tls_err("generate the CA key"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_err("prepare the CA"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "meshwork-ca");
    ca.distinguished_name
        .push(DnType::OrganizationName, "meshwork reference mesh");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = rcgen::date_time_ymd(2025, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let ca_cert = ca.self_signed(&ca_key).map_err(tls_err("sign the CA"))?;

    let server_key = KeyPair::generate().map_err(tls_err("generate the server key"))?;
    let mut server = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        "kubernetes".to_owned(),
        "kubernetes.default.svc".to_owned(),
    ])
    .map_err(tls_err("prepare the server certificate"))?;
    server
        .distinguished_name
        .push(DnType::CommonName, "meshwork-apiserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.not_before = rcgen::date_time_ymd(2025, 1, 1);
    server.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let issuer = Issuer::from_params(&ca, &ca_key);
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .map_err(tls_err("sign the server certificate"))?;
    Ok((
        ca_cert.pem(),
        ca_key.serialize_pem(),
        server_cert.pem(),
        server_key.serialize_pem(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_persist_and_files_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Credentials::load_or_create(dir.path()).expect("create");
        let again = Credentials::load_or_create(dir.path()).expect("load");
        assert_eq!(first.ca_pem, again.ca_pem, "restarts keep the same CA");
        assert_eq!(first.token, again.token);
        assert_eq!(first.token.len(), 48);
        assert!(again.server_config().is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [CA_KEY, SERVER_KEY, TOKEN] {
                let mode = fs::metadata(dir.path().join(f))
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
    }

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Credentials::load_or_create(dir.path()).expect("create");
        assert!(c.authorized(Some(&format!("Bearer {}", c.token))));
        assert!(!c.authorized(Some("Bearer nope")));
        assert!(!c.authorized(Some(&c.token)));
        assert!(!c.authorized(None));
    }

    #[test]
    fn kubeconfig_carries_server_ca_and_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Credentials::load_or_create(dir.path()).expect("create");
        let text = c.kubeconfig("https://127.0.0.1:6443");
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
        assert_eq!(doc["current-context"], "meshwork");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            doc["users"][0]["user"]["token"].as_str(),
            Some(c.token.as_str())
        );
        let ca = doc["clusters"][0]["cluster"]["certificate-authority-data"]
            .as_str()
            .expect("ca");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .expect("b64");
        assert_eq!(String::from_utf8(decoded).expect("utf8"), c.ca_pem);
    }
}
