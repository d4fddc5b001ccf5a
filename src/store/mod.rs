//! The store: every SQL statement of relais, over SQLite or PostgreSQL from one code base.
//!
//! The two databases are native sqlx pools in an enum; each query is one portable SQL text (`$1` placeholders,
//! `RETURNING`, epoch-millisecond timestamps) run on whichever pool is configured, through [`with_db!`] and
//! [`with_tx!`]. Migrations live in two folders changed in pairs. Read-then-write transactions on SQLite start
//! with `BEGIN IMMEDIATE`, so concurrent writers queue on the write lock instead of failing.
//!
//! Queries that read pipeline data take a [`Scope`]: a relay account only ever sees the rows of its territories,
//! and that filter is written into the SQL itself, not applied by the pages afterwards.

pub mod account_admin;
pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod bounce_score;
pub mod dashboard;
pub mod discussion;
pub mod dossier;
pub mod erasure;
pub mod federation;
pub mod federation_deliveries;
pub mod federation_objects;
pub mod follow_up_digest;
pub mod import;
pub mod inbound;
pub mod interactions;
pub mod list_admin;
pub mod local_needs;
pub mod login_attempts;
pub mod meeting_agenda;
pub mod meeting_attendees;
pub mod meeting_series;
pub mod meeting_series_edit;
pub mod meetings;
pub mod memberships;
pub mod minutes;
pub mod newsletter;
pub mod newsletter_schedule;
pub mod organisations;
pub mod outbox;
pub mod people;
pub mod personal_data;
pub mod preferences;
pub mod resources;
pub mod stage_changes;
pub mod subscriptions;
pub mod survey;
pub mod target_deletion;
pub mod target_list;
pub mod targets;
pub mod unsubscribes;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Errors of the store. A unique-constraint violation is told apart so callers can say "already exists", and
/// a foreign-key violation so they can say which of their ids names nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    /// A write named a row that does not exist. The message is the database's: SQLite's does not say which
    /// column, so the caller, who knows which ids it passed, names the field.
    #[error("missing referenced row: {0}")]
    MissingReference(String),
}

impl StoreError {
    /// Turns unique-constraint violations into [`StoreError::Conflict`] and foreign-key violations into
    /// [`StoreError::MissingReference`].
    fn from_write(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
            if db.is_foreign_key_violation() {
                return StoreError::MissingReference(db.message().to_string());
            }
        }
        StoreError::Database(error)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One of the two supported databases, as a native pool.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either database. Committing it counts as a change of the data (see
/// [`Store::generation`]).
pub struct Tx {
    pub(crate) conn: TxConn,
    generation: Arc<AtomicU64>,
    /// Set by [`outbox::enqueue`]: the commit wakes this process's delivery workers.
    pub(crate) mail_enqueued: bool,
    mail_wake: Arc<tokio::sync::Notify>,
}

pub(crate) enum TxConn {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same body on whichever pool is configured; `$p` is the pool.
macro_rules! with_db {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($p) => $body,
            $crate::store::Db::Postgres($p) => $body,
        }
    };
}
/// Runs the same body inside a transaction; `$c` is the connection (`&mut *transaction`).
macro_rules! with_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::TxConn::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use {with_db, with_tx};

impl Tx {
    /// Runs each statement in turn, `id` bound as `$1`: the removals that follow one row's links before the
    /// row itself goes.
    pub(crate) async fn execute_each_for(
        &mut self,
        statements: &[&str],
        id: i64,
    ) -> StoreResult<()> {
        for sql in statements {
            with_tx!(self, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                .map_err(StoreError::from_write))?;
        }
        Ok(())
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self.conn {
            TxConn::Sqlite(t) => t.commit().await?,
            TxConn::Postgres(t) => t.commit().await?,
        }
        self.generation.fetch_add(1, Ordering::Release);
        if self.mail_enqueued {
            self.mail_wake.notify_waiters();
        }
        Ok(())
    }

    /// `FOR UPDATE` where the database needs it to lock rows read before a write (SQLite's `BEGIN IMMEDIATE`
    /// already holds the write lock).
    pub(crate) fn lock_clause(&self) -> &'static str {
        match self.conn {
            TxConn::Sqlite(_) => "",
            TxConn::Postgres(_) => " FOR UPDATE",
        }
    }
}

/// Which rows of the pipeline a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Staff, viewers and API tokens: everything.
    All,
    /// A relay account: only organisations in the départements listed for this user id.
    Relay(i64),
}

impl Scope {
    /// The value bound to the `($n IS NULL OR departement_code IN (territories of $n))` filter.
    pub fn relay_user(self) -> Option<i64> {
        match self {
            Scope::All => None,
            Scope::Relay(user_id) => Some(user_id),
        }
    }
}

/// The SQL condition that keeps an organisation aliased `o` inside the scope bound at `$n`.
macro_rules! scope_filter {
    ($n:literal) => {
        concat!(
            "($",
            $n,
            " IS NULL OR o.departement_code IN (SELECT departement_code FROM user_territories WHERE user_id = $",
            $n,
            "))"
        )
    };
}
pub(crate) use scope_filter;

/// The handle the application keeps: a database and nothing else.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// Where the delivery workers claim and record. On SQLite, a pool of its own with one connection:
    /// writes take turns on SQLite's one lock anyway, and a connection drops its page cache whenever
    /// another connection has written, so the workers' writes spread over the main pool's connections
    /// kept every cache cold (and each cache costs memory). On PostgreSQL, the main pool.
    outbox_db: Db,
    generation: Arc<AtomicU64>,
    mail_wake: Arc<tokio::sync::Notify>,
    schedule_wake: Arc<tokio::sync::Notify>,
}

impl Store {
    /// The secret called `name`, made at random the first time any instance asks for it.
    pub async fn secret(&self, name: &str) -> StoreResult<String> {
        let fresh = crate::security::random_token();
        with_db!(&self.db, |p| sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(&fresh)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT value FROM secrets WHERE name = $1"
        )
        .bind(name)
        .fetch_one(p)
        .await)?)
    }

    /// Connects to `sqlite://…` (the file and its folder are created) or `postgres://…`.
    #[tracing::instrument(skip(url), fields(backend))]
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Store> {
        let (db, outbox_db) = if url.starts_with("postgres://") || url.starts_with("postgresql://")
        {
            tracing::Span::current().record("backend", "postgres");
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                // A ping before every checkout doubles the round trips of a one-query
                // request; a dead connection still fails its query and leaves the pool.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            (Db::Postgres(pool.clone()), Db::Postgres(pool))
        } else {
            tracing::Span::current().record("backend", "sqlite");
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            let pool = |connections: u32| {
                SqlitePoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(Duration::from_secs(10))
                    // A ping before every checkout doubles the round trips of a one-query
                    // request; a dead connection still fails its query and leaves the pool.
                    .test_before_acquire(false)
            };
            let main = pool(max_connections).connect_with(options.clone()).await?;
            // Opened only when mail is sent, once the database exists.
            let outbox = pool(1).connect_lazy_with(options);
            (Db::Sqlite(main), Db::Sqlite(outbox))
        };
        Ok(Store {
            db,
            outbox_db,
            generation: Arc::default(),
            mail_wake: Arc::default(),
            schedule_wake: Arc::default(),
        })
    }

    /// Applies the migrations of the connected database that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers, for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Starts a read-then-write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> StoreResult<Tx> {
        self.begin_on(&self.db).await
    }

    async fn begin_on(&self, db: &Db) -> StoreResult<Tx> {
        let conn = match db {
            Db::Sqlite(pool) => TxConn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => TxConn::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            conn,
            generation: self.generation.clone(),
            mail_enqueued: false,
            mail_wake: self.mail_wake.clone(),
        })
    }

    /// Notified when a transaction that enqueued mail commits in this process (see [`outbox`]).
    pub fn mail_wake(&self) -> Arc<tokio::sync::Notify> {
        self.mail_wake.clone()
    }

    /// Notified when staff change something a schedule depends on (a meeting, its agenda), so the
    /// dispatcher of this process looks again at once; other instances see it within minutes.
    pub fn schedule_wake(&self) -> Arc<tokio::sync::Notify> {
        self.schedule_wake.clone()
    }

    /// Wakes this process's schedules (see [`Store::schedule_wake`]).
    pub fn wake_schedules(&self) {
        self.schedule_wake.notify_waiters();
    }

    /// A number that grows with every committed transaction of this process, so caches of derived views
    /// (the dashboard) know when they are stale. Other instances' writes are not seen: caches also expire.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Refreshes the planner's statistics, so filtered lists use the right indexes as the data grows
    /// (PostgreSQL's autovacuum does it too, but late after a large import). On PostgreSQL it also vacuums,
    /// which marks pages all-visible so lists and counts are answered from their indexes alone.
    pub async fn analyze(&self) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query("ANALYZE").execute(pool).await?.rows_affected(),
            Db::Postgres(pool) => sqlx::query("VACUUM (ANALYZE)")
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(())
    }

    pub async fn close(&self) {
        with_db!(&self.outbox_db, |p| p.close().await);
        with_db!(&self.db, |p| p.close().await)
    }
}

/// Current time in epoch milliseconds from a chrono timestamp (the form every timestamp column uses).
pub fn millis(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

/// `$first, $first+1, …` for `count` values bound in an `IN (…)` list, numbered as both databases want.
pub(crate) fn numbered_placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
