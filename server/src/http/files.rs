//! The static files of [`HttpConfig::static_dir`](super::HttpConfig::static_dir):
//! tower-http's [`ServeDir`], behind one more rule — **nothing outside the
//! directory is served**.
//!
//! `ServeDir` already refuses `..`, absolute paths and their percent-encoded
//! forms (`%2e%2e`, `%2f`), but it follows symbolic links wherever they point:
//! a link in the web directory to `/etc` or to the database file would be
//! served, without authentication. So each request's path is resolved the way
//! `ServeDir` resolves it, then canonicalized (every link followed); when the
//! result, or the `index.html` a directory stands for, is not inside the
//! canonicalized directory, the answer is a plain 404, the same as for a file
//! that does not exist. Links that stay inside the directory keep working.
//!
//! What this does not do: the check and the read are two steps, so someone who
//! can swap links in the directory between them could still win a race. Such a
//! person can already put any file there; the check exists against links
//! shipped by mistake (a `node_modules` linking into a source tree). Serve only
//! what the app ships: a built directory (the notes app serves
//! `examples/notes/web/dist`, never its sources, tests or `node_modules`).

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

/// The fallback service over a static directory.
#[derive(Clone, Debug)]
pub(crate) struct StaticFiles {
    root: PathBuf,
    serve: ServeDir,
}

impl StaticFiles {
    pub(crate) fn new(root: PathBuf) -> Self {
        StaticFiles {
            serve: ServeDir::new(&root),
            root,
        }
    }

    /// The file for `request`, or 404 when its path leads out of the root.
    pub(crate) async fn serve(mut self, request: Request) -> Response {
        if !self.inside_root(request.uri().path()).await {
            return StatusCode::NOT_FOUND.into_response();
        }
        match self.serve.try_call(request).await {
            Ok(response) => response.map(Body::new),
            Err(err) => {
                tracing::error!(error = %err, "static files: cannot read");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// Whether the file (or directory and its `index.html`) that URI path
    /// `path` names is inside the root once every link is followed. A path
    /// that names nothing passes: `ServeDir` answers 404 for it.
    async fn inside_root(&self, path: &str) -> bool {
        let Some(relative) = relative_path(path) else {
            return false;
        };
        let Ok(root) = tokio::fs::canonicalize(&self.root).await else {
            // No directory: `ServeDir` answers 404.
            return true;
        };
        let target = match tokio::fs::canonicalize(root.join(&relative)).await {
            Ok(target) => target,
            // Nothing there, or a dangling link: `ServeDir` cannot open it either.
            Err(_) => return true,
        };
        if !target.starts_with(&root) {
            tracing::warn!(path, target = %target.display(), "static files: refused a path leading out of the directory");
            return false;
        }
        if target.is_dir()
            && let Ok(index) = tokio::fs::canonicalize(target.join("index.html")).await
            && !index.starts_with(&root)
        {
            tracing::warn!(path, target = %index.display(), "static files: refused an index.html leading out of the directory");
            return false;
        }
        true
    }
}

/// URI path `path` as a path relative to the root, decoded and checked as
/// `ServeDir` does; `None` (404) for `..`, absolute or prefixed components and
/// for bytes that are not UTF-8.
fn relative_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let mut out = PathBuf::new();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(part) => {
                if !Path::new(part).components().all(|c| matches!(c, Component::Normal(_))) {
                    return None;
                }
                out.push(part);
            }
            Component::CurDir => {}
            Component::Prefix(_) | Component::RootDir | Component::ParentDir => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::relative_path;
    use std::path::PathBuf;

    #[test]
    fn relative_paths_decode_like_serve_dir_and_refuse_escapes() {
        assert_eq!(relative_path("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(relative_path("/a%20b/./c"), Some(PathBuf::from("a b/c")));
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        // Leading slashes are dropped before decoding: this is `etc/passwd` under the root.
        assert_eq!(relative_path("//etc/passwd"), Some(PathBuf::from("etc/passwd")));
        for refused in [
            "/../etc/passwd",
            "/a/%2e%2e/%2e%2e/etc",
            "/%2fetc/passwd",
            "/a/%2F..%2F..%2Fetc",
            "/a/%ff",
        ] {
            assert_eq!(relative_path(refused), None, "{refused}");
        }
    }
}
