//! Fabric resources (the envelope rows), subscribers' credentials, and each resource's default address.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::keyset::{Bind, QueryParts, SortOrder, finish_page};
use crate::{Page, Result, Store, StoreError};
use weft_core::address::DEFAULT_CONTEXT;
use weft_core::time::now_ms;
use weft_core::{Cursor, ResourceKind};

/// A stored resource.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub project_id: String,
    pub kind: ResourceKind,
    /// The id of the type-specific object (`subscriber.id`, `swml_script.id`, …).
    pub inner_id: String,
    pub name: String,
    pub display_name: String,
    /// The type-specific fields, without secrets.
    pub body: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A resource to create.
#[derive(Debug, Clone)]
pub struct NewResource {
    pub kind: ResourceKind,
    /// Its name, which is also its default address `/public/<name>`.
    pub name: String,
    pub display_name: String,
    pub body: Value,
    /// A subscriber's login: email and password hash.
    pub login: Option<Login>,
}

/// A subscriber's login credentials.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    pub password_hash: Option<String>,
}

/// Changes to a resource; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ResourceUpdate {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub body: Option<Value>,
    pub login: Option<Login>,
}

const COLUMNS: &str =
    "id, project_id, kind, inner_id, name, display_name, body, created_at, updated_at";

fn resource_from_row(row: &AnyRow) -> Result<Resource> {
    let kind: String = row.try_get("kind")?;
    let body: String = row.try_get("body")?;
    Ok(Resource {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        kind: ResourceKind::from_type_value(&kind).ok_or(StoreError::NotFound)?,
        inner_id: row.try_get("inner_id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates a resource, its login (subscribers) and its default address in one transaction.
    pub async fn create_resource(&self, project_id: &str, new: NewResource) -> Result<Resource> {
        let now = now_ms();
        let resource = Resource {
            id: crate::new_id(),
            project_id: project_id.to_owned(),
            kind: new.kind,
            inner_id: crate::new_id(),
            name: new.name,
            display_name: new.display_name,
            body: new.body,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO resources ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&resource.id)
        .bind(project_id)
        .bind(resource.kind.type_value())
        .bind(&resource.inner_id)
        .bind(&resource.name)
        .bind(&resource.display_name)
        .bind(resource.body.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(login) = &new.login {
            sqlx::query(
                "INSERT INTO subscribers (resource_id, project_id, email, password_hash) VALUES ($1, $2, $3, $4)",
            )
            .bind(&resource.id)
            .bind(project_id)
            .bind(&login.email)
            .bind(login.password_hash.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_as(e, "email"))?;
        }
        sqlx::query(
            "INSERT INTO addresses (id, project_id, resource_id, context, name, display_name, address_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crate::new_id())
        .bind(project_id)
        .bind(&resource.id)
        .bind(DEFAULT_CONTEXT)
        .bind(&resource.name)
        .bind(&resource.display_name)
        .bind(resource.kind.address_type())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_as(e, "name"))?;
        tx.commit().await?;
        Ok(resource)
    }

    /// A resource of this project by its id or its inner id.
    pub async fn resource(&self, project_id: &str, id: &str) -> Result<Resource> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM resources WHERE project_id = $1 AND (id = $2 OR inner_id = $3)"
        ))
        .bind(project_id)
        .bind(id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        resource_from_row(&row)
    }

    /// A page of this project's resources (of one kind, or all), oldest first.
    pub async fn list_resources(
        &self,
        project_id: &str,
        kind: Option<ResourceKind>,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Page<Resource>> {
        let mut q = QueryParts::new(&format!("SELECT {COLUMNS} FROM resources WHERE 1 = 1"));
        q.and("project_id = $?", Bind::Text(project_id.to_owned()));
        if let Some(kind) = kind {
            q.and("kind = $?", Bind::Text(kind.type_value().to_owned()));
        }
        q.page("created_at", true, SortOrder::Asc, after, limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(resource_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(rows, limit, |r| {
            (r.created_at.to_string(), r.id.clone())
        }))
    }

    /// Applies an update; a new name renames the default address too.
    pub async fn update_resource(
        &self,
        project_id: &str,
        id: &str,
        update: ResourceUpdate,
    ) -> Result<Resource> {
        let current = self.resource(project_id, id).await?;
        let name = update.name.unwrap_or_else(|| current.name.clone());
        let display_name = update
            .display_name
            .unwrap_or_else(|| current.display_name.clone());
        let body = update.body.unwrap_or_else(|| current.body.clone());
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE resources SET name = $1, display_name = $2, body = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&name)
        .bind(&display_name)
        .bind(body.to_string())
        .bind(now)
        .bind(&current.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE addresses SET name = $1, display_name = $2 WHERE resource_id = $3 AND context = $4 AND name = $5",
        )
        .bind(&name)
        .bind(&display_name)
        .bind(&current.id)
        .bind(DEFAULT_CONTEXT)
        .bind(&current.name)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_as(e, "name"))?;
        if let Some(login) = &update.login {
            sqlx::query("UPDATE subscribers SET email = $1 WHERE resource_id = $2")
                .bind(&login.email)
                .bind(&current.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::conflict_as(e, "email"))?;
            if let Some(hash) = &login.password_hash {
                sqlx::query("UPDATE subscribers SET password_hash = $1 WHERE resource_id = $2")
                    .bind(hash)
                    .bind(&current.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Resource {
            name,
            display_name,
            body,
            updated_at: now,
            ..current
        })
    }

    /// Deletes a resource with its addresses, login, endpoints and devices, and the SIP
    /// registration bindings of its SIP endpoints (a SIP endpoint resource's own, or a
    /// subscriber's nested endpoints').
    pub async fn delete_resource(&self, project_id: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM sip_bindings WHERE account_id IN (\
             SELECT r.id FROM resources r WHERE r.project_id = $1 AND (r.id = $2 OR r.inner_id = $3) \
             UNION SELECT e.id FROM subscriber_sip_endpoints e JOIN resources r ON r.id = e.subscriber_id \
             WHERE r.project_id = $4 AND (r.id = $5 OR r.inner_id = $6))",
        )
        .bind(project_id)
        .bind(id)
        .bind(id)
        .bind(project_id)
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "DELETE FROM resources WHERE project_id = $1 AND (id = $2 OR inner_id = $3)",
        )
        .bind(project_id)
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        StoreError::found(done.rows_affected())?;
        tx.commit().await?;
        Ok(())
    }

    /// A subscriber by login email, with its password hash.
    pub async fn subscriber_by_email(
        &self,
        project_id: &str,
        email: &str,
    ) -> Result<Option<(Resource, Option<String>)>> {
        let row = sqlx::query("SELECT resource_id, password_hash FROM subscribers WHERE project_id = $1 AND email = $2")
            .bind(project_id)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let resource_id: String = row.try_get("resource_id")?;
        let hash: Option<String> = row.try_get("password_hash")?;
        Ok(Some((self.resource(project_id, &resource_id).await?, hash)))
    }

    /// A subscriber's password hash.
    pub async fn subscriber_password_hash(&self, resource_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM subscribers WHERE resource_id = $1")
            .bind(resource_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.try_get("password_hash")?)
    }

    /// The first free address name in the public context: `base`, `base-2`, `base-3`, …
    pub async fn free_address_name(&self, project_id: &str, base: &str) -> Result<String> {
        for n in 1..1000 {
            let candidate = if n == 1 {
                base.to_owned()
            } else {
                format!("{base}-{n}")
            };
            let taken = sqlx::query(
                "SELECT id FROM addresses WHERE project_id = $1 AND context = $2 AND name = $3",
            )
            .bind(project_id)
            .bind(DEFAULT_CONTEXT)
            .bind(&candidate)
            .fetch_optional(&self.pool)
            .await?;
            if taken.is_none() {
                return Ok(candidate);
            }
        }
        Err(StoreError::Conflict("name"))
    }
}
