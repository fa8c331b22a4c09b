//! Who a request is: the configured tokens, the access keys of the login accounts, and the
//! tokens `POST /user/login` hands out.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::access_key::{access_key, normalise_email};
use crate::config::{Config, DEFAULT_ANLAS};

/// One account of the fake. The configured tokens share [`AccountId::TOKENS`]; each login
/// account has its own. NovelAI's concurrency lock is per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(usize);

impl AccountId {
    /// The account every configured token belongs to.
    pub const TOKENS: AccountId = AccountId(0);
}

/// What an account's subscription looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// 0 Paper, 1 Tablet, 2 Scroll, 3 Opus.
    pub tier: u8,
    pub anlas: u64,
}

/// The plan of the configured tokens' account.
pub const TOKENS_PLAN: Plan = Plan {
    tier: 3,
    anlas: DEFAULT_ANLAS,
};

pub struct Accounts {
    tokens: Vec<String>,
    /// By [`AccountId`] index.
    plans: Vec<Plan>,
    /// Access key → account: the key of the email as given and as the website sends it.
    keys: HashMap<String, AccountId>,
    /// Tokens handed out by logins.
    issued: Mutex<HashMap<String, AccountId>>,
    issued_count: AtomicU64,
}

impl Accounts {
    /// Derives every account's access keys (a few milliseconds each).
    pub fn new(config: &Config) -> Self {
        let mut plans = vec![TOKENS_PLAN];
        let mut keys = HashMap::new();
        for account in &config.accounts {
            let id = AccountId(plans.len());
            plans.push(Plan {
                tier: account.tier,
                anlas: account.anlas,
            });
            for email in [account.email.clone(), normalise_email(&account.email)] {
                keys.insert(access_key(&email, &account.password), id);
            }
        }
        Self {
            tokens: config.tokens.clone(),
            plans,
            keys,
            issued: Mutex::new(HashMap::new()),
            issued_count: AtomicU64::new(0),
        }
    }

    /// The account of a bearer token: a configured one, or one a login handed out.
    pub fn by_token(&self, token: &str) -> Option<AccountId> {
        if self.tokens.iter().any(|t| t == token) {
            return Some(AccountId::TOKENS);
        }
        self.issued.lock().ok()?.get(token).copied()
    }

    pub fn plan(&self, id: AccountId) -> Plan {
        self.plans[id.0]
    }

    /// Logs in with an access key: a fresh token for its account, or `None` for a key no
    /// account has.
    pub fn login(&self, key: &str) -> Option<String> {
        let id = *self.keys.get(key)?;
        let token = self.fresh_token();
        self.issued.lock().ok()?.insert(token.clone(), id);
        Some(token)
    }

    /// A new token in the shape of NovelAI's JWTs (`eyJ…`), unguessable enough for a fake:
    /// 128 bits from std's randomly seeded hasher.
    fn fresh_token(&self) -> String {
        let n = self.issued_count.fetch_add(1, Ordering::SeqCst);
        let mut hex = String::from("eyJfake.");
        for part in 0..2u64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(part);
            hex.push_str(&format!("{:016x}", h.finish()));
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Account;

    #[test]
    fn tokens_and_logins_map_to_their_accounts() {
        let config = Config::default()
            .with_tokens(["pst-a", "pst-b"])
            .with_account(
                Account::new("Bob.Smith@Example.COM", "Pa$$w0rd!")
                    .tier(1)
                    .anlas(5),
            )
            .with_account(Account::new("test@example.com", "password123"));
        let accounts = Accounts::new(&config);
        assert_eq!(accounts.by_token("pst-a"), Some(AccountId::TOKENS));
        assert_eq!(accounts.by_token("pst-b"), Some(AccountId::TOKENS));
        assert_eq!(accounts.by_token("pst-c"), None);
        assert_eq!(accounts.plan(AccountId::TOKENS), TOKENS_PLAN);

        // Bob's key as typed and lower-cased: the same account.
        let typed = access_key("Bob.Smith@Example.COM", "Pa$$w0rd!");
        let lower = access_key("bob.smith@example.com", "Pa$$w0rd!");
        let (t1, t2) = (
            accounts.login(&typed).unwrap(),
            accounts.login(&lower).unwrap(),
        );
        assert_ne!(t1, t2, "a fresh token per login");
        assert!(t1.starts_with("eyJfake.") && t1.len() == 8 + 32, "{t1}");
        let bob = accounts.by_token(&t1).unwrap();
        assert_eq!(accounts.by_token(&t2), Some(bob));
        assert_eq!(accounts.plan(bob), Plan { tier: 1, anlas: 5 });

        let other = accounts
            .login(&access_key("test@example.com", "password123"))
            .unwrap();
        assert_ne!(accounts.by_token(&other), Some(bob));
        assert_eq!(
            accounts.login(&access_key("test@example.com", "password124")),
            None
        );
        assert_eq!(accounts.login(""), None);
    }
}
