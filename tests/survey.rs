//! The needs survey on both databases: staff invite contacts of targets (each gets a personal link, the
//! targets move to "survey sent"), a contact keeps a draft, a wrong value is refused with a clear message,
//! answers are recorded once (a used link gets a clear page), unanswered invitations get one reminder and
//! then expire (a clear page too), each answer logs an interaction and moves its target to "survey
//! answered", and the results aggregate known answers into the expected means, matrices, wanted themes and
//! speakers, on the page and in the export.

mod common;

use std::time::Duration;

use common::{Backend, TestApp};
use relais::domain::Role;

/// The survey link sent to `address`, among the mails written so far.
async fn survey_link(app: &TestApp, address: &str) -> String {
    for _ in 0..200 {
        for raw in app.written_mails() {
            if !raw.to_lowercase().contains(&format!("<{address}>")) {
                continue;
            }
            let unfolded = raw.replace("=\r\n", "");
            if let Some(start) = unfolded.find("/enquete/") {
                return unfolded[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                    .collect();
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no survey link for {address}");
}

async fn post(link: &str, app: &TestApp, fields: &[(&str, &str)]) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(app.url(link))
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn kind_count(app: &TestApp, kind: &str) -> usize {
    app.store
        .list_mail_messages(200)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == kind)
        .count()
}

mod invitations_answers_reminders_and_results {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut targets = Vec::new();
        for code in ["69123", "13055", "67482", "31555"] {
            targets.push(app.add_target(code).await);
        }
        let staff = app.logged_in(Role::Staff, &[]).await;
        let page = staff.get_text("/recensement").await;
        assert!(page.contains("Contact de Lyon"), "{page}");
        let survey = app.store.survey().await.unwrap();
        let contacts = app.store.invitable_contacts(survey.id).await.unwrap();
        let mut fields: Vec<(&str, String)> = contacts
            .iter()
            .map(|c| ("person", c.person_id.to_string()))
            .collect();
        fields.push(("person", contacts[0].person_id.to_string()));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = staff.post_form("/recensement/invitations", &fields).await;
        assert_eq!(response.status(), 200);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("4 invitations envoyées")
        );
        // Asking again sends nothing new.
        let again = staff.post_form("/recensement/invitations", &fields).await;
        assert!(again.text().await.unwrap().contains("0 invitation envoyée"));
        assert_eq!(kind_count(&app, "survey_invitation").await, 4);
        let lyon = app
            .store
            .target(relais::store::Scope::All, targets[0])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lyon.stage.as_str(), "survey_sent");

        // Lyon keeps a draft, then sends a wrong value (refused, nothing lost), then a valid answer.
        let link = survey_link(&app, "maire@69123.example.org").await;
        let (status, form) = post(&link, &app, &[]).await;
        assert_eq!(status, 422, "an empty answer is refused: {form}");
        assert!(form.contains("Indiquez au moins"), "{form}");
        let (status, saved) = post(
            &link,
            &app,
            &[
                ("problems", "Pas d'eau sur le terrain"),
                ("interest_eau", "2"),
                ("action", "brouillon"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert!(saved.contains("Vos réponses sont enregistrées"), "{saved}");
        let reopened = reqwest::get(app.url(&link))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            reopened.contains("Pas d&#39;eau sur le terrain"),
            "the draft: {reopened}"
        );
        assert!(
            reopened.contains("<option value=\"2\" selected>+2 prioritaire"),
            "{reopened}"
        );
        let (status, refused) = post(
            &link,
            &app,
            &[
                ("problems", "Pas d'eau"),
                ("interest_eau", "5"),
                ("experience_eau", "3"),
                ("action", "envoyer"),
            ],
        )
        .await;
        assert_eq!(status, 422);
        assert!(refused.contains("Accès à l&#39;eau"), "{refused}");
        assert!(
            refused.contains("Pas d&#39;eau"),
            "the values stay: {refused}"
        );
        let answers: [(&str, &[(&str, &str)]); 3] = [
            (
                "maire@69123.example.org",
                &[
                    ("problems", "Pas d'eau"),
                    ("interest_eau", "2"),
                    ("experience_eau", "3"),
                    ("interest_scolarisation", "1"),
                    ("experience_scolarisation", "0"),
                    ("involvement", "Participer aux réunions"),
                    ("slot", "Mardi après-midi"),
                    ("slot", "Jeudi après-midi"),
                ],
            ),
            (
                "maire@13055.example.org",
                &[
                    ("interest_eau", "2"),
                    ("experience_eau", "1"),
                    ("interest_emploi", "-1"),
                    ("experience_emploi", "0"),
                ],
            ),
            (
                "maire@67482.example.org",
                &[
                    ("interest_eau", "0"),
                    ("experience_eau", "2"),
                    ("interest_scolarisation", "2"),
                    ("experience_scolarisation", "2"),
                ],
            ),
        ];
        for (address, fields) in answers {
            let link = survey_link(&app, address).await;
            let mut fields = fields.to_vec();
            fields.push(("action", "envoyer"));
            let (status, thanks) = post(&link, &app, &fields).await;
            assert_eq!(status, 200, "{thanks}");
            assert!(thanks.contains("Merci"));
        }

        // A used link: a clear page, on opening and on sending.
        let used = reqwest::get(app.url(&link)).await.unwrap();
        assert_eq!(used.status(), 410);
        assert!(used.text().await.unwrap().contains("déjà été rempli"));
        let (status, _) = post(
            &link,
            &app,
            &[("interest_eau", "1"), ("experience_eau", "1")],
        )
        .await;
        assert_eq!(status, 410);
        let lyon = app
            .store
            .target(relais::store::Scope::All, targets[0])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lyon.stage.as_str(), "survey_answered");
        let interactions = app
            .store
            .interactions(relais::store::Scope::All, targets[0])
            .await
            .unwrap();
        assert!(
            interactions
                .iter()
                .any(|(i, people)| i.kind == "survey"
                    && people == &vec!["Contact de Lyon".to_string()]),
            "{interactions:?}"
        );

        // Ten days on, the one who did not answer gets one reminder; a month on, the link has expired.
        app.clock.advance(chrono::Duration::days(11));
        for _ in 0..200 {
            if kind_count(&app, "survey_reminder").await > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(kind_count(&app, "survey_reminder").await, 1);
        let toulouse = survey_link(&app, "maire@31555.example.org").await;
        assert_eq!(
            reqwest::get(app.url(&toulouse)).await.unwrap().status(),
            200
        );
        app.clock.advance(chrono::Duration::days(20));
        let expired = reqwest::get(app.url(&toulouse)).await.unwrap();
        assert_eq!(expired.status(), 410);
        assert!(expired.text().await.unwrap().contains("a expiré"));
        let forged = reqwest::get(app.url("/enquete/pas-un-lien")).await.unwrap();
        assert_eq!(forged.status(), 404);

        // Results: a meeting already took up water, so schooling is the theme most wanted.
        let series = app
            .store
            .create_series(
                &relais::store::meeting_series::NewSeries {
                    title: "Réunion du club".into(),
                    rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
                    first_start: "2027-02-02T14:00".into(),
                    duration_minutes: 120,
                    video_url: String::new(),
                    invite_members: true,
                    invite_staff: true,
                },
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let start = chrono::DateTime::parse_from_rfc3339("2027-02-02T13:00:00Z")
            .unwrap()
            .timestamp_millis();
        app.store
            .add_occurrences(series, &[(start, start + 7_200_000)], "club.example", 0)
            .await
            .unwrap();
        let meeting = app.store.meetings_from(0, 1).await.unwrap().remove(0);
        app.store
            .change_meeting(
                meeting.id,
                &relais::store::meetings::MeetingChange {
                    starts_at: meeting.starts_at,
                    ends_at: meeting.ends_at,
                    theme: "Accès à l'eau potable".into(),
                },
                0,
            )
            .await
            .unwrap();
        let staff = app.logged_in(Role::Staff, &[]).await;
        let results = staff.get_text("/recensement/resultats").await;
        assert!(results.contains("<strong>3 réponses</strong>"), "{results}");
        let wanted = &results[results.find("id=\"wanted\"").unwrap()..];
        let wanted = &wanted[..wanted.find("</ol>").unwrap()];
        assert!(
            wanted.contains("<strong>Scolarisation</strong> — intérêt moyen +1,5, 2 réponses ; peuvent témoigner : Contact de Strasbourg (Strasbourg)"),
            "{wanted}"
        );
        assert!(!wanted.contains("Accès"), "water is covered: {wanted}");
        assert!(!wanted.contains("Emploi"), "not wanted: {wanted}");
        // Water: interests 2, 2, 0 and experiences 3, 1, 2.
        assert!(
            results.contains(
                "<td>Accès à l&#39;eau</td><td>3 réponses</td><td>+1,3</td><td>2,0</td><td>oui</td>"
            ),
            "{results}"
        );
        // A theme nobody rated reads as such, not as "+0.0".
        assert!(
            results.contains("<td>aucune réponse</td><td>—</td><td>—</td>"),
            "{results}"
        );
        assert!(
            !results.contains("+0.0") && !results.contains("+0,0"),
            "{results}"
        );
        let water = &results[results.find("data-theme=\"eau\"").unwrap()..];
        let water = &water[..water.find("</table>").unwrap()];
        let rows: Vec<String> = water
            .split("<tr><th scope=\"row\">")
            .skip(1)
            .map(|row| {
                row.replace("</td><td>", " ")
                    .replace("</th><td>", ": ")
                    .replace("</td></tr>", "")
                    .replace("</tbody>", "")
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                "2: 0 1 0 1",
                "1: 0 0 0 0",
                "0: 0 0 1 0",
                "-1: 0 0 0 0",
                "-2: 0 0 0 0"
            ],
            "{water}"
        );
        let meeting_page = staff.get_text(&format!("/reunions/{}", meeting.id)).await;
        assert!(
            meeting_page
                .contains("Thèmes suggérés par le recensement : <strong>Scolarisation</strong>"),
            "{meeting_page}"
        );

        // The export, one line per answer and two columns per theme.
        let csv = staff.get("/recensement/export?format=csv").await;
        assert_eq!(csv.status(), 200);
        let csv = csv.text().await.unwrap();
        assert!(
            csv.contains("Accès à l'eau : intérêt;Accès à l'eau : expérience"),
            "{csv}"
        );
        assert!(csv.contains("Mardi après-midi, Jeudi après-midi"), "{csv}");
        assert_eq!(
            csv.trim().lines().count(),
            4,
            "a header and three answers: {csv}"
        );
        let xlsx = staff.get("/recensement/export?format=xlsx").await;
        assert_eq!(xlsx.status(), 200);
        assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
        app.stop().await;
    }

    run_on_both_databases!();
}
