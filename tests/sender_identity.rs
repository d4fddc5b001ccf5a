//! relais checks a list post's sender itself, on both databases, against a real DNS server on 127.0.0.1
//! (`tests/mail/dns_server.py`, Python dnslib) and with no trusted server to vouch: a member whose mail is
//! DKIM-signed by her domain is redistributed and, her domain publishing `p=none`, keeps her own From; a
//! member with no signature but SPF passing for the client Postfix names in `XFORWARD` is redistributed
//! with the list's From, her domain publishing `p=reject`; so is a member whose DMARC lookup fails. Over
//! the SMTP listener, swaks' address is the client SPF checks. A forged From (a signature DNS does not
//! know, a client SPF refuses) and a signed message altered on the way are held with their reasons.

mod common;

use std::path::Path;
use std::time::Duration;

use common::lists::{echanges, signing_app};
use common::sink::Sink;
use common::{Backend, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The DNS server, stopped when dropped; its zone file can grow while it runs.
struct Dns {
    _process: tokio::process::Child,
    port: u16,
    zone: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Dns {
    async fn start(records: &str) -> Dns {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("zone");
        std::fs::write(&zone, records).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/dns_server.py");
        let mut process = tokio::process::Command::new("python3")
            .arg(script)
            .arg(&zone)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the DNS server (dnslib: pip install dnslib, or .ci/run)");
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the DNS server starts within 20 s")
            .unwrap()
            .expect("the DNS server prints its port (is dnslib installed?)");
        let port = first.trim_start_matches("PORT ").parse().expect("a port");
        Dns {
            _process: process,
            port,
            zone,
            _dir: dir,
        }
    }

    /// Publishes the DKIM records `relais dkim generate` printed.
    fn publish_keys(&self, generated: &str) {
        let mut zone = std::fs::read_to_string(&self.zone).unwrap();
        for line in generated.lines().filter(|l| l.contains("._domainkey.")) {
            let (name, value) = line.split_once(" TXT ").unwrap();
            // The zone takes the value whole (it splits it in strings again); the record's strings joined.
            let strings: Vec<&str> = value.split('"').skip(1).step_by(2).collect();
            zone.push_str(&format!("{name} TXT {}\n", strings.concat()));
        }
        std::fs::write(&self.zone, zone).unwrap();
    }
}

/// An LMTP dialogue for one message, with `XFORWARD` first when `client` names one; the final reply.
async fn lmtp(app: &TestApp, xforward: Option<&str>, from: &str, message: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.lmtp).await.unwrap();
    let mut dialogue = b"LHLO mx.club.example\r\n".to_vec();
    if let Some(attributes) = xforward {
        dialogue.extend_from_slice(format!("XFORWARD {attributes}\r\n").as_bytes());
    }
    dialogue.extend_from_slice(
        format!("MAIL FROM:<{from}>\r\nRCPT TO:<echanges@romeurope.example>\r\nDATA\r\n")
            .as_bytes(),
    );
    dialogue.extend_from_slice(message);
    dialogue.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    stream.write_all(&dialogue).await.unwrap();
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.unwrap();
    assert!(
        xforward.is_none() || replies.contains("250-XFORWARD") && replies.contains("250 2.0.0 Ok"),
        "XFORWARD offered and taken: {replies}"
    );
    replies
        .lines()
        .rfind(|l| l.starts_with("250 2.0.0 Stored") || l.starts_with('4') || l.starts_with('5'))
        .unwrap_or_default()
        .to_string()
}

fn post(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: =?utf-8?q?=C3=89changes?= <echanges@romeurope.example>\r\nSubject: {subject}\r\nMessage-ID: <{}@club.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNous avons raccordé le terrain en une semaine.\r\n",
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

/// Waits until the `count` received recipients all have an outcome; returns them, newest first.
async fn routed(app: &TestApp, count: usize) -> Vec<relais::store::inbound::InboundRow> {
    for _ in 0..400 {
        let rows = app.store.inbound_list(100).await.unwrap();
        if rows.len() >= count
            && rows
                .iter()
                .all(|r| r.state != "received" && r.state != "routing")
        {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "not routed: {:?}",
        app.store.inbound_list(100).await.unwrap()
    );
}

/// The From header of the copies that reached the sink for the post whose subject ends with `subject`.
async fn copy_from(sink: &Sink, subject: &str, copies: usize) -> Vec<String> {
    for _ in 0..400 {
        let found: Vec<String> = sink
            .received()
            .into_iter()
            .filter_map(|raw| {
                let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
                parsed.subject()?.ends_with(subject).then(|| {
                    let from = parsed.from()?.first()?;
                    Some(format!(
                        "{} <{}>",
                        from.name().unwrap_or_default(),
                        from.address().unwrap_or_default()
                    ))
                })?
            })
            .collect();
        if found.len() >= copies {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{copies} copies of « {subject} » expected at the sink");
}

mod senders_are_checked_by_relais_itself {
    use super::*;

    async fn run(backend: Backend) {
        let keys = tempfile::tempdir().unwrap();
        let lyon = relais::mail::dkim::generate(keys.path(), "auteur", "lyon.example").unwrap();
        let toulouse =
            relais::mail::dkim::generate(keys.path(), "mairie", "toulouse.example").unwrap();
        // A key of lyon.example's selector that DNS does not publish: a forger's.
        let pirate = tempfile::tempdir().unwrap();
        relais::mail::dkim::generate(pirate.path(), "auteur", "lyon.example").unwrap();
        let dns = Dns::start(
            "_dmarc.lyon.example TXT v=DMARC1; p=none\n\
             lyon.example TXT v=spf1 ip4:192.0.2.20 -all\n\
             marseille.example TXT v=spf1 ip4:192.0.2.10 -all\n\
             _dmarc.marseille.example TXT v=DMARC1; p=reject\n\
             nantes.example TXT v=spf1 ip4:127.0.0.1 -all\n\
             _dmarc.toulouse.example SERVFAIL\n",
        )
        .await;
        dns.publish_keys(&lyon);
        dns.publish_keys(&toulouse);

        let sink = Sink::start().await;
        let smtp_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dns_port = dns.port;
        let (app, _) = signing_app(backend, &sink, |settings| {
            settings.inbound.trusted_authserv_ids = Vec::new();
            settings.inbound.verify_senders = true;
            settings.inbound.dmarc_rewrite = relais::config::DmarcRewrite::Policy;
            settings.inbound.dns_servers = vec![([127, 0, 0, 1], dns_port).into()];
            settings.inbound.dns_timeout_ms = 1000;
            settings.inbound.smtp_listen = Some(([127, 0, 0, 1], smtp_port).into());
        })
        .await;
        echanges(
            &app,
            &[],
            "maire@lyon.example, Maire de Lyon\ndgs@marseille.example, DGS de Marseille\n\
             elu@nantes.example, Élu de Nantes\ncabinet@toulouse.example, Cabinet de Toulouse",
        )
        .await;

        let sign = |dir: &Path, selector: &str, domain: &str, raw: Vec<u8>| {
            relais::mail::dkim::DkimKeys::load(
                domain,
                &format!("{selector}-rsa"),
                &format!("{selector}-ed25519"),
                dir,
            )
            .unwrap()
            .unwrap()
            .sign(raw)
            .unwrap()
        };

        // 1. DKIM of lyon.example, which publishes p=none: out, with her own From.
        let signed = sign(
            keys.path(),
            "auteur",
            "lyon.example",
            post("Maire de Lyon <maire@lyon.example>", "Signé par Lyon"),
        );
        let reply = lmtp(&app, None, "maire@lyon.example", &signed).await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        // 2. No signature, SPF for the client XFORWARD names; marseille.example publishes p=reject.
        let reply = lmtp(
            &app,
            Some("NAME=mail.marseille.example ADDR=192.0.2.10 HELO=mail.marseille.example PROTO=ESMTP"),
            "dgs@marseille.example",
            &post("DGS de Marseille <dgs@marseille.example>", "SPF de Marseille"),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        // 3. Signed by toulouse.example, whose DMARC record cannot be read: rewritten, to be safe.
        let signed = sign(
            keys.path(),
            "mairie",
            "toulouse.example",
            post(
                "Cabinet de Toulouse <cabinet@toulouse.example>",
                "Toulouse sans DMARC lisible",
            ),
        );
        lmtp(&app, None, "cabinet@toulouse.example", &signed).await;
        // 4. A forger: lyon.example's selector with another key, from a client SPF refuses.
        let forged = sign(
            pirate.path(),
            "auteur",
            "lyon.example",
            post("Maire de Lyon <maire@lyon.example>", "Faux maire"),
        );
        lmtp(
            &app,
            Some("ADDR=203.0.113.9 HELO=pirate.example"),
            "maire@lyon.example",
            &forged,
        )
        .await;
        // 5. A genuine signature over a body changed on the way.
        let signed = sign(
            keys.path(),
            "auteur",
            "lyon.example",
            post("Maire de Lyon <maire@lyon.example>", "Altéré"),
        );
        let altered = String::from_utf8(signed)
            .unwrap()
            .replace("une semaine", "un an");
        lmtp(&app, None, "maire@lyon.example", altered.as_bytes()).await;
        // 6. Over the SMTP listener, swaks' own address is the client: SPF of nantes.example passes.
        let output = tokio::process::Command::new("swaks")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &smtp_port.to_string(),
                "--ehlo",
                "poste.nantes.example",
                "--from",
                "elu@nantes.example",
                "--to",
                "echanges@romeurope.example",
                "--header",
                "From: Élu de Nantes <elu@nantes.example>",
                "--header",
                "To: echanges@romeurope.example",
                "--header",
                "Subject: Envoyé de Nantes",
                "--body",
                "Bonjour à tous.",
            ])
            .output()
            .await
            .expect("swaks runs (Debian package swaks)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );

        let rows = routed(&app, 6).await;
        let outcome = |subject: &str| {
            rows.iter()
                .find(|r| r.subject.ends_with(subject))
                .map(|r| format!("{} {}", r.state, r.outcome))
                .unwrap_or_else(|| panic!("no outcome for {subject}: {rows:?}"))
        };
        let lyon_outcome = outcome("Signé par Lyon");
        assert!(
            lyon_outcome.starts_with("done") && lyon_outcome.contains("DKIM lyon.example"),
            "{lyon_outcome}"
        );
        assert!(!lyon_outcome.contains("réécrit"), "{lyon_outcome}");
        let marseille = outcome("SPF de Marseille");
        assert!(
            marseille.starts_with("done") && marseille.contains("SPF marseille.example"),
            "{marseille}"
        );
        assert!(marseille.contains("réécrit"), "{marseille}");
        let toulouse_outcome = outcome("Toulouse sans DMARC lisible");
        assert!(
            toulouse_outcome.starts_with("done") && toulouse_outcome.contains("réécrit"),
            "{toulouse_outcome}"
        );
        let nantes = outcome("Envoyé de Nantes");
        assert!(
            nantes.starts_with("done") && nantes.contains("SPF nantes.example"),
            "{nantes}"
        );

        let held = app.store.held_posts().await.unwrap();
        assert_eq!(held.len(), 2, "{held:?}");
        let forged_post = held.iter().find(|p| p.subject == "Faux maire").unwrap();
        for reason in [
            "non vérifiée",
            "DKIM de lyon.example refusée",
            "SPF de lyon.example pour 203.0.113.9",
        ] {
            assert!(
                forged_post.reasons.contains(reason),
                "{reason}: {}",
                forged_post.reasons
            );
        }
        assert!(
            !forged_post.reasons.contains("pas abonné"),
            "{}",
            forged_post.reasons
        );
        let altered_post = held.iter().find(|p| p.subject == "Altéré").unwrap();
        assert!(
            altered_post
                .reasons
                .contains("DKIM de lyon.example refusée"),
            "{}",
            altered_post.reasons
        );
        assert!(
            altered_post.reasons.contains("SPF non vérifiable"),
            "no client named over LMTP: {}",
            altered_post.reasons
        );

        // What subscribers see in From.
        assert_eq!(
            copy_from(&sink, "Signé par Lyon", 4).await[0],
            "Maire de Lyon <maire@lyon.example>"
        );
        assert_eq!(
            copy_from(&sink, "SPF de Marseille", 4).await[0],
            "DGS de Marseille via Échanges du club <echanges@romeurope.example>"
        );
        assert_eq!(
            copy_from(&sink, "Toulouse sans DMARC lisible", 4).await[0],
            "Cabinet de Toulouse via Échanges du club <echanges@romeurope.example>"
        );
        assert_eq!(
            copy_from(&sink, "Envoyé de Nantes", 4).await[0],
            "Élu de Nantes <elu@nantes.example>"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
