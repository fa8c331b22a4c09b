//! One module per AWS service, each implementing the ports that live there: DynamoDB
//! (jobs, keys, and the state table's lease, pacing, call statistics and account cache),
//! SQS (the lane queues), S3 (images), Secrets Manager (NovelAI credentials) and Lambda
//! (the worker nudge).

mod clients;
pub mod dynamodb;
pub mod lambda;
mod parts_body;
pub mod s3;
pub mod secrets;
pub mod sqs;
pub mod webhook_queue;

pub use clients::{AwsClients, SdkTimeouts, describe};
