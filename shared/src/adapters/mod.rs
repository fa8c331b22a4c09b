//! Adapters behind the ports: in-memory ones for fast tests, and one module per AWS service.

pub mod aws;
pub mod dynamodb;
pub mod lambda;
pub mod memory;
pub mod provision;
pub mod s3;
pub mod secrets;
pub mod sqs;
