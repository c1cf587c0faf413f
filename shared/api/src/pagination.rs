//! `?limit=&next_token=` on every list, and the `{"items": [...], "next_token": ...}` answer.

use serde::{Deserialize, Serialize};
use store::Query;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
    /// The `next_token` of the previous page.
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    /// Pass as `next_token` to get the next page; `null` on the last page.
    pub next_token: Option<String>,
}
