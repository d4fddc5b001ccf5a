//! Newsletter steps several suites take: staff make and send an issue through the web app, and the copies
//! of an issue are found among the mails a test server received.

use std::time::Duration;

use super::TestApp;

/// Staff add `items` (category, title, Markdown), gather them into an issue, try to send it before it is
/// ready (refused), mark it ready and send it twice (sent once). Returns the issue's id.
pub async fn send_issue(
    app: &TestApp,
    staff: &super::Staff,
    title: &str,
    items: &[(&str, &str, &str)],
) -> i64 {
    for (category, item_title, body) in items {
        let response = staff
            .post_form(
                "/lettre/elements",
                &[
                    ("category", category),
                    ("title", item_title),
                    ("body", body),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
    }
    let pending = app.store.unassigned_items().await.unwrap();
    assert_eq!(pending.len(), items.len());
    let ids: Vec<String> = pending.iter().map(|i| i.id.to_string()).collect();
    let mut fields: Vec<(&str, &str)> = vec![("title", title)];
    fields.extend(ids.iter().map(|id| ("item", id.as_str())));
    let response = staff.post_form("/lettre/numeros", &fields).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let preview = staff.get_text(&location).await;
    assert!(preview.contains("Version HTML") && preview.contains("Version texte"));
    for (_, item_title, _) in items {
        assert!(preview.contains(item_title), "{preview}");
    }
    let refused = staff
        .post_form(&format!("/lettre/numeros/{id}/envoi"), &[])
        .await;
    assert_eq!(refused.status(), 400, "a draft is never sent");
    let response = staff
        .post_form(&format!("/lettre/numeros/{id}/pret"), &[("ready", "oui")])
        .await;
    assert_eq!(response.status(), 303);
    for _ in 0..2 {
        let response = staff
            .post_form(&format!("/lettre/numeros/{id}/envoi"), &[])
            .await;
        assert_eq!(response.status(), 303);
    }
    let page = staff.get_text(&format!("/lettre/numeros/{id}")).await;
    assert!(page.contains("envoyé le"), "{page}");
    id
}

/// The copies of an issue among `mails`, once its deliveries have ended (each copy's Message-ID starts
/// with its message's id).
pub async fn newsletter_copies(
    app: &TestApp,
    issue: i64,
    mails: impl Fn() -> Vec<String>,
) -> Vec<String> {
    let messages = app.store.list_mail_messages(100).await.unwrap();
    let mut copies = Vec::new();
    for summary in messages.iter().filter(|m| m.kind == "newsletter") {
        let message = app.store.mail_message(summary.id).await.unwrap().unwrap();
        if message.cause_id != Some(issue) {
            continue;
        }
        for _ in 0..100 {
            let rows = app.store.deliveries_of(message.id).await.unwrap();
            if rows.iter().all(|r| r.state != "queued") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let marker = format!("Message-ID: <{}.", message.id);
        copies.extend(mails().into_iter().filter(|raw| raw.contains(&marker)));
    }
    copies
}
