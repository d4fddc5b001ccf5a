//! `relais import`, `relais demo`, `relais seed` and `relais referential`: data in and out of the database.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::clock::Clock;
use crate::demo::{self, Volume};
use crate::store::Store;
use crate::store::audit::Actor;
use crate::store::import::DuplicatePolicy;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import targets (and their contacts) from a CSV or XLSX spreadsheet. All or nothing.
    Targets {
        file: PathBuf,
        /// Check the file and print the report without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// What to do with a row naming a collectivity that is already a target: skip or update.
        #[arg(long, default_value = "skip", value_parser = ["skip", "update"])]
        on_duplicate: String,
    },
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    #[arg(long, default_value_t = 10_000)]
    pub targets: usize,
    #[arg(long, default_value_t = 3)]
    pub people_per_target: usize,
    #[arg(long, default_value_t = 10)]
    pub interactions_per_target: usize,
}

#[derive(Subcommand, Debug)]
pub enum ReferentialCommand {
    /// Rebuild src/referential/data/collectivities.tsv.gz from the package's data folder
    /// (`npm pack @etalab/decoupage-administratif && tar xzf etalab-decoupage-administratif-*.tgz` gives `package/`).
    Regenerate {
        /// The package folder (holding data/) or its data folder.
        source: PathBuf,
        #[arg(long, default_value = "src/referential/data/collectivities.tsv.gz")]
        out: PathBuf,
    },
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub async fn import(command: ImportCommand, store: &Store, clock: &Clock) -> anyhow::Result<()> {
    let ImportCommand::Targets {
        file,
        dry_run,
        on_duplicate,
    } = command;
    let bytes = std::fs::read(&file)
        .map_err(|e| anyhow::anyhow!("lecture de {} impossible : {e}", file.display()))?;
    let policy = if on_duplicate == "update" {
        DuplicatePolicy::Update
    } else {
        DuplicatePolicy::Skip
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = progress_bar(0);
    let actor = Actor {
        user_id: None,
        label: format!("import en ligne de commande ({name})"),
    };
    let result = crate::import::import_file(
        store,
        &bytes,
        &name,
        dry_run,
        policy,
        &actor,
        clock.now_millis(),
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .await;
    bar.finish_and_clear();
    let (plan, outcome) = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    for line in crate::import::report_lines(&plan) {
        println!("{line}");
    }
    match outcome {
        Some(outcome) => {
            println!(
                "Import terminé : {} créées, {} mises à jour, {} ignorées.",
                outcome.created, outcome.updated, outcome.skipped
            );
            Ok(())
        }
        None if dry_run => {
            println!("Essai à blanc : rien n'a été écrit.");
            if plan.is_clean() {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        None => {
            eprintln!(
                "Import refusé : corrigez les lignes signalées ci-dessus ; rien n'a été écrit."
            );
            std::process::exit(1)
        }
    }
}

pub async fn demo(store: &Store, clock: &Clock) -> anyhow::Result<()> {
    let (_, existing) = store
        .list_targets(
            crate::store::Scope::All,
            &Default::default(),
            Default::default(),
            1,
            0,
        )
        .await?;
    anyhow::ensure!(
        existing == 0,
        "la base contient déjà {existing} cibles : la démonstration se charge dans une base vide"
    );
    let created = demo::fill(
        store,
        Volume::DEMO,
        clock.today(),
        clock.now_millis(),
        2026,
        |_| {},
    )
    .await?;
    println!("Démonstration chargée : {created} cibles avec leurs contacts et échanges.");
    Ok(())
}

pub async fn seed(args: SeedArgs, store: &Store, clock: &Clock) -> anyhow::Result<()> {
    let volume = Volume {
        targets: args.targets,
        people_per_target: args.people_per_target,
        interactions_per_target: args.interactions_per_target,
        members: 15,
    };
    let bar = progress_bar(args.targets as u64);
    let started = std::time::Instant::now();
    let created = demo::fill(
        store,
        volume,
        clock.today(),
        clock.now_millis(),
        7,
        |done| bar.set_position(done as u64),
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "{created} cibles, {} personnes, {} échanges créés en {:.1} s.",
        created * args.people_per_target,
        created * args.interactions_per_target,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn referential(command: ReferentialCommand) -> anyhow::Result<()> {
    let ReferentialCommand::Regenerate { source, out } = command;
    let summary = crate::referential::regenerate(&source, &out)?;
    println!("{} écrit : {summary:?}", out.display());
    Ok(())
}
