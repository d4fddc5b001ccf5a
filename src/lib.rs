//! relais: membership and messaging for the Club des collectivités engagées.
//!
//! One binary runs the staff web app, the JSON API and (in later capabilities) the mail pipeline, over SQLite or
//! PostgreSQL. `docs/ARCHITECTURE.md` tells how the modules below fit together.

pub mod clock;
pub mod domain;
pub mod referential;
pub mod store;
pub mod config;
