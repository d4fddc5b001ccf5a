//! A full meeting cycle on the test clock, on both databases, with two instances of relais running the
//! dispatches at once: a series is created; eight days before, staff are reminded that the agenda is not
//! ready; seven days before, the ready agenda goes out with its invitation; an invitee answers by link; a
//! change sends an update; the day before, a reminder goes to those who did not decline; after the meeting,
//! attendance and minutes are recorded and sent, and the flagged items are relayed to the member
//! associations' list and pushed to the newsletter; a later occurrence is cancelled after its invitation.
//! Every mail is read back from the capturing SMTP server, and every calendar part is parsed with Python's
//! icalendar and checked against iTIP (same UID, SEQUENCE rising, METHOD matching the content type).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::sink::{Sink, app_sending_to, instance_beside};
use common::{Backend, Staff, TestApp};
use relais::domain::Role;
use relais::store::audit::Actor;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Waits until the dispatch `step` of `meeting` is recorded and its copies have left; returns the message
/// id (None when nobody was to receive it).
async fn dispatched(app: &TestApp, meeting: i64, step: &str) -> Option<i64> {
    for _ in 0..200 {
        let dispatches = app.store.dispatches(meeting).await.unwrap();
        if let Some(dispatch) = dispatches.iter().find(|d| d.step == step) {
            let message = dispatch.message_id?;
            for _ in 0..200 {
                let rows = app.store.deliveries_of(message).await.unwrap();
                if rows.iter().all(|r| r.state != "queued") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            return Some(message);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "no {step} dispatch for meeting {meeting}: {:?}",
        app.store.dispatches(meeting).await.unwrap()
    );
}

/// The club's series as staff create it: every two months, the first Tuesday, 14:00–16:00, staff invited.
async fn club_series(team: &Staff) {
    post_ok(
        team,
        "/reunions/series",
        &[
            ("title", "Réunion du club"),
            ("rrule", "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"),
            ("first_start", "2026-12-01T14:00"),
            ("duration_minutes", "120"),
            ("invite_staff", "oui"),
        ],
    )
    .await;
}

/// The files the sink received for `message`, with their text, once the sink has them all.
async fn copies(sink: &Sink, app: &TestApp, message: i64) -> Vec<(PathBuf, String)> {
    let expected = app
        .store
        .deliveries_of(message)
        .await
        .unwrap()
        .iter()
        .filter(|d| d.state == "sent")
        .count();
    let marker = format!("Message-ID: <{message}.");
    for _ in 0..200 {
        let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(sink.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .filter(|(_, text)| text.contains(&marker))
            .collect();
        if found.len() >= expected {
            found.sort();
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sink did not receive the {expected} copies of message {message}");
}

fn recipient_of(raw: &str) -> String {
    raw.lines()
        .find(|l| l.starts_with("To: "))
        .unwrap_or_default()
        .to_lowercase()
}

/// The calendar parts of `files`, parsed by Python's icalendar.
fn calendars(files: &[&Path]) -> Vec<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/check_ics.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 runs check_ics.py (pip install icalendar, or .ci/run)");
    assert!(
        output.status.success(),
        "icalendar refused a calendar part: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&output.stdout).unwrap()
}

/// The answer link path of a copy (quoted-printable undone), without its `?r=` part.
fn answer_path(raw: &str) -> String {
    let unfolded = raw.replace("=\r\n", "");
    let start = unfolded.find("/reunions/reponse/").expect("an answer link");
    unfolded[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
        .collect()
}

async fn answer(app: &TestApp, path: &str, choice: &str) {
    let client = reqwest::Client::new();
    let page = client
        .get(app.url(&format!("{path}?r={choice}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Confirmer"));
    let done = client
        .post(app.url(path))
        .form(&[("r", choice)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("c'est noté"));
}

/// A staff member logged in now (sessions last three days, and the clock moves weeks).
async fn staff(app: &TestApp) -> Staff {
    app.logged_in(Role::Staff, &[]).await
}

async fn post_ok(staff: &Staff, path: &str, fields: &[(&str, &str)]) {
    let response = staff.post_form(path, fields).await;
    assert_eq!(response.status(), 303, "POST {path}");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        !location.starts_with("/login"),
        "POST {path} needs a session"
    );
}

mod a_full_cycle_with_two_instances {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let second = instance_beside(&app, &sink).await;
        let actor = Actor::command_line();
        let now = app.clock.now_millis();

        // A member collectivity and its representative; a member association and its contact.
        let lyon = app.add_target("69123").await;
        let team = staff(&app).await;
        post_ok(
            &team,
            &format!("/targets/{lyon}/stage"),
            &[("stage", "member")],
        )
        .await;
        let target = app
            .store
            .target(relais::store::Scope::All, lyon)
            .await
            .unwrap()
            .unwrap();
        let people = app
            .store
            .people_of_organisation(relais::store::Scope::All, target.organisation_id)
            .await
            .unwrap();
        app.store
            .update_membership(
                relais::store::Scope::All,
                target.organisation_id,
                app.clock.today(),
                "eau",
                &[people[0].id],
                &actor,
                now,
            )
            .await
            .unwrap();
        let association = app
            .store
            .create_organisation(
                &relais::store::organisations::NewOrganisation {
                    kind: "association".into(),
                    name: "Association du Rhône".into(),
                    ..Default::default()
                },
                &actor,
                now,
            )
            .await
            .unwrap();
        app.store
            .create_person(
                relais::store::Scope::All,
                &relais::store::people::NewPerson {
                    organisation_id: Some(association),
                    full_name: "Relais du Rhône".into(),
                    emails: vec!["relais@asso-rhone.example".into()],
                    ..Default::default()
                },
                &actor,
                now,
            )
            .await
            .unwrap();
        let resource = app
            .store
            .add_resource("Fiche eau", "https://fiches.example/eau", "", "eau", now)
            .await
            .unwrap();

        // A document uploaded as a practical sheet, served without a session; other files refused.
        let upload = |name: &'static str, bytes: &'static [u8]| {
            let team = &team;
            let app = &app;
            async move {
                // The token travels as the form's first field, never in the address.
                let form = reqwest::multipart::Form::new()
                    .text("_csrf", team.csrf.clone())
                    .text("title", "Guide du raccordement")
                    .text("themes", "eau")
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(bytes).file_name(name),
                    );
                team.client
                    .post(app.url("/ressources/document"))
                    .multipart(form)
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            upload("guide raccordement.pdf", b"%PDF-1.4 guide")
                .await
                .status(),
            303
        );
        assert_eq!(upload("outil.exe", b"MZ").await.status(), 400);
        let document = app
            .store
            .resources()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.title == "Guide du raccordement")
            .unwrap();
        assert_eq!(document.url, format!("/ressources/{}/fichier", document.id));
        let served = reqwest::get(app.url(&document.url)).await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "application/pdf");
        assert!(
            served.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("filename*=UTF-8''guide%20raccordement%2Epdf")
        );
        assert_eq!(served.bytes().await.unwrap().as_ref(), b"%PDF-1.4 guide");

        // The series, by the staff form: every two months, the first Tuesday, 14:00–16:00 in Paris.
        post_ok(
            &team,
            "/reunions/series",
            &[
                ("title", "Réunion du club"),
                ("cadence", "bimestrielle"),
                ("ordinal", "1"),
                ("weekday", "1"),
                ("rrule", ""),
                ("first_start", "2026-12-01T14:00"),
                ("duration_minutes", "120"),
                ("video_url", "https://visio.example/club"),
                ("invite_members", "oui"),
                ("invite_staff", "oui"),
            ],
        )
        .await;
        let bad = team
            .post_form(
                "/reunions/series",
                &[
                    ("title", "x"),
                    ("rrule", "FREQ=SOMETIMES"),
                    ("first_start", "2026-12-01T14:00"),
                    ("duration_minutes", "120"),
                ],
            )
            .await;
        assert_eq!(bad.status(), 400, "an unreadable rule is refused");
        let refusal = bad.text().await.unwrap();
        assert!(
            refusal.contains("La règle de récurrence « FREQ=SOMETIMES » n&#39;est pas lisible"),
            "{refusal}"
        );
        // Staff read the series in their words, never the iCalendar rule.
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains(
                "tous les deux mois, le premier mardi, 14:00–16:00, depuis le 01/12/2026"
            ),
            "{overview}"
        );
        let series_line = overview
            .split("<p class=\"series\">")
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or_default();
        assert!(!series_line.contains("FREQ="), "{series_line}");
        let upcoming = app.store.meetings_from(now, 10).await.unwrap();
        assert!(upcoming.len() >= 6, "a year of occurrences: {upcoming:?}");
        let december = upcoming[0].clone();
        let february = upcoming[1].clone();
        assert_eq!(
            december.starts_at,
            at("2026-12-01T13:00:00Z").timestamp_millis()
        );
        assert_eq!(
            february.starts_at,
            at("2027-02-02T13:00:00Z").timestamp_millis()
        );
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(
            page.contains("mardi 1er décembre 2026, 14:00–16:00"),
            "{page}"
        );

        post_ok(
            &team,
            &format!("/reunions/{}/points", december.id),
            &[
                ("title", "Raccordement à l'eau des terrains"),
                ("presenter", "Ville de Lyon"),
                ("duration_minutes", "30"),
                ("resource", &resource.to_string()),
                ("resource", &document.id.to_string()),
            ],
        )
        .await;
        post_ok(
            &team,
            &format!("/reunions/{}/intervenants", december.id),
            &[
                ("name", "Léa Partenaire"),
                ("email", "lea@eau-partenaire.example"),
                ("organisation", "Coalition Eau"),
            ],
        )
        .await;

        // T−8: not ready, staff are reminded (once, though two instances run).
        app.clock.set(at("2026-11-23T13:00:00Z"));
        let reminder = dispatched(&app, december.id, "staff_reminder")
            .await
            .unwrap();
        let staff_copies = copies(&sink, &app, reminder).await;
        assert!(!staff_copies.is_empty());
        assert!(
            staff_copies
                .iter()
                .all(|(_, raw)| !raw.contains("text/calendar"))
        );
        post_ok(
            &team,
            &format!("/reunions/{}/pret", december.id),
            &[("ready", "oui")],
        )
        .await;

        // T−7: the agenda and its invitation, to the representative, the speaker and staff.
        app.clock.set(at("2026-11-24T13:00:00Z"));
        let agenda = dispatched(&app, december.id, "agenda").await.unwrap();
        let agenda_copies = copies(&sink, &app, agenda).await;
        let to: Vec<String> = agenda_copies
            .iter()
            .map(|(_, raw)| recipient_of(raw))
            .collect();
        assert!(
            to.iter().any(|t| t.contains("maire@69123.example.org")),
            "{to:?}"
        );
        assert!(
            to.iter().any(|t| t.contains("lea@eau-partenaire.example")),
            "{to:?}"
        );
        let (_, maire_copy) = agenda_copies
            .iter()
            .find(|(_, raw)| recipient_of(raw).contains("maire@69123"))
            .unwrap();
        assert!(
            maire_copy.contains("text/calendar; method=REQUEST"),
            "{maire_copy}"
        );
        let unfolded = maire_copy.replace("=\r\n", "");
        assert!(unfolded.contains("Raccordement"), "the agenda item");
        assert!(
            unfolded.contains("https://fiches.example/eau"),
            "its resource"
        );
        assert!(!unfolded.contains("RELAISx"), "answer links filled in");

        // Answers by link: the representative comes, the speaker does not.
        answer(&app, &answer_path(maire_copy), "oui").await;
        let (_, lea_copy) = agenda_copies
            .iter()
            .find(|(_, raw)| recipient_of(raw).contains("lea@"))
            .unwrap();
        answer(&app, &answer_path(lea_copy), "non").await;
        let attendees = app.store.attendees(december.id).await.unwrap();
        let response = |address: &str| {
            attendees
                .iter()
                .find(|a| a.address.starts_with(address))
                .unwrap()
                .response
                .clone()
        };
        assert_eq!(response("maire@"), "accepted");
        assert_eq!(response("lea@"), "declined");
        let forged = reqwest::get(app.url("/reunions/reponse/nimporte?r=oui"))
            .await
            .unwrap();
        assert_eq!(forged.status(), 404);

        // A change after sending: an update with a higher SEQUENCE.
        let team = staff(&app).await;
        post_ok(
            &team,
            &format!("/reunions/{}", december.id),
            &[
                ("start", "2026-12-01T14:30"),
                ("duration_minutes", "90"),
                ("theme", "Accès à l'eau"),
            ],
        )
        .await;
        let update = dispatched(&app, december.id, "update").await.unwrap();
        let update_copies = copies(&sink, &app, update).await;

        // T−1: the reminder, to those who did not decline, without a calendar part.
        app.clock.set(at("2026-11-30T13:30:00Z"));
        let day_before = dispatched(&app, december.id, "reminder").await.unwrap();
        let reminder_copies = copies(&sink, &app, day_before).await;
        let to: Vec<String> = reminder_copies
            .iter()
            .map(|(_, raw)| recipient_of(raw))
            .collect();
        assert!(to.iter().any(|t| t.contains("maire@69123")), "{to:?}");
        assert!(
            !to.iter().any(|t| t.contains("lea@")),
            "she declined: {to:?}"
        );
        assert!(
            reminder_copies
                .iter()
                .all(|(_, raw)| !raw.contains("text/calendar"))
        );

        // After the meeting: attendance (pre-filled from the answers), minutes sent once.
        app.clock.set(at("2026-12-01T16:00:00Z"));
        let team = staff(&app).await;
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(page.contains("Enregistrer la présence"), "{page}");
        let maire = attendees
            .iter()
            .find(|a| a.address.starts_with("maire@"))
            .unwrap();
        post_ok(
            &team,
            &format!("/reunions/{}/presence", december.id),
            &[("present", &maire.id.to_string())],
        )
        .await;
        let attended: Vec<_> = app
            .store
            .attendees(december.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.attended == Some(true))
            .map(|a| a.address)
            .collect();
        assert_eq!(attended, vec!["maire@69123.example.org".to_string()]);
        let dashboard = team.get_text("/").await;
        assert!(
            dashboard.contains(&format!(
                "<a href=\"/targets/{lyon}\">Lyon</a></td><td>1</td>"
            )),
            "Lyon attended one meeting: {dashboard}"
        );
        for _ in 0..2 {
            post_ok(
                &team,
                &format!("/reunions/{}/compte-rendu", december.id),
                &[
                    (
                        "minutes",
                        "## Présents\n\nLyon, l'équipe.\n\n**Décision** : une fiche sur l'eau.",
                    ),
                    ("send", "oui"),
                ],
            )
            .await;
        }
        let minutes = dispatched(&app, december.id, "minutes").await.unwrap();
        let minutes_copies = copies(&sink, &app, minutes).await;
        let minutes_text = minutes_copies[0].1.replace("=\r\n", "");
        assert!(minutes_text.contains("une fiche sur l"), "{minutes_text}");
        let archive = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(
            archive.contains("id=\"minutes-archive\"")
                && archive.contains("<strong>Décision</strong>"),
            "the minutes are archived on the meeting's page: {archive}"
        );
        let sent_minutes = app
            .store
            .list_mail_messages(100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "meeting_minutes")
            .count();
        assert_eq!(sent_minutes, 1, "minutes sent once");

        // Flagged items: relayed to the member associations' list, pushed into the newsletter.
        for (kind, title) in [
            ("good_practice", "Une borne-fontaine en une semaine"),
            ("blocking_point", "Refus du gestionnaire du réseau"),
        ] {
            post_ok(
                &team,
                &format!("/reunions/{}/points-forts", december.id),
                &[("kind", kind), ("title", title), ("body", "Détail.")],
            )
            .await;
        }
        post_ok(&team, &format!("/reunions/{}/relais", december.id), &[]).await;
        let relay = dispatched(&app, december.id, "relay").await.unwrap();
        let relay_copies = copies(&sink, &app, relay).await;
        assert_eq!(relay_copies.len(), 1);
        let relay_copy = &relay_copies[0].1;
        assert!(recipient_of(relay_copy).contains("relais@asso-rhone.example"));
        assert!(relay_copy.contains("List-Id:"), "list mail: {relay_copy}");
        assert!(relay_copy.replace("=\r\n", "").contains("borne-fontaine"));
        let response = team
            .post_form(&format!("/reunions/{}/lettre", december.id), &[])
            .await;
        assert_eq!(response.status(), 303);
        let items = app.store.unassigned_items().await.unwrap();
        assert!(
            items
                .iter()
                .any(|i| i.title == "Une borne-fontaine en une semaine" && i.category == "practice"),
            "{items:?}"
        );

        // February: invited, then cancelled: METHOD:CANCEL with the same UID and a higher SEQUENCE.
        let team = staff(&app).await;
        post_ok(
            &team,
            &format!("/reunions/{}/points", february.id),
            &[("title", "Scolarisation")],
        )
        .await;
        post_ok(
            &team,
            &format!("/reunions/{}/pret", february.id),
            &[("ready", "oui")],
        )
        .await;
        app.clock.set(at("2027-01-26T13:00:00Z"));
        let february_agenda = dispatched(&app, february.id, "agenda").await.unwrap();
        let february_copies = copies(&sink, &app, february_agenda).await;
        let team = staff(&app).await;
        post_ok(&team, &format!("/reunions/{}/annuler", february.id), &[]).await;
        let cancel = dispatched(&app, february.id, "cancel").await.unwrap();
        let audit = app
            .store
            .list_audit(Some(("meeting", february.id)), 10)
            .await
            .unwrap();
        let cancelled = audit
            .iter()
            .find(|e| e.action == "cancel")
            .expect("the cancellation is audited");
        let details: serde_json::Value = serde_json::from_str(&cancelled.details).unwrap();
        assert_eq!(details["label"], "réunion du mardi 2 février 2027");
        assert_eq!(
            details["count"].as_u64().unwrap() as usize,
            app.store.deliveries_of(cancel).await.unwrap().len(),
            "it names how many were told"
        );
        let cancel_copies = copies(&sink, &app, cancel).await;
        assert!(cancel_copies[0].1.contains("text/calendar; method=CANCEL"));

        // Every calendar part parses, and satisfies iTIP.
        let in_order: Vec<&Path> = [
            &agenda_copies,
            &update_copies,
            &february_copies,
            &cancel_copies,
        ]
        .iter()
        .flat_map(|copies| copies.iter().map(|(path, _)| path.as_path()))
        .collect();
        let parts = calendars(&in_order);
        assert_eq!(
            parts.len(),
            in_order.len(),
            "one calendar part per invitation"
        );
        for part in &parts {
            assert_eq!(part["method"], part["part_method"], "{part}");
            assert_eq!(part["start_tzid"], "Europe/Paris", "{part}");
            assert_eq!(part["timezones"][0], "Europe/Paris");
            assert_eq!(part["location"], "https://visio.example/club");
            assert_eq!(part["organizer"], "mailto:club@romeurope.example");
            assert!(
                part["attendees"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["rsvp"] == "TRUE" && a["partstat"] == "NEEDS-ACTION"),
                "{part}"
            );
        }
        let of = |uid: &serde_json::Value| -> Vec<&serde_json::Value> {
            parts.iter().filter(|p| &p["uid"] == uid).collect()
        };
        let december_parts = of(&parts[0]["uid"]);
        assert_eq!(
            december_parts.len(),
            agenda_copies.len() + update_copies.len()
        );
        assert_eq!(
            december_parts[0]["sequence"],
            december.sequence + 1,
            "one agenda item added before sending"
        );
        let last = december_parts.last().unwrap();
        assert!(last["sequence"].as_i64() > december_parts[0]["sequence"].as_i64());
        assert_eq!(
            last["start"], "2026-12-01T14:30:00+01:00",
            "the moved start"
        );
        let february_parts = of(&parts.last().unwrap()["uid"]);
        assert_ne!(february_parts[0]["uid"], december_parts[0]["uid"]);
        assert_eq!(february_parts[0]["method"], "REQUEST");
        let cancel_part = february_parts.last().unwrap();
        assert_eq!(cancel_part["method"], "CANCEL");
        assert_eq!(cancel_part["status"], "CANCELLED");
        assert!(cancel_part["sequence"].as_i64() > february_parts[0]["sequence"].as_i64());

        // Two instances, each dispatch once.
        for meeting in [december.id, february.id] {
            let steps: Vec<(String, i64)> = app
                .store
                .dispatches(meeting)
                .await
                .unwrap()
                .into_iter()
                .map(|d| (d.step, d.sequence))
                .collect();
            let mut unique = steps.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), steps.len(), "{steps:?}");
        }
        second.halt().await;
        app.stop().await;
    }

    run_on_both_databases!();
}

/// The invitation to the first meeting of a series reaches nobody twice when relais restarts between
/// passes, and a dispatch missed while relais was down goes out at the next start, marked late.
mod a_dispatch_missed_while_down_is_caught_up_once {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let team = staff(&app).await;
        club_series(&team).await;
        let december = app
            .store
            .meetings_from(app.clock.now_millis(), 1)
            .await
            .unwrap()
            .remove(0);
        post_ok(
            &team,
            &format!("/reunions/{}/points", december.id),
            &[("title", "Tour de table")],
        )
        .await;
        post_ok(
            &team,
            &format!("/reunions/{}/pret", december.id),
            &[("ready", "oui")],
        )
        .await;
        app.halt().await;
        // Down from before T−7 until T−5.
        app.clock.set(at("2026-11-26T10:00:00Z"));
        let again = instance_beside(&app, &sink).await;
        let agenda = dispatched(&again, december.id, "agenda").await.unwrap();
        // The notice to staff is a dispatch of its own, recorded just after the agenda.
        dispatched(&again, december.id, "late_notice").await;
        let dispatches = again.store.dispatches(december.id).await.unwrap();
        let sent = dispatches.iter().find(|d| d.step == "agenda").unwrap();
        assert!(sent.late, "marked late");
        assert!(
            dispatches.iter().any(|d| d.step == "late_notice"),
            "staff told it went late: {dispatches:?}"
        );
        copies(&sink, &again, agenda).await;
        again.halt().await;
        let third = instance_beside(&app, &sink).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let agendas = third
            .store
            .list_mail_messages(100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "meeting_agenda")
            .count();
        assert_eq!(agendas, 1, "not again after a restart");
        third.halt().await;
        app.stop().await;
    }

    run_on_both_databases!();
}

/// The text and recipients of a dispatched message.
async fn message_of(
    app: &TestApp,
    message: i64,
) -> (relais::store::outbox::MailMessage, Vec<String>) {
    let text = app.store.mail_message(message).await.unwrap().unwrap();
    let to = app
        .store
        .deliveries_of(message)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.recipient)
        .collect();
    (text, to)
}

/// Waits for the `n`th dispatch of `step` (1 for the first) and returns its message id.
async fn nth_dispatch(app: &TestApp, meeting: i64, step: &str, n: usize) -> i64 {
    for _ in 0..400 {
        let found: Vec<_> = app
            .store
            .dispatches(meeting)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.step == step)
            .collect();
        if found.len() >= n {
            let mut ids: Vec<i64> = found.iter().filter_map(|d| d.message_id).collect();
            ids.sort();
            return ids[n - 1];
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "no {step} #{n} for meeting {meeting}: {:?}",
        app.store.dispatches(meeting).await.unwrap()
    );
}

fn audit_has(
    entries: &[relais::store::audit::AuditEntry],
    action: &str,
    entity: &str,
    label: &str,
) -> bool {
    entries.iter().any(|e| {
        e.action == action
            && e.entity == entity
            && serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["label"] == label
    })
}

/// A series is created off its rule (moved onto it, staff told), refused when it duplicates another,
/// edited (its coming meetings follow the new rule with their agenda), refused deletion once announced
/// but ended instead; a series never announced is deleted with its meetings. All audited.
mod a_series_is_edited_ended_and_deleted {
    use super::*;

    fn series_form<'a>(
        first_start: &'a str,
        cadence: &'a str,
        ordinal: &'a str,
        weekday: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("title", "Réunion du club"),
            ("cadence", cadence),
            ("ordinal", ordinal),
            ("weekday", weekday),
            ("rrule", ""),
            ("first_start", first_start),
            ("duration_minutes", "120"),
            ("video_url", "https://visio.example/club"),
            ("invite_staff", "oui"),
        ]
    }

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let team = staff(&app).await;

        // Thursday 3 December is not a first Tuesday: the series starts on the rule's next date.
        post_ok(
            &team,
            "/reunions/series",
            &series_form("2026-12-03T14:00", "bimestrielle", "1", "1"),
        )
        .await;
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("Le jeudi 3 décembre 2026 ne tombe pas « tous les deux mois, le premier mardi » : la série commence donc le mardi 2 février 2027."),
            "{overview}"
        );
        let series = app.store.all_series().await.unwrap().remove(0);
        assert_eq!(series.first_start, "2027-02-02T14:00");

        // The same meetings again are refused.
        let twice = team
            .post_form(
                "/reunions/series",
                &series_form("2027-04-06T14:00", "bimestrielle", "1", "1"),
            )
            .await;
        assert_eq!(twice.status(), 409);
        let refusal = twice.text().await.unwrap();
        assert!(refusal.contains("a déjà ces réunions"), "{refusal}");
        assert_eq!(app.store.all_series().await.unwrap().len(), 1);

        // An agenda prepared for the first meeting.
        let now = app.clock.now_millis();
        let first = app.store.meetings_from(now, 1).await.unwrap().remove(0);
        post_ok(
            &team,
            &format!("/reunions/{}/points", first.id),
            &[("title", "Tour de table")],
        )
        .await;

        // The edit page shows the rule in the form's words; the rule changes to the second Thursday at 10:00.
        let page = team
            .get_text(&format!("/reunions/series/{}", series.id))
            .await;
        assert!(
            page.contains("<option value=\"bimestrielle\" selected>"),
            "{page}"
        );
        assert!(page.contains("Supprimer la série et "), "{page}");
        let mut edit = series_form("2027-01-14T10:00", "mensuelle", "2", "3");
        edit.push(("ends_on", "2027-06-30"));
        post_ok(&team, &format!("/reunions/series/{}", series.id), &edit).await;
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("Série « Réunion du club » enregistrée."),
            "{overview}"
        );
        assert!(
            overview.contains("tous les mois, le deuxième jeudi, 10:00–12:00, depuis le 14/01/2027, jusqu'au 30/06/2027"),
            "{overview}"
        );
        let coming = app.store.meetings_from(now, 20).await.unwrap();
        let days: Vec<String> = coming
            .iter()
            .map(|m| {
                relais::french::french_span(
                    DateTime::from_timestamp_millis(m.starts_at).unwrap(),
                    DateTime::from_timestamp_millis(m.ends_at).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            days,
            vec![
                "jeudi 14 janvier 2027, 10:00–12:00",
                "jeudi 11 février 2027, 10:00–12:00",
                "jeudi 11 mars 2027, 10:00–12:00",
                "jeudi 8 avril 2027, 10:00–12:00",
                "jeudi 13 mai 2027, 10:00–12:00",
                "jeudi 10 juin 2027, 10:00–12:00",
            ]
        );
        assert_eq!(
            coming[0].id, first.id,
            "the prepared meeting follows the rule"
        );
        assert_eq!(
            app.store.agenda(first.id).await.unwrap()[0].title,
            "Tour de table"
        );

        // Once its invitation went out, the series cannot be deleted, only ended.
        post_ok(
            &team,
            &format!("/reunions/{}/pret", first.id),
            &[("ready", "oui")],
        )
        .await;
        app.clock.set(at("2027-01-07T09:00:00Z"));
        dispatched(&app, first.id, "agenda").await;
        let team = staff(&app).await;
        // A new rule starting before the announced meeting starts after it; that meeting keeps its date.
        let mut edit = series_form("2026-12-17T10:00", "mensuelle", "3", "3");
        edit.push(("ends_on", "2027-06-30"));
        post_ok(&team, &format!("/reunions/series/{}", series.id), &edit).await;
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("La réunion du jeudi 14 janvier 2027 est déjà annoncée : la nouvelle règle s&#39;applique à partir du jeudi 21 janvier 2027."),
            "{overview}"
        );
        let days: Vec<String> = app
            .store
            .meetings_from(app.clock.now_millis(), 20)
            .await
            .unwrap()
            .iter()
            .map(|m| {
                relais::french::french_span(
                    DateTime::from_timestamp_millis(m.starts_at).unwrap(),
                    DateTime::from_timestamp_millis(m.ends_at).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            days,
            vec![
                "jeudi 14 janvier 2027, 10:00–12:00",
                "jeudi 21 janvier 2027, 10:00–12:00",
                "jeudi 18 février 2027, 10:00–12:00",
                "jeudi 18 mars 2027, 10:00–12:00",
                "jeudi 15 avril 2027, 10:00–12:00",
                "jeudi 20 mai 2027, 10:00–12:00",
                "jeudi 17 juin 2027, 10:00–12:00",
            ]
        );
        let page = team
            .get_text(&format!("/reunions/series/{}", series.id))
            .await;
        assert!(!page.contains("Supprimer la série et "), "{page}");
        assert!(
            page.contains("data-confirm=\"Arrêter la série « Réunion du club » ? 6 réunions à venir pas encore annoncées seront supprimées"),
            "{page}"
        );
        let refused = team
            .post_form(&format!("/reunions/series/{}/supprimer", series.id), &[])
            .await;
        assert_eq!(refused.status(), 409);
        post_ok(
            &team,
            &format!("/reunions/series/{}/arreter", series.id),
            &[],
        )
        .await;
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("Série « Réunion du club » arrêtée après le jeudi 14 janvier 2027 : 6 réunions à venir supprimées"),
            "{overview}"
        );
        let left = app
            .store
            .meetings_from(app.clock.now_millis(), 20)
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].id, first.id);

        // A series nothing was sent for is deleted with its meetings.
        post_ok(
            &team,
            "/reunions/series",
            &series_form("2027-03-05T09:00", "mensuelle", "1", "4"),
        )
        .await;
        let friday = app
            .store
            .all_series()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id != series.id)
            .unwrap();
        let page = team
            .get_text(&format!("/reunions/series/{}", friday.id))
            .await;
        assert!(
            page.contains("Supprimer la série « Réunion du club » et "),
            "{page}"
        );
        post_ok(
            &team,
            &format!("/reunions/series/{}/supprimer", friday.id),
            &[],
        )
        .await;
        assert!(app.store.series(friday.id).await.unwrap().is_none());
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("Série « Réunion du club » supprimée, avec ses"),
            "{overview}"
        );
        let left = app
            .store
            .meetings_from(app.clock.now_millis(), 20)
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "its meetings went with it: {left:?}");

        let audit = app.store.list_audit(None, 50).await.unwrap();
        assert!(
            audit_has(&audit, "create", "meeting_series", "Réunion du club"),
            "{audit:?}"
        );
        assert!(
            audit_has(&audit, "update", "meeting_series", "Réunion du club"),
            "{audit:?}"
        );
        assert!(
            audit_has(&audit, "delete", "meeting_series", "Réunion du club"),
            "{audit:?}"
        );
        assert!(
            audit_has(&audit, "create", "agenda_item", "Tour de table"),
            "{audit:?}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

/// After the agenda went out: a speaker added later gets the invitation itself; each change sends an
/// update that says at its top what changed (the time, an item removed after a confirmation); the
/// day-before reminder says "aujourd'hui" on the morning of the meeting, and none goes when the meeting is
/// less than twelve hours away.
mod updates_say_what_changed_and_reminders_know_the_day {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let app = app_sending_to(backend, &sink).await;
        let team = staff(&app).await;
        club_series(&team).await;
        let coming = app
            .store
            .meetings_from(app.clock.now_millis(), 2)
            .await
            .unwrap();
        let (december, february) = (coming[0].clone(), coming[1].clone());
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(
            page.contains("ordre du jour en préparation, rien d&#39;envoyé"),
            "{page}"
        );
        assert!(!page.contains("version"), "{page}");
        for meeting in [december.id, february.id] {
            for title in ["Tour de table", "Accès à l'eau"] {
                post_ok(
                    &team,
                    &format!("/reunions/{meeting}/points"),
                    &[("title", title)],
                )
                .await;
            }
            post_ok(
                &team,
                &format!("/reunions/{meeting}/pret"),
                &[("ready", "oui")],
            )
            .await;
        }
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(
            page.contains("Ordre du jour marqué prêt"),
            "a success message: {page}"
        );
        assert!(
            page.contains("data-confirm=\"Retirer « Tour de table » de l&#39;ordre du jour ?\""),
            "{page}"
        );

        app.clock.set(at("2026-11-24T13:00:00Z"));
        dispatched(&app, december.id, "agenda").await;
        let team = staff(&app).await;
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(page.contains("· invitation envoyée</p>"), "{page}");
        let invited = app.store.invited_count(december.id).await.unwrap();
        assert!(invited >= 1);
        assert!(
            page.contains(&format!("Annuler la réunion du mardi 1er décembre 2026 ? Les {invited} personnes invitées recevront une annulation.")) || 
            page.contains("Annuler la réunion du mardi 1er décembre 2026 ? La personne invitée recevra une annulation."),
            "{page}"
        );

        // A speaker added now: the invitation, to her alone, with the current SEQUENCE.
        post_ok(
            &team,
            &format!("/reunions/{}/intervenants", december.id),
            &[
                ("name", "Léa Partenaire"),
                ("email", "lea@eau-partenaire.example"),
                ("organisation", ""),
            ],
        )
        .await;
        let invitation = nth_dispatch(&app, december.id, "invitation", 1).await;
        let (message, to) = message_of(&app, invitation).await;
        assert_eq!(to, vec!["lea@eau-partenaire.example".to_string()]);
        assert!(
            message.subject.starts_with("Invitation : Réunion du club"),
            "{}",
            message.subject
        );
        let invitation = message.invitation.as_ref().expect("an invitation");
        assert_eq!(invitation.method, "REQUEST");
        let current = app.store.meeting(december.id).await.unwrap().unwrap();
        assert!(
            invitation
                .ics
                .contains(&format!("SEQUENCE:{}", current.sequence)),
            "{}",
            invitation.ics
        );
        assert!(
            !app.store
                .dispatches(december.id)
                .await
                .unwrap()
                .iter()
                .any(|d| d.step == "update"),
            "nobody else is told anything"
        );

        // The time changes: the update says so at its top, to everyone invited, her included.
        post_ok(
            &team,
            &format!("/reunions/{}", december.id),
            &[
                ("start", "2026-12-01T15:00"),
                ("duration_minutes", "120"),
                ("theme", ""),
            ],
        )
        .await;
        let update = nth_dispatch(&app, december.id, "update", 1).await;
        let (message, to) = message_of(&app, update).await;
        assert!(
            message.subject.starts_with("Modifié : "),
            "{}",
            message.subject
        );
        assert!(
            message
                .body_text
                .contains("Ce qui change : l'horaire passe de 14 h – 16 h à 15 h – 17 h."),
            "{}",
            message.body_text
        );
        assert!(
            to.contains(&"lea@eau-partenaire.example".to_string()),
            "{to:?}"
        );
        assert_eq!(to.len() as i64, invited + 1);

        // An item removed after the agenda went out: an update saying which.
        let item = app.store.agenda(december.id).await.unwrap().remove(0);
        post_ok(
            &team,
            &format!("/reunions/{}/points/{}/supprimer", december.id, item.id),
            &[],
        )
        .await;
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(page.contains("« Tour de table » est retiré de l&#39;ordre du jour. Les personnes invitées reçoivent une mise à jour."), "{page}");
        let update = nth_dispatch(&app, december.id, "update", 2).await;
        let (message, _) = message_of(&app, update).await;
        assert!(
            message
                .body_text
                .contains("Ce qui change : « Tour de table » est retiré de l'ordre du jour."),
            "{}",
            message.body_text
        );
        // An item renamed.
        let item = app.store.agenda(december.id).await.unwrap().remove(0);
        post_ok(
            &team,
            &format!("/reunions/{}/points/{}", december.id, item.id),
            &[
                ("title", "Accès à l'eau potable"),
                ("presenter", ""),
                ("duration_minutes", ""),
                ("description", ""),
            ],
        )
        .await;
        let update = nth_dispatch(&app, december.id, "update", 3).await;
        let (message, _) = message_of(&app, update).await;
        assert!(
            message.body_text.contains(
                "Ce qui change : le point « Accès à l'eau » devient « Accès à l'eau potable »."
            ),
            "{}",
            message.body_text
        );
        let page = team.get_text(&format!("/reunions/{}", december.id)).await;
        assert!(
            page.contains("invitation envoyée (3e mise à jour)"),
            "{page}"
        );
        assert!(
            page.contains("mise à jour de l&#39;invitation (ce qui change : le point « Accès à l&#39;eau » devient « Accès à l&#39;eau potable »)"),
            "staff read what each update said: {page}"
        );

        // Moved and moved back before the dispatcher looked: nothing invitees see changed, no update.
        let moved = relais::store::meetings::MeetingChange {
            starts_at: at("2026-12-01T15:00:00Z").timestamp_millis(),
            ends_at: at("2026-12-01T17:00:00Z").timestamp_millis(),
            theme: String::new(),
        };
        let back = relais::store::meetings::MeetingChange {
            starts_at: at("2026-12-01T14:00:00Z").timestamp_millis(),
            ends_at: at("2026-12-01T16:00:00Z").timestamp_millis(),
            theme: String::new(),
        };
        let now = app.clock.now_millis();
        assert!(
            app.store
                .change_meeting(december.id, &moved, now)
                .await
                .unwrap()
        );
        assert!(
            app.store
                .change_meeting(december.id, &back, now)
                .await
                .unwrap()
        );
        app.store.wake_schedules();
        let mut settled = false;
        for _ in 0..200 {
            let meeting = app.store.meeting(december.id).await.unwrap().unwrap();
            if meeting.sent_sequence == Some(meeting.sequence) {
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(settled, "the dispatcher saw the change");
        let updates = app
            .store
            .dispatches(december.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.step == "update")
            .count();
        assert_eq!(updates, 3, "no update for a change nobody sees");

        // A new video link for the series: the announced meeting sends an update saying so.
        post_ok(
            &team,
            &format!("/reunions/series/{}", december.series_id),
            &[
                ("title", "Réunion du club"),
                ("rrule", "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"),
                ("first_start", "2026-12-01T14:00"),
                ("duration_minutes", "120"),
                ("video_url", "https://visio.example/nouveau"),
                ("invite_staff", "oui"),
            ],
        )
        .await;
        let overview = team.get_text("/reunions").await;
        assert!(
            overview.contains("1 réunion déjà annoncée : les personnes invitées reçoivent le nouveau lien de visioconférence."),
            "{overview}"
        );
        let update = nth_dispatch(&app, december.id, "update", 4).await;
        let (message, _) = message_of(&app, update).await;
        assert!(
            message.body_text.contains(
                "Ce qui change : nouveau lien de visioconférence : https://visio.example/nouveau."
            ),
            "{}",
            message.body_text
        );
        assert_eq!(
            app.store.meetings_from(0, 2).await.unwrap()[0].id,
            december.id,
            "a new link moves no meeting"
        );

        // On the morning of the meeting, 13 hours before: "aujourd'hui", and no calendar promised.
        app.clock.set(at("2026-12-01T01:00:00Z"));
        let reminder = nth_dispatch(&app, december.id, "reminder", 1).await;
        let (message, _) = message_of(&app, reminder).await;
        assert!(
            message.subject.starts_with("Rappel, aujourd'hui : "),
            "{}",
            message.subject
        );
        assert!(
            message
                .body_text
                .contains("la réunion a lieu aujourd'hui, 15 h – 17 h"),
            "{}",
            message.body_text
        );
        assert!(
            !message.body_text.contains("invitation jointe"),
            "{}",
            message.body_text
        );

        // February: relais down from before the invitation until seven hours before: no reminder.
        app.clock.set(at("2027-01-26T13:00:00Z"));
        dispatched(&app, february.id, "agenda").await;
        app.clock.set(at("2027-02-02T06:00:00Z"));
        dispatched(&app, february.id, "reminder_skipped").await;
        assert!(
            !app.store
                .dispatches(february.id)
                .await
                .unwrap()
                .iter()
                .any(|d| d.step == "reminder"),
            "no reminder seven hours before"
        );
        let team = staff(&app).await;
        let page = team.get_text(&format!("/reunions/{}", february.id)).await;
        assert!(page.contains("pas de rappel la veille"), "{page}");

        let audit = app.store.list_audit(None, 100).await.unwrap();
        assert!(
            audit_has(&audit, "delete", "agenda_item", "Tour de table"),
            "{audit:?}"
        );
        assert!(
            audit_has(&audit, "update", "agenda_item", "Accès à l'eau potable"),
            "{audit:?}"
        );
        assert!(
            audit_has(
                &audit,
                "update",
                "meeting",
                "réunion du mardi 1er décembre 2026"
            ),
            "{audit:?}"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
