//! relais: membership and messaging for the Club des collectivités engagées.
//!
//! One binary runs the staff web app, the JSON API, the mail pipeline (outgoing and received) and the
//! scheduler's background jobs, over SQLite or PostgreSQL. `docs/ARCHITECTURE.md` tells how the modules
//! below fit together.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod export;
pub mod federation;
pub mod french;
pub mod import;
pub mod inbound;
pub mod mail;
pub mod referential;
pub mod scheduler;
pub mod security;
pub mod store;
pub mod web;
