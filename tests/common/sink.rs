//! The capturing SMTP server of the mail tests (`tests/mail/sink.py`, Python aiosmtpd), and an application
//! that sends to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relais::config::{SmtpSecurity, TransportKind};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Backend, TestApp};

/// The capturing SMTP server, stopped when dropped (its standard input closes).
pub struct Sink {
    _process: tokio::process::Child,
    pub port: u16,
    /// Whether the sink offers PIPELINING (then relais must use it).
    pub pipelining: bool,
    pub dir: tempfile::TempDir,
}

impl Sink {
    pub async fn start() -> Sink {
        Self::start_on(None, &[]).await
    }

    /// The sink on a given port (for a relay that comes back), or on a free one, with `options` of
    /// `sink.py` (`--no-pipelining`).
    pub async fn start_on(port: Option<u16>, options: &[&str]) -> Sink {
        let dir = tempfile::tempdir().expect("sink folder");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/sink.py");
        let mut command = tokio::process::Command::new("python3");
        command.arg(script).arg(dir.path());
        if let Some(port) = port {
            command.arg("--port").arg(port.to_string());
        }
        command.args(options);
        let mut process = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the sink (aiosmtpd: pip install aiosmtpd, or .ci/run)");
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the sink starts within 20 s")
            .unwrap()
            .expect("the sink prints its port (is aiosmtpd installed?)");
        let port = first.trim_start_matches("PORT ").parse().expect("a port");
        Sink {
            _process: process,
            port,
            pipelining: !options.contains(&"--no-pipelining"),
            dir,
        }
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

pub async fn app_sending_to(backend: Backend, sink: &Sink) -> TestApp {
    app_sending_to_port(backend, sink.port).await
}

pub async fn app_sending_to_port(backend: Backend, port: u16) -> TestApp {
    TestApp::spawn_with(backend, |settings| send_to_port(settings, port)).await
}

/// Another instance beside `app` (same database and clock), sending to `sink`.
pub async fn instance_beside(app: &TestApp, sink: &Sink) -> TestApp {
    app.spawn_beside(|settings| send_to_port(settings, sink.port))
        .await
}

/// Settings that send through the sink on `port`.
pub fn send_to_port(settings: &mut relais::config::Settings, port: u16) {
    settings.mail.transport = TransportKind::Smtp;
    settings.mail.from_address = "club@romeurope.example".into();
    settings.mail.smtp.host = "127.0.0.1".into();
    settings.mail.smtp.port = port;
    settings.mail.smtp.security = SmtpSecurity::None;
    // Ports are reused between tests running at once: a server that never answers must not hold a
    // worker for long.
    settings.mail.smtp.timeout_seconds = 2;
}

/// Runs dkimpy on `raw` with the DNS records `relais dkim generate` printed.
pub fn dkimpy_verdicts(records: &str, raw: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let records_path = dir.path().join("records");
    let lines: Vec<String> = records
        .lines()
        .filter(|l| l.contains("._domainkey."))
        .map(|l| {
            let (name, rest) = l.split_once(" TXT ").unwrap();
            // The record's strings (each at most 255 characters), joined as resolvers do.
            let strings: Vec<&str> = rest.split('"').skip(1).step_by(2).collect();
            assert!(strings.iter().all(|s| s.len() <= 255), "{rest}");
            format!("{name} {}", strings.concat())
        })
        .collect();
    assert_eq!(lines.len(), 2, "two records in:\n{records}");
    std::fs::write(&records_path, lines.join("\n")).unwrap();
    let eml = dir.path().join("copy.eml");
    std::fs::write(&eml, raw).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/dkim_verify.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(&records_path)
        .arg(&eml)
        .output()
        .expect("python3 runs dkimpy (pip install dkimpy pynacl, or .ci/run)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
