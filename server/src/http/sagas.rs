//! `GET /sagas`: each saga's progress, for operators (no authentication,
//! like `/metrics`: names and counts, never inputs or error text).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;

/// One saga in `GET /sagas`.
#[derive(Debug, Serialize)]
pub(crate) struct SagaView {
    name: String,
    position: u64,
    lag: u64,
    pending_effects: u64,
    parked_effects: u64,
    timers: u64,
    /// Whether an instance holds its lease now.
    leased: bool,
    failing: bool,
    /// A short reason naming the effect (no error text).
    reason: Option<String>,
}

/// `GET /sagas`: [`Store::sagas`](crate::Store::sagas), with the parked
/// effects' names as the reason when nothing else is failing.
pub(crate) async fn sagas(State(app): State<AppState>) -> Result<Json<Vec<SagaView>>, ApiError> {
    let sagas = app.store.sagas().await?;
    let mut parked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if sagas.iter().any(|s| s.parked_effects > 0) {
        for effect in app.store.parked_effects().await? {
            let names = parked.entry(effect.saga).or_default();
            if !names.contains(&effect.effect) {
                names.push(effect.effect);
            }
        }
    }
    Ok(Json(
        sagas
            .into_iter()
            .map(|saga| {
                let reason = saga.failing.clone().or_else(|| {
                    parked
                        .get(&saga.name)
                        .map(|names| format!("parked effects: {}", names.join(", ")))
                });
                SagaView {
                    failing: reason.is_some(),
                    reason,
                    leased: saga.holder.is_some(),
                    name: saga.name,
                    position: saga.position,
                    lag: saga.lag,
                    pending_effects: saga.pending_effects,
                    parked_effects: saga.parked_effects,
                    timers: saga.timers,
                }
            })
            .collect(),
    ))
}
