//! The domain, pure: jobs and their transitions, API keys, credentials, the model tables,
//! request validation, pacing (windows, slots, the estimate), pricing and fair turns. No SDK, no I/O;
//! time is passed in, randomness comes from the caller's RNG.

pub mod account;
pub mod apikey;
pub mod credentials;
pub mod director;
pub mod job;
pub mod models;
pub mod pacing;
pub mod pricing;
pub mod request;
pub mod sizes;
pub mod turns;

pub use apikey::{ApiKey, ApiKeyRecord, KeyLimits, KeyUnusable, LimitRefusal};
pub use credentials::Credentials;
pub use director::JobKind;
pub use job::{AttemptError, IllegalTransition, Job, JobError, JobRecord, Lane, Status, TaskId};
pub use pricing::Cost;
pub use request::{GenerationParams, SubmitRequest, ValidationError};
