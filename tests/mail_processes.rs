//! The outbox across real `relais serve` processes: a process killed with SIGKILL in the middle of a
//! 10,000-recipient send and started again, and two processes sharing one send on PostgreSQL. The SMTP
//! server is the aiosmtpd sink of `tests/mail/sink.py`, which counts every copy it accepts per recipient.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, TestDatabase};
use relais::domain::EmailAddress;
use relais::domain::mail_kind::MailKind;
use relais::store::Store;
use relais::store::outbox::{NewMessage, NewRecipient};

const RECIPIENTS: usize = 10_000;
const WORKERS: usize = 4;

/// The sink in counting mode; stopped when dropped.
struct CountingSink {
    process: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl CountingSink {
    fn start() -> CountingSink {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/sink.py");
        let mut process = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .arg("--count")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the sink (aiosmtpd: pip install aiosmtpd, or .ci/run)");
        let mut line = String::new();
        std::io::BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .trim_start_matches("PORT ")
            .parse()
            .expect("a port");
        CountingSink { process, port, dir }
    }

    /// Copies accepted per recipient.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let log =
            std::fs::read_to_string(self.dir.path().join("recipients.log")).unwrap_or_default();
        for line in log.lines() {
            *counts.entry(line.to_string()).or_default() += 1;
        }
        counts
    }
}

impl Drop for CountingSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `relais serve` on `database_url`, sending to the sink, with short leases so a crash is recovered fast.
fn serve(database_url: &str, data_dir: &Path, sink: &CountingSink) -> Child {
    Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("serve")
        .current_dir(data_dir)
        .env("RELAIS_DATABASE__URL", database_url)
        .env("RELAIS_SERVER__LISTEN", "127.0.0.1:0")
        .env("RELAIS_INBOUND__LMTP_LISTEN", "127.0.0.1:0")
        .env("RELAIS_MAIL__TRANSPORT", "smtp")
        .env("RELAIS_MAIL__FROM_ADDRESS", "club@romeurope.example")
        .env("RELAIS_MAIL__WORKERS", WORKERS.to_string())
        .env("RELAIS_MAIL__LEASE_SECONDS", "10")
        .env("RELAIS_SMTP__HOST", "127.0.0.1")
        .env("RELAIS_SMTP__PORT", sink.port.to_string())
        .env("RELAIS_SMTP__SECURITY", "none")
        .env("RELAIS_LOG__LEVEL", "warn")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("relais serve starts")
}

/// Enqueues one message to [`RECIPIENTS`] addresses, as any cause would, from this process.
async fn enqueue_send(store: &Store) -> i64 {
    let recipients: Vec<NewRecipient> = (0..RECIPIENTS)
        .map(|n| NewRecipient {
            address: EmailAddress::parse(&format!("elu{n}@commune.example")).unwrap(),
            name: String::new(),
            person_id: None,
        })
        .collect();
    let message = NewMessage {
        kind: MailKind::Newsletter,
        subject: "Lettre du club".into(),
        body_text: "Bonjour.".into(),
        body_html: "<p>Bonjour.</p>".into(),
        ..Default::default()
    };
    store
        .enqueue_mail(&message, &recipients, chrono::Utc::now().timestamp_millis())
        .await
        .unwrap()
}

async fn wait_until_all_sent(store: &Store, message_id: i64, limit: Duration) {
    let started = Instant::now();
    loop {
        let states = store.delivery_states(message_id).await.unwrap();
        if states == vec![("sent".to_string(), RECIPIENTS as i64)] {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "not all sent in {limit:?}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn open(database: &TestDatabase) -> Store {
    let store = Store::connect(&database.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn killed_in_the_middle_and_restarted(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = open(&database).await;
    let sink = CountingSink::start();
    let data = tempfile::tempdir().unwrap();
    let id = enqueue_send(&store).await;
    let mut first = serve(&database.url, data.path(), &sink);
    let started = Instant::now();
    while sink.counts().len() < RECIPIENTS / 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "sending did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL: no chance to hand anything back
    first.wait().unwrap();
    let at_kill = sink.counts().values().sum::<usize>();
    assert!(
        at_kill < RECIPIENTS,
        "killed in the middle ({at_kill} sent)"
    );
    let mut second = serve(&database.url, data.path(), &sink);
    // A bound against a send that never completes, not a speed goal: generous for a loaded machine.
    wait_until_all_sent(&store, id, Duration::from_secs(300)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let counts = sink.counts();
    assert_eq!(
        counts.len(),
        RECIPIENTS,
        "every recipient received the mail"
    );
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    // At most the copies in flight at the kill (one per worker) may arrive twice.
    assert!(twice.len() <= WORKERS, "copies sent twice: {twice:?}");
    assert!(counts.values().all(|n| *n <= 2));
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_in_the_middle_completes_after_restart_on_sqlite() {
    killed_in_the_middle_and_restarted(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_in_the_middle_completes_after_restart_on_postgres() {
    killed_in_the_middle_and_restarted(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_send_each_copy_exactly_once() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let store = open(&database).await;
    let sink = CountingSink::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut first = serve(&database.url, one.path(), &sink);
    let mut second = serve(&database.url, two.path(), &sink);
    let id = enqueue_send(&store).await;
    // A bound against a send that never completes, not a speed goal: generous for a loaded machine.
    wait_until_all_sent(&store, id, Duration::from_secs(300)).await;
    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let counts = sink.counts();
    assert_eq!(counts.len(), RECIPIENTS);
    assert!(
        counts.values().all(|n| *n == 1),
        "copies sent twice: {:?}",
        counts.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    store.close().await;
    database.drop_database().await;
}
