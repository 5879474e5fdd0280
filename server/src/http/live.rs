//! `GET /events/live`: committed events over a WebSocket.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use flux_capacitor::StoredEvent;
use futures::StreamExt;

use super::AppState;
use super::extract::{EventParams, LiveParams, QueryCaller};
use crate::{Context, SubscriptionItem};

/// Upgrades to a WebSocket fed by [`Store::subscribe_from`](crate::Store::subscribe_from)
/// (`after` given) or [`Store::subscribe`](crate::Store::subscribe). Parameters
/// and credentials are checked before the upgrade, so a refused client gets a
/// plain 400 or 401.
pub(crate) async fn live(
    upgrade: WebSocketUpgrade,
    State(app): State<AppState>,
    LiveParams(params): LiveParams,
    QueryCaller(ctx): QueryCaller,
) -> Response {
    upgrade.on_upgrade(move |socket| feed(app, ctx, params, socket))
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
