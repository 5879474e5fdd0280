//! The differential fuzzer: random schemas, rows, patches, filters and
//! changesets over the portable value domain and just beyond it (astral,
//! combining and NUL characters; prototype-named collections, fields and keys;
//! integers across the `i64` range and around 2^53; floats such as `-0.0`,
//! `3.0`, subnormals and `1e308`; JSON nested up to 40 levels; strings up to
//! 200 KB), run through all six appliers: the reference `MemoryDatabase`, the
//! store on SQLite, PostgreSQL and MariaDB, and wasm + reduxify and wasm + MobX
//! (`js/fuzz/appliers.mjs` under node). Every applier must give the reference's
//! outcome: the same result per event (`ok` or the error kind) and the same
//! final state, type-exact (JS numbers read back in the domain's canonical form,
//! the only form JSON text gives them).
//!
//! Operations travel as `conformance/apply_json` events, so number literals
//! reach every applier's reducer as written (`9007199254740993`, `-0.0`, `3.0`).
//! Values stay within the store's column sizes (text keys are at most 191
//! characters, MariaDB's `VARCHAR(191)`): `tests/values.rs` covers the limits.
//!
//! Needs the conformance wasm package and the npm package's dependencies
//! (`scripts/ci/differential.sh` builds them), so it is `#[ignore]`d in a plain
//! `cargo test`. A fixed seed by default; `FUZZ_CASES=N` runs N cases
//! (default 40), `FUZZ_SEED=S` another seed. A failure is shrunk and written to
//! `target/differential-failure.json`, a scenario file for `tests/scenarios/`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use flux_capacitor::domain::canonical;
use flux_capacitor::testing::{Scenario, ScenarioEvent, Snapshot, conformance, run_scenario};
use flux_capacitor::{Event, FieldType, Schema};
use flux_capacitor_server::Dialect;
use flux_capacitor_server::testing::{BACKENDS, TestDb, conformance_store, execute};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{Value, json};

// ---------------------------------------------------------------- JSON text

/// A JSON value whose numbers are literals, written as they are.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => out.push_str(&Value::from(s.as_str()).to_string()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}:", Value::from(k.as_str()));
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

fn obj(entries: impl IntoIterator<Item = (&'static str, J)>) -> J {
    J::Obj(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn s(text: &str) -> J {
    J::Str(text.to_string())
}

// ---------------------------------------------------------------- values

/// Pieces of strings: astral, combining, NUL, prototype names, a trailing space.
const PIECES: &[&str] = &[
    "a",
    "b",
    "B",
    "z",
    "é",
    "e\u{301}",
    "\u{1F600}",
    "\u{FFFD}",
    "\u{10FFFF}",
    "\u{0}",
    "__proto__",
    "constructor",
    " ",
    "10",
    "\u{7F}",
    "\"",
];

fn short_string() -> impl Strategy<Value = String> + Clone {
    // NUL (outside the domain) is one piece in a few hundred.
    let piece = prop_oneof![60 => select(&PIECES[..9]), 20 => select(&PIECES[10..]), 1 => Just(PIECES[9])];
    proptest::collection::vec(piece, 0..4).prop_map(|p| p.concat())
}

fn string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        40 => short_string(),
        1 => (select(&PIECES[..9]), 1usize..200_000).prop_map(|(p, n)| p.repeat(n / p.len() + 1)),
    ]
}

fn int_literal() -> impl Strategy<Value = String> + Clone {
    const SAFE: i64 = (1 << 53) - 1;
    prop_oneof![
        30 => (-3i64..=3).prop_map(|i| i.to_string()),
        3 => select(vec![SAFE, SAFE + 1, SAFE + 2, -SAFE, -SAFE - 1, -SAFE - 2, i64::MAX, i64::MIN])
            .prop_map(|i| i.to_string()),
        1 => Just("18446744073709551615".to_string()),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        2 => (-(1i64 << 53) + 1..(1 << 53)).prop_map(|i| i.to_string()),
    ]
}

fn float_literal() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        20 => select(vec![
            "-0.0", "0.5", "1.5", "3.0", "-7.0", "2.0", "9007199254740992.0", "9007199254740993.0", "5e-324",
            "2.2250738585072014e-308", "1e308", "1.7976931348623157e308", "0.30000000000000004", "1e20",
            "-1e-7", "1E2",
        ])
        .prop_map(str::to_string),
        10 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
        // Beyond a double: invalid JSON to serde_json, the payload is invalid.
        1 => Just("1e400".to_string()),
    ]
}

fn number() -> impl Strategy<Value = String> + Clone {
    prop_oneof![int_literal(), float_literal()]
}

fn scalar() -> impl Strategy<Value = J> + Clone {
    prop_oneof![
        number().prop_map(J::Num),
        short_string().prop_map(J::Str),
        any::<bool>().prop_map(J::Bool),
    ]
}

fn shallow_json() -> impl Strategy<Value = J> + Clone {
    let leaf = prop_oneof![
        1 => Just(J::Null),
        6 => scalar(),
        1 => string().prop_map(J::Str),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(J::Arr),
            proptest::collection::vec((short_string(), inner), 0..3).prop_map(J::Obj),
        ]
    })
}

/// Around the 16-level limit and beyond, up to 40 levels.
fn deep_json() -> impl Strategy<Value = J> + Clone {
    (1usize..=40, scalar(), short_string()).prop_map(|(depth, leaf, key)| {
        (0..depth).fold(leaf, |v, i| {
            if i % 2 == 0 {
                J::Arr(vec![v])
            } else {
                J::Obj(vec![(key.clone(), v)])
            }
        })
    })
}

fn json_value() -> impl Strategy<Value = J> + Clone {
    prop_oneof![30 => shallow_json(), 1 => deep_json()]
}

fn value_of(ty: FieldType) -> BoxedStrategy<J> {
    let typed = match ty {
        FieldType::Text => string().prop_map(J::Str).boxed(),
        FieldType::Integer => prop_oneof![4 => int_literal(), 1 => float_literal()]
            .prop_map(J::Num)
            .boxed(),
        FieldType::Real => number().prop_map(J::Num).boxed(),
        FieldType::Boolean => any::<bool>().prop_map(J::Bool).boxed(),
        FieldType::Json => json_value().boxed(),
    };
    prop_oneof![30 => typed, 2 => Just(J::Null), 1 => scalar()].boxed()
}

// ---------------------------------------------------------------- schemas

#[derive(Debug, Clone)]
struct Collection {
    name: &'static str,
    key: &'static str,
    fields: Vec<(&'static str, FieldType)>,
}

impl Collection {
    fn key_type(&self) -> FieldType {
        self.fields[0].1
    }
}

const COLLECTIONS: &[&str] = &["items", "__proto__", "constructor", "toString"];
const FIELDS: &[&str] = &["f", "g", "valueOf", "constructor", "é", "toString"];
const TYPES: &[FieldType] = &[
    FieldType::Text,
    FieldType::Integer,
    FieldType::Real,
    FieldType::Boolean,
    FieldType::Json,
];

fn collection(name: &'static str) -> impl Strategy<Value = Collection> {
    (
        select(vec!["id", "key", "__proto__"]),
        select(vec![FieldType::Text, FieldType::Integer]),
        subsequence(FIELDS, 0..=4).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(select(TYPES), n))
        }),
    )
        .prop_map(move |(key, key_type, (names, types))| {
            let mut fields = vec![(key, key_type)];
            fields.extend(names.into_iter().zip(types).filter(|(f, _)| *f != key));
            Collection { name, key, fields }
        })
}

fn schema() -> impl Strategy<Value = Vec<Collection>> {
    subsequence(COLLECTIONS, 1..=2).prop_flat_map(|names| names.into_iter().map(collection).collect::<Vec<_>>())
}

fn schema_json(collections: &[Collection]) -> Schema {
    let map: serde_json::Map<String, Value> = collections
        .iter()
        .map(|c| {
            let fields: serde_json::Map<String, Value> = c
                .fields
                .iter()
                .map(|(f, t)| ((*f).to_string(), serde_json::to_value(t).unwrap()))
                .collect();
            (c.name.to_string(), json!({ "key": c.key, "fields": fields }))
        })
        .collect();
    serde_json::from_value(Value::Object(map)).expect("a valid schema")
}

// ---------------------------------------------------------------- operations

fn key_of(c: &Collection) -> BoxedStrategy<J> {
    let typed = match c.key_type() {
        FieldType::Text => short_string().prop_map(J::Str).boxed(),
        _ => prop_oneof![8 => (-3i64..=3).prop_map(|i| J::Num(i.to_string())), 1 => number().prop_map(J::Num)].boxed(),
    };
    prop_oneof![20 => typed, 1 => scalar()].boxed()
}

fn row_of(c: &Collection, with_key: bool) -> BoxedStrategy<Vec<(String, J)>> {
    let others: Vec<(&'static str, FieldType)> = c.fields[1..].to_vec();
    let n = others.len();
    let key = key_of(c);
    let name = c.key;
    (
        subsequence(others, 0..=n).prop_flat_map(|fields| {
            fields
                .into_iter()
                .map(|(f, t)| value_of(t).prop_map(move |v| (f.to_string(), v)))
                .collect::<Vec<_>>()
        }),
        prop_oneof![20 => key.prop_map(Some), 1 => Just(None)],
    )
        .prop_map(move |(mut fields, key)| {
            if let (true, Some(k)) = (with_key, key) {
                fields.insert(0, (name.to_string(), k));
            }
            fields
        })
        .boxed()
}

fn filter_of(c: &Collection) -> BoxedStrategy<J> {
    let known: Vec<&'static str> = c.fields.iter().map(|(f, _)| *f).collect();
    // Now and then a field the schema does not have (unknown_field).
    let fields = prop_oneof![30 => select(known), 1 => Just("missing")];
    let leaf = prop_oneof![
        6 => (
            select(vec!["eq", "ne", "lt", "lte", "gt", "gte"]),
            fields.clone(),
            prop_oneof![20 => scalar(), 1 => Just(J::Null), 1 => Just(J::Arr(vec![]))],
        )
            .prop_map(|(op, f, v)| obj([("op", s(op)), ("field", s(f)), ("value", v)])),
        1 => (fields.clone(), proptest::collection::vec(scalar(), 0..3))
            .prop_map(|(f, vs)| obj([("op", s("in")), ("field", s(f)), ("values", J::Arr(vs))])),
        1 => fields.prop_map(|f| obj([("op", s("is_null")), ("field", s(f))])),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            (
                select(vec!["and", "or"]),
                proptest::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(op, fs)| obj([("op", s(op)), ("filters", J::Arr(fs))])),
            inner.prop_map(|f| obj([("op", s("not")), ("filter", f)])),
        ]
    })
    .boxed()
}

fn operation(c: Collection, collection_name: J) -> BoxedStrategy<J> {
    let head = move |op: &str| {
        vec![
            ("op".to_string(), s(op)),
            ("collection".to_string(), collection_name.clone()),
        ]
    };
    let key = J::Str(c.key.to_string());
    let with_key = move |mut entries: Vec<(String, J)>| {
        entries.push(("key".to_string(), key.clone()));
        J::Obj(entries)
    };
    let (h1, h2, h3, h4, h5) = (head.clone(), head.clone(), head.clone(), head.clone(), head);
    let (k1, k2, k3, k4, k5) = (
        with_key.clone(),
        with_key.clone(),
        with_key.clone(),
        with_key.clone(),
        with_key,
    );
    prop_oneof![
        4 => row_of(&c, true).prop_map(move |row| {
            let mut e = h1("create");
            e.push(("row".into(), J::Obj(row)));
            k1(e)
        }),
        2 => (key_of(&c), row_of(&c, false)).prop_map(move |(id, patch)| {
            let mut e = h2("update_by_id");
            e.extend([("id".into(), id), ("patch".into(), J::Obj(patch))]);
            k2(e)
        }),
        1 => key_of(&c).prop_map(move |id| {
            let mut e = h3("destroy_by_id");
            e.push(("id".into(), id));
            k3(e)
        }),
        2 => (filter_of(&c), row_of(&c, false)).prop_map(move |(filter, patch)| {
            let mut e = h4("update_where");
            e.extend([("filter".into(), filter), ("patch".into(), J::Obj(patch))]);
            k4(e)
        }),
        1 => filter_of(&c).prop_map(move |filter| {
            let mut e = h5("destroy_where");
            e.push(("filter".into(), filter));
            k5(e)
        }),
    ]
    .boxed()
}

fn operations(schema: &[Collection]) -> BoxedStrategy<J> {
    let mut choices: Vec<(u32, BoxedStrategy<J>)> =
        schema.iter().map(|c| (10, operation(c.clone(), s(c.name)))).collect();
    // An unknown collection (shaped like the first).
    choices.push((1, operation(schema[0].clone(), s("prototype"))));
    proptest::collection::vec(proptest::strategy::Union::new_weighted(choices), 1..4)
        .prop_map(J::Arr)
        .boxed()
}

fn event(schema: &[Collection]) -> BoxedStrategy<Event> {
    let apply = |ops: J| json!({ "json": ops.text() });
    prop_oneof![
        16 => operations(schema).prop_map(move |ops| Event::new("conformance/apply_json", apply(ops))),
        1 => (operations(schema), short_string()).prop_map(move |(ops, t)| Event::new(format!("conformance/apply_json{t}"), apply(ops))),
        1 => (operations(schema), json_value()).prop_map(move |(ops, extra)| {
            let extra = as_js(serde_json::from_str(&extra.text()).unwrap_or(Value::Null));
            let mut payload = apply(ops);
            payload["extra"] = extra.clone();
            Event::new("conformance/apply_json", payload).with_meta(json!({ "m": extra }))
        }),
    ]
    .boxed()
}

/// `value` as JavaScript's `JSON.parse` holds it: every number a double. An
/// event object in JS cannot carry `18446744073709551615` (only inside the
/// `json` text of `apply_json`, which the reducer parses in Rust).
fn as_js(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, |n| canonical(&Value::Number(n)).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(as_js).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, as_js(v))).collect()),
        other => other,
    }
}

fn case() -> impl Strategy<Value = Scenario> {
    schema().prop_flat_map(|collections| {
        let schema = schema_json(&collections);
        proptest::collection::vec(event(&collections), 1..10).prop_map(move |events| Scenario {
            description: "differential fuzzer case".into(),
            schema: schema.clone(),
            initial: Default::default(),
            events: events.into_iter().map(ScenarioEvent::from).collect(),
        })
    })
}

// ---------------------------------------------------------------- appliers

/// `CREATE TABLE`s for the fuzzer: as `testing::create_tables`, but MariaDB
/// text that is no key is `LONGTEXT` (strings up to 200 KB).
fn create_tables(dialect: Dialect, schema: &Schema) -> Vec<String> {
    flux_capacitor_server::testing::create_tables(dialect, schema)
        .into_iter()
        .map(|sql| match dialect {
            Dialect::MySql => sql.replace(" TEXT COLLATE utf8mb4_bin", " LONGTEXT COLLATE utf8mb4_bin"),
            _ => sql,
        })
        .collect()
}

async fn on_store(dialect: Dialect, scenario: &Scenario) -> Snapshot {
    let db = TestDb::new(dialect).await;
    let pool = db.pool().await;
    for statement in create_tables(dialect, &scenario.schema) {
        execute(&pool, &statement).await;
    }
    let store = conformance_store(&db).await;
    let mut results = Vec::new();
    for event in &scenario.events {
        results.push(match store.dispatch(event.event.clone()).await {
            Ok(_) => "ok".to_string(),
            Err(err) => err.kind().to_string(),
        });
    }
    let state = store.snapshot().await.expect("snapshot");
    drop(store);
    pool.close().await;
    db.drop_db().await;
    Snapshot { results, state }
}

/// The node process running `js/fuzz/appliers.mjs`, one scenario a line.
struct Node {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    fn start() -> Node {
        let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../js");
        for needed in ["pkg-conformance/nodejs", "node_modules/mobx"] {
            assert!(
                js.join(needed).exists(),
                "js/{needed} is missing: run scripts/ci/differential.sh (it builds the wasm package and runs npm ci)"
            );
        }
        let mut child = Command::new("node")
            .arg("fuzz/appliers.mjs")
            .current_dir(&js)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node on PATH");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Node { child, stdin, stdout }
    }

    /// (reduxify, MobX) outcomes of `scenario`.
    fn run(&mut self, scenario: &Scenario) -> (Snapshot, Snapshot) {
        let line = serde_json::to_string(scenario).expect("scenario as JSON");
        writeln!(self.stdin, "{line}").expect("write to node");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read from node");
        let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("node answered {answer:?}: {e}"));
        let snapshot = |v: &Value| Snapshot {
            results: serde_json::from_value(v["results"].clone()).expect("results"),
            // JSON text has one number type: read JS numbers in canonical form.
            state: canonical(&v["state"]).into_owned(),
        };
        (snapshot(&answer["redux"]), snapshot(&answer["mobx"]))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scenario` on every applier; a message naming each that differs
/// from the reference.
fn differences(rt: &tokio::runtime::Runtime, node: &Mutex<Node>, scenario: &Scenario) -> Option<String> {
    let reference = run_scenario(&conformance::reducer(), scenario).expect("a case has no initial state to refuse");
    let mut outcomes: Vec<(String, Snapshot)> = rt.block_on(async {
        let runs = BACKENDS
            .iter()
            .map(|&dialect| async move { (format!("{dialect:?}"), on_store(dialect, scenario).await) });
        futures::future::join_all(runs).await
    });
    let (redux, mobx) = node.lock().unwrap().run(scenario);
    outcomes.push(("wasm + reduxify".into(), redux));
    outcomes.push(("wasm + MobX".into(), mobx));
    let pretty = |s: &Snapshot| serde_json::to_string(s).unwrap();
    let mut message = String::new();
    for (applier, got) in &outcomes {
        if got != &reference {
            let _ = writeln!(message, "{applier}: {}", pretty(got));
        }
    }
    (!message.is_empty()).then(|| format!("reference: {}\n{message}", pretty(&reference)))
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
#[ignore = "needs the conformance wasm package and js/node_modules: scripts/ci/differential.sh"]
fn all_six_appliers_agree_on_random_changesets() {
    let cases = env_number("FUZZ_CASES", 40) as u32;
    let seed = env_number("FUZZ_SEED", 10);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let node = Mutex::new(Node::start());
    let result = runner.run(&case(), |scenario| match differences(&rt, &node, &scenario) {
        None => Ok(()),
        Some(message) => Err(TestCaseError::fail(message)),
    });
    if let Err(err) = result {
        let (message, scenario) = match &err {
            TestError::Fail(message, scenario) => (message.to_string(), Some(scenario)),
            TestError::Abort(message) => (message.to_string(), None),
        };
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/differential-failure.json");
        if let Some(scenario) = scenario {
            let text = serde_json::to_string_pretty(scenario).expect("scenario as JSON");
            std::fs::write(&path, text + "\n").expect("write the failing scenario");
        }
        panic!(
            "the appliers disagree (seed {seed}); the shrunk scenario is in {}:\n{message}",
            path.display()
        );
    }
}
