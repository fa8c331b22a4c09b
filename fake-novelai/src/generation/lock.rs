//! NovelAI's concurrency lock: one generation per account at a time; another one started
//! meanwhile is answered 429 "Concurrent generation is locked".

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use crate::accounts::AccountId;

#[derive(Default)]
pub struct Locks {
    busy: Mutex<HashSet<AccountId>>,
}

/// The lock of one account, freed when dropped (however the generation ends).
pub struct Held<'a> {
    locks: &'a Locks,
    account: AccountId,
}

impl Locks {
    fn set(&self) -> MutexGuard<'_, HashSet<AccountId>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's lock, or `None` while another generation holds it.
    pub fn try_hold(&self, account: AccountId) -> Option<Held<'_>> {
        let inserted = self.set().insert(account);
        // Built only when taken: dropping a `Held` frees the account.
        inserted.then(|| Held {
            locks: self,
            account,
        })
    }
}

/// The lock of one account held by an answer that outlives its handler (a stream's body):
/// it keeps the fake's state alive, and frees the account when dropped.
pub struct OwnedHeld {
    state: crate::server::FakeState,
    account: AccountId,
}

impl OwnedHeld {
    /// The account's lock, or `None` while another generation holds it.
    pub fn try_hold(state: &crate::server::FakeState, account: AccountId) -> Option<Self> {
        let inserted = state.locks().set().insert(account);
        inserted.then(|| OwnedHeld {
            state: state.clone(),
            account,
        })
    }
}

impl Drop for OwnedHeld {
    fn drop(&mut self) {
        self.state.locks().set().remove(&self.account);
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.locks.set().remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_account_until_dropped() {
        let locks = Locks::default();
        let held = locks.try_hold(AccountId::TOKENS).unwrap();
        assert!(locks.try_hold(AccountId::TOKENS).is_none());
        assert!(
            locks.try_hold(AccountId::TOKENS).is_none(),
            "a refused hold does not free the lock"
        );
        drop(held);
        assert!(locks.try_hold(AccountId::TOKENS).is_some());
    }
}
