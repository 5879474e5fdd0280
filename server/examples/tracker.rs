//! The issue tracker on SQLite, end to end: the user's sqlx migrations create
//! the read model, the store creates its event log, a middleware stamps the
//! user, a command checks a business rule, a subscriber follows along.
//!
//! ```sh
//! cargo run -p flux-capacitor-server --example tracker [sqlite://tracker.db]
//! ```

use std::path::Path;

use async_trait::async_trait;
use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, Filter, StoredEvent};
use flux_capacitor_server::{
    Context, DbPool, FindOptions, Middleware, Next, Store, StoreError, SubscriptionItem, command_fn,
};
use futures::StreamExt;
use serde_json::{Value, json};

/// Records who dispatched each event.
struct StampUser;

#[async_trait]
impl Middleware for StampUser {
    async fn dispatch(
        &self,
        mut events: Vec<Event>,
        ctx: &Context,
        next: Next<'_>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        for event in &mut events {
            event.meta = Some(json!({ "user": ctx.user }));
        }
        next.run(events, ctx).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let default_url = format!("sqlite://{}", dir.path().join("tracker.db").display());
    let url = std::env::args().nth(1).unwrap_or(default_url);

    // 1. The user's migrations (sqlx's migrator; `sqlx::migrate!()` embeds them at compile time).
    let pool = DbPool::connect(&url, 5).await?;
    let DbPool::Sqlite(sqlite) = pool.clone() else {
        return Err("this example's migrations are for SQLite".into());
    };
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/migrations");
    sqlx::migrate::Migrator::new(migrations).await?.run(&sqlite).await?;

    // 2. The store: its own migration (the event log) runs when it opens.
    let store = Store::builder(conformance::reducer())
        .middleware(StampUser)
        .command(
            "fileIssue",
            command_fn(|store: Store, payload: Value, _ctx: Context| async move {
                let author = payload["author"].as_str().unwrap_or_default().to_owned();
                if store.find_by_id("users", author.as_str()).await?.is_none() {
                    return Err(StoreError::rejected(
                        Some("addIssue"),
                        format!("unknown user `{author}`"),
                    ));
                }
                Ok(vec![Event::new("addIssue", payload)])
            }),
        )
        .open(pool)
        .await?;

    let mut feed = store.subscribe();
    let follower = tokio::spawn(async move {
        while let Some(item) = feed.next().await {
            if let SubscriptionItem::Events(events) = item {
                for event in events.iter() {
                    println!(
                        "#{} {} {} {}",
                        event.seq, event.timestamp, event.event_type, event.payload
                    );
                }
            }
        }
    });

    let mary = Context::user("mary");
    let refused = store
        .command(
            "fileIssue",
            json!({ "id": "1", "title": "Leaks", "author": "doc" }),
            &mary,
        )
        .await;
    println!("refused: {}", refused.unwrap_err());
    store
        .dispatch_all_with(
            vec![Event::new("addUser", json!({ "handle": "doc", "name": "Doc Brown" }))],
            &mary,
        )
        .await?;
    store
        .command(
            "fileIssue",
            json!({ "id": "1", "title": "Leaks", "author": "doc" }),
            &mary,
        )
        .await?;
    store.dispatch(Event::new("closeIssue", json!({ "id": "1" }))).await?;

    let closed = store
        .find_all("issues", FindOptions::filter(Filter::eq("closed", true)))
        .await?;
    println!(
        "closed issues: {}",
        Value::Array(closed.into_iter().map(Value::Object).collect())
    );
    // No lock-in: the same table with sqlx.
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM issues ORDER BY id")
        .fetch_all(&sqlite)
        .await?;
    println!("titles via sqlx: {titles:?}");

    drop(store);
    follower.await?;
    Ok(())
}
