//! `?limit=&next_token=` on every list, and the `{"items": [...], "next_token": ...}` answer.

use serde::{Deserialize, Serialize};
use store::{Item, Query, StoreError, Table};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_token` of the previous page (of this same list, with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request("limit", format!("limit must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// The query with this page's size and start.
    pub fn apply(&self, query: Query) -> Result<Query, ApiError> {
        let query = query.limit(self.limit()?);
        let start = match &self.next_token {
            Some(t) => Some(
                store::cursor::decode(t, &query)
                    .map_err(|e| ApiError::bad_request("next_token", format!("next_token {e}")))?,
            ),
            None => None,
        };
        Ok(query.start(start))
    }
}

/// Reads one page of `query` (as [`ListParams::apply`] made it): its items and the `next_token`
/// of the page after it, bound to the same query. The store refusing the request as malformed
/// when it carries a start key is the client's token at fault (DynamoDB checks a start key
/// against the query: "The provided starting key is invalid", "... outside query boundaries"),
/// a 400 naming `next_token`; without one it is the server's own query, and a 500.
pub async fn fetch(table: &dyn Table, query: &Query) -> Result<(Vec<Item>, Option<String>), ApiError> {
    let page = table.query(query).await.map_err(|e| match e {
        StoreError::Invalid(why) if query.start.is_some() => {
            tracing::warn!(error = %why, "the store refused the start key of a next_token");
            ApiError::bad_request("next_token", format!("next_token {}", store::cursor::BadToken))
        }
        other => other.into(),
    })?;
    Ok((page.items, store::cursor::encode(page.last_key.as_ref(), query)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    /// Pass as `next_token` to get the next page; `null` on the last page.
    pub next_token: Option<String>,
}
