//! Sagas on SQLite, PostgreSQL and MariaDB, in one process: each step's
//! position, state, dispatches, effects and timers are written once; effects
//! run with their idempotency key and come back as `<effect>/done`; failing
//! ones are parked and retried; a stale runner writes nothing; two
//! instances never run one saga at once, and one takes over when the other
//! dies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, StoredEvent};
use flux_capacitor_server::testing::sagas::{
    events_of, orders_saga, placed, quick_saga_config, saga_state, wait_until,
};
use flux_capacitor_server::testing::{TestDb, count, execute, for_each_backend, test_config};
use flux_capacitor_server::{Effect, SagaAction, SagaConfig, Store, StoreBuilder, StoreError, effect_fn, saga_fn};
use serde_json::{Value, json};

/// Keys each effect call got, in order.
type Calls = Arc<Mutex<Vec<String>>>;

fn charge(calls: Calls) -> impl Effect {
    effect_fn(move |key, input| {
        let calls = calls.clone();
        async move {
            calls.lock().unwrap().push(key);
            Ok(json!({ "charged": input["id"] }))
        }
    })
}

fn builder() -> StoreBuilder {
    Store::builder(conformance::reducer())
        .config(test_config())
        .saga_config(quick_saga_config())
}

async fn open(db: &TestDb, builder: StoreBuilder) -> Store {
    builder.open(db.pool().await).await.expect("open store")
}

fn ids(events: &[StoredEvent]) -> Vec<u64> {
    let mut ids: Vec<u64> = events.iter().filter_map(|e| e.payload["id"].as_u64()).collect();
    ids.sort();
    ids
}

const WAIT: Duration = Duration::from_secs(20);

async fn steps_effects_and_timers_happen_once(db: TestDb) {
    let calls = Calls::default();
    let store = open(
        &db,
        builder().saga(orders_saga()).effect("charge", charge(calls.clone())),
    )
    .await;
    // Before the saga starts: it starts at seq 0, so these count too.
    store.dispatch_all((1..=3).map(placed).collect()).await.unwrap();
    let runner = store.run_sagas();
    for n in 4..=10 {
        store.dispatch(placed(n)).await.unwrap();
    }
    wait_until(WAIT, "every order charged and reminded", || async {
        events_of(&store, "charge/done").await.len() == 10 && events_of(&store, "order/reminder").await.len() == 2
    })
    .await;
    wait_until(WAIT, "the saga to catch up", || async {
        store.sagas().await.unwrap()[0].lag == 0
    })
    .await;
    let confirmed = events_of(&store, "order/confirmed").await;
    assert_eq!(ids(&confirmed), (1..=10).collect::<Vec<_>>());
    assert!(confirmed.iter().all(|e| e.meta.as_ref().unwrap()["saga"] == "orders"));
    assert_eq!(ids(&events_of(&store, "order/reminder").await), [5, 10]);
    let done = events_of(&store, "charge/done").await;
    let mut keys: Vec<String> = done
        .iter()
        .map(|e| e.payload["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    let mut called = calls.lock().unwrap().clone();
    called.sort();
    assert_eq!(keys, called, "each effect ran once here, its key in its result");
    assert!(done.iter().all(|e| e.payload["output"]["charged"].is_u64()));
    // Each key is `saga:seq:index` of the `order/placed` that asked for it.
    let placed_seqs: Vec<u64> = events_of(&store, "order/placed").await.iter().map(|e| e.seq).collect();
    for seq in placed_seqs {
        assert!(keys.contains(&format!("orders:{seq}:1")), "no effect for seq {seq}");
    }
    runner.stop().await;
    let info = &store.sagas().await.unwrap()[0];
    assert_eq!(
        (info.name.as_str(), info.lag, info.pending_effects, info.timers),
        ("orders", 0, 0, 0)
    );
    assert_eq!(info.holder, None, "stop releases the lease");
    assert_eq!(count(store.pool(), "flux_saga_effects").await, 0);

    // The state was written with the position: a new runner goes on from it.
    let store = open(
        &db,
        builder().saga(orders_saga()).effect("charge", charge(calls.clone())),
    )
    .await;
    let runner = store.run_sagas();
    store.dispatch(placed(11)).await.unwrap();
    wait_until(WAIT, "order 11 charged", || async {
        events_of(&store, "charge/done").await.len() == 11
    })
    .await;
    wait_until(WAIT, "the saga to handle it", || async {
        store.sagas().await.unwrap()[0].lag == 0
    })
    .await;
    runner.stop().await;
    assert_eq!(events_of(&store, "order/confirmed").await.len(), 11);
    let row = saga_state(&store, "orders").await;
    assert_eq!(row, json!({ "placed": 11, "charged": 11 }));
}

#[tokio::test]
async fn sagas_write_each_step_once() {
    for_each_backend(steps_effects_and_timers_happen_once).await;
}

async fn failing_effects_park_and_retry(db: TestDb) {
    let fail = Arc::new(AtomicBool::new(true));
    let attempts = Calls::default();
    let effect = {
        let (fail, attempts) = (fail.clone(), attempts.clone());
        effect_fn(move |key, _input| {
            let (fail, attempts) = (fail.clone(), attempts.clone());
            async move {
                attempts.lock().unwrap().push(key);
                if fail.load(Ordering::SeqCst) {
                    Err("the payment service said no (internal detail)".into())
                } else {
                    Ok(Value::Null)
                }
            }
        })
    };
    let store = open(&db, builder().saga(orders_saga()).effect("charge", effect)).await;
    let runner = store.run_sagas();
    store.dispatch(placed(1)).await.unwrap();
    wait_until(WAIT, "the effect parked", || async {
        store.sagas().await.unwrap()[0].parked_effects == 1
    })
    .await;
    let parked = store.parked_effects().await.unwrap();
    assert_eq!(parked.len(), 1);
    let key = parked[0].key.clone();
    assert_eq!((parked[0].effect.as_str(), parked[0].attempts), ("charge", 3));
    assert_eq!(parked[0].input, json!({ "id": 1 }));
    assert!(parked[0].last_error.as_deref().unwrap().contains("said no"));
    assert_eq!(
        *attempts.lock().unwrap(),
        vec![key.clone(); 3],
        "three attempts, one key"
    );
    let info = &store.sagas().await.unwrap()[0];
    assert_eq!(info.pending_effects, 0);
    assert_eq!(info.failing.as_deref(), Some("effect `charge` parked"));
    // Parked: no more attempts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(attempts.lock().unwrap().len(), 3);
    assert!(events_of(&store, "charge/done").await.is_empty());

    // The HTTP view names the effect, not the error.
    let router = flux_capacitor_server::http::app(store.clone(), Default::default());
    let (status, body) = get(router, "/sagas").await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["failing"], true);
    assert_eq!(body[0]["parked_effects"], 1);
    assert!(!body.to_string().contains("said no"), "{body}");
    assert!(body[0]["reason"].as_str().unwrap().contains("charge"), "{body}");

    let err = store.retry_effect("orders:999:0").await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchParkedEffect { .. }), "{err}");
    assert_eq!(err.kind(), "no_such_parked_effect");
    fail.store(false, Ordering::SeqCst);
    // Through the CLI, as an operator would.
    let (ok, out, _) = cli(&db.url, &["sagas", "parked"]);
    assert!(ok);
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (line["key"].as_str(), line["effect"].as_str()),
        (Some(key.as_str()), Some("charge"))
    );
    let (ok, _, err) = cli(&db.url, &["sagas", "retry", "orders:999:0"]);
    assert!(!ok && err.contains("orders:999:0"), "{err}");
    let (ok, out, err) = cli(&db.url, &["sagas", "retry", &key]);
    assert!(ok, "{err}");
    assert!(out.contains(&key));
    wait_until(WAIT, "the retried effect done", || async {
        events_of(&store, "charge/done").await.len() == 1
    })
    .await;
    assert_eq!(attempts.lock().unwrap().len(), 4);
    assert!(store.parked_effects().await.unwrap().is_empty());
    runner.stop().await;
}

/// Runs the `flux-capacitor` binary on `url`: success, stdout, stderr.
fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flux-capacitor"))
        .args(["--database", url])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run flux-capacitor");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

async fn get(router: axum::Router, uri: &str) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn failing_effects_are_parked_and_retried() {
    for_each_backend(failing_effects_park_and_retry).await;
}

async fn unknown_effect_stops_the_saga(db: TestDb) {
    let saga = saga_fn("mailer", |state, event: &StoredEvent| {
        Ok(match event.event_type.as_str() {
            "user/joined" => (
                state,
                vec![SagaAction::Effect {
                    name: "send_mail".into(),
                    input: Value::Null,
                }],
            ),
            _ => (state, Vec::new()),
        })
    });
    let store = open(&db, builder().saga(saga)).await;
    let runner = store.run_sagas();
    store.dispatch(Event::new("other", json!({}))).await.unwrap();
    store.dispatch(Event::new("user/joined", json!({}))).await.unwrap();
    wait_until(WAIT, "the saga failing", || async {
        store.sagas().await.unwrap()[0].failing.is_some()
    })
    .await;
    let info = &store.sagas().await.unwrap()[0];
    assert_eq!(info.failing.as_deref(), Some("no effect `send_mail` at seq 2"));
    // It stops before the event: nothing of the step is written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let info = &store.sagas().await.unwrap()[0];
    assert!(info.position <= 1, "{info:?}");
    assert_eq!(info.pending_effects, 0);
    runner.stop().await;
}

#[tokio::test]
async fn an_unknown_effect_is_a_typed_error() {
    for_each_backend(unknown_effect_stops_the_saga).await;
}

async fn a_new_saga_may_start_at_the_head(db: TestDb) {
    let seen = Calls::default();
    let saga = {
        let seen = seen.clone();
        saga_fn("late", move |state, event: &StoredEvent| {
            seen.lock().unwrap().push(event.event_type.clone());
            Ok((state, Vec::new()))
        })
        .starts_at_head()
    };
    let store = open(&db, builder().saga(saga)).await;
    store.dispatch(Event::new("before", json!({}))).await.unwrap();
    let runner = store.run_sagas();
    wait_until(WAIT, "the saga's row", || async {
        store.sagas().await.unwrap()[0].holder.is_some()
    })
    .await;
    store.dispatch(Event::new("after", json!({}))).await.unwrap();
    wait_until(WAIT, "the event handled", || async { seen.lock().unwrap().len() == 1 }).await;
    runner.stop().await;
    assert_eq!(*seen.lock().unwrap(), ["after"]);
    // Steps without actions were written on stop.
    assert_eq!(store.sagas().await.unwrap()[0].position, 2);
}

#[tokio::test]
async fn starts_at_head_skips_the_past() {
    for_each_backend(a_new_saga_may_start_at_the_head).await;
}

/// Two instances with one saga: its effects never run on both at once,
/// each order is confirmed once; when the lease holder dies (its runner
/// aborted) the other takes over and finishes.
async fn one_instance_at_a_time(db: TestDb) {
    let active = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let calls = Calls::default();
    let effect = || {
        let (active, overlaps, calls) = (active.clone(), overlaps.clone(), calls.clone());
        effect_fn(move |key, _input| {
            let (active, overlaps, calls) = (active.clone(), overlaps.clone(), calls.clone());
            async move {
                if active.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                calls.lock().unwrap().push(key);
                tokio::time::sleep(Duration::from_millis(10)).await;
                active.fetch_sub(1, Ordering::SeqCst);
                Ok(Value::Null)
            }
        })
    };
    // A lease long enough that a renewal late under load does not hand it over.
    let config = SagaConfig {
        lease_ttl: Duration::from_secs(3),
        ..quick_saga_config()
    };
    let builder = || builder().saga_config(config.clone()).saga(orders_saga());
    let a = open(&db, builder().effect("charge", effect())).await;
    let b = open(&db, builder().effect("charge", effect())).await;
    let runner_a = a.run_sagas();
    let runner_b = b.run_sagas();
    wait_until(WAIT, "one instance taking the lease", || async {
        a.sagas().await.unwrap()[0].holder.is_some()
    })
    .await;
    let mut holders = BTreeMap::<String, usize>::new();
    for n in 1..=20 {
        let store = if n % 2 == 0 { &a } else { &b };
        store.dispatch(placed(n)).await.unwrap();
        if let Some(holder) = a.sagas().await.unwrap()[0].holder.clone() {
            *holders.entry(holder).or_default() += 1;
        }
    }
    wait_until(WAIT, "twenty orders charged", || async {
        events_of(&a, "charge/done").await.len() == 20
    })
    .await;
    let holder = a.sagas().await.unwrap()[0].holder.clone().expect("held");
    assert!(holder == runner_a.holder() || holder == runner_b.holder());
    assert_eq!(holders.len(), 1, "the lease stayed with one instance: {holders:?}");
    // The holder dies: the other takes over once the lease expires.
    let (survivor, dead) = if holder == runner_a.holder() {
        (runner_b, runner_a)
    } else {
        (runner_a, runner_b)
    };
    drop(dead);
    for n in 21..=30 {
        a.dispatch(placed(n)).await.unwrap();
    }
    wait_until(WAIT, "thirty orders charged and six reminders", || async {
        events_of(&a, "charge/done").await.len() == 30 && events_of(&a, "order/reminder").await.len() == 6
    })
    .await;
    assert_eq!(a.sagas().await.unwrap()[0].holder.as_deref(), Some(survivor.holder()));
    survivor.stop().await;
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "effects ran on two instances at once"
    );
    assert_eq!(
        ids(&events_of(&a, "order/confirmed").await),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(events_of(&a, "order/reminder").await.len(), 6);
    let mut called = calls.lock().unwrap().clone();
    called.sort();
    called.dedup();
    assert_eq!(called.len(), 30);
}

#[tokio::test]
async fn two_instances_never_run_one_saga_at_once() {
    for_each_backend(one_instance_at_a_time).await;
}

/// A runner whose lease was taken (its instance paused past the lease)
/// writes nothing: its step is stale. Once the lease is free again it
/// takes it back and does the step once.
async fn a_stale_runner_writes_nothing(db: TestDb) {
    let calls = Calls::default();
    let store = open(
        &db,
        builder().saga(orders_saga()).effect("charge", charge(calls.clone())),
    )
    .await;
    let runner = store.run_sagas();
    wait_until(WAIT, "the lease taken", || async {
        store.sagas().await.unwrap()[0].holder.is_some()
    })
    .await;
    let far = chrono::Utc::now().timestamp_millis() + 60_000;
    execute(
        store.pool(),
        &format!("UPDATE flux_sagas SET holder = 'intruder', lease_until = {far} WHERE name = 'orders'"),
    )
    .await;
    store.dispatch(placed(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(events_of(&store, "order/confirmed").await.is_empty());
    assert_eq!(count(store.pool(), "flux_saga_effects").await, 0);
    let info = &store.sagas().await.unwrap()[0];
    assert_eq!((info.holder.as_deref(), info.position), (Some("intruder"), 0));

    execute(
        store.pool(),
        "UPDATE flux_sagas SET lease_until = 0 WHERE name = 'orders'",
    )
    .await;
    wait_until(WAIT, "the order charged", || async {
        events_of(&store, "charge/done").await.len() == 1
    })
    .await;
    runner.stop().await;
    assert_eq!(events_of(&store, "order/confirmed").await.len(), 1);
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stale_runner_is_refused() {
    for_each_backend(a_stale_runner_writes_nothing).await;
}

/// A handler that panics fails its step, as an error does: the saga stays
/// at the event before, says it is failing, and goes on once it is fixed
/// (here: once the flag lets it pass).
async fn a_panicking_handler_fails_its_step(db: TestDb) {
    let broken = Arc::new(AtomicBool::new(true));
    let saga = {
        let broken = broken.clone();
        saga_fn("fragile", move |state, event: &StoredEvent| {
            if event.event_type != "poison" {
                return Ok((state, Vec::new()));
            }
            assert!(!broken.load(Ordering::SeqCst), "cannot handle poison");
            Ok((state, vec![SagaAction::Dispatch(Event::new("handled", json!({})))]))
        })
    };
    let store = open(&db, builder().saga(saga)).await;
    let runner = store.run_sagas();
    store.dispatch(Event::new("poison", json!({}))).await.unwrap();
    wait_until(WAIT, "the saga failing", || async {
        store.sagas().await.unwrap()[0].failing.as_deref() == Some("step failed at seq 1")
    })
    .await;
    assert!(events_of(&store, "handled").await.is_empty());
    broken.store(false, Ordering::SeqCst);
    wait_until(WAIT, "the saga going on", || async {
        store.sagas().await.unwrap()[0].lag == 0
    })
    .await;
    runner.stop().await;
    assert_eq!(events_of(&store, "handled").await.len(), 1);
    assert_eq!(store.sagas().await.unwrap()[0].failing, None);
}

#[tokio::test]
async fn a_panicking_handler_is_a_failed_step() {
    for_each_backend(a_panicking_handler_fails_its_step).await;
}
