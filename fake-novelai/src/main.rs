//! The fake NovelAI as a program: `fake-novelai --port 8089 --tokens pst-… --account
//! EMAIL:PASSWORD`. It prints `fake NovelAI listening on http://127.0.0.1:<port>` once it
//! listens, then serves until interrupted.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use fake_novelai::{Account, Config};

#[derive(Parser, Debug)]
#[command(name = "fake-novelai", about = "A fake NovelAI API on 127.0.0.1")]
struct Args {
    /// Port to listen on (0 picks a free one; the address is printed on stdout).
    #[arg(long, env = "FAKE_NOVELAI_PORT", default_value_t = 0)]
    port: u16,
    /// Accepted bearer tokens (comma-separated); their subscription is Opus, 10000 Anlas.
    #[arg(
        long,
        env = "FAKE_NOVELAI_TOKENS",
        value_delimiter = ',',
        default_value = fake_novelai::DEFAULT_TOKEN,
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// An account that can log in: EMAIL:PASSWORD, EMAIL:PASSWORD:TIER or
    /// EMAIL:PASSWORD:TIER:ANLAS (tier 0-3, default 3 = Opus; Anlas default 10000).
    /// Repeatable; comma-separated in the environment. A password that itself ends in
    /// `:<0-3>` or `:<0-3>:<digits>` needs TIER:ANLAS spelled out.
    // Parsed after clap, whose errors would quote the value, password and all.
    #[arg(
        long = "account",
        env = "FAKE_NOVELAI_ACCOUNTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    accounts: Vec<String>,
    /// How long each generation takes, in milliseconds.
    #[arg(long, env = "FAKE_NOVELAI_LATENCY_MS", default_value_t = 200)]
    latency_ms: u64,
    /// The factor on V5 Full Medium's per-step price (0.8: 15 Anlas at 832x1216; 0.95:
    /// the 17 of October 2026's clients).
    #[arg(long, env = "FAKE_NOVELAI_MEDIUM_STEP_FACTOR", default_value_t = fake_novelai::config::DEFAULT_MEDIUM_STEP_FACTOR)]
    medium_step_factor: f64,
}

impl TryFrom<Args> for Config {
    /// Which account was refused and why, without its text.
    type Error = String;

    fn try_from(a: Args) -> Result<Self, String> {
        let accounts = a
            .accounts
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                spec.parse::<Account>()
                    .map_err(|e| format!("account {} of {}: {e}", i + 1, a.accounts.len()))
            })
            .collect::<Result<_, _>>()?;
        if !fake_novelai::controls::valid_medium_step_factor(a.medium_step_factor) {
            return Err("--medium-step-factor must be a number from 0 to 10".into());
        }
        Ok(Config {
            port: a.port,
            tokens: a.tokens,
            accounts,
            latency: Duration::from_millis(a.latency_ms),
            medium_step_factor: a.medium_step_factor,
        })
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = match Config::try_from(Args::parse()) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("error: {why}");
            std::process::exit(2);
        }
    };
    let fake = fake_novelai::spawn(config).await?;
    println!("fake NovelAI listening on {}", fake.url());
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    fake.stop().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_the_config() {
        let config: Config = Args::parse_from([
            "fake-novelai",
            "--port",
            "8089",
            "--tokens",
            "pst-a,pst-b",
            "--account",
            "a@b.c:pw",
            "--account",
            "d@e.f:pw:1:25",
            "--latency-ms",
            "5",
        ])
        .try_into()
        .unwrap();
        assert_eq!(config.port, 8089);
        assert_eq!(config.tokens, ["pst-a", "pst-b"]);
        assert_eq!(
            config.accounts,
            [
                Account::new("a@b.c", "pw"),
                Account::new("d@e.f", "pw").tier(1).anlas(25)
            ]
        );
        assert_eq!(config.latency, Duration::from_millis(5));
        assert_eq!(config.medium_step_factor, 0.8);
        let factor: Config = Args::parse_from(["fake-novelai", "--medium-step-factor", "0.95"])
            .try_into()
            .unwrap();
        assert_eq!(factor.medium_step_factor, 0.95);
        for bad in ["-1", "NaN", "inf", "11"] {
            let flag = format!("--medium-step-factor={bad}");
            let refused = Config::try_from(Args::parse_from(["fake-novelai", flag.as_str()]));
            assert!(refused.is_err(), "{bad}");
        }
        let refused = Config::try_from(Args::parse_from([
            "fake-novelai",
            "--account",
            "a@b.c:pw",
            "--account",
            ":hunter2",
        ]));
        assert_eq!(
            refused.err().as_deref(),
            Some("account 2 of 2: expected EMAIL:PASSWORD[:TIER[:ANLAS]]")
        );
    }
}
