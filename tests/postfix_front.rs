//! A real Postfix in front of relais on the loopback, configured as docs/ARCHITECTURE.md says ("Postfix in
//! front of relais"), on both databases: an unknown address is refused at RCPT (address verification over
//! LMTP: no bounce later, no backscatter); an `Authentication-Results` a client forged in Postfix's name is
//! stripped by `header_checks`; XFORWARD hands relais the client's address, which it stores for SPF.
//!
//! Postfix runs as its own instance (its own configuration, queue and data folders under a temporary
//! folder, `postfix -c DIR start`), which needs root, as CI has; elsewhere the test says so and stops.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Backend;
use common::lists::{echanges, routed, signing_app};
use common::sink::Sink;

/// A Postfix instance; stopped when dropped.
struct Postfix {
    config: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Postfix {
    /// A Postfix listening for SMTP on a free port of 127.0.0.1, relaying `romeurope.example` to relais'
    /// LMTP listener `lmtp_port`, with the settings of docs/ARCHITECTURE.md.
    fn start(lmtp_port: u16) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = root.join("etc");
        let data = root.join("data");
        for folder in [&config, &data, &root.join("queue")] {
            std::fs::create_dir_all(folder).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root_text = root.to_str().unwrap();
        std::fs::write(
            config.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {root_text}/queue\n\
                 data_directory = {root_text}/data\n\
                 meta_directory = /etc/postfix\n\
                 mail_owner = postfix\n\
                 setgid_group = postdrop\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 myhostname = mx.club.example\n\
                 mydestination =\n\
                 maillog_file_prefixes = {root_text}\n\
                 maillog_file = {root_text}/maillog\n\
                 # From here on, as docs/ARCHITECTURE.md configures it.\n\
                 relay_domains = romeurope.example\n\
                 transport_maps = inline:{{ romeurope.example=lmtp:inet:127.0.0.1:{lmtp_port} }}\n\
                 lmtp_send_xforward_command = yes\n\
                 smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, reject_unverified_recipient\n\
                 mynetworks = 192.0.2.0/24\n\
                 unverified_recipient_reject_code = 550\n\
                 address_verify_map = btree:$data_directory/verify_cache\n\
                 header_checks = regexp:{}\n",
                config.join("strip_authentication_results").display()
            ),
        )
        .unwrap();
        // regexp: tables take POSIX classes, as the pcre: line of the docs does.
        std::fs::write(
            config.join("strip_authentication_results"),
            "/^Authentication-Results:[[:space:]]*mx\\.club\\.example[[:space:]]*;/ IGNORE\n",
        )
        .unwrap();
        let master = std::fs::read_to_string("/etc/postfix/master.cf")
            .expect("Debian's postfix is installed (apt-get install postfix)");
        let master = master
            .lines()
            .map(|line| {
                if line.starts_with("smtp ") && line.contains("smtpd") {
                    format!("127.0.0.1:{port} inet n - n - - smtpd")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(config.join("master.cf"), master + "\n").unwrap();
        run(
            "chown",
            &["postfix", data.to_str().unwrap()],
            "the data folder",
        );
        run(
            "chmod",
            &["755", root_text, config.to_str().unwrap()],
            "the folders",
        );
        run(
            "postfix",
            &["-c", config.to_str().unwrap(), "start"],
            "postfix start",
        );
        Postfix {
            config,
            port,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.config.parent().unwrap().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = std::process::Command::new("postfix")
            .args(["-c", self.config.to_str().unwrap(), "stop"])
            .output();
    }
}

fn run(program: &str, args: &[&str], what: &str) {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// swaks through Postfix; its transcript.
fn swaks(port: u16, to: &str, from: &str, data: Option<&Path>) -> String {
    let server = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--server",
        server.as_str(),
        "--to",
        to,
        "--from",
        from,
        "--helo",
        "mail.lyon.example",
        "--timeout",
        "30",
    ];
    let data_arg;
    match data {
        Some(path) => {
            data_arg = format!("@{}", path.display());
            args.extend(["--data", data_arg.as_str()]);
        }
        None => args.extend(["--quit-after", "RCPT"]),
    }
    let output = std::process::Command::new("swaks")
        .args(&args)
        .output()
        .expect("swaks runs (apt-get install swaks)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

mod postfix_in_front_refuses_unknown_addresses_and_strips_forged_results {
    use super::*;

    async fn run(backend: Backend) {
        if !is_root() {
            eprintln!("skipped: a Postfix instance needs root (CI runs as root)");
            return;
        }
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |settings| {
            // No DNS answers: relais' own DKIM and SPF checks fail, so only a trusted result could pass.
            settings.inbound.dns_servers = vec![([127, 0, 0, 1], 9).into()];
            settings.inbound.dns_timeout_ms = 200;
        })
        .await;
        echanges(&app, &[], "maire@lyon.example").await;
        let postfix = Postfix::start(app.lmtp.port());

        // An address relais does not have: refused at RCPT, after Postfix asked relais over LMTP.
        let mut refused = String::new();
        for _ in 0..20 {
            refused = swaks(
                postfix.port,
                "personne@romeurope.example",
                "x@lyon.example",
                None,
            );
            if !refused.contains("<** 450") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            refused.contains("<** 550") && refused.contains("personne@romeurope.example"),
            "{refused}\n{}",
            postfix.log()
        );

        // A post whose client forged the MX's Authentication-Results.
        let dir = tempfile::tempdir().unwrap();
        let post = dir.path().join("post.eml");
        std::fs::write(
            &post,
            "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\r\n\
             From: Maire de Lyon <maire@lyon.example>\r\nTo: echanges@romeurope.example\r\n\
             Subject: Faux laissez-passer\r\nMessage-ID: <faux@lyon.example>\r\n\
             Date: Tue, 24 Nov 2026 09:30:00 +0100\r\n\r\nBonjour.\r\n",
        )
        .unwrap();
        let sent = swaks(
            postfix.port,
            "echanges@romeurope.example",
            "maire@lyon.example",
            Some(&post),
        );
        assert!(sent.contains("<-  250 2.0.0 Ok: queued"), "{sent}");
        routed(&app, 1).await;
        let received = app.store.inbound_list(10).await.unwrap();
        let row = received
            .iter()
            .find(|r| r.recipient == "echanges@romeurope.example")
            .unwrap_or_else(|| panic!("{received:?}\n{}", postfix.log()));
        let raw = String::from_utf8(
            app.store
                .inbound_raw(row.message_id)
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert!(
            !raw.contains("Authentication-Results: mx.club.example"),
            "header_checks removed the forged result: {raw}"
        );
        assert!(raw.contains("by mx.club.example (Postfix)"), "{raw}");
        let client = app.store.inbound_client(row.message_id).await.unwrap();
        assert_eq!(
            client.ip.map(|ip| ip.to_string()).as_deref(),
            Some("127.0.0.1"),
            "XFORWARD named the client"
        );
        assert_eq!(client.helo, "mail.lyon.example");
        let held = app.store.held_posts().await.unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert!(
            held[0].reasons.contains("non vérifiée"),
            "{}",
            held[0].reasons
        );
        app.stop().await;
    }

    run_on_both_databases!();
}
