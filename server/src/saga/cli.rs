//! The `sagas` command of an app's CLI: `sagas list`, `sagas parked`,
//! `sagas retry KEY` (output as JSON lines, like the other commands).

use std::io::Write;

use crate::{Store, StoreError};

/// The sagas' commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SagasCommand {
    /// Each saga: position, lag, pending and parked effects, timers, lease holder.
    List,
    /// The effects parked after their last attempt, with their last error.
    Parked,
    /// Queue a parked effect again, by its key (`saga:seq:index`).
    Retry {
        /// The effect's key.
        key: String,
    },
}

/// Runs a [`SagasCommand`] on `store`, writing to `out`.
pub async fn sagas(store: &Store, command: &SagasCommand, out: &mut impl Write) -> Result<(), StoreError> {
    let line = |out: &mut dyn Write, value: &dyn erased::Json| -> Result<(), StoreError> {
        writeln!(out, "{}", value.json())
            .map_err(|e| StoreError::rejected(None, format!("cannot write the output: {e}")))
    };
    match command {
        SagasCommand::List => {
            for saga in store.sagas().await? {
                line(out, &saga)?;
            }
        }
        SagasCommand::Parked => {
            for effect in store.parked_effects().await? {
                line(out, &effect)?;
            }
        }
        SagasCommand::Retry { key } => {
            store.retry_effect(key).await?;
            line(out, &serde_json::json!({ "retried": key }))?;
        }
    }
    out.flush()
        .map_err(|e| StoreError::rejected(None, format!("cannot write the output: {e}")))
}

mod erased {
    /// A value printed as one line of JSON.
    pub trait Json {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        }
    }
}
