//! Outgoing mail: settings, the copy each recipient receives ([`compose`]), the transports that carry it
//! ([`transport`]: an `.eml` folder or an SMTP relay) and the delivery workers that drain the outbox
//! ([`worker`]). Mail enters only through [`crate::store::outbox::enqueue`].

pub mod answer;
pub mod body;
pub mod bounces;
pub mod builders;
pub mod calendar;
pub mod compose;
pub mod digest;
pub mod dkim;
pub mod list_copy;
pub mod list_digest;
pub mod meetings;
pub mod newsletter;
pub mod notice;
pub mod partner_event;
pub mod recorder;
pub mod relay_gate;
pub mod short_messages;
pub mod smtp;
pub mod subscription;
pub mod survey;
pub mod transport;
pub mod unsubscribe;
pub mod worker;
