//! `relais dkim generate` makes the signing keys and prints their DNS records. `relais send-test --to ADDRESS`
//! checks the mail configuration end to end. It enqueues one test message
//! through the outbox like any other mail, delivers it with the configured transport, and prints what the
//! receiving server (or the folder) answered.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::DeliveryState;
use crate::mail::worker::Deliverer;
use crate::store::Store;
use crate::store::outbox::NewRecipient;

#[derive(clap::Subcommand, Debug)]
pub enum DkimCommand {
    /// Make an RSA-2048 and an Ed25519 key under SELECTOR-rsa and SELECTOR-ed25519, and print the DNS
    /// records to publish.
    Generate {
        #[arg(long)]
        selector: String,
    },
}

pub fn dkim(command: DkimCommand, settings: &Settings) -> anyhow::Result<()> {
    let DkimCommand::Generate { selector } = command;
    let report =
        crate::mail::dkim::generate(&settings.data_dir, &selector, settings.mail.domain())?;
    print!("{report}");
    Ok(())
}

#[derive(Args, Debug)]
pub struct InjectArgs {
    /// The relais address the message is for.
    #[arg(long)]
    pub to: String,
    /// The envelope sender, as the mail server knows it.
    #[arg(long, default_value = "")]
    pub from: String,
}

/// `relais inject`: stores the message read on standard input; `relais serve` routes it. Exit codes follow
/// sysexits, which pipe transports understand: 67 (unknown address: bounce), 75 (temporary: retry).
pub async fn inject(
    args: InjectArgs,
    settings: crate::config::Settings,
    store: crate::store::Store,
    clock: crate::clock::Clock,
) -> anyhow::Result<()> {
    let raw = tokio::task::spawn_blocking(|| {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut raw).map(|_| raw)
    })
    .await??;
    let inbound = crate::inbound::Inbound::new(store, std::sync::Arc::new(settings), clock);
    match crate::inbound::address::destination(&inbound.store, &inbound.settings, &args.to).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            eprintln!("{} n'est pas une adresse de relais", args.to);
            std::process::exit(67);
        }
        Err(error) => {
            eprintln!("base de données injoignable : {error}");
            std::process::exit(75);
        }
    }
    match crate::inbound::session::inject(&inbound, &args.to, &args.from, &raw).await {
        Ok(id) => {
            println!("message reçu : n° {id}");
            Ok(())
        }
        Err(error) => {
            eprintln!("message non enregistré : {error}");
            std::process::exit(75);
        }
    }
}

#[derive(Args, Debug)]
pub struct SendTestArgs {
    /// Where to send the test message.
    #[arg(long)]
    pub to: String,
    /// How long to wait for the outcome, in seconds.
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

pub async fn send_test(
    args: SendTestArgs,
    settings: &Settings,
    store: &Store,
    clock: &Clock,
) -> anyhow::Result<()> {
    let to = EmailAddress::parse(&args.to).map_err(anyhow::Error::msg)?;
    let message = crate::mail::short_messages::test_message(settings, &to)?;
    let recipient = NewRecipient {
        address: to.clone(),
        name: String::new(),
        person_id: None,
    };
    let id = store
        .enqueue_mail(&message, &[recipient], clock.now_millis())
        .await?;
    let deliverer = Deliverer::new(store.clone(), clock.clone(), settings).await?;
    let stop = CancellationToken::new();
    let workers = tokio::spawn(deliverer.run_until_stopped(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait);
    let outcome = loop {
        let rows = store.deliveries_of(id).await?;
        let row = rows.into_iter().next().expect("one delivery");
        if row.state != DeliveryState::Queued || (row.attempts > 0 && !row.last_reply.is_empty()) {
            break row;
        }
        if tokio::time::Instant::now() >= deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.cancel();
    let _ = workers.await;
    println!(
        "Message {id} pour {} : {}",
        outcome.recipient, outcome.state
    );
    if !outcome.last_reply.is_empty() {
        println!("Réponse : {}", outcome.last_reply);
    }
    match outcome.state {
        DeliveryState::Sent => Ok(()),
        DeliveryState::Queued if outcome.last_reply.is_empty() => {
            anyhow::bail!("aucune réponse en {} s", args.wait)
        }
        DeliveryState::Queued => anyhow::bail!(
            "échec temporaire : relais réessaiera selon mail.retry_minutes tant que `relais serve` tourne"
        ),
        _ => anyhow::bail!("envoi refusé"),
    }
}
