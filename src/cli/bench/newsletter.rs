//! `relais bench newsletter`: one issue of the newsletter to N subscribers, through the mail engine into
//! Postfix's `smtp-sink` on 127.0.0.1. It subscribes N addresses (as an import would), writes an issue of
//! three items, marks it ready, and measures from the moment it is sent (`Store::send_issue`, which
//! enqueues every copy) to the last copy accepted by the sink, and the process's peak resident memory.

use std::time::{Duration, Instant};

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::harness::{cpu_seconds, peak_resident_kb, sending_settings, start_sink};
use crate::clock::Clock;
use crate::mail::newsletter::render_issue;
use crate::mail::worker::Deliverer;
use crate::store::Store;
use crate::store::newsletter::IssueSending;

#[derive(Args, Debug)]
pub struct NewsletterArgs {
    /// Database: empty for a SQLite file in a temporary folder, or a postgres:// URL of an EMPTY database.
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value_t = 20_000)]
    pub subscribers: usize,
    /// Delivery workers, and connections to the sink.
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
}

pub async fn newsletter(args: NewsletterArgs) -> anyhow::Result<()> {
    let (dir, url) = super::workspace(&args.database_url)?;
    let (_sink, port) = start_sink().await?;
    let settings = sending_settings(&url, dir.path(), port, args.workers, 100)?;
    let store = Store::connect(&url, settings.database.max_connections).await?;
    store.migrate().await?;
    let clock = Clock::system();
    let now = clock.now_millis();

    let list = store
        .mailing_list(crate::store::subscriptions::NEWSLETTER)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the newsletter list is missing"))?;
    let entries: Vec<(String, String)> = (0..args.subscribers)
        .map(|n| {
            (
                format!("abonne{n}@commune{}.example", n % 997),
                format!("Abonné·e n° {n}"),
            )
        })
        .collect();
    let subscribed = Instant::now();
    let added = store
        .add_subscriptions(&list, &entries, "import", "consent", now)
        .await?;
    let subscribed = subscribed.elapsed();
    drop(entries);
    for (category, title, body) in [
        (
            "legal",
            "Circulaire sur la résorption des bidonvilles",
            "Le [texte](https://www.legifrance.gouv.fr/) précise le rôle des **collectivités**.",
        ),
        (
            "figures",
            "Les chiffres de l'année",
            "Environ 20 000 personnes vivent en squats et bidonvilles en France métropolitaine.",
        ),
        (
            "meeting",
            "Prochaine rencontre du club",
            "Mardi 2 février, 14 h – 16 h, en visioconférence : l'accès à l'eau.",
        ),
    ] {
        store
            .add_item(
                category,
                title,
                body,
                &crate::store::audit::Actor::command_line(),
                now,
            )
            .await?;
    }
    let items: Vec<i64> = store
        .unassigned_items()
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    let issue_id = store
        .create_issue(
            list.id,
            "n° 1 — banc d'essai",
            &items,
            &crate::store::audit::Actor::command_line(),
            now,
        )
        .await?;
    store.set_issue_ready(issue_id, true, now).await?;
    let (_, _, message) = render_issue(&store, &settings, &list, issue_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("issue {issue_id} missing"))?;

    let deliverer = Deliverer::new(store.clone(), clock.clone(), &settings).await?;
    let stop = CancellationToken::new();
    let workers = tokio::spawn(deliverer.run_until_stopped(stop.clone()));
    let cpu_before = cpu_seconds(None);
    let sending = Instant::now();
    let outcome = store
        .send_issue(
            issue_id,
            &message,
            &crate::store::audit::Actor::command_line(),
            clock.now_millis(),
        )
        .await?;
    let enqueued = sending.elapsed();
    let IssueSending::Sent { recipients } = outcome else {
        anyhow::bail!("the issue was not sent: {outcome:?}");
    };
    let message_id = store
        .list_mail_messages(1)
        .await?
        .first()
        .map(|m| m.id)
        .ok_or_else(|| anyhow::anyhow!("no message enqueued"))?;
    let limit = Duration::from_secs(60 + args.subscribers as u64 / 200);
    while store.deliveries_queued(message_id).await? > 0 && sending.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = sending.elapsed();
    let cpu_after = cpu_seconds(None);
    stop.cancel();
    let _ = workers.await;
    let states = store.delivery_states(message_id).await?;
    println!(
        "subscribed {added} addresses on {} in {:.2} s; the issue went to {recipients} subscribers",
        store.backend_name(),
        subscribed.as_secs_f64()
    );
    println!(
        "from send to the last copy accepted: {:.2} s (enqueueing {:.2} s), {:.0} copies/s ({} workers, RSA-2048)",
        took.as_secs_f64(),
        enqueued.as_secs_f64(),
        recipients as f64 / took.as_secs_f64(),
        args.workers
    );
    println!("outcomes: {states:?}");
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        println!(
            "CPU time per copy: {:.0} µs",
            (after - before) * 1e6 / recipients.max(1) as f64
        );
    }
    println!(
        "peak resident memory of relais: {:.1} MB",
        peak_resident_kb()? as f64 / 1024.0
    );
    store.close().await;
    drop(dir);
    Ok(())
}
