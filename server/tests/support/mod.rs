//! The readers the read tests compare (the live store, `as_of`, HTTP), each
//! answering a [`Read`] of the read suite as an [`Answer`].
#![allow(dead_code)] // each test file uses a part

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use flux_capacitor::testing::reads::{Answer, FindAll, Read};
use flux_capacitor::{FieldType, Filter, Key, Schema};
use flux_capacitor_server::http::{HttpConfig, app};
use flux_capacitor_server::{Store, StoreError};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The page size of the test service: above every read's row count.
pub const MAX_PAGE: u64 = 10_000;

/// One store and its HTTP service.
pub struct Readers {
    pub store: Store,
    pub router: Router,
    pub schema: Schema,
}

fn kind(err: &StoreError) -> String {
    err.kind().to_string()
}

impl Readers {
    pub fn new(store: Store, schema: Schema) -> Readers {
        let config = HttpConfig {
            max_page: MAX_PAGE,
            ..HttpConfig::default()
        };
        Readers {
            router: app(store.clone(), config),
            store,
            schema,
        }
    }

    /// The live store's answer (`None` for an `http` read).
    pub async fn live(&self, read: &Read) -> Option<Answer> {
        if let Some(find) = &read.find_all {
            let rows = self.store.find_all(&read.collection, find.options()).await;
            return Some(Answer::rows(rows, kind));
        }
        let id = read.find_by_id.clone()?;
        Some(Answer::row(self.store.find_by_id(&read.collection, id).await, kind))
    }

    /// The time machine's answer at `point` (`None` for an `http` read).
    pub async fn as_of(&self, read: &Read, point: u64) -> Option<Answer> {
        if read.http.is_some() {
            return None;
        }
        let then = match self.store.as_of(point).await {
            Ok(then) => then,
            Err(err) => return Some(Answer::Error(kind(&err))),
        };
        if let Some(find) = &read.find_all {
            return Some(Answer::rows(
                then.find_all(&read.collection, &find.options()).await,
                kind,
            ));
        }
        let id = read.find_by_id.clone()?;
        Some(Answer::row(then.find_by_id(&read.collection, id).await, kind))
    }

    /// The service's answer, with `?as_of=` when given; `None` when HTTP
    /// cannot ask this read (see [`http_query`], [`http_row_path`]).
    pub async fn http(&self, read: &Read, as_of: Option<u64>) -> Option<Answer> {
        let by_id = read.find_by_id.is_some();
        let uri = if let Some(id) = &read.find_by_id {
            if as_of.is_some() {
                return None; // the row route reads the head only
            }
            http_row_path(&read.collection, id, &self.schema)?
        } else {
            let mut query = match (&read.find_all, &read.http) {
                (Some(find), _) => http_query(find, self.schema.collections.get(&read.collection))?,
                (None, Some(query)) => query.clone(),
                (None, None) => return None,
            };
            if let Some(point) = as_of {
                query = join(query, format!("as_of={point}"));
            }
            format!("/collections/{}?{query}", encode(&read.collection))
        };
        let request = Request::builder().uri(&uri).body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{uri}: {e}"));
        Some(match (status, body) {
            (StatusCode::OK, Value::Array(rows)) => Answer::Rows(
                rows.into_iter()
                    .map(|r| match r {
                        Value::Object(row) => row,
                        other => panic!("{uri}: a row that is not an object: {other}"),
                    })
                    .collect(),
            ),
            (StatusCode::OK, Value::Object(row)) if by_id => Answer::Row(Some(row)),
            (StatusCode::NOT_FOUND, body) if by_id && body["error"]["code"] == "not_found" => Answer::Row(None),
            (status, body) => match body["error"]["code"].as_str() {
                Some(code) if status.is_client_error() => Answer::Error(code.to_string()),
                _ => panic!("{uri}: unexpected answer {status} {body}"),
            },
        })
    }
}

/// What the service answers where the store answers `expected`: an unknown
/// collection is 404 `not_found`, and on the row route an unknown collection
/// or a key that cannot be the key column's type names no row (404).
pub fn http_expected(read: &Read, expected: &Answer) -> Answer {
    match expected {
        Answer::Error(kind)
            if read.find_by_id.is_some() && (kind == "type_mismatch" || kind == "unknown_collection") =>
        {
            Answer::Row(None)
        }
        Answer::Error(kind) if kind == "unknown_collection" => Answer::Error("not_found".into()),
        other => other.clone(),
    }
}

/// The row route of key `id`; `None` where a path cannot tell the key's type
/// (an integer key of a text-keyed collection: the path "5" names the text
/// key "5"; a string of digits of an integer-keyed one: the integer).
pub fn http_row_path(collection: &str, id: &Key, schema: &Schema) -> Option<String> {
    let integer_key = schema
        .collections
        .get(collection)
        .is_some_and(|c| c.fields.get(&c.key) == Some(&FieldType::Integer));
    let segment = match id {
        Key::Int(n) if integer_key || !schema.collections.contains_key(collection) => n.to_string(),
        Key::Int(_) => return None,
        // The path "5" of an integer-keyed collection is the integer 5.
        Key::Str(s) if integer_key && s.parse::<i64>().is_ok() => return None,
        Key::Str(s) => encode(s),
    };
    Some(format!("/collections/{}/{segment}", encode(collection)))
}

/// `find` as a query string, when HTTP can say it: equality filters (alone
/// or ANDed) on fields that are not reserved, with values of the column's
/// type (or any scalar for an unknown or `json` field, which the store then
/// refuses), an order of fields without commas, a limit within a page.
pub fn http_query(find: &FindAll, schema: Option<&flux_capacitor::CollectionSchema>) -> Option<String> {
    let mut params = Vec::new();
    let eqs = match &find.filter {
        None => Vec::new(),
        Some(Filter::And { filters }) if !filters.is_empty() => filters.iter().collect(),
        Some(filter @ Filter::Eq { .. }) => vec![filter],
        Some(_) => return None,
    };
    for filter in eqs {
        let Filter::Eq { field, value } = filter else {
            return None;
        };
        if matches!(field.as_str(), "as_of" | "limit" | "offset" | "order") {
            return None;
        }
        let ty = schema.and_then(|s| s.fields.get(field)).copied();
        let text = match (ty, value) {
            (Some(FieldType::Text) | None | Some(FieldType::Json), Value::String(s)) => s.clone(),
            (Some(FieldType::Integer), Value::Number(n)) if n.is_i64() => n.to_string(),
            (Some(FieldType::Real), Value::Number(n)) => format!("{:?}", n.as_f64()?),
            (Some(FieldType::Boolean), Value::Bool(b)) => b.to_string(),
            (None | Some(FieldType::Json), Value::Number(_) | Value::Bool(_)) => value.to_string(),
            _ => return None,
        };
        params.push(format!("{}={}", encode(field), encode(&text)));
    }
    if !find.order.is_empty() {
        if find.order.iter().any(|f| f.contains(',') || f.is_empty()) {
            return None;
        }
        params.push(format!("order={}", encode(&find.order.join(","))));
    }
    match find.limit {
        Some(limit) if limit > MAX_PAGE => return None,
        Some(limit) => params.push(format!("limit={limit}")),
        None => {}
    }
    if find.offset > 0 {
        params.push(format!("offset={}", find.offset));
    }
    Some(params.join("&"))
}

fn join(query: String, param: String) -> String {
    if query.is_empty() {
        param
    } else {
        format!("{query}&{param}")
    }
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
