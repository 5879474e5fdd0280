//! `HttpConfig::static_dir`: the files inside the directory, never anything
//! outside it — by `..`, its encodings, absolute paths or symbolic links.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flux_capacitor::testing::conformance;
use flux_capacitor_server::Store;
use flux_capacitor_server::http::{HttpConfig, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &str = "the database, say";

/// `<tmp>/web` (served) beside `<tmp>/outside` (not), with links from one to the other.
fn layout(tmp: &Path) {
    let web = tmp.join("web");
    let outside = tmp.join("outside");
    std::fs::create_dir_all(web.join("assets")).unwrap();
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(web.join("index.html"), "<h1>page</h1>").unwrap();
    std::fs::write(web.join("assets/app.js"), "app();").unwrap();
    std::fs::write(outside.join("secret.db"), SECRET).unwrap();
    std::fs::write(outside.join("dir/secret.txt"), SECRET).unwrap();
    std::fs::write(outside.join("dir/index.html"), SECRET).unwrap();
    std::fs::write(tmp.join("top.txt"), SECRET).unwrap();
    // Out of the directory: to a file, to a directory, relative and absolute.
    symlink(outside.join("secret.db"), web.join("db-link")).unwrap();
    symlink("../outside/dir", web.join("dir-link")).unwrap();
    symlink("/etc/passwd", web.join("passwd")).unwrap();
    // A real directory whose index.html leads out.
    std::fs::create_dir(web.join("sub")).unwrap();
    symlink(outside.join("dir/index.html"), web.join("sub/index.html")).unwrap();
    // Inside the directory: allowed.
    symlink("assets/app.js", web.join("app-link.js")).unwrap();
}

async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn static_files_never_leave_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let store = Store::connect("sqlite::memory:", conformance::reducer()).await.unwrap();
    let router = app(store, HttpConfig::default().static_dir(tmp.path().join("web")));

    assert_eq!(get(&router, "/").await, (StatusCode::OK, "<h1>page</h1>".into()));
    assert_eq!(
        get(&router, "/index.html").await,
        (StatusCode::OK, "<h1>page</h1>".into())
    );
    assert_eq!(get(&router, "/assets/app.js").await, (StatusCode::OK, "app();".into()));
    assert_eq!(
        get(&router, "/app-link.js").await,
        (StatusCode::OK, "app();".into()),
        "a link inside the directory is served"
    );
    assert_eq!(get(&router, "/missing.js").await.0, StatusCode::NOT_FOUND);

    for uri in [
        // Symbolic links out of the directory.
        "/db-link",
        "/dir-link/secret.txt",
        "/dir-link/",
        "/dir-link/index.html",
        "/passwd",
        "/sub/",
        "/sub/index.html",
        // `..`, plain and percent-encoded.
        "/../top.txt",
        "/assets/../../top.txt",
        "/%2e%2e/top.txt",
        "/assets/%2E%2E/%2e%2e/top.txt",
        "/..%2ftop.txt",
        "/assets%2f..%2f..%2ftop.txt",
        // Absolute paths.
        "/%2fetc/passwd",
        "/%2Fetc%2Fpasswd",
        &format!("/{}", tmp.path().join("top.txt").display()).replace("//", "/%2f"),
        "//etc/passwd",
        "/etc/passwd",
    ] {
        let (status, body) = get(&router, uri).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{uri}: {status} {body}"
        );
        assert!(
            !body.contains(SECRET) && !body.contains("root:"),
            "{uri} leaked: {body}"
        );
    }
    // The refusals look like a missing file: nothing says a link is there.
    assert_eq!(get(&router, "/db-link").await, get(&router, "/missing.js").await);
}

/// A method no route takes is answered with the service's error body, on a
/// route of its own (`Allow` naming the route's methods) and on a path the
/// static files would serve (`Allow: GET,HEAD`); without static files an
/// unknown path is 404, whatever the method.
#[tokio::test]
async fn methods_no_route_takes_get_the_error_body() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let store = Store::connect("sqlite::memory:", conformance::reducer()).await.unwrap();
    let call = |router: Router, method: &'static str, uri: &'static str| async move {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        (status, allow, body["error"]["code"].as_str().map(str::to_owned))
    };
    let with_files = app(store.clone(), HttpConfig::default().static_dir(tmp.path().join("web")));
    let without = app(store, HttpConfig::default());
    let refused = |allow: &str| {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            Some(allow.to_owned()),
            Some("method_not_allowed".to_owned()),
        )
    };
    for router in [&with_files, &without] {
        assert_eq!(call(router.clone(), "GET", "/dispatch/addIssue").await, refused("POST"));
        assert_eq!(call(router.clone(), "DELETE", "/events").await, refused("GET,HEAD"));
    }
    assert_eq!(
        call(with_files.clone(), "POST", "/dispatch/").await,
        refused("GET,HEAD")
    );
    assert_eq!(call(with_files, "PUT", "/index.html").await, refused("GET,HEAD"));
    let unknown = (StatusCode::NOT_FOUND, None, Some("not_found".to_owned()));
    assert_eq!(call(without.clone(), "POST", "/dispatch/").await, unknown);
    assert_eq!(call(without, "PUT", "/index.html").await, unknown);
}
