//! `relais bench send`: how fast the outbox empties into a real SMTP server, and the memory it takes.
//!
//! It starts Postfix's `smtp-sink` on a free port of 127.0.0.1, enqueues one newsletter-like message to N
//! recipients (each copy with its own bounce address, unsubscribe link and RSA-2048 DKIM signature), runs
//! the delivery workers until every delivery has an outcome, and prints copies per second and the peak
//! resident memory of the process. For comparison it also measures what the machine does without relais:
//! `smtp-source` into the same sink, and `openssl speed rsa2048` on every core.

use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::harness::{
    baselines, cpu_seconds, peak_resident_kb, sending_settings, start_sink, steal_seconds,
    wait_for_port,
};
use crate::clock::Clock;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::{DeliveryState, MailKind};
use crate::mail::worker::Deliverer;
use crate::store::Store;
use crate::store::outbox::{ListHeaders, NewMessage, NewRecipient, add_recipients, enqueue};

#[derive(Args, Debug)]
pub struct SendArgs {
    /// Database: empty for a SQLite file in a temporary folder, or a postgres:// URL of an EMPTY database.
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value_t = 10_000)]
    pub copies: usize,
    /// Delivery workers, and connections to the sink.
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    #[arg(long, default_value_t = 100)]
    pub batch: i64,
    /// Database connections (`database.max_connections`).
    #[arg(long, default_value_t = 8)]
    pub pool: u32,
    /// Also sign with Ed25519 (RSA-2048 always signs).
    #[arg(long)]
    pub ed25519: bool,
    /// Instances of relais sending from the same database: this process, and `relais serve` processes
    /// beside it, each with its own connection pool, data folder, DKIM key and `--workers` workers.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
}

/// Recipients written per chunk while enqueuing, so the list is never all in memory.
const ENQUEUE_CHUNK: usize = 5_000;

pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    let (dir, url) = super::workspace(&args.database_url)?;
    let (sink, port) = start_sink().await?;
    let mut settings = sending_settings(&url, dir.path(), port, args.workers, args.batch)?;
    settings.database.max_connections = args.pool;
    let mail = &mut settings.mail;
    if args.ed25519 {
        mail.dkim_ed25519_selector = "bench-ed25519".into();
    }
    let store = Store::connect(&url, settings.database.max_connections).await?;
    store.migrate().await?;
    let clock = Clock::system();

    let started = Instant::now();
    let message = NewMessage {
        kind: MailKind::Newsletter,
        subject: "Lettre du club : les rendez-vous de décembre".into(),
        body_text: "Bonjour,\n\n".to_string()
            + &"Des nouvelles du club et des collectivités engagées. ".repeat(40),
        body_html: "<p>Bonjour,</p>".to_string()
            + &"<p>Des nouvelles du <strong>club</strong> et des collectivités engagées.</p>"
                .repeat(40),
        list: Some(ListHeaders {
            key: crate::store::subscriptions::NEWSLETTER.into(),
            label: "Lettre du club".into(),
            post: Some("NO".into()),
        }),
        ..Default::default()
    };
    let mut tx = store.begin().await?;
    let now = clock.now_millis();
    let message_id = enqueue(&mut tx, &message, &[], now).await?;
    let mut written = 0;
    while written < args.copies {
        let count = ENQUEUE_CHUNK.min(args.copies - written);
        let chunk: Vec<NewRecipient> = (written..written + count)
            .map(|n| {
                Ok(NewRecipient {
                    address: EmailAddress::parse(&format!("elu{n}@commune{}.example", n % 997))
                        .map_err(anyhow::Error::msg)?,
                    name: format!("Élu·e n° {n}"),
                    person_id: None,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        add_recipients(&mut tx, message_id, &chunk, now).await?;
        written += count;
    }
    tx.commit().await?;
    let enqueued = started.elapsed();

    let deliverer = Deliverer::new(store.clone(), clock, &settings).await?;
    let stop = CancellationToken::new();
    let sink_pid = sink.id();
    // The other instances start after the enqueue, so every instance claims from its start; the time is
    // counted once they all answer, and only the copies sent from then on.
    let mut others = Vec::new();
    for instance in 1..args.instances.max(1) {
        let data_dir = dir.path().join(format!("instance-{instance}"));
        others.push(start_instance(&url, &data_dir, port, &args).await?);
    }
    let sent_before = sent_count(&store, message_id).await?;
    let sending = Instant::now();
    let others_cpu = |others: &[tokio::process::Child]| -> Option<f64> {
        others.iter().map(|child| cpu_seconds(child.id())).sum()
    };
    let cpu_before = (
        cpu_seconds(None),
        cpu_seconds(sink_pid),
        steal_seconds(),
        others_cpu(&others),
    );
    let workers = tokio::spawn(deliverer.run_until_stopped(stop.clone()));
    // Bounded: at least 60 s, more for large sends, then the benchmark stops whatever is left.
    let limit = Duration::from_secs(60 + args.copies as u64 / 200);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if store.deliveries_queued(message_id).await? == 0 || sending.elapsed() > limit {
            break;
        }
    }
    let sent_in = sending.elapsed();
    let cpu_after = (
        cpu_seconds(None),
        cpu_seconds(sink_pid),
        steal_seconds(),
        others_cpu(&others),
    );
    stop.cancel();
    let _ = workers.await;
    for mut other in others {
        stop_instance(&mut other).await;
    }
    let states = store.delivery_states(message_id).await?;
    let sent = sent_among(&states) - sent_before;
    println!(
        "enqueued {} copies on {} in {:.2} s; sent {sent} (and {sent_before} as the other instances started) in {:.2} s: {:.0} copies/s ({} instance(s) of {} workers, RSA-2048{})",
        args.copies,
        store.backend_name(),
        enqueued.as_secs_f64(),
        sent_in.as_secs_f64(),
        sent as f64 / sent_in.as_secs_f64(),
        args.instances.max(1),
        args.workers,
        if args.ed25519 { " + Ed25519" } else { "" },
    );
    println!("outcomes: {states:?}");
    let per_copy = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) if sent > 0 => format!("{:.0} µs", (a - b) * 1e6 / sent as f64),
        _ => "?".into(),
    };
    let relais_cpu = |cpu: (Option<f64>, Option<f64>, Option<f64>, Option<f64>)| {
        Some(cpu.0? + cpu.3.unwrap_or(0.0))
    };
    println!(
        "CPU time per copy: relais {}, smtp-sink {}; the hypervisor took {} of the machine's CPU time meanwhile",
        per_copy(relais_cpu(cpu_before), relais_cpu(cpu_after)),
        per_copy(cpu_before.1, cpu_after.1),
        match (cpu_before.2, cpu_after.2) {
            (Some(b), Some(a)) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                format!(
                    "{:.0} %",
                    (a - b) * 100.0 / (sent_in.as_secs_f64() * cores as f64)
                )
            }
            _ => "?".into(),
        }
    );
    println!(
        "peak resident memory of relais (this process): {:.1} MB",
        peak_resident_kb()? as f64 / 1024.0
    );
    store.close().await;
    baselines(port).await;
    drop(dir);
    Ok(())
}

/// `relais serve` on the bench's database with its own data folder and DKIM key, sending into the sink on
/// `port` like this process: a second instance, as an operator would run one.
async fn start_instance(
    url: &str,
    data_dir: &std::path::Path,
    port: u16,
    args: &SendArgs,
) -> anyhow::Result<tokio::process::Child> {
    std::fs::create_dir_all(data_dir)?;
    let web = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    crate::mail::dkim::generate(data_dir, "bench", "relais-bench.example")?;
    let settings = [
        ("RELAIS_DATABASE__URL", url.to_string()),
        ("RELAIS_DATABASE__MAX_CONNECTIONS", args.pool.to_string()),
        ("RELAIS_DATA__DIR", data_dir.display().to_string()),
        ("RELAIS_SERVER__LISTEN", format!("127.0.0.1:{web}")),
        ("RELAIS_INBOUND__LMTP_LISTEN", String::new()),
        ("RELAIS_MAIL__TRANSPORT", "smtp".into()),
        (
            "RELAIS_MAIL__FROM_ADDRESS",
            "club@relais-bench.example".into(),
        ),
        ("RELAIS_MAIL__WORKERS", args.workers.to_string()),
        ("RELAIS_MAIL__BATCH", args.batch.to_string()),
        ("RELAIS_DKIM__RSA_SELECTOR", "bench-rsa".into()),
        ("RELAIS_SMTP__HOST", "127.0.0.1".into()),
        ("RELAIS_SMTP__PORT", port.to_string()),
        ("RELAIS_SMTP__SECURITY", "none".into()),
        ("RELAIS_SMTP__POOL_SIZE", args.workers.to_string()),
        ("RELAIS_LOG__LEVEL", "warn".into()),
    ];
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .envs(settings)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("relais serve could not start: {e}"))?;
    wait_for_port(web).await?;
    Ok(child)
}

async fn sent_count(store: &Store, message_id: i64) -> anyhow::Result<i64> {
    Ok(sent_among(&store.delivery_states(message_id).await?))
}

/// The number of sent deliveries among a message's (state, count) pairs.
fn sent_among(states: &[(String, i64)]) -> i64 {
    states
        .iter()
        .find(|(state, _)| state == DeliveryState::Sent.as_str())
        .map_or(0, |(_, n)| *n)
}

/// Stops an instance as a service manager would (SIGTERM), and waits for it.
async fn stop_instance(instance: &mut tokio::process::Child) {
    if let Some(pid) = instance.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), instance.wait()).await;
}
