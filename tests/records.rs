//! Staff correct and remove what they created, on SQLite and PostgreSQL: a target created by mistake is
//! deleted (its follow-ups and history go, its contacts stay in the directory), follow-ups and contacts are
//! edited and deleted, newsletter items change until their issue is sent, each with its success message,
//! its audit entry and the relay's territory respected; admins manage accounts on /access (a password link
//! by mail, role and territories, disabling ends sessions, the last admin stays); a public unsubscribe can
//! be undone once, from the same mail, for a day.

mod common;

use common::{Backend, Staff, TestApp};
use relais::domain::Role;
use relais::store::Scope;

const LYON: &str = "69123";
const MARSEILLE: &str = "13055";

/// The page a 303 leads to, read with the same client (so the success message shows).
async fn follow(staff: &Staff, response: reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    staff.get_text(&location).await
}

/// The latest audit entry of `entity`, as (action, details).
async fn last_audit(app: &TestApp, entity: &str, id: i64) -> (String, serde_json::Value) {
    let entries = app.store.list_audit(Some((entity, id)), 1).await.unwrap();
    let entry = entries
        .first()
        .unwrap_or_else(|| panic!("no audit for {entity} {id}"));
    (
        entry.action.clone(),
        serde_json::from_str(&entry.details).unwrap(),
    )
}

mod a_target_created_by_mistake_is_deleted_and_its_contacts_stay {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let target = app.add_target(LYON).await;
        let response = staff
            .post_form(
                &format!("/targets/{target}/interactions"),
                &[
                    ("kind", "phone_call"),
                    ("occurred_on", "2026-11-30"),
                    ("summary", "Appel au cabinet"),
                ],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(page.contains("Échange noté pour Lyon."), "{page}");
        let page = staff.get_text(&format!("/targets/{target}")).await;
        assert!(
            !page.contains("Échange noté pour Lyon."),
            "a message shows once"
        );
        assert!(
            page.contains("Supprimer la cible Lyon ? Cela supprime 1 échange, 1 ligne de"),
            "the prompt counts what goes: {page}"
        );
        assert!(page.contains("Les contacts (1) restent dans"), "{page}");

        // Saves on the target page say what was saved, for which collectivity.
        let response = staff
            .post_form(
                &format!("/targets/{target}/follow-up"),
                &[
                    ("political_colour", "unknown"),
                    ("lead_source", "other"),
                    ("priority", "high"),
                    ("next_action", "Relancer le cabinet"),
                ],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(page.contains("Suivi enregistré pour Lyon."), "{page}");
        let (action, details) = last_audit(&app, "target", target).await;
        assert_eq!(action, "update");
        assert_eq!(details["label"], "Lyon");
        assert_eq!(
            details["changes"]["priority"],
            serde_json::json!(["normal", "high"])
        );
        let response = staff
            .post_form(
                &format!("/targets/{target}/stage"),
                &[("stage", "contacted")],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Lyon passe à l&#39;étape « Contactée »."),
            "{page}"
        );
        let response = staff
            .post_form(
                &format!("/targets/{target}/needs"),
                &[("description", "Accès à l'eau")],
            )
            .await;
        assert!(
            follow(&staff, response)
                .await
                .contains("Besoin local signalé pour Lyon.")
        );

        // A relay of another département can neither see nor delete it.
        let relay = app.logged_in(Role::Relay, &["13"]).await;
        let refused = relay
            .post_form(&format!("/targets/{target}/supprimer"), &[])
            .await;
        assert_eq!(refused.status(), 404);
        assert!(
            app.store
                .target(Scope::All, target)
                .await
                .unwrap()
                .is_some()
        );

        let contact = app
            .store
            .search_people(Scope::All, "Contact de Lyon", 5, 0)
            .await
            .unwrap()[0]
            .id;
        let response = staff
            .post_form(&format!("/targets/{target}/supprimer"), &[])
            .await;
        assert_eq!(response.headers()["location"], "/targets");
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Cible Lyon supprimée ; ses contacts restent dans"),
            "{page}"
        );
        assert!(
            app.store
                .target(Scope::All, target)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            app.store
                .interactions(Scope::All, target)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            app.store
                .stage_history(Scope::All, target)
                .await
                .unwrap()
                .is_empty()
        );
        let kept = app
            .store
            .person(Scope::All, contact)
            .await
            .unwrap()
            .expect("contact kept");
        assert_eq!(kept.organisation_name.as_deref(), Some("Lyon"));
        let (action, details) = last_audit(&app, "target", target).await;
        assert_eq!(action, "delete");
        assert_eq!(details["label"], "Lyon");
        assert_eq!(details["interactions"], 1);
        assert_eq!(
            (details["stage_changes"].as_i64(), details["needs"].as_i64()),
            (Some(2), Some(1))
        );
        assert_eq!(details["contacts_kept"], 1);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod follow_ups_and_contacts_are_corrected_and_removed {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let target = app.add_target(LYON).await;
        let other = app.add_target(MARSEILLE).await;
        staff
            .post_form(
                &format!("/targets/{target}/interactions"),
                &[
                    ("kind", "email"),
                    ("occurred_on", "2026-11-30"),
                    ("summary", "Courriel au maire"),
                ],
            )
            .await;
        let interaction = app.store.interactions(Scope::All, target).await.unwrap()[0]
            .0
            .id;

        // Edit a follow-up: kind, date and wording.
        let response = staff
            .post_form(
                &format!("/targets/{target}/interactions/{interaction}"),
                &[
                    ("kind", "phone_call"),
                    ("occurred_on", "2026-12-01"),
                    ("summary", "Appel au maire"),
                    ("outcome", "Rappeler en janvier"),
                ],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Échange du 01/12/2026 modifié pour Lyon."),
            "{page}"
        );
        assert!(page.contains("Appel au maire") && page.contains("Rappeler en janvier"));
        let (action, details) = last_audit(&app, "interaction", interaction).await;
        assert_eq!(action, "update");
        assert_eq!(details["label"], "Courriel au maire");
        assert_eq!(details["changes"]["summary"][1], "Appel au maire");
        assert_eq!(details["changes"]["kind"][0], "email");

        // A relay of another département cannot touch it.
        let relay = app.logged_in(Role::Relay, &["13"]).await;
        let refused = relay
            .post_form(
                &format!("/targets/{target}/interactions/{interaction}/supprimer"),
                &[],
            )
            .await;
        assert_eq!(refused.status(), 404);
        // ...but works its own.
        let mine = relay.get_text(&format!("/targets/{other}")).await;
        assert!(mine.contains("Supprimer la cible Marseille"), "{mine}");

        let response = staff
            .post_form(
                &format!("/targets/{target}/interactions/{interaction}/supprimer"),
                &[],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(page.contains("Échange supprimé pour Lyon."), "{page}");
        assert!(!page.contains("Appel au maire"));
        assert_eq!(
            last_audit(&app, "interaction", interaction).await.0,
            "delete"
        );

        // A contact: edited from its card, then taken off the collectivity, then deleted.
        let person = app
            .store
            .search_people(Scope::All, "Contact de Lyon", 5, 0)
            .await
            .unwrap()[0]
            .id;
        let card = staff.get_text(&format!("/people/{person}")).await;
        assert!(
            card.contains("Supprimer la fiche de Contact de Lyon ?"),
            "{card}"
        );
        let response = staff
            .post_form(
                &format!("/people/{person}"),
                &[
                    ("full_name", "Léa Martin"),
                    ("function", "adjointe aux solidarités"),
                    (
                        "email",
                        "lea.martin@lyon.example.org; cabinet@lyon.example.org",
                    ),
                    ("phone", "04 72 10 30 30"),
                ],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(page.contains("Contact Léa Martin enregistré."), "{page}");
        let edited = app.store.person(Scope::All, person).await.unwrap().unwrap();
        assert_eq!(edited.full_name, "Léa Martin");
        assert_eq!(
            edited.emails(),
            vec!["cabinet@lyon.example.org", "lea.martin@lyon.example.org"]
        );
        assert_eq!(edited.phones(), vec!["04 72 10 30 30"]);
        let (action, details) = last_audit(&app, "person", person).await;
        assert_eq!(action, "update");
        assert_eq!(details["label"], "Contact de Lyon");
        assert_eq!(details["changes"]["full_name"][1], "Léa Martin");
        let bad = staff
            .post_form(
                &format!("/people/{person}"),
                &[("full_name", "Léa"), ("email", "lea@")],
            )
            .await;
        assert_eq!(bad.status(), 422);

        let relay_refused = relay
            .post_form(&format!("/people/{person}"), &[("full_name", "Autre")])
            .await;
        assert_eq!(relay_refused.status(), 404);

        let response = staff
            .post_form(&format!("/targets/{target}/contacts/{person}/retirer"), &[])
            .await;
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Léa Martin n&#39;est plus un contact de Lyon"),
            "{page}"
        );
        let detached = app.store.person(Scope::All, person).await.unwrap().unwrap();
        assert_eq!(detached.organisation_id, None);
        assert_eq!(last_audit(&app, "person", person).await.0, "detach");

        let response = staff
            .post_form(&format!("/people/{person}/supprimer"), &[])
            .await;
        assert_eq!(response.headers()["location"], "/people");
        let page = follow(&staff, response).await;
        assert!(page.contains("Contact Léa Martin supprimé."), "{page}");
        assert!(
            app.store
                .person(Scope::All, person)
                .await
                .unwrap()
                .is_none()
        );
        let (action, details) = last_audit(&app, "person", person).await;
        assert_eq!(
            (action.as_str(), details["label"].as_str()),
            ("delete", Some("Léa Martin"))
        );

        // A member of the club is no mistake: it cannot be deleted, and the page says why.
        staff
            .post_form(&format!("/targets/{other}/stage"), &[("stage", "member")])
            .await;
        let page = staff.get_text(&format!("/targets/{other}")).await;
        assert!(
            page.contains("membre du club : elle ne peut pas être supprimée"),
            "{page}"
        );
        assert!(!page.contains("Supprimer la cible Marseille ?"));
        let refused = staff
            .post_form(&format!("/targets/{other}/supprimer"), &[])
            .await;
        assert_eq!(refused.status(), 422);
        assert!(app.store.target(Scope::All, other).await.unwrap().is_some());
        app.stop().await;
    }

    run_on_both_databases!();
}

mod newsletter_items_change_until_their_issue_is_sent {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let response = staff
            .post_form(
                "/lettre/elements",
                &[
                    ("category", "legal"),
                    ("title", "Circulaire du 25 janvier"),
                    ("body", "Texte"),
                ],
            )
            .await;
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Élément « Circulaire du 25 janvier » ajouté."),
            "{page}"
        );
        let item = app.store.unassigned_items().await.unwrap()[0].id;
        let (action, details) = last_audit(&app, "newsletter_item", item).await;
        assert_eq!(
            (action.as_str(), details["label"].as_str()),
            ("create", Some("Circulaire du 25 janvier"))
        );
        let response = staff
            .post_form(
                &format!("/lettre/elements/{item}"),
                &[
                    ("category", "practice"),
                    ("title", "Bonne pratique à Lyon"),
                    ("body", "Texte revu"),
                ],
            )
            .await;
        assert_eq!(response.headers()["location"], "/lettre");
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Élément « Bonne pratique à Lyon » enregistré."),
            "{page}"
        );
        let (action, details) = last_audit(&app, "newsletter_item", item).await;
        assert_eq!(action, "update");
        assert_eq!(details["label"], "Circulaire du 25 janvier");
        assert_eq!(details["changes"]["category"][1], "practice");
        let response = staff
            .post_form(&format!("/lettre/elements/{item}/supprimer"), &[])
            .await;
        let page = follow(&staff, response).await;
        assert!(
            page.contains("Élément « Bonne pratique à Lyon » supprimé."),
            "{page}"
        );
        assert!(app.store.unassigned_items().await.unwrap().is_empty());
        assert_eq!(last_audit(&app, "newsletter_item", item).await.0, "delete");

        // One subscriber: the prompt before sending names the issue and counts the subscribers.
        app.add_target(LYON).await;
        let response = staff
            .post_form("/abonnes", &[("selection", "identified")])
            .await;
        assert_eq!(response.status(), 200);
        let subscribers = staff.get_text("/abonnes").await;
        assert!(
            subscribers.contains("les contacts de l&#39;étape « Identifiée » (1 collectivité) ?"),
            "{subscribers}"
        );
        staff
            .post_form(
                "/lettre/elements",
                &[("category", "legal"), ("title", "Décret"), ("body", "")],
            )
            .await;
        let item = app.store.unassigned_items().await.unwrap()[0].id;
        let id_text = item.to_string();
        let response = staff
            .post_form(
                "/lettre/numeros",
                &[("title", "Lettre n° 4"), ("item", &id_text)],
            )
            .await;
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let issue_id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
        let (action, details) = last_audit(&app, "newsletter_issue", issue_id).await;
        assert_eq!(
            (action.as_str(), details["label"].as_str()),
            ("create", Some("Lettre n° 4"))
        );
        staff
            .post_form(&format!("{location}/pret"), &[("ready", "oui")])
            .await;
        let issue_page = staff.get_text(&location).await;
        assert!(
            issue_page
                .contains("Envoyer « Lettre n° 4 » à 1 abonné·e ? Cela ne peut pas être annulé."),
            "{issue_page}"
        );
        let response = staff.post_form(&format!("{location}/envoi"), &[]).await;
        let page = follow(&staff, response).await;
        assert!(page.contains("Numéro envoyé à 1 abonné·e."), "{page}");
        assert!(
            !page.contains("Supprimer l&#39;élément"),
            "a sent item shows no edit form"
        );
        let refused = staff
            .post_form(
                &format!("/lettre/elements/{item}"),
                &[
                    ("category", "legal"),
                    ("title", "Autre titre"),
                    ("body", ""),
                ],
            )
            .await;
        assert_eq!(refused.status(), 409);
        let refused = staff
            .post_form(&format!("/lettre/elements/{item}/supprimer"), &[])
            .await;
        assert_eq!(refused.status(), 409);
        assert!(refused.text().await.unwrap().contains("déjà envoyé"));
        let (issue, items) = app
            .store
            .issue(location.rsplit('/').next().unwrap().parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(issue.state, "sent");
        assert_eq!(items[0].title, "Décret");
        app.stop().await;
    }

    run_on_both_databases!();
}

/// The link path of the password mail written to `address`, waiting for the delivery workers.
async fn password_link(app: &TestApp, address: &str) -> String {
    for _ in 0..100 {
        for raw in app.written_mails() {
            let unfolded = raw.replace("=\r\n", "");
            if !unfolded.contains(address) {
                continue;
            }
            if let Some(start) = unfolded.find("/mot-de-passe/") {
                return unfolded[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                    .collect();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no password mail to {address}");
}

async fn log_in(app: &TestApp, email: &str, password: &str) -> reqwest::StatusCode {
    TestApp::client()
        .post(app.url("/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
}

mod admins_manage_accounts_in_the_app {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.logged_in(Role::Admin, &[]).await;
        let staff = app.logged_in(Role::Staff, &[]).await;

        // Staff read the list, without the forms, and cannot create.
        let page = staff.get_text("/access").await;
        assert!(page.contains("Qui a accès à quoi") && !page.contains("Ajouter un compte"));
        let refused = staff
            .post_form(
                "/access/comptes",
                &[
                    ("name", "Intrus"),
                    ("email", "intrus@example.org"),
                    ("role", "admin"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 403);

        // A relay needs its départements and association.
        let response = admin
            .post_form(
                "/access/comptes",
                &[
                    ("name", "Sam Relais"),
                    ("email", "sam@asso.example.org"),
                    ("role", "relay"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("au moins un département")
        );

        let response = admin
            .post_form(
                "/access/comptes",
                &[
                    ("name", "Sam Relais"),
                    ("email", "Sam@Asso.example.org"),
                    ("role", "relay"),
                    ("territories", "13, Vaucluse"),
                    ("association", "Asso du Sud"),
                ],
            )
            .await;
        let page = follow(&admin, response).await;
        assert!(
            page.contains("Compte de Sam Relais créé (Relais local) ; un lien pour choisir son mot de passe part à sam@asso.example.org."),
            "{page}"
        );
        let sam = app
            .store
            .user_by_email("sam@asso.example.org")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            app.store.user_territories(sam.id).await.unwrap(),
            vec!["13", "84"]
        );
        let (action, details) = last_audit(&app, "account", sam.id).await;
        assert_eq!(
            (action.as_str(), details["label"].as_str()),
            ("create", Some("Sam Relais"))
        );

        // The link sets the password once.
        let link = password_link(&app, "sam@asso.example.org").await;
        let form = reqwest::get(app.url(&link)).await.unwrap();
        assert_eq!(form.status(), 200);
        assert!(form.text().await.unwrap().contains("Bonjour Sam Relais"));
        let client = reqwest::Client::new();
        let mismatch = client
            .post(app.url(&link))
            .form(&[
                ("password", "un long secret 1"),
                ("confirmation", "un long secret 2"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(mismatch.status(), 422);
        let done = client
            .post(app.url(&link))
            .form(&[
                ("password", "un long secret 1"),
                ("confirmation", "un long secret 1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200);
        assert!(
            done.text()
                .await
                .unwrap()
                .contains("votre mot de passe est enregistré")
        );
        assert_eq!(
            log_in(&app, "sam@asso.example.org", "un long secret 1").await,
            303
        );
        let again = reqwest::get(app.url(&link)).await.unwrap();
        assert_eq!(again.status(), 404, "a link works once");
        let token = link.rsplit('/').next().unwrap();
        for summary in app.store.list_mail_messages(50).await.unwrap() {
            let message = app.store.mail_message(summary.id).await.unwrap().unwrap();
            assert!(
                !message.body_text.contains(token) && !message.body_html.contains(token),
                "the used link is gone from the stored mail"
            );
        }

        // Role and territories change; the audit keeps both sides.
        let response = admin
            .post_form(
                &format!("/access/comptes/{}", sam.id),
                &[
                    ("role", "relay"),
                    ("territories", "13"),
                    ("association", "Asso du Sud"),
                ],
            )
            .await;
        let page = follow(&admin, response).await;
        assert!(
            page.contains("Accès de Sam Relais enregistré : Relais local."),
            "{page}"
        );
        let (_, details) = last_audit(&app, "account", sam.id).await;
        assert_eq!(
            details["changes"]["territories"],
            serde_json::json!(["13, 84", "13"])
        );

        // Disabling ends the sessions of the account.
        let staff_id = staff.user_id;
        let response = admin
            .post_form(&format!("/access/comptes/{staff_id}/desactiver"), &[])
            .await;
        let page = follow(&admin, response).await;
        assert!(
            page.contains("désactivé ; ses sessions sont fermées."),
            "{page}"
        );
        let after = staff.get("/access").await;
        assert_eq!(after.status(), 303, "the disabled account's session ended");
        assert_eq!(last_audit(&app, "account", staff_id).await.0, "disable");
        let response = admin
            .post_form(&format!("/access/comptes/{staff_id}/reactiver"), &[])
            .await;
        assert!(follow(&admin, response).await.contains("réactivé."));

        // A reset mails a new link, recorded.
        let response = admin
            .post_form(&format!("/access/comptes/{}/mot-de-passe", sam.id), &[])
            .await;
        assert!(
            follow(&admin, response)
                .await
                .contains("envoyé à Sam Relais")
        );
        assert_eq!(
            last_audit(&app, "account", sam.id).await.0,
            "reset_password"
        );

        // The last admin can neither demote nor disable themself.
        let admin_id = admin.user_id;
        let refused = admin
            .post_form(&format!("/access/comptes/{admin_id}"), &[("role", "staff")])
            .await;
        assert_eq!(refused.status(), 422);
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("dernier compte administrateur")
        );
        let refused = admin
            .post_form(&format!("/access/comptes/{admin_id}/desactiver"), &[])
            .await;
        assert_eq!(refused.status(), 422);
        let me = app.store.user_by_id(admin_id).await.unwrap().unwrap();
        assert!(me.active && me.role == "admin");
        app.stop().await;
    }

    run_on_both_databases!();
}

mod an_unsubscribe_is_undone_from_the_same_mail_for_a_day {
    use super::*;
    use relais::domain::EmailAddress;
    use relais::domain::mail_kind::MailKind;
    use relais::mail::unsubscribe::UnsubscribeKey;
    use relais::store::outbox::{ListHeaders, NewMessage, NewRecipient};

    async fn state_of(app: &TestApp, address: &str) -> String {
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        app.store
            .subscribers(list.id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.address == address)
            .unwrap()
            .state
    }

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        app.add_target(LYON).await;
        staff
            .post_form("/abonnes", &[("selection", "identified")])
            .await;
        let address = "maire@69123.example.org";
        assert_eq!(state_of(&app, address).await, "active");
        let message = app
            .store
            .enqueue_mail(
                &NewMessage {
                    kind: MailKind::Newsletter,
                    subject: "Lettre du club n° 1".into(),
                    body_text: "Bonjour".into(),
                    body_html: "<p>Bonjour</p>".into(),
                    list: Some(ListHeaders {
                        key: "lettre".into(),
                        label: "Lettre du club".into(),
                        post: Some("NO".into()),
                    }),
                    ..Default::default()
                },
                &[NewRecipient {
                    address: EmailAddress::parse(address).unwrap(),
                    name: String::new(),
                    person_id: None,
                }],
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let delivery = app.store.deliveries_of(message).await.unwrap()[0].id;
        let key = UnsubscribeKey::new(&app.store.secret("unsubscribe").await.unwrap());
        let token = key.token(delivery);
        let client = reqwest::Client::new();
        let post = |path: String, body: &'static str| {
            let client = client.clone();
            let url = app.url(&path);
            async move {
                let response = client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let (status, page) = post(format!("/desabonnement/{token}"), "source=page").await;
        assert_eq!(status, 200);
        assert!(
            page.contains(&format!("action=\"/desabonnement/{token}/reabonner\"")),
            "{page}"
        );
        assert!(page.contains("Me réabonner à la Lettre du club"));
        assert_eq!(state_of(&app, address).await, "unsubscribed");

        // A forged token changes nothing.
        let last = if token.ends_with('A') { "B" } else { "A" };
        let forged = format!("{}{last}", &token[..token.len() - 1]);
        let (status, _) = post(format!("/desabonnement/{forged}/reabonner"), "").await;
        assert_eq!(status, 404);
        assert_eq!(state_of(&app, address).await, "unsubscribed");

        let (status, page) = post(format!("/desabonnement/{token}/reabonner"), "").await;
        assert_eq!(status, 200);
        assert!(page.contains("reçoit de nouveau"), "{page}");
        assert_eq!(state_of(&app, address).await, "active");
        let audit = app.store.list_audit(None, 5).await.unwrap();
        let entry = audit
            .iter()
            .find(|e| e.entity == "subscription")
            .expect("recorded");
        assert_eq!(entry.action, "subscribe");
        assert!(
            entry.details.contains("\"label\":\"Lettre du club\""),
            "{}",
            entry.details
        );
        assert!(
            app.store
                .unsubscribed("lettre", address)
                .await
                .unwrap()
                .is_none()
        );

        // Once undone, the same button does nothing more; a day later it no longer works.
        let (status, _) = post(format!("/desabonnement/{token}/reabonner"), "").await;
        assert_eq!(status, 409);

        // Leaving from the preferences page ends on a page that offers to come back in one click.
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let preferences = key.token_for(relais::mail::unsubscribe::Purpose::Preferences, delivery);
        let no_redirect = TestApp::client();
        let leave = no_redirect
            .post(app.url(&format!("/preferences/{preferences}/listes/{}", list.id)))
            .form(&[("action", "leave")])
            .send()
            .await
            .unwrap();
        assert_eq!(leave.status(), 303);
        assert_eq!(state_of(&app, address).await, "unsubscribed");
        let location = leave.headers()["location"].to_str().unwrap().to_string();
        let page = no_redirect
            .get(app.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Me réabonner à la Lettre du club"), "{page}");
        assert!(
            page.contains(
                "data-confirm=\"Vous désabonner de toutes les listes et lettres du club (1) ?"
            ),
            "leaving everything asks first: {page}"
        );
        let rejoin = no_redirect
            .post(app.url(&format!("/preferences/{preferences}/listes/{}", list.id)))
            .form(&[("action", "rejoin")])
            .send()
            .await
            .unwrap();
        assert_eq!(rejoin.status(), 303);
        let location = rejoin.headers()["location"].to_str().unwrap().to_string();
        let page = no_redirect
            .get(app.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("vous recevez de nouveau cette liste"),
            "{page}"
        );
        assert_eq!(state_of(&app, address).await, "active");
        let again = no_redirect
            .post(app.url(&format!("/preferences/{preferences}/listes/{}", list.id)))
            .form(&[("action", "rejoin")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409, "nothing left to undo");
        let undone = app
            .store
            .list_audit(None, 20)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.entity == "subscription"
                    && e.action == "subscribe"
                    && e.details.contains("undo_unsubscribe")
            })
            .count();
        assert_eq!(undone, 2, "each return is recorded");
        post(format!("/desabonnement/{token}"), "source=page").await;
        app.clock.advance(chrono::Duration::hours(25));
        let (status, page) = post(format!("/desabonnement/{token}/reabonner"), "").await;
        assert_eq!(status, 409);
        assert!(page.contains("formulaire d'abonnement"), "{page}");
        assert_eq!(state_of(&app, address).await, "unsubscribed");
        app.stop().await;
    }

    run_on_both_databases!();
}
