//! Form bodies shared by several pages, and how a page reads and checks a form.
//!
//! A form struct that knows what it must become implements [`Validate`]; a handler takes it as
//! [`Validated<T>`], which reads the body as `axum::Form` does (same rejections) and runs the check, but
//! keeps a refusal instead of answering it: the handler checks access first, then
//! [`Validated::or_answer`] gives it the checked value, or turns the French message into the page's own
//! answer (usually the page again, 422) and hands it back through `?` as [`WebError::Answer`].
//!
//! Forms whose fields repeat (checkbox lists) are read with `axum_extra`'s `Form` (serde_html_form keeps every
//! value of a field in a `Vec`) through [`RepeatedForm`], which refuses an unreadable body in French.

use std::future::Future;

use axum::extract::{FromRequest, Request};
use axum::response::Response;
use axum_extra::extract::{Form as RepeatedFields, FormRejection};
use serde::de::DeserializeOwned;

use super::error::{WebError, WebResult};
use crate::domain::EmailAddress;
use crate::store::people::NewPerson;

/// A form that checks itself: what it becomes once read, or a French sentence saying what to correct.
pub trait Validate {
    type Output;
    fn validate(&self) -> Result<Self::Output, String>;
}

/// A form body read like `axum::Form` and checked by its [`Validate`] impl; the form itself stays, for a page
/// that shows the typed values again.
pub struct Validated<T: Validate> {
    pub form: T,
    pub checked: Result<T::Output, String>,
}

impl<S, T> FromRequest<S> for Validated<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = axum::extract::rejection::FormRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Form(form) = axum::Form::<T>::from_request(request, state).await?;
        let checked = form.validate();
        Ok(Validated { form, checked })
    }
}

impl<T: Validate> Validated<T> {
    /// The checked value, or what `refuse` answers to the French message, as an error `?` returns.
    pub async fn or_answer<F, Fut>(self, refuse: F) -> WebResult<T::Output>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = WebResult<Response>>,
    {
        or_answer(self.checked, refuse).await
    }
}

/// The value, or what `refuse` answers to the French message, as an error `?` returns: for checks that need
/// more than the form (today's date, the account's territories).
pub async fn or_answer<T, F, Fut>(checked: Result<T, String>, refuse: F) -> WebResult<T>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = WebResult<Response>>,
{
    match checked {
        Ok(value) => Ok(value),
        Err(message) => Err(WebError::Answer(Box::new(refuse(message).await?))),
    }
}

/// A urlencoded body whose fields may repeat (checkbox lists), read with `axum_extra`'s `Form`. Reading does
/// not refuse the request by itself: the handler checks access first, then [`RepeatedForm::read`] refuses
/// an unreadable body in French.
pub struct RepeatedForm<T>(Result<T, FormRejection>);

impl<S, T> FromRequest<S> for RepeatedForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let read = RepeatedFields::<T>::from_request(request, state).await;
        Ok(RepeatedForm(read.map(|RepeatedFields(form)| form)))
    }
}

impl<T> RepeatedForm<T> {
    pub fn read(self) -> WebResult<T> {
        self.0
            .map_err(|_| WebError::BadRequest("Formulaire illisible.".into()))
    }
}

/// Every value of a repeated field as an id; a value that is not one is refused, naming the field as `what`
/// ("la fiche", "le contact"…).
pub fn ids_or_refuse(values: &[String], what: &str) -> Result<Vec<i64>, String> {
    values
        .iter()
        .map(|v| {
            v.parse()
                .map_err(|_| format!("Choix non reconnu pour {what} : « {v} »."))
        })
        .collect()
}

/// Every value of a repeated field that reads as an id.
pub fn ids(values: &[String]) -> Vec<i64> {
    values.iter().filter_map(|v| v.parse().ok()).collect()
}

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

/// The person, attached to no organisation yet.
impl Validate for ContactForm {
    type Output = NewPerson;

    fn validate(&self) -> Result<NewPerson, String> {
        let full_name = self.full_name.trim();
        if full_name.is_empty() {
            return Err("Indiquez le nom de la personne.".into());
        }
        let emails = split_list(&self.email)
            .map(|e| EmailAddress::parse(e).map(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewPerson {
            organisation_id: None,
            full_name: full_name.into(),
            function: self.function.trim().into(),
            emails,
            phones: split_list(&self.phone).map(str::to_string).collect(),
            notes: String::new(),
        })
    }
}

impl ContactForm {
    /// The person to record in this organisation, or a French message saying what is wrong.
    pub fn into_person(self, organisation_id: i64) -> Result<NewPerson, String> {
        self.validate().map(|person| NewPerson {
            organisation_id: Some(organisation_id),
            ..person
        })
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

    #[tokio::test]
    async fn repeated_fields_are_all_kept_and_an_unreadable_body_is_refused() {
        #[derive(serde::Deserialize)]
        struct Interaction {
            #[serde(default)]
            people: Vec<String>,
            #[serde(default)]
            summary: String,
            #[serde(default)]
            absent: String,
        }
        let post = |content_type: &str, body: &'static str| {
            Request::builder()
                .method("POST")
                .header("content-type", content_type)
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        let body = "people=1&people=2&summary=+Appel+&people=x";
        let form = RepeatedForm::<Interaction>::from_request(
            post("application/x-www-form-urlencoded", body),
            &(),
        )
        .await
        .unwrap()
        .read()
        .unwrap();
        assert_eq!(ids(&form.people), vec![1, 2]);
        assert_eq!(form.summary.trim(), "Appel");
        assert_eq!(form.absent, "");
        assert_eq!(
            ids_or_refuse(&form.people, "le contact").unwrap_err(),
            "Choix non reconnu pour le contact : « x »."
        );
        let unreadable = RepeatedForm::<Interaction>::from_request(post("text/plain", body), &())
            .await
            .unwrap()
            .read();
        assert!(matches!(unreadable, Err(WebError::BadRequest(m)) if m == "Formulaire illisible."));
    }
}
