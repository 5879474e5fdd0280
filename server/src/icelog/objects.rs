//! Where segments are kept, by URL, through the `object_store` crate:
//!
//! * a plain path (`/var/lib/notes/icelog`, `notes.db.icelog`) or a
//!   `file://` URL: a local directory (created if missing);
//! * `s3://bucket/prefix`: S3 or an S3-compatible service, with the `s3`
//!   cargo feature (credentials and endpoint from the usual `AWS_*`
//!   environment variables).
//!
//! Objects are written once, under a name of their own (the `seq` range and
//! a UUID), and never changed; a freeze interrupted before its commit leaves
//! an object no manifest entry names (harmless: delete it at leisure).

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::{DbPool, StoreError};

/// One icelog location.
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The location as configured (what the manifest records).
    pub url: String,
}

fn failed(url: &str, what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::IceLog {
        reason: format!("{what} at `{url}`: {err}"),
    }
}

impl Objects {
    /// Opens the location `url`.
    pub fn open(url: &str) -> Result<Objects, StoreError> {
        let invalid = |reason: String| StoreError::IceLog {
            reason: format!("invalid icelog location `{url}`: {reason}"),
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme, rest),
            None => ("", url),
        };
        match scheme {
            "" | "file" => {
                let dir = if scheme.is_empty() {
                    std::path::PathBuf::from(rest)
                } else {
                    url::Url::parse(url)
                        .map_err(|e| invalid(e.to_string()))?
                        .to_file_path()
                        .map_err(|()| invalid("not a local path".into()))?
                };
                if dir.as_os_str().is_empty() {
                    return Err(invalid("empty path".into()));
                }
                std::fs::create_dir_all(&dir).map_err(|e| failed(url, "cannot create the directory", e))?;
                let local =
                    object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| invalid(e.to_string()))?;
                Ok(Objects {
                    store: Arc::new(local),
                    prefix: Path::default(),
                    url: url.to_owned(),
                })
            }
            #[cfg(feature = "s3")]
            "s3" => {
                let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
                let bucket = parsed.host_str().ok_or_else(|| invalid("no bucket".into()))?;
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?;
                Ok(Objects {
                    store: Arc::new(s3),
                    prefix: Path::from(parsed.path().trim_matches('/')),
                    url: url.to_owned(),
                })
            }
            other => Err(invalid(format!(
                "unsupported scheme `{other}` (a directory, file://{})",
                if cfg!(feature = "s3") {
                    " or s3://"
                } else {
                    "; s3:// needs the `s3` feature"
                }
            ))),
        }
    }

    fn path(&self, name: &str) -> Path {
        self.prefix.child(name)
    }

    /// Writes object `name`.
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store
            .put(&self.path(name), Bytes::from(bytes).into())
            .await
            .map(|_| ())
            .map_err(|e| failed(&self.url, &format!("cannot write segment `{name}`"), e))
    }

    /// Reads object `name`: [`StoreError::SegmentMissing`] when it is not there.
    pub async fn get(&self, name: &str) -> Result<Bytes, StoreError> {
        match self.store.get(&self.path(name)).await {
            Ok(found) => found
                .bytes()
                .await
                .map_err(|e| failed(&self.url, &format!("cannot read segment `{name}`"), e)),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::SegmentMissing {
                segment: name.to_owned(),
                location: self.url.clone(),
            }),
            Err(e) => Err(failed(&self.url, &format!("cannot read segment `{name}`"), e)),
        }
    }

    /// Deletes object `name` (gone already is fine).
    pub async fn delete(&self, name: &str) -> Result<(), StoreError> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed(&self.url, &format!("cannot delete segment `{name}`"), e)),
        }
    }
}

/// The default location of a store on `pool`: beside an SQLite file
/// (`notes.db` → `/absolute/path/notes.db.icelog`); none in memory nor on a server
/// database (PostgreSQL, MySQL/MariaDB: configure one).
pub(crate) fn default_location(pool: &DbPool) -> Option<String> {
    // Absolute: the manifest records it, and a store started from another
    // working directory must find the same segments.
    Some(format!("{}.icelog", pool.sqlite_file()?.display()))
}
