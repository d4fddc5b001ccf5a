//! "Réseaux": the partner networks relais federates with. Staff follow a partner by handle or address
//! (which allows its host), allow a host without following it, accept or refuse a follow request, take a
//! partner off the allow-list, and see what each sent and the state of what was sent to it. Also: marking
//! a meeting, a newsletter issue or a sheet public (with a preview of what partners see), the members that
//! agree to be named in the membership facts, partners' events (join for the network), and partners'
//! articles and events offered to the newsletter.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};

use crate::federation::peers::PeerError;
use crate::federation::urls::host_of_str;
use crate::store::federation::{Partner, Received};
use crate::store::federation_deliveries::ActivityDelivery;
use crate::store::federation_objects::{RemoteMembership, RemoteObject};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reseaux", get(page))
        .route("/reseaux/suivre", post(follow))
        .route("/reseaux/autoriser", post(allow))
        .route("/reseaux/{id}/accepter", post(accept))
        .route("/reseaux/{id}/refuser", post(refuse))
        .route("/reseaux/{id}/retirer", post(remove))
        .route("/reseaux/{id}/reessayer", post(retry))
        .route("/reseaux/public", post(set_public))
        .route("/reseaux/apercu/{kind}/{id}", get(preview))
        .route("/reseaux/consentement", post(consent))
        .route("/reseaux/evenements/{id}/participer", post(join))
        .route("/reseaux/evenements/{id}/se-desister", post(leave))
        .route("/reseaux/objets/{id}/vers-la-lettre", post(to_newsletter))
        .route("/reseaux/evenements/{id}/relayer", post(relay_by_mail))
}

#[derive(Template)]
#[template(path = "networks.html", config = "src/web/askama.toml")]
struct NetworksPage {
    chrome: Chrome,
    handle: String,
    partners: Vec<Partner>,
    /// Per partner: deliveries pending, delivered, refused, failed.
    counts: HashMap<i64, [i64; 4]>,
    received: Vec<Received>,
    deliveries: Vec<ActivityDelivery>,
    events: Vec<RemoteObject>,
    articles: Vec<RemoteObject>,
    members: Vec<(i64, String, bool)>,
    facts: Vec<RemoteMembership>,
    /// Representatives of member collectivities: who a relayed event is mailed to.
    representatives: usize,
}

impl NetworksPage {
    fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }

    fn partner_name(&self, id: &i64) -> String {
        self.partners
            .iter()
            .find(|p| p.id == *id)
            .map(|p| p.display_name().to_string())
            .unwrap_or_default()
    }

    fn count(&self, id: &i64, index: usize) -> i64 {
        self.counts.get(id).map(|c| c[index]).unwrap_or(0)
    }

    fn our_follow_label(&self, state: &str) -> &'static str {
        match state {
            "requested" => "demandé, en attente",
            "accepted" => "oui",
            "rejected" => "refusé par le partenaire",
            _ => "non",
        }
    }

    fn their_follow_label(&self, state: &str) -> &'static str {
        match state {
            "pending" => "demande en attente",
            "accepted" => "oui",
            "refused" => "refusé",
            _ => "non",
        }
    }

    fn delivery_label(&self, state: &str) -> &'static str {
        match state {
            "pending" => "en attente",
            "delivered" => "remis",
            "refused" => "refusé",
            _ => "abandonné",
        }
    }

    /// The question asked before relaying an event by mail, with how many people receive it.
    fn relay_question(&self, name: &str) -> String {
        format!(
            "Envoyer « {name} » par courriel à {} des collectivités membres ?",
            crate::french::count(self.representatives, "représentant·e", "représentant·es")
        )
    }

    fn join_label(&self, state: &str) -> &'static str {
        match state {
            "pending" => "participation demandée",
            "accepted" => "participation acceptée",
            "rejected" => "participation refusée",
            "left" => "désisté",
            _ => "",
        }
    }
}

async fn page(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let store = &state.store;
    let mut counts: HashMap<i64, [i64; 4]> = HashMap::new();
    for (partner, delivery_state, count) in store.activity_delivery_counts().await? {
        let index = match delivery_state.as_str() {
            "pending" => 0,
            "delivered" => 1,
            "refused" => 2,
            _ => 3,
        };
        counts.entry(partner).or_default()[index] = count;
    }
    let now = state.clock.now_millis();
    let urls = state.federation.urls();
    let page = NetworksPage {
        chrome: Chrome::new(&session, "networks", "Réseaux"),
        handle: format!("{}@{}", urls.group_name(), urls.host()),
        partners: store.partners().await?,
        counts,
        received: store.received_activities(None, 30).await?,
        deliveries: store.activity_deliveries(None, 50).await?,
        events: store
            .remote_events_between(now - 86_400_000, now + 366 * 86_400_000)
            .await?,
        articles: store.remote_objects("article", 20).await?,
        members: store.members_and_consent().await?,
        facts: store.remote_memberships().await?,
        representatives: store.member_representative_recipients().await?.len(),
    };
    Ok(Html(page.render()?))
}

fn peer_error(error: PeerError) -> WebError {
    match error {
        PeerError::Invalid(message) => WebError::BadRequest(message),
        PeerError::Unreachable(message) => {
            WebError::BadRequest(format!("Le partenaire n'a pas pu être joint : {message}"))
        }
        PeerError::Internal(error) => WebError::Internal(error.to_string()),
    }
}

fn back(notice: &str) -> Response {
    redirect_with_notice("/reseaux", notice)
}

#[derive(serde::Deserialize)]
struct HandleForm {
    handle: String,
}

async fn follow(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<HandleForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    if form.handle.trim().is_empty() {
        return Err(WebError::BadRequest(
            "Indiquez l'identifiant du réseau à suivre (club@reseau.example) ou l'adresse de son acteur.".into(),
        ));
    }
    let partner = state
        .federation
        .follow(&form.handle)
        .await
        .map_err(peer_error)?;
    let name = partner.display_name().to_string();
    Ok(back(&format!(
        "Demande d'abonnement envoyée à {name} ; son hôte est sur la liste des partenaires autorisés."
    )))
}

async fn allow(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<HandleForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let given = form
        .handle
        .trim()
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let host = if given.contains("://") {
        host_of_str(&given)
    } else {
        let host = given.rsplit('@').next().unwrap_or_default().to_string();
        host_of_str(&format!("https://{host}/"))
            .filter(|parsed| *parsed == host || format!("{parsed}:443") == host)
    };
    let Some(host) = host.filter(|h| !h.is_empty() && !h.contains('/')) else {
        return Err(WebError::BadRequest(format!(
            "« {} » n'est pas un nom d'hôte (comme reseau.example) ni une adresse.",
            form.handle.trim()
        )));
    };
    if host == state.federation.urls().host() {
        return Err(WebError::BadRequest("C'est l'hôte de ce réseau-ci.".into()));
    }
    state
        .store
        .allow_partner(&host, "", "", "", state.clock.now_millis())
        .await?;
    Ok(back(&format!(
        "{host} est sur la liste des partenaires autorisés : ses demandes d'abonnement sont reçues."
    )))
}

async fn accept(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .federation
        .accept_follow(id)
        .await
        .map_err(peer_error)?;
    Ok(back(
        "Abonnement accepté : le partenaire recevra ce que vous publiez.",
    ))
}

async fn refuse(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .federation
        .refuse_follow(id)
        .await
        .map_err(peer_error)?;
    Ok(back("Demande d'abonnement refusée."))
}

async fn remove(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .federation
        .remove_partner(id)
        .await
        .map_err(peer_error)?;
    Ok(back(
        "Partenaire retiré de la liste : plus rien ne lui est envoyé ni n'est accepté de lui.",
    ))
}

async fn retry(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let due = state
        .store
        .retry_partner_deliveries(id, state.clock.now_millis())
        .await?;
    Ok(back(&format!(
        "{due} envoi(s) en attente repartent maintenant."
    )))
}

#[derive(serde::Deserialize)]
struct PublicForm {
    kind: String,
    id: i64,
    public: String,
}

/// Marks a meeting (`event`), an issue (`article`) or a sheet (`document`) public or not; the federation
/// job publishes or withdraws it at once.
async fn set_public(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<PublicForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let (back_to, what) = match form.kind.as_str() {
        "event" => (format!("/reunions/{}", form.id), "La réunion"),
        "article" => (format!("/lettre/numeros/{}", form.id), "Le numéro"),
        "document" => ("/reunions#fiches".to_string(), "La fiche"),
        _ => return Err(WebError::BadRequest("Type d'objet inconnu.".into())),
    };
    let public = form.public == "1";
    if !state.store.set_public(&form.kind, form.id, public).await? {
        return Err(WebError::NotFound);
    }
    state.store.wake_schedules();
    let notice = if public {
        format!("{what} est publique : les réseaux partenaires qui suivent le club la reçoivent.")
    } else {
        format!("{what} n'est plus publique : elle est retirée chez les réseaux partenaires.")
    };
    Ok(redirect_with_notice(&back_to, &notice))
}

#[derive(Template)]
#[template(path = "network_preview.html", config = "src/web/askama.toml")]
struct PreviewPage {
    chrome: Chrome,
    kind_label: &'static str,
    public: bool,
    json: String,
    name: String,
    summary: String,
    content_text: String,
}

/// What partners will see of a meeting, an issue or a sheet, public or not yet.
async fn preview(
    session: Session,
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, i64)>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let public = state
        .store
        .is_public(&kind, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let now = state.clock.now_millis();
    let uuid = state
        .store
        .published_object(&kind, id)
        .await?
        .map(|o| o.uuid)
        .unwrap_or_else(|| "apercu".into());
    let object = state
        .federation
        .local_object(&kind, id, &uuid, now, now)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .ok_or(WebError::NotFound)?;
    let text = |key: &str| object[key].as_str().unwrap_or_default().to_string();
    let page = PreviewPage {
        chrome: Chrome::new(&session, "networks", "Aperçu pour les réseaux"),
        kind_label: match kind.as_str() {
            "event" => "Réunion (Event)",
            "article" => "Numéro de la lettre (Article)",
            _ => "Fiche (Document)",
        },
        public,
        json: serde_json::to_string_pretty(&object).unwrap_or_default(),
        name: text("name"),
        summary: text("summary"),
        content_text: crate::federation::objects::plain(&text("content")),
    };
    Ok(Html(page.render()?))
}

#[derive(serde::Deserialize)]
struct ConsentForm {
    organisation_id: i64,
    consent: String,
}

async fn consent(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<ConsentForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let consent = form.consent == "1";
    if !state
        .store
        .set_membership_consent(form.organisation_id, consent)
        .await?
    {
        return Err(WebError::BadRequest(
            "Cette collectivité n'est pas membre.".into(),
        ));
    }
    state
        .federation
        .membership_changed(form.organisation_id, consent)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(back(if consent {
        "La collectivité figure dans les adhésions partagées avec les réseaux partenaires."
    } else {
        "La collectivité ne figure plus dans les adhésions partagées."
    }))
}

#[derive(serde::Deserialize)]
struct JoinForm {
    message: String,
}

async fn join(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<JoinForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let message = form.message.trim();
    if message.is_empty() || message.chars().count() > 500 {
        return Err(WebError::BadRequest(
            "Indiquez qui participera (noms et collectivités, 500 caractères au plus) : le réseau organisateur le lira.".into(),
        ));
    }
    state
        .federation
        .join_remote_event(id, message)
        .await
        .map_err(peer_error)?;
    Ok(back("Participation envoyée au réseau organisateur."))
}

async fn leave(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .federation
        .leave_remote_event(id)
        .await
        .map_err(peer_error)?;
    Ok(back("Désistement envoyé au réseau organisateur."))
}

/// Offers a partner's event or article as a newsletter item (then edited and sent like any other).
async fn to_newsletter(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let object = state
        .store
        .remote_object(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let partner = state
        .store
        .partner(object.partner_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let network = partner.display_name().to_string();
    let mut body = String::new();
    if let Some(starts) = object.starts_at {
        body.push_str(&format!(
            "**{}**\n\n",
            crate::french::french_datetime(starts)
        ));
    }
    let text = if object.summary.is_empty() {
        &object.content
    } else {
        &object.summary
    };
    body.push_str(&text.chars().take(1_500).collect::<String>());
    let link = [&object.page_url, &object.online_url, &object.attachment_url]
        .into_iter()
        .find(|url| !url.is_empty());
    if let Some(link) = link {
        body.push_str(&format!("\n\n[En savoir plus]({link})"));
    }
    body.push_str(&format!("\n\n*Relayé depuis le réseau {network}.*"));
    let category = if object.kind == "event" {
        "meeting"
    } else {
        "other"
    };
    let now = state.clock.now_millis();
    state
        .store
        .add_item(category, &object.name, &body, &session.actor(), now)
        .await?;
    state.store.set_remote_relayed(id, now).await?;
    Ok(back(
        "Ajouté aux éléments de la prochaine lettre : relisez-le sur la page Lettre.",
    ))
}

/// Mails a partner's event to the representatives of the member collectivities, in one action.
async fn relay_by_mail(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let event = state
        .store
        .remote_object(id)
        .await?
        .filter(|o| o.kind == "event" && o.deleted_at.is_none())
        .ok_or(WebError::NotFound)?;
    let partner = state
        .store
        .partner(event.partner_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let network = partner.display_name().to_string();
    let recipients = state.store.member_representative_recipients().await?;
    if recipients.is_empty() {
        return Err(WebError::BadRequest(
            "Aucune collectivité membre n'a de représentant·e avec une adresse : personne à qui relayer.".into(),
        ));
    }
    let message =
        crate::mail::partner_event::partner_event_message(&state.settings, &network, &event)
            .map_err(|e| WebError::Internal(e.to_string()))?;
    let now = state.clock.now_millis();
    state.store.enqueue_mail(&message, &recipients, now).await?;
    state.store.set_remote_relayed(id, now).await?;
    Ok(back(&format!(
        "Événement relayé par courriel à {}.",
        crate::french::count(recipients.len(), "représentant·e", "représentant·es")
    )))
}
