//! citadel-lite: the mesh's certificate authority, as istiod runs it.
//!
//! A [`Ca`] is either a self-signed root generated on first start ([`Ca::generate`], persisted by
//! the host as Istio's `istio-ca-secret` and loaded again with [`Ca::self_signed`]), or a CA
//! plugged in from Istio's `cacerts` files ([`Ca::plugged`]: `ca-cert.pem` + `ca-key.pem` sign,
//! `cert-chain.pem` goes with each leaf, `root-cert.pem` is the trust bundle).
//!
//! [`Ca::issue`] gives a workload its short-lived certificate: an ECDSA P-256 key, the URI SAN
//! `spiffe://cluster.local/ns/<ns>/sa/<sa>` ([`spiffe_id`]), both serverAuth and clientAuth, a
//! random serial, `not_before` backdated by [`CLOCK_SKEW`]. [`IssuedCert::rotate_at`] says when
//! it is due again (Istio's `SECRET_GRACE_PERIOD_RATIO`, half its lifetime).
//!
//! - [`inspect`]: certificates read back (serial, validity, SPIFFE ids, EKUs), for tests and
//!   `istioctl proxy-config secret`.
//! - `key`: the CA's signing key (PKCS#8 of any kind rcgen knows, or a PKCS#1 RSA key).
//!
//! Everything here is pure: the caller passes the time.

pub mod inspect;
mod key;

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use self::key::CaKey;

/// The mesh's trust domain.
pub const TRUST_DOMAIN: &str = "cluster.local";
/// How long a workload certificate lives unless configured (istiod's
/// `DEFAULT_WORKLOAD_CERT_TTL`).
pub const DEFAULT_CERT_TTL: Duration = Duration::from_secs(24 * 3600);
/// The shortest workload certificate lifetime accepted: shorter ones are raised to it, so a
/// typo cannot make the proxies rotate in a loop.
pub const MIN_CERT_TTL: Duration = Duration::from_secs(10);
/// The longest workload certificate lifetime (istiod's `MAX_WORKLOAD_CERT_TTL`, 90 days).
pub const MAX_CERT_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// How long a generated root lives (Istio's self-signed root: 10 years).
pub const ROOT_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How far `not_before` is backdated, so a peer whose clock is a little behind accepts it.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The fraction of a certificate's lifetime after which it is re-issued (Istio's
/// `SECRET_GRACE_PERIOD_RATIO`).
pub const GRACE_PERIOD_RATIO: f64 = 0.5;

/// The SPIFFE identity of service account `sa` in namespace `ns`.
pub fn spiffe_id(namespace: &str, service_account: &str) -> String {
    format!("spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}")
}

/// `ttl` within [`MIN_CERT_TTL`] ..= [`MAX_CERT_TTL`].
pub fn clamp_ttl(ttl: Duration) -> Duration {
    ttl.clamp(MIN_CERT_TTL, MAX_CERT_TTL)
}

/// A duration as Istio's settings write it: Go's `time.ParseDuration` (`30s`, `1h30m`, `24h`,
/// `500ms`); a bare number is seconds. `None` when it is not one.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Why a CA could not be loaded or a certificate not issued.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A PEM file is not what it should be.
    #[error("{file}: {message}")]
    File {
        /// Which file (`ca-cert.pem` …).
        file: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// Signing failed.
    #[error("could not {action}: {source}")]
    Sign {
        /// What was being done.
        action: &'static str,
        /// rcgen's error.
        source: rcgen::Error,
    },
}

fn sign_err(action: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
    move |source| CaError::Sign { action, source }
}

/// Istio's plug-in CA files (the `cacerts` Secret's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluggedFiles {
    /// `ca-cert.pem`: the certificate that signs workload certificates.
    pub ca_cert: String,
    /// `ca-key.pem`: its private key (PKCS#8, or PKCS#1 RSA).
    pub ca_key: String,
    /// `root-cert.pem`: the trust bundle the workloads verify peers with.
    pub root_cert: String,
    /// `cert-chain.pem`: the chain sent after each leaf (the signing certificate up to the root).
    pub cert_chain: String,
}

/// The mesh's certificate authority.
pub struct Ca {
    issuer: Issuer<'static, CaKey>,
    cert_pem: String,
    key_pem: String,
    chain_pem: String,
    root_pem: String,
    plugged: bool,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("plugged", &self.plugged)
            .finish_non_exhaustive()
    }
}

fn random_serial() -> SerialNumber {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system RNG does not fail on Linux; a zero serial would still be a valid certificate.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    // Positive, and 32 hex digits without a leading zero, however a tool prints it.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

impl Ca {
    /// A new self-signed root (ECDSA P-256, `O=cluster.local`) valid from `now` (backdated by
    /// [`CLOCK_SKEW`]) for [`ROOT_TTL`].
    pub fn generate(now: SystemTime) -> Result<Ca, CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(sign_err("generate the root key"))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, TRUST_DOMAIN);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        params.not_before = (now - CLOCK_SKEW).into();
        params.not_after = (now + ROOT_TTL).into();
        let cert = params
            .self_signed(&key)
            .map_err(sign_err("sign the root certificate"))?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        Ca::self_signed(&cert_pem, &key_pem)
    }

    /// The self-signed root persisted earlier (`istio-ca-secret`'s `ca-cert.pem` and
    /// `ca-key.pem`).
    pub fn self_signed(cert_pem: &str, key_pem: &str) -> Result<Ca, CaError> {
        let (issuer, cert_pem) = load_issuer(cert_pem, key_pem)?;
        Ok(Ca {
            issuer,
            chain_pem: cert_pem.clone(),
            root_pem: cert_pem.clone(),
            cert_pem,
            key_pem: key_pem.to_owned(),
            plugged: false,
        })
    }

    /// A CA plugged in from Istio's `cacerts` files. The signing certificate must be a CA and
    /// be signed by (or be) a certificate of the root bundle.
    pub fn plugged(files: &PluggedFiles) -> Result<Ca, CaError> {
        let (issuer, cert_pem) = load_issuer(&files.ca_cert, &files.ca_key)?;
        let roots = inspect::parse_chain(&files.root_cert).map_err(|e| CaError::File {
            file: "root-cert.pem",
            message: e.to_string(),
        })?;
        if roots.is_empty() {
            return Err(CaError::File {
                file: "root-cert.pem",
                message: "holds no certificate: put the mesh's root certificate (PEM) there"
                    .to_owned(),
            });
        }
        let chain = if files.cert_chain.trim().is_empty() {
            cert_pem.clone()
        } else {
            let parsed = inspect::parse_chain(&files.cert_chain).map_err(|e| CaError::File {
                file: "cert-chain.pem",
                message: e.to_string(),
            })?;
            if parsed.is_empty() {
                return Err(CaError::File {
                    file: "cert-chain.pem",
                    message: "holds no certificate: put the signing certificate and the ones \
                              up to the root there (PEM), or leave it empty"
                        .to_owned(),
                });
            }
            files.cert_chain.trim().to_owned() + "\n"
        };
        if !inspect::chains_to(&cert_pem, &files.root_cert) {
            return Err(CaError::File {
                file: "ca-cert.pem",
                message: "is not signed by a certificate of root-cert.pem: workloads would not \
                          trust what it issues; check that the files come from the same CA"
                    .to_owned(),
            });
        }
        Ok(Ca {
            issuer,
            cert_pem,
            key_pem: files.ca_key.clone(),
            chain_pem: chain,
            root_pem: files.root_cert.trim().to_owned() + "\n",
            plugged: true,
        })
    }

    /// Whether this CA was plugged in (`cacerts`) rather than self-signed.
    pub fn is_plugged(&self) -> bool {
        self.plugged
    }

    /// The trust bundle (PEM): what `ROOTCA` and the `istio-ca-root-cert` ConfigMap carry.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The signing certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The signing key (PEM), to persist a generated root.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues the workload certificate of `identity` (a SPIFFE id, see [`spiffe_id`]) valid
    /// for `ttl` from `now`.
    pub fn issue(
        &self,
        identity: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<IssuedCert, CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(sign_err("generate a workload key"))?;
        let uri = identity
            .to_owned()
            .try_into()
            .map_err(|e: rcgen::Error| CaError::Sign {
                action: "put the SPIFFE id in the certificate",
                source: e,
            })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        let not_before = now - CLOCK_SKEW;
        let not_after = now + ttl;
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(sign_err("sign the workload certificate"))?;
        Ok(IssuedCert {
            identity: identity.to_owned(),
            chain_pem: format!("{}{}", cert.pem(), self.chain_pem),
            key_pem: key.serialize_pem(),
            serial: inspect::serial_hex(&serial.to_bytes()),
            issued_at: now,
            ttl,
            not_before: truncate_to_secs(not_before),
            not_after: truncate_to_secs(not_after),
        })
    }
}

/// Certificates carry whole seconds.
fn truncate_to_secs(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The issuer of `cert_pem` signing with `key_pem`, and the certificate's PEM normalised.
fn load_issuer(cert_pem: &str, key_pem: &str) -> Result<(Issuer<'static, CaKey>, String), CaError> {
    let certs = inspect::parse_chain(cert_pem).map_err(|e| CaError::File {
        file: "ca-cert.pem",
        message: e.to_string(),
    })?;
    let Some(cert) = certs.first() else {
        return Err(CaError::File {
            file: "ca-cert.pem",
            message: "holds no certificate: put the CA certificate (PEM) there".to_owned(),
        });
    };
    if !cert.is_ca {
        return Err(CaError::File {
            file: "ca-cert.pem",
            message: "is not a CA certificate (basicConstraints CA:TRUE is missing): it cannot \
                      sign workload certificates"
                .to_owned(),
        });
    }
    let key = CaKey::from_pem(key_pem).map_err(|message| CaError::File {
        file: "ca-key.pem",
        message,
    })?;
    if !inspect::public_key_matches(cert_pem, rcgen::PublicKeyData::der_bytes(&key)) {
        return Err(CaError::File {
            file: "ca-key.pem",
            message: "is not the key of ca-cert.pem: use the key the certificate was made for"
                .to_owned(),
        });
    }
    let first_pem = inspect::first_pem(cert_pem).unwrap_or_else(|| cert_pem.to_owned());
    let issuer = Issuer::from_ca_cert_pem(&first_pem, key).map_err(|e| CaError::File {
        file: "ca-cert.pem",
        message: format!("cannot be read as a CA certificate: {e}"),
    })?;
    Ok((issuer, first_pem))
}

/// A workload certificate as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The SPIFFE id in its URI SAN.
    pub identity: String,
    /// The leaf followed by the CA chain (PEM): SDS `default`'s certificate chain.
    pub chain_pem: String,
    /// The leaf's private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The serial number, lowercase hex without leading zeros (as istioctl prints it).
    pub serial: String,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// How long it was issued for (from `issued_at`).
    pub ttl: Duration,
    /// Start of validity (backdated by [`CLOCK_SKEW`]).
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl IssuedCert {
    /// When it should be replaced: after [`GRACE_PERIOD_RATIO`] of its lifetime.
    pub fn rotate_at(&self) -> SystemTime {
        self.issued_at + self.ttl.mul_f64(GRACE_PERIOD_RATIO)
    }

    /// Whether it is due for replacement at `now`.
    pub fn due(&self, now: SystemTime) -> bool {
        now >= self.rotate_at()
    }
}

#[cfg(test)]
mod tests;
