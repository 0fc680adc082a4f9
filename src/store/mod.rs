//! Storage: one connection type for SQLite and PostgreSQL, a pool, and a `Db::run` helper that
//! keeps diesel off the async threads. `store` knows SQL; nothing above it does.

pub mod admin;
pub mod audit;
pub mod claims;
pub mod credentials;
pub mod risc;
pub mod schema;
pub mod sessions;
pub mod signed_in;
pub mod sync_status;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Advisory-lock key that serializes migrations across instances ("offacces" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f66_6661_6363_6573;

/// Runs `$body` with `$c` bound to the backend's own connection inside an [`AnyConnection`].
/// diesel's `MultiConnection` renders a query's SQL text again on every pass over it (several
/// per execution) even when its prepared statement is cached; the queries of every page view
/// (the session row, the signed-in user) go to the backend's connection directly.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::store::AnyConnection::Sqlite($c) => $body,
            $crate::store::AnyConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// A connection to either backend; the variant follows `DATABASE_URL`'s scheme.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite://") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!(
                "DATABASE_URL must start with sqlite:// or postgres:// (got {:?})",
                url.split(':').next().unwrap_or_default()
            )
        }
    }
}

/// Where the database is and how the pool is sized (`DATABASE_URL`, `DB_POOL_SIZE`,
/// `DB_TIMEOUT_SECS`).
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    pub pool_size: u32,
    /// How long a request waits for a connection before "temporarily unavailable".
    pub timeout: Duration,
}

/// Why a database call failed, as far as a web page cares.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time (pool exhausted or database down).
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Query(#[from] anyhow::Error),
}

/// The connection pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<AnyConnection>>,
    /// Callers waiting for a connection right now.
    waiting: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Trips to the blocking pool so far ([`Db::run`] calls).
    trips: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            // WAL is set once per file in `Db::connect`; busy_timeout comes first so nothing
            // here fails on a lock another connection holds for a moment.
            c.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Db {
    /// Connects (creating the SQLite file's folder if needed) and runs pending migrations.
    pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let db = Self::open(settings)?;
        db.migrate()?;
        Ok(db)
    }

    /// Connects (creating the SQLite file's folder if needed) without migrating.
    pub fn open(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let (url, pool_size, timeout) =
            (settings.url.as_str(), settings.pool_size, settings.timeout);
        let backend = Backend::from_url(url)?;
        let conn_url = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://");
                if let Some(dir) = std::path::Path::new(path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                }
                create_private_file(path)?;
                // Connect once directly so the real error (not r2d2's timeout) is reported, and
                // switch the file to WAL (persistent) before the pool opens its connections.
                SqliteConnection::establish(path)
                    .with_context(|| format!("opening SQLite database {path}"))?
                    .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                    .with_context(|| format!("setting WAL mode on {path}"))?;
                path.to_string()
            }
            Backend::Postgres => {
                PgConnection::establish(url).context("connecting to PostgreSQL")?;
                url.to_string()
            }
        };
        let pool = Pool::builder()
            .max_size(if backend == Backend::Sqlite {
                pool_size.max(2)
            } else {
                pool_size
            })
            .connection_timeout(timeout)
            .connection_customizer(Box::new(Pragmas))
            .build(ConnectionManager::<AnyConnection>::new(conn_url))
            .context("building the database pool")?;
        Ok(Self {
            pool,
            waiting: Default::default(),
            trips: Default::default(),
        })
    }

    /// The names of the migrations this binary would apply (`check`).
    pub fn pending_migrations(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn().map_err(anyhow::Error::from)?;
        let names = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
            AnyConnection::Postgresql(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
        }
        .map_err(|e| anyhow::anyhow!("reading the applied migrations: {e}"))?;
        Ok(names)
    }

    /// Runs pending migrations for this backend; returns how many ran.
    pub fn migrate(&self) -> anyhow::Result<usize> {
        let mut conn = self.conn().map_err(anyhow::Error::from)?;
        let applied = match &mut *conn {
            // Processes starting together take turns: one exclusive transaction around all.
            // Foreign keys are off meanwhile (SQLite allows switching them only outside a
            // transaction), so that a migration rebuilding a table (SQLite cannot drop a
            // constraint) neither cascades deletes nor rewrites other tables' references;
            // the references are checked before committing and the pragma restored after.
            AnyConnection::Sqlite(c) => {
                c.batch_execute("PRAGMA foreign_keys = OFF")?;
                let result = c.exclusive_transaction(|c| {
                    let applied = c.run_pending_migrations(SQLITE_MIGRATIONS)?.len();
                    #[derive(diesel::QueryableByName)]
                    struct Violation {
                        #[diesel(sql_type = diesel::sql_types::Text)]
                        #[allow(dead_code)]
                        table: String,
                    }
                    let broken = diesel::sql_query("PRAGMA foreign_key_check")
                        .load::<Violation>(c)?
                        .len();
                    if broken > 0 {
                        return Err(format!(
                            "{broken} rows would break foreign keys after migrating"
                        )
                        .into());
                    }
                    Ok(applied)
                });
                c.batch_execute("PRAGMA foreign_keys = ON")?;
                result
            }
            AnyConnection::Postgresql(c) => {
                // Instances starting together take turns (a session-level advisory lock).
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len());
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                result
            }
        }
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
        Ok(applied)
    }

    fn conn(&self) -> Result<PooledConnection<ConnectionManager<AnyConnection>>, DbError> {
        use std::sync::atomic::Ordering;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let conn = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        conn.map_err(|e| DbError::Unavailable(anyhow::Error::new(e)))
    }

    /// The pool's connections (in use, idle) and the callers waiting for one.
    pub fn pool_state(&self) -> (u32, u32, u64) {
        let state = self.pool.state();
        (
            state.connections - state.idle_connections,
            state.idle_connections,
            self.waiting.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// How many database round trips (each one trip to the blocking pool and one pooled
    /// connection) this pool's users have made.
    pub fn round_trips(&self) -> u64 {
        self.trips.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> anyhow::Result<T> + Send + 'static,
    {
        self.trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let db = self.clone();
        actix_web::web::block(move || db.run_blocking(f))
            .await
            .map_err(|e| DbError::Query(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Runs `f` on the current thread (for CLI commands and start-up).
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> anyhow::Result<T>,
    ) -> Result<T, DbError> {
        let mut conn = self.conn()?;
        f(&mut conn).map_err(|e| {
            // A query that failed on a connection that no longer answers means the database
            // went away, not that the query was wrong; so does SQLite still being locked by
            // other writers after busy_timeout.
            let locked = e
                .chain()
                .any(|c| c.to_string().contains("database is locked"));
            if locked || diesel::r2d2::R2D2Connection::ping(&mut *conn).is_err() {
                DbError::Unavailable(e)
            } else {
                DbError::Query(e)
            }
        })
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.run(|c| {
            diesel::sql_query("SELECT 1").execute(c)?;
            Ok(())
        })
        .await
        .is_ok()
    }
}

/// Creates the SQLite file readable by its owner only (it holds sealed tokens and sessions).
fn create_private_file(path: &str) -> anyhow::Result<()> {
    if path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("creating SQLite database {path}"))?;
    Ok(())
}

/// Runs an update-then-insert `f` in a transaction. When a concurrent writer (another request or
/// instance) inserted the same key first, the insert hits the unique constraint; `f` then runs
/// once more, in a new transaction, and updates the row that now exists.
pub fn upsert<C: WriteTransaction, T>(
    conn: &mut C,
    f: impl Fn(&mut C) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    use diesel::result::{DatabaseErrorKind, Error};
    match conn.write_transaction(&f) {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            conn.write_transaction(&f)
        }
        other => other,
    }
}

/// A transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken (within
/// busy_timeout) before anything is read. A deferred transaction that has read — as the
/// search index's triggers on `users` do before the row is written — and then finds another
/// writer committed since gets "database is locked" at once, with no wait.
pub trait WriteTransaction: diesel::Connection {
    fn write_transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T>;
}

impl WriteTransaction for SqliteConnection {
    fn write_transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        // Inside a transaction already (which holds or will take the lock itself): a savepoint.
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(self).transaction_depth()?;
        if depth.is_some() {
            return self.transaction(f);
        }
        self.immediate_transaction(f)
    }
}

impl WriteTransaction for PgConnection {
    fn write_transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> diesel::QueryResult<T>,
    ) -> diesel::QueryResult<T> {
        self.transaction(f)
    }
}

/// Current UTC time as stored in the database.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
