//! Who a request is, and what each account has: the configured tokens (one account), the
//! login accounts (found by their access keys), the tokens `POST /user/login` hands out,
//! and every account's tier, Anlas balance and (Opus) usage gauge, which generations
//! draw on.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use crate::access_key::{access_key, normalise_email};
use crate::billing::price::{self, FREE_TIER};
use crate::billing::usage::DEFAULT_PERCENT;
use crate::billing::{Balance, NotEnoughAnlas, Quote, Spent, Subscriber, Usage, UsageStatus};
use crate::config::{Config, DEFAULT_ANLAS, DEFAULT_TIER};
use crate::generation::Generation;

/// One account of the fake. The configured tokens share [`AccountId::TOKENS`]; each login
/// account has its own. NovelAI's concurrency lock is per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(usize);

impl AccountId {
    /// The account every configured token belongs to.
    pub const TOKENS: AccountId = AccountId(0);

    /// The account's number in `GET /_fake/accounts` (0 for the tokens' account, then the
    /// login accounts in the order configured).
    pub fn index(self) -> usize {
        self.0
    }
}

/// An account's subscription, as of now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// 0 Paper, 1 Tablet, 2 Scroll, 3 Opus.
    pub tier: u8,
    pub balance: Balance,
    /// The usage gauge: Opus only.
    pub usage: Option<UsageStatus>,
}

impl Plan {
    /// Paid tiers are active (the fake has no lapsed subscriptions).
    pub fn active(&self) -> bool {
        self.tier > 0
    }
}

/// What one account has.
struct Holdings {
    tier: u8,
    balance: Balance,
    /// Opus only.
    usage: Option<Usage>,
}

impl Holdings {
    fn new(tier: u8, anlas: u64, now: Instant) -> Self {
        Self {
            tier,
            balance: Balance::of_total(tier, anlas),
            usage: (tier == FREE_TIER).then(|| Usage::new(DEFAULT_PERCENT, now)),
        }
    }

    fn plan(&mut self, now: Instant) -> Plan {
        Plan {
            tier: self.tier,
            balance: self.balance,
            usage: self.usage.as_mut().map(|u| u.status(now)),
        }
    }
}

/// What a generation cost an account, to log it or give it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub quote: Quote,
    pub spent: Spent,
    /// The free sample drew on the usage gauge.
    pub drew_usage: bool,
}

/// One account as `GET /_fake/accounts` lists it: no secrets (tokens only as a masked
/// prefix, no passwords, no access keys).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct AccountView {
    pub account: usize,
    /// The configured tokens' account: each token's first characters and `…`.
    pub tokens: Vec<String>,
    /// A login account's email, as configured.
    pub email: Option<String>,
    /// How many tokens logins handed out for it.
    pub logins: usize,
    pub tier: u8,
    pub active: bool,
    pub anlas: u64,
    pub fixed_anlas: u64,
    pub purchased_anlas: u64,
    pub usage: Option<UsageStatus>,
    /// The gauge's fraction behind `usage.percent`.
    pub usage_exact_percent: Option<f64>,
}

/// At most a third of a token (and 4 characters), then `…`.
pub fn masked(token: &str) -> String {
    let shown = (token.chars().count() / 3).min(4);
    let prefix: String = token.chars().take(shown).collect();
    format!("{prefix}…")
}

pub struct Accounts {
    tokens: Vec<String>,
    /// By [`AccountId`] index; `None` for the tokens' account.
    emails: Vec<Option<String>>,
    holdings: Mutex<Vec<Holdings>>,
    /// Access key → account: the key of the email as given and as the website sends it.
    keys: HashMap<String, AccountId>,
    /// Tokens handed out by logins.
    issued: Mutex<HashMap<String, AccountId>>,
    issued_count: AtomicU64,
}

impl Accounts {
    /// Derives every account's access keys (a few milliseconds each).
    pub fn new(config: &Config) -> Self {
        let now = Instant::now();
        let mut holdings = vec![Holdings::new(DEFAULT_TIER, DEFAULT_ANLAS, now)];
        let mut emails = vec![None];
        let mut keys = HashMap::new();
        for account in &config.accounts {
            let id = AccountId(holdings.len());
            holdings.push(Holdings::new(account.tier, account.anlas, now));
            emails.push(Some(account.email.clone()));
            for email in [account.email.clone(), normalise_email(&account.email)] {
                keys.insert(access_key(&email, &account.password), id);
            }
        }
        Self {
            tokens: config.tokens.clone(),
            emails,
            holdings: Mutex::new(holdings),
            keys,
            issued: Mutex::new(HashMap::new()),
            issued_count: AtomicU64::new(0),
        }
    }

    fn holdings(&self) -> MutexGuard<'_, Vec<Holdings>> {
        // Every change under the lock is a whole one: a panic elsewhere leaves it sound.
        self.holdings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issued(&self) -> MutexGuard<'_, HashMap<String, AccountId>> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account of a bearer token: a configured one, or one a login handed out.
    pub fn by_token(&self, token: &str) -> Option<AccountId> {
        if self.tokens.iter().any(|t| t == token) {
            return Some(AccountId::TOKENS);
        }
        self.issued().get(token).copied()
    }

    /// The login account of an email (as configured, or as the website normalises it).
    pub fn by_email(&self, email: &str) -> Option<AccountId> {
        let wanted = normalise_email(email);
        self.emails
            .iter()
            .position(|e| e.as_deref().is_some_and(|e| normalise_email(e) == wanted))
            .map(AccountId)
    }

    /// The account numbered `index` in `GET /_fake/accounts`.
    pub fn by_index(&self, index: usize) -> Option<AccountId> {
        (index < self.emails.len()).then_some(AccountId(index))
    }

    /// Every account.
    pub fn all(&self) -> Vec<AccountId> {
        (0..self.emails.len()).map(AccountId).collect()
    }

    pub fn plan(&self, id: AccountId) -> Plan {
        self.holdings()[id.0].plan(Instant::now())
    }

    /// Charges a generation: the quote for the account as it is now, the Anlas taken
    /// (fixed first) and, for a free V5 sample, the usage gauge drawn on. Nothing is
    /// taken when the balance is short.
    pub fn charge(
        &self,
        id: AccountId,
        g: &Generation,
        medium_step_factor: f64,
    ) -> Result<Charge, NotEnoughAnlas> {
        let now = Instant::now();
        let mut all = self.holdings();
        let h = &mut all[id.0];
        let who = Subscriber {
            tier: h.tier,
            active: h.tier > 0,
            usage_negative: h.usage.as_mut().is_some_and(|u| u.is_negative(now)),
        };
        let quote = price::quote(g, who, medium_step_factor);
        let spent = h.balance.charge(quote.anlas())?;
        let drew_usage = quote.free > 0 && quote.usage_limited;
        if drew_usage && let Some(usage) = h.usage.as_mut() {
            usage.spend(quote.per_image, now);
        }
        Ok(Charge {
            quote,
            spent,
            drew_usage,
        })
    }

    /// Charges a flat price (a vibe encode, an upscale): no free sample, no usage gauge.
    pub fn charge_flat(&self, id: AccountId, anlas: u64) -> Result<Spent, NotEnoughAnlas> {
        self.holdings()[id.0].balance.charge(anlas)
    }

    /// Gives back what a generation that failed was charged.
    pub fn refund(&self, id: AccountId, charge: &Charge) {
        let now = Instant::now();
        let mut all = self.holdings();
        let h = &mut all[id.0];
        h.balance.refund(charge.spent);
        if charge.drew_usage
            && let Some(usage) = h.usage.as_mut()
        {
            usage.give_back(charge.quote.per_image, now);
        }
    }

    /// Sets an account's Anlas (a test control).
    pub fn set_balance(&self, id: AccountId, balance: Balance) {
        self.holdings()[id.0].balance = balance;
    }

    /// The account's tier (for splitting a total into fixed and purchased).
    pub fn tier(&self, id: AccountId) -> u8 {
        self.holdings()[id.0].tier
    }

    /// Sets an Opus account's usage gauge (a test control); `false` for another tier,
    /// which has none.
    pub fn set_usage(&self, id: AccountId, percent: f64) -> bool {
        match self.holdings()[id.0].usage.as_mut() {
            Some(usage) => {
                usage.set(percent, Instant::now());
                true
            }
            None => false,
        }
    }

    /// Every account, for `GET /_fake/accounts`.
    pub fn views(&self) -> Vec<AccountView> {
        let now = Instant::now();
        let mut logins = vec![0; self.emails.len()];
        for id in self.issued().values() {
            logins[id.0] += 1;
        }
        let mut all = self.holdings();
        all.iter_mut()
            .enumerate()
            .map(|(i, h)| {
                let plan = h.plan(now);
                AccountView {
                    account: i,
                    tokens: if i == 0 {
                        self.tokens.iter().map(|t| masked(t)).collect()
                    } else {
                        Vec::new()
                    },
                    email: self.emails[i].clone(),
                    logins: logins[i],
                    tier: plan.tier,
                    active: plan.active(),
                    anlas: plan.balance.total(),
                    fixed_anlas: plan.balance.fixed,
                    purchased_anlas: plan.balance.purchased,
                    usage: plan.usage,
                    usage_exact_percent: h.usage.as_mut().map(|u| u.exact(now)),
                }
            })
            .collect()
    }

    /// Logs in with an access key: a fresh token for its account, or `None` for a key no
    /// account has.
    pub fn login(&self, key: &str) -> Option<String> {
        let id = *self.keys.get(key)?;
        let token = self.fresh_token();
        self.issued().insert(token.clone(), id);
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
    use crate::generation::validate;
    use serde_json::json;

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
        let tokens = accounts.plan(AccountId::TOKENS);
        assert_eq!((tokens.tier, tokens.balance.total()), (3, 10_000));
        assert_eq!(tokens.usage.map(|u| u.percent), Some(100));

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
        assert_eq!(accounts.by_email(" BOB.smith@example.com"), Some(bob));
        assert_eq!(accounts.by_index(bob.index()), Some(bob));
        let plan = accounts.plan(bob);
        assert_eq!((plan.tier, plan.balance.total(), plan.usage), (1, 5, None));

        let other = accounts
            .login(&access_key("test@example.com", "password123"))
            .unwrap();
        assert_ne!(accounts.by_token(&other), Some(bob));
        assert_eq!(
            accounts.login(&access_key("test@example.com", "password124")),
            None
        );
        assert_eq!(accounts.login(""), None);
        assert_eq!(
            (accounts.by_index(3), accounts.by_email("x@y.z")),
            (None, None)
        );
    }

    fn v5(n: u32) -> Generation {
        let body = json!({
            "input": "1girl", "model": "nai-diffusion-5-full", "action": "generate",
            "parameters": {
                "params_version": 4, "width": 832, "height": 1216, "scale": 7,
                "sampler": "k_euler_ancestral", "steps": 23, "n_samples": n, "seed": 1,
                "v4_prompt": {"caption": {"base_caption": "1girl", "char_captions": []}},
                "v4_negative_prompt": {"caption": {"base_caption": "", "char_captions": []}},
            }
        });
        validate(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn generations_are_charged_free_samples_draw_on_the_gauge() {
        let config = Config::default().with_account(Account::new("p@x.y", "pw").tier(1).anlas(30));
        let accounts = Accounts::new(&config);
        let opus = AccountId::TOKENS;
        let c = accounts.charge(opus, &v5(2), 0.8).unwrap();
        assert_eq!((c.quote.free, c.spent.total(), c.drew_usage), (1, 26, true));
        let view = &accounts.views()[0];
        assert_eq!(view.anlas, 10_000 - 26);
        let used = 100.0 - view.usage_exact_percent.unwrap();
        assert!((used - 100.0 / 1730.0).abs() < 1e-6, "{used}");
        accounts.refund(opus, &c);
        assert_eq!(accounts.views()[0].anlas, 10_000);

        // Exhausted: V5 is billed, the gauge left alone.
        assert!(accounts.set_usage(opus, -1.0));
        let c = accounts.charge(opus, &v5(1), 0.8).unwrap();
        assert_eq!(
            (c.quote.free, c.spent.total(), c.drew_usage),
            (0, 26, false)
        );
        let left = accounts.views()[0].usage_exact_percent.unwrap();
        assert!((left + 1.0).abs() < 1e-3, "only refilled: {left}");

        // Tablet, 30 Anlas: one image, then short and charged nothing.
        let tablet = accounts.by_email("p@x.y").unwrap();
        assert!(!accounts.set_usage(tablet, 50.0), "no gauge below Opus");
        assert_eq!(
            accounts.charge(tablet, &v5(1), 0.8).unwrap().spent.total(),
            26
        );
        assert_eq!(accounts.charge(tablet, &v5(1), 0.8), Err(NotEnoughAnlas));
        assert_eq!(accounts.plan(tablet).balance.total(), 4);
        accounts.set_balance(
            tablet,
            Balance {
                fixed: 1,
                purchased: 30,
            },
        );
        let c = accounts.charge(tablet, &v5(1), 0.8).unwrap();
        assert_eq!((c.spent.fixed, c.spent.purchased), (1, 25));
    }

    #[test]
    fn the_listing_shows_no_secrets() {
        let config = Config::default()
            .with_tokens(["pst-secret-token-123"])
            .with_account(
                Account::new("test@example.com", "password123")
                    .tier(2)
                    .anlas(1500),
            );
        let accounts = Accounts::new(&config);
        accounts.login(&access_key("test@example.com", "password123"));
        let views = accounts.views();
        assert_eq!(views[0].tokens, ["pst-…"]);
        assert_eq!(
            (views[1].email.as_deref(), views[1].logins),
            (Some("test@example.com"), 1)
        );
        assert_eq!(
            (views[1].fixed_anlas, views[1].purchased_anlas),
            (1000, 500)
        );
        assert_eq!((views[1].usage, views[1].usage_exact_percent), (None, None));
        let text = serde_json::to_string(&views).unwrap();
        assert!(
            !text.contains("secret") && !text.contains("password"),
            "{text}"
        );
        assert_eq!(masked("pst-a"), "p…");
        assert_eq!(masked("ab"), "…");
    }
}
