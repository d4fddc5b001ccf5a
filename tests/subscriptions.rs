//! Subscribing to the newsletter from the public form, on both databases: the bot checks, the confirmation
//! mail (read from the folder transport), the link that confirms only when its button is pressed, asking
//! twice, an expired link, and leaving in one click from a newsletter.

mod common;

use std::time::Duration;

use common::newsletter::{newsletter_copies, send_issue};
use common::sink::{Sink, app_sending_to};
use common::{Backend, TestApp};
use relais::domain::EmailAddress;
use relais::domain::mail_kind::MailKind;
use relais::mail::unsubscribe::UnsubscribeKey;
use relais::store::outbox::{ListHeaders, NewMessage, NewRecipient};

/// The hidden fields of a freshly shown form.
async fn form_fields(client: &reqwest::Client, app: &TestApp) -> (String, String) {
    common::lists::public_form_fields(client, app, "/abonnement").await
}

async fn post_form(
    client: &reqwest::Client,
    app: &TestApp,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let response = client
        .post(app.url("/abonnement"))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `address` receives a mail of the newsletter's list and leaves it with the one-click link of that copy.
async fn leave_by_one_click(app: &TestApp, address: &str) {
    let id = app
        .store
        .enqueue_mail(
            &NewMessage {
                kind: MailKind::Newsletter,
                subject: "Lettre du club n° 0".into(),
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
    let delivery = app.store.deliveries_of(id).await.unwrap()[0].id;
    let key = UnsubscribeKey::new(&app.store.secret("unsubscribe").await.unwrap());
    let response = reqwest::Client::new()
        .post(app.url(&format!("/desabonnement/{}", key.token(delivery))))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The confirmation link's path in the first mail of the folder transport that carries one.
async fn confirmation_link(app: &TestApp) -> String {
    confirmation_link_in(|| app.written_mails()).await
}

/// The confirmation link's path in the first of `mails` that carries one, waiting for the delivery workers.
async fn confirmation_link_in(mails: impl Fn() -> Vec<String>) -> String {
    for _ in 0..100 {
        for raw in mails() {
            // Quoted-printable: soft line breaks removed, the link's characters need no escaping.
            let unfolded = raw.replace("=\r\n", "");
            if let Some(start) = unfolded.find("/abonnement/confirmer/") {
                let link: String = unfolded[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                    .collect();
                return link;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no confirmation mail: {:?}", mails());
}

/// The whole path through a real SMTP server (the aiosmtpd sink): subscribe, confirm from the mail, receive
/// an issue, leave in one click from its header, receive nothing more.
mod a_person_subscribes_confirms_from_the_mail_and_leaves_in_one_click {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let client = reqwest::Client::new();
        let (issued, proof) = form_fields(&client, &app).await;
        let fields = |issued: &str, proof: &str, site: &str| {
            vec![
                ("name", "Camille Martin".to_string()),
                ("email", "Camille.Martin@Commune.example".to_string()),
                ("consent", "oui".to_string()),
                ("site", site.to_string()),
                ("issued", issued.to_string()),
                ("proof", proof.to_string()),
            ]
        };
        let post = |v: Vec<(&'static str, String)>| {
            let client = client.clone();
            let app = app.clone();
            async move {
                let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post_form(&client, &app, &refs).await
            }
        };

        // Sent at once, as a robot does: refused, and nothing stored.
        let (status, page) = post(fields(&issued, &proof, "")).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("trop vite"), "{page}");
        app.clock.advance(chrono::Duration::seconds(3));
        // The field people do not see, filled: refused.
        let (status, _) = post(fields(&issued, &proof, "http://spam.example")).await;
        assert_eq!(status, 422);
        // A forged moment: refused.
        let (status, _) = post(fields("1", &proof, "")).await;
        assert_eq!(status, 422);
        // No consent, a wrong address: both said.
        let (status, page) = post(vec![
            ("email", "pas-une-adresse".to_string()),
            ("issued", issued.clone()),
            ("proof", proof.clone()),
        ])
        .await;
        assert_eq!(status, 422);
        assert!(page.contains("Cochez la case"), "{page}");
        assert!(
            app.store
                .subscription_of("lettre", "camille.martin@commune.example")
                .await
                .unwrap()
                .is_none()
        );

        let (status, page) = post(fields(&issued, &proof, "")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("camille.martin@commune.example"), "{page}");
        let pending = app
            .store
            .subscription_of("lettre", "camille.martin@commune.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((pending.0.as_str(), pending.1), ("pending", None));

        let link = confirmation_link_in(|| sink.received()).await;
        let mail = sink.received().remove(0);
        assert!(
            mail.contains("Subject: Confirmez votre abonnement"),
            "{mail}"
        );
        assert!(mail.contains("Auto-Submitted: auto-generated"));
        // Opening the link (as a mail scanner does) confirms nothing; the button does.
        let opened = client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(opened.status(), 200);
        assert!(opened.text().await.unwrap().contains("Je confirme"));
        assert_eq!(
            app.store
                .subscription_of("lettre", "camille.martin@commune.example")
                .await
                .unwrap()
                .unwrap()
                .0,
            "pending"
        );
        let confirmed = client.post(app.url(&link)).send().await.unwrap();
        assert_eq!(confirmed.status(), 200);
        assert!(confirmed.text().await.unwrap().contains("C'est fait"));
        let active = app
            .store
            .subscription_of("lettre", "camille.martin@commune.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            active,
            (
                "active".to_string(),
                Some(app.clock.now_millis()),
                "public_form".to_string(),
                "2026-11".to_string()
            )
        );
        // The link again: already done.
        let again = client.post(app.url(&link)).send().await.unwrap();
        assert!(again.text().await.unwrap().contains("déjà confirmé"));

        // Asking again: the same page, no second subscription, no second mail.
        let (issued, proof) = form_fields(&client, &app).await;
        app.clock.advance(chrono::Duration::seconds(3));
        let (status, _) = post(fields(&issued, &proof, "")).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1, "no second confirmation mail");

        // Staff write an issue with two items and send it; the subscriber receives it.
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        let first = send_issue(
            &app,
            &staff,
            "n° 1 — décembre",
            &[
                (
                    "legal",
                    "Circulaire du 1er décembre",
                    "Voir le [texte](https://legifrance.example/c1).",
                ),
                (
                    "figures",
                    "1 234 personnes",
                    "Selon le **recensement** de l'année.",
                ),
            ],
        )
        .await;
        let copies = newsletter_copies(&app, first, || sink.received()).await;
        assert_eq!(copies.len(), 1, "one subscriber, one copy");
        let copy = &copies[0];
        assert!(copy.contains("camille.martin@commune.example"), "{copy}");
        assert!(copy.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        let unfolded = copy.replace("=\r\n", "");
        assert!(unfolded.contains("Circulaire du 1er d"), "{unfolded}");
        assert!(
            unfolded.contains(&format!("/lettre/archives/{first}")),
            "view in a browser"
        );

        // Its archive page is public; the feed lists it.
        let archive = client
            .get(app.url("/lettre/archives"))
            .send()
            .await
            .unwrap();
        assert!(archive.text().await.unwrap().contains("n° 1 — décembre"));
        let page = client
            .get(app.url(&format!("/lettre/archives/{first}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(
            page.contains(
                "<a href=\"https://legifrance.example/c1\" rel=\"noopener noreferrer\">texte</a>"
            ),
            "{page}"
        );
        let feed = client
            .get(app.url("/lettre/archives.atom"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            feed.headers()["content-type"],
            "application/atom+xml; charset=utf-8"
        );
        let feed = feed.text().await.unwrap();
        assert!(
            feed.contains(&format!("/lettre/archives/{first}</id>")),
            "{feed}"
        );
        // A feed reader shows the issue itself: its table of contents and its items, escaped once.
        assert!(
            feed.contains(
                "<summary>Au sommaire : Circulaire du 1er décembre ; 1 234 personnes.</summary>"
            ),
            "{feed}"
        );
        assert!(
            feed.contains("&#60;h3&#62;Circulaire du 1er décembre&#60;/h3&#62;"),
            "{feed}"
        );
        assert!(
            feed.contains("&#60;strong&#62;recensement&#60;/strong&#62;"),
            "{feed}"
        );
        let parsed = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, xml.etree.ElementTree as E; E.fromstring(sys.stdin.buffer.read())",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(feed.as_bytes())?;
                child.wait()
            })
            .expect("run python3");
        assert!(parsed.success(), "the feed is well-formed XML: {feed}");

        // One click in the mail client, from the issue's own header, ends the subscription.
        let header_line = copy
            .replace("\r\n ", " ")
            .lines()
            .find(|l| l.starts_with("List-Unsubscribe:"))
            .unwrap()
            .to_string();
        let start = header_line.find("/desabonnement/").unwrap();
        let path = header_line[start..].split('>').next().unwrap().to_string();
        let response = client
            .post(app.url(&path))
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            app.store
                .subscription_of("lettre", "camille.martin@commune.example")
                .await
                .unwrap()
                .unwrap()
                .0,
            "unsubscribed"
        );
        // The next issue does not go to them.
        let second = send_issue(&app, &staff, "n° 2", &[("other", "Brève", "")]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            newsletter_copies(&app, second, || sink.received())
                .await
                .is_empty()
        );
        let page = staff.get_text(&format!("/lettre/numeros/{second}")).await;
        assert!(page.contains("à 0 abonné·e"), "{page}");
        let page = staff.get_text(&format!("/lettre/numeros/{first}")).await;
        assert!(page.contains("à 1 abonné·e"), "{page}");
        // The first issue's report: one recipient, delivered, who left through it.
        for (row, value) in [
            ("Destinataires", 1),
            ("Remis", 1),
            ("En échec", 0),
            ("Désabonnés depuis ce numéro", 1),
        ] {
            assert!(
                page.contains(&format!("{row}</th><td>{value}</td>")),
                "{row}: {page}"
            );
        }

        // A test copy to a staff member: marked, and nobody's subscription.
        let refused = staff
            .post_form(&format!("/lettre/numeros/{first}/essai"), &[])
            .await;
        assert_eq!(refused.status(), 400, "nobody chosen");
        let user = staff.user_id.to_string();
        let response = staff
            .post_form(
                &format!("/lettre/numeros/{first}/essai"),
                &[("user", &user)],
            )
            .await;
        assert_eq!(response.status(), 303);
        let messages = app.store.list_mail_messages(10).await.unwrap();
        let test = messages
            .iter()
            .find(|m| m.kind == "newsletter_test")
            .expect("a test copy enqueued");
        assert!(
            test.subject.starts_with("[Essai] Lettre du club"),
            "{}",
            test.subject
        );
        let rows = app.store.deliveries_of(test.id).await.unwrap();
        let staff_email = app
            .store
            .user_by_id(staff.user_id)
            .await
            .unwrap()
            .unwrap()
            .email;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].recipient, staff_email);
        assert!(
            app.store
                .mail_message(test.id)
                .await
                .unwrap()
                .unwrap()
                .list
                .is_none()
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

both_backends!(
    an_expired_or_unknown_confirmation_link_says_so_and_a_new_request_sends_a_new_link,
    |app: TestApp| async move {
        let client = reqwest::Client::new();
        let (issued, proof) = form_fields(&client, &app).await;
        app.clock.advance(chrono::Duration::seconds(5));
        let fields = [
            ("email", "dgs@commune.example"),
            ("consent", "oui"),
            ("issued", issued.as_str()),
            ("proof", proof.as_str()),
        ];
        assert_eq!(post_form(&client, &app, &fields).await.0, 200);
        let link = confirmation_link(&app).await;
        app.clock.advance(chrono::Duration::hours(49));
        let expired = client.post(app.url(&link)).send().await.unwrap();
        assert_eq!(expired.status(), 410);
        assert!(expired.text().await.unwrap().contains("a expiré"));
        let unknown = client
            .post(app.url("/abonnement/confirmer/inconnu"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        assert!(unknown.text().await.unwrap().contains("n'est pas valide"));

        // Asking again sends a new link, which works; the old one stays refused.
        let (issued, proof) = form_fields(&client, &app).await;
        app.clock.advance(chrono::Duration::seconds(5));
        let fields = [
            ("email", "dgs@commune.example"),
            ("consent", "oui"),
            ("issued", issued.as_str()),
            ("proof", proof.as_str()),
        ];
        assert_eq!(post_form(&client, &app, &fields).await.0, 200);
        let mut new_link = link.clone();
        for _ in 0..100 {
            let links: Vec<String> = app
                .written_mails()
                .iter()
                .filter_map(|raw| {
                    let unfolded = raw.replace("=\r\n", "");
                    let start = unfolded.find("/abonnement/confirmer/")?;
                    Some(
                        unfolded[start..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                            .collect(),
                    )
                })
                .collect();
            if let Some(other) = links.into_iter().find(|l| *l != link) {
                new_link = other;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_ne!(new_link, link, "a second confirmation mail");
        assert_eq!(
            client.post(app.url(&link)).send().await.unwrap().status(),
            404
        );
        let confirmed = client.post(app.url(&new_link)).send().await.unwrap();
        assert_eq!(confirmed.status(), 200);
        assert_eq!(
            app.store
                .subscription_of("lettre", "dgs@commune.example")
                .await
                .unwrap()
                .unwrap()
                .0,
            "active"
        );
    }
);

both_backends!(
    staff_subscribe_the_contacts_of_a_stage_or_a_selection_and_see_why_each_person_receives_the_letter,
    |app: TestApp| async move {
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        let marseille = app.add_target("13055").await;
        let lyon = app.add_target("69123").await;
        for (target, name, email) in [
            (marseille, "Nadia Benali", "Nadia.Benali@marseille.example"),
            (marseille, "Paul Roche", "paul.roche@marseille.example"),
            (lyon, "Léa Morel", "lea.morel@lyon.example"),
        ] {
            let response = staff
                .post_form(
                    &format!("/targets/{target}/contacts"),
                    &[("full_name", name), ("function", "élu·e"), ("email", email)],
                )
                .await;
            assert_eq!(response.status(), 303);
        }
        let response = staff
            .post_form(
                &format!("/targets/{marseille}/stage"),
                &[("stage", "contacted")],
            )
            .await;
        assert_eq!(response.status(), 303);
        // Paul left the letter from an earlier mail: he is not subscribed again.
        leave_by_one_click(&app, "paul.roche@marseille.example").await;

        let viewer = app.logged_in(relais::domain::Role::Viewer, &[]).await;
        assert_eq!(viewer.get("/abonnes").await.status(), 403);
        let response = viewer
            .post_form("/abonnes", &[("selection", "contacted")])
            .await;
        assert_eq!(response.status(), 403);

        let response = staff
            .post_form("/abonnes", &[("selection", "contacted")])
            .await;
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        // Nadia and the contact the target was made with; not Paul. (Askama writes ' as &#39;.)
        assert!(
            page.contains("2 contacts de l&#39;étape « Contactée » abonnés"),
            "{page}"
        );
        assert!(page.contains("nadia.benali@marseille.example"), "{page}");
        assert!(
            page.contains("ajout par l&#39;équipe, intérêt légitime"),
            "{page}"
        );
        assert!(!page.contains("lea.morel@lyon.example"), "another stage");
        assert_eq!(
            app.store
                .subscription_of("lettre", "paul.roche@marseille.example")
                .await
                .unwrap(),
            None,
            "who left is not subscribed again"
        );
        // Once more: nobody is added twice.
        let page = staff
            .post_form("/abonnes", &[("selection", "contacted")])
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("0 contact "), "{page}");
        let response = staff
            .post_form("/abonnes", &[("selection", "nulle-part")])
            .await;
        assert_eq!(response.status(), 400);

        // A selection from the targets list: its filters (here the Rhône) say whose contacts.
        let targets = staff.get_text("/targets?departement=69").await;
        assert!(
            targets.contains("action=\"/abonnes/selection?departement=69\""),
            "{targets}"
        );
        assert!(targets.contains("les contacts de ces 1 cibles"), "{targets}");
        let response = viewer
            .post_form("/abonnes/selection?departement=69", &[])
            .await;
        assert_eq!(response.status(), 403);
        let page = staff
            .post_form("/abonnes/selection?departement=69", &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("2 contacts de la cible de la sélection abonnés"),
            "Léa and Lyon's first contact: {page}"
        );
        assert!(page.contains("lea.morel@lyon.example"), "{page}");
    }
);

both_backends!(
    many_addresses_are_subscribed_at_once_without_duplicates_and_never_who_has_left,
    |app: TestApp| async move {
        let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
        let now = app.clock.now_millis();
        // Someone who left the letter earlier, through a list mail's one-click link.
        leave_by_one_click(&app, "parti@commune.example").await;

        let mut entries: Vec<(String, String)> = (0..1_200)
            .map(|n| (format!("Abonne{n}@Commune.example"), format!("Abonné {n}")))
            .collect();
        entries.push(("abonne7@commune.example".into(), "En double".into()));
        entries.push(("parti@commune.example".into(), "Parti".into()));
        let added = app
            .store
            .add_subscriptions(&list, &entries, "import", "consent", now)
            .await
            .unwrap();
        assert_eq!(added, 1_200, "each address once, and not who left");
        let again = app
            .store
            .add_subscriptions(&list, &entries, "import", "consent", now)
            .await
            .unwrap();
        assert_eq!(again, 0);
        let rows = app.store.subscribers(list.id).await.unwrap();
        assert_eq!(rows.len(), 1_200);
        let seventh = rows
            .iter()
            .find(|r| r.address == "abonne7@commune.example")
            .unwrap();
        assert_eq!(
            (
                seventh.name.as_str(),
                seventh.state.as_str(),
                seventh.consent_source.as_str()
            ),
            ("Abonné 7", "active", "import")
        );
        assert!(rows.iter().all(|r| r.address != "parti@commune.example"));
    }
);
