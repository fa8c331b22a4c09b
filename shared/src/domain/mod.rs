//! Pure domain code: no SDK, no I/O. Time comes from a [`Clock`], randomness from an
//! injected seedable RNG.

pub mod account;
pub mod apikey;
pub mod clock;
pub mod credentials;
pub mod job;
pub mod models;
pub mod pacing;
pub mod request;

pub use apikey::{ApiKey, ApiKeyRecord};
pub use clock::{Clock, ManualClock, Sleeper, SystemClock, TokioSleeper};
pub use credentials::Credentials;
pub use job::{Job, JobError, Lane, Status, TaskId};
pub use request::{GenerationParams, SubmitRequest, ValidationError};
