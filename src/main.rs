//! The `relais` binary: parse the command line and hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    relais::cli::run(relais::cli::Cli::parse()).await
}
