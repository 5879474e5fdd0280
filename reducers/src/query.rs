//! Reads: which rows, in which order, which page ([`FindOptions`]).
//!
//! A read is checked against the schema by **one** function,
//! [`FindOptions::validate`] (and [`check_key`] for a read by key), which
//! every reader calls: [`MemoryDatabase::find_all`](crate::MemoryDatabase::find_all)
//! (the reference, and the server's time machine), the SQL store and the
//! HTTP service. So every path refuses the same reads with the same error
//! kinds. The order of rows is defined once, by [`order_values`]; SQL
//! readers spell the same order (`NULLS FIRST` ascending, `NULLS LAST`
//! descending, then the key ascending).

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use serde_json::Value;

use crate::{CollectionSchema, Error, FieldType, Filter, Key, Row, Schema, compare_scalars};

/// Sort direction of a [`FindOptions::order`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first; missing (null) values first.
    #[default]
    Asc,
    /// Largest first; missing (null) values last.
    Desc,
}

/// A read of one collection: rows matching `filter` (all when `None`),
/// sorted by `order` and then by key, then `offset` rows skipped and at most
/// `limit` kept. Filters mean exactly what [`Filter::matches`] means; the
/// order is [`order_values`]'s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    /// Which rows.
    pub filter: Option<Filter>,
    /// Sort fields, most significant first; the key (ascending) always
    /// breaks ties.
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

    /// Checks this read of `collection`, before any row is looked at:
    ///
    /// * the filter compares scalars only ([`Error::InvalidFilter`]);
    /// * with a schema: the collection exists ([`Error::UnknownCollection`]),
    ///   every filtered field exists ([`Error::UnknownField`]) and is not a
    ///   `json` field ([`Error::InvalidFilter`]), and every `order` field
    ///   exists ([`Error::UnknownField`]) and is not a `json` field
    ///   ([`Error::InvalidOrder`]: JSON values have no portable order).
    ///
    /// The filter is checked before the order. `limit` and `offset` are any
    /// `u64` (past the rows there is simply nothing).
    pub fn validate(&self, collection: &str, schema: Option<&Schema>) -> Result<(), Error> {
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        let Some(schema) = schema else { return Ok(()) };
        let table = schema.collection(collection)?;
        if let Some(filter) = &self.filter {
            check_filter(collection, table, filter)?;
        }
        for (field, _) in &self.order {
            if table.field(collection, field)? == FieldType::Json {
                return Err(Error::InvalidOrder {
                    collection: collection.into(),
                    field: field.clone(),
                });
            }
        }
        Ok(())
    }

    /// `rows` (in key order, all of one collection) as this read answers
    /// them: filtered, sorted (stably, so key order breaks ties), paged.
    /// Call [`FindOptions::validate`] first.
    pub fn apply<'r>(&self, rows: impl Iterator<Item = &'r Row>) -> Vec<&'r Row> {
        let mut rows: Vec<&Row> = match &self.filter {
            Some(filter) => rows.filter(|row| filter.matches(row)).collect(),
            None => rows.collect(),
        };
        if !self.order.is_empty() {
            rows.sort_by(|a, b| {
                self.order
                    .iter()
                    .map(|(field, direction)| {
                        let ordering = order_values(a.get(field), b.get(field));
                        match direction {
                            Direction::Asc => ordering,
                            Direction::Desc => ordering.reverse(),
                        }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            });
        }
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        rows.into_iter().skip(offset).take(limit).collect()
    }
}

/// Checks the fields of a filter on `collection` (of schema `table`): each
/// exists ([`Error::UnknownField`]) and none is `json`
/// ([`Error::InvalidFilter`]: SQL cannot compare JSON columns portably). Reads
/// and the `*_where` operations share it.
pub(crate) fn check_filter(collection: &str, table: &CollectionSchema, filter: &Filter) -> Result<(), Error> {
    filter
        .fields()
        .into_iter()
        .try_for_each(|field| match table.field(collection, field)? {
            FieldType::Json => Err(Error::InvalidFilter {
                field: field.into(),
                reason: "cannot filter on a json field",
            }),
            _ => Ok(()),
        })
}

/// Checks a read of `collection` by key `id`: with a schema, the collection
/// exists ([`Error::UnknownCollection`]) and `id` has the key field's type
/// ([`Error::TypeMismatch`]: an integer key of a text-keyed collection, or
/// the reverse, is an error, not "no such row").
pub fn check_key(collection: &str, id: &Key, schema: Option<&Schema>) -> Result<(), Error> {
    let Some(schema) = schema else { return Ok(()) };
    let table = schema.collection(collection)?;
    table.check_value(collection, &table.key, &id.to_value())
}

/// The order of two values of a field in a read: a missing (or `null`)
/// value before any other; values of one type as [`compare_scalars`] orders
/// them (numbers by value, strings by code point, `false < true`). Values of
/// different types, which only a schemaless database holds, order by type:
/// booleans, numbers, strings, arrays, objects; two arrays or two objects are
/// equal here (the key then decides).
pub fn order_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let rank = |value: Option<&Value>| match value {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(_)) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        Some(Value::Array(_)) => 4,
        Some(Value::Object(_)) => 5,
    };
    match (a, b) {
        (Some(x), Some(y)) => compare_scalars(x, y).unwrap_or_else(|| rank(a).cmp(&rank(b))),
        _ => rank(a).cmp(&rank(b)),
    }
}
