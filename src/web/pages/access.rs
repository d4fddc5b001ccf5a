//! Who has access to what (people, roles, territories, last login, API tokens) Admins
//! manage the accounts here: create one (its owner receives a link to choose a password), change its role
//! and territories, disable or re-enable it (a disabled account's sessions end at once), and mail a new
//! password link. Staff read the list (viewers and relays do not see who else has access); the last active
//! admin can be neither demoted nor disabled. The page where a link's owner chooses the password is public: [`public_router`].

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use crate::domain::mail_kind::MailKind;
use crate::domain::{EmailAddress, Role};
use crate::referential::Referential;
use crate::security;
use crate::store::StoreError;
use crate::store::account_admin::{AccountChange, PasswordLink};
use crate::store::accounts::{AccessRow, NewUser};
use crate::store::api_tokens::ApiToken;
use crate::store::outbox::NewMessage;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash;
use crate::web::forms::{self, Validate, Validated};
use crate::web::view::Chrome;

/// How long a password link works.
const LINK_HOURS: i64 = 48;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/access", get(access))
        .route("/access/comptes", post(create_account))
        .route("/access/comptes/{id}", post(update_account))
        .route("/access/comptes/{id}/desactiver", post(disable))
        .route("/access/comptes/{id}/reactiver", post(enable))
        .route("/access/comptes/{id}/mot-de-passe", post(reset_password))
}

/// The page reached from the mailed link, outside the session.
pub fn public_router() -> Router<AppState> {
    Router::new().route(
        "/mot-de-passe/{token}",
        get(password_form).post(set_password),
    )
}

#[derive(Template)]
#[template(path = "access.html", config = "src/web/askama.toml")]
struct AccessPage {
    chrome: Chrome,
    accounts: Vec<AccessRow>,
    tokens: Vec<ApiToken>,
    is_admin: bool,
    /// The logged-in account, which cannot disable itself.
    me: i64,
    roles: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

async fn render(
    session: &Session,
    state: &AppState,
    error: Option<String>,
) -> WebResult<Html<String>> {
    let page = AccessPage {
        chrome: Chrome::new(session, "access", "Accès"),
        accounts: state.store.list_access().await?,
        tokens: state.store.list_api_tokens().await?,
        is_admin: session.role() == Role::Admin,
        me: session.user.id,
        roles: Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect(),
        error,
    };
    Ok(Html(page.render()?))
}

fn require_admin(session: &Session) -> WebResult<()> {
    if session.role() == Role::Admin {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

async fn access(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    render(&session, &state, None).await
}

/// The page again with what was refused, unchanged otherwise.
async fn refused(session: &Session, state: &AppState, message: String) -> WebResult<Response> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        render(session, state, Some(message)).await?,
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    role: String,
    #[serde(default)]
    territories: String,
    #[serde(default)]
    association: String,
}

impl AccountForm {
    /// A new account's name and lowercased email.
    fn identity(&self) -> Result<(String, String), String> {
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return Err("Indiquez le nom de la personne.".into());
        }
        let email = EmailAddress::parse(self.email.trim())?;
        Ok((name, email.as_str().to_lowercase()))
    }
}

/// Role, territories and, for a relay, the name of its association, as the form asks them.
struct AccessAsked {
    role: Role,
    territories: Vec<String>,
    association: Option<String>,
}

/// Role, territories and association, checked as the command line checks them.
impl Validate for AccountForm {
    type Output = AccessAsked;

    fn validate(&self) -> Result<AccessAsked, String> {
        let role =
            Role::parse(&self.role).ok_or_else(|| format!("Rôle « {} » inconnu.", self.role))?;
        let referential = Referential::get();
        let mut territories = Vec::new();
        for text in self
            .territories
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let code = referential
                .resolve_departement(text)
                .ok_or_else(|| format!("Département « {text} » inconnu."))?;
            if !territories.iter().any(|t: &String| t == code) {
                territories.push(code.to_string());
            }
        }
        let association = self.association.trim();
        let association = match role {
            Role::Relay => {
                if territories.is_empty() {
                    return Err(
                        "Un relais local doit avoir au moins un département (13, 84…).".into(),
                    );
                }
                if association.is_empty() {
                    return Err("Un relais local doit nommer son association.".into());
                }
                Some(association.to_string())
            }
            _ => {
                territories.clear();
                None
            }
        };
        Ok(AccessAsked {
            role,
            territories,
            association,
        })
    }
}

impl AccessAsked {
    /// The change, its association found or created.
    async fn change(self, state: &AppState) -> Result<AccountChange, String> {
        let association_id = match &self.association {
            Some(name) => Some(
                association_id(state, name)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok(AccountChange {
            role: self.role,
            territories: self.territories,
            association_id,
        })
    }
}

/// The member association of that name, created when new (as `relais user add` does).
async fn association_id(state: &AppState, name: &str) -> Result<i64, StoreError> {
    if let Some(id) = state.store.association_by_name(name).await? {
        return Ok(id);
    }
    let new = crate::store::organisations::NewOrganisation {
        kind: "association".into(),
        name: name.into(),
        ..Default::default()
    };
    state
        .store
        .create_organisation(
            &new,
            &crate::store::audit::Actor::command_line(),
            state.clock.now_millis(),
        )
        .await
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A fresh link for `name` and the mail that carries it; `first` for a new account.
fn password_link(state: &AppState, name: &str, first: bool) -> (PasswordLink, String) {
    let token = security::random_token();
    let url = format!(
        "{}/mot-de-passe/{token}",
        state.settings.server.public_url.trim_end_matches('/')
    );
    let organisation = &state.settings.mail.from_name;
    let (subject, opening) = if first {
        (
            "Votre compte relais".to_string(),
            format!(
                "un compte vient d'être créé pour vous dans relais, l'outil de {organisation}."
            ),
        )
    } else {
        (
            "Choisir un nouveau mot de passe pour relais".to_string(),
            "un·e administrateur·rice de relais vous envoie un lien pour choisir un nouveau mot de passe."
                .to_string(),
        )
    };
    let body_text = format!(
        "Bonjour {name},\n\n{opening}\n\nChoisissez votre mot de passe ici (lien valable {LINK_HOURS} heures, une seule fois) :\n{url}\n\nSi vous n'attendiez pas ce courrier, ignorez-le.\n\n{organisation}\n"
    );
    let body_html = format!(
        "<p>Bonjour {},</p><p>{}</p><p><a href=\"{url}\">Choisir mon mot de passe</a> (lien valable {LINK_HOURS} heures, une seule fois).</p><p>Si vous n'attendiez pas ce courrier, ignorez-le.</p><p>{}</p>",
        escape_html(name),
        escape_html(&opening),
        escape_html(organisation)
    );
    let link = PasswordLink {
        token_hash: security::sha256_hex(&token),
        expires_at: state.clock.now_millis() + LINK_HOURS * 3600 * 1000,
        message: NewMessage {
            kind: MailKind::PasswordLink,
            cause_kind: "account".into(),
            subject,
            body_text,
            body_html,
            auto_submitted: true,
            ..Default::default()
        },
    };
    (link, url)
}

async fn create_account(
    session: Session,
    State(state): State<AppState>,
    form: Validated<AccountForm>,
) -> WebResult<Response> {
    require_admin(&session)?;
    let refuse = |message| refused(&session, &state, message);
    let (name, email) = forms::or_answer(form.form.identity(), refuse).await?;
    let asked = form.or_answer(refuse).await?;
    let change = forms::or_answer(asked.change(&state).await, refuse).await?;
    // Nobody knows this password: the account opens only once its owner has chosen one through the link.
    let unusable =
        security::hash_password(&security::random_token()).map_err(WebError::Internal)?;
    let (link, _) = password_link(&state, &name, true);
    let new = NewUser {
        email: &email,
        name: &name,
        role: change.role,
        password_hash: &unusable,
        association_id: change.association_id,
        territories: &change.territories,
    };
    match state
        .store
        .create_account(&new, &link, &session.actor(), state.clock.now_millis())
        .await
    {
        Ok(_) => Ok(flash::redirect_with_notice(
            "/access",
            &format!(
                "Compte de {name} créé ({}) ; un lien pour choisir son mot de passe part à {email}.",
                change.role.label()
            ),
        )),
        Err(StoreError::Conflict(_)) => {
            refused(
                &session,
                &state,
                format!("Un compte existe déjà pour {email}."),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn update_account(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<AccountForm>,
) -> WebResult<Response> {
    require_admin(&session)?;
    let refuse = |message| refused(&session, &state, message);
    let asked = form.or_answer(refuse).await?;
    let change = forms::or_answer(asked.change(&state).await, refuse).await?;
    match state
        .store
        .update_account(id, &change, &session.actor(), state.clock.now_millis())
        .await
    {
        Ok(before) => Ok(flash::redirect_with_notice(
            "/access",
            &format!(
                "Accès de {} enregistré : {}.",
                before.name,
                change.role.label()
            ),
        )),
        Err(StoreError::Conflict(message)) => refused(&session, &state, message).await,
        Err(other) => Err(other.into()),
    }
}

async fn set_active(
    session: Session,
    state: AppState,
    id: i64,
    active: bool,
) -> WebResult<Response> {
    require_admin(&session)?;
    if !active && id == session.user.id {
        return refused(
            &session,
            &state,
            "Vous ne pouvez pas désactiver votre propre compte.".into(),
        )
        .await;
    }
    match state
        .store
        .set_account_active(id, active, &session.actor(), state.clock.now_millis())
        .await
    {
        Ok(before) => Ok(flash::redirect_with_notice(
            "/access",
            &if active {
                format!("Compte de {} réactivé.", before.name)
            } else {
                format!(
                    "Compte de {} désactivé ; ses sessions sont fermées.",
                    before.name
                )
            },
        )),
        Err(StoreError::Conflict(message)) => refused(&session, &state, message).await,
        Err(other) => Err(other.into()),
    }
}

async fn disable(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    set_active(session, state, id, false).await
}

async fn enable(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    set_active(session, state, id, true).await
}

async fn reset_password(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    require_admin(&session)?;
    let user = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (link, _) = password_link(&state, &user.name, false);
    match state
        .store
        .reset_password(id, &link, &session.actor(), state.clock.now_millis())
        .await
    {
        Ok(user) => Ok(flash::redirect_with_notice(
            "/access",
            &format!(
                "Lien pour choisir un nouveau mot de passe envoyé à {} ({}).",
                user.name, user.email
            ),
        )),
        Err(StoreError::Conflict(message)) => refused(&session, &state, message).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "password.html", config = "src/web/askama.toml")]
struct PasswordPage {
    /// None when the link does not work (unknown, used, expired, account disabled).
    name: Option<String>,
    token: String,
    error: Option<String>,
    done: bool,
}

fn password_page(status: StatusCode, page: PasswordPage) -> WebResult<Response> {
    Ok((status, Html(page.render()?)).into_response())
}

async fn password_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let user = state
        .store
        .password_link_user(&security::sha256_hex(&token), state.clock.now_millis())
        .await?;
    let status = if user.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    password_page(
        status,
        PasswordPage {
            name: user.map(|u| u.name),
            token,
            error: None,
            done: false,
        },
    )
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
}

async fn set_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> WebResult<Response> {
    let hash = security::sha256_hex(&token);
    let now = state.clock.now_millis();
    let Some(user) = state.store.password_link_user(&hash, now).await? else {
        return password_page(
            StatusCode::NOT_FOUND,
            PasswordPage {
                name: None,
                token,
                error: None,
                done: false,
            },
        );
    };
    let refusal = if form.password != form.confirmation {
        Some("Les deux mots de passe saisis diffèrent.".to_string())
    } else {
        None
    };
    let password_hash = match refusal.map_or_else(|| security::hash_password(&form.password), Err) {
        Ok(hash) => hash,
        Err(message) => {
            let mut message = message;
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..];
            }
            if !message.ends_with('.') {
                message.push('.');
            }
            return password_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                PasswordPage {
                    name: Some(user.name),
                    token,
                    error: Some(message),
                    done: false,
                },
            );
        }
    };
    let done = state
        .store
        .use_password_link(&token, &password_hash, now)
        .await?;
    password_page(
        if done.is_some() {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
        PasswordPage {
            name: done.as_ref().map(|u| u.name.clone()),
            token,
            error: None,
            done: done.is_some(),
        },
    )
}
