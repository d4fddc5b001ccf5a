//! Staff read their own words, never internal codes: the stage of each contact on /recensement, the kind of
//! each mail on /courriers (with a filter by kind) and on a message's page; the audit log told as French
//! sentences, filtered by person, object, action and dates, fifty entries a page; and the consequential
//! actions that were silent before (a newsletter sent, a list created, contacts subscribed by staff) are in it.

mod common;

use common::newsletter::send_issue;
use common::{Backend, TestApp};
use relais::domain::Role;
use relais::store::audit::{self, Actor};

const LYON: &str = "69123";

mod staff_pages_name_stages_and_mail_kinds_in_french_and_the_journal_tells_sentences {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let target = app.add_target(LYON).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let name = app
            .store
            .user_by_id(staff.user_id)
            .await
            .unwrap()
            .unwrap()
            .name;

        // The survey's invitation table names the stage as staff say it.
        let survey = staff.get_text("/recensement").await;
        assert!(survey.contains("<td>Identifiée</td>"), "{survey}");
        assert!(!survey.contains(">identified<"));

        // Staff subscribe the contacts of identified targets, send an issue, create a list, move the target.
        let subscribed = staff
            .post_form("/abonnes", &[("selection", "identified")])
            .await;
        assert_eq!(subscribed.status(), 200);
        let issue = send_issue(&app, &staff, "n° 1", &[("other", "Brève", "Un mot.")]).await;
        let created = staff
            .post_form(
                "/listes",
                &[
                    ("key", "echanges"),
                    ("name", "Échanges du club"),
                    ("subject_prefix", "[Club]"),
                    ("reply_to", "list"),
                    ("post_policy", "members"),
                    ("archive", "members"),
                    ("max_kb", "5120"),
                ],
            )
            .await;
        assert_eq!(created.status(), 303);
        let moved = staff
            .post_form(
                &format!("/targets/{target}/stage"),
                &[("stage", "contacted")],
            )
            .await;
        assert_eq!(moved.status(), 303);

        // "Courriers envoyés" names each kind in French, and filters by kind.
        let mail = staff.get_text("/courriers").await;
        assert!(mail.contains("<td>Lettre du club</td>"), "{mail}");
        assert!(!mail.contains("<td>newsletter</td>"));
        assert!(mail.contains("<option value=\"list_post\">Message de liste</option>"));
        let only_newsletters = staff.get_text("/courriers?kind=newsletter").await;
        assert!(only_newsletters.contains("Lettre du club : n° 1"));
        let only_posts = staff.get_text("/courriers?kind=list_post").await;
        assert!(!only_posts.contains("Lettre du club : n° 1"));
        assert!(only_posts.contains("Aucun courrier"));
        let message_id = app
            .store
            .list_mail_messages_of_kind(Some("newsletter"), 1)
            .await
            .unwrap()[0]
            .id;
        let message = staff.get_text(&format!("/courriers/{message_id}")).await;
        assert!(message.contains("<dd>Lettre du club</dd>"), "{message}");

        // The journal: one sentence per entry, the object linked, no code and no JSON.
        let journal = staff.get_text("/audit").await;
        assert!(
            journal.contains(&format!(
                "{name} a passé <a href=\"/targets/{target}\">Lyon</a> de « Identifiée » à « Contactée »."
            )),
            "{journal}"
        );
        assert!(journal.contains(&format!(
            "{name} a envoyé la lettre <a href=\"/lettre/numeros/{issue}\">n° 1</a> à 1 abonné·e."
        )));
        assert!(journal.contains(&format!("{name} a créé la liste Échanges du club.")));
        assert!(journal.contains(&format!(
            "{name} a abonné 1 adresse à la liste Lettre du club."
        )));
        assert!(journal.contains("Ligne de commande a créé la cible"));
        assert!(!journal.contains("{&quot;") && !journal.contains("{\""));
        assert!(!journal.contains(" stage ") && !journal.contains("survey_sent"));

        // Filters: by action, by kind of object, by person, by dates.
        let sends = staff.get_text("/audit?action=send").await;
        assert!(sends.contains("a envoyé la lettre") && !sends.contains("a créé la liste"));
        let lists = staff.get_text("/audit?entity=list").await;
        assert!(lists.contains("a créé la liste") && !lists.contains("a envoyé la lettre"));
        let by_command_line = staff.get_text("/audit?actor=ligne+de+commande").await;
        assert!(by_command_line.contains("a créé la cible"));
        assert!(!by_command_line.contains("a envoyé la lettre"));
        let before = staff.get_text("/audit?to=2026-01-01").await;
        assert!(before.contains("Aucune entrée ne correspond à ces critères."));
        let today = staff.get_text("/audit?from=2026-11-23&to=2026-11-23").await;
        assert!(today.contains("a envoyé la lettre"));
        let inverted = staff.get_text("/audit?from=2026-11-24&to=2026-11-23").await;
        assert!(inverted.contains("inversez-les"));

        // Fifty entries a page, with links to the next and previous pages.
        let mut tx = app.store.begin().await.unwrap();
        for n in 0..60 {
            audit::record(
                &mut tx,
                &Actor::command_line(),
                "update",
                "person",
                Some(1000 + n),
                serde_json::json!({ "label": format!("Personne {n}"), "changes": {"function": ["", "maire"]} }),
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let first = staff.get_text("/audit").await;
        assert_eq!(first.matches("<li><time>").count(), 50);
        assert!(first.contains(
            "a modifié le contact <a href=\"/people/1059\">Personne 59</a> : la fonction."
        ));
        assert!(first.contains("rel=\"next\">Suivante →</a>") && !first.contains("rel=\"prev\""));
        let second = staff.get_text("/audit?page=2").await;
        assert!(second.contains("rel=\"prev\">← Précédente</a>"));
        assert!(second.contains("a envoyé la lettre"));
        app.stop().await;
    }

    run_on_both_databases!();
}

mod the_import_preview_says_what_each_line_creates_and_no_url_carries_the_token {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let form = staff.get_text("/import").await;
        assert!(
            !form.contains("_csrf="),
            "the upload form's address holds no token"
        );
        assert!(form.contains("<input type=\"hidden\" name=\"_csrf\""));

        // The token as the upload's first field, the way the page's form sends it.
        let csv = "Collectivité;Code INSEE;Contact;Fonction;Email;Statut;Prochaine action;Date prochaine action\n\
                   Lyon;69123;Grégory Doucet;maire;maire@lyon.example;En discussion;Rappeler le cabinet;15/12/2026\n";
        let (status, page) = staff
            .upload_import("cibles.csv", csv.as_bytes().to_vec())
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<li>étape « En discussion »</li>"), "{page}");
        assert!(page.contains("<li>contact : Grégory Doucet (maire, maire@lyon.example)</li>"));
        assert!(page.contains("<li>prochaine action : Rappeler le cabinet le 15/12/2026</li>"));

        // Without the token (nor a header), the upload is refused.
        let bare = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("cibles.csv"),
        );
        let refused = staff
            .client
            .post(app.url("/import/preview"))
            .multipart(bare)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        // A wrong token in the first field is refused too.
        let forged = reqwest::multipart::Form::new()
            .text("_csrf", "pas-le-bon")
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("cibles.csv"),
            );
        let refused = staff
            .client
            .post(app.url("/import/preview"))
            .multipart(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod the_dashboard_late_link_opens_only_the_overdue_targets_highlighted {
    use super::*;
    use relais::store::Scope;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let staff = app.logged_in(Role::Staff, &[]).await;
        let today = app.clock.today();
        let late = app.add_target(LYON).await;
        let later = app.add_target("13055").await;
        let member = app.add_target("42218").await;
        app.add_target("38185").await; // no next action at all
        for (id, days) in [(late, -3), (later, 2), (member, -5)] {
            let target = app.store.target(Scope::All, id).await.unwrap().unwrap();
            let mut fields = target.fields();
            fields.next_action = "Rappeler le cabinet".into();
            fields.next_action_date = Some(today + chrono::Duration::days(days));
            app.store
                .update_target(
                    Scope::All,
                    id,
                    &fields,
                    &Actor::command_line(),
                    app.clock.now_millis(),
                )
                .await
                .unwrap();
        }
        let moved = staff
            .post_form(&format!("/targets/{member}/stage"), &[("stage", "member")])
            .await;
        assert_eq!(moved.status(), 303);

        let dashboard = staff.get_text("/").await;
        let iso = today.format("%Y-%m-%d").to_string();
        let link = format!("/targets?sort=next_action_date&amp;en_retard={iso}");
        assert!(dashboard.contains(&link), "{dashboard}");
        let list = staff
            .get_text(&format!("/targets?sort=next_action_date&en_retard={iso}"))
            .await;
        assert!(list.contains("id=\"overdue-view\""), "{list}");
        assert!(list.contains(&format!("<a href=\"/targets/{late}\">")));
        assert!(!list.contains(&format!("<a href=\"/targets/{later}\">")));
        assert!(
            !list.contains(&format!("<a href=\"/targets/{member}\">")),
            "a member is no follow-up"
        );
        assert_eq!(list.matches("<tr class=\"overdue-row\">").count(), 1);
        let all = staff.get_text("/targets").await;
        assert!(
            !all.contains("overdue-row") && all.contains(&format!("<a href=\"/targets/{later}\">"))
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
