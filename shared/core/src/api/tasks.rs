//! `GET /tasks`: the caller's own tasks, newest first, a page at a time, with the same
//! fields as `GET /task_status` (presigned URLs only when asked: each one is signed work,
//! and no queue position: that is `task_status`'s job).

use super::responses::{StatusResponse, TaskList};
use super::{ApiError, ApiService};
use crate::domain::{ApiKeyRecord, Status, ValidationError};

/// Tasks per page when the client names no `limit`, and the most it may ask for.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// What `GET /tasks` was asked (its query string, read by the API function).
#[derive(Debug, Default, Clone)]
pub struct TaskQuery {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub include_urls: Option<String>,
}

impl ApiService {
    /// `GET /tasks`.
    pub async fn list_tasks(
        &self,
        caller: &ApiKeyRecord,
        q: &TaskQuery,
    ) -> Result<TaskList, ApiError> {
        let status = match q.status.as_deref() {
            None => None,
            Some(s) => Some(
                s.trim()
                    .to_ascii_uppercase()
                    .parse::<Status>()
                    .map_err(|()| {
                        ValidationError::invalid(
                            "status",
                            "status must be PENDING, STARTED, RETRY, SUCCESS, FAILURE or REVOKED",
                        )
                    })?,
            ),
        };
        let limit = match q.limit.as_deref() {
            None => DEFAULT_PAGE,
            Some(l) => l
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ValidationError::invalid("limit", format!("limit must be 1-{MAX_PAGE}"))
                })?,
        };
        let include_urls = match q.include_urls.as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                return Err(ValidationError::invalid(
                    "include_urls",
                    "include_urls must be true or false",
                )
                .into());
            }
        };
        let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
        if cursor.is_some_and(|c| c.len() > 2048) {
            return Err(ValidationError::invalid("cursor", "cursor is too long").into());
        }
        let page = self
            .ports
            .jobs
            .list_for_owner(&caller.key_id, status, limit, cursor)
            .await?;
        let mut tasks: Vec<StatusResponse> = Vec::with_capacity(page.jobs.len());
        for job in &page.jobs {
            tasks.push(self.describe(job, include_urls, None).await?);
        }
        Ok(TaskList {
            success: true,
            tasks,
            next_cursor: page.next,
        })
    }
}
