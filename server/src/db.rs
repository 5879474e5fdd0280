//! [`DbPool`] and [`Dialect`]: the databases the store runs on, registered
//! once each in `registry!`. Everything else reaches a database through
//! [`DbPool::backend`], never by matching on it.

use sqlx::{MySql, Postgres, Sqlite};

use crate::sql::backend::{Backend, Driver};
use crate::sql::syntax::Syntax;

/// Defines [`DbPool`] and [`Dialect`] with one variant per database and
/// the one place that maps them to their [`Driver`]. A fourth database is a
/// new folder under `sql/` (its `Driver` and `Syntax`) and one line here.
macro_rules! registry {
    ($( $(#[doc = $doc:literal])* $name:ident($db:ty) ),+ $(,)?) => {
        /// The database a store runs on: a sqlx pool of one of the supported
        /// backends. Use it to query the read model directly with sqlx (no
        /// lock-in).
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum DbPool {
            $( $(#[doc = $doc])* $name(sqlx::Pool<$db>), )+
        }

        /// The SQL dialect of a database.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Dialect {
            $( $(#[doc = $doc])* $name, )+
        }

        $(
            impl From<sqlx::Pool<$db>> for DbPool {
                fn from(pool: sqlx::Pool<$db>) -> Self {
                    DbPool::$name(pool)
                }
            }
        )+

        impl DbPool {
            /// The store's way into this database.
            pub(crate) fn backend(&self) -> &dyn Backend {
                match self {
                    $( DbPool::$name(pool) => pool, )+
                }
            }

            async fn connect_scheme(scheme: &str, url: &str, max_connections: u32) -> Result<DbPool, sqlx::Error> {
                $(
                    if <$db as Driver>::SCHEMES.contains(&scheme) {
                        return Ok(DbPool::$name(<$db as Driver>::connect(url, max_connections).await?));
                    }
                )+
                Err(sqlx::Error::Configuration(
                    format!("unsupported database URL scheme `{scheme}`").into(),
                ))
            }
        }

        impl Dialect {
            /// How this dialect spells statements.
            pub(crate) fn syntax(self) -> &'static dyn Syntax {
                match self {
                    $( Dialect::$name => <$db as Driver>::SYNTAX, )+
                }
            }
        }
    };
}

registry! {
    /// SQLite.
    Sqlite(Sqlite),
    /// PostgreSQL.
    Postgres(Postgres),
    /// MySQL or MariaDB.
    MySql(MySql),
}

impl DbPool {
    /// Connects by URL: `sqlite://notes.db` (file created if missing, WAL
    /// journal), `sqlite::memory:` (one connection, kept open), `postgres://...`,
    /// `mysql://...` or `mariadb://...`, with at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<DbPool, sqlx::Error> {
        let scheme = url.split(':').next().unwrap_or_default();
        DbPool::connect_scheme(scheme, url, max_connections).await
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.backend().dialect()
    }

    /// The database file of an SQLite pool, absolute (`None` in memory and
    /// for other databases).
    pub(crate) fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        let DbPool::Sqlite(sqlite) = self else { return None };
        let file = sqlite.connect_options().get_filename().to_owned();
        let text = file.to_string_lossy();
        if text.is_empty() || text.contains(":memory:") || text.starts_with("file:") {
            return None;
        }
        Some(std::path::absolute(&file).unwrap_or(file))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.backend().close().await;
    }

    /// Runs an app's sqlx migrations (`sqlx::migrate!()`), safely when
    /// several instances start at once on one database: SQLite runs them in
    /// one transaction holding the store's writers' lock (others wait, then
    /// find them applied — for at most the pool's busy timeout, 30 s — so a
    /// migration that cannot run in a transaction cannot run here);
    /// MySQL/MariaDB under a named lock (`GET_LOCK` with a timeout), as its DDL
    /// commits by itself; PostgreSQL under sqlx's own advisory lock. sqlx's
    /// lock alone is not enough elsewhere: it does nothing on SQLite and, with
    /// MariaDB, `GET_LOCK(name, -1)` returns at once without the lock.
    pub async fn run_migrations(&self, migrator: &sqlx::migrate::Migrator) -> Result<(), sqlx::migrate::MigrateError> {
        self.backend().run_migrations(migrator).await
    }
}

impl Dialect {
    /// Quotes an identifier for this dialect (doubling the quote character
    /// inside it), as the store does for every table and column name.
    pub fn quote(self, name: &str) -> String {
        self.syntax().quote(name)
    }
}
