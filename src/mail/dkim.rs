//! DKIM: the organisation's keys sign every copy (RSA-2048 and Ed25519, relaxed/relaxed) over the headers
//! MAIL.md lists. Keys live in `<data.dir>/dkim/<selector>.pem` (PKCS#8); `relais dkim generate` makes a pair
//! and prints the DNS records to publish. mail-auth canonicalises and hashes; the RSA signature itself is
//! OpenSSL's, which signs about twice as fast as ring on this machine (it uses the CPU's AVX-512 IFMA
//! arithmetic), and every copy needs its own.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{Algorithm, Ed25519Key, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};

/// The headers each signature covers: what a receiver shows or relies on. Those a copy lacks are signed as
/// absent, so nobody can add them on the way; From and Subject are named twice (oversigned), so a second
/// From or Subject added later breaks the signature.
pub const SIGNED_HEADERS: [&str; 21] = [
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Post",
    "List-Help",
    "Archived-At",
    "Auto-Submitted",
];

/// The loaded signing keys of the sender's domain.
pub struct DkimKeys {
    rsa: Option<DkimSigner<OpensslRsaKey, Done>>,
    ed25519: Option<DkimSigner<Ed25519Key, Done>>,
}

/// Where the key of `selector` is kept.
pub fn key_path(data_dir: &Path, selector: &str) -> PathBuf {
    data_dir.join("dkim").join(format!("{selector}.pem"))
}

impl DkimKeys {
    /// Loads the keys of the configured selectors; `None` when no selector is set (copies go unsigned).
    pub fn load(
        domain: &str,
        rsa_selector: &str,
        ed25519_selector: &str,
        data_dir: &Path,
    ) -> anyhow::Result<Option<DkimKeys>> {
        if rsa_selector.is_empty() && ed25519_selector.is_empty() {
            return Ok(None);
        }
        let read = |selector: &str| -> anyhow::Result<Vec<u8>> {
            let path = key_path(data_dir, selector);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                anyhow::anyhow!(
                    "clé DKIM {} illisible ({e}) : créez-la avec `relais dkim generate`",
                    path.display()
                )
            })?;
            pem_to_der(&text)
                .ok_or_else(|| anyhow::anyhow!("{} n'est pas une clé PEM PKCS#8", path.display()))
        };
        let rsa = if rsa_selector.is_empty() {
            None
        } else {
            let key = OpensslRsaKey::from_pkcs8_der(&read(rsa_selector)?)
                .map_err(|e| anyhow::anyhow!("clé DKIM RSA {rsa_selector} refusée : {e}"))?;
            Some(signer(key, domain, rsa_selector))
        };
        let ed25519 = if ed25519_selector.is_empty() {
            None
        } else {
            let key = Ed25519Key::from_pkcs8_der(&read(ed25519_selector)?).map_err(|e| {
                anyhow::anyhow!("clé DKIM Ed25519 {ed25519_selector} refusée : {e}")
            })?;
            Some(signer(key, domain, ed25519_selector))
        };
        Ok(Some(DkimKeys { rsa, ed25519 }))
    }

    /// The copy with its DKIM-Signature headers in front (Ed25519 first, then RSA).
    pub fn sign(&self, raw: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut headers = String::new();
        if let Some(rsa) = &self.rsa {
            let signature = rsa
                .sign(&raw)
                .map_err(|e| format!("signature DKIM RSA : {e}"))?;
            headers.push_str(&signature.to_header());
        }
        if let Some(ed25519) = &self.ed25519 {
            let signature = ed25519
                .sign(&raw)
                .map_err(|e| format!("signature DKIM Ed25519 : {e}"))?;
            headers.insert_str(0, &signature.to_header());
        }
        let mut signed = headers.into_bytes();
        signed.extend_from_slice(&raw);
        Ok(signed)
    }
}

/// An RSA private key that signs through OpenSSL (RSASSA-PKCS1-v1_5 with SHA-256, as DKIM's `rsa-sha256`).
pub struct OpensslRsaKey {
    key: PKey<Private>,
}

impl OpensslRsaKey {
    pub fn from_pkcs8_der(der: &[u8]) -> Result<OpensslRsaKey, String> {
        let key = PKey::private_key_from_pkcs8(der).map_err(|e| e.to_string())?;
        let rsa = key
            .rsa()
            .map_err(|_| "ce n'est pas une clé RSA".to_string())?;
        if rsa.size() < 256 {
            return Err(format!("clé de {} bits : 2048 au moins", rsa.size() * 8));
        }
        Ok(OpensslRsaKey { key })
    }
}

impl SigningKey for OpensslRsaKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        // mail-auth hands over the canonicalised headers; OpenSSL hashes and signs them.
        let mut data = Vec::with_capacity(512);
        input.write(&mut data);
        let failed = |e: openssl::error::ErrorStack| {
            mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(
                e.to_string(),
            ))
        };
        let mut signer =
            openssl::sign::Signer::new(MessageDigest::sha256(), &self.key).map_err(failed)?;
        signer.update(&data).map_err(failed)?;
        signer.sign_to_vec().map_err(failed)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::RsaSha256
    }
}

fn signer<T: mail_auth::common::crypto::SigningKey>(
    key: T,
    domain: &str,
    selector: &str,
) -> DkimSigner<T, Done> {
    DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(SIGNED_HEADERS)
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

fn pem_to_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).ok().filter(|der| !der.is_empty())
}

fn der_to_pem(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// A new key pair under `<selector>-rsa` and `<selector>-ed25519`, written to the data folder (never over
/// an existing key). Returns the DNS TXT records to publish and the settings to add.
pub fn generate(data_dir: &Path, selector: &str, domain: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !selector.is_empty()
            && selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "sélecteur « {selector} » refusé : lettres, chiffres et tirets seulement"
    );
    let rsa_selector = format!("{selector}-rsa");
    let ed_selector = format!("{selector}-ed25519");
    for name in [&rsa_selector, &ed_selector] {
        let path = key_path(data_dir, name);
        anyhow::ensure!(
            !path.exists(),
            "{} existe déjà : choisissez un autre sélecteur",
            path.display()
        );
    }
    std::fs::create_dir_all(data_dir.join("dkim"))?;
    let rsa_key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
    let rsa_der = rsa_key.private_key_to_pkcs8()?;
    let rsa_public = rsa_key.public_key_to_der()?;
    let ed_der = Ed25519Key::generate_pkcs8().map_err(|e| anyhow::anyhow!("{e}"))?;
    let ed_public = Ed25519Key::from_pkcs8_der(&ed_der)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .public_key();
    write_private(&key_path(data_dir, &rsa_selector), &der_to_pem(&rsa_der))?;
    write_private(&key_path(data_dir, &ed_selector), &der_to_pem(&ed_der))?;
    Ok(format!(
        "Enregistrements DNS (TXT) à publier :\n\
         {rsa_selector}._domainkey.{domain}. TXT {}\n\
         {ed_selector}._domainkey.{domain}. TXT {}\n\n\
         Puis, dans la configuration :\n[dkim]\nrsa_selector = \"{rsa_selector}\"\ned25519_selector = \"{ed_selector}\"\n",
        txt_strings(&format!(
            "v=DKIM1; k=rsa; p={}",
            STANDARD.encode(&rsa_public)
        )),
        txt_strings(&format!(
            "v=DKIM1; k=ed25519; p={}",
            STANDARD.encode(ed_public)
        )),
    ))
}

/// A TXT record's value as DNS zone files write it: quoted strings of at most 255 characters each (an
/// RSA-2048 key is longer than one string may be; resolvers join them).
pub fn txt_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(pem.as_bytes())
}
