//! `relais bench list`: posts to a discussion list of N subscribers, handed to relais over LMTP on
//! 127.0.0.1, redistributed through the mail engine into Postfix's `smtp-sink`. For each post it measures
//! from the end of LMTP DATA (the final reply) to the last copy accepted by the sink, and prints p50 and p99
//! over the posts, and copies per second. Every copy has its own envelope (VERP) and one-click unsubscribe
//! link and is RSA-2048-signed; `--copies personal` (the default) names each subscriber in To,
//! `--copies shared` the list. Only copies recorded as sent count, and the run fails if any is not; the machine's baselines (`smtp-source`
//! into the same sink, `openssl speed rsa2048`) are printed after.

use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::harness::{baselines, cpu_seconds, peak_resident_kb, sending_settings, start_sink};
use crate::clock::Clock;
use crate::domain::mail_kind::{DeliveryState, MailKind};
use crate::inbound::Inbound;
use crate::inbound::session::Protocol;
use crate::mail::worker::Deliverer;
use crate::store::Store;
use crate::store::discussion::DiscussionList;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Database: empty for a SQLite file in a temporary folder, or a postgres:// URL of an EMPTY database.
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value_t = 1_000)]
    pub subscribers: usize,
    #[arg(long, default_value_t = 20)]
    pub posts: usize,
    /// Delivery workers, and connections to the sink.
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    /// `personal`: To names each subscriber; `shared`: To names the list. Every copy is signed.
    #[arg(long, default_value = "personal", value_parser = ["personal", "shared"])]
    pub copies: String,
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let (dir, url) = super::workspace(&args.database_url)?;
    let (_sink, port) = start_sink().await?;
    let mut settings = sending_settings(&url, dir.path(), port, args.workers, 100)?;
    settings.inbound.trusted_authserv_ids = vec!["mx.relais-bench.example".into()];
    let store = Store::connect(&url, settings.database.max_connections).await?;
    store.migrate().await?;
    let clock = Clock::system();
    seed_list(&store, &args, clock.now_millis()).await?;

    let settings = std::sync::Arc::new(settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lmtp = listener.local_addr()?;
    let stop = CancellationToken::new();
    let inbound = Inbound::new(store.clone(), settings.clone(), clock.clone());
    let serving = tokio::spawn(
        inbound
            .clone()
            .serve(listener, Protocol::Lmtp, stop.clone()),
    );
    let routing = tokio::spawn(inbound.route_until_stopped(stop.clone()));
    let deliverer = Deliverer::new(store.clone(), clock.clone(), &settings).await?;
    let workers = tokio::spawn(deliverer.run_until_stopped(stop.clone()));

    let cpu_before = cpu_seconds(None);
    let started = Instant::now();
    let mut run = Run::default();
    for n in 0..args.posts {
        let accepted = post_over_lmtp(lmtp, n).await?;
        let message_id = wait_until_sent(&store, n, accepted).await?;
        run.times.push(accepted.elapsed());
        run.count_copies(&store, message_id).await?;
    }
    let total = started.elapsed();
    let cpu = cpu_seconds(None)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    stop.cancel();
    let _ = serving.await;
    let _ = routing.await;
    let _ = workers.await;
    report(&args, &store, &run, total, cpu)?;
    // The machine's own figures beside relais' (machines of this kind sign RSA up to 2.8 times faster than
    // others): Postfix's client into the same sink, and OpenSSL's RSA-2048 signatures.
    baselines(port).await;
    store.close().await;
    drop(dir);
    Ok(())
}

/// The list `echanges` and its subscribers.
async fn seed_list(store: &Store, args: &ListArgs, now: i64) -> anyhow::Result<()> {
    store
        .create_discussion_list(
            &DiscussionList {
                id: 0,
                list_key: "echanges".into(),
                name: "Échanges du club".into(),
                description: String::new(),
                kind: crate::domain::ListKind::Discussion,
                subject_prefix: "[Club]".into(),
                reply_to: crate::domain::ReplyTo::List,
                post_policy: crate::domain::PostPolicy::Members,
                archive: "members".into(),
                max_bytes: 5 << 20,
                personalized: args.copies == "personal",
                strip_executables: true,
            },
            now,
        )
        .await?;
    let list = store
        .mailing_list("echanges")
        .await?
        .ok_or_else(|| anyhow::anyhow!("list missing"))?;
    let entries: Vec<(String, String)> = (0..args.subscribers)
        .map(|n| {
            (
                format!("membre{n}@commune{}.example", n % 97),
                format!("Membre {n}"),
            )
        })
        .collect();
    store
        .add_subscriptions(&list, &entries, "staff", "legitimate_interest", now)
        .await?;
    Ok(())
}

/// Hands post `n` to relais over LMTP; returns when the final reply to DATA came.
async fn post_over_lmtp(lmtp: std::net::SocketAddr, n: usize) -> anyhow::Result<Instant> {
    let post = format!(
        "Authentication-Results: mx.relais-bench.example; dkim=pass header.d=commune0.example\r\n\
         From: Membre 0 <membre0@commune0.example>\r\nTo: <echanges@relais-bench.example>\r\n\
         Subject: Re: [Club] Sujet {n}\r\nMessage-ID: <banc-{n}@commune0.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Nous avons raccordé le terrain en une semaine, avec l'appui de la préfecture.\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(lmtp).await?;
    let dialogue = format!(
        "LHLO banc\r\nMAIL FROM:<membre0@commune0.example>\r\nRCPT TO:<echanges@relais-bench.example>\r\nDATA\r\n{post}.\r\n"
    );
    stream.write_all(dialogue.as_bytes()).await?;
    let mut replies = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&replies).contains("250 2.0.0") {
        let read = stream.read(&mut buf).await?;
        anyhow::ensure!(
            read > 0,
            "LMTP closed: {}",
            String::from_utf8_lossy(&replies)
        );
        replies.extend_from_slice(&buf[..read]);
    }
    let accepted = Instant::now();
    stream.write_all(b"QUIT\r\n").await?;
    Ok(accepted)
}

/// Waits for post `n`'s mail to appear once routed, then for its last copy; returns the mail's id.
async fn wait_until_sent(store: &Store, n: usize, accepted: Instant) -> anyhow::Result<i64> {
    let message_id = loop {
        let posts = store
            .list_mail_messages(n as i64 + 5)
            .await?
            .into_iter()
            .filter(|m| m.kind == MailKind::ListPost.as_str())
            .count();
        if posts > n {
            break store
                .list_mail_messages(1)
                .await?
                .first()
                .map(|m| m.id)
                .unwrap_or_default();
        }
        anyhow::ensure!(
            accepted.elapsed() < Duration::from_secs(30),
            "post {n} not routed"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    while store.deliveries_queued(message_id).await? > 0 {
        anyhow::ensure!(
            accepted.elapsed() < Duration::from_secs(60),
            "post {n} not sent"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(message_id)
}

/// What the posts measured.
#[derive(Default)]
struct Run {
    /// From the end of LMTP DATA to the last copy, per post.
    times: Vec<Duration>,
    sent: usize,
    failures: Vec<String>,
}

impl Run {
    /// Only copies the sink accepted count: a copy that failed or bounced is no copy sent.
    async fn count_copies(&mut self, store: &Store, message_id: i64) -> anyhow::Result<()> {
        for row in store.deliveries_of(message_id).await? {
            if row.state == DeliveryState::Sent {
                self.sent += 1;
            } else {
                self.failures.push(format!(
                    "{} {}: {}",
                    row.recipient, row.state, row.last_reply
                ));
            }
        }
        Ok(())
    }
}

/// Fails when a copy was not sent; else prints the percentiles, the rate, the CPU time and memory.
fn report(
    args: &ListArgs,
    store: &Store,
    run: &Run,
    total: Duration,
    cpu: Option<f64>,
) -> anyhow::Result<()> {
    let mut sorted = run.times.clone();
    sorted.sort();
    let percentile = |p: f64| {
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    };
    let copies = run.sent;
    anyhow::ensure!(
        run.failures.is_empty(),
        "{} of {} copies not sent, e.g. {}",
        run.failures.len(),
        args.posts * args.subscribers,
        run.failures.first().cloned().unwrap_or_default()
    );
    println!(
        "{} posts to a list of {} on {}: end of LMTP DATA → last copy accepted: p50 {:.3} s, p99 {:.3} s (max {:.3} s)",
        args.posts,
        args.subscribers,
        store.backend_name(),
        percentile(0.5).as_secs_f64(),
        percentile(0.99).as_secs_f64(),
        sorted.last().copied().unwrap_or_default().as_secs_f64()
    );
    println!(
        "{copies} copies in {:.2} s: {:.0} copies/s ({} workers, {}, RSA-2048)",
        total.as_secs_f64(),
        copies as f64 / total.as_secs_f64(),
        args.workers,
        if args.copies == "personal" {
            "personalised copies, each signed"
        } else {
            "shared copies (To: the list), each signed"
        }
    );
    if let Some(cpu) = cpu {
        println!(
            "CPU time per copy: {:.0} µs",
            cpu * 1e6 / copies.max(1) as f64
        );
    }
    println!(
        "peak resident memory of relais: {:.1} MB",
        peak_resident_kb()? as f64 / 1024.0
    );
    Ok(())
}
