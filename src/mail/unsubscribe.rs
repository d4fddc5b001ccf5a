//! Unsubscribe links: a token names one delivery and carries an HMAC-SHA256 made with a key relais keeps in
//! its database, so it cannot be forged or altered, and it never expires (RFC 8058 one-click links are
//! followed whenever the recipient clicks).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the MAC kept in a token: 128 bits.
const MAC_BYTES: usize = 16;

/// The key that signs unsubscribe tokens.
#[derive(Clone)]
pub struct UnsubscribeKey(Vec<u8>);

impl UnsubscribeKey {
    pub fn new(secret: &str) -> UnsubscribeKey {
        UnsubscribeKey(secret.as_bytes().to_vec())
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"relais-unsubscribe-v1:");
        mac
    }

    /// The token of a delivery: its id and the MAC, in URL-safe base64.
    pub fn token(&self, delivery_id: i64) -> String {
        let mut mac = self.mac();
        mac.update(&delivery_id.to_be_bytes());
        let mut bytes = delivery_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The delivery a token names, if its MAC is right.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 8 + MAC_BYTES {
            return None;
        }
        let (id, tag) = bytes.split_at(8);
        let mut mac = self.mac();
        mac.update(id);
        mac.verify_truncated_left(tag).ok()?;
        Some(i64::from_be_bytes(id.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_and_any_change_is_refused() {
        let key = UnsubscribeKey::new("secret");
        let token = key.token(42);
        assert_eq!(key.verify(&token), Some(42));
        assert_eq!(UnsubscribeKey::new("other").verify(&token), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[7] ^= 1; // another delivery id with the old MAC
        assert_eq!(key.verify(&URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(key.verify("not-a-token"), None);
        assert_eq!(key.verify(""), None);
    }
}
