//! Domain types of relais: validated values and rules, with no I/O.
//!
//! Everything that crosses an edge (a form, a spreadsheet cell, an API body, a CLI flag) is parsed into one of
//! these types first, so an invalid value cannot travel further into the store.

pub mod email;
pub mod inbound;
pub mod list;
pub mod mail_kind;
pub mod nuance;
pub mod pipeline;
pub mod recurrence;
pub mod role;
pub mod scale;
pub mod survey;

pub use email::EmailAddress;
pub use list::{ListKind, PostPolicy, ReplyTo};
pub use nuance::PoliticalReading;
pub use pipeline::{InteractionKind, LeadSource, PoliticalColour, Priority, Stage};
pub use role::Role;
pub use scale::Scale;

/// Defines a closed set of codes stored as text, with a French label for people and a parser that also
/// accepts the French label (so spreadsheets and forms can use either).
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal, $label:literal $(| $alias:literal)*;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code stored in the database and used in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The French label shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses a code or a French label, ignoring case, accents and punctuation, and plural and
            /// feminine endings ("Contactées" reads as "Contacté").
            pub fn parse(text: &str) -> Option<Self> {
                // Stored codes (the common case, on every page) match exactly without folding.
                $(
                    if text == $code {
                        return Some($name::$variant);
                    }
                )+
                let wanted = $crate::domain::fold(text);
                $(
                    if wanted == $crate::domain::fold($code) || wanted == $crate::domain::fold($label)
                        $(|| wanted == $crate::domain::fold($alias))* {
                        return Some($name::$variant);
                    }
                )+
                let wanted = $crate::domain::loose(text);
                $(
                    if wanted == $crate::domain::loose($label) $(|| wanted == $crate::domain::loose($alias))* {
                        return Some($name::$variant);
                    }
                )+
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $name {
            /// Reads a stored code exactly: no labels, no folding. A row holding anything else is refused,
            /// so a code the enum does not know fails at the read instead of travelling on as text.
            pub fn from_code(code: &str) -> Result<Self, $crate::domain::UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)+
                    other => Err($crate::domain::UnknownCode {
                        vocabulary: stringify!($name),
                        code: other.to_string(),
                    }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::domain::UnknownCode;
            fn try_from(code: &str) -> Result<Self, Self::Error> {
                $name::from_code(code)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::UnknownCode;
            fn try_from(code: String) -> Result<Self, Self::Error> {
                $name::from_code(&code)
            }
        }

        // Stored as its text code on either database: read through `&str`, bound as `&str`.
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let code = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok($name::from_code(code)?)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut DB::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }
    };
}
pub(crate) use code_enum;

/// A stored code that its closed vocabulary does not know: the database holds a value the code cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} code {code:?}")]
pub struct UnknownCode {
    /// The enum's name (`Stage`, `ListKind`…).
    pub vocabulary: &'static str,
    pub code: String,
}

/// Folds a text for lenient comparison: lowercase, accents removed, punctuation and spaces dropped.
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Folds a text like [`fold`] and also drops the plural and feminine endings of each word (a final `s`, then
/// final `e`s, on words longer than three letters), so "Contactées", "contacté" and "Contactée" compare equal.
/// Used after an exact [`fold`] comparison failed, on closed vocabularies whose words do not collide this way.
pub fn loose(text: &str) -> String {
    deunicode::deunicode(text)
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|word| {
            let word = if word.len() > 3 {
                word.strip_suffix('s').unwrap_or(word)
            } else {
                word
            };
            if word.len() > 3 {
                word.trim_end_matches('e')
            } else {
                word
            }
        })
        .collect()
}

/// The text kept beside a row for accent- and case-insensitive search: words lowercased, accents removed,
/// punctuation turned into single spaces, so `LIKE '%…%'` behaves the same on SQLite and PostgreSQL.
pub fn search_text(parts: &[&str]) -> String {
    let joined = parts.join(" ");
    let ascii = deunicode::deunicode(&joined).to_ascii_lowercase();
    ascii
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '@' && c != '.')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A search typed by a person, folded like [`search_text`], with "st"/"ste" read as "saint"/"sainte".
pub fn search_query(query: &str) -> String {
    search_text(&[query])
        .split(' ')
        .map(|word| match word {
            "st" => "saint",
            "ste" => "sainte",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A calendar date as staff type it: ISO `2026-12-01` or French `01/12/2026`.
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    // A two-digit year ("1/12/26") is of this century; chrono's %Y would read it as the year 26.
    let parts: Vec<&str> = text.split(['/', '-']).collect();
    let short_year = parts.len() == 3 && parts[0].len() <= 2 && parts[2].len() == 2;
    let formats: &[&str] = if short_year {
        &["%d/%m/%y", "%d-%m-%y"]
    } else {
        &["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"]
    };
    formats
        .iter()
        .find_map(|format| chrono::NaiveDate::parse_from_str(text, format).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_iso_and_french_forms() {
        let expected = chrono::NaiveDate::from_ymd_opt(2026, 12, 1);
        assert_eq!(parse_date("2026-12-01"), expected);
        assert_eq!(parse_date(" 01/12/2026 "), expected);
        assert_eq!(parse_date("1/12/26"), expected);
        assert_eq!(parse_date("demain"), None);
    }

    #[test]
    fn fold_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Élu·e / Contact"), "eluecontact");
        assert_eq!(fold("En discussion"), fold("en-discussion"));
    }

    /// The database, the API (serde) and `from_code` must agree on every code, or a row written by one
    /// would be refused by another.
    #[test]
    fn stored_codes_serde_codes_and_from_code_agree() {
        fn check<T>(
            all: &[T],
            code: fn(T) -> &'static str,
            read: fn(&str) -> Result<T, UnknownCode>,
        ) where
            T: Copy + PartialEq + std::fmt::Debug + serde::Serialize,
        {
            for value in all {
                assert_eq!(serde_json::to_value(value).unwrap(), code(*value));
                assert_eq!(read(code(*value)), Ok(*value));
            }
        }
        check(Stage::ALL, Stage::as_str, Stage::from_code);
        check(Scale::ALL, Scale::as_str, Scale::from_code);
        check(
            PoliticalColour::ALL,
            PoliticalColour::as_str,
            PoliticalColour::from_code,
        );
        check(LeadSource::ALL, LeadSource::as_str, LeadSource::from_code);
        check(Priority::ALL, Priority::as_str, Priority::from_code);
        check(
            InteractionKind::ALL,
            InteractionKind::as_str,
            InteractionKind::from_code,
        );
        check(ListKind::ALL, ListKind::as_str, ListKind::from_code);
        check(PostPolicy::ALL, PostPolicy::as_str, PostPolicy::from_code);
        check(ReplyTo::ALL, ReplyTo::as_str, ReplyTo::from_code);
        assert_eq!(
            Priority::from_code("urgent").unwrap_err().to_string(),
            "unknown Priority code \"urgent\""
        );
    }

    #[test]
    fn loose_ignores_plural_and_feminine_endings() {
        assert_eq!(loose("Contactées"), loose("contacte"));
        assert_eq!(loose("Identifiés"), loose("identifiee"));
        assert_eq!(loose("Communes rurales"), loose("Commune rurale"));
        assert_ne!(loose("Haute"), loose("Basse"));
    }
}
