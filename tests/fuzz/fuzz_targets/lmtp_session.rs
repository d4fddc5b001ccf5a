//! The LMTP session as a mail server drives it: the input's first byte sets how many bytes relais gets per
//! read (2^(byte % 15), from 1 to 16 KiB, so commands, XFORWARD lines and DATA are also cut at every
//! place), the rest is everything the server sends in one connection. relais answers through an in-memory
//! pipe, with the real checks at RCPT and the real commit at the end of DATA.
//!
//! Checked: no panic; the whole exchange ends within 5 s once the input is used up (relais must never wait
//! for more than the client sends, nor stall on what it writes back); and relais writes only replies, the
//! 220 greeting first, each line three digits, a space or a hyphen and text, ended by CRLF. A line without its code would mean client bytes (a CR or
//! LF in an address) were echoed into a reply, so the mail server would read a reply relais never gave.
//! What the sessions store is not routed here: `route_message` fuzzes routing.

#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use relais::inbound::session::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    let Some((&read_size, dialogue)) = data.split_first() else {
        return;
    };
    let world = relais_fuzz::world();
    let peer = SocketAddr::from(([127, 0, 0, 1], 10025));
    let replies = world.runtime.block_on(async {
        let (client, server) = tokio::io::duplex(1 << (read_size % 15));
        let (mut from_relais, mut to_relais) = tokio::io::split(client);
        let session = world.inbound.converse(server, peer, Protocol::Lmtp);
        // relais may close first (QUIT): the rest of the input is then refused, which is fine.
        let send = async {
            let _ = to_relais.write_all(dialogue).await;
            let _ = to_relais.shutdown().await;
        };
        let mut replies = Vec::new();
        let receive = from_relais.read_to_end(&mut replies);
        let (ended, _, received) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(session, send, receive)
        })
        .await
        .expect("the session ends within 5 s of the end of its input");
        ended.expect("the session ends without an I/O error");
        received.expect("the replies are read to the end");
        replies
    });

    let shown = String::from_utf8_lossy(&replies);
    assert!(replies.starts_with(b"220 "), "no greeting: {shown:?}");
    for line in replies.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\r\n").unwrap_or(b"");
        let well_formed = text.len() >= 4
            && text[..3].iter().all(u8::is_ascii_digit)
            && matches!(text[3], b' ' | b'-')
            && !text.contains(&b'\r');
        assert!(
            well_formed,
            "not a reply line: {:?}",
            String::from_utf8_lossy(line)
        );
    }
});
