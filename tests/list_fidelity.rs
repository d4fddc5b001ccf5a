//! What an official finds in the mailbox, on both databases, checked with Python's `email` and `mailbox`:
//! a reply to any copy threads in every subscriber's mailbox and in the month's mbox (personal and shared
//! copies), every copy carries the whole post (a forwarded message, alternatives with an inline image and
//! its Content-ID, a file with bare LFs, an accented file name), and a personal link quoted in a reply
//! reaches no one.

mod common;

use common::lists::{copies, echanges, first_thread, lmtp, messages_of_kind, routed, signing_app};
use common::sink::{Sink, dkimpy_verdicts};
use common::{Backend, TestApp};

const SUBSCRIBERS: &str = "maire@lyon.example, Maire de Lyon\ndgs@marseille.example, DGS de Marseille\nelu@nantes.example";

/// A post from `from` (vouched for by the organisation's server), with `headers` (LF-ended lines) and a
/// plain body.
fn post(from: &str, subject: &str, headers: &str, body: &str) -> String {
    let domain = from.split('@').nth(1).unwrap();
    format!(
        "Authentication-Results: mx.club.example; dkim=pass header.d={domain}\nFrom: {from}\n\
         To: echanges@romeurope.example\nSubject: {subject}\nDate: Tue, 24 Nov 2026 09:30:00 +0100\n\
         {headers}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
}

/// The copy of `copies` received by `address`, parsed by Python's `email` into (Message-ID, In-Reply-To).
fn ids_of(copies: &[String], address: &str) -> (String, String) {
    let copy = copies
        .iter()
        .find(|c| c.contains(&format!("X-Sink-Rcpt: {address}\r\n")))
        .unwrap_or_else(|| panic!("no copy for {address}"));
    let output = python(
        "import email, sys\nm = email.message_from_bytes(sys.stdin.buffer.read())\n\
         print(m['Message-ID'] or ''); print(m['In-Reply-To'] or '')",
        copy.as_bytes(),
    );
    let mut lines = output.lines();
    (
        lines.next().unwrap_or_default().trim().to_string(),
        lines.next().unwrap_or_default().trim().to_string(),
    )
}

/// Runs a Python program with `input` on its standard input; its standard output.
fn python(program: &str, input: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(program)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A posts, B replies to the copy B received: A and C find the reply threaded under their own copy of the
/// first post, and so does the month's mbox read by Python's `mailbox`. A post without Message-ID gets
/// one, the same in every copy and in the mbox.
async fn replies_thread(backend: Backend, copies_mode: &str) {
    let sink = Sink::start().await;
    let (app, records) = signing_app(backend, &sink, |_| {}).await;
    let staff = echanges(&app, &[("copies", copies_mode)], SUBSCRIBERS).await;
    let first = post(
        "maire@lyon.example",
        "Raccordement à l'eau",
        "Message-ID: <369.4F79B73C@mail.example.com>\n",
        "Comment avez-vous fait ?",
    );
    let reply = lmtp(
        &app,
        "maire@lyon.example",
        "echanges@romeurope.example",
        &first,
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    routed(&app, 1).await;
    let sent = messages_of_kind(&app, "list_post").await;
    let first_copies = copies(&app, &sink, sent[0]).await;
    assert_eq!(first_copies.len(), 3);
    let (id_a, _) = ids_of(&first_copies, "maire@lyon.example");
    let (id_b, _) = ids_of(&first_copies, "dgs@marseille.example");
    let (id_c, _) = ids_of(&first_copies, "elu@nantes.example");
    assert_eq!(id_a, "<369.4F79B73C@mail.example.com>", "the author's own");
    assert_eq!((&id_b, &id_c), (&id_a, &id_a));
    for copy in &first_copies {
        assert_eq!(
            dkimpy_verdicts(&records, copy),
            vec!["SIG 0 ok", "SIG 1 ok"]
        );
    }

    // B answers the copy B received, as a mail client does.
    let answer = post(
        "dgs@marseille.example",
        "Re: [Club] Raccordement à l'eau",
        &format!(
            "Message-ID: <reponse-1@marseille.example>\nIn-Reply-To: {id_b}\nReferences: {id_b}\n"
        ),
        "Avec la régie des eaux.",
    );
    lmtp(
        &app,
        "dgs@marseille.example",
        "echanges@romeurope.example",
        &answer,
    )
    .await;
    // A post without a Message-ID.
    let bare = post(
        "elu@nantes.example",
        "Sans identifiant",
        "",
        "Bonjour à tous.",
    );
    lmtp(
        &app,
        "elu@nantes.example",
        "echanges@romeurope.example",
        &bare,
    )
    .await;
    routed(&app, 3).await;
    let sent = messages_of_kind(&app, "list_post").await;
    assert_eq!(sent.len(), 3, "{:?}", app.store.inbound_list(10).await);
    let reply_copies = copies(&app, &sink, sent[1]).await;
    for (address, id) in [("maire@lyon.example", &id_a), ("elu@nantes.example", &id_c)] {
        let (_, in_reply_to) = ids_of(&reply_copies, address);
        assert_eq!(&in_reply_to, id, "{address}'s copy of the reply threads");
    }
    let bare_copies = copies(&app, &sink, sent[2]).await;
    let assigned: std::collections::HashSet<String> = bare_copies
        .iter()
        .map(|c| {
            let address = c
                .lines()
                .find_map(|l| l.strip_prefix("X-Sink-Rcpt: "))
                .unwrap();
            ids_of(&bare_copies, address).0
        })
        .collect();
    assert_eq!(assigned.len(), 1, "one Message-ID for every copy");
    let assigned = assigned.into_iter().next().unwrap();
    assert!(assigned.ends_with("@romeurope.example>"), "{assigned}");

    // The archive threads by those ids: one thread for the post and its reply, one for the other post.
    let index = staff.get_text("/listes/echanges/archives").await;
    assert_eq!(
        index.matches("/listes/echanges/archives/fils/").count(),
        2,
        "{index}"
    );
    let mbox = staff
        .get("/listes/echanges/archives/mois/2026-11.mbox")
        .await
        .bytes()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mois.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let checked = python(
        &format!(
            "import mailbox\nbox = mailbox.mbox({:?})\nids = [m['Message-ID'] for m in box]\n\
             for m in box:\n    parent = m['In-Reply-To']\n    print(m['Message-ID'], parent, parent in ids if parent else '-')",
            path.to_str().unwrap()
        ),
        b"",
    );
    let lines: Vec<&str> = checked.lines().collect();
    assert_eq!(lines.len(), 3, "{checked}");
    assert_eq!(
        lines[0], "<369.4F79B73C@mail.example.com> None -",
        "{checked}"
    );
    assert_eq!(
        lines[1],
        format!("<reponse-1@marseille.example> {id_a} True"),
        "{checked}"
    );
    assert_eq!(lines[2], format!("{assigned} None -"), "{checked}");
    app.stop().await;
}

mod replies_thread_in_every_mailbox_with_personal_copies {
    use super::*;

    async fn run(backend: Backend) {
        replies_thread(backend, "personal").await;
    }

    run_on_both_databases!();
}

mod replies_thread_in_every_mailbox_with_shared_copies {
    use super::*;

    async fn run(backend: Backend) {
        replies_thread(backend, "shared").await;
    }

    run_on_both_databases!();
}

/// The parts of a message read by Python's `email` (`tests/mail/parts.py`): for each part, in order, its
/// type, file name, Content-ID and decoded bytes.
fn parts_of(raw: &[u8]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, raw).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/parts.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

mod every_copy_carries_the_whole_post {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, records) = signing_app(backend, &sink, |_| {}).await;
        echanges(&app, &[], SUBSCRIBERS).await;
        // A forward with alternatives, an HTML signature with its logo, a CSV written on Linux (bare LFs,
        // 8bit), an accented file name (RFC 2231) and a program the list strips.
        let post = "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\n\
From: Maire de Lyon <maire@lyon.example>\nTo: echanges@romeurope.example\nSubject: Tr: le bilan\n\
Message-ID: <bilan@lyon.example>\nDate: Tue, 24 Nov 2026 09:30:00 +0100\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"mixte\"\n\n\
--mixte\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n\
--alt\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
Voici le bilan transf=E9r=E9.\n\
--alt\nContent-Type: multipart/related; boundary=\"rel\"\n\n\
--rel\nContent-Type: text/html; charset=utf-8\n\n\
<html><body><p>Voici le bilan transféré.</p><img src=\"cid:logo.lyon@example\"></body></html>\n\
--rel\nContent-Type: image/png\nContent-ID: <logo.lyon@example>\nContent-Disposition: inline\n\
Content-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\
--rel--\n\n--alt--\n\n\
--mixte\nContent-Type: message/rfc822\n\n\
From: Direction de l'eau <eau@metropole.example>\nSubject: Bilan des raccordements\n\
Content-Type: text/plain; charset=utf-8\n\nLe bilan : 12 terrains raccordés.\n\n\
--mixte\nContent-Type: text/csv; charset=utf-8; name*=utf-8''rel%C3%A8ve%20d%C3%A9cembre.csv\n\
Content-Disposition: attachment; filename*=utf-8''rel%C3%A8ve%20d%C3%A9cembre.csv\n\
Content-Transfer-Encoding: 8bit\n\n\
MARKER_CSV\n\
--mixte\nContent-Type: application/octet-stream; name=\"outil.exe\"\n\
Content-Disposition: attachment; filename=\"outil.exe\"\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n\
--mixte--\n";
        // The session turns LF into CRLF; the CSV's own lines must stay bare LFs, as written on Linux.
        let csv = "terrain;familles;eau\nChemin des Prés;14;oui\nRue de l'Écluse;9;non\n";
        let wire = post.replace('\n', "\r\n").replace("MARKER_CSV", csv);
        let reply = raw_lmtp(&app, &wire).await;
        assert!(reply.contains("250 2.0.0"), "{reply}");
        routed(&app, 1).await;
        let sent = messages_of_kind(&app, "list_post").await;
        assert_eq!(sent.len(), 1, "{:?}", app.store.inbound_list(10).await);
        let received = copies(&app, &sink, sent[0]).await;
        assert_eq!(received.len(), 3);
        let original = parts_of(wire.as_bytes());
        for copy in &received {
            let body = &copy[copy.find("DKIM-Signature").unwrap()..];
            assert!(
                !body
                    .as_bytes()
                    .windows(2)
                    .enumerate()
                    .any(|(i, w)| (w[1] == b'\n' && w[0] != b'\r')
                        || (w[0] == b'\r' && w[1] != b'\n' && i + 1 < body.len())),
                "no bare CR or LF on the wire"
            );
            let parts = parts_of(copy.as_bytes());
            let leaves = |parts: &[serde_json::Value], kind: &str| -> Vec<serde_json::Value> {
                parts.iter().filter(|p| p[0] == kind).cloned().collect()
            };
            // The structure is the post's: the same multiparts, the forward, the image, the CSV.
            assert_eq!(leaves(&parts, "multipart"), leaves(&original, "multipart"));
            assert_eq!(leaves(&parts, "message"), leaves(&original, "message"));
            assert_eq!(
                leaves(&parts, "image/png"),
                leaves(&original, "image/png"),
                "byte-exact, with its Content-ID"
            );
            let csv_part = leaves(&parts, "text/csv");
            assert_eq!(csv_part, leaves(&original, "text/csv"));
            assert_eq!(csv_part[0][1], "relève décembre.csv");
            assert_eq!(
                csv_part[0][3],
                csv.as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                "the CSV's bytes, bare LFs included"
            );
            let text = leaves(&parts, "text/plain");
            let decoded = |hex: &serde_json::Value| {
                let hex = hex.as_str().unwrap();
                let bytes: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                String::from_utf8(bytes).unwrap()
            };
            let first_text = decoded(&text[0][3]);
            assert!(
                first_text.starts_with("Voici le bilan transféré.\r\n\r\n-- \r\nÉchanges du club"),
                "{first_text:?}"
            );
            let html = decoded(&leaves(&parts, "text/html")[0][3]);
            assert!(
                html.contains("<img src=\"cid:logo.lyon@example\">")
                    && html.contains("Échanges du club")
                    && html.trim_end().ends_with("</body></html>"),
                "{html}"
            );
            assert!(
                leaves(&parts, "application/octet-stream").is_empty(),
                "the program is stripped"
            );
            assert!(text.iter().any(|t| decoded(&t[3]).contains("outil.exe")));
            assert_eq!(
                dkimpy_verdicts(&records, copy),
                vec!["SIG 0 ok", "SIG 1 ok"]
            );
        }
        // The archive says what was removed and does not hand it out.
        let staff = app.logged_in(relais::domain::Role::Staff, &[]).await;
        let page = first_thread(&staff).await;
        assert!(
            page.contains("Retiré par la liste (programme) : outil.exe"),
            "{page}"
        );
        assert!(page.contains("relève décembre.csv"), "{page}");
        app.stop().await;
    }

    run_on_both_databases!();
}

/// An LMTP session carrying `wire` (already CRLF-ended, dot-stuffing not needed) from the mayor to the list.
async fn raw_lmtp(app: &TestApp, wire: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.lmtp).await.unwrap();
    let dialogue = format!(
        "LHLO mx.club.example\r\nMAIL FROM:<maire@lyon.example>\r\nRCPT TO:<echanges@romeurope.example>\r\nDATA\r\n{wire}\r\n.\r\nQUIT\r\n"
    );
    stream.write_all(dialogue.as_bytes()).await.unwrap();
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.unwrap();
    replies
}

/// A reply quoting a whole mail with a personal link (a newsletter's, or an old footer's): the link is
/// neutralised in every copy and in the archive, and the neutral link opens nobody's page.
mod a_quoted_personal_link_reaches_no_one {
    use super::*;

    async fn run(backend: Backend) {
        let sink = Sink::start().await;
        let (app, _) = signing_app(backend, &sink, |_| {}).await;
        let staff = echanges(&app, &[], SUBSCRIBERS).await;
        let link =
            common::lists::fresh_preferences_link(&app, &sink, "dgs@marseille.example").await;
        let own_page = TestApp::client()
            .get(app.url(&link))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(own_page.contains("dgs@marseille.example"), "{own_page}");
        let quoting = post(
            "dgs@marseille.example",
            "Re: [Club] Lettre",
            "",
            &format!(
                "Je transmets.\n\n> Gérer votre abonnement : http://127.0.0.1:8080{link}\n> Désabonnement : http://127.0.0.1:8080/desabonnement/AAAAAAAAAAGzlwPMrC0Saj1tfWt1uXeX"
            ),
        );
        lmtp(
            &app,
            "dgs@marseille.example",
            "echanges@romeurope.example",
            &quoting,
        )
        .await;
        routed(&app, 1).await;
        let sent = messages_of_kind(&app, "list_post").await;
        let received = copies(&app, &sink, sent[0]).await;
        assert_eq!(received.len(), 3);
        let token = link.trim_start_matches("/preferences/");
        for copy in &received {
            let unfolded = copy.replace("=\r\n", "");
            assert!(!unfolded.contains(token), "{copy}");
            assert!(!unfolded.contains("AAAAAAAAAAGzlwPMrC0Saj1tfWt1uXeX"));
            assert!(unfolded.contains("/preferences/lien-personnel-retire-par-relais"));
        }
        let page = first_thread(&staff).await;
        assert!(!page.contains(token), "{page}");
        assert!(
            page.contains("Je transmets.") && !page.contains("Gérer votre abonnement"),
            "the quoted footer is left out of the archive: {page}"
        );
        // The neutral link, followed by anyone: nobody's page, nobody's data.
        let client = TestApp::client();
        for path in [
            "/preferences/lien-personnel-retire-par-relais",
            "/preferences/lien-personnel-retire-par-relais/donnees.json",
        ] {
            let response = client.get(app.url(path)).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(status.is_client_error(), "{path}: {status}");
            assert!(!text.contains("@marseille.example"), "{text}");
        }
        app.stop().await;
    }

    run_on_both_databases!();
}
