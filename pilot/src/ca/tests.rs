use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::inspect::{self, CertInfo};
use super::*;

fn t0() -> SystemTime {
    // 2026-11-26T12:00:00Z
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_694_400)
}

fn leaf_and_rest(issued: &IssuedCert) -> (CertInfo, Vec<CertInfo>) {
    let mut chain = inspect::parse_chain(&issued.chain_pem).unwrap();
    let leaf = chain.remove(0);
    (leaf, chain)
}

#[test]
fn generated_root_is_a_ca_of_the_trust_domain_valid_for_ten_years() {
    let ca = Ca::generate(t0()).unwrap();
    let roots = inspect::parse_chain(ca.root_pem()).unwrap();
    assert_eq!(roots.len(), 1);
    let root = &roots[0];
    assert!(root.is_ca);
    assert_eq!(root.subject, "O=cluster.local");
    assert_eq!(root.not_before, t0() - CLOCK_SKEW);
    assert_eq!(root.not_after, t0() + ROOT_TTL);
    assert!(!ca.is_plugged());
    // Self-signed: its own key verifies it.
    assert!(inspect::signed_by(&root.der, &root.der));
}

#[test]
fn workload_certificate_carries_the_spiffe_id_both_ekus_and_the_ttl() {
    let ca = Ca::generate(t0()).unwrap();
    let id = spiffe_id("foo", "httpbin");
    assert_eq!(id, "spiffe://cluster.local/ns/foo/sa/httpbin");
    let issued = ca.issue(&id, Duration::from_secs(3600), t0()).unwrap();
    let (leaf, rest) = leaf_and_rest(&issued);
    assert_eq!(leaf.uris, vec![id.clone()]);
    assert_eq!(leaf.spiffe_id(), Some(id.as_str()));
    assert!(leaf.server_auth && leaf.client_auth);
    assert!(!leaf.is_ca);
    assert_eq!(leaf.subject, "");
    assert_eq!(leaf.issuer, "O=cluster.local");
    assert_eq!(leaf.not_before, t0() - CLOCK_SKEW);
    assert_eq!(leaf.not_after, t0() + Duration::from_secs(3600));
    assert_eq!(
        (issued.not_before, issued.not_after),
        (leaf.not_before, leaf.not_after)
    );
    assert_eq!(leaf.serial, issued.serial);
    assert!(leaf.valid_at(t0()));
    assert!(
        leaf.valid_at(t0() - Duration::from_secs(30)),
        "clock skew tolerated"
    );
    assert!(!leaf.valid_at(t0() + Duration::from_secs(3601)));
    // The chain after the leaf is the root, and the root signed the leaf.
    assert_eq!(rest.len(), 1);
    assert!(inspect::signed_by(&leaf.der, &rest[0].der));
    assert!(inspect::chains_to(&issued.chain_pem, ca.root_pem()));
    // The key is the leaf's.
    let key = KeyPair::from_pem(&issued.key_pem).unwrap();
    assert!(inspect::public_key_matches(
        &issued.chain_pem,
        rcgen::PublicKeyData::der_bytes(&key)
    ));
}

#[test]
fn serials_differ_between_issues_and_are_positive_hex() {
    let ca = Ca::generate(t0()).unwrap();
    let id = spiffe_id("default", "bookinfo-productpage");
    let a = ca.issue(&id, DEFAULT_CERT_TTL, t0()).unwrap();
    let b = ca.issue(&id, DEFAULT_CERT_TTL, t0()).unwrap();
    assert_ne!(a.serial, b.serial);
    assert_ne!(a.key_pem, b.key_pem);
    for s in [&a.serial, &b.serial] {
        assert!(
            s.len() > 16
                && s.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(!s.starts_with('0'));
    }
}

#[test]
fn a_persisted_root_signs_again_and_the_same_root_verifies_old_and_new_leaves() {
    let ca = Ca::generate(t0()).unwrap();
    let id = spiffe_id("default", "reviews");
    let before = ca.issue(&id, DEFAULT_CERT_TTL, t0()).unwrap();
    let reloaded = Ca::self_signed(ca.cert_pem(), ca.key_pem()).unwrap();
    assert_eq!(reloaded.root_pem(), ca.root_pem());
    let after = reloaded.issue(&id, DEFAULT_CERT_TTL, t0()).unwrap();
    assert!(inspect::chains_to(&before.chain_pem, reloaded.root_pem()));
    assert!(inspect::chains_to(&after.chain_pem, ca.root_pem()));
}

#[test]
fn a_leaf_of_another_root_does_not_chain_to_this_one() {
    let a = Ca::generate(t0()).unwrap();
    let b = Ca::generate(t0()).unwrap();
    let leaf = b
        .issue(&spiffe_id("x", "y"), DEFAULT_CERT_TTL, t0())
        .unwrap();
    assert!(!inspect::chains_to(&leaf.chain_pem, a.root_pem()));
}

/// A root and an intermediate made the way Istio's cacerts tooling makes them.
fn plug_in_files(intermediate_key: &KeyPair) -> (PluggedFiles, String) {
    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::default();
    root.distinguished_name
        .push(DnType::OrganizationName, "Istio");
    root.distinguished_name.push(DnType::CommonName, "Root CA");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root.not_before = (t0() - Duration::from_secs(86_400)).into();
    root.not_after = (t0() + ROOT_TTL).into();
    let root_cert = root.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root, root_key);
    let mut inter = CertificateParams::default();
    inter
        .distinguished_name
        .push(DnType::OrganizationName, "Istio");
    inter
        .distinguished_name
        .push(DnType::CommonName, "Intermediate CA");
    inter.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    inter.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    inter.not_before = (t0() - Duration::from_secs(86_400)).into();
    inter.not_after = (t0() + ROOT_TTL).into();
    let inter_cert = inter.signed_by(intermediate_key, &root_issuer).unwrap();
    let files = PluggedFiles {
        ca_cert: inter_cert.pem(),
        ca_key: intermediate_key.serialize_pem(),
        root_cert: root_cert.pem(),
        cert_chain: format!("{}{}", inter_cert.pem(), root_cert.pem()),
    };
    (files, inter_cert.pem())
}

#[test]
fn plugged_in_ca_signs_with_the_intermediate_and_sends_its_chain() {
    let key = KeyPair::generate().unwrap();
    let (files, inter_pem) = plug_in_files(&key);
    let ca = Ca::plugged(&files).unwrap();
    assert!(ca.is_plugged());
    assert_eq!(ca.root_pem().trim(), files.root_cert.trim());
    let issued = ca
        .issue(&spiffe_id("foo", "curl"), Duration::from_secs(600), t0())
        .unwrap();
    let (leaf, rest) = leaf_and_rest(&issued);
    assert!(
        leaf.issuer.contains("CN=Intermediate CA"),
        "{}",
        leaf.issuer
    );
    // leaf, intermediate, root: cert-chain.pem follows the leaf.
    assert_eq!(rest.len(), 2);
    let inter = &inspect::parse_chain(&inter_pem).unwrap()[0];
    assert_eq!(rest[0].der, inter.der);
    assert!(inspect::signed_by(&leaf.der, &inter.der));
    let root = &inspect::parse_chain(&files.root_cert).unwrap()[0];
    assert!(!inspect::signed_by(&leaf.der, &root.der));
    assert!(inspect::chains_to(&issued.chain_pem, ca.root_pem()));
}

#[test]
fn plugged_in_ca_without_a_chain_file_sends_the_signing_certificate() {
    let key = KeyPair::generate().unwrap();
    let (mut files, inter_pem) = plug_in_files(&key);
    files.cert_chain = String::new();
    let ca = Ca::plugged(&files).unwrap();
    let issued = ca.issue(&spiffe_id("a", "b"), MIN_CERT_TTL, t0()).unwrap();
    let (_, rest) = leaf_and_rest(&issued);
    assert_eq!(rest.len(), 1);
    assert_eq!(
        rest[0].der,
        inspect::parse_chain(&inter_pem).unwrap()[0].der
    );
}

#[test]
fn plugged_in_files_that_do_not_belong_together_are_refused_naming_the_file() {
    let key = KeyPair::generate().unwrap();
    let (files, _) = plug_in_files(&key);
    let other = KeyPair::generate().unwrap();
    let wrong_key = PluggedFiles {
        ca_key: other.serialize_pem(),
        ..files.clone()
    };
    let e = Ca::plugged(&wrong_key).unwrap_err().to_string();
    assert!(
        e.starts_with("ca-key.pem: is not the key of ca-cert.pem"),
        "{e}"
    );

    let (foreign, _) = plug_in_files(&key);
    let wrong_root = PluggedFiles {
        root_cert: foreign.root_cert,
        ..files.clone()
    };
    let e = Ca::plugged(&wrong_root).unwrap_err().to_string();
    assert!(
        e.starts_with("ca-cert.pem: is not signed by a certificate of root-cert.pem"),
        "{e}"
    );

    let garbage = PluggedFiles {
        ca_key: "not a key".to_owned(),
        ..files.clone()
    };
    let e = Ca::plugged(&garbage).unwrap_err().to_string();
    assert!(e.starts_with("ca-key.pem: holds no PEM block"), "{e}");

    let no_root = PluggedFiles {
        root_cert: String::new(),
        ..files
    };
    let e = Ca::plugged(&no_root).unwrap_err().to_string();
    assert!(e.starts_with("root-cert.pem: holds no certificate"), "{e}");
}

#[test]
fn a_leaf_cannot_be_plugged_in_as_a_ca() {
    let ca = Ca::generate(t0()).unwrap();
    let leaf = ca.issue(&spiffe_id("a", "b"), MIN_CERT_TTL, t0()).unwrap();
    let e = Ca::self_signed(&leaf.chain_pem, &leaf.key_pem)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a CA certificate"), "{e}");
}

#[test]
fn pkcs1_rsa_keys_sign_too() {
    // A PKCS#1 RSA key (as `openssl genrsa` wrote before OpenSSL 3) made from a PKCS#8 one.
    let pkcs8_pem = include_str!("testdata/rsa-ca-key.pem");
    let pkcs1_pem = include_str!("testdata/rsa-ca-key-pkcs1.pem");
    for key_pem in [pkcs8_pem, pkcs1_pem] {
        let key = key::CaKey::from_pem(key_pem).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "cluster.local");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.not_before = (t0() - Duration::from_secs(60)).into();
        params.not_after = (t0() + ROOT_TTL).into();
        let cert = params.self_signed(&key).unwrap();
        let ca = Ca::self_signed(&cert.pem(), key_pem).unwrap();
        let issued = ca.issue(&spiffe_id("a", "b"), MIN_CERT_TTL, t0()).unwrap();
        assert!(inspect::chains_to(&issued.chain_pem, ca.root_pem()));
    }
}

#[test]
fn sec1_ec_keys_are_refused_with_the_command_that_converts_them() {
    let e = key::CaKey::from_pem(
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
    )
    .err()
    .unwrap();
    assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
}

#[test]
fn rotation_is_due_at_half_the_lifetime() {
    let ca = Ca::generate(t0()).unwrap();
    let issued = ca
        .issue(&spiffe_id("a", "b"), Duration::from_secs(30), t0())
        .unwrap();
    assert_eq!(issued.rotate_at(), t0() + Duration::from_secs(15));
    assert!(!issued.due(t0() + Duration::from_secs(14)));
    assert!(issued.due(t0() + Duration::from_secs(15)));
    let day = ca
        .issue(&spiffe_id("a", "b"), DEFAULT_CERT_TTL, t0())
        .unwrap();
    assert_eq!(day.rotate_at(), t0() + Duration::from_secs(12 * 3600));
}

#[test]
fn ttls_parse_as_istio_writes_them_and_stay_within_bounds() {
    assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
    assert_eq!(parse_duration("24h"), Some(DEFAULT_CERT_TTL));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("ten minutes"), None);
    assert_eq!(parse_duration("10x"), None);
    assert_eq!(parse_duration(""), None);
    assert_eq!(clamp_ttl(Duration::from_millis(500)), MIN_CERT_TTL);
    assert_eq!(clamp_ttl(Duration::from_secs(30)), Duration::from_secs(30));
    assert_eq!(clamp_ttl(Duration::from_secs(1 << 40)), MAX_CERT_TTL);
}

#[test]
fn times_print_as_rfc3339_utc() {
    assert_eq!(inspect::rfc3339(t0()), "2026-11-26T12:00:00Z");
    assert_eq!(
        inspect::rfc3339(SystemTime::UNIX_EPOCH),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        inspect::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00Z"
    );
}

#[test]
fn serials_print_without_leading_zeros() {
    assert_eq!(inspect::serial_hex(&[0x00, 0x0a, 0xbc]), "abc");
    assert_eq!(inspect::serial_hex(&[0, 0]), "0");
}
