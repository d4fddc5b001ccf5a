//! The LMTP and SMTP sessions, parsed with `smtp-proto`. A recipient that is not one of relais' addresses is
//! refused at RCPT (550 5.1.1); the message is committed to the database ([`Inbound::store_message`])
//! before the final reply, which LMTP gives once per recipient; a database error answers 451 so the mail
//! server tries again. Commands may be pipelined: replies are written when the client waits for them.
//! Over LMTP the mail server may name the client it received the message from with Postfix's `XFORWARD`
//! (`lmtp_send_xforward_command = yes`): that address and HELO name are what SPF is checked against.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::Inbound;
use super::address::destination;
use crate::store::inbound::NewInbound;

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Lmtp,
    Smtp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Lmtp => "lmtp",
            Protocol::Smtp => "smtp",
        }
    }
}

impl Inbound {
    /// Accepts connections until `stop` is cancelled; each session runs in its own task.
    pub async fn serve(self, listener: TcpListener, protocol: Protocol, stop: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let inbound = self.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            result = inbound.session(stream, peer, protocol) => {
                                if let Err(error) = result {
                                    tracing::debug!(%error, %peer, "inbound session ended");
                                }
                            }
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting an inbound connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Stores a message for `recipients` (already checked to be relais' own) and wakes the router.
    pub async fn store_message(
        &self,
        channel: &str,
        peer: &str,
        client: &SessionClient,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<i64, crate::store::StoreError> {
        let parsed = mail_parser::MessageParser::default().parse_headers(raw);
        let header = |f: &dyn Fn(&mail_parser::Message) -> Option<String>| {
            parsed.as_ref().and_then(f).unwrap_or_default()
        };
        let message_id = header(&|m| m.message_id().map(String::from));
        let subject = header(&|m| m.subject().map(String::from));
        let from = header(&|m| {
            m.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(|a| a.to_lowercase())
        });
        let id = self
            .store
            .store_inbound(
                &NewInbound {
                    channel,
                    peer,
                    client_ip: &client.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    client_helo: &client.helo,
                    envelope_from,
                    message_id: &message_id,
                    subject: &subject,
                    from_address: &from,
                    raw,
                },
                recipients,
                self.clock.now_millis(),
            )
            .await?;
        self.stored.notify_waiters();
        Ok(id)
    }

    async fn session(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        protocol: Protocol,
    ) -> std::io::Result<()> {
        let _ = stream.set_nodelay(true);
        self.converse(stream, peer, protocol).await
    }

    /// One LMTP or SMTP session over any byte stream (a socket, or an in-memory pipe for the fuzz target).
    pub async fn converse<S>(
        &self,
        mut stream: S,
        peer: SocketAddr,
        protocol: Protocol,
    ) -> std::io::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let settings = &self.settings.inbound;
        let domain = self.settings.mail.domain().to_string();
        let timeout = Duration::from_secs(settings.timeout_seconds);
        let mut out = format!(
            "220 {domain} relais {} ready\r\n",
            protocol.name().to_uppercase()
        )
        .into_bytes();
        let mut requests = RequestReceiver::default();
        let mut envelope: Option<Envelope> = None;
        let mut data: Option<(DataReceiver, Vec<u8>, bool)> = None;
        let mut discard_line = false;
        // The SMTP peer is the client SPF is about; behind LMTP it is the mail server, so only XFORWARD says.
        let mut client = SessionClient {
            ip: (protocol == Protocol::Smtp).then(|| peer.ip()),
            helo: String::new(),
        };
        let mut buf = vec![0u8; 16 * 1024];
        // An XFORWARD line cut by a read waits here for its end (smtp-proto does not know the command).
        let mut carry: Vec<u8> = Vec::new();
        loop {
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            let read = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
                Ok(read) => read?,
                Err(_) => {
                    let _ = stream
                        .write_all(b"421 4.4.2 Idle too long, closing\r\n")
                        .await;
                    return Ok(());
                }
            };
            if read == 0 {
                return Ok(());
            }
            let input: std::borrow::Cow<[u8]> = if carry.is_empty() {
                std::borrow::Cow::Borrowed(&buf[..read])
            } else {
                let mut joined = std::mem::take(&mut carry);
                joined.extend_from_slice(&buf[..read]);
                std::borrow::Cow::Owned(joined)
            };
            let input = input.as_ref();
            let mut bytes = input.iter();
            loop {
                if let Some((receiver, message, too_big)) = data.as_mut() {
                    let done = receiver.ingest(&mut bytes, message);
                    if message.len() > settings.max_message_bytes {
                        *too_big = true;
                        message.clear();
                    }
                    if !done {
                        break;
                    }
                    let (_, message, too_big) = data.take().expect("in data");
                    let envelope = envelope.take().unwrap_or_default();
                    self.finish_data(
                        &envelope, &client, message, too_big, protocol, &peer, &mut out,
                    )
                    .await;
                    continue;
                }
                if discard_line {
                    match bytes.as_slice().iter().position(|b| *b == b'\n') {
                        Some(at) => {
                            bytes = bytes.as_slice()[at + 1..].iter();
                            discard_line = false;
                        }
                        None => break,
                    }
                }
                if bytes.as_slice().is_empty() {
                    break;
                }
                if protocol == Protocol::Lmtp && data.is_none() && starts_xforward(bytes.as_slice())
                {
                    let rest = bytes.as_slice();
                    match rest.iter().position(|b| *b == b'\n') {
                        Some(at) => {
                            let line = String::from_utf8_lossy(&rest[..at]);
                            out.extend_from_slice(xforward(&line, &mut client).as_bytes());
                            out.extend_from_slice(b"\r\n");
                            bytes = rest[at + 1..].iter();
                            continue;
                        }
                        None if rest.len() < 4096 => {
                            carry = rest.to_vec();
                            break;
                        }
                        None => {
                            out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
                            discard_line = true;
                            break;
                        }
                    }
                }
                let before = bytes.as_slice().len();
                let request = requests.ingest(&mut bytes).map(Request::into_owned);
                match request {
                    Ok(request) => {
                        let quit = self
                            .command(
                                request,
                                protocol,
                                &domain,
                                &mut client,
                                &mut envelope,
                                &mut data,
                                &mut out,
                            )
                            .await;
                        if quit {
                            stream.write_all(&out).await?;
                            return Ok(());
                        }
                    }
                    Err(ProtoError::NeedsMoreData { .. }) => break,
                    Err(ProtoError::ResponseTooLong) => {
                        out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
                        discard_line = true;
                    }
                    Err(error) => {
                        let reply = match error {
                            ProtoError::UnknownCommand => "500 5.5.1 Unknown command",
                            ProtoError::InvalidSenderAddress => "501 5.1.7 Bad sender address",
                            ProtoError::InvalidRecipientAddress => {
                                "501 5.1.3 Bad recipient address"
                            }
                            _ => "501 5.5.4 Syntax error",
                        };
                        out.extend_from_slice(format!("{reply}\r\n").as_bytes());
                        // The parser may stop inside the line: the rest of it is not a command.
                        discard_line = bytes.as_slice().len() == before
                            || !bytes.as_slice().is_empty() && !ended_line(input, &bytes);
                    }
                }
            }
        }
    }

    /// Answers one command; true when the session ends.
    #[allow(clippy::too_many_arguments)]
    async fn command(
        &self,
        request: Request<String>,
        protocol: Protocol,
        domain: &str,
        client: &mut SessionClient,
        envelope: &mut Option<Envelope>,
        data: &mut Option<(DataReceiver, Vec<u8>, bool)>,
        out: &mut Vec<u8>,
    ) -> bool {
        let settings = &self.settings.inbound;
        let mut reply = |text: String| {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        match request {
            Request::Lhlo { .. } if protocol == Protocol::Lmtp => {
                *envelope = None;
                reply(greeting(domain, settings.max_message_bytes, protocol));
            }
            Request::Ehlo { host } | Request::Helo { host } if protocol == Protocol::Smtp => {
                *envelope = None;
                client.helo = host.chars().take(255).collect();
                reply(greeting(domain, settings.max_message_bytes, protocol));
            }
            Request::Lhlo { .. } | Request::Ehlo { .. } | Request::Helo { .. } => {
                reply(format!(
                    "500 5.5.1 Use {}",
                    if protocol == Protocol::Lmtp {
                        "LHLO"
                    } else {
                        "EHLO"
                    }
                ));
            }
            Request::Mail { from } => {
                if from.size > settings.max_message_bytes {
                    reply("552 5.3.4 Message too big".into());
                } else {
                    *envelope = Some(Envelope {
                        from: from.address.to_lowercase(),
                        recipients: Vec::new(),
                    });
                    reply("250 2.1.0 Sender OK".into());
                }
            }
            Request::Rcpt { to } => match envelope.as_mut() {
                None => reply("503 5.5.1 MAIL first".into()),
                Some(envelope) if envelope.recipients.len() >= settings.max_recipients => {
                    reply("452 4.5.3 Too many recipients".into())
                }
                Some(envelope) => {
                    match destination(&self.store, &self.settings, &to.address).await {
                        Ok(Some(_)) => {
                            envelope.recipients.push(to.address.to_lowercase());
                            reply("250 2.1.5 Recipient OK".into());
                        }
                        Ok(None) => {
                            reply(format!("550 5.1.1 <{}>: no such address here", to.address))
                        }
                        Err(error) => {
                            tracing::warn!(%error, "checking a recipient failed");
                            reply("451 4.3.0 Temporary failure, try again".into());
                        }
                    }
                }
            },
            Request::Data => match envelope.as_ref() {
                Some(envelope) if !envelope.recipients.is_empty() => {
                    reply("354 End data with <CR><LF>.<CR><LF>".into());
                    *data = Some((DataReceiver::new(), Vec::new(), false));
                }
                _ => reply("503 5.5.1 No valid recipients".into()),
            },
            Request::Bdat { .. } => reply("502 5.5.1 BDAT not offered".into()),
            Request::Rset => {
                *envelope = None;
                reply("250 2.0.0 OK".into());
            }
            Request::Noop { .. } => reply("250 2.0.0 OK".into()),
            Request::Vrfy { .. } => reply("252 2.5.2 Cannot verify".into()),
            Request::Quit => {
                reply("221 2.0.0 Bye".into());
                return true;
            }
            _ => reply("502 5.5.1 Command not implemented".into()),
        }
        false
    }

    /// The end of DATA: store, then the final reply (one per recipient in LMTP).
    #[allow(clippy::too_many_arguments)]
    async fn finish_data(
        &self,
        envelope: &Envelope,
        client: &SessionClient,
        message: Vec<u8>,
        too_big: bool,
        protocol: Protocol,
        peer: &SocketAddr,
        out: &mut Vec<u8>,
    ) {
        let reply = if too_big {
            "552 5.3.4 Message too big".to_string()
        } else {
            match self
                .store_message(
                    protocol.name(),
                    &peer.to_string(),
                    client,
                    &envelope.from,
                    &envelope.recipients,
                    &message,
                )
                .await
            {
                Ok(id) => format!("250 2.0.0 Stored as {id}"),
                Err(error) => {
                    tracing::error!(%error, "storing a received message failed; the server will try again");
                    "451 4.3.0 Temporary failure, try again".to_string()
                }
            }
        };
        let count = if protocol == Protocol::Lmtp {
            envelope.recipients.len()
        } else {
            1
        };
        for _ in 0..count {
            out.extend_from_slice(reply.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[derive(Debug, Default)]
struct Envelope {
    from: String,
    recipients: Vec<String>,
}

/// The client a session's messages came from, for SPF.
#[derive(Debug, Clone, Default)]
pub struct SessionClient {
    pub ip: Option<IpAddr>,
    pub helo: String,
}

fn greeting(domain: &str, max: usize, protocol: Protocol) -> String {
    let xforward = if protocol == Protocol::Lmtp {
        "250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n"
    } else {
        ""
    };
    format!(
        "250-{domain}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n{xforward}250 SIZE {max}"
    )
}

/// Whether `bytes` begin with the XFORWARD command (or with a part of its name, the rest still to come).
fn starts_xforward(bytes: &[u8]) -> bool {
    const NAME: &[u8] = b"XFORWARD";
    let n = bytes.len().min(NAME.len());
    n > 0
        && bytes[..n].eq_ignore_ascii_case(&NAME[..n])
        && (bytes.len() <= NAME.len() || bytes[NAME.len()] == b' ')
}

/// Applies `XFORWARD ADDR=… HELO=…` (values xtext-encoded, `[UNAVAILABLE]` when the server does not know)
/// and gives the reply.
fn xforward(line: &str, client: &mut SessionClient) -> &'static str {
    let line = line.trim_end_matches('\r');
    let mut attributes = line.split_ascii_whitespace().skip(1).peekable();
    if attributes.peek().is_none() {
        return "501 5.5.4 Syntax: XFORWARD attribute=value...";
    }
    for attribute in attributes {
        let Some((name, value)) = attribute.split_once('=') else {
            return "501 5.5.4 Bad XFORWARD attribute";
        };
        let value = xtext_decode(value);
        let known =
            !value.starts_with('[') || !value.ends_with(']') || value.parse::<IpAddr>().is_ok();
        match name.to_ascii_uppercase().as_str() {
            "ADDR" => {
                let address = value
                    .strip_prefix("IPV6:")
                    .or_else(|| value.strip_prefix("ipv6:"))
                    .unwrap_or(&value);
                client.ip = if known { address.parse().ok() } else { None };
            }
            "HELO" => {
                client.helo = if known {
                    value.chars().take(255).collect()
                } else {
                    String::new()
                }
            }
            "NAME" | "PORT" | "PROTO" | "IDENT" | "SOURCE" => {}
            _ => return "501 5.5.4 Bad XFORWARD attribute",
        }
    }
    "250 2.0.0 Ok"
}

/// Decodes RFC 3461 xtext (`+2B` for `+`).
fn xtext_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether what was consumed of `read` so far ends with a line feed.
fn ended_line(read: &[u8], rest: &std::slice::Iter<'_, u8>) -> bool {
    let consumed = read.len() - rest.as_slice().len();
    consumed > 0 && read[consumed - 1] == b'\n'
}

/// Reads a message for `relais inject` and stores it for `to`, if `to` is one of relais' addresses.
pub async fn inject(
    inbound: &Inbound,
    to: &str,
    envelope_from: &str,
    raw: &[u8],
) -> anyhow::Result<i64> {
    if destination(&inbound.store, &inbound.settings, to)
        .await?
        .is_none()
    {
        anyhow::bail!("{to} n'est pas une adresse de relais");
    }
    if raw.len() > inbound.settings.inbound.max_message_bytes {
        anyhow::bail!("message trop gros ({} octets)", raw.len());
    }
    Ok(inbound
        .store_message(
            "inject",
            "",
            &SessionClient::default(),
            envelope_from,
            &[to.to_lowercase()],
            raw,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xforward_names_the_client_and_ignores_what_the_server_does_not_know() {
        let mut client = SessionClient::default();
        assert_eq!(
            xforward(
                "XFORWARD NAME=mail.lyon.example ADDR=192.0.2.7 HELO=mail+2Elyon.example\r",
                &mut client
            ),
            "250 2.0.0 Ok"
        );
        assert_eq!(client.ip, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(client.helo, "mail.lyon.example");
        xforward(
            "XFORWARD ADDR=IPV6:2001:db8::1 HELO=[UNAVAILABLE]",
            &mut client,
        );
        assert_eq!(client.ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(client.helo, "");
        xforward("XFORWARD ADDR=[UNAVAILABLE]", &mut client);
        assert_eq!(client.ip, None);
        assert!(xforward("XFORWARD", &mut client).starts_with("501"));
        assert!(xforward("XFORWARD COLOR=blue", &mut client).starts_with("501"));
    }

    #[test]
    fn xforward_is_recognised_even_when_cut_by_a_read() {
        assert!(starts_xforward(b"XFORWARD ADDR=1.2.3.4\r\n"));
        assert!(starts_xforward(b"xforw"));
        assert!(!starts_xforward(b"XFORWARDED"));
        assert!(!starts_xforward(b"MAIL FROM:<a@b>"));
        assert_eq!(xtext_decode("a+2Bb+3Dc+"), "a+b=c+");
    }
}
