//! [`Sql`]: a statement's text and its bound parameters, built in one pass
//! in a dialect's [`Syntax`]. Values never enter the text.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Dialect;
use super::syntax::Syntax;

/// A bound parameter value, typed by its column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    /// SQL `NULL` (as text).
    Null,
    /// A native UUID (PostgreSQL's log).
    Uuid(Uuid),
    /// A native timestamp (PostgreSQL's and MySQL's log).
    Time(DateTime<Utc>),
}

/// A statement and its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
    pub syntax: &'static dyn Syntax,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql {
            text: String::new(),
            binds: Vec::new(),
            syntax: dialect.syntax(),
        }
    }

    /// A statement without parameters.
    pub fn fixed(dialect: Dialect, text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            ..Sql::new(dialect)
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `bind`, wrapped in `cast` if given.
    pub fn bind(&mut self, bind: Bind, cast: Option<&str>) -> &mut Self {
        self.binds.push(bind);
        if cast.is_some() {
            self.text.push_str("CAST(");
        }
        self.syntax.placeholder(&mut self.text, self.binds.len());
        if let Some(ty) = cast {
            self.text.push_str(" AS ");
            self.text.push_str(ty);
            self.text.push(')');
        }
        self
    }

    pub fn ident(&mut self, name: &str) -> &mut Self {
        let quoted = self.syntax.quote(name);
        self.text.push_str(&quoted);
        self
    }

    /// Appends each item with `each`, `separator` between them.
    pub fn list<I: IntoIterator>(
        &mut self,
        items: I,
        separator: &str,
        mut each: impl FnMut(&mut Self, I::Item),
    ) -> &mut Self {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(separator);
            }
            each(self, item);
        }
        self
    }
}
