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

    /// One LMTP or SMTP session over any byte stream (a socket, or an in-memory pipe for the fuzz target):
    /// reads what the client sends, lets the [`Conversation`] answer it, and writes the replies when the
    /// client waits for them. A client silent for `inbound.timeout_seconds` is told 421 and left.
    pub async fn converse<S>(
        &self,
        mut stream: S,
        peer: SocketAddr,
        protocol: Protocol,
    ) -> std::io::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let timeout = Duration::from_secs(self.settings.inbound.timeout_seconds);
        let mut conversation = Conversation::new(self, peer, protocol);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if !conversation.out.is_empty() {
                stream.write_all(&conversation.out).await?;
                conversation.out.clear();
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
            if conversation.take_input(&buf[..read]).await == Turn::Quit {
                stream.write_all(&conversation.out).await?;
                return Ok(());
            }
        }
    }
}

/// Where a session stands between two commands: the states of the LMTP/SMTP conversation (RFC 5321, 2033).
/// Each step through the received bytes takes the phase out, handles the bytes, and puts back the next one.
enum Phase {
    /// Reading commands; the envelope being built, if any, is [`Conversation::envelope`].
    Commands,
    /// A refused line is skipped up to its end before the next command is read.
    SkippingLine,
    /// After DATA's 354: the message is read up to its final dot.
    Message(IncomingMessage),
}

/// A message being received after DATA.
struct IncomingMessage {
    receiver: DataReceiver,
    bytes: Vec<u8>,
    /// Over `inbound.max_message_bytes`: the bytes are dropped as they come and the end answers 552.
    too_big: bool,
}

impl IncomingMessage {
    fn new() -> Self {
        IncomingMessage {
            receiver: DataReceiver::new(),
            bytes: Vec::new(),
            too_big: false,
        }
    }

    /// Takes what `input` holds of the message; true once its final dot was read.
    fn ingest(&mut self, input: &mut std::slice::Iter<'_, u8>, max_bytes: usize) -> bool {
        let done = self.receiver.ingest(input, &mut self.bytes);
        if self.bytes.len() > max_bytes {
            self.too_big = true;
            self.bytes.clear();
        }
        done
    }
}

/// Whether the session goes on after the bytes read so far.
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// All of the input was used; read more.
    ReadMore,
    /// The client said QUIT.
    Quit,
}

/// What one step through the input did.
enum Step {
    /// The phase may take more of the same input.
    Continue,
    Turn(Turn),
}

/// The state of one session: who the client is, the envelope, the phase, and the replies not yet written.
struct Conversation<'a> {
    inbound: &'a Inbound,
    protocol: Protocol,
    peer: SocketAddr,
    domain: String,
    /// The SMTP peer is the client SPF is about; behind LMTP it is the mail server, so only XFORWARD says.
    client: SessionClient,
    envelope: Option<Envelope>,
    phase: Phase,
    requests: RequestReceiver,
    /// An XFORWARD line cut by a read waits here for its end (smtp-proto does not know the command).
    carry: Vec<u8>,
    /// Replies not yet written: they go out when the client waits for them (pipelining).
    out: Vec<u8>,
}

impl<'a> Conversation<'a> {
    /// A new session, its 220 greeting ready to be written.
    fn new(inbound: &'a Inbound, peer: SocketAddr, protocol: Protocol) -> Self {
        let domain = inbound.settings.mail.domain().to_string();
        let out = format!(
            "220 {domain} relais {} ready\r\n",
            protocol.name().to_uppercase()
        )
        .into_bytes();
        Conversation {
            inbound,
            protocol,
            peer,
            domain,
            client: SessionClient {
                ip: (protocol == Protocol::Smtp).then(|| peer.ip()),
                helo: String::new(),
            },
            envelope: None,
            phase: Phase::Commands,
            requests: RequestReceiver::default(),
            carry: Vec::new(),
            out,
        }
    }

    fn reply(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Handles the bytes of one read, phase after phase, until they are used up or the client quits.
    async fn take_input(&mut self, read: &[u8]) -> Turn {
        let joined;
        let input = if self.carry.is_empty() {
            read
        } else {
            let mut carried = std::mem::take(&mut self.carry);
            carried.extend_from_slice(read);
            joined = carried;
            &joined[..]
        };
        let mut bytes = input.iter();
        loop {
            let step = match std::mem::replace(&mut self.phase, Phase::Commands) {
                Phase::Message(message) => self.receive_message(message, &mut bytes).await,
                Phase::SkippingLine => self.skip_line(&mut bytes),
                Phase::Commands => self.next_command(input, &mut bytes).await,
            };
            if let Step::Turn(turn) = step {
                return turn;
            }
        }
    }

    /// Takes message bytes; at the final dot, stores the message and answers.
    async fn receive_message(
        &mut self,
        mut message: IncomingMessage,
        bytes: &mut std::slice::Iter<'_, u8>,
    ) -> Step {
        let max_bytes = self.inbound.settings.inbound.max_message_bytes;
        if !message.ingest(bytes, max_bytes) {
            self.phase = Phase::Message(message);
            return Step::Turn(Turn::ReadMore);
        }
        let envelope = self.envelope.take().unwrap_or_default();
        self.finish_data(&envelope, message).await;
        Step::Continue
    }

    /// Skips the rest of a refused line; commands resume after its line feed.
    fn skip_line(&mut self, bytes: &mut std::slice::Iter<'_, u8>) -> Step {
        match bytes.as_slice().iter().position(|b| *b == b'\n') {
            Some(at) => {
                *bytes = bytes.as_slice()[at + 1..].iter();
                Step::Continue
            }
            None => {
                self.phase = Phase::SkippingLine;
                Step::Turn(Turn::ReadMore)
            }
        }
    }

    /// Reads and answers the next command, if `bytes` hold a whole one.
    async fn next_command(&mut self, input: &[u8], bytes: &mut std::slice::Iter<'_, u8>) -> Step {
        if bytes.as_slice().is_empty() {
            return Step::Turn(Turn::ReadMore);
        }
        if self.protocol == Protocol::Lmtp && starts_xforward(bytes.as_slice()) {
            return self.next_xforward(bytes);
        }
        let before = bytes.as_slice().len();
        match self.requests.ingest(bytes).map(Request::into_owned) {
            Ok(request) => {
                if self.command(request).await {
                    Step::Turn(Turn::Quit)
                } else {
                    Step::Continue
                }
            }
            Err(ProtoError::NeedsMoreData { .. }) => Step::Turn(Turn::ReadMore),
            Err(ProtoError::ResponseTooLong) => {
                self.reply("500 5.5.2 Line too long");
                self.phase = Phase::SkippingLine;
                Step::Continue
            }
            Err(error) => {
                self.reply(match error {
                    ProtoError::UnknownCommand => "500 5.5.1 Unknown command",
                    ProtoError::InvalidSenderAddress => "501 5.1.7 Bad sender address",
                    ProtoError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address",
                    _ => "501 5.5.4 Syntax error",
                });
                // The parser may stop inside the line: the rest of it is not a command.
                if bytes.as_slice().len() == before
                    || !bytes.as_slice().is_empty() && !ended_line(input, bytes)
                {
                    self.phase = Phase::SkippingLine;
                }
                Step::Continue
            }
        }
    }

    /// Answers an XFORWARD line, or keeps its beginning for the next read.
    fn next_xforward(&mut self, bytes: &mut std::slice::Iter<'_, u8>) -> Step {
        let rest = bytes.as_slice();
        match rest.iter().position(|b| *b == b'\n') {
            Some(at) => {
                let line = String::from_utf8_lossy(&rest[..at]);
                let answer = xforward(&line, &mut self.client);
                self.reply(answer);
                *bytes = rest[at + 1..].iter();
                Step::Continue
            }
            None if rest.len() < 4096 => {
                self.carry = rest.to_vec();
                Step::Turn(Turn::ReadMore)
            }
            None => {
                self.reply("500 5.5.2 Line too long");
                self.phase = Phase::SkippingLine;
                Step::Turn(Turn::ReadMore)
            }
        }
    }

    /// Answers one command; true when the session ends.
    async fn command(&mut self, request: Request<String>) -> bool {
        let settings = &self.inbound.settings.inbound;
        let (max_bytes, max_recipients) = (settings.max_message_bytes, settings.max_recipients);
        match request {
            Request::Lhlo { .. } if self.protocol == Protocol::Lmtp => {
                self.envelope = None;
                self.reply(&greeting(&self.domain, max_bytes, self.protocol));
            }
            Request::Ehlo { host } | Request::Helo { host } if self.protocol == Protocol::Smtp => {
                self.envelope = None;
                self.client.helo = host.chars().take(255).collect();
                self.reply(&greeting(&self.domain, max_bytes, self.protocol));
            }
            Request::Lhlo { .. } | Request::Ehlo { .. } | Request::Helo { .. } => {
                self.reply(match self.protocol {
                    Protocol::Lmtp => "500 5.5.1 Use LHLO",
                    Protocol::Smtp => "500 5.5.1 Use EHLO",
                });
            }
            Request::Mail { from } => {
                if from.size > max_bytes {
                    self.reply("552 5.3.4 Message too big");
                } else {
                    self.envelope = Some(Envelope {
                        from: from.address.to_lowercase(),
                        recipients: Vec::new(),
                    });
                    self.reply("250 2.1.0 Sender OK");
                }
            }
            Request::Rcpt { to } => self.recipient(&to.address, max_recipients).await,
            Request::Data => {
                if self
                    .envelope
                    .as_ref()
                    .is_some_and(|envelope| !envelope.recipients.is_empty())
                {
                    self.reply("354 End data with <CR><LF>.<CR><LF>");
                    self.phase = Phase::Message(IncomingMessage::new());
                } else {
                    self.reply("503 5.5.1 No valid recipients");
                }
            }
            Request::Bdat { .. } => self.reply("502 5.5.1 BDAT not offered"),
            Request::Rset => {
                self.envelope = None;
                self.reply("250 2.0.0 OK");
            }
            Request::Noop { .. } => self.reply("250 2.0.0 OK"),
            Request::Vrfy { .. } => self.reply("252 2.5.2 Cannot verify"),
            Request::Quit => {
                self.reply("221 2.0.0 Bye");
                return true;
            }
            _ => self.reply("502 5.5.1 Command not implemented"),
        }
        false
    }

    /// RCPT: only relais' own addresses, at most `max_recipients` per message.
    async fn recipient(&mut self, address: &str, max_recipients: usize) {
        let Some(envelope) = self.envelope.as_ref() else {
            return self.reply("503 5.5.1 MAIL first");
        };
        if envelope.recipients.len() >= max_recipients {
            return self.reply("452 4.5.3 Too many recipients");
        }
        let inbound = self.inbound;
        match destination(&inbound.store, &inbound.settings, address).await {
            Ok(Some(_)) => {
                if let Some(envelope) = self.envelope.as_mut() {
                    envelope.recipients.push(address.to_lowercase());
                }
                self.reply("250 2.1.5 Recipient OK");
            }
            Ok(None) => self.reply(&format!("550 5.1.1 <{address}>: no such address here")),
            Err(error) => {
                tracing::warn!(%error, "checking a recipient failed");
                self.reply("451 4.3.0 Temporary failure, try again");
            }
        }
    }

    /// The end of DATA: store, then the final reply (one per recipient in LMTP).
    async fn finish_data(&mut self, envelope: &Envelope, message: IncomingMessage) {
        let reply = if message.too_big {
            "552 5.3.4 Message too big".to_string()
        } else {
            match self
                .inbound
                .store_message(
                    self.protocol.name(),
                    &self.peer.to_string(),
                    &self.client,
                    &envelope.from,
                    &envelope.recipients,
                    &message.bytes,
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
        let count = match self.protocol {
            Protocol::Lmtp => envelope.recipients.len(),
            Protocol::Smtp => 1,
        };
        for _ in 0..count {
            self.reply(&reply);
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
