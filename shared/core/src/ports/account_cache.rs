//! The server-side NovelAI account as last read (tier, Anlas), so submits can price
//! without calling NovelAI.

use async_trait::async_trait;

use super::PortResult;
use crate::domain::account::AccountInfo;

/// The last read of the server-side account's subscription.
#[async_trait]
pub trait AccountCache: Send + Sync {
    /// Remembers the server-side account's subscription.
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()>;
    /// The server-side account's subscription, as last read.
    async fn load_account(&self) -> PortResult<Option<AccountInfo>>;
}
