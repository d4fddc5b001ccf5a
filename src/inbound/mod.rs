//! Mail relais receives: the LMTP (and optional SMTP) listener inside `relais serve` and `relais inject`
//! store each message durably before answering ([`session`]); routers then decide, per recipient, what the
//! message is — a calendar reply, a bounce, an unsubscribe by mail, a list command or a list post — and
//! record the outcome ([`route`]). Only relais' own addresses are accepted ([`address`]).

pub mod address;
pub mod bounce_report;
pub mod identity;
pub mod post;
pub mod replies;
pub mod route;
pub mod session;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;

/// What the listeners and routers share.
#[derive(Clone)]
pub struct Inbound {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// Wakes this process's router when a message was stored.
    pub stored: Arc<tokio::sync::Notify>,
    /// Checks list posts' senders (DKIM, SPF, DMARC policy) through the configured DNS.
    pub verifier: Arc<identity::SenderVerifier>,
}

impl Inbound {
    pub fn new(store: Store, settings: Arc<Settings>, clock: Clock) -> Inbound {
        Inbound {
            verifier: Arc::new(identity::SenderVerifier::new(&settings.inbound)),
            store,
            settings,
            clock,
            stored: Arc::default(),
        }
    }
}
