//! API errors and their documented bodies: 422 `{"errors":[…]}`, otherwise `{"error":"…"}`.

use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weft_store::StoreError;

/// One validation problem.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub attribute: String,
    pub code: &'static str,
    pub message: String,
}

/// An error answered to an API client.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Forbidden,
    NotFound,
    /// The resource is in a state that forbids the request; the message says which.
    Conflict(String),
    PayloadTooLarge,
    Validation(Vec<FieldError>),
    TooManyRequests,
    Internal,
}

impl ApiError {
    /// A single validation error.
    pub fn invalid(attribute: &str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            attribute: attribute.to_owned(),
            code,
            message: message.into(),
        }])
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(field) => ApiError::invalid(
                field,
                "already_taken",
                format!("{field} has already been taken"),
            ),
            StoreError::Invalid(field) => {
                ApiError::invalid(field, "invalid_parameter", format!("{field} is not valid"))
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "Bad Request", "message": message}),
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, json!({"error": "Unauthorized"})),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, json!({"error": "Forbidden"})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"error": "Not Found"})),
            ApiError::Conflict(message) => (
                StatusCode::CONFLICT,
                json!({"error": "Conflict", "message": message}),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "Payload Too Large"}),
            ),
            ApiError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "Too Many Requests"}),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "Internal Server Error"}),
            ),
            ApiError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"errors": errors.iter().map(|e| json!({
                    "type": "validation_error",
                    "code": e.code,
                    "message": e.message,
                    "attribute": e.attribute,
                    "url": "https://developer.signalwire.com/rest/overview/error-codes/",
                })).collect::<Vec<_>>()}),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"weft\""),
            );
        }
        response
    }
}

/// The answer for routes that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Refuses paths carrying an encoded NUL before they reach a handler (no database stores one).
pub async fn refuse_nul_in_path(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if path.contains("%00") || path.contains('\0') {
        return ApiError::NotFound.into_response();
    }
    next.run(request).await
}

/// Reads the whole request body (up to `limit`) before routing, so a request refused early (401,
/// 404) still leaves its keep-alive connection usable. A larger body gets 413 and `Connection: close`,
/// since its unread rest cannot be skipped.
pub async fn buffer_body(
    limit: usize,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let too_large = || {
        let mut response = ApiError::PayloadTooLarge.into_response();
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(),
    }
}

/// Gives the framework's bare 405 and 413 answers the documented JSON body.
pub async fn json_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let bare = response.headers().get(header::CONTENT_TYPE).is_none();
    if !bare {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "Payload Too Large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
        _ => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json!({"error": error}).to_string()))
}
