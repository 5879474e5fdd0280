//! [`StoreError`]: what went wrong, and where.

use std::fmt;

use flux_capacitor::Error as CoreError;

/// Which event of a dispatch failed: its position in the batch and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAt {
    /// Position in the dispatched batch, from 0.
    pub index: usize,
    /// The event's `type`.
    pub event_type: String,
}

impl fmt::Display for EventAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event #{} `{}`", self.index, self.event_type)
    }
}

/// Which operation of an event's changeset failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationAt {
    /// Position in the changeset, from 0.
    pub index: usize,
    /// The operation's wire name: `create`, `update_by_id`, ...
    pub operation: &'static str,
    /// The collection it writes to.
    pub collection: String,
}

impl fmt::Display for OperationAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operation #{} `{}` on `{}`",
            self.index, self.operation, self.collection
        )
    }
}

fn context(event: &Option<EventAt>, operation: &Option<OperationAt>) -> String {
    match (event, operation) {
        (Some(e), Some(o)) => format!(" ({e}, {o})"),
        (Some(e), None) => format!(" ({e})"),
        _ => String::new(),
    }
}

/// Everything a store operation can fail with. Whenever a dispatch fails,
/// nothing of it was written and no subscriber was told.
///
/// [`StoreError::kind`] gives a stable snake_case name; for errors of the core
/// crate (reducer and operation errors) it is the core
/// [`kind`](flux_capacitor::Error::kind), so outcomes compare with
/// `MemoryDatabase`'s on the conformance suite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The event is not a valid Flux Standard Action (empty or non-string
    /// `type`, `payload` neither an object nor null, unknown fields...).
    #[error("event #{index}: invalid event: {reason}")]
    InvalidEvent {
        /// Position in the dispatched batch.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The event's client-chosen [`id`](flux_capacitor::Event::id) is already
    /// in the log for an event with a different `type`, `payload`, `error` or
    /// `meta` (compared in canonical form, without `meta.request_id` and `meta.request_hash`, which
    /// each request sets anew): the id names another event. Nothing was
    /// written. HTTP 409.
    #[error("event #{index}: id {id} is already committed as event {seq} with other content ({reason})")]
    IdConflict {
        /// Position in the dispatched batch.
        index: usize,
        /// The id.
        id: uuid::Uuid,
        /// The `seq` of the event committed with that id.
        seq: u64,
        /// What differs.
        reason: String,
    },
    /// The event's serialized `payload` and `meta` exceed the configured limit.
    #[error("{event}: too large ({size} bytes, the limit is {limit})")]
    EventTooLarge {
        /// The event.
        event: EventAt,
        /// Its serialized size in bytes.
        size: usize,
        /// The configured limit ([`Config::max_event_bytes`](crate::Config::max_event_bytes)).
        limit: usize,
    },
    /// A middleware or command handler refused the dispatch.
    #[error("rejected{}: {reason}", event_type.as_ref().map(|t| format!(" event `{t}`")).unwrap_or_default())]
    Rejected {
        /// The event type at fault, if the rejection names one.
        event_type: Option<String>,
        /// Why.
        reason: String,
    },
    /// The reducer failed on an event (including a reducer's own rejection).
    #[error("{event}: reducer failed: {source}")]
    Reducer {
        /// The event.
        event: EventAt,
        /// The reducer's error.
        source: Box<CoreError>,
    },
    /// An operation of an event's changeset cannot be applied: unknown
    /// collection or field, type mismatch, key change, duplicate key...
    #[error("{event}, {operation}: {source}")]
    Operation {
        /// The event.
        event: EventAt,
        /// The operation.
        operation: OperationAt,
        /// What `MemoryDatabase` would report.
        source: Box<CoreError>,
    },
    /// A read names an unknown collection or field, has an invalid filter,
    /// orders by a `json` field (`invalid_order`) or gives a key of the other
    /// type (`type_mismatch`): the core error of
    /// [`FindOptions::validate`](crate::FindOptions::validate) or
    /// [`check_key`](flux_capacitor::check_key), on every read path.
    #[error("query on `{collection}`: {source}")]
    Query {
        /// The collection read.
        collection: String,
        /// The error.
        source: Box<CoreError>,
    },
    /// No command handler of that name is registered.
    #[error("unknown command `{command}`")]
    UnknownCommand {
        /// The command name.
        command: String,
    },
    /// The database failed (lost connection, constraint, ...). The message
    /// names the event and operation when the failure is theirs.
    #[error("database error{}: {source}", context(event, operation))]
    Database {
        /// The event being written, if known.
        event: Option<EventAt>,
        /// The operation being applied, if known.
        operation: Option<OperationAt>,
        /// The driver's error.
        source: Box<sqlx::Error>,
    },
    /// The dispatch was written in the same transaction as another dispatch
    /// whose failure broke that transaction; nothing of it was written.
    #[error("transaction aborted by another dispatch's failure: {reason}")]
    Aborted {
        /// The other failure, as text.
        reason: String,
    },
    /// The connection was lost while the database committed, and the
    /// database could not be reached since to find out whether it did: the
    /// dispatch may or may not be in the log (look its events up, or resend
    /// it once client-chosen ids make that safe).
    #[error("the commit's outcome is unknown: {reason}")]
    CommitUnknown {
        /// The failure, as text.
        reason: String,
    },
    /// Replaying the log failed: the reducers refuse a stored event (they
    /// changed since it was committed?).
    #[error("replaying event {seq} `{event_type}`: {source}")]
    Replay {
        /// The event's `seq`.
        seq: u64,
        /// Its type.
        event_type: String,
        /// The reducer's or the operation's error.
        source: Box<CoreError>,
    },
    /// A point of the log that cannot be resolved (an invalid time, a `seq`
    /// past the log's head), or an unreadable snapshot.
    #[error("invalid point in time: {reason}")]
    InvalidPoint {
        /// Why.
        reason: String,
    },
    /// [`Store::restore`](crate::Store::restore) found nothing to restore.
    #[error("cannot restore `{id}` of `{collection}`: {reason}")]
    NotRestorable {
        /// The collection.
        collection: String,
        /// The row's key.
        id: String,
        /// Why: it exists, or it never existed.
        reason: String,
    },
    /// The store's writer has stopped (the runtime is shutting down).
    #[error("the store is closed")]
    Closed,
    /// The event log is not there: its table, or the whole database, was
    /// dropped under the running store. Nothing is written meanwhile. The
    /// store goes on by itself once the log is back holding every event it
    /// has published (restored from a backup); a new, empty log is
    /// [`StoreError::LogReplaced`]. Restarting the service starts a new log.
    #[error(
        "the event log is missing (its table, or the database, was dropped under the running store): \
         restore it, or restart the service to start a new log"
    )]
    LogMissing,
    /// The event log ends before the last `seq` this store has already
    /// published: the database was replaced under the running store (dropped
    /// and created again, or restored from an older backup). Writing on
    /// would give new events `seq`s that subscribers have already seen, so
    /// the store refuses every dispatch from then on, and
    /// [`Store::health`](crate::Store::health) says so, until it is opened
    /// again (the service restarted).
    #[error(
        "the event log ends at seq {found}, but this store has published up to seq {published}: \
         the database was replaced under the running store; restart the service"
    )]
    LogReplaced {
        /// The last `seq` this store published.
        published: u64,
        /// The last `seq` of the log it found.
        found: u64,
    },
    /// A segment of the icelog ([`crate::icelog`]) that the manifest lists
    /// is not at its location: the events it holds cannot be read (never a
    /// silently shorter history). HTTP 500.
    #[error("icelog segment `{segment}` is missing from `{location}`")]
    SegmentMissing {
        /// The segment's name.
        segment: String,
        /// Where it should be (the icelog's URL).
        location: String,
    },
    /// A segment of the icelog does not match its manifest entry (checksum,
    /// size, compression, an event that does not decode, a `seq` out of
    /// place). HTTP 500.
    #[error("icelog segment `{segment}` is corrupt: {reason}")]
    SegmentCorrupt {
        /// The segment's name.
        segment: String,
        /// What does not match.
        reason: String,
    },
    /// The icelog cannot be used: no location configured, an invalid URL,
    /// object storage failing, a concurrent freeze. HTTP 500.
    #[error("icelog: {reason}")]
    IceLog {
        /// Why.
        reason: String,
    },
    /// A saga's write found its row changed under it ([`crate::saga`]):
    /// another instance took the saga's lease, or completed the effect or
    /// fired the timer first. Nothing of the write was written; the saga
    /// reads its state again.
    #[error("stale saga write: {what}")]
    Stale {
        /// What was expected (the saga's position and lease, an outbox row, a timer).
        what: String,
    },
    /// A saga asked for a side effect no [`StoreBuilder::effect`](crate::StoreBuilder::effect) registered.
    #[error("no effect named `{effect}` is registered")]
    NoSuchEffect {
        /// The effect's name.
        effect: String,
    },
    /// No parked effect has this key ([`Store::retry_effect`](crate::Store::retry_effect)).
    #[error("no parked effect has the key `{key}`")]
    NoSuchParkedEffect {
        /// The key given.
        key: String,
    },
}

impl StoreError {
    /// A stable snake_case name for the kind of error; the core kind for
    /// reducer, operation and query errors (`duplicate_key`, `unknown_field`...).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::InvalidEvent { .. } => "invalid_event",
            StoreError::IdConflict { .. } => "id_conflict",
            StoreError::EventTooLarge { .. } => "event_too_large",
            StoreError::Rejected { .. } => "rejected",
            StoreError::Reducer { source, .. }
            | StoreError::Operation { source, .. }
            | StoreError::Query { source, .. } => source.kind(),
            StoreError::UnknownCommand { .. } => "unknown_command",
            StoreError::Database { .. } => "database",
            StoreError::Aborted { .. } => "aborted",
            StoreError::CommitUnknown { .. } => "commit_unknown",
            StoreError::Replay { .. } => "replay",
            StoreError::InvalidPoint { .. } => "invalid_point",
            StoreError::NotRestorable { .. } => "not_restorable",
            StoreError::Closed => "closed",
            StoreError::LogMissing => "log_missing",
            StoreError::LogReplaced { .. } => "log_replaced",
            StoreError::SegmentMissing { .. } => "segment_missing",
            StoreError::SegmentCorrupt { .. } => "segment_corrupt",
            StoreError::IceLog { .. } => "icelog",
            StoreError::Stale { .. } => "stale",
            StoreError::NoSuchEffect { .. } => "no_such_effect",
            StoreError::NoSuchParkedEffect { .. } => "no_such_parked_effect",
        }
    }

    /// The core error, for reducer, operation and query errors.
    pub fn core(&self) -> Option<&CoreError> {
        match self {
            StoreError::Reducer { source, .. }
            | StoreError::Operation { source, .. }
            | StoreError::Query { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The failed event, when the error names one.
    pub fn event(&self) -> Option<&EventAt> {
        match self {
            StoreError::EventTooLarge { event, .. }
            | StoreError::Reducer { event, .. }
            | StoreError::Operation { event, .. } => Some(event),
            StoreError::Database { event, .. } => event.as_ref(),
            _ => None,
        }
    }

    /// A rejection, for middleware and command handlers.
    pub fn rejected(event_type: Option<&str>, reason: impl Into<String>) -> Self {
        StoreError::Rejected {
            event_type: event_type.map(Into::into),
            reason: reason.into(),
        }
    }

    pub(crate) fn database(source: sqlx::Error) -> Self {
        StoreError::Database {
            event: None,
            operation: None,
            source: Box::new(source),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(source: sqlx::Error) -> Self {
        StoreError::database(source)
    }
}
