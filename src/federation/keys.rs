//! Actor keys: the RSA-2048 pair each relais actor signs its requests with, and the public keys of peers
//! their signatures are checked against. OpenSSL does the arithmetic, as it does for DKIM (`mail::dkim`):
//! no RustCrypto `rsa` (RUSTSEC-2023-0071) in the tree.
//!
//! Keys travel as PEM: the private key as PKCS#8 (`BEGIN PRIVATE KEY`), the public key as SubjectPublicKeyInfo
//! (`BEGIN PUBLIC KEY`), which is what ActivityPub's `publicKey.publicKeyPem` carries.

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};

/// Bits of the RSA keys relais makes, and the fewest it accepts from a peer: what Mastodon and Mobilizon use.
pub const RSA_BITS: u32 = 2048;

/// The signature algorithms relais can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: draft-cavage `rsa-sha256` (and `hs2019` as Mastodon signs it), RFC 9421
    /// `rsa-v1_5-sha256`. The only one relais signs with.
    RsaSha256,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt: RFC 9421 `rsa-pss-sha512`.
    RsaPssSha512,
    /// Ed25519: RFC 9421 `ed25519`.
    Ed25519,
}

impl Algorithm {
    /// The algorithm an RFC 9421 `alg` parameter names, if relais knows it.
    pub fn from_rfc9421(name: &str) -> Option<Algorithm> {
        match name {
            "rsa-v1_5-sha256" => Some(Algorithm::RsaSha256),
            "rsa-pss-sha512" => Some(Algorithm::RsaPssSha512),
            "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// An actor's private key, which signs its outgoing requests.
#[derive(Clone)]
pub struct ActorKey {
    key: PKey<Private>,
}

impl std::fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key, even in a test failure.
        f.write_str("ActorKey(RSA)")
    }
}

impl ActorKey {
    /// A new RSA-2048 key pair (about 50 ms).
    pub fn generate() -> anyhow::Result<ActorKey> {
        let key = PKey::from_rsa(Rsa::generate(RSA_BITS)?)?;
        Ok(ActorKey { key })
    }

    /// Reads a PEM private key (PKCS#8, or PKCS#1 `BEGIN RSA PRIVATE KEY`); only RSA keys of 2048 bits or more.
    pub fn from_pem(pem: &str) -> anyhow::Result<ActorKey> {
        let key = PKey::private_key_from_pem(pem.as_bytes())
            .map_err(|_| anyhow::anyhow!("clé privée PEM illisible"))?;
        if key.id() != Id::RSA || key.bits() < RSA_BITS {
            anyhow::bail!("la clé d'un acteur doit être une clé RSA d'au moins {RSA_BITS} bits");
        }
        Ok(ActorKey { key })
    }

    /// The private key as PKCS#8 PEM, to keep.
    pub fn private_pem(&self) -> String {
        let pem = self
            .key
            .private_key_to_pem_pkcs8()
            .expect("an RSA key encodes");
        String::from_utf8(pem).expect("PEM is ASCII")
    }

    /// The public key as SubjectPublicKeyInfo PEM, to publish in the actor's `publicKey.publicKeyPem`.
    pub fn public_pem(&self) -> String {
        let pem = self.key.public_key_to_pem().expect("an RSA key encodes");
        String::from_utf8(pem).expect("PEM is ASCII")
    }

    /// The public half, as a peer would read it.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_pem(&self.public_pem()).expect("our own public key reads back")
    }

    /// An RSASSA-PKCS1-v1_5 SHA-256 signature of `data`.
    pub fn sign_rsa_sha256(&self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        Ok(signer.sign_oneshot_to_vec(data)?)
    }
}

/// A peer's public key, which checks the signatures of its requests.
#[derive(Clone)]
pub struct PublicKey {
    key: PKey<Public>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({:?}, {} bits)",
            self.key.id(),
            self.key.bits()
        )
    }
}

impl PublicKey {
    /// Reads a PEM public key: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, RSA or Ed25519) or PKCS#1
    /// (`BEGIN RSA PUBLIC KEY`, which some older servers publish). RSA keys under 2048 bits are refused.
    pub fn from_pem(pem: &str) -> Result<PublicKey, String> {
        let key = if pem.contains("BEGIN RSA PUBLIC KEY") {
            Rsa::public_key_from_pem_pkcs1(pem.as_bytes())
                .and_then(PKey::from_rsa)
                .map_err(|_| "clé publique RSA (PKCS#1) illisible".to_string())?
        } else {
            PKey::public_key_from_pem(pem.as_bytes())
                .map_err(|_| "clé publique PEM illisible".to_string())?
        };
        match key.id() {
            Id::RSA if key.bits() >= RSA_BITS => Ok(PublicKey { key }),
            Id::RSA => Err(format!(
                "clé RSA de {} bits : au moins {RSA_BITS} sont exigés",
                key.bits()
            )),
            Id::ED25519 => Ok(PublicKey { key }),
            _ => Err("type de clé non pris en charge (RSA ou Ed25519 attendu)".to_string()),
        }
    }

    /// The algorithms this key can verify, for a signature that does not name one (draft-cavage `hs2019`,
    /// RFC 9421 without `alg`): the key's type decides, as both specifications say.
    pub fn algorithms(&self) -> &'static [Algorithm] {
        if self.key.id() == Id::ED25519 {
            &[Algorithm::Ed25519]
        } else {
            &[Algorithm::RsaSha256, Algorithm::RsaPssSha512]
        }
    }

    /// Whether `signature` is `algorithm`'s signature of `data` by this key; false for a key of another type.
    pub fn verify(&self, algorithm: Algorithm, data: &[u8], signature: &[u8]) -> bool {
        let checked = match algorithm {
            Algorithm::Ed25519 if self.key.id() == Id::ED25519 => {
                Verifier::new_without_digest(&self.key)
                    .and_then(|mut v| v.verify_oneshot(signature, data))
            }
            Algorithm::RsaSha256 if self.key.id() == Id::RSA => {
                Verifier::new(MessageDigest::sha256(), &self.key)
                    .and_then(|mut v| v.verify_oneshot(signature, data))
            }
            Algorithm::RsaPssSha512 if self.key.id() == Id::RSA => {
                Verifier::new(MessageDigest::sha512(), &self.key).and_then(|mut v| {
                    v.set_rsa_padding(Padding::PKCS1_PSS)?;
                    v.set_rsa_mgf1_md(MessageDigest::sha512())?;
                    v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(64))?;
                    v.verify_oneshot(signature, data)
                })
            }
            _ => return false,
        };
        // OpenSSL reports a malformed signature as an error rather than `false`: both are a refusal.
        checked.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_round_trips_through_pem_and_signs() {
        let key = ActorKey::generate().unwrap();
        let private = key.private_pem();
        assert!(
            private.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{private}"
        );
        let public = key.public_pem();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let again = ActorKey::from_pem(&private).unwrap();
        assert_eq!(again.public_pem(), public);

        let signature = key.sign_rsa_sha256(b"bonjour").unwrap();
        let peer = PublicKey::from_pem(&public).unwrap();
        assert!(peer.verify(Algorithm::RsaSha256, b"bonjour", &signature));
        assert!(!peer.verify(Algorithm::RsaSha256, b"bonsoir", &signature));
        assert!(!peer.verify(Algorithm::Ed25519, b"bonjour", &signature));
        assert!(!peer.verify(Algorithm::RsaSha256, b"bonjour", b"not a signature"));
    }

    #[test]
    fn short_rsa_keys_and_garbage_are_refused() {
        let short = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let pem = String::from_utf8(short.public_key_to_pem().unwrap()).unwrap();
        assert!(PublicKey::from_pem(&pem).unwrap_err().contains("1024 bits"));
        let private = String::from_utf8(short.private_key_to_pem_pkcs8().unwrap()).unwrap();
        assert!(ActorKey::from_pem(&private).is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }

    #[test]
    fn pkcs1_public_keys_are_read_too() {
        let key = ActorKey::generate().unwrap();
        let rsa = key.key.rsa().unwrap();
        let pkcs1 = String::from_utf8(rsa.public_key_to_pem_pkcs1().unwrap()).unwrap();
        assert!(pkcs1.contains("BEGIN RSA PUBLIC KEY"));
        let peer = PublicKey::from_pem(&pkcs1).unwrap();
        let signature = key.sign_rsa_sha256(b"x").unwrap();
        assert!(peer.verify(Algorithm::RsaSha256, b"x", &signature));
    }
}
