//! An email address checked at the edge, stored lowercase.

use std::fmt;

/// A syntactically valid email address (`local@domain.tld`), lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address, returning a French message saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(format!(
                "« {text} » n'est pas une adresse email (il manque « @ »)"
            ));
        };
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let valid_domain = domain.contains('.')
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !valid_local || !valid_domain {
            return Err(format!("« {text} » n'est pas une adresse email valide"));
        }
        Ok(Self(text.to_lowercase()))
    }

    /// An address read back from the database: it was checked when it was written, and is kept exactly as
    /// stored (not parsed again, so an older row's text round-trips unchanged). Only the store reads rows.
    pub(crate) fn stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn valid_addresses_are_lowercased() {
        assert_eq!(
            EmailAddress::parse(" Maire@Ville-Exemple.fr ")
                .unwrap()
                .as_str(),
            "maire@ville-exemple.fr"
        );
    }

    #[test]
    fn invalid_addresses_are_refused_with_a_reason() {
        for bad in [
            "",
            "maire",
            "maire@",
            "@ville.fr",
            "maire@ville",
            "ma ire@ville.fr",
            "a..b@ville.fr",
        ] {
            let error = EmailAddress::parse(bad).unwrap_err();
            assert!(error.contains("adresse email"), "{bad}: {error}");
        }
    }
}
