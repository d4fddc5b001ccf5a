//! What the benchmarks share: a temporary workspace and its database, Postfix's `smtp-sink` on a free port
//! of 127.0.0.1, settings that send through it with DKIM, the CPU and memory the process used, and the
//! machine's own baselines (`smtp-source` into the same sink, `openssl speed rsa2048`), printed beside every
//! figure so that results read as ratios to the machine that produced them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::config::{SmtpSecurity, TransportKind};

/// A temporary folder and the database URL to use in it.
pub(super) fn workspace(database_url: &str) -> anyhow::Result<(tempfile_dir::Dir, String)> {
    let dir = tempfile_dir::Dir::new()?;
    let url = if database_url.is_empty() {
        format!("sqlite://{}", dir.path().join("bench.db").display())
    } else {
        database_url.to_string()
    };
    Ok((dir, url))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Postfix's `smtp-sink` on a free port of 127.0.0.1, stopped when the child is dropped.
pub(super) async fn start_sink() -> anyhow::Result<(tokio::process::Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut sink = tokio::process::Command::new("smtp-sink");
    if running_as_root() {
        // smtp-sink refuses to run as root without a user to switch to.
        sink.args(["-u", "nobody"]);
    }
    let sink = sink
        .arg(format!("127.0.0.1:{port}"))
        .arg("1000")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("smtp-sink could not run ({e}): install it (Debian package postfix)")
        })?;
    wait_for_port(port).await?;
    Ok((sink, port))
}

/// Settings that send through the sink on `port` with `workers` workers (and as many connections),
/// signing with a new RSA-2048 key of the benchmark's domain.
pub(super) fn sending_settings(
    url: &str,
    dir: &std::path::Path,
    port: u16,
    workers: usize,
    batch: i64,
) -> anyhow::Result<Settings> {
    let mut settings = Settings::for_tests(url, dir);
    let mail = &mut settings.mail;
    mail.transport = TransportKind::Smtp;
    mail.from_address = "club@relais-bench.example".into();
    mail.smtp.host = "127.0.0.1".into();
    mail.smtp.port = port;
    mail.smtp.security = SmtpSecurity::None;
    mail.smtp.pool_size = workers as u32;
    mail.workers = workers;
    mail.batch = batch;
    crate::mail::dkim::generate(dir, "bench", "relais-bench.example")?;
    mail.dkim_rsa_selector = "bench-rsa".into();
    Ok(settings)
}

/// CPU seconds (user and system) a process has used: this one, or `pid`.
pub(super) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or("/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU seconds the hypervisor gave to others (steal time), summed over all cores.
pub(super) fn steal_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.split_whitespace().collect::<Vec<_>>();
    Some(cpu.get(8)?.parse::<f64>().ok()? / 100.0)
}

/// The peak resident set size of this process (VmHWM), in kB.
pub(super) fn peak_resident_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/self/status"))
}

/// What the machine does without relais: Postfix's own client into the same sink, and OpenSSL's RSA-2048
/// signatures per second on every core.
pub(super) async fn baselines(port: u16) {
    let count = 50_000;
    let started = Instant::now();
    let source = tokio::process::Command::new("smtp-source")
        .args(["-s", "4", "-l", "4000", "-m", &count.to_string()])
        .args([
            "-f",
            "club@relais-bench.example",
            "-t",
            "elu@commune.example",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .await;
    match source {
        Ok(output) if output.status.success() => println!(
            "baseline smtp-source -> smtp-sink: {:.0} messages/s (4 sessions, {count} messages of 4 kB)",
            count as f64 / started.elapsed().as_secs_f64()
        ),
        Ok(output) => println!(
            "baseline smtp-source failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("baseline smtp-source could not run: {error}"),
    }
    openssl_baseline().await;
}

/// OpenSSL's RSA-2048 signatures and verifications per second on every core.
pub(super) async fn openssl_baseline() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let openssl = tokio::process::Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            "3",
            "-multi",
            &cores.to_string(),
            "rsa2048",
        ])
        .stderr(Stdio::null())
        .output()
        .await;
    match openssl {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            match text
                .lines()
                .rev()
                .find(|l| l.starts_with("rsa 2048") || l.starts_with("rsa2048"))
            {
                Some(line) => println!(
                    "baseline openssl speed -multi {cores} rsa2048: {}",
                    line.trim()
                ),
                None => println!("baseline openssl speed: unexpected output"),
            }
        }
        Err(error) => println!("baseline openssl could not run: {error}"),
    }
}

/// Waits until something listens on 127.0.0.1:`port`.
pub(super) async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("nothing listened on 127.0.0.1:{port} within 5 s")
}

/// A temporary folder removed on drop (the benchmarks' only need from a temp-dir crate).
pub(super) mod tempfile_dir {
    use super::PathBuf;

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> std::io::Result<Dir> {
            let path = std::env::temp_dir()
                .join(format!("relais-bench-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
