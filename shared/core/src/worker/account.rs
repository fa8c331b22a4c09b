//! Keeping the account cache fresh: the server-side account (tier, Anlas, V5 usage) is read
//! again when the cached read is an hour old, and at once after NovelAI says 402, so
//! prices and `GET /rate_limit_status` follow what the account really has.

use super::Worker;

impl Worker {
    /// Reads the server-side account again if the cache is stale (or `force`). A failure is
    /// logged and changes nothing: the cache only informs prices.
    pub(super) async fn refresh_account(&self, force: bool) {
        let now = self.clock.now();
        match self.ports.account.load_account().await {
            Ok(Some(cached)) if !force && !cached.is_stale(now) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the account cache");
                return;
            }
        }
        let credentials = match self.ports.secrets.get().await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the NovelAI credentials");
                return;
            }
        };
        match self.ports.upstream.subscription(&credentials).await {
            Ok(mut info) => {
                info.checked_at = now;
                match self.ports.account.save_account(&info).await {
                    Ok(()) => tracing::info!(
                        tier = info.tier_name(),
                        anlas = info.anlas,
                        v5_usage_percent = info.v5_usage.map(|u| u.percent),
                        "account refreshed"
                    ),
                    Err(e) => tracing::warn!(error = %e, "could not save the account"),
                }
            }
            Err(e) => {
                let error = crate::novelai::scrub(&e.to_string());
                tracing::warn!(code = e.code(), error = %error, "could not read the NovelAI account")
            }
        }
    }
}
