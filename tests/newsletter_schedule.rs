//! The newsletter's schedule with the test clock, on both databases and with two instances running at once:
//! a month of dates (1st and 15th at 09:00 Paris), reminders to staff three days before, a ready issue sent
//! once at its date, an issue left in draft never sent (staff told), a date missed while relais was down
//! caught up once at the next start with a warning, and the monthly summary for those who chose it. Every
//! copy is read back from the capturing SMTP server.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::newsletter::newsletter_copies;
use common::sink::{Sink, app_sending_to, instance_beside};
use common::{Backend, TestApp};
use relais::domain::Role;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The subjects of the mails of `kind` relais enqueued so far, oldest first.
async fn subjects(app: &TestApp, kind: &str) -> Vec<String> {
    let mut messages = app.store.list_mail_messages(200).await.unwrap();
    messages.retain(|m| m.kind == kind);
    messages.sort_by_key(|m| m.id);
    messages.into_iter().map(|m| m.subject).collect()
}

/// Waits until relais enqueued `count` mails of `kind` (the schedule runs in the background), then a
/// little more to see that no extra one comes.
async fn expect_mails(app: &TestApp, kind: &str, count: usize) -> Vec<String> {
    for _ in 0..200 {
        if subjects(app, kind).await.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found = subjects(app, kind).await;
    assert_eq!(found.len(), count, "mails of kind {kind}: {found:?}");
    found
}

/// An issue with one item, given `date` and, if `ready`, marked ready, through the staff pages.
async fn plan_issue(staff: &common::Staff, title: &str, date: DateTime<Utc>, ready: bool) -> i64 {
    let response = staff
        .post_form(
            "/lettre/elements",
            &[("category", "other"), ("title", title), ("body", "Un mot.")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let item = staff.app.store.unassigned_items().await.unwrap()[0].id;
    let response = staff
        .post_form(
            "/lettre/numeros",
            &[("title", title), ("item", &item.to_string())],
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let date = date.timestamp_millis().to_string();
    let page = staff.get_text(&location).await;
    assert!(
        page.contains(&format!("value=\"{date}\"")),
        "the date is offered: {page}"
    );
    let back_to_the_issue = |response: reqwest::Response| {
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], location.as_str());
    };
    back_to_the_issue(
        staff
            .post_form(&format!("/lettre/numeros/{id}/date"), &[("at", &date)])
            .await,
    );
    if ready {
        back_to_the_issue(
            staff
                .post_form(&format!("/lettre/numeros/{id}/pret"), &[("ready", "oui")])
                .await,
        );
    }
    id
}

mod a_month_of_dates_with_two_instances {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        // Two servers on one database and one clock, from the very start.
        let first = app_sending_to(backend, &sink).await;
        let second = instance_beside(&first, &sink).await;
        let staff = first.logged_in(Role::Staff, &[]).await;
        let list = first.store.mailing_list("lettre").await.unwrap().unwrap();
        let entries: Vec<(String, String)> = ["ana", "bruno", "chloe"]
            .iter()
            .map(|n| (format!("{n}@commune.example"), n.to_string()))
            .collect();
        let now = first.clock.now_millis();
        first
            .store
            .add_subscriptions(&list, &entries, "import", "consent", now)
            .await
            .unwrap();
        // Chloé chose one summary a month.
        assert!(
            first
                .store
                .set_subscription_mode("chloe@commune.example", list.id, "digest", now)
                .await
                .unwrap()
        );

        // A date that is not one of the schedule's is refused.
        let refused = staff
            .post_form("/lettre/numeros/1/date", &[("at", "12345")])
            .await;
        assert_eq!(refused.status(), 400);

        let december_1 = at("2026-12-01T08:00:00Z"); // 09:00 in Paris
        let december_15 = at("2026-12-15T08:00:00Z");
        let ready = plan_issue(&staff, "n° 1 — 1er décembre", december_1, true).await;
        let draft = plan_issue(&staff, "n° 2 — 15 décembre", december_15, false).await;
        let overview = staff.get_text("/lettre").await;
        assert!(overview.contains("1er décembre 2026 à 09:00"), "{overview}");
        assert!(overview.contains("prêt, partira le 1er décembre 2026 à 09:00"));

        // Three days before: one reminder, though two instances run the schedule.
        first.clock.set(at("2026-11-28T08:00:00Z"));
        let notices = expect_mails(&first, "newsletter_notice", 1).await;
        assert_eq!(
            notices[0],
            "La lettre du 1er décembre 2026 à 09:00 se prépare"
        );
        assert!(
            subjects(&first, "newsletter").await.is_empty(),
            "nothing early"
        );

        // The date: the ready issue goes out once, to those who receive each issue.
        first.clock.set(december_1);
        expect_mails(&first, "newsletter", 1).await;
        let copies = newsletter_copies(&first, ready, || sink.received()).await;
        assert_eq!(
            copies.len(),
            2,
            "Ana and Bruno; Chloé waits for her summary"
        );
        assert!(copies.iter().all(|c| !c.contains("chloe@")));
        let (issue, _) = first.store.issue(ready).await.unwrap().unwrap();
        assert_eq!(issue.sent_at, Some(december_1.timestamp_millis()));

        // Before the 15th: the reminder says the issue is still a draft; at the date it is not sent and
        // staff hear of it.
        first.clock.set(at("2026-12-12T08:00:00Z"));
        let notices = expect_mails(&first, "newsletter_notice", 2).await;
        assert_eq!(
            notices[1],
            "La lettre du 15 décembre 2026 à 09:00 se prépare"
        );
        first.clock.set(december_15);
        // Sessions last three days: staff log in again.
        let staff = first.logged_in(Role::Staff, &[]).await;
        let notices = expect_mails(&first, "newsletter_notice", 3).await;
        assert_eq!(
            notices[2],
            "La lettre du 15 décembre 2026 à 09:00 n'est pas partie"
        );
        let (issue, _) = first.store.issue(draft).await.unwrap().unwrap();
        assert_eq!(issue.state, "draft", "a draft is never sent on its own");
        let refused = staff
            .post_form(
                &format!("/lettre/numeros/{draft}/pret"),
                &[("ready", "oui")],
            )
            .await;
        assert_eq!(
            refused.status(),
            400,
            "its date has passed: a new one first"
        );

        // An issue for the 1st of January, ready; then every server stops before that date.
        let january_1 = at("2027-01-01T08:00:00Z");
        let missed = plan_issue(&staff, "n° 3 — janvier", january_1, true).await;
        first.halt().await;
        second.halt().await;

        // Relais comes back on the 3rd, twice at once: the missed issue goes out once, marked late, and
        // the December summary goes to Chloé.
        first.clock.set(at("2027-01-03T10:00:00Z"));
        let third = instance_beside(&first, &sink).await;
        let fourth = instance_beside(&first, &sink).await;
        expect_mails(&third, "newsletter", 2).await;
        let copies = newsletter_copies(&third, missed, || sink.received()).await;
        assert_eq!(copies.len(), 2);
        let late = third
            .store
            .list_audit(Some(("newsletter_issue", missed)), 10)
            .await
            .unwrap();
        assert!(
            late.iter().any(|entry| entry.action == "send_late"),
            "the late sending is recorded: {late:?}"
        );
        let summaries = expect_mails(&third, "newsletter_digest", 1).await;
        assert_eq!(
            summaries[0],
            "Lettre du club : le récapitulatif de décembre 2026"
        );
        let messages = third.store.list_mail_messages(200).await.unwrap();
        let summary = messages
            .iter()
            .find(|m| m.kind == "newsletter_digest")
            .unwrap();
        assert_eq!(summary.recipients, 1, "only Chloé");
        let mut summary_copy = String::new();
        for _ in 0..100 {
            if let Some(copy) = sink
                .received()
                .into_iter()
                .find(|raw| raw.contains(&format!("Message-ID: <{}.", summary.id)))
            {
                summary_copy = copy;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            summary_copy.contains("chloe@commune.example"),
            "{summary_copy}"
        );
        let unfolded = summary_copy.replace("=\r\n", "");
        assert!(unfolded.contains(&format!("/lettre/archives/{ready}")));
        assert!(
            !unfolded.contains(&format!("/lettre/archives/{missed}")),
            "January's is for February"
        );
        assert!(unfolded.contains("List-Unsubscribe-Post"));

        // Starting again changes nothing: each thing happened once.
        third.halt().await;
        let fifth = instance_beside(&first, &sink).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(subjects(&fifth, "newsletter").await.len(), 2);
        assert_eq!(subjects(&fifth, "newsletter_digest").await.len(), 1);
        assert_eq!(subjects(&fifth, "newsletter_notice").await.len(), 3);
        let (issue, _) = fifth.store.issue(draft).await.unwrap().unwrap();
        assert_eq!(issue.state, "draft");
        fourth.halt().await;
        fifth.halt().await;
        first.stop().await;
    }

    run_on_both_databases!();
}
