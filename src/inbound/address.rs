//! Which addresses are relais' own, and what each stands for: `mail.from_address` (staff, and the ORGANIZER
//! calendar replies go to), `bounces+<token>` (VERP), `desabonnement+<token>` (the mailto of
//! `List-Unsubscribe`), and each list's key with its `-join`, `-leave` and `-request` commands, all on
//! `mail.from_address`'s domain.

use crate::config::Settings;
use crate::store::{Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join,
    Leave,
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The organisation's own address.
    Staff,
    /// A delivery status notification about the delivery with this token.
    Bounce(String),
    /// "Unsubscribe" sent by mail, for the delivery with this token.
    Unsubscribe(String),
    /// A list, or one of its commands.
    List {
        key: String,
        command: Option<Command>,
    },
}

/// What `address` stands for, if it is one of relais' own.
pub async fn destination(
    store: &Store,
    settings: &Settings,
    address: &str,
) -> StoreResult<Option<Destination>> {
    let address = address.trim().trim_matches(['<', '>']).to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    if domain != settings.mail.domain().to_lowercase() {
        return Ok(None);
    }
    let own = settings.mail.from_address.to_lowercase();
    if address == own {
        return Ok(Some(Destination::Staff));
    }
    let token = |prefix: &str| {
        local
            .strip_prefix(prefix)
            .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(String::from)
    };
    if let Some(token) = token("bounces+") {
        return Ok(Some(Destination::Bounce(token)));
    }
    if let Some(token) = token("desabonnement+") {
        return Ok(Some(Destination::Unsubscribe(token)));
    }
    let (key, command) = if let Some(key) = local.strip_suffix("-join") {
        (key, Some(Command::Join))
    } else if let Some(key) = local.strip_suffix("-leave") {
        (key, Some(Command::Leave))
    } else if let Some(key) = local.strip_suffix("-request") {
        (key, Some(Command::Request))
    } else {
        (local, None)
    };
    Ok(store.mailing_list(key).await?.map(|_| Destination::List {
        key: key.to_string(),
        command,
    }))
}
