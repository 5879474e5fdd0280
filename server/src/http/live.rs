//! `GET /events/live`: committed events over a WebSocket.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor::StoredEvent;
use futures::StreamExt;

use super::extract::{EventParams, LiveParams, QueryCaller};
use super::{ApiError, AppState};
use crate::{Context, EventQuery, SubscriptionItem};

/// Upgrades to a WebSocket fed by [`Store::subscribe_from`](crate::Store::subscribe_from)
/// (`after` given) or [`Store::subscribe`](crate::Store::subscribe). Parameters
/// and credentials are checked before the upgrade, so a refused client gets a
/// plain 400 or 401.
///
/// An `after` past the log's head is a 400 (`invalid_point`): the feed would
/// otherwise skip every event up to that number when they arrive, silently
/// (a client holding another database's `seq`, or a log that was reset).
pub(crate) async fn live(
    upgrade: WebSocketUpgrade,
    State(app): State<AppState>,
    LiveParams(params): LiveParams,
    QueryCaller(ctx): QueryCaller,
) -> Result<Response, ApiError> {
    if params.after_given {
        check_after(&app, params.after).await?;
    }
    let slot = app
        .live
        .take(ctx.user.as_deref(), app.config.max_live, app.config.max_live_per_user)?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        feed(app, ctx, params, socket).await;
        drop(slot);
    }))
}

/// 400 unless event `after` exists (or is 0). The store's head answers at no
/// cost; only an `after` beyond it asks the log, as another instance may have
/// committed it a moment ago.
async fn check_after(app: &AppState, after: u64) -> Result<(), ApiError> {
    if after <= app.store.head() {
        return Ok(());
    }
    let found = app.store.events(EventQuery::after(after - 1, 1)).await?;
    if found.first().is_some_and(|e| e.seq == after) {
        return Ok(());
    }
    let head = app.store.head();
    Err(ApiError::bad_request(
        "invalid_point",
        format!("`after` {after} is past the log's head ({head}): resume from a `seq` this log gave you, or 0"),
    ))
}

async fn feed(app: AppState, ctx: Context, params: EventParams, mut socket: WebSocket) {
    // `after=0` replays the whole log; no `after` starts at the head.
    let mut subscription = if params.after_given {
        app.store.subscribe_from(params.after)
    } else {
        app.store.subscribe()
    };
    tracing::info!(
        user = ctx.user.as_deref(),
        after = params.after,
        "live: subscriber connected"
    );
    let wanted = |event: &StoredEvent| {
        params
            .types
            .as_ref()
            .is_none_or(|types| types.contains(&event.event_type))
            && app.config.access.may_receive(&ctx, event)
    };
    loop {
        tokio::select! {
            item = subscription.next() => {
                let Some(item) = item else { break };
                let SubscriptionItem::Events(batch) = item else { continue };
                let visible: Vec<&StoredEvent> = batch.iter().filter(|e| wanted(e)).collect();
                if visible.is_empty() {
                    continue;
                }
                let text = match serde_json::to_string(&visible) {
                    Ok(text) => text,
                    Err(err) => {
                        tracing::error!(error = %err, "live: cannot serialize a batch");
                        break;
                    }
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pings are answered by axum.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::info!(user = ctx.user.as_deref(), "live: subscriber left");
}
