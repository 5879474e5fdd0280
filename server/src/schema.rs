//! The read model's schema as introspected from the database: tables with a
//! single-column primary key, and their columns whose SQL type maps to a
//! [`FieldType`]. It becomes the [`flux_capacitor::Schema`] every operation is
//! validated against, so the store reports exactly `MemoryDatabase`'s errors.

use std::collections::BTreeMap;

use flux_capacitor::{CollectionSchema, FieldType, Schema};

/// Tables of the store itself, never part of the user's schema.
pub(crate) const STORE_TABLES: &[&str] = &[
    crate::EVENTS_TABLE,
    crate::LOCK_TABLE,
    crate::SNAPSHOTS_TABLE,
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
        }
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
}

/// A raw introspected column, before filtering.
pub(crate) struct RawColumn {
    pub table: String,
    pub name: String,
    pub ty: Option<FieldType>,
    pub primary_key: bool,
    pub write_cast: Option<&'static str>,
    pub exact_text: bool,
}

impl DbSchema {
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
        out
    }
}
