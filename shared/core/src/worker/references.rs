//! A job's Precise Reference images, read back from the store (fitted at submit) as the
//! generation sends them.

use base64::Engine as _;

use super::Worker;
use crate::domain::{Job, JobError};
use crate::objects::reference_key;
use crate::ports::PortError;

impl Worker {
    /// Each reference's PNG, base64, in order; a job error when one is gone.
    pub(super) async fn reference_images(
        &self,
        job: &Job,
    ) -> Result<Result<Vec<String>, JobError>, PortError> {
        let mut out = Vec::with_capacity(job.params().references.len());
        for i in 0..job.params().references.len() {
            match self
                .ports
                .images
                .get(&reference_key(job.task_id(), i))
                .await?
            {
                Some(png) => out.push(base64::engine::general_purpose::STANDARD.encode(png)),
                None => {
                    return Ok(Err(JobError::new(
                        "input_missing",
                        format!("reference {i}'s image is gone"),
                    )));
                }
            }
        }
        Ok(Ok(out))
    }
}
