//! Form bodies shared by several pages: a contact typed by staff, and forms whose fields repeat
//! (checkbox lists), which `axum::Form` cannot collect.

use super::error::{WebError, WebResult};
use crate::domain::EmailAddress;
use crate::store::people::NewPerson;

/// A person typed in a short form: emails and phones may be several, separated by `;` or `,`.
#[derive(Debug, serde::Deserialize)]
pub struct ContactForm {
    pub full_name: String,
    #[serde(default)]
    pub function: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', ','])
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

impl ContactForm {
    /// The person to record in this organisation, or a French message saying what is wrong.
    pub fn into_person(self, organisation_id: i64) -> Result<NewPerson, String> {
        let full_name = self.full_name.trim();
        if full_name.is_empty() {
            return Err("Indiquez le nom de la personne.".into());
        }
        let emails = split_list(&self.email)
            .map(|e| EmailAddress::parse(e).map(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewPerson {
            organisation_id: Some(organisation_id),
            full_name: full_name.into(),
            function: self.function.trim().into(),
            emails,
            phones: split_list(&self.phone).map(str::to_string).collect(),
            notes: String::new(),
        })
    }
}

/// A urlencoded body read as pairs, keeping repeated fields.
pub struct FormPairs(Vec<(String, String)>);

impl FormPairs {
    pub fn parse(body: &str) -> WebResult<FormPairs> {
        serde_urlencoded::from_str(body)
            .map(FormPairs)
            .map_err(|_| WebError::BadRequest("Formulaire illisible.".into()))
    }

    /// The first value of a field, trimmed; empty when absent.
    pub fn field(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    /// Every value of a repeated field as an id; a value that is not one is refused, naming the field as `what`
    /// ("la fiche", "le contact"…).
    pub fn ids_or_refuse(&self, name: &str, what: &str) -> WebResult<Vec<i64>> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| {
                v.parse().map_err(|_| {
                    WebError::BadRequest(format!("Choix non reconnu pour {what} : « {v} »."))
                })
            })
            .collect()
    }

    /// Every value of a repeated field that reads as an id.
    pub fn ids(&self, name: &str) -> Vec<i64> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_splits_its_emails_and_phones_and_refuses_a_bad_email() {
        let form = ContactForm {
            full_name: " Léa ".into(),
            function: "DGS".into(),
            email: "a@b.fr; C@D.fr".into(),
            phone: "01 02, 03".into(),
        };
        let person = form.into_person(7).unwrap();
        assert_eq!(person.emails, vec!["a@b.fr", "c@d.fr"]);
        assert_eq!(person.phones, vec!["01 02", "03"]);
        assert_eq!(person.full_name, "Léa");
        let bad = ContactForm {
            full_name: "Léa".into(),
            function: String::new(),
            email: "lea@".into(),
            phone: String::new(),
        };
        assert!(bad.into_person(7).unwrap_err().contains("adresse email"));
    }

    #[test]
    fn repeated_fields_are_all_kept() {
        let pairs = FormPairs::parse("people=1&people=2&summary=+Appel+&people=x").unwrap();
        assert_eq!(pairs.ids("people"), vec![1, 2]);
        assert_eq!(pairs.field("summary"), "Appel");
        assert_eq!(pairs.field("absent"), "");
    }
}
