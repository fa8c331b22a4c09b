//! What the fake is started with: the CLI flags of the binary, or a [`Config`] built in a
//! test.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::billing::price::DEFAULT_MEDIUM_STEP_FACTOR;

/// The token every fresh [`Config`] (and the binary, without `--tokens`) accepts.
pub const DEFAULT_TOKEN: &str = "pst-fake-token";
/// How long a generation takes unless told otherwise.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(200);
/// The Anlas an account has unless told otherwise (an Opus month's). An Opus account's
/// V5 usage gauge starts full (100 %).
pub const DEFAULT_ANLAS: u64 = 10_000;
/// Opus.
pub const DEFAULT_TIER: u8 = 3;

/// How a fake starts. [`Config::default`] is what the binary runs with no flags: a free
/// port, the token [`DEFAULT_TOKEN`], no login account, 200 ms per generation, V5 Full
/// Medium priced with [`DEFAULT_MEDIUM_STEP_FACTOR`].
///
/// `Debug` shows how many tokens there are, never the tokens.
#[derive(Clone)]
pub struct Config {
    /// The port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// Bearer tokens that are accepted as they are (like `pst-…` persistent tokens). They
    /// all belong to one Opus account with [`DEFAULT_ANLAS`] Anlas.
    pub tokens: Vec<String>,
    /// Accounts that can log in with their access key (`POST /user/login`).
    pub accounts: Vec<Account>,
    /// How long each generation takes (changeable at run time with `PUT /_fake/config`).
    pub latency: Duration,
    /// The factor on V5 Full Medium's per-step price (see [`crate::billing::price`];
    /// changeable at run time with `PUT /_fake/config`).
    pub medium_step_factor: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            tokens: vec![DEFAULT_TOKEN.to_string()],
            accounts: Vec::new(),
            latency: DEFAULT_LATENCY,
            medium_step_factor: DEFAULT_MEDIUM_STEP_FACTOR,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("tokens", &format_args!("<{} redacted>", self.tokens.len()))
            .field("accounts", &self.accounts)
            .field("latency", &self.latency)
            .field("medium_step_factor", &self.medium_step_factor)
            .finish()
    }
}

impl Config {
    /// The accepted tokens, instead of [`DEFAULT_TOKEN`].
    pub fn with_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// One more account that can log in.
    pub fn with_account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// How long each generation takes.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The factor on V5 Full Medium's per-step price.
    pub fn with_medium_step_factor(mut self, factor: f64) -> Self {
        self.medium_step_factor = factor;
        self
    }

    /// The port on 127.0.0.1 (0, the default, picks a free one).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

/// An account that logs in with its email and password (through the access key). `Debug`
/// does not show the password.
///
/// As a string (the binary's `--account`): `EMAIL:PASSWORD`, `EMAIL:PASSWORD:TIER` or
/// `EMAIL:PASSWORD:TIER:ANLAS`, tier 0–3 (0 Paper, 1 Tablet, 2 Scroll, 3 Opus, the
/// default), Anlas 10000 by default. A password that itself ends in `:<0-3>` or
/// `:<0-3>:<digits>` needs TIER:ANLAS spelled out.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub email: String,
    pub password: String,
    pub tier: u8,
    pub anlas: u64,
}

impl Account {
    /// An Opus account with [`DEFAULT_ANLAS`] Anlas.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            tier: DEFAULT_TIER,
            anlas: DEFAULT_ANLAS,
        }
    }

    /// Another tier (0 Paper, 1 Tablet, 2 Scroll, 3 Opus).
    pub fn tier(mut self, tier: u8) -> Self {
        self.tier = tier;
        self
    }

    /// Another Anlas balance.
    pub fn anlas(mut self, anlas: u64) -> Self {
        self.anlas = anlas;
        self
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("tier", &self.tier)
            .field("anlas", &self.anlas)
            .finish()
    }
}

/// Why an account spec was refused (never quoting the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpecError;

impl fmt::Display for AccountSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected EMAIL:PASSWORD[:TIER[:ANLAS]]")
    }
}

impl std::error::Error for AccountSpecError {}

impl FromStr for Account {
    type Err = AccountSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (email, rest) = s.split_once(':').ok_or(AccountSpecError)?;
        let tier = |t: &str| t.parse::<u8>().ok().filter(|t| *t <= 3);
        let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        let (password, tier, anlas) = match parts.as_slice() {
            [anlas, t, password] if tier(t).is_some() && anlas.parse::<u64>().is_ok() => (
                *password,
                tier(t).unwrap_or(DEFAULT_TIER),
                anlas.parse().unwrap_or(DEFAULT_ANLAS),
            ),
            _ => match rest.rsplit_once(':') {
                Some((password, t)) if tier(t).is_some() => {
                    (password, tier(t).unwrap_or(DEFAULT_TIER), DEFAULT_ANLAS)
                }
                _ => (rest, DEFAULT_TIER, DEFAULT_ANLAS),
            },
        };
        if email.trim().is_empty() || password.is_empty() {
            return Err(AccountSpecError);
        }
        Ok(Account {
            email: email.trim().to_string(),
            password: password.to_string(),
            tier,
            anlas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Account, AccountSpecError> {
        s.parse()
    }

    #[test]
    fn specs_parse_with_optional_tier_and_anlas() {
        assert_eq!(parse("a@b.c:pw"), Ok(Account::new("a@b.c", "pw")));
        assert_eq!(
            parse(" a@b.c :pw:1"),
            Ok(Account::new("a@b.c", "pw").tier(1))
        );
        assert_eq!(
            parse("a@b.c:p:w:0:25"),
            Ok(Account::new("a@b.c", "p:w").tier(0).anlas(25))
        );
        // Not a tier: part of the password.
        assert_eq!(parse("a@b.c:pw:7"), Ok(Account::new("a@b.c", "pw:7")));
        assert_eq!(parse("a@b.c:pw:1:x"), Ok(Account::new("a@b.c", "pw:1:x")));
        for bad in ["no-colon", "a@b.c:", ":pw", "  :pw"] {
            assert_eq!(parse(bad), Err(AccountSpecError), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let account = parse("a@b.c:hunter2").unwrap();
        let config = Config::default()
            .with_tokens(["pst-secret-token"])
            .with_account(account.clone());
        let shown = format!("{account:?} {config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pst-secret"),
            "{shown}"
        );
        assert!(shown.contains("a@b.c"), "{shown}");
        assert_eq!(
            AccountSpecError.to_string(),
            "expected EMAIL:PASSWORD[:TIER[:ANLAS]]"
        );
    }

    #[test]
    fn the_default_is_the_binarys() {
        let c = Config::default();
        assert_eq!(
            (c.port, c.tokens, c.accounts.len(), c.latency),
            (
                0,
                vec![DEFAULT_TOKEN.to_string()],
                0,
                Duration::from_millis(200)
            )
        );
    }
}
