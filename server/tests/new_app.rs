//! `flux-capacitor new`: the files it writes, the name substituted, the
//! dependencies it points at, and what it refuses. (That the app builds,
//! tests and runs is `scripts/ci/starter.sh`.)

use std::process::Command;

use flux_capacitor_server::starter::{Dependencies, NewAppError, new_app};

const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn writes_the_template_with_the_name_and_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("todo-list");
    let files = new_app(&app, None, &Dependencies::Checkout(CHECKOUT.into())).unwrap();
    for expected in [
        "Cargo.toml",
        ".gitignore",
        "README.md",
        "reducers/src/lib.rs",
        "reducers/tests/scenarios.rs",
        "wasm/src/lib.rs",
        "server/src/main.rs",
        "server/tests/scenarios.rs",
        "server/migrations/sqlite/20260101000001_todos.sql",
        "server/migrations/postgres/20260101000001_todos.sql",
        "server/migrations/mysql/20260101000001_todos.sql",
        "web/index.html",
        "web/app.js",
        "web/test/scenarios.test.js",
        "scenarios/todos.json",
        "snapshots/todos.json",
    ] {
        assert!(files.contains(&expected), "{expected} listed");
        assert!(app.join(expected).is_file(), "{expected} written");
    }
    for file in &files {
        let text = std::fs::read_to_string(app.join(file)).unwrap();
        assert!(!text.contains("{{"), "{file}: a placeholder left: {text}");
    }
    let cargo = std::fs::read_to_string(app.join("Cargo.toml")).unwrap();
    let reducers = std::fs::canonicalize(format!("{CHECKOUT}/reducers")).unwrap();
    assert!(
        cargo.contains("todo-list-reducers = { path = \"reducers\" }"),
        "{cargo}"
    );
    assert!(
        cargo.contains(&format!(
            "flux-capacitor = {{ path = \"{}",
            std::path::absolute(CHECKOUT).unwrap().display()
        )),
        "{cargo}"
    );
    assert!(reducers.is_dir());
    let server = std::fs::read_to_string(app.join("server/Cargo.toml")).unwrap();
    assert!(
        server.contains("name = \"todo-list\""),
        "the binary is named after the app: {server}"
    );
    let wasm = std::fs::read_to_string(app.join("wasm/src/lib.rs")).unwrap();
    assert!(wasm.contains("todo_list_reducers::root()"), "{wasm}");
    let web: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("web/package.json")).unwrap()).unwrap();
    let js = web["dependencies"]["flux-capacitor"].as_str().unwrap();
    assert!(js.starts_with("file:") && js.ends_with("/js"), "{js}");
    // The scenario has its snapshot, and it is valid JSON.
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("snapshots/todos.json")).unwrap()).unwrap();
    assert_eq!(snapshot["results"].as_array().unwrap().len(), 4);
}

#[test]
fn published_dependencies_are_version_0_1() {
    let dir = tempfile::tempdir().unwrap();
    new_app(dir.path(), Some("app"), &Dependencies::Published).unwrap();
    let cargo = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    assert!(cargo.contains(r#"flux-capacitor-server = "0.1""#), "{cargo}");
    assert!(!cargo.contains("path = \"/"), "{cargo}");
    let web = std::fs::read_to_string(dir.path().join("web/package.json")).unwrap();
    assert!(web.contains(r#""flux-capacitor": "^0.1.0""#), "{web}");
}

#[test]
fn refuses_a_non_empty_directory_a_bad_name_and_a_non_checkout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let err = new_app(dir.path(), Some("app"), &Dependencies::Published).unwrap_err();
    assert!(matches!(err, NewAppError::NotEmpty(_)), "{err:?}");
    assert!(err.to_string().contains("not an empty directory"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written");

    for bad in ["My-App", "1app", "", "a b", "app/x", "-app", &"a".repeat(41)] {
        let err = new_app(&dir.path().join("x"), Some(bad), &Dependencies::Published).unwrap_err();
        assert!(matches!(err, NewAppError::BadName(_)), "{bad:?}: {err:?}");
        assert!(err.to_string().contains("invalid app name"), "{err}");
    }
    for reserved in [
        "build",
        "deps",
        "test",
        "self",
        "flux-capacitor",
        "flux_capacitor",
        "nul",
    ] {
        let err = new_app(&dir.path().join("x"), Some(reserved), &Dependencies::Published).unwrap_err();
        assert!(matches!(err, NewAppError::ReservedName(..)), "{reserved:?}: {err:?}");
        assert!(err.to_string().contains("choose another"), "{err}");
    }
    assert!(!dir.path().join("x").exists(), "nothing made for a bad name");

    let err = new_app(
        &dir.path().join("y"),
        Some("app"),
        &Dependencies::Checkout(dir.path().into()),
    )
    .unwrap_err();
    assert!(matches!(err, NewAppError::NotACheckout(..)), "{err:?}");
}

#[test]
fn the_binary_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flux-capacitor"))
        .arg("new")
        .arg(dir.path())
        .args(["--name", "app"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already exists and is not an empty directory"),
        "{stderr}"
    );
    assert!(!dir.path().join("notes.db").exists(), "`new` opens no store");

    let app = dir.path().join("fresh");
    let out = Command::new(env!("CARGO_BIN_EXE_flux-capacitor"))
        .arg("new")
        .arg(&app)
        .args(["--flux-path", CHECKOUT])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(app.join("server/src/main.rs").is_file());
}
