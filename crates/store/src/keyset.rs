//! Keyset paging shared by the list queries.

use weft_core::Cursor;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// One page of rows plus the cursor of the next page, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next: Option<Cursor>,
}

/// A bind value for dynamically built queries.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// A query under construction with `$N` placeholders.
#[derive(Debug, Default)]
pub(crate) struct QueryParts {
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl QueryParts {
    pub fn new(sql: &str) -> Self {
        QueryParts {
            sql: sql.to_owned(),
            binds: Vec::new(),
        }
    }

    /// Adds a bind and returns its placeholder.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Appends `AND <condition>` where `$?` stands for one placeholder bound to `value`.
    pub fn and(&mut self, condition: &str, value: Bind) {
        let p = self.bind(value);
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition.replace("$?", &p));
    }

    /// Appends the keyset condition, order and limit (one extra row to detect a next page).
    pub fn page(
        &mut self,
        column: &str,
        numeric: bool,
        order: SortOrder,
        after: Option<&Cursor>,
        limit: u32,
    ) {
        let (cmp, dir) = match order {
            SortOrder::Asc => (">", "ASC"),
            SortOrder::Desc => ("<", "DESC"),
        };
        if let Some(cursor) = after {
            let key = if numeric {
                Bind::Int(cursor.key.parse().unwrap_or(0))
            } else {
                Bind::Text(cursor.key.clone())
            };
            let k1 = self.bind(key.clone());
            let k2 = self.bind(key);
            let id = self.bind(Bind::Text(cursor.id.clone()));
            self.sql.push_str(&format!(
                " AND ({column} {cmp} {k1} OR ({column} = {k2} AND id {cmp} {id}))"
            ));
        }
        self.sql.push_str(&format!(
            " ORDER BY {column} {dir}, id {dir} LIMIT {}",
            limit + 1
        ));
    }

    /// Builds the sqlx query with every bind applied.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Cuts the extra row off and turns it into the next cursor.
pub(crate) fn finish_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    key_of: impl Fn(&T) -> (String, String),
) -> Page<T> {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|last| {
            let (key, id) = key_of(last);
            Cursor { key, id }
        })
    } else {
        None
    };
    Page { rows, next }
}
