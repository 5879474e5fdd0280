//! Cross-origin requests (CORS), off by default: [`CorsConfig`].

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::HttpConfig;

/// Which origins may call the service from a browser, with which methods,
/// request headers and credentials: an `Access-Control-Allow-*` policy
/// (tower-http's [`CorsLayer`]), set with [`HttpConfig::cors`].
///
/// A browser lets a page call the service only from the service's own origin,
/// unless the service says otherwise: a page on `http://localhost:5173` (a dev
/// server) can open the WebSocket, but its `POST /dispatch/...` is blocked. There
/// are three ways out, best first:
///
/// 1. **Same origin** (production): the service serves the built page too,
///    [`HttpConfig::static_dir`]. No CORS, nothing to get wrong.
/// 2. **A dev proxy**: the dev server forwards `/dispatch`, `/collections` and
///    `/events` (with WebSockets, for `/events/live`) to the service, so the page
///    still talks to one origin. `js/README.md` shows it for Vite and webpack.
/// 3. **CORS**: [`HttpConfig::cors`] with the exact origins allowed to call the
///    service from a browser ([`CorsConfig::origins`]).
///
/// ```
/// use flux_capacitor_server::http::{CorsConfig, HttpConfig};
///
/// let config = HttpConfig::default().cors(CorsConfig::origins(["http://localhost:5173"])?);
/// # Ok::<(), flux_capacitor_server::http::InvalidOrigin>(())
/// ```
///
/// **The trade-off.** Every origin listed can make a visitor's browser call the
/// service with whatever the browser sends on its own. The demo authenticators
/// read a bearer token that the page itself must attach (a header, or `token=`
/// on the event routes), so a listed origin gets nowhere without a token; but
/// with [`CorsConfig::credentials`] on and an [`Authenticator`] that reads
/// cookies, a listed origin acts as the signed-in user. So: list exact origins
/// (there is no wildcard), never list origins you do not control, and keep
/// credentials off unless authentication is by cookie. CORS does not apply to
/// WebSockets at all: any page may open `/events/live`, and what it receives is
/// decided by its token and the [`Access`] policy, as without CORS.
///
/// [`Authenticator`]: super::Authenticator
/// [`Access`]: super::Access
#[derive(Debug, Clone)]
pub struct CorsConfig {
    origins: Vec<HeaderValue>,
    methods: Vec<Method>,
    headers: Vec<HeaderName>,
    credentials: bool,
    max_age: Duration,
}

/// An origin that is not `scheme://host[:port]` (no path, no trailing slash,
/// no wildcard): a browser would never send it, so it could never match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CORS origin `{origin}`: {reason}")]
pub struct InvalidOrigin {
    /// The origin as given.
    pub origin: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn check_origin(origin: &str) -> Result<HeaderValue, InvalidOrigin> {
    let invalid = |reason| InvalidOrigin {
        origin: origin.to_owned(),
        reason,
    };
    if origin == "*" || origin.contains('*') {
        return Err(invalid("no wildcards: list each origin"));
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(invalid("expected scheme://host[:port], e.g. http://localhost:5173"));
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Err(invalid("expected scheme://host[:port], e.g. http://localhost:5173"));
    }
    if rest.is_empty() {
        return Err(invalid("no host"));
    }
    if !rest.is_ascii() {
        return Err(invalid(
            "not ASCII: browsers send an internationalized host as punycode (xn--...)",
        ));
    }
    if rest.contains(char::is_whitespace) {
        return Err(invalid("no whitespace"));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(invalid(
            "an origin has no path (not even a trailing slash), query or fragment",
        ));
    }
    HeaderValue::from_str(origin).map_err(|_| invalid("not a valid header value"))
}

impl CorsConfig {
    /// Allows exactly these origins (`scheme://host[:port]`, as a browser sends
    /// them in `Origin`), with the service's methods (`GET`, `POST`), the
    /// request headers it reads (`authorization`, `content-type`,
    /// `x-request-id`), no credentials, and preflights cached for 10 minutes.
    pub fn origins<I, S>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|o| check_origin(o.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CorsConfig {
            origins,
            methods: vec![Method::GET, Method::POST],
            headers: vec![
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
            ],
            credentials: false,
            max_age: Duration::from_secs(600),
        })
    }

    /// The methods allowed (default `GET`, `POST`).
    #[must_use]
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// The request headers allowed (default `authorization`, `content-type`,
    /// `x-request-id`).
    #[must_use]
    pub fn headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.headers = headers.into_iter().collect();
        self
    }

    /// Whether the browser may send credentials (cookies, TLS client
    /// certificates) cross-origin and let the page read the answer (default
    /// `false`). Only needed when an [`Authenticator`](super::Authenticator)
    /// reads cookies; see the trade-off above.
    #[must_use]
    pub fn credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight's answer (default 10 minutes).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.origins.iter().cloned()))
            .allow_methods(self.methods.clone())
            .allow_headers(self.headers.clone())
            .allow_credentials(self.credentials)
            .expose_headers([HeaderName::from_static(super::NEXT_AFTER)])
            .max_age(self.max_age)
    }
}

impl HttpConfig {
    /// Answers cross-origin requests from the origins `cors` allows (default:
    /// none, no CORS headers at all). See [`CorsConfig`] for the alternatives
    /// and the trade-off.
    #[must_use]
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = Some(cors);
        self
    }
}

/// `router` with the CORS layer of `cors`, if any.
pub(super) fn layer(router: Router, cors: Option<&CorsConfig>) -> Router {
    match cors {
        Some(cors) => router.layer(cors.layer()),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(CorsConfig::origins(["http://localhost:5173", "https://notes.example"]).is_ok());
        for (origin, reason) in [
            ("*", "wildcard"),
            ("https://*.example", "wildcard"),
            ("http://localhost:5173/", "no path"),
            ("localhost:5173", "scheme://"),
            ("http://", "no host"),
            ("http://a b", "whitespace"),
            ("http://caf\u{e9}.example", "punycode"),
            ("http://a\u{7f}", "header value"),
        ] {
            let err = CorsConfig::origins([origin]).unwrap_err();
            assert!(err.to_string().contains(reason), "{origin}: {err}");
        }
    }
}
