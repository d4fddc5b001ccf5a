//! The `relais` binary: parse the command line and hand over to the library.

use clap::Parser;

/// mimalloc instead of the system allocator: under load, glibc's arenas spent a fifth of the
/// CPU in `malloc` and its locks (measured with `perf` during `relais bench web`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    relais::cli::run(relais::cli::Cli::parse()).await
}
