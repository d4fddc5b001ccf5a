//! `relais bench …`: the benchmarks of docs/PERFORMANCE.md, against real peers on 127.0.0.1.
//!
//! - `bench web` seeds a database with the benchmark volume, serves it in this process, and drives `wrk`
//!   (50 connections by default) at the dashboard, a filtered targets list and a target page, printing the
//!   latency percentiles `wrk --latency` measured.
//! - `bench import` writes a 10,000-row spreadsheet and times its import, all or nothing, into a fresh database.
//! - `bench start` times `relais serve` from process start to its first answer on `/healthz`.
//! - `bench send` (`send.rs`) empties the outbox into Postfix's `smtp-sink`, in one process or several.
//! - `bench newsletter` (`newsletter.rs`) sends one issue to N subscribers into `smtp-sink`.
//! - `bench list` (`list.rs`) posts to a discussion list over LMTP and times each post's copies.
//! - `bench federation` (`federation.rs`) delivers one Event to N partner inboxes on a verifying loopback
//!   receiver, then posts signed activities to relais' inbox.
//!
//! `harness.rs` holds what they share: a temporary workspace, Postfix's sink, sending settings, CPU and
//! memory readings, and the machine's own baselines printed beside every figure.
//!
//! Each run is bounded (seconds per endpoint, a fixed row count) and cleans up its temporary folder.

use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::clock::Clock;
use crate::config::Settings;
use crate::demo::{self, Volume};
use crate::domain::Role;
use crate::security;
use crate::store::accounts::NewUser;
use crate::store::audit::Actor;
use crate::store::import::DuplicatePolicy;
use harness::{tempfile_dir, workspace};

mod federation;
mod harness;
mod list;
mod newsletter;
mod send;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Latency of the main pages under concurrent load (needs `wrk`).
    Web(WebArgs),
    /// Time to import a spreadsheet of many rows.
    Import(ImportArgs),
    /// Time from `relais serve` starting to its first answer.
    Start(StartArgs),
    /// Copies per second and peak memory while sending into Postfix's smtp-sink (needs postfix).
    Send(send::SendArgs),
    /// One newsletter issue to N subscribers into Postfix's `smtp-sink`: time from "send" to the last
    /// copy accepted, and peak memory.
    Newsletter(newsletter::NewsletterArgs),
    /// Posts to a discussion list, received over LMTP and redistributed into Postfix's `smtp-sink`: time
    /// from the end of DATA to the last copy accepted (p50, p99), and copies per second.
    List(list::ListArgs),
    /// One Event to N partner inboxes on a loopback receiver that verifies each signature (deliveries per
    /// second, p99), then signed activities verified per second at relais' inbox.
    Federation(federation::FederationArgs),
}

#[derive(Args, Debug)]
pub struct WebArgs {
    /// Database to fill: empty for a SQLite file in a temporary folder, or a postgres:// URL of an EMPTY database.
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value_t = 10_000)]
    pub targets: usize,
    #[arg(long, default_value_t = 3)]
    pub people_per_target: usize,
    #[arg(long, default_value_t = 10)]
    pub interactions_per_target: usize,
    #[arg(long, default_value_t = 50)]
    pub connections: u32,
    /// Size of relais's database pool during the run.
    #[arg(long, default_value_t = 8)]
    pub pool: u32,
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Seconds of unmeasured load on each page before its measured run.
    #[arg(long, default_value_t = 2)]
    pub warmup: u32,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(long, default_value = "")]
    pub database_url: String,
    #[arg(long, default_value_t = 10_000)]
    pub rows: usize,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Web(args) => web(args).await,
        BenchCommand::Import(args) => import(args).await,
        BenchCommand::Start(args) => start(args).await,
        BenchCommand::Send(args) => send::send(args).await,
        BenchCommand::Newsletter(args) => newsletter::newsletter(args).await,
        BenchCommand::List(args) => list::list(args).await,
        BenchCommand::Federation(args) => federation::federation(args).await,
    }
}

async fn web(args: WebArgs) -> anyhow::Result<()> {
    let (dir, url) = workspace(&args.database_url)?;
    let mut settings = Settings::for_tests(&url, dir.path());
    settings.database.max_connections = args.pool;
    let clock = Clock::system();
    let app = Application::build(settings, clock.clone()).await?;
    let store = app.store();
    let hash = security::hash_password("benchmark-password").map_err(anyhow::Error::msg)?;
    let user = store
        .create_user(
            &NewUser {
                email: "bench@relais.example",
                name: "Bench",
                role: Role::Staff,
                password_hash: &hash,
                association_id: None,
                territories: &[],
            },
            clock.now_millis(),
        )
        .await?;
    let volume = Volume {
        targets: args.targets,
        people_per_target: args.people_per_target,
        interactions_per_target: args.interactions_per_target,
        members: 15,
    };
    let seeded = Instant::now();
    let created = demo::fill(&store, volume, clock.today(), clock.now_millis(), 7, |_| {}).await?;
    println!(
        "seeded {created} targets, {} people, {} interactions on {} in {:.1} s",
        created * args.people_per_target,
        created * args.interactions_per_target,
        store.backend_name(),
        seeded.elapsed().as_secs_f64()
    );
    let cookie = security::random_token();
    let now = clock.now_millis();
    store
        .create_session(
            &security::sha256_hex(&cookie),
            user,
            &security::random_token(),
            now,
            now + 3_600_000,
        )
        .await?;
    let (sample, _) = store
        .list_targets(
            crate::store::Scope::All,
            &Default::default(),
            Default::default(),
            1,
            (created / 2) as i64,
        )
        .await?;
    let target_id = sample.first().map_or(1, |t| t.id);
    let address = app.local_addr();
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(stop.clone()));
    let pages = [
        ("dashboard", "/".to_string()),
        (
            "targets list, filtered",
            "/targets?region=84&stage=contacted&sort=next_action_date".to_string(),
        ),
        ("target page", format!("/targets/{target_id}")),
    ];
    println!("| page | requests/s | p50 | p90 | p99 | errors |");
    println!("|---|---|---|---|---|---|");
    for (name, path) in pages {
        let url = format!("http://{address}{path}");
        // A short unmeasured run first, so connections, caches and the database's pages are warm.
        if args.warmup > 0 {
            run_wrk(&url, &cookie, args.connections, args.warmup).await?;
        }
        let text = run_wrk(&url, &cookie, args.connections, args.seconds).await?;
        let report = WrkReport::parse(&text)
            .ok_or_else(|| anyhow::anyhow!("unexpected wrk output:\n{text}"))?;
        println!(
            "| {name} | {:.0} | {} | {} | {} | {} |",
            report.requests_per_second, report.p50, report.p90, report.p99, report.errors
        );
    }
    stop.cancel();
    server.await??;
    drop(dir);
    Ok(())
}

/// Runs `wrk` (two threads) at `url` with the session cookie and returns its report.
async fn run_wrk(
    url: &str,
    cookie: &str,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["-H", &format!("Cookie: relais_session={cookie}")])
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("wrk could not run ({e}): install it (Debian package wrk)"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The figures read from `wrk --latency`.
#[derive(Debug, PartialEq)]
struct WrkReport {
    requests_per_second: f64,
    p50: String,
    p90: String,
    p99: String,
    errors: String,
}

impl WrkReport {
    fn parse(text: &str) -> Option<WrkReport> {
        let percentile = |label: &str| {
            text.lines()
                .map(str::trim)
                .find(|l| l.starts_with(label))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(str::to_string)
        };
        let requests_per_second = text
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let non_2xx = text
            .lines()
            .find(|l| l.contains("Non-2xx"))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("0");
        let socket = text
            .lines()
            .find(|l| l.contains("Socket errors"))
            .map(|l| l.trim().to_string());
        Some(WrkReport {
            requests_per_second,
            p50: percentile("50%")?,
            p90: percentile("90%")?,
            p99: percentile("99%")?,
            errors: socket.map_or_else(
                || format!("{non_2xx} non-2xx"),
                |s| format!("{non_2xx} non-2xx; {s}"),
            ),
        })
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let (dir, url) = workspace(&args.database_url)?;
    let store = crate::store::Store::connect(&url, 4).await?;
    store.migrate().await?;
    let file = dir.path().join("cibles.csv");
    let communes: Vec<&crate::referential::Entry> = crate::referential::Referential::get()
        .of_kind(crate::referential::CollectivityKind::Commune)
        .iter()
        .take(args.rows)
        .collect();
    let mut csv = String::from(
        "Collectivité;Code INSEE;Département;Élu·e / Contact;Fonction;Email;Statut;Couleur politique;Prochaine action;Date prochaine action\n",
    );
    for (i, c) in communes.iter().enumerate() {
        csv.push_str(&format!(
            "{};{};{};Contact {i};maire;contact{i}@commune-{}.example.org;Contactée;Divers;Relancer;15/12/2026\n",
            c.name,
            c.code,
            c.departement.as_deref().unwrap_or(""),
            c.code.to_lowercase()
        ));
    }
    std::fs::write(&file, &csv)?;
    let bytes = std::fs::read(&file)?;
    let started = Instant::now();
    let (plan, outcome) = crate::import::import_file(
        &store,
        &bytes,
        "cibles.csv",
        false,
        DuplicatePolicy::Skip,
        &Actor::command_line(),
        Clock::system().now_millis(),
        |_, _| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    let outcome = outcome.ok_or_else(|| anyhow::anyhow!("import refused: {}", plan.summary()))?;
    println!(
        "imported {} rows ({} targets created) into {} in {:.2} s",
        communes.len(),
        outcome.created,
        store.backend_name(),
        elapsed.as_secs_f64()
    );
    store.close().await;
    drop(dir);
    Ok(())
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    let executable = std::env::current_exe()?;
    let mut timings = Vec::new();
    for _ in 0..args.runs {
        let dir = tempfile_dir::Dir::new()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&executable)
            .arg("serve")
            .current_dir(dir.path())
            .env("RELAIS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("RELAIS_INBOUND__LMTP_LISTEN", "127.0.0.1:0")
            .env("RELAIS_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let ready = loop {
            if started.elapsed() > Duration::from_secs(10) {
                break None;
            }
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                stream
                    .write_all(
                        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    )
                    .await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                if answer.starts_with(b"HTTP/1.1 200") {
                    break Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        child.kill().await?;
        timings
            .push(ready.ok_or_else(|| anyhow::anyhow!("relais serve did not answer within 10 s"))?);
    }
    timings.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "cold start to first /healthz answer on a new SQLite database, {} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        timings.len(),
        ms(timings[0]),
        ms(timings[timings.len() / 2]),
        ms(timings[timings.len() - 1])
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::WrkReport;

    #[test]
    fn wrk_latency_output_is_read() {
        let text = "Running 10s test @ http://127.0.0.1:8080/\n  2 threads and 50 connections\n  Latency Distribution\n     50%    3.10ms\n     75%    4.00ms\n     90%    5.20ms\n     99%   12.31ms\n  12000 requests in 10.00s, 1.2MB read\nRequests/sec:   1200.50\nTransfer/sec:    120KB\n";
        let report = WrkReport::parse(text).unwrap();
        assert_eq!(report.p99, "12.31ms");
        assert_eq!(report.p50, "3.10ms");
        assert!((report.requests_per_second - 1200.5).abs() < 0.01);
        assert_eq!(report.errors, "0 non-2xx");
    }
}
