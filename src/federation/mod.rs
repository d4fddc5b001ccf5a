//! Federation: relais instances (and other ActivityPub software, such as Mobilizon for events) follow each
//! other, so that a partner network's public meetings, newsletter articles, practical sheets and membership
//! facts reach the club, and the club's reach theirs (issue 17).
//!
//! What is public: only what staff mark public (a meeting, a newsletter issue, a sheet), the network's
//! `Group` actor and the instance's `Application` actor with their public keys, and the membership facts of
//! collectivities that agreed to it. It is sent only to partners on the allow-list.
//!
//! What never leaves: people (contacts, officials, their addresses and answers), private notes and
//! interactions, lists and their subscribers, anything not marked public, and private keys. An actor's
//! private key signs requests; only its public half is published.
//!
//! The pieces, lowest first:
//! - [`keys`]: actor key pairs (RSA-2048 through OpenSSL) and peers' public keys;
//! - [`signature`]: HTTP Signatures, signed the draft-cavage way Mastodon and Mobilizon check, verified in
//!   that form (`cavage.rs`) or RFC 9421's ([`rfc9421`], over `structured_fields.rs`);
//! - [`ssrf`] and [`client`]: the only way relais reaches a peer, which refuses private and reserved
//!   addresses, caps answers and times out.
//!
//! - [`urls`], [`documents`], [`objects`], [`activities`]: the addresses and the JSON of what travels;
//! - [`service`]: the [`service::Federation`] handle (keys, client, the outbox's one entry, `send`);
//! - [`publish`]: what staff marked public goes out as Create/Update/Delete (run by the scheduler);
//! - [`peers`]: staff's actions (follow, accept, refuse, join) and fetching partners' actors and facts;
//! - [`inbox`] and [`receive`]: the gate every received activity passes, then what each does;
//! - [`delivery`]: the federation job's emptying of the durable outbox.
//!
//! This module sits at the layer of `inbound` (it turns received activities into records of the store);
//! the web layer serves its routes, never the reverse.

pub mod activities;
mod cavage;
pub mod client;
pub mod delivery;
pub mod documents;
pub mod inbox;
pub mod keys;
pub mod objects;
pub mod peers;
pub mod publish;
mod receive;
pub mod rfc9421;
pub mod service;
pub mod signature;
pub mod ssrf;
mod structured_fields;
pub mod urls;

pub use service::Federation;
