//! The scratch database a benchmark runs on, and where it goes: `--backend`, `--database-url`
//! and `WARDEN_DATABASE_URL` weighed in one place ([`DbArgs::target`]).

use crate::store;
use anyhow::{bail, Context as _};
use sqlx::{ConnectOptions as _, Connection as _};

/// Which database a benchmark uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on a Postgres server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// Its name in the figures.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the scratch database goes.
///
/// Precedence: `--database-url`, then `WARDEN_DATABASE_URL`, then the defaults. `--backend`, when
/// given, wins over the backend a URL names; a `WARDEN_DATABASE_URL` of the other backend is then
/// ignored (and said so). The benchmark never writes to the database `WARDEN_DATABASE_URL` names:
/// a Postgres URL names the server (a fresh database is created beside it), a SQLite URL the
/// directory (a fresh file is created beside it).
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database backend (default: the backend of `--database-url` or
    /// `WARDEN_DATABASE_URL`, else sqlite).
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Postgres: the server to use, as a URL to an existing database there (default:
    /// `WARDEN_DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`); a fresh
    /// database is created beside it and dropped at the end. SQLite: `sqlite://FILE`, a file that
    /// must not exist yet (default: a new file beside `WARDEN_DATABASE_URL`'s, else a temporary
    /// file); it is deleted at the end.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Leave the scratch database in place at the end (and say where), to look at its data or
    /// its query plans; it is yours to delete.
    #[arg(long)]
    pub keep: bool,
}

/// The environment variable every command reads its database from.
const DATABASE_URL_ENV: &str = "WARDEN_DATABASE_URL";

/// Where the scratch database goes once flags and environment are weighed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The backend.
    pub backend: Backend,
    /// Where.
    pub place: Place,
}

/// Where, within the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The built-in default: a temporary SQLite file, or the local Postgres server.
    Default,
    /// `--database-url`: the SQLite file itself (must be new), or the Postgres server.
    Given(String),
    /// `WARDEN_DATABASE_URL`: a new SQLite file in its file's directory, or its Postgres server.
    Beside(String),
}

impl DbArgs {
    /// The target, reading `WARDEN_DATABASE_URL`.
    pub fn target(&self) -> Target {
        self.target_with(std::env::var(DATABASE_URL_ENV).ok().as_deref())
    }

    /// The backend the benchmark uses.
    pub fn backend(&self) -> Backend {
        self.target().backend
    }

    /// Says so when `--backend` made the benchmark ignore `WARDEN_DATABASE_URL`.
    fn note_ignored_environment(&self, target: &Target) {
        let env = std::env::var(DATABASE_URL_ENV).unwrap_or_default();
        if target.place == Place::Default && !env.trim().is_empty() {
            eprintln!(
                "{DATABASE_URL_ENV} ({}) is not a {} URL: ignored, as --backend says.",
                store::redact_url(&env),
                target.backend.as_str(),
            );
        }
    }

    /// The target given the environment's `WARDEN_DATABASE_URL` (`env`).
    fn target_with(&self, env: Option<&str>) -> Target {
        if let Some(url) = &self.database_url {
            let backend = self
                .backend
                .or_else(|| Backend::of_url(url))
                .unwrap_or(Backend::Sqlite);
            return Target {
                backend,
                place: Place::Given(url.clone()),
            };
        }
        let env = env.map(str::trim).filter(|url| !url.is_empty());
        match (
            self.backend,
            env.and_then(|url| Some((url, Backend::of_url(url)?))),
        ) {
            (Some(backend), Some((url, named))) if backend == named => Target {
                backend,
                place: Place::Beside(url.to_owned()),
            },
            (None, Some((url, named))) => Target {
                backend: named,
                place: Place::Beside(url.to_owned()),
            },
            (backend, _) => Target {
                backend: backend.unwrap_or(Backend::Sqlite),
                place: Place::Default,
            },
        }
    }
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists only for one benchmark.
pub struct ScratchDb {
    /// What the store connects to.
    pub url: String,
    /// What the summary shows.
    pub shown: String,
    drop: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl ScratchDb {
    /// Creates an empty database (the store migrates it when it opens).
    pub async fn create(target: &Target) -> anyhow::Result<ScratchDb> {
        let suffix = format!("{}_{:08x}", std::process::id(), fastrand::u32(..));
        let file_name = format!("warden_bench_{suffix}.db");
        match target.backend {
            Backend::Sqlite => {
                let path = match &target.place {
                    Place::Given(url) => sqlite_file(url)?,
                    Place::Beside(url) => match sqlite_file(url)?.parent() {
                        Some(dir) if !dir.as_os_str().is_empty() => dir.join(&file_name),
                        _ => std::path::PathBuf::from(&file_name),
                    },
                    Place::Default => std::env::temp_dir().join(&file_name),
                };
                if path.exists() {
                    bail!(
                        "{} exists; the benchmark deletes its database, so give a new file",
                        path.display()
                    );
                }
                Ok(ScratchDb {
                    url: format!("sqlite://{}", path.display()),
                    shown: path.display().to_string(),
                    drop: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let admin_url = match &target.place {
                    Place::Given(url) | Place::Beside(url) => url.as_str(),
                    Place::Default => DEFAULT_POSTGRES_URL,
                };
                if !(admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"))
                {
                    bail!(
                        "--backend postgres needs a `postgres://…` URL, not `{}`",
                        store::redact_url(admin_url)
                    );
                }
                let name = format!("warden_bench_{suffix}");
                let mut admin = admin_connection(admin_url).await.with_context(|| {
                    format!("Failed to connect to {}", store::redact_url(admin_url))
                })?;
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("Failed to create the database {name}"))?;
                let _ = admin.close().await;
                let url = with_database(admin_url, &name);
                Ok(ScratchDb {
                    shown: store::redact_url(&url),
                    url,
                    drop: Cleanup::Postgres {
                        admin_url: admin_url.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    /// Deletes the database; the store must be closed first.
    pub async fn remove(self) -> anyhow::Result<()> {
        match self.drop {
            Cleanup::File(path) => {
                for extra in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(extra);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(e)
                                .with_context(|| format!("Failed to delete {}", path.display()));
                        }
                        _ => {}
                    }
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let mut admin = admin_connection(&admin_url).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("Failed to drop the database {name}"))?;
                let _ = admin.close().await;
            }
        }
        Ok(())
    }
}

/// The file a `sqlite://FILE` URL names.
fn sqlite_file(url: &str) -> anyhow::Result<std::path::PathBuf> {
    let Some(file) = url.strip_prefix("sqlite://") else {
        bail!(
            "--backend sqlite needs a `sqlite://FILE` URL, not `{}`",
            store::redact_url(url)
        );
    };
    Ok(std::path::PathBuf::from(
        file.split('?').next().unwrap_or(file),
    ))
}

/// A connection for creating and dropping databases (which sqlx would log as slow statements).
async fn admin_connection(url: &str) -> anyhow::Result<sqlx::postgres::PgConnection> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    Ok(options.disable_statement_logging().connect().await?)
}

/// `postgres://u@h:5432/db?x=y` with `db` replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// Runs `body` on a scratch database and removes the database whatever the outcome.
pub async fn with_scratch_db<F, Fut, T>(args: &DbArgs, body: F) -> anyhow::Result<T>
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let target = args.target();
    args.note_ignored_environment(&target);
    let db = ScratchDb::create(&target).await?;
    let result = body(db.url.clone(), db.shown.clone()).await;
    if args.keep {
        eprintln!("Kept the scratch database: {}", db.shown);
        return result;
    }
    let removed = db.remove().await;
    let value = result?;
    removed?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(backend: Option<Backend>, url: Option<&str>) -> DbArgs {
        DbArgs {
            backend,
            database_url: url.map(str::to_owned),
            keep: false,
        }
    }

    fn target(backend: Backend, place: Place) -> Target {
        Target { backend, place }
    }

    const PG: &str = "postgres://app@db:5432/warden";
    const FILE: &str = "sqlite:///srv/warden/warden.db";

    #[test]
    fn without_flags_the_environment_names_the_backend_and_server() {
        let none = args(None, None);
        assert_eq!(
            none.target_with(Some(PG)),
            target(Backend::Postgres, Place::Beside(PG.into()))
        );
        assert_eq!(
            none.target_with(Some(FILE)),
            target(Backend::Sqlite, Place::Beside(FILE.into()))
        );
        assert_eq!(
            none.target_with(None),
            target(Backend::Sqlite, Place::Default)
        );
        assert_eq!(
            none.target_with(Some(" ")),
            target(Backend::Sqlite, Place::Default)
        );
    }

    #[test]
    fn the_backend_flag_keeps_its_default_when_the_environment_names_the_other_backend() {
        assert_eq!(
            args(Some(Backend::Sqlite), None).target_with(Some(PG)),
            target(Backend::Sqlite, Place::Default)
        );
        assert_eq!(
            args(Some(Backend::Postgres), None).target_with(Some(FILE)),
            target(Backend::Postgres, Place::Default)
        );
        assert_eq!(
            args(Some(Backend::Postgres), None).target_with(Some(PG)),
            target(Backend::Postgres, Place::Beside(PG.into()))
        );
    }

    #[test]
    fn the_url_flag_wins_over_the_environment() {
        let other = "postgres://bench@other/postgres";
        assert_eq!(
            args(None, Some(other)).target_with(Some(FILE)),
            target(Backend::Postgres, Place::Given(other.into()))
        );
        assert_eq!(
            args(Some(Backend::Sqlite), Some("sqlite://new.db")).target_with(Some(PG)),
            target(Backend::Sqlite, Place::Given("sqlite://new.db".into()))
        );
    }

    #[tokio::test]
    async fn a_sqlite_database_from_the_environment_is_a_new_file_beside_it() {
        let dir = std::env::temp_dir().join(format!("warden-bench-env-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let existing = dir.join("warden.db");
        std::fs::write(&existing, b"operator data").unwrap();
        let url = format!("sqlite://{}", existing.display());
        let db = ScratchDb::create(&args(None, None).target_with(Some(&url)))
            .await
            .unwrap();
        let Cleanup::File(path) = &db.drop else {
            panic!("a file");
        };
        assert_eq!(path.parent(), Some(dir.as_path()));
        assert_ne!(path, &existing);
        db.remove().await.unwrap();
        assert_eq!(std::fs::read(&existing).unwrap(), b"operator data");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scratch_postgres_urls_keep_server_and_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "b"),
            "postgres://h:5432/b"
        );
    }
}
