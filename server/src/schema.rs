//! The read model's schema as introspected from the database: tables with a
//! single-column primary key, and their columns whose SQL type maps to a
//! [`FieldType`]. It becomes the [`flux_capacitor::Schema`] every operation is
//! validated against, so the store reports exactly `MemoryDatabase`'s errors.

use std::collections::BTreeMap;

use flux_capacitor::{CollectionSchema, Error as CoreError, FieldType, Operation, Schema};
use serde_json::Value;

/// Tables of the store itself, never part of the user's schema.
pub(crate) const STORE_TABLES: &[&str] = &[
    crate::EVENTS_TABLE,
    crate::LOCK_TABLE,
    crate::SNAPSHOTS_TABLE,
    crate::ICELOG_TABLE,
    crate::ICELOG_IDS_TABLE,
    crate::saga::SAGAS_TABLE,
    crate::saga::EFFECTS_TABLE,
    crate::saga::TIMERS_TABLE,
    "_sqlx_migrations",
];

/// One column of a read-model table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub name: String,
    pub ty: FieldType,
    /// A cast wrapped around the written parameter (PostgreSQL JSON columns).
    pub write_cast: Option<&'static str>,
    /// The column's collation already compares by code point, without
    /// padding (always so but on MySQL, where it depends on the collation).
    pub exact_text: bool,
    /// The most characters a text column holds (`VARCHAR(191)`), if limited.
    pub max_chars: Option<u64>,
    /// The most bytes (UTF-8) a text column holds (MariaDB's `TEXT`: 65535),
    /// if limited below what a value may be.
    pub max_bytes: Option<u64>,
    /// A `json` value that is a bare number is bound as an SQL number, not as
    /// JSON text: SQLite converts number-like text written to a column without
    /// TEXT affinity (a column declared `JSON` has NUMERIC affinity) through a
    /// parse that is not always correctly rounded, so `0.30000000000000004`
    /// would not come back. Bound as a number it is stored as that double.
    pub bind_json_numbers: bool,
    /// The column's SQL type as declared (with its collation where the
    /// database has one), so that its versions table
    /// ([`crate::versions`]) holds and compares its values exactly alike.
    pub sql_type: String,
}

/// One read-model table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub name: String,
    pub key: String,
    pub columns: Vec<Column>,
}

impl Column {
    /// A column of the store's own tables (compared exactly, written as is).
    pub fn new(name: &str, ty: FieldType) -> Column {
        Column {
            name: name.into(),
            ty,
            write_cast: None,
            exact_text: true,
            max_chars: None,
            max_bytes: None,
            bind_json_numbers: false,
            sql_type: String::new(),
        }
    }

    /// [`CoreError::ValueTooLong`] when `value` is a text longer than this
    /// column holds: checked before writing, so a too-long value is a typed
    /// error naming table, column and limit on every backend, never the
    /// database's own failure.
    pub fn check_length(&self, table: &str, value: &Value) -> Result<(), CoreError> {
        let (Value::String(text), FieldType::Text) = (value, self.ty) else {
            return Ok(());
        };
        let too_long = |limit: String, length: usize| CoreError::ValueTooLong {
            collection: table.into(),
            field: self.name.clone(),
            limit,
            length: length as u64,
        };
        if let Some(max) = self.max_bytes
            && text.len() as u64 > max
        {
            return Err(too_long(format!("{max} bytes"), text.len()));
        }
        if let Some(max) = self.max_chars {
            // Cheap first: no more bytes than characters allowed means fewer characters.
            if text.len() as u64 > max {
                let chars = text.chars().count();
                if chars as u64 > max {
                    return Err(too_long(format!("{max} characters"), chars));
                }
            }
        }
        Ok(())
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn key_column(&self) -> &Column {
        self.column(&self.key).expect("the key column is always introspected")
    }

    /// A table shaped like `schema` (for tests and SQL generation checks).
    #[cfg(test)]
    pub fn from_schema(name: &str, schema: &CollectionSchema) -> Table {
        Table {
            name: name.into(),
            key: schema.key.clone(),
            columns: schema
                .fields
                .iter()
                .map(|(name, ty)| Column {
                    name: name.clone(),
                    ty: *ty,
                    write_cast: None,
                    exact_text: false,
                    max_chars: None,
                    max_bytes: None,
                    bind_json_numbers: false,
                    sql_type: String::new(),
                })
                .collect(),
        }
    }
}

/// The introspected tables and the core schema built from them.
#[derive(Debug, Clone, Default)]
pub(crate) struct DbSchema {
    pub tables: BTreeMap<String, Table>,
    pub schema: Schema,
    /// The versions table of each read-model table that has a complete one
    /// (every column of the table, and the validity columns): see [`crate::versions`].
    pub versions: BTreeMap<String, Table>,
    /// The columns of every versions table found, by versions table name.
    pub version_columns: BTreeMap<String, Vec<String>>,
}

/// A raw introspected column, before filtering.
pub(crate) struct RawColumn {
    pub table: String,
    pub name: String,
    pub ty: Option<FieldType>,
    pub primary_key: bool,
    pub write_cast: Option<&'static str>,
    pub exact_text: bool,
    pub max_chars: Option<u64>,
    pub max_bytes: Option<u64>,
    pub bind_json_numbers: bool,
    pub sql_type: String,
}

impl DbSchema {
    /// Checks `operation` as the store writes it: [`Operation::validate`]
    /// against the schema, then the text columns' lengths.
    pub fn validate(&self, operation: &Operation) -> Result<(), CoreError> {
        operation.validate(Some(&self.schema))?;
        let Some(table) = self.tables.get(operation.collection()) else {
            return Ok(());
        };
        let row = match operation {
            Operation::Create { row, .. } => row,
            Operation::UpdateById { patch, .. } | Operation::UpdateWhere { patch, .. } => patch,
            Operation::DestroyById { .. } | Operation::DestroyWhere { .. } => return Ok(()),
        };
        row.iter().try_for_each(|(field, value)| match table.column(field) {
            Some(column) => column.check_length(&table.name, value),
            None => Ok(()),
        })
    }

    /// Builds the schema from raw columns (in table order): store tables,
    /// tables without a single-column primary key and columns of unsupported
    /// types are left out.
    pub fn from_columns(columns: Vec<RawColumn>) -> DbSchema {
        let mut grouped: BTreeMap<String, Vec<RawColumn>> = BTreeMap::new();
        for column in columns {
            grouped.entry(column.table.clone()).or_default().push(column);
        }
        let mut out = DbSchema::default();
        for (name, columns) in grouped {
            if crate::versions::is_store_table(&name) {
                out.version_columns
                    .insert(name, columns.into_iter().map(|c| c.name).collect());
                continue;
            }
            if STORE_TABLES.contains(&name.as_str()) {
                continue;
            }
            let keys: Vec<&RawColumn> = columns.iter().filter(|c| c.primary_key).collect();
            let [key] = keys.as_slice() else { continue };
            if !matches!(key.ty, Some(FieldType::Text | FieldType::Integer)) {
                continue;
            }
            let key = key.name.clone();
            let columns: Vec<Column> = columns
                .into_iter()
                .filter_map(|c| {
                    Some(Column {
                        ty: c.ty?,
                        name: c.name,
                        write_cast: c.write_cast,
                        exact_text: c.exact_text,
                        max_chars: c.max_chars,
                        max_bytes: c.max_bytes,
                        bind_json_numbers: c.bind_json_numbers,
                        sql_type: c.sql_type,
                    })
                })
                .collect();
            let fields = columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
            out.schema.collections.insert(
                name.clone(),
                CollectionSchema {
                    key: key.clone(),
                    fields,
                },
            );
            out.tables.insert(name.clone(), Table { name, key, columns });
        }
        for (name, table) in &out.tables {
            let versions = crate::versions::table_name(name);
            let Some(found) = out.version_columns.get(&versions) else {
                continue;
            };
            let complete = table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .chain(crate::versions::VALIDITY)
                .all(|column| found.iter().any(|f| f == column));
            if complete {
                let mut copy = table.clone();
                copy.name = versions;
                out.versions.insert(name.clone(), copy);
            }
        }
        out
    }
}
