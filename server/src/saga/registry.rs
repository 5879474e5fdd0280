//! The sagas and effects of a store, registered on its builder.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{Effect, MAX_NAME_CHARS, Saga, SagaConfig};
use crate::StoreBuilder;

/// What [`StoreBuilder::saga`] and [`StoreBuilder::effect`] registered, and
/// why a saga of this instance is failing now (for [`crate::Store::sagas`]).
#[derive(Default, Clone)]
pub(crate) struct Registry {
    pub sagas: Vec<Arc<dyn Saga>>,
    pub effects: HashMap<String, Arc<dyn Effect>>,
    pub config: SagaConfig,
    /// (saga, part: `steps`, `effects`, `timers`) → a short reason (no
    /// error text: it may hold internals).
    pub failing: Arc<Mutex<BTreeMap<(String, &'static str), String>>>,
}

impl Registry {
    pub fn set_failing(&self, saga: &str, part: &'static str, reason: Option<String>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match reason {
            Some(reason) => failing.insert((saga.to_owned(), part), reason),
            None => failing.remove(&(saga.to_owned(), part)),
        };
    }

    /// Why the saga is failing on this instance, if it is.
    pub fn failing(&self, saga: &str) -> Option<String> {
        let failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        let reasons: Vec<&str> = failing
            .iter()
            .filter(|((name, _), _)| name == saga)
            .map(|(_, reason)| reason.as_str())
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

fn check_name(what: &str, name: &str) {
    assert!(
        !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.contains(':'),
        "{what} name `{name}`: must be 1 to {MAX_NAME_CHARS} characters, without `:`"
    );
}

impl StoreBuilder {
    /// Registers a saga, run by [`Store::run_sagas`](crate::Store::run_sagas).
    ///
    /// # Panics
    /// When another saga has its name, or the name is empty, longer than
    /// [`MAX_NAME_CHARS`] or holds `:` (the outbox keys use it).
    #[must_use]
    pub fn saga(mut self, saga: impl Saga) -> Self {
        check_name("saga", saga.name());
        assert!(
            self.sagas.sagas.iter().all(|s| s.name() != saga.name()),
            "saga `{}` is registered twice",
            saga.name()
        );
        self.sagas.sagas.push(Arc::new(saga));
        self
    }

    /// Registers the side effect `name` for sagas' [`SagaAction::Effect`](super::SagaAction::Effect).
    ///
    /// # Panics
    /// When the name is empty or longer than [`MAX_NAME_CHARS`].
    #[must_use]
    pub fn effect(mut self, name: impl Into<String>, effect: impl Effect) -> Self {
        let name = name.into();
        check_name("effect", &name);
        self.sagas.effects.insert(name, Arc::new(effect));
        self
    }

    /// Replaces how sagas run (default [`SagaConfig::default`]).
    #[must_use]
    pub fn saga_config(mut self, config: SagaConfig) -> Self {
        self.sagas.config = config;
        self
    }
}
