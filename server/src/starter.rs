//! `flux-capacitor new`: a new app from the template in `server/templates/app`
//! (embedded in the binary), the app's name substituted: a Cargo workspace with
//! the reducers (`no_std`), their wasm package, a server with migrations for
//! SQLite, PostgreSQL and MySQL/MariaDB, a Redux Toolkit page, and a scenario
//! with its snapshot, checked by all three test runners. Like `cargo new`, it
//! refuses a directory that is not empty.
//!
//! The crates and the npm package are depended on at version `0.1` from
//! crates.io and npm, or, with [`Dependencies::Checkout`], by path on a
//! checkout of this repository (until they are published, that is the way).

use std::path::{Path, PathBuf};

/// Every file of the template (`Cargo.toml`s are kept as `Cargo.toml.tmpl`:
/// `cargo package` leaves out any folder holding a `Cargo.toml`): its path in
/// the app, and its text with
/// `{{name}}`, `{{crate}}`, `{{flux_deps}}` and `{{flux_js}}` to substitute.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/app/Cargo.toml.tmpl")),
    // Stored without the dot so that it does not apply to the template itself.
    (".gitignore", include_str!("../templates/app/gitignore")),
    ("README.md", include_str!("../templates/app/README.md")),
    (
        "reducers/Cargo.toml",
        include_str!("../templates/app/reducers/Cargo.toml.tmpl"),
    ),
    (
        "reducers/src/lib.rs",
        include_str!("../templates/app/reducers/src/lib.rs"),
    ),
    (
        "reducers/tests/scenarios.rs",
        include_str!("../templates/app/reducers/tests/scenarios.rs"),
    ),
    ("wasm/Cargo.toml", include_str!("../templates/app/wasm/Cargo.toml.tmpl")),
    ("wasm/src/lib.rs", include_str!("../templates/app/wasm/src/lib.rs")),
    (
        "server/Cargo.toml",
        include_str!("../templates/app/server/Cargo.toml.tmpl"),
    ),
    ("server/src/lib.rs", include_str!("../templates/app/server/src/lib.rs")),
    (
        "server/src/main.rs",
        include_str!("../templates/app/server/src/main.rs"),
    ),
    (
        "server/tests/scenarios.rs",
        include_str!("../templates/app/server/tests/scenarios.rs"),
    ),
    (
        "server/migrations/sqlite/20260101000001_todos.sql",
        include_str!("../templates/app/server/migrations/sqlite/20260101000001_todos.sql"),
    ),
    (
        "server/migrations/postgres/20260101000001_todos.sql",
        include_str!("../templates/app/server/migrations/postgres/20260101000001_todos.sql"),
    ),
    (
        "server/migrations/mysql/20260101000001_todos.sql",
        include_str!("../templates/app/server/migrations/mysql/20260101000001_todos.sql"),
    ),
    ("web/package.json", include_str!("../templates/app/web/package.json")),
    ("web/index.html", include_str!("../templates/app/web/index.html")),
    ("web/app.js", include_str!("../templates/app/web/app.js")),
    ("web/build.sh", include_str!("../templates/app/web/build.sh")),
    (
        "web/test/scenarios.test.js",
        include_str!("../templates/app/web/test/scenarios.test.js"),
    ),
    (
        "scenarios/todos.json",
        include_str!("../templates/app/scenarios/todos.json"),
    ),
    (
        "snapshots/todos.json",
        include_str!("../templates/app/snapshots/todos.json"),
    ),
];

/// The longest app name accepted (it names crates, a binary and a database).
pub const MAX_NAME_LEN: usize = 40;

/// Where the app's Flux Capacitor dependencies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependencies {
    /// Version `0.1` of the crates (crates.io) and of the npm package.
    Published,
    /// A checkout of this repository: path dependencies on its `reducers/`,
    /// `server/` and `wasm/` crates, and `file:` on its `js/`.
    Checkout(PathBuf),
}

/// Why no app was made.
#[derive(Debug, thiserror::Error)]
pub enum NewAppError {
    /// The name is not a usable package name.
    #[error(
        "invalid app name `{0}`: use 1 to {MAX_NAME_LEN} lowercase ASCII letters, digits, `-` or `_`, starting with a letter (e.g. `my-app`)"
    )]
    BadName(String),
    /// The name is one cargo refuses, or that of a Flux Capacitor crate.
    #[error("invalid app name `{0}`: {1}; choose another")]
    ReservedName(String, &'static str),
    /// No name was given and the path has no usable last component.
    #[error("cannot take an app name from `{0}`: pass --name")]
    NoName(PathBuf),
    /// The destination exists and is not an empty directory.
    #[error("`{0}` already exists and is not an empty directory: choose a new path")]
    NotEmpty(PathBuf),
    /// `--flux-path` is not a checkout of Flux Capacitor.
    #[error("`{0}` is not a Flux Capacitor checkout (no {1} there)")]
    NotACheckout(PathBuf, &'static str),
    /// Reading or writing a file failed.
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// Checks an app name: what `cargo new` would take, kept simple so it is also
/// a valid npm name, a binary name and a database file name.
pub fn check_name(name: &str) -> Result<(), NewAppError> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(NewAppError::BadName(name.into()));
    }
    match reserved(name) {
        Some(why) => Err(NewAppError::ReservedName(name.into(), why)),
        None => Ok(()),
    }
}

/// Why cargo would refuse `name` for the app's packages and binary, or why
/// it would collide with the crates the app depends on.
fn reserved(name: &str) -> Option<&'static str> {
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn",
        "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro",
        "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
        "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    ];
    const WINDOWS: &[&str] = &[
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1",
        "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    if KEYWORDS.contains(&name) {
        Some("a Rust keyword")
    } else if ["test", "core", "std", "alloc", "proc_macro", "proc-macro"].contains(&name) {
        Some("the name of a Rust built-in library")
    } else if ["build", "deps", "examples", "incremental"].contains(&name) {
        Some("cargo keeps a directory of that name for its own output")
    } else if WINDOWS.contains(&name) {
        Some("a file name Windows reserves")
    } else if name.replace('_', "-") == "flux-capacitor" {
        Some("the name of the Flux Capacitor crate the app depends on")
    } else {
        None
    }
}

/// Makes a new app in `path` (created if missing; an existing directory must
/// be empty) named `name`, or after `path`'s last component. Returns the
/// files written, relative to `path`.
pub fn new_app(path: &Path, name: Option<&str>, deps: &Dependencies) -> Result<Vec<&'static str>, NewAppError> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| NewAppError::NoName(path.into()))?
            .to_owned(),
    };
    check_name(&name)?;
    let flux_deps = flux_dependencies(deps)?;
    if path.exists() {
        let mut entries = std::fs::read_dir(path).map_err(|_| NewAppError::NotEmpty(path.into()))?;
        if entries.next().is_some() {
            return Err(NewAppError::NotEmpty(path.into()));
        }
    }
    let crate_name = name.replace('-', "_");
    let mut written = Vec::with_capacity(TEMPLATE.len());
    for (file, text) in TEMPLATE {
        let text = text
            .replace("{{flux_deps}}", &flux_deps.crates)
            .replace("{{flux_js}}", &flux_deps.js)
            .replace("{{name}}", &name)
            .replace("{{crate}}", &crate_name);
        let target = path.join(file);
        let io = |e| NewAppError::Io(target.clone(), e);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&target, text).map_err(io)?;
        if file.ends_with(".sh") {
            make_executable(&target).map_err(io)?;
        }
        written.push(*file);
    }
    tracing::debug!(app = %name, path = %path.display(), files = written.len(), "new app");
    Ok(written)
}

struct FluxDeps {
    /// Lines of `[workspace.dependencies]`.
    crates: String,
    /// The npm dependency's version or `file:` spec.
    js: String,
}

fn flux_dependencies(deps: &Dependencies) -> Result<FluxDeps, NewAppError> {
    match deps {
        Dependencies::Published => Ok(FluxDeps {
            crates: [
                r#"flux-capacitor = { version = "0.1", default-features = false }"#,
                r#"flux-capacitor-server = "0.1""#,
                r#"flux-capacitor-wasm = "0.1""#,
            ]
            .join("\n"),
            js: "^0.1.0".into(),
        }),
        Dependencies::Checkout(root) => {
            let root = std::path::absolute(root).map_err(|e| NewAppError::Io(root.clone(), e))?;
            for needed in [
                "reducers/Cargo.toml",
                "server/Cargo.toml",
                "wasm/Cargo.toml",
                "js/package.json",
            ] {
                if !root.join(needed).is_file() {
                    return Err(NewAppError::NotACheckout(root, needed));
                }
            }
            let path = |dir: &str| toml_string(&root.join(dir).to_string_lossy());
            Ok(FluxDeps {
                crates: format!(
                    "flux-capacitor = {{ path = {}, default-features = false }}\n\
                     flux-capacitor-server = {{ path = {} }}\n\
                     flux-capacitor-wasm = {{ path = {} }}",
                    path("reducers"),
                    path("server"),
                    path("wasm")
                ),
                js: json_inner(&format!("file:{}", root.join("js").to_string_lossy())),
            })
        }
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The inside of a JSON string (the template holds the quotes).
fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(unix)]
fn make_executable(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_file: &Path) -> std::io::Result<()> {
    Ok(())
}
