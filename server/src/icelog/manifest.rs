//! The manifest: table `flux_icelog`, one row per segment — its name, `seq`
//! range, first and last timestamps, event count, size, both checksums and
//! location — created with the store's other tables (under the migration
//! lock) on every database. A row is inserted in the transaction that
//! deletes the segment's events from `flux_events`, and deleted in the one
//! that puts them back, so the log is always exactly `flux_events` plus the
//! segments the manifest lists.

use flux_capacitor::{FieldType, Row};

use super::segment::Expected;
use crate::ICELOG_TABLE;
use crate::StoreError;
use crate::db::Dialect;
use crate::schema::Column;
use crate::sql::backend::Backend;
use crate::sql::builder::{Bind, Sql};

/// One segment, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentInfo {
    /// The segment's name (its object's name at [`SegmentInfo::location`]).
    pub segment: String,
    /// Its first event's `seq`.
    pub first_seq: u64,
    /// Its last event's `seq`.
    pub last_seq: u64,
    /// Its first event's timestamp (RFC 3339).
    pub first_time: String,
    /// Its last event's timestamp.
    pub last_time: String,
    /// How many events it holds (`last_seq - first_seq + 1`).
    pub events: u64,
    /// Its size, compressed, in bytes.
    pub bytes: u64,
    /// CRC-32 of the compressed bytes.
    pub crc_compressed: u32,
    /// CRC-32 of the decoded JSON lines.
    pub crc_events: u32,
    /// The icelog location (URL or directory) holding it.
    pub location: String,
}

impl SegmentInfo {
    pub(crate) fn expected(&self) -> Expected {
        Expected {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            bytes: self.bytes,
            crc_compressed: self.crc_compressed,
            crc_events: self.crc_events,
        }
    }
}

const INTEGERS: [&str; 6] = [
    "first_seq",
    "last_seq",
    "events",
    "bytes",
    "crc_compressed",
    "crc_events",
];
const TEXTS: [&str; 4] = ["segment", "first_time", "last_time", "location"];

fn columns() -> Vec<Column> {
    TEXTS
        .iter()
        .map(|n| Column::new(n, FieldType::Text))
        .chain(INTEGERS.iter().map(|n| Column::new(n, FieldType::Integer)))
        .collect()
}

/// Every segment, in `seq` order.
pub(crate) async fn load(db: &dyn Backend) -> Result<Vec<SegmentInfo>, StoreError> {
    let columns = columns();
    let mut sql = Sql::new(db.dialect());
    sql.push("SELECT ");
    sql.list(&columns, ", ", |sql, column| {
        let expr = sql.syntax.select_expr(column);
        sql.push(&expr);
    });
    sql.push(" FROM ").push(ICELOG_TABLE).push(" ORDER BY first_seq");
    let refs: Vec<&Column> = columns.iter().collect();
    let rows = db.fetch_rows(&sql, &refs).await?;
    rows.into_iter().map(from_row).collect()
}

fn from_row(mut row: Row) -> Result<SegmentInfo, StoreError> {
    let bad = |field: &str| StoreError::IceLog {
        reason: format!("the manifest ({ICELOG_TABLE}) has a row without a valid `{field}`"),
    };
    let mut text = |name: &str| match row.remove(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        _ => Err(bad(name)),
    };
    let (segment, first_time, last_time, location) = (
        text("segment")?,
        text("first_time")?,
        text("last_time")?,
        text("location")?,
    );
    let int = |name: &str| row.get(name).and_then(|v| v.as_u64()).ok_or_else(|| bad(name));
    let crc = |name: &str| int(name).and_then(|v| u32::try_from(v).map_err(|_| bad(name)));
    Ok(SegmentInfo {
        first_seq: int("first_seq")?,
        last_seq: int("last_seq")?,
        events: int("events")?,
        bytes: int("bytes")?,
        crc_compressed: crc("crc_compressed")?,
        crc_events: crc("crc_events")?,
        segment,
        first_time,
        last_time,
        location,
    })
}

fn int(value: u64) -> Bind {
    Bind::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// `INSERT` of `info`'s row, only if the manifest's segments end right
/// before it (so frozen events stay a prefix of the log: a thaw that ran
/// since the freeze read the manifest leaves it inserting nothing).
pub(crate) fn insert_sql(dialect: Dialect, info: &SegmentInfo) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").push(ICELOG_TABLE).push(" (");
    sql.push(&TEXTS.join(", ")).push(", ").push(&INTEGERS.join(", "));
    sql.push(") SELECT ");
    let binds = [
        Bind::Text(info.segment.clone()),
        Bind::Text(info.first_time.clone()),
        Bind::Text(info.last_time.clone()),
        Bind::Text(info.location.clone()),
        int(info.first_seq),
        int(info.last_seq),
        int(info.events),
        int(info.bytes),
        int(info.crc_compressed.into()),
        int(info.crc_events.into()),
    ];
    sql.list(binds, ", ", |sql, bind| {
        sql.bind(bind, None);
    });
    sql.push(" FROM (SELECT COALESCE(MAX(last_seq), 0) AS frozen FROM ")
        .push(ICELOG_TABLE)
        .push(") AS manifest WHERE manifest.frozen = ");
    sql.bind(int(info.first_seq - 1), None);
    sql
}

/// `DELETE` of the rows of the segments whose first `seq` is above `above`.
pub(crate) fn delete_above_sql(dialect: Dialect, above: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ").push(ICELOG_TABLE).push(" WHERE first_seq > ");
    sql.bind(int(above), None);
    sql
}

/// `DELETE` of the log rows `first..=last` (a freeze's move).
pub(crate) fn delete_events_sql(dialect: Dialect, first: u64, last: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ")
        .push(crate::EVENTS_TABLE)
        .push(" WHERE seq >= ");
    sql.bind(int(first), None).push(" AND seq <= ").bind(int(last), None);
    sql
}

/// Copies the ids of the log rows `first..=last` into `flux_icelog_ids`
/// (in a freeze's move, before they are deleted), so that a resent id is
/// still found once its event is in a segment.
pub(crate) fn copy_ids_sql(dialect: Dialect, first: u64, last: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ")
        .push(crate::ICELOG_IDS_TABLE)
        .push(" (id, seq) SELECT id, seq FROM ")
        .push(crate::EVENTS_TABLE)
        .push(" WHERE seq >= ");
    sql.bind(int(first), None).push(" AND seq <= ").bind(int(last), None);
    sql
}

/// `DELETE` of the frozen ids above `above` (a thaw puts their events back).
pub(crate) fn delete_ids_above_sql(dialect: Dialect, above: u64) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ")
        .push(crate::ICELOG_IDS_TABLE)
        .push(" WHERE seq > ");
    sql.bind(int(above), None);
    sql
}

/// `SELECT seq` of the frozen events whose id is one of `ids`.
pub(crate) fn frozen_seqs_sql(dialect: Dialect, ids: &[uuid::Uuid]) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT seq FROM ")
        .push(crate::ICELOG_IDS_TABLE)
        .push(" WHERE id IN (");
    sql.list(ids, ", ", |sql, id| {
        let bind = sql.syntax.event_id(*id);
        sql.bind(bind, None);
    });
    sql.push(")");
    sql
}

/// The `seq`s of the frozen events whose id is one of `ids` (read through
/// the pool: called under the writers' lock, which every freeze and thaw
/// takes too, so what it reads cannot change meanwhile).
pub(super) async fn frozen_seqs(db: &dyn Backend, ids: &[uuid::Uuid]) -> Result<Vec<u64>, StoreError> {
    let column = Column::new("seq", FieldType::Integer);
    let mut seqs = Vec::new();
    for chunk in ids.chunks(crate::sql::backend::IDS_PER_QUERY) {
        for row in db.fetch_rows(&frozen_seqs_sql(db.dialect(), chunk), &[&column]).await? {
            seqs.extend(row.get("seq").and_then(serde_json::Value::as_u64));
        }
    }
    Ok(seqs)
}
