//! Addresses: the `/context/name` by which a resource is reached.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::keyset::{Bind, QueryParts, SortOrder, finish_page};
use crate::{Page, Result, Store, StoreError};
use weft_core::Cursor;

/// A stored address.
#[derive(Debug, Clone)]
pub struct AddressRow {
    pub id: String,
    pub project_id: String,
    pub resource_id: String,
    pub context: String,
    pub name: String,
    pub display_name: String,
    /// `app`, `room`, `call` or `subscriber`.
    pub address_type: String,
    pub created_at: i64,
}

/// Which addresses a list returns.
#[derive(Debug, Clone, Default)]
pub struct AddressFilter {
    pub resource_id: Option<String>,
    pub address_type: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Case-insensitive substring of the display name.
    pub display_name: Option<String>,
    /// Only these address ids (a guest's allowed addresses).
    pub only_ids: Option<Vec<String>>,
}

/// The column a list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressSort {
    #[default]
    CreatedAt,
    Name,
}

const COLUMNS: &str =
    "id, project_id, resource_id, context, name, display_name, address_type, created_at";

fn address_from_row(row: &AnyRow) -> Result<AddressRow> {
    Ok(AddressRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        resource_id: row.try_get("resource_id")?,
        context: row.try_get("context")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        address_type: row.try_get("address_type")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// A page of this project's addresses.
    pub async fn list_addresses(
        &self,
        project_id: &str,
        filter: &AddressFilter,
        sort: AddressSort,
        order: SortOrder,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Page<AddressRow>> {
        let mut q = QueryParts::new(&format!("SELECT {COLUMNS} FROM addresses WHERE 1 = 1"));
        q.and("project_id = $?", Bind::Text(project_id.to_owned()));
        if let Some(v) = &filter.resource_id {
            q.and("resource_id = $?", Bind::Text(v.clone()));
        }
        if let Some(v) = &filter.address_type {
            q.and("address_type = $?", Bind::Text(v.clone()));
        }
        if let Some(v) = &filter.name {
            q.and("name = $?", Bind::Text(v.clone()));
        }
        if let Some(v) = &filter.display_name {
            q.and(
                "LOWER(display_name) LIKE $?",
                Bind::Text(format!("%{}%", v.to_lowercase())),
            );
        }
        if let Some(ids) = &filter.only_ids {
            if ids.is_empty() {
                q.sql.push_str(" AND 1 = 0");
            } else {
                let placeholders: Vec<String> = ids
                    .iter()
                    .map(|id| q.bind(Bind::Text(id.clone())))
                    .collect();
                q.sql
                    .push_str(&format!(" AND id IN ({})", placeholders.join(", ")));
            }
        }
        let (column, numeric) = match sort {
            AddressSort::CreatedAt => ("created_at", true),
            AddressSort::Name => ("name", false),
        };
        q.page(column, numeric, order, after, limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(address_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(rows, limit, |a| match sort {
            AddressSort::CreatedAt => (a.created_at.to_string(), a.id.clone()),
            AddressSort::Name => (a.name.clone(), a.id.clone()),
        }))
    }

    /// One address of this project.
    pub async fn address(&self, project_id: &str, id: &str) -> Result<AddressRow> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM addresses WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        address_from_row(&row)
    }

    /// The address `/context/name` of this project, if it exists.
    pub async fn address_by_name(
        &self,
        project_id: &str,
        context: &str,
        name: &str,
    ) -> Result<Option<AddressRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM addresses WHERE project_id = $1 AND context = $2 AND name = $3"
        ))
        .bind(project_id)
        .bind(context)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(address_from_row).transpose()
    }
}
