//! Commit notifications between instances: the writer's transaction runs
//! `pg_notify(CHANNEL, head)`, delivered to every listener when it commits;
//! each instance listens on a connection of its own (a one-connection pool
//! beside the store's, so listening never takes a connection the store needs).

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, Pool, Postgres};

use crate::sql::backend::Listener;

/// The notification channel of the store's commits.
pub(crate) const CHANNEL: &str = "flux_events";

/// Queues the notification of `head`; PostgreSQL sends it on commit.
pub(crate) async fn notify(conn: &mut PgConnection, head: u64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(head.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Listens on [`CHANNEL`] with the store's connect options.
pub(crate) async fn listen(pool: &Pool<Postgres>) -> Result<Box<dyn Listener>, sqlx::Error> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pool.connect_options().as_ref().clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(CHANNEL).await?;
    Ok(Box::new(Notifications { listener }))
}

struct Notifications {
    listener: PgListener,
}

#[async_trait]
impl Listener for Notifications {
    async fn next(&mut self) -> Result<Option<u64>, sqlx::Error> {
        loop {
            // `None`: the connection was lost; `try_recv` has reconnected
            // (and listens again) before answering.
            let Some(notification) = self.listener.try_recv().await? else {
                return Ok(None);
            };
            // Another application's payload on the channel is not ours.
            if let Ok(head) = notification.payload().parse() {
                return Ok(Some(head));
            }
        }
    }
}
