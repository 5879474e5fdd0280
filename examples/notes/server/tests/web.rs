//! The notes binary serves the page's build output (`notes_server::WEB_DIR`,
//! `examples/notes/web/dist`), never the page's sources beside it: none of
//! `package.json`, `README.md`, `test/`, `node_modules/`, directly or by `..`.
//! (That the built page itself is served and runs: `web/test/static.test.js`
//! and the browser tests, after `scripts/build-notes-web.sh`.)

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[tokio::test]
async fn the_page_sources_tests_and_node_modules_are_not_served() {
    assert!(
        notes_server::WEB_DIR.ends_with("/web/dist"),
        "the default web directory is the build output: {}",
        notes_server::WEB_DIR
    );
    let store = notes_server::open("sqlite::memory:").await.unwrap();
    let router = flux_capacitor_server::http::app(store, notes_server::http_config(notes_server::WEB_DIR));
    let source = std::path::Path::new(notes_server::WEB_DIR).parent().unwrap();
    assert!(source.join("package.json").is_file() && source.join("test").is_dir());
    for uri in [
        "/package.json",
        "/package-lock.json",
        "/README.md",
        "/test/server.js",
        "/test/",
        "/node_modules/flux-capacitor/package.json",
        "/node_modules/redux/dist/redux.browser.mjs",
        "/../package.json",
        "/%2e%2e/package.json",
        "/%2E%2E/test/server.js",
        "/vendor/%2e%2e/%2e%2e/package.json",
        "/%2e%2e/node_modules/flux-capacitor/package.json",
        "/%2e%2e/%2e%2e/server/Cargo.toml",
    ] {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}
