//! The command line: `relais serve`, `migrate`, `user`, `token`, `import`, `demo`, `seed`, `referential`.
//! Each subcommand lives in its own file; `main.rs` only parses and calls [`run`].

mod accounts;
mod bench;
mod data;
mod mail;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::Settings;

#[derive(Parser, Debug)]
#[command(
    name = "relais",
    version,
    about = "Adhésions et messagerie du Club des collectivités engagées"
)]
pub struct Cli {
    /// A configuration file whose keys override the built-in defaults (config/relais.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web app and the JSON API (migrations run first).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Import data from a spreadsheet.
    #[command(subcommand)]
    Import(data::ImportCommand),
    /// Fill an empty database with a fictitious but realistic pipeline of 150 targets.
    Demo,
    /// Fill a database with a large volume for benchmarks (targets, people, interactions).
    Seed(data::SeedArgs),
    /// DKIM keys of the sender's domain.
    #[command(subcommand)]
    Dkim(mail::DkimCommand),
    /// Send a test message through the configured transport and print the answer.
    SendTest(mail::SendTestArgs),
    /// Receive one message from standard input for ADDRESS (for a mail server's pipe transport); exits 67
    /// when ADDRESS is not one of relais' addresses and 75 (try again) when it cannot be stored.
    Inject(mail::InjectArgs),
    /// Benchmarks of docs/PERFORMANCE.md (web latency under load, import time, cold start).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Regenerate the embedded referential from the npm package @etalab/decoupage-administratif.
    #[command(subcommand)]
    Referential(data::ReferentialCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = Clock::system();
    let config = cli.config.as_deref();
    match cli.command {
        // These two need no configuration: the referential is rebuilt from files, benchmarks make their own.
        Command::Referential(command) => data::referential(command),
        Command::Bench(command) => bench::run(command).await,
        Command::Serve => {
            let settings = load_settings(config);
            let stop = crate::app::shutdown_on_signal()?;
            let app = crate::app::Application::build(settings, clock).await?;
            app.run_until_stopped(stop).await
        }
        Command::Migrate => {
            let store = open_store(&load_settings(config)).await?;
            println!("Migrations appliquées ({}).", store.backend_name());
            Ok(())
        }
        Command::User(command) => {
            accounts::user(command, &open_store(&load_settings(config)).await?, &clock).await
        }
        Command::Token(command) => {
            accounts::token(command, &open_store(&load_settings(config)).await?, &clock).await
        }
        Command::Import(command) => {
            data::import(command, &open_store(&load_settings(config)).await?, &clock).await
        }
        Command::Dkim(command) => mail::dkim(command, &load_settings(config)),
        Command::SendTest(args) => {
            let settings = load_settings(config);
            let store = open_store(&settings).await?;
            mail::send_test(args, &settings, &store, &clock).await
        }
        Command::Inject(args) => {
            let settings = load_settings(config);
            let store = open_store(&settings).await?;
            mail::inject(args, settings, store, clock).await
        }
        Command::Demo => data::demo(&open_store(&load_settings(config)).await?, &clock).await,
        Command::Seed(args) => {
            data::seed(args, &open_store(&load_settings(config)).await?, &clock).await
        }
    }
}

/// Loads the settings and starts logging; an invalid configuration stops here with every key at fault.
fn load_settings(config: Option<&std::path::Path>) -> Settings {
    match Settings::load(config) {
        Ok(settings) => {
            crate::app::init_logging(&settings.log);
            settings
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    }
}

/// Connects and migrates, for the subcommands that work on the database.
async fn open_store(settings: &Settings) -> anyhow::Result<crate::store::Store> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let store =
        crate::store::Store::connect(&settings.database.url, settings.database.max_connections)
            .await?;
    store.migrate().await?;
    Ok(store)
}
