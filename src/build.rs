//! Rebuilds relais when a migration is added: `sqlx::migrate!` embeds `migrations/` at compile time, and
//! Cargo reruns the macro only when a file it already knows changes, so a new migration file alone would
//! leave the binary and the tests migrating to the previous schema (the build script sqlx recommends).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
