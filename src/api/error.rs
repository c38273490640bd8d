//! [`ApiError`]: every error the API answers, as JSON `{code, message, details}`, and the one
//! place a store error becomes a status (503 `unavailable` or 500 `internal`).

use crate::escape::Escaped;
use crate::store;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An API error: status, stable code, message, optional details.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
    details: Value,
    /// Seconds, sent as `Retry-After`.
    pub(super) retry_after: Option<u16>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    /// A 500 whose cause is logged, not sent. Not for store errors: see [`ApiError::store`].
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "Request failed.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Warden could not complete the request; the error is in its log",
        )
    }

    /// A 503 `busy` with `Retry-After: seconds`: a shared budget is spent for now.
    pub fn busy(message: impl Into<String>, seconds: u16) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
        }
    }

    /// A 503 `unavailable` with `Retry-After`: the database cannot be reached now, nothing of the
    /// request was kept, and the same request may be sent again.
    pub fn unavailable() -> ApiError {
        ApiError {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database cannot be reached; nothing was kept, retry shortly",
            )
        }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The sentence it answers with (never internals: those are logged).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A store failure as the client sees it: 503 [`ApiError::unavailable`] when the database
    /// cannot be reached (logged as a warning), otherwise a logged 500. Every handler maps store
    /// errors through here (`?` or `map_err(ApiError::from)`), never through
    /// [`ApiError::internal`].
    pub fn store(error: store::Error) -> ApiError {
        if error.is_unavailable() {
            tracing::warn!(error = %Escaped(&error), "The database cannot be reached: answering 503.");
            ApiError::unavailable()
        } else {
            ApiError::internal(error)
        }
    }
}

/// The `Retry-After` (seconds) of a 503 `unavailable`.
pub(super) const UNAVAILABLE_RETRY_AFTER: u16 = 5;

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> ApiError {
        ApiError::store(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            Json(json!({"code": self.code, "message": self.message, "details": self.details}));
        match self.retry_after {
            Some(seconds) => (
                self.status,
                [(header::RETRY_AFTER, seconds.to_string())],
                body,
            )
                .into_response(),
            None => (self.status, body).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection as _, Executor as _};

    /// A real `SQLITE_BUSY`: one connection holds the write lock, another with no busy timeout
    /// tries to write.
    async fn sqlite_busy() -> store::Error {
        let dir = std::env::temp_dir().join(format!("warden-busy-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("b.db").display());
        let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
        holder
            .execute("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .await
            .unwrap();
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        other.execute("PRAGMA busy_timeout = 0").await.unwrap();
        let error = other
            .execute("INSERT INTO t VALUES (2)")
            .await
            .expect_err("the write lock is held");
        drop((holder, other));
        let _ = std::fs::remove_dir_all(&dir);
        store::Error::Database(error)
    }

    /// Status, `Retry-After` and JSON body of `error` as answered.
    async fn answered(error: ApiError) -> (u16, Option<String>, Value) {
        let response = error.into_response();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry_after, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_reached_is_a_503_with_retry_after() {
        let unreachable = [
            store::Error::Database(sqlx::Error::PoolTimedOut),
            store::Error::Database(sqlx::Error::PoolClosed),
            store::Error::Database(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
            sqlite_busy().await,
        ];
        for error in unreachable {
            let shown = error.to_string();
            assert!(error.is_unavailable(), "{shown}");
            let (status, retry_after, body) = answered(ApiError::from(error)).await;
            assert_eq!(status, 503, "{shown}");
            assert_eq!(retry_after.as_deref(), Some("5"), "{shown}");
            assert_eq!(body["code"], "unavailable", "{shown}");
        }
    }

    #[tokio::test]
    async fn other_store_errors_stay_500_without_internals() {
        let dir = std::env::temp_dir().join(format!("warden-syntax-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("s.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let syntax = conn.execute("SELEKT 1").await.expect_err("not SQL");
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
        for error in [
            store::Error::Database(syntax),
            store::Error::UnknownState("zombie".into()),
        ] {
            assert!(!error.is_unavailable(), "{error}");
            let (status, retry_after, body) = answered(ApiError::from(error)).await;
            assert_eq!(status, 500);
            assert_eq!(retry_after, None);
            assert_eq!(body["code"], "internal");
            assert!(!body.to_string().contains("zombie"), "{body}");
            assert!(!body.to_string().contains("SELEKT"), "{body}");
        }
    }
}
