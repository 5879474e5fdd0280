//! The one error type of the core crate.

use alloc::string::String;

use crate::Key;

/// Everything that can go wrong while reducing an event or applying a changeset.
///
/// Every message names the collection, id, field or event type at fault.
/// [`Error::kind`] gives a stable snake_case name that the conformance suite
/// compares across backends (Rust, SQL, wasm + JS).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `create` of a row whose key already exists in the collection.
    #[error("collection `{collection}`: a row with id {id} already exists")]
    DuplicateKey {
        /// The collection written to.
        collection: String,
        /// The key that is already taken.
        id: Key,
    },
    /// A created row has no key field (or it is null).
    #[error("collection `{collection}`: the row has no key field `{key}`")]
    MissingKey {
        /// The collection written to.
        collection: String,
        /// The name of the key field.
        key: String,
    },
    /// A key that is neither a string nor an integer.
    #[error("collection `{collection}`: key field `{key}` must be a string or an integer, got {value}")]
    InvalidKey {
        /// The collection written to.
        collection: String,
        /// The name of the key field.
        key: String,
        /// The offending value, as JSON.
        value: String,
    },
    /// A patch tries to change a row's key.
    #[error("collection `{collection}`: the key field `{key}` cannot be changed by an update")]
    KeyChange {
        /// The collection written to.
        collection: String,
        /// The name of the key field.
        key: String,
    },
    /// The collection is not in the schema.
    #[error("unknown collection `{collection}`")]
    UnknownCollection {
        /// The collection name that was not found.
        collection: String,
    },
    /// A field (in a row, a patch or a filter) is not in the collection's schema.
    #[error("collection `{collection}`: unknown field `{field}`")]
    UnknownField {
        /// The collection.
        collection: String,
        /// The field that is not in the schema.
        field: String,
    },
    /// A value does not fit its field's declared type.
    #[error("collection `{collection}`: field `{field}` expects {expected}, got {value}")]
    TypeMismatch {
        /// The collection.
        collection: String,
        /// The field.
        field: String,
        /// The declared type of the field.
        expected: &'static str,
        /// The offending value, as JSON.
        value: String,
    },
    /// The changeset names a key field other than the one the collection uses.
    #[error("collection `{collection}`: the key field is `{expected}`, the changeset uses `{found}`")]
    KeyFieldMismatch {
        /// The collection.
        collection: String,
        /// The key field of the collection's schema.
        expected: String,
        /// The key field named by the changeset.
        found: String,
    },
    /// A filter that cannot be evaluated (e.g. compares with `null` or an array).
    #[error("invalid filter on field `{field}`: {reason}")]
    InvalidFilter {
        /// The field of the offending comparison.
        field: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A read orders by a field that has no portable order (a `json` field).
    #[error("collection `{collection}`: cannot order by json field `{field}`")]
    InvalidOrder {
        /// The collection read.
        collection: String,
        /// The field.
        field: String,
    },
    /// An event whose type a reducer knows, but whose payload does not decode.
    #[error("event `{event_type}`: invalid payload: {message}")]
    InvalidPayload {
        /// The event's `type`.
        event_type: String,
        /// The decoder's message.
        message: String,
    },
    /// A value could not be turned into a JSON row (e.g. a map with non-string keys).
    #[error("collection `{collection}`: cannot serialize row: {message}")]
    Serialize {
        /// The collection.
        collection: String,
        /// The serializer's message.
        message: String,
    },
    /// A value outside the portable value domain ([`crate::domain`]): an
    /// integer a 64-bit float would round, a NUL character, nesting deeper
    /// than [`crate::domain::MAX_DEPTH`]. Raised before anything is written.
    #[error("{at}: unsupported value: {rule}")]
    UnsupportedValue {
        /// Where the value is (event part, or collection and field).
        at: String,
        /// The rule of the domain it breaks.
        rule: &'static str,
    },
    /// A text value longer than its column allows (a SQL store's limit, read
    /// from the database's schema).
    #[error("collection `{collection}`: field `{field}` holds at most {limit}, got {length}")]
    ValueTooLong {
        /// The collection (table).
        collection: String,
        /// The field (column).
        field: String,
        /// The column's limit, e.g. `191 characters` or `65535 bytes`.
        limit: String,
        /// The value's length in the same unit.
        length: u64,
    },
    /// A reducer refused the event (business rule in a pure reducer).
    #[error("event `{event_type}` rejected by reducer: {message}")]
    Rejected {
        /// The event's `type`.
        event_type: String,
        /// The reducer's reason.
        message: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, the same on every backend.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::DuplicateKey { .. } => "duplicate_key",
            Error::MissingKey { .. } => "missing_key",
            Error::InvalidKey { .. } => "invalid_key",
            Error::KeyChange { .. } => "key_change",
            Error::UnknownCollection { .. } => "unknown_collection",
            Error::UnknownField { .. } => "unknown_field",
            Error::TypeMismatch { .. } => "type_mismatch",
            Error::KeyFieldMismatch { .. } => "key_field_mismatch",
            Error::InvalidFilter { .. } => "invalid_filter",
            Error::InvalidOrder { .. } => "invalid_order",
            Error::InvalidPayload { .. } => "invalid_payload",
            Error::Serialize { .. } => "serialize",
            Error::Rejected { .. } => "rejected",
            Error::UnsupportedValue { .. } => "unsupported_value",
            Error::ValueTooLong { .. } => "value_too_long",
        }
    }
}
