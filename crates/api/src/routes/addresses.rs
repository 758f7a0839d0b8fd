//! `/api/fabric/addresses`: the address book, for project credentials or access tokens.

use axum::extract::{OriginalUri, Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use weft_store::SortOrder;
use weft_store::addresses::{AddressFilter, AddressSort};

use crate::auth::AnyAuth;
use crate::body::{Fields, Params};
use crate::error::ApiError;
use crate::paging::{list_body, page_request};
use crate::{ApiState, views};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/fabric/addresses", get(list))
        .route("/api/fabric/addresses/{id}", get(read))
}

/// A guest sees only its allowed addresses.
fn visible_ids(auth: &AnyAuth) -> Option<Vec<String>> {
    match auth {
        AnyAuth::Bearer(b) if b.subscriber.is_none() => Some(b.claims.allowed_addresses.clone()),
        _ => None,
    }
}

async fn list(
    State(state): State<ApiState>,
    auth: AnyAuth,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    let page = page_request(&params)?;
    let empty = serde_json::Map::new();
    let mut fields = Fields::new(&empty);
    let sort = match params.get("sort_by") {
        None | Some("created_at") => AddressSort::CreatedAt,
        Some("name") => AddressSort::Name,
        Some(_) => {
            fields.reject(
                "sort_by",
                "invalid_parameter",
                "sort_by must be name or created_at",
            );
            AddressSort::CreatedAt
        }
    };
    let order = match params.get("sort_order") {
        None | Some("asc") => SortOrder::Asc,
        Some("desc") => SortOrder::Desc,
        Some(_) => {
            fields.reject(
                "sort_order",
                "invalid_parameter",
                "sort_order must be asc or desc",
            );
            SortOrder::Asc
        }
    };
    for key in ["type", "name", "display_name"] {
        if params.get(key).is_some_and(|v| v.chars().count() > 255) {
            fields.reject(
                key,
                "too_long",
                format!("{key} is longer than 255 characters"),
            );
        }
    }
    fields.finish()?;
    let filter = AddressFilter {
        resource_id: None,
        address_type: params.get("type").map(str::to_owned),
        name: params.get("name").map(str::to_owned),
        display_name: params.get("display_name").map(str::to_owned),
        only_ids: visible_ids(&auth),
    };
    let rows = state
        .store
        .list_addresses(
            auth.project_id(),
            &filter,
            sort,
            order,
            page.after.as_ref(),
            page.size,
        )
        .await?;
    Ok(Json(list_body(uri.path(), &params, rows, views::address)))
}

async fn read(
    State(state): State<ApiState>,
    auth: AnyAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if visible_ids(&auth).is_some_and(|ids| !ids.contains(&id)) {
        return Err(ApiError::NotFound);
    }
    let address = state.store.address(auth.project_id(), &id).await?;
    Ok(Json(views::address(&address)))
}
