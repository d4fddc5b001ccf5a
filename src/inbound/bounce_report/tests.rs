//! Unit tests of [`read_bounce`](super::read_bounce): a message per format (RFC 3464 reports, Exim,
//! qmail, Postfix, Exchange, GroupWise, Yahoo, SMTP32, AOL, Yale, Microsoft, Netscape, Caiwireless, sina,
//! LLNL, the simple patterns), what is not a bounce, and the bounds on hostile input.

use super::*;

fn read(raw: &str, recipient: Option<&str>) -> BounceVerdict {
    read_bounce(raw.as_bytes(), recipient)
}

fn report(boundary: &str, text: &str, status: &str, original: &str) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n\
         To: bounces+abc@lists.example.org\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {text}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {status}\r\n\
         --{boundary}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         {original}\r\n\
         --{boundary}--\r\n"
    )
}

const HEADERS: &str =
    "From: bureau@lists.example.org\r\nTo: jean.dupont@example.org\r\nSubject: Conseil du 12 mars";

#[test]
fn dsn_permanent() {
    let raw = report(
        "B1",
        "This is the mail system at host mx.example.net.\r\n\r\n<jean.dupont@example.org>: host mx.example.org said: 550 5.1.1 User unknown",
        "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; jean.dupont@example.org\r\nOriginal-Recipient: rfc822;Jean.Dupont@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <jean.dupont@example.org>: Recipient\r\n    address rejected: User unknown in virtual mailbox table\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("jean.dupont@example.org"));
    assert_eq!(v.format, "dsn");
    assert_eq!(v.severity, Severity::Permanent);
    assert_eq!(v.status, "5.1.1");
    assert_eq!(
        v.diagnostic,
        "550 5.1.1 <jean.dupont@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    );
    assert_eq!(v.recipients, vec!["jean.dupont@example.org"]);
    let v = read(&raw, None);
    assert_eq!(v.severity, Severity::Permanent);
    assert_eq!(v.recipients, vec!["jean.dupont@example.org"]);
}

#[test]
fn dsn_ours_delayed_other_failed() {
    let raw = report(
        "B2",
        "Delivery report",
        "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; paul@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nFinal-Recipient: rfc822; marie@example.net\r\nAction: delayed\r\nStatus: 4.4.1\r\nWill-Retry-Until: Fri, 14 Mar 2025 10:00:00 +0100\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("marie@example.net"));
    assert_eq!(v.severity, Severity::Temporary);
    assert_eq!(v.status, "4.4.1");
    assert_eq!(v.recipients, vec!["marie@example.net"]);
    let v = read(&raw, Some("paul@example.com"));
    assert_eq!(v.severity, Severity::Permanent);
    let v = read(&raw, None);
    assert_eq!(v.severity, Severity::Permanent);
    assert_eq!(v.recipients, vec!["paul@example.com"]);
}

#[test]
fn dsn_variants() {
    // Action failed without Status: permanent, the code from the diagnostic.
    let raw = report(
        "B3",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 mailbox unavailable\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("a@example.org"));
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "550")
    );
    // Status: 553, a three-digit code.
    let raw = report(
        "B4",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nAction: failure\r\nStatus: 553 Exceeded maximum inbound message size\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("a@example.org"));
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "553")
    );
    // No Action, only a Status of class 5 or 4.
    let raw = report(
        "B5",
        "x",
        "Final-Recipient: rfc822; <a@example.org>\r\nStatus: 5.2.1\r\n",
        HEADERS,
    );
    assert_eq!(read(&raw, None).severity, Severity::Permanent);
    let raw = report(
        "B6",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nStatus: 4.2.2\r\n",
        HEADERS,
    );
    assert_eq!(read(&raw, None).severity, Severity::Temporary);
    // A success report.
    let raw = report(
        "B7",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("a@example.org"));
    assert_eq!((v.format, v.severity), ("dsn", Severity::Ignore));
    // 5.0.0 with a more precise code in the diagnostic; 5.7.x stays permanent.
    let raw = report(
        "B8",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 550-5.7.1 [192.0.2.1] Our system has detected\r\n 550-5.7.1 that this message is likely unsolicited mail.\r\n 550 5.7.1 Please visit the help page.\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("a@example.org"));
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "5.7.1")
    );
    assert_eq!(
        v.diagnostic,
        "550-5.7.1 [192.0.2.1] Our system has detected 550-5.7.1 that this message is likely unsolicited mail. 550 5.7.1 Please visit the help page."
    );
    // Gave up after a transient cause: permanent, the status says why.
    let raw = report(
        "B9",
        "x",
        "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 4.4.7\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("a@example.org"));
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "4.4.7")
    );
}

#[test]
fn dsn_inside_rfc822() {
    let inner = report(
        "IN",
        "x",
        "Final-Recipient: rfc822; lea@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        HEADERS,
    );
    let raw = format!(
        "From: Passerelle <gateway@example.com>\r\nSubject: Fwd: Undeliverable\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n--OUT\r\nContent-Type: text/plain\r\n\r\nForwarded report.\r\n--OUT\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--OUT--\r\n"
    );
    let v = read(&raw, Some("lea@example.com"));
    assert_eq!((v.format, v.severity), ("dsn", Severity::Permanent));
}

#[test]
fn exim() {
    let raw = "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\nTo: bounces+x@lists.example.org\nSubject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: claire@example.com\nAuto-Submitted: auto-replied\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  claire@example.com\n    host mx.example.com [192.0.2.25]\n    SMTP error from remote mail server after RCPT TO:<claire@example.com>:\n    550 5.1.1 <claire@example.com>: Recipient address rejected: User unknown\n\n------ This is a copy of the message, including all the headers. ------\n\nSubject: test\n";
    let v = read(raw, Some("claire@example.com"));
    assert_eq!(v.format, "exim");
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "5.1.1")
    );
    assert_eq!(
        v.diagnostic,
        "550 5.1.1 <claire@example.com>: Recipient address rejected: User unknown"
    );
}

#[test]
fn exim_warning() {
    let raw = "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\nSubject: Warning: message 1tAbCd-000123-Xy delayed 24 hours\nAuto-Submitted: auto-replied\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent has not yet been delivered to one or more of its\nrecipients after more than 24 hours on the queue on mail.example.net.\n\nThe address to which the message has not yet been delivered is:\n\n  claire@example.com\n    Delay reason: SMTP error from remote mail server after RCPT TO:<claire@example.com>:\n    451 4.7.1 Greylisted, please try again later\n\nNo action is required on your part. Delivery attempts will continue for\nsome time, and this warning may be repeated at intervals if the message\nremains undelivered. Eventually the mail delivery software will give up,\nand when that happens, the message will be returned to you.\n";
    let v = read(raw, Some("claire@example.com"));
    assert_eq!(v.severity, Severity::Temporary);
    assert_eq!(v.recipients, vec!["claire@example.com"]);
    assert_eq!(read(raw, None).severity, Severity::Temporary);
}

#[test]
fn qmail() {
    let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: failure notice\n\nHi. This is the qmail-send program at mail.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<marc@example.net>:\n192.0.2.7 does not like recipient.\nRemote host said: 550 5.1.1 <marc@example.net>... User unknown\nGiving up on 192.0.2.7.\n\n--- Below this line is a copy of the message.\n\nReturn-Path: <bounces+x@lists.example.org>\n";
    let v = read(raw, None);
    assert_eq!(v.format, "qmail");
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "5.1.1")
    );
    assert_eq!(v.recipients, vec!["marc@example.net"]);
    // Given up after a transient cause.
    let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: failure notice\n\nHi. This is the qmail-send program at mail.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<marc@example.net>:\nSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\nI'm not going to try again; this message has been in the queue too long.\n\n--- Below this line is a copy of the message.\n";
    let v = read(raw, Some("marc@example.net"));
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "4.4.1")
    );
}

#[test]
fn postfix_old_and_warning() {
    let make = |body: &str| {
        format!(
            "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"P\"\n\n--P\nContent-Description: Notification\nContent-Type: text/plain\n\n{body}\n--P\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--P--\n"
        )
    };
    let raw = make(
        "This is the Postfix program at host mx.example.org.\n\nI'm sorry to have to inform you that the message returned\nbelow could not be delivered to one or more destinations.\n\n\t\t\tThe Postfix program\n\n<sophie@example.com>: host mx.example.com[192.0.2.3] said: 550 5.1.1\n    <sophie@example.com>... User unknown\n",
    );
    let v = read(&raw, Some("sophie@example.com"));
    assert_eq!(v.format, "postfix");
    assert_eq!(
        (v.severity, v.status.as_str()),
        (Severity::Permanent, "5.1.1")
    );
    let raw = make(
        "This is the Postfix program at host mx.example.org.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for 4.0 hours.\nIt will be retried until it is 5.0 days old.\n\n\t\t\tThe Postfix program\n\n<sophie@example.com>: connect to mx.example.com[192.0.2.3]: Connection timed out\n",
    );
    let v = read(&raw, Some("sophie@example.com"));
    assert_eq!((v.format, v.severity), ("postfix", Severity::Temporary));
}

#[test]
fn exchange_and_groupwise() {
    let raw = "From: System Administrator <postmaster@example.com>\nSubject: Undeliverable: Lettre d'information\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"E\"\nX-Mailer: Internet Mail Service (5.5.2653.19)\n\n--E\nContent-Type: text/plain\n\nYour message\n\n  To:      info@lists.example.org\n  Subject: Lettre d'information\n\ndid not reach the following recipient(s):\n\nluc.martin@example.com on Tue, 11 Mar 2003 10:02:11 +0100\n    The recipient name is not recognized\n    MSEXCH:IMS:Example:SITE:MAIL01 0 (000C05A6) Unknown Recipient\n\n--E--\n";
    let v = read(raw, Some("luc.martin@example.com"));
    assert_eq!((v.format, v.severity), ("groupwise", Severity::Permanent));
    // Without the X-Mailer, the Exchange reader.
    let raw = raw.replace("X-Mailer: Internet Mail Service (5.5.2653.19)\n", "");
    let v = read(&raw, None);
    assert_eq!((v.format, v.severity), ("exchange", Severity::Permanent));
    assert_eq!(v.recipients, vec!["luc.martin@example.com"]);
    assert!(
        v.diagnostic.contains("Unknown Recipient"),
        "{}",
        v.diagnostic
    );
}

#[test]
fn yahoo_smtp32_aol_yale() {
    let raw = "From: MAILER-DAEMON@yahoo.com\nSubject: Failure Notice\n\nSorry, we were unable to deliver your message to the following address.\n\n<nina@example.net>:\nRemote host said: 550 5.1.1 <nina@example.net>: Recipient address rejected [RCPT_TO]\n\n--- Below this line is a copy of the message.\n\n<other@example.net>:\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("yahoo", Severity::Permanent));
    assert_eq!(v.recipients, vec!["nina@example.net"]);

    let raw = "From: \"Postmaster\" <postmaster@mail.example.net>\nSubject: Undeliverable Mail\nX-Mailer: <SMTP32 v8.15>\n\nUnknown user: hugo@example.net\n\nRCPT TO generated following response:\n553 5.3.0 <hugo@example.net>... Addressee unknown\n\nOriginal message follows.\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.status.as_str()), ("smtp32", "5.3.0"));

    let raw = "From: \"Mail Delivery Subsystem\" <MAILER-DAEMON@example.com>\nSubject: Mail Delivery Problem\nContent-Type: text/plain\n\nYour mail to the following recipients could not be delivered because they are not accepting mail from lists.example.org:\n\tbernard42\n";
    let v = read(raw, Some("bernard42@example.com"));
    assert_eq!((v.format, v.severity), ("aol", Severity::Permanent));
    assert_eq!(v.recipients, vec!["bernard42@example.com"]);

    let raw = "From: MAILER-DAEMON@mr1.its.example.edu\nSubject: Returned mail - nameserver error report\n\n --------Message not delivered to the following:\n\n claude    No matches to nameserver query\n\n --------Error Detail (phquery V4.1):\n\n The message, \"No matches to nameserver query,\" is generated whenever\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("yale", Severity::Permanent));
    assert_eq!(v.recipients, vec!["claude@example.edu"]);
}

#[test]
fn simple_patterns() {
    let raw = "From: Mail Delivery Subsystem <mailer-daemon@example.com>\nSubject: Delivery Status Notification (Failure)\n\nThis is an automatically generated Delivery Status Notification\n\nDelivery to the following recipient failed permanently:\n\n     irene@example.org\n\nTechnical details of permanent failure:\nThe email account that you tried to reach does not exist. 550 5.1.1\n\n----- Original message -----\n\nTo: irene@example.org\n";
    let v = read(raw, None);
    assert_eq!(
        (v.format, v.severity, v.status.as_str()),
        ("simple", Severity::Permanent, "5.1.1")
    );
    assert_eq!(v.recipients, vec!["irene@example.org"]);

    let raw = "From: Mail Delivery Subsystem <mailer-daemon@example.com>\nSubject: Delivery Status Notification (Delay)\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipient has been delayed:\n\n     irene@example.org\n\nMessage will be retried for 2 more day(s)\n";
    let v = read(raw, None);
    assert_eq!(
        (v.format, v.severity),
        ("simplewarning", Severity::Temporary)
    );

    let raw = "From: Administrateur <postmaster@example.fr>\nSubject: Message non remis\n\nVotre message n'a pas pu être remis aux destinataires suivants :\n\n  <gilles@example.fr>  (utilisateur inconnu)\n\n--- Copie du message\n";
    let v = read(raw, Some("gilles@example.fr"));
    assert_eq!((v.format, v.severity), ("simple", Severity::Permanent));
}

#[test]
fn microsoft_netscape_caiwireless() {
    let raw = "From: postmaster@exch.example.com\nSubject: Delivery Status Notification (Failure)\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"M\"\n\n--M\nContent-Type: text/plain\n\nDelivery to the following recipients failed.\n\n   ----- Transcript of session follows -----\n\n   eric@example.com\n--M\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--M--\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("microsoft", Severity::Permanent));
    assert_eq!(v.recipients, vec!["eric@example.com"]);

    let raw = "From: Mail Administrator <Postmaster@nsmail.example.com>\nSubject: Mail System Error - Returned Mail\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"N\"\n\n--N\nContent-Type: text/plain\n\nThis Message was undeliverable due to the following reason:\n\nThe user(s) account does not exist on this server.\n\n     <fanny@example.com>\n\nPlease reply to <Postmaster@nsmail.example.com>\n--N\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; nsmail.example.com\n--N--\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("netscape", Severity::Permanent));
    assert_eq!(v.recipients, vec!["fanny@example.com"]);

    let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: Mail not delivered\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"C\"\n\n--C\nContent-Type: text/plain\n\nMail delivery failed.\n\nThe following recipients did not receive this message:\n\n<simon@example.net>\n\n--C--\n";
    let v = read(raw, Some("simon@example.net"));
    assert_eq!((v.format, v.severity), ("caiwireless", Severity::Permanent));
}

#[test]
fn sina_and_llnl() {
    let raw = "From: MAILER-DAEMON@sina.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"S\"\n\n--S\nContent-Type: text/plain; charset=utf-8\n\nsina.com.\n邮件无法发送到您指定的地址中。\n\n<wei@example.com>:\n\n<li@example.com>:\n--S\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--S--\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("sina", Severity::Permanent));
    assert_eq!(v.recipients, vec!["wei@example.com", "li@example.com"]);

    let raw = "From: postmaster@example.gov (Automated response from the postmaster)\nSubject: FAILED MAIL to \"durand3\" regarding \"Agenda\"\n\nThe address to\nwhich your message was addressed, durand3@example.gov, did not exactly match an\nemail address here.\n";
    let v = read(raw, None);
    assert_eq!((v.format, v.severity), ("llnl", Severity::Permanent));
    assert_eq!(v.recipients, vec!["durand3@example.gov"]);
}

#[test]
fn forwarded_recipient_is_ours() {
    // The report names the address the subscriber forwards to; the VERP address says whose it is.
    let raw = report(
        "F",
        "x",
        "Final-Recipient: rfc822; jean.forward@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        HEADERS,
    );
    let v = read(&raw, Some("Jean.Dupont@Example.org"));
    assert_eq!(v.severity, Severity::Permanent);
    assert_eq!(
        v.recipients,
        vec!["jean.dupont@example.org", "jean.forward@example.net"]
    );
}

#[test]
fn no_address_named() {
    let raw = "From: MAILER-DAEMON@mx.example.com\nSubject: Mail delivery failed\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its recipients.\n\nOne or more of the recipients are not a valid user of the system.\n";
    let v = read(raw, Some("anne@example.com"));
    assert_eq!((v.format, v.severity), ("text", Severity::Permanent));
    assert_eq!(v.recipients, vec!["anne@example.com"]);
    let v = read(raw, None);
    assert_eq!(v.severity, Severity::Ignore);
}

#[test]
fn not_bounces() {
    let ooo = "From: Anne Lefort <anne@example.com>\nSubject: Réponse automatique : Conseil du 12 mars\nAuto-Submitted: auto-replied\n\nJe suis absente jusqu'au 20 mars. Pour toute urgence, écrivez à secretariat@example.com, merci.\n";
    let v = read(ooo, Some("anne@example.com"));
    assert_eq!((v.format, v.severity), ("autoreply", Severity::Ignore));
    let human = "From: Paul Girard <paul@example.net>\nSubject: Re: Conseil du 12 mars\n\nBonjour,\n\nMerci, paul.girard@example.net, je serai présent. Your message\nwas well received.\n\n> did not reach the following recipient\n";
    let v = read(human, Some("paul@example.net"));
    assert_eq!(v.severity, Severity::Ignore, "{v:?}");
}

#[test]
fn garbage_never_panics() {
    let samples = [
        report(
            "G",
            "<a@example.org>: 550 5.1.1 unknown",
            "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550\r\n  5.1.1 x",
            HEADERS,
        ),
        "From: MAILER-DAEMON@yahoo.com\nSubject: x\n\nSorry, we were unable to deliver your message to the following address.\n\n<é@ü>:\n550".to_string(),
        "From: \"Postmaster\" <postmaster@mail.example.net>\nX-Mailer: <SMTP32 v8.15>\n\nUnknown user: \n".to_string(),
        "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n".to_string(),
        "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nContent-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nAction: failed\n".to_string(),
    ];
    for sample in &samples {
        let bytes = sample.as_bytes();
        for end in 0..bytes.len() {
            let _ = read_bounce(&bytes[..end], Some("a@example.org"));
            let _ = read_bounce(&bytes[end..], None);
        }
    }
    let mut seed: u32 = 12345;
    for len in [0usize, 1, 2, 7, 64, 300, 4096] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        let _ = read_bounce(&bytes, None);
        let mut with_headers =
            b"From: MAILER-DAEMON@x\nContent-Type: multipart/report; boundary=b\n\n--b\n".to_vec();
        with_headers.extend(&bytes);
        let _ = read_bounce(&with_headers, Some("x@y"));
    }
    // Many addresses: bounded work.
    let started = std::time::Instant::now();
    let many: String = (0..20_000)
        .map(|i| format!("  <user{i}@example.org>  550 5.1.1 unknown\n"))
        .collect();
    for intro in [
        "Votre message n'a pas pu être remis aux destinataires suivants :\n",
        "Hi. This is the qmail-send program at x.\n\n",
        "did not reach the following recipient(s):\n",
        "",
    ] {
        let raw = format!(
            "From: MAILER-DAEMON@example.org\nSubject: failure notice\nX-Failed-Recipients: {}\n\n{intro}{many}",
            "a@example.org,".repeat(5_000)
        );
        let v = read_bounce(raw.as_bytes(), None);
        assert!(v.recipients.len() <= MAX_ENTRIES + 1);
    }
    let blocks = "Final-Recipient: rfc822; a@example.org\nAction: failed\n".repeat(20_000);
    let _ = read(&report("R", "x", &blocks, HEADERS), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let deep = "Content-Type: message/rfc822\n\n".repeat(50) + "Subject: x\n\nbody\n";
    let _ = read_bounce(deep.as_bytes(), None);
    let long = "<a@example.org>: 550 ".repeat(50_000);
    let _ = read_bounce(format!("From: postmaster@x\n\n{long}").as_bytes(), None);
}
