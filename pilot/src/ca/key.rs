//! The CA's signing key: a PKCS#8 key of any kind rcgen signs with (ECDSA, Ed25519, RSA), or a
//! PKCS#1 RSA key (`-----BEGIN RSA PRIVATE KEY-----`, what older `openssl genrsa` writes and
//! Istio's sample CA files carry).

use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use ring::signature::RsaKeyPair;

/// A key that signs certificates.
pub(crate) enum CaKey {
    /// PKCS#8.
    Pair(KeyPair),
    /// PKCS#1 RSA, signing with SHA-256.
    Rsa(RsaKeyPair),
}

impl CaKey {
    /// Reads a PEM private key; the error says what to do.
    pub(crate) fn from_pem(pem: &str) -> Result<CaKey, String> {
        let block = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
            .next()
            .ok_or("holds no PEM block: put the CA's private key there, PEM-encoded")?
            .map_err(|e| {
                format!("is not a PEM private key ({e}): put the CA's key there, PEM-encoded")
            })?;
        match block.label.as_str() {
            "PRIVATE KEY" => KeyPair::try_from(block.contents.as_slice())
                .map(CaKey::Pair)
                .map_err(|e| format!("holds a PKCS#8 key that cannot sign: {e}")),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&block.contents)
                .map(CaKey::Rsa)
                .map_err(|e| format!("holds an RSA key that cannot be read: {e}")),
            "EC PRIVATE KEY" => Err("holds an EC key in SEC1 form, which is not supported: \
                                     convert it with `openssl pkcs8 -topk8 -nocrypt -in ca-key.pem`"
                .to_owned()),
            "ENCRYPTED PRIVATE KEY" => {
                Err("holds an encrypted key: istiod needs it unencrypted".to_owned())
            }
            other => Err(format!(
                "holds a {other:?} block, not a private key: put the CA's key there"
            )),
        }
    }
}

impl PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        match self {
            CaKey::Pair(k) => k.der_bytes(),
            CaKey::Rsa(k) => ring::signature::KeyPair::public_key(k).as_ref(),
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            CaKey::Pair(k) => k.algorithm(),
            CaKey::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self {
            CaKey::Pair(k) => k.sign(msg),
            CaKey::Rsa(k) => {
                let mut signature = vec![0; k.public().modulus_len()];
                k.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    msg,
                    &mut signature,
                )
                .map_err(|_| rcgen::Error::RingUnspecified)?;
                Ok(signature)
            }
        }
    }
}
