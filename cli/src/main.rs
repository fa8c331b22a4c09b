//! `naiq`: the operator's command line. It uses the same environment as the functions
//! (`KEYS_TABLE`, `NOVELAI_SECRET_ID`, `AWS_ENDPOINT_URL` for the local emulator, …), and is
//! also a client of the API (`naiq generate`, `tasks`, `status`, `cancel`, `download`).

mod client;
mod ops;

mod webhook_secret;

mod keys;

use std::sync::Arc;

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::{DynamoJobStore, DynamoKeyStore, DynamoStateStore};
use naiq_adapters::aws::secrets::SecretsManagerStore;
use naiq_adapters::novelai::NovelAiClient;
use naiq_adapters::provision::{Names, provision};
use naiq_core::domain::Credentials;
use naiq_core::novelai::access_key as auth;
use naiq_core::ports::{AccountCache, SecretStore, Upstream};

use keys::KeysCommand;

#[derive(Parser)]
#[command(
    name = "naiq",
    version,
    about = "Operate a naiq deployment (or the local stack)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API keys for clients.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The server-side NovelAI credentials, kept in Secrets Manager.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// The deployment's health at a glance.
    Ops {
        #[command(subcommand)]
        command: OpsCommand,
    },
    /// The local stack.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[derive(Subcommand)]
enum CredentialsCommand {
    /// Stores credentials. The token (or, with --email, the password) is read from a
    /// hidden prompt, or from standard input when it is not a terminal; never from argv.
    Set {
        /// Log in with this email and a password instead of a token.
        #[arg(long)]
        email: Option<String>,
    },
    /// Shows the stored credentials, masked.
    Show,
    /// Logs in with the stored credentials and reads the subscription: tier and Anlas.
    Check,
    /// Prints the 64-character access key for an email and a password (read from a hidden
    /// prompt or standard input): a debugging aid.
    DeriveKey {
        #[arg(long)]
        email: String,
        /// Use the email exactly as typed (by default it is lower-cased, as the web client does).
        #[arg(long)]
        raw_email: bool,
    },
}

#[derive(Subcommand)]
enum OpsCommand {
    /// Today's calls against the limit, the windows and the next slot, waiting jobs per
    /// lane, the last day's failures by code, dead letters, and the NovelAI account.
    Status {
        /// Prints the figures as JSON instead of the screen.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Creates the tables, queues, bucket and secret of template.yaml on the emulator and
    /// prints their names as `export NAME=value` lines.
    Provision {
        #[arg(long, default_value = "naiq-local")]
        prefix: String,
    },
}

fn env(name: &str) -> Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("{name} is not set (it names the resource to use)"))
}

/// Reads one secret: hidden prompt on a terminal, else the first line of standard input.
fn read_secret(prompt: &str) -> Result<String> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let value = value.trim_end_matches(['\r', '\n']).to_string();
    if value.trim().is_empty() {
        bail!("nothing was entered");
    }
    Ok(value)
}

#[tokio::main]
async fn main() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    if let Command::Client(command) = cli.command {
        return client::run(command).await;
    }
    let clients = AwsClients::from_env().await;
    match cli.command {
        Command::Keys { command } => {
            let settings = naiq_core::config::Settings::from_lookup(&|k| std::env::var(k).ok())?;
            let state = Arc::new(DynamoStateStore::new(
                clients.dynamodb.clone(),
                env("STATE_TABLE")?,
            ));
            let ports = naiq_core::admin::KeyPorts {
                keys: Arc::new(DynamoKeyStore::new(
                    clients.dynamodb.clone(),
                    env("KEYS_TABLE")?,
                )),
                jobs: Arc::new(DynamoJobStore::new(
                    clients.dynamodb.clone(),
                    env("JOBS_TABLE")?,
                )),
                ledger: state,
            };
            let state_table = env("STATE_TABLE")?;
            let issue = |key_id: String| {
                let (clients, table) = (&clients, state_table.clone());
                async move { webhook_secret::issue(clients, &table, &key_id).await }
            };
            keys::run(keys::admin(ports, settings.pacing), command, issue).await?;
        }
        Command::Credentials { command } => {
            // The secret is named only for the commands that use it.
            let store = || -> Result<SecretsManagerStore> {
                Ok(SecretsManagerStore::new(
                    clients.secrets.clone(),
                    env("NOVELAI_SECRET_ID")?,
                ))
            };
            match command {
                CredentialsCommand::DeriveKey { email, raw_email } => {
                    let password = read_secret("NovelAI password: ")?;
                    let email = if raw_email {
                        email
                    } else {
                        auth::normalise_email(&email)
                    };
                    println!("{}", auth::access_key(&email, &password));
                }
                CredentialsCommand::Set { email } => {
                    let credentials = match email {
                        Some(email) => Credentials::Login {
                            email: email.trim().to_string(),
                            password: read_secret("NovelAI password: ")?,
                        },
                        None => Credentials::Token {
                            token: read_secret("NovelAI token (pst-…): ")?.trim().to_string(),
                        },
                    };
                    store()?.put(&credentials).await?;
                    eprintln!("Stored {}.", credentials.masked());
                }
                CredentialsCommand::Show => match store()?.get().await? {
                    Some(c) => println!("{}", c.masked()),
                    None => println!("no credentials set (naiq credentials set)"),
                },
                CredentialsCommand::Check => {
                    let Some(credentials) = store()?.get().await? else {
                        bail!("no credentials set (naiq credentials set)");
                    };
                    let settings =
                        naiq_core::config::Settings::from_lookup(&|k| std::env::var(k).ok())?;
                    let client = NovelAiClient::new(
                        &settings.novelai_image_url,
                        std::time::Duration::from_secs(settings.novelai_timeout_seconds),
                    );
                    let info = client.subscription(&credentials).await.map_err(|e| {
                        anyhow::anyhow!("check failed for {}: {e}", credentials.masked())
                    })?;
                    println!(
                        "{}: logged in; tier {} ({}), Anlas balance {}",
                        credentials.masked(),
                        info.tier_name(),
                        if info.active { "active" } else { "inactive" },
                        info.anlas
                    );
                    match info.v5_usage {
                        Some(u) => println!(
                            "V5 usage: {}% left{}; the next percent in {}",
                            u.percent,
                            if u.is_negative {
                                " (exhausted: V5 images cost Anlas)"
                            } else {
                                " (free V5 images draw on it)"
                            },
                            if u.seconds_to_next_percent == 0 {
                                "— (refilling is paused)".to_string()
                            } else {
                                format!("{} s", u.seconds_to_next_percent)
                            }
                        ),
                        None => println!("V5 usage: none (only active Opus accounts have one)"),
                    }
                    // Remember it for the Opus rule in costs, when the state table is known.
                    if let Ok(table) = env("STATE_TABLE") {
                        DynamoStateStore::new(clients.dynamodb.clone(), table)
                            .save_account(&info)
                            .await?;
                    }
                }
            }
        }
        Command::Client(_) => unreachable!("client commands are run above"),
        Command::Ops {
            command: OpsCommand::Status { json },
        } => {
            let status = ops::status(&clients).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", ops::render(&status));
            }
        }
        Command::Local {
            command: LocalCommand::Provision { prefix },
        } => {
            let resources = provision(&clients, &Names::new(&prefix)).await?;
            let mut out = std::io::stdout().lock();
            for (name, value) in resources.to_env() {
                writeln!(out, "export {name}={value}")?;
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
