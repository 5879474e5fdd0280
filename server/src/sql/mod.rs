//! The store's SQL: everything that differs between databases lives here,
//! behind traits, and nowhere else in the crate.
//!
//! * [`builder`]: a statement and its bound parameters ([`Sql`], [`Bind`]);
//! * [`write`](mod@write): changeset operations, filters and log rows become statements;
//! * [`read`]: `SELECT`s of the read model and of the log;
//! * [`batch`]: multi-row statements for a commit group;
//! * [`codec`]: values read back, timestamps, parameters bound;
//! * [`versions`](mod@versions): the row versions' tables, writes and reads;
//! * [`syntax`]: how a dialect spells statements ([`syntax::Syntax`]);
//! * [`backend`]: pools, the writer's connection and transaction, written
//!   once over sqlx for every [`backend::Driver`];
//! * one folder per dialect ([`sqlite`], [`postgres`], [`mysql`]) with its
//!   `Driver` and `Syntax`; [`crate::db`] registers each with one line.

pub(crate) mod backend;
pub(crate) mod batch;
pub(crate) mod builder;
pub(crate) mod codec;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod read;
pub(crate) mod sqlite;
pub(crate) mod syntax;
pub(crate) mod versions;
pub(crate) mod write;

pub(crate) use crate::EVENTS_TABLE;
pub(crate) use crate::db::Dialect;
pub(crate) use builder::{Bind, Sql};
pub(crate) use read::{EVENT_COLUMNS, find_sql};
pub(crate) use write::{EVENT_PARAMS, compile_operation, insert_events, row_chunks};
