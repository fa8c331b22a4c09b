//! The pacing state: the next allowed start and the day's count, versioned so a slot is
//! reserved with one conditional write.

use async_trait::async_trait;

use super::PortResult;
use crate::domain::pacing::PacingState;

/// The pacing state, written only by compare-and-set on its version.
#[async_trait]
pub trait PacingStore: Send + Sync {
    /// The pacing state (next allowed start, the day's count) and its version; version 0
    /// means it was never written.
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)>;
    /// Writes the pacing state as version `expected + 1`, only if the stored version is still
    /// `expected` (one conditional write: two racing workers can never both take a slot);
    /// `Conflict` otherwise.
    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()>;
}
