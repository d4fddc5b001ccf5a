//! One copy's SMTP dialogue on a connection lettre opened, with command pipelining (RFC 2920) when the
//! server offers it: `MAIL FROM`, every `RCPT TO` and `DATA` leave in one write and their replies are read
//! in order, then the message follows. Two round trips per copy instead of four halves the wake-ups of
//! both relais and the server; sending thousands of copies a second, those wake-ups cost as much CPU as the
//! SMTP work itself. lettre does not pipeline, and its `ServerInfo` forgets extensions it does not use, so
//! relais asks `EHLO` once more on each new connection to see whether `PIPELINING` is offered.

use lettre::address::Envelope;
use lettre::transport::smtp::Error;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

/// An open SMTP connection and what its server offers.
pub struct Connection {
    pub inner: AsyncSmtpConnection,
    pub pipelining: bool,
}

impl Connection {
    /// Asks `EHLO` again (allowed at any time; it resets nothing a new connection has) to learn whether
    /// the server pipelines. Call before authenticating: some servers forget an authentication on `EHLO`.
    pub async fn new(
        mut inner: AsyncSmtpConnection,
        hello: &ClientId,
    ) -> Result<Connection, Error> {
        let reply = inner.command(Ehlo::new(hello.clone())).await?;
        let pipelining = reply.message().skip(1).any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Connection { inner, pipelining })
    }

    pub fn has_broken(&self) -> bool {
        self.inner.has_broken()
    }

    /// Sends one message. On a refusal the connection is left in an unknown state: drop it.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Response, Error> {
        if !self.pipelining {
            return self.inner.send(envelope, message).await;
        }
        let mut options = Vec::new();
        let offers = |extension: Extension| self.inner.server_info().supports_feature(extension);
        let mut addresses = envelope.from().into_iter().chain(envelope.to());
        if addresses.any(|address| !AsRef::<str>::as_ref(address).is_ascii()) {
            options.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        // lettre knows these two extensions: when the server lacks one, its own dialogue says so.
        let unsupported = (options.contains(&MailParameter::SmtpUtfEight)
            && !offers(Extension::SmtpUtfEight))
            || (!message.is_ascii() && !offers(Extension::EightBitMime));
        if unsupported {
            return self.inner.send(envelope, message).await;
        }
        let mut commands = Mail::new(envelope.from().cloned(), options).to_string();
        for recipient in envelope.to() {
            commands.push_str(&Rcpt::new(recipient.clone(), vec![]).to_string());
        }
        commands.push_str(&Data.to_string());
        // `command` writes the whole group at once and reads the first reply (MAIL's); the others follow in
        // the order of the commands. Every reply is read even after a refusal, so none is left unread.
        let mut first_refusal = match self.inner.command(commands).await {
            Err(error) if error.status().is_none() => return Err(error),
            result => result.err(),
        };
        for _ in 0..envelope.to().len() + 1 {
            match self.inner.read_response().await {
                Ok(_) => {}
                // The connection itself failed: nothing more can be read.
                Err(error) if error.status().is_none() => return Err(error),
                Err(error) => {
                    first_refusal.get_or_insert(error);
                }
            }
        }
        if let Some(refusal) = first_refusal {
            return Err(refusal);
        }
        match String::from_utf8(data_block(message)) {
            // lettre's `command` writes any text and reads one reply: the message, dot-stuffed and ended
            // here, leaves in one write (lettre's `message` writes the end apart, and stuffs byte by byte).
            Ok(block) => self.inner.command(Verbatim(block)).await,
            Err(_) => self.inner.message(message).await,
        }
    }
}

/// Text written to the server as it is.
struct Verbatim(String);

impl std::fmt::Display for Verbatim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message as the DATA phase carries it (RFC 5321 4.5.2): a line that starts with a dot gets another,
/// and a line holding a single dot ends it.
fn data_block(message: &[u8]) -> Vec<u8> {
    let mut block = Vec::with_capacity(message.len() + 64);
    for line in message.split_inclusive(|&byte| byte == b'\n') {
        if line.starts_with(b".") {
            block.push(b'.');
        }
        block.extend_from_slice(line);
    }
    if !block.ends_with(b"\r\n") {
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b".\r\n");
    block
}

#[cfg(test)]
mod tests {
    use super::data_block;

    #[test]
    fn lines_starting_with_a_dot_are_stuffed_and_the_block_ends_with_a_lone_dot() {
        assert_eq!(
            data_block(b".a\r\nb\r\n.\r\n..c"),
            b"..a\r\nb\r\n..\r\n...c\r\n.\r\n"
        );
        assert_eq!(data_block(b"a\r\n"), b"a\r\n.\r\n");
    }
}
