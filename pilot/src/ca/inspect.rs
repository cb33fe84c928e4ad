//! Certificates read back: what tests check and `istioctl proxy-config secret` shows.

use std::time::{Duration, SystemTime};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer as _;

/// A certificate that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InspectError(pub String);

/// What a certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number, lowercase hex without leading zeros.
    pub serial: String,
    /// Subject, as `O=cluster.local` (empty for workload certificates).
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// URI SANs (the SPIFFE id of a workload certificate).
    pub uris: Vec<String>,
    /// Whether it is a CA (basicConstraints CA:TRUE).
    pub is_ca: bool,
    /// Whether its extended key usage allows serving TLS.
    pub server_auth: bool,
    /// Whether its extended key usage allows TLS client authentication.
    pub client_auth: bool,
    /// The DER encoding.
    pub der: Vec<u8>,
}

impl CertInfo {
    /// Whether `now` is within its validity.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// The first `spiffe://` URI SAN.
    pub fn spiffe_id(&self) -> Option<&str> {
        self.uris
            .iter()
            .map(String::as_str)
            .find(|u| u.starts_with("spiffe://"))
    }
}

/// Serial bytes as istioctl prints them: lowercase hex, no leading zeros.
pub fn serial_hex(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn to_system_time(secs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
    }
}

/// Reads one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<CertInfo, InspectError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| InspectError(format!("not an X.509 certificate: {e}")))?;
    let mut uris = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name {
                uris.push((*uri).to_owned());
            }
        }
    }
    let (server_auth, client_auth) = match cert.extended_key_usage() {
        Ok(Some(eku)) => (eku.value.server_auth, eku.value.client_auth),
        _ => (false, false),
    };
    let validity = cert.validity();
    Ok(CertInfo {
        serial: serial_hex(cert.raw_serial()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: to_system_time(validity.not_before.timestamp()),
        not_after: to_system_time(validity.not_after.timestamp()),
        uris,
        is_ca: cert.is_ca(),
        server_auth,
        client_auth,
        der: der.to_vec(),
    })
}

/// Every `CERTIFICATE` block of a PEM text, in order (other blocks are skipped).
pub fn parse_chain(pem: &str) -> Result<Vec<CertInfo>, InspectError> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| InspectError(format!("not valid PEM: {e}")))?;
        if block.label == "CERTIFICATE" {
            out.push(parse_der(&block.contents)?);
        }
    }
    Ok(out)
}

/// The first `CERTIFICATE` block of a PEM text, as PEM.
pub fn first_pem(pem: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN)?;
    let end = start + pem[start..].find(END)? + END.len();
    Some(format!("{}\n", &pem[start..end]))
}

/// Whether `child` (DER) carries a valid signature by `issuer`'s key (DER).
pub fn signed_by(child: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, child)), Ok((_, issuer))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(issuer),
    ) else {
        return false;
    };
    child.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether the first certificate of `cert_pem` is one of `roots_pem` or is signed by one of
/// them, possibly through the other certificates of `cert_pem` (a chain).
pub fn chains_to(cert_pem: &str, roots_pem: &str) -> bool {
    let (Ok(chain), Ok(roots)) = (parse_chain(cert_pem), parse_chain(roots_pem)) else {
        return false;
    };
    let Some(mut current) = chain.first() else {
        return false;
    };
    for _ in 0..=chain.len() {
        if roots
            .iter()
            .any(|r| r.der == current.der || signed_by(&current.der, &r.der))
        {
            return true;
        }
        match chain
            .iter()
            .find(|c| c.der != current.der && signed_by(&current.der, &c.der))
        {
            Some(next) => current = next,
            None => return false,
        }
    }
    false
}

/// Whether the first certificate of `cert_pem` is for the public key `key` (the raw public key
/// bits, as rcgen's `PublicKeyData::der_bytes`).
pub fn public_key_matches(cert_pem: &str, key: &[u8]) -> bool {
    parse_chain(cert_pem)
        .ok()
        .and_then(|c| c.into_iter().next())
        .and_then(|c| {
            X509Certificate::from_der(&c.der)
                .ok()
                .map(|(_, x)| x.public_key().subject_public_key.data.as_ref() == key)
        })
        .unwrap_or(false)
}

/// A time as istioctl prints it: RFC 3339 in UTC, whole seconds (`2026-11-26T12:00:00Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
