//! Value codecs: what the databases give back becomes JSON values, events
//! and timestamps; [`Bind`] values become a driver's arguments.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use flux_capacitor::FieldType;
use flux_capacitor::domain::{Num, canonical};
use flux_capacitor::{Event, StoredEvent};
use serde_json::Value;
use sqlx::error::BoxDynError;
use sqlx::{Arguments as _, ColumnIndex, Database, Decode, Encode, Row as _, Type};
use uuid::Uuid;

use super::builder::Bind;

/// Adds `bind` to a driver's arguments (each dialect's `Driver::add` calls
/// this with its own types).
pub(crate) fn add_bind<'q, DB: Database>(args: &mut DB::Arguments<'q>, bind: &'q Bind) -> Result<(), BoxDynError>
where
    i64: Encode<'q, DB> + Type<DB>,
    f64: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Uuid: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    match bind {
        Bind::Int(v) => args.add(*v),
        Bind::Real(v) => args.add(*v),
        Bind::Bool(v) => args.add(*v),
        Bind::Text(v) => args.add(v.as_str()),
        Bind::Null => args.add(None::<&str>),
        Bind::Uuid(v) => args.add(*v),
        Bind::Time(v) => args.add(*v),
    }
}

/// Column `index` of `row` read back as `ty` without sqlx's type checks,
/// where the database's own types do not say it (SQLite's dynamic types,
/// MySQL's `TINYINT(1)` booleans and binary-collated text).
pub(crate) fn decode_unchecked<'r, DB: Database>(
    row: &'r DB::Row,
    index: usize,
    ty: FieldType,
) -> Result<Option<Value>, sqlx::Error>
where
    i64: Decode<'r, DB>,
    f64: Decode<'r, DB>,
    String: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    Ok(match ty {
        FieldType::Integer => row.try_get_unchecked::<Option<i64>, _>(index)?.map(Value::from),
        FieldType::Boolean => row
            .try_get_unchecked::<Option<i64>, _>(index)?
            .map(|b| Value::Bool(b != 0)),
        FieldType::Real => row.try_get_unchecked::<Option<f64>, _>(index)?.map(real_value),
        FieldType::Text => row.try_get_unchecked::<Option<String>, _>(index)?.map(Value::String),
        FieldType::Json => json_value(row.try_get_unchecked::<Option<String>, _>(index)?)?,
    })
}

/// A `REAL` read back in the domain's canonical form
/// ([`flux_capacitor::domain`]): integral values within ±(2^53−1) are JSON
/// integers (`3.0` is `3`, `-0.0` is `0`), every other double a float — what
/// `MemoryDatabase` stores and JavaScript holds.
pub(crate) fn real_value(value: f64) -> Value {
    Num::from_f64(value).to_number().map_or(Value::Null, Value::Number)
}

/// An integer a database stored for a `json` value, in canonical form
/// (beyond ±(2^53−1) it is a float: the double it is, exactly).
pub(crate) fn number_value(value: serde_json::Number) -> Value {
    canonical(&Value::Number(value)).into_owned()
}

/// A JSON column read back as text; SQL `NULL` (and JSON `null`) is absent.
/// Numbers come back canonical: PostgreSQL's `jsonb` prints `1e20` as
/// `100000000000000000000`, which is the same double.
pub(crate) fn json_value(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    let Some(text) = text else { return Ok(None) };
    let value: Value = serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((!value.is_null()).then(|| canonical(&value).into_owned()))
}

/// The RFC 3339 form of a timestamp: UTC, milliseconds, `Z`.
pub(crate) fn format_timestamp(timestamp: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let millis = timestamp.timestamp_subsec_millis();
    if !(0..=9999).contains(&timestamp.year()) || millis > 999 {
        return timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Without chrono's format-string machinery: this runs for every event.
    let mut text = String::with_capacity(24);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        timestamp.year(),
        timestamp.month(),
        timestamp.day(),
        timestamp.hour(),
        timestamp.minute(),
        timestamp.second()
    );
    text
}

pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A log row selected by [`super::syntax::Syntax::event_columns`], its `id`
/// and RFC 3339 `timestamp` already read by the dialect (their types differ);
/// the other columns are read the same way everywhere.
pub(crate) fn decode_event<'r, DB: Database>(
    row: &'r DB::Row,
    id: Uuid,
    timestamp: String,
) -> Result<StoredEvent, sqlx::Error>
where
    i64: Decode<'r, DB>,
    bool: Decode<'r, DB>,
    String: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let json = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| sqlx::Error::Decode(Box::new(e)));
    let seq: i64 = row.try_get_unchecked(0)?;
    let payload: String = row.try_get_unchecked(3)?;
    let meta: Option<String> = row.try_get_unchecked(4)?;
    Ok(StoredEvent {
        id,
        seq: seq as u64,
        timestamp,
        hash: row.try_get_unchecked(7)?,
        event: Event {
            event_type: row.try_get_unchecked(2)?,
            payload: json(&payload)?,
            meta: meta.as_deref().map(json).transpose()?,
            error: row.try_get_unchecked(5)?,
            id: None,
        },
    })
}

/// A log `id` stored as text.
pub(crate) fn parse_id(text: &str) -> Result<Uuid, sqlx::Error> {
    text.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_milliseconds() {
        for text in [
            "2026-11-22T19:20:51.123Z",
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let time = parse_timestamp(text).unwrap();
            assert_eq!(format_timestamp(time), text);
            assert_eq!(
                format_timestamp(time),
                time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }
}
