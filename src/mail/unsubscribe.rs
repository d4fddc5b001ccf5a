//! The personal links of a copy: a token names one delivery and carries an HMAC-SHA256 made with a key relais
//! keeps in its database, so it cannot be forged or altered, and it never expires (RFC 8058 one-click links
//! are followed whenever the recipient clicks). The unsubscribe link and the preferences link sign the same
//! delivery for two purposes, so one cannot be turned into the other. Every token is [`TOKEN_CHARS`] long:
//! the mail engine writes it over a placeholder of that length in an already encoded body.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the MAC kept in a token: 128 bits.
const MAC_BYTES: usize = 16;
/// Characters of every token: 8 bytes of delivery id and the MAC, in base64 without padding.
pub const TOKEN_CHARS: usize = (8 + MAC_BYTES) * 4 / 3;

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Leave the list the copy came from (`/desabonnement/{token}`).
    Unsubscribe,
    /// See and change every subscription of the copy's recipient (`/preferences/{token}`).
    Preferences,
    /// Answer a meeting invitation: yes, no or maybe (`/reunions/reponse/{token}`).
    Answer,
    /// Fill in the needs survey (`/enquete/{token}`); the id signed is the invitation's.
    Survey,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Unsubscribe => b"relais-unsubscribe-v1:",
            Purpose::Preferences => b"relais-preferences-v1:",
            Purpose::Answer => b"relais-answer-v1:",
            Purpose::Survey => b"relais-survey-v1:",
        }
    }
}

/// The key that signs unsubscribe tokens.
#[derive(Clone)]
pub struct UnsubscribeKey(Vec<u8>);

impl UnsubscribeKey {
    pub fn new(secret: &str) -> UnsubscribeKey {
        UnsubscribeKey(secret.as_bytes().to_vec())
    }

    fn mac(&self, purpose: Purpose) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.label());
        mac
    }

    /// The unsubscribe token of a delivery.
    pub fn token(&self, delivery_id: i64) -> String {
        self.token_for(Purpose::Unsubscribe, delivery_id)
    }

    /// The delivery an unsubscribe token names, if its MAC is right.
    pub fn verify(&self, token: &str) -> Option<i64> {
        self.verify_for(Purpose::Unsubscribe, token)
    }

    /// The token of a delivery for `purpose`: its id and the MAC, in URL-safe base64.
    pub fn token_for(&self, purpose: Purpose, delivery_id: i64) -> String {
        let mut mac = self.mac(purpose);
        mac.update(&delivery_id.to_be_bytes());
        let mut bytes = delivery_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The delivery a token for `purpose` names, if its MAC is right.
    pub fn verify_for(&self, purpose: Purpose, token: &str) -> Option<i64> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 8 + MAC_BYTES {
            return None;
        }
        let (id, tag) = bytes.split_at(8);
        let mut mac = self.mac(purpose);
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

    #[test]
    fn tokens_have_one_length_and_serve_one_purpose() {
        let key = UnsubscribeKey::new("secret");
        for id in [0, 1, 42, i64::MAX] {
            let preferences = key.token_for(Purpose::Preferences, id);
            assert_eq!(preferences.len(), TOKEN_CHARS);
            assert_eq!(key.verify_for(Purpose::Preferences, &preferences), Some(id));
            assert_eq!(key.verify(&preferences), None, "not an unsubscribe token");
            assert_eq!(key.verify_for(Purpose::Preferences, &key.token(id)), None);
        }
    }
}
