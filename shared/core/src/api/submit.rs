//! `POST /generate` (and `POST /augment`, `POST /upscale`, whose jobs go the same way): validate, check what the key may do, price, store the inputs, write
//! the job, queue it and nudge the worker.

use rand::RngExt;

use super::responses::{DryRunResponse, SubmitResponse, Submitted};
use super::{ApiError, ApiService};
use crate::domain::pacing::PacingState;
use crate::domain::request::{ValidationError, parse_augment, parse_submit, parse_upscale};
use crate::domain::turns::QueueSnapshot;
use crate::domain::{ApiKeyRecord, Job, JobError, Status, SubmitRequest, TaskId};
use crate::novelai::body;
use crate::objects::{input_key, mask_key};
use crate::ports::PortError;
use crate::ports::{QueueMessage, counters_and_pacing};
use crate::webhooks::WebhookUrl;

impl ApiService {
    /// `POST /generate` with the body's bytes (the API function bounds their size before
    /// they get here).
    pub async fn submit(&self, caller: &ApiKeyRecord, body: &[u8]) -> Result<Submitted, ApiError> {
        let mut req = parse_submit(body, &self.limits)?;
        self.permit(caller, &mut req)?;
        if !req.seed_given {
            // 0 asks NovelAI to choose and leaves the seed unrecorded: draw a real one.
            req.params.seed = self.draw(|r| r.random_range(1..=u32::MAX));
        }
        if req.dry_run {
            let encode = |i: &crate::domain::request::InputImage| {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &i.bytes)
            };
            let image_b64 = req.image.as_ref().map(encode);
            let mask_b64 = req.mask.as_ref().map(encode);
            let upstream = body::build(&req.params, image_b64.as_deref(), mask_b64.as_deref())
                .redacted()
                .to_json();
            return Ok(Submitted::DryRun(DryRunResponse {
                success: true,
                dry_run: true,
                message: "Dry run: nothing was queued".into(),
                request: upstream,
                cost: self.cost(&req.params, req.credentials.is_none()).await?,
                priority: req.lane.to_string(),
                warnings: req.warnings,
            }));
        }
        self.accept(caller, req).await
    }

    /// `POST /augment` (a Director tool on an image) with the body's bytes: a job of the
    /// same queue as a generation, answered as `POST /generate` answers.
    pub async fn submit_augment(
        &self,
        caller: &ApiKeyRecord,
        body: &[u8],
    ) -> Result<Submitted, ApiError> {
        let mut req = parse_augment(body, &self.limits)?;
        self.permit(caller, &mut req)?;
        self.accept(caller, req).await
    }

    /// `POST /upscale` (an image 2×) with the body's bytes, as [`ApiService::submit_augment`].
    pub async fn submit_upscale(
        &self,
        caller: &ApiKeyRecord,
        body: &[u8],
    ) -> Result<Submitted, ApiError> {
        let mut req = parse_upscale(body, &self.limits)?;
        self.permit(caller, &mut req)?;
        self.accept(caller, req).await
    }

    /// The submit of `route`.
    pub async fn submit_to(
        &self,
        route: SubmitRoute,
        caller: &ApiKeyRecord,
        body: &[u8],
    ) -> Result<Submitted, ApiError> {
        match route {
            SubmitRoute::Generate => self.submit(caller, body).await,
            SubmitRoute::Augment => self.submit_augment(caller, body).await,
            SubmitRoute::Upscale => self.submit_upscale(caller, body).await,
        }
    }

    /// Whether the key may send this request (test requests, its lanes), and the job's
    /// webhook URL checked.
    fn permit(&self, caller: &ApiKeyRecord, req: &mut SubmitRequest) -> Result<(), ApiError> {
        if req.is_test_request {
            if !self.settings.allow_test_requests {
                return Err(ApiError::Forbidden {
                    code: "test_requests_disabled",
                    field: Some("is_test_request"),
                    message: "test requests are turned off (ALLOW_TEST_REQUESTS)".into(),
                });
            }
            if !caller.allow_test {
                return Err(ApiError::Forbidden {
                    code: "test_requests_not_allowed",
                    field: Some("is_test_request"),
                    message: "this API key may not send test requests".into(),
                });
            }
        } else if !caller.lanes.contains(&req.lane) {
            return Err(ApiError::Forbidden {
                code: "priority_not_allowed",
                field: Some("priority"),
                message: format!("this API key may not use priority {}", req.lane),
            });
        }
        req.params.webhook_url = self.webhook_url(caller, req.params.webhook_url.take())?;
        Ok(())
    }

    /// Prices, admits, stores and queues an accepted request.
    async fn accept(
        &self,
        caller: &ApiKeyRecord,
        req: SubmitRequest,
    ) -> Result<Submitted, ApiError> {
        // Every limit before any expensive work; the job's price is held from here on
        // (a job on per-request credentials counts too: the budget bounds what a key asks).
        let cost = self.cost(&req.params, req.credentials.is_none()).await?;
        // One read of the lane counters and the pacing state serves the queue's bounds
        // and, once the job is queued, its position, its ETA and the day's count: nothing
        // read after the job is queued can fail its answer but the mean call time.
        let queue = counters_and_pacing(&*self.ports.jobs, &*self.ports.pacing).await?;
        let hold = self
            .admit(caller, &req.params, u64::from(cost.total), &queue.0)
            .await?;
        match self.queue_job(caller, req, cost, queue).await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                self.release_hold(caller, hold).await;
                Err(e)
            }
        }
    }

    /// Stores the inputs and the job and queues it (its limits passed, its price held).
    async fn queue_job(
        &self,
        caller: &ApiKeyRecord,
        mut req: crate::domain::SubmitRequest,
        cost: crate::domain::Cost,
        (counters, pacing): (QueueSnapshot, PacingState),
    ) -> Result<Submitted, ApiError> {
        let task_id = TaskId::from_random_bytes(self.draw(|r| r.random()));
        let now = self.clock.now();
        let mut job = Job::new(
            task_id.clone(),
            caller.key_id.clone(),
            req.lane,
            req.params,
            now,
        );

        let mut stored = [None, None];
        for (slot, input, key) in [
            (0, req.image.take(), input_key(&task_id)),
            (1, req.mask.take(), mask_key(&task_id)),
        ] {
            if let Some(input) = input {
                self.ports
                    .images
                    .put(&key, input.bytes.into(), input.content_type)
                    .await?;
                stored[slot] = Some(key);
            }
        }
        let [image_key, mask_key] = stored;
        self.store_vibes(job.params(), std::mem::take(&mut req.vibe_images))
            .await?;
        self.store_references(&task_id, std::mem::take(&mut req.reference_images))
            .await?;
        job.attach_inputs(image_key, mask_key);
        job.set_cost(cost);
        // Its owner's counters as read before: a store writes the mark only while they
        // still are, and polls then place the job among its owner's jobs from it.
        job.mark_entry(counters.entry_mark(job.lane(), job.owner()));
        self.ports.jobs.insert(&job).await?;
        let message = QueueMessage {
            task_id: task_id.clone(),
            credentials: req.credentials.take(),
            owner: Some(job.owner().to_string()),
        };
        if let Err(e) = self.ports.queue.send(job.lane(), &message).await {
            tracing::error!(task_id = %task_id, error = %e, "could not queue the job");
            let mut failed = job.clone();
            failed
                .fail(
                    JobError::new("enqueue_failed", "the job could not be queued"),
                    self.clock.now(),
                )
                .expect("a new job can fail");
            match self.ports.jobs.replace(&failed, Status::Pending).await {
                // The job moved on from PENDING: the worker received it, so the message
                // went out and only its answer was lost. The job is queued; answering an
                // error would make the client's retry queue (and pay for) a second one.
                Err(PortError::Conflict(_)) => {
                    tracing::warn!(task_id = %task_id, "the queue answered an error, but the worker has the job: it was queued");
                }
                Ok(()) => {
                    return Err(ApiError::Unavailable(
                        "the queue is unavailable; try again".into(),
                    ));
                }
                Err(e2) => {
                    tracing::error!(task_id = %task_id, error = %e2, "could not mark the unqueued job failed");
                    return Err(ApiError::Unavailable(
                        "the queue is unavailable; try again".into(),
                    ));
                }
            }
        }
        tracing::info!(task_id = %task_id, lane = %job.lane(), model = %job.params().model, owner = %job.owner(), webhook = job.params().webhook_url.is_some(), "job accepted");
        crate::metrics::job_accepted();
        if let Err(e) = self.ports.nudge.nudge().await {
            // The schedule drains the queue anyway.
            tracing::warn!(task_id = %task_id, error = %e, "could not nudge the worker");
        }
        // The job is queued: from here on nothing may turn the answer into an error, or
        // a client retrying it would queue (and pay for) a second one. Its position is
        // the counters read before it entered, with it counted.
        let mut warnings = req.warnings;
        let position = counters.position_on_entry(
            job.lane(),
            job.owner(),
            job.created_at().timestamp_millis(),
        );
        let queue_info = match self.estimate_at(&job, position, &pacing).await {
            Ok(q) => Some(q),
            Err(e) => {
                tracing::warn!(task_id = %task_id, error = %e, "queued; its ETA is unknown for now");
                warnings.push(after_queue_warning("queue_info", "the position"));
                None
            }
        };
        let rate_limit_info = Some(self.rate_limit_info(&pacing));
        let poll_after_seconds = queue_info
            .as_ref()
            .map_or(super::status::MIN_POLL_SECONDS, |q| {
                super::status::poll_after(q.estimated_wait)
            });
        Ok(Submitted::Queued(Box::new(SubmitResponse {
            success: true,
            status_url: format!("/task_status/{task_id}"),
            cancel_url: format!("/cancel_task/{task_id}"),
            task_id,
            message: "Task submitted".into(),
            status: job.status(),
            queue_info,
            rate_limit_info,
            cost,
            poll_after_seconds,
            warnings,
        })))
    }
}

/// The routes that submit a job: each queues one of the job kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitRoute {
    /// `POST /generate`.
    Generate,
    /// `POST /augment`.
    Augment,
    /// `POST /upscale`.
    Upscale,
}

/// What the answer says when a read after queuing failed.
fn after_queue_warning(field: &str, what: &str) -> crate::domain::request::Warning {
    crate::domain::request::Warning {
        field: field.into(),
        given: serde_json::Value::Null,
        sent: serde_json::Value::Null,
        message: format!("the task is queued; {what} could not be read just now (poll its status)"),
    }
}

impl ApiService {
    /// The job's webhook URL: the request's, else the key's default; checked against the
    /// rules of this deployment (https and a host name, unless `WEBHOOK_ALLOW_PRIVATE`).
    fn webhook_url(
        &self,
        caller: &ApiKeyRecord,
        given: Option<String>,
    ) -> Result<Option<String>, ApiError> {
        let allow_private = self.settings.webhooks.allow_private;
        let (url, from_key) = match given {
            Some(u) => (u, false),
            None => match &caller.webhook_url {
                Some(u) => (u.clone(), true),
                None => return Ok(None),
            },
        };
        match WebhookUrl::parse(&url, allow_private) {
            Ok(u) => Ok(Some(u.as_str().to_string())),
            Err(e) => {
                let message = if from_key {
                    format!("the API key's default {}", e.0)
                } else {
                    e.0
                };
                Err(ValidationError::invalid("webhook_url", message).into())
            }
        }
    }
}
