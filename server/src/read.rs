//! Query options of the store's read API.

use flux_capacitor::Filter;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest first; missing (null) values first.
    #[default]
    Asc,
    /// Largest first; missing (null) values last.
    Desc,
}

/// What [`Store::find_all`](crate::Store::find_all) returns: rows matching
/// `filter` (all when `None`), sorted by `order` then by key, then `offset`
/// and `limit` applied. Filters mean exactly what [`Filter::matches`] means;
/// text orders by code point on every backend.
#[derive(Debug, Clone, Default)]
pub struct FindOptions {
    /// Which rows.
    pub filter: Option<Filter>,
    /// Sort fields, most significant first; the key always breaks ties.
    pub order: Vec<(String, Direction)>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skip this many rows first.
    pub offset: u64,
}

impl FindOptions {
    /// Every row, in key order.
    pub fn all() -> Self {
        FindOptions::default()
    }

    /// Rows matching `filter`, in key order.
    pub fn filter(filter: Filter) -> Self {
        FindOptions {
            filter: Some(filter),
            ..FindOptions::default()
        }
    }
}

/// Which events [`Store::events`](crate::Store::events) returns: those with
/// `seq > after_seq`, of one of `types` when given, in `seq` order, at most `limit`.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Only events after this `seq` (0 for all).
    pub after_seq: u64,
    /// At most this many.
    pub limit: u64,
    /// Only these event types.
    pub types: Option<Vec<String>>,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            after_seq: 0,
            limit: 1000,
            types: None,
        }
    }
}

impl EventQuery {
    /// Up to `limit` events after `seq`.
    pub fn after(seq: u64, limit: u64) -> Self {
        EventQuery {
            after_seq: seq,
            limit,
            types: None,
        }
    }
}
