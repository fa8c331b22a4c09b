//! The dead-letter sweep: a job whose queue message failed too many deliveries is marked
//! failed with the reason, so nothing accepted is silently lost; one whose attempt was
//! answered (the answer is stored) is finished from it instead.

use super::{DrainReport, Outcome, Worker};
use crate::domain::JobError;
use crate::ports::{MAX_RECEIVE_COUNT, PortError};
use crate::webhooks::EventType;

impl Worker {
    /// Marks the jobs whose messages reached the dead-letter queue as failed, with the
    /// reason, so nothing accepted is silently lost.
    ///
    /// One message whose job cannot be read or written is logged with its task id and
    /// left for a later sweep; the others go on (a poisoned message never stops the sweep).
    pub(super) async fn sweep_dead_letters(
        &self,
        report: &mut DrainReport,
    ) -> Result<(), PortError> {
        while let Some(delivery) = self.ports.queue.receive_dead_letter().await? {
            if let Err(e) = self.sweep_one(&delivery, report).await {
                tracing::error!(task_id = %delivery.message.task_id, error = %e, "could not settle a dead letter; it stays for the next sweep");
                report.errors += 1;
            }
        }
        Ok(())
    }

    async fn sweep_one(
        &self,
        delivery: &crate::ports::Delivery,
        report: &mut DrainReport,
    ) -> Result<(), PortError> {
        {
            let task_id = &delivery.message.task_id;
            if let Some(mut job) = self.ports.jobs.get(task_id).await?
                && !job.status().is_terminal()
            {
                if let Some(answered) = self.load_answer(&job).await? {
                    // Paid for and stored: finish it from its answer rather than fail it.
                    if let Outcome::Succeeded =
                        self.finish_succeeded(job, answered, delivery).await?
                    {
                        report.succeeded += 1;
                    }
                    return Ok(());
                }
                let expected = job.status();
                job.fail(
                    JobError::new(
                        "dead_letter",
                        format!(
                            "the job's queue message failed {} deliveries",
                            MAX_RECEIVE_COUNT
                        ),
                    ),
                    self.clock.now(),
                )
                .expect("an unfinished job can fail");
                match self.ports.jobs.replace(&job, expected).await {
                    Ok(()) => {
                        crate::metrics::job_failed("dead_letter");
                        self.settle(&job, None).await;
                        tracing::error!(task_id = %task_id, "job failed: its message reached the dead-letter queue");
                        report.failed += 1;
                        self.emit(&job, EventType::Failed).await;
                    }
                    Err(PortError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            self.ports.queue.ack(delivery).await?;
        }
        Ok(())
    }
}
