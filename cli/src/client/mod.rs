//! `naiq` as a client of a naiq API: submit a job, wait for it with a progress line, list,
//! inspect, cancel and download tasks. It reads `NAIQ_API_URL` and `NAIQ_API_KEY` (the
//! local stack writes both to `localstack/.run/stack.env`).

mod api;
mod progress;
mod save;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::{Args, Subcommand};
use rand::RngExt;
use serde_json::{Value, json};

use api::ApiClient;
use progress::{Progress, describe};

/// The shortest and longest pause between two polls, whatever the server hints.
const MIN_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct Connection {
    /// The API's base URL.
    #[arg(long, env = "NAIQ_API_URL", hide_env_values = true)]
    api_url: String,
    /// An API key (`naiq keys create`); read from the environment so it stays out of argv.
    #[arg(long = "api-key", env = "NAIQ_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Submits a text-to-image (or, with --image, image-to-image) job.
    Generate {
        /// The prompt.
        prompt: String,
        #[arg(long)]
        model: Option<String>,
        /// high, normal or low.
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        negative: Option<String>,
        #[arg(long)]
        width: Option<u32>,
        #[arg(long)]
        height: Option<u32>,
        #[arg(long)]
        steps: Option<u32>,
        #[arg(long)]
        seed: Option<u32>,
        #[arg(long = "n-samples")]
        n_samples: Option<u32>,
        /// An input image for image-to-image (PNG, JPEG or WebP).
        #[arg(long)]
        image: Option<PathBuf>,
        /// How much an input image is changed (0–0.99).
        #[arg(long)]
        strength: Option<f64>,
        /// A test request (the key must be allowed to send them).
        #[arg(long)]
        test: bool,
        /// Waits until the job is finished, showing its progress.
        #[arg(long)]
        wait: bool,
        /// Saves the images here when the job succeeds (implies --wait).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Lists your tasks, newest first.
    Tasks {
        /// Only tasks in this state (PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        connection: Connection,
    },
    /// Shows one task (`--json` for the whole answer).
    Status {
        task_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Cancels a waiting task.
    Cancel {
        task_id: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Saves a finished task's images.
    Download {
        task_id: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
}

impl ClientCommand {
    fn connection(&self) -> &Connection {
        match self {
            ClientCommand::Generate { connection, .. }
            | ClientCommand::Tasks { connection, .. }
            | ClientCommand::Status { connection, .. }
            | ClientCommand::Cancel { connection, .. }
            | ClientCommand::Download { connection, .. } => connection,
        }
    }
}

/// Runs a client command; the exit code is non-zero when the job it waited for failed.
pub async fn run(command: ClientCommand) -> Result<ExitCode> {
    let c = command.connection();
    let client = ApiClient::new(&c.api_url, &c.api_key)?;
    match command {
        ClientCommand::Generate {
            prompt,
            model,
            priority,
            negative,
            width,
            height,
            steps,
            seed,
            n_samples,
            image,
            strength,
            test,
            wait,
            out,
            ..
        } => {
            let mut body = json!({ "prompt": prompt });
            let fields = [
                ("model", model.map(Value::from)),
                ("priority", priority.map(Value::from)),
                ("negative_prompt", negative.map(Value::from)),
                ("width", width.map(Value::from)),
                ("height", height.map(Value::from)),
                ("steps", steps.map(Value::from)),
                ("seed", seed.map(Value::from)),
                ("n_samples", n_samples.map(Value::from)),
                ("strength", strength.map(Value::from)),
            ];
            for (name, value) in fields {
                if let Some(v) = value {
                    body[name] = v;
                }
            }
            if test {
                body["is_test_request"] = json!(true);
            }
            if let Some(path) = image {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                body["image"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            let idempotency_key = format!("naiq-cli-{:032x}", rand::rng().random::<u128>());
            let submitted = client.submit(&body, &idempotency_key).await?.body;
            let task_id = submitted["task_id"]
                .as_str()
                .context("the answer has no task_id")?
                .to_string();
            for w in submitted["warnings"].as_array().into_iter().flatten() {
                eprintln!(
                    "warning: {}: {}",
                    w["field"].as_str().unwrap_or("?"),
                    w["message"].as_str().unwrap_or("")
                );
            }
            println!("{task_id}");
            if !wait && out.is_none() {
                return Ok(ExitCode::SUCCESS);
            }
            let first_poll = submitted["poll_after_seconds"]
                .as_u64()
                .map(Duration::from_secs);
            let status = wait_for(&client, &task_id, first_poll).await?;
            finish(&client, &task_id, &status, out.as_deref()).await
        }
        ClientCommand::Tasks { status, limit, .. } => {
            let page = client.tasks(status.as_deref(), limit, None).await?.body;
            for task in page["tasks"].as_array().into_iter().flatten() {
                let id = task["task_id"].as_str().unwrap_or("?");
                println!(
                    "{}  {}  {}",
                    task["created_at"].as_str().unwrap_or(""),
                    task["model"].as_str().unwrap_or(""),
                    describe(id, task)
                );
            }
            if let Some(next) = page["next_cursor"].as_str() {
                eprintln!("(more tasks: the next page starts at cursor {next})");
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Status { task_id, json, .. } => {
            let status = client.status(&task_id).await?.body;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("{}", describe(&task_id, &status));
                for url in status["image_urls"].as_array().into_iter().flatten() {
                    println!("  {}", url.as_str().unwrap_or(""));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Cancel { task_id, .. } => {
            let answer = client.cancel(&task_id).await?.body;
            println!(
                "{task_id} {}: {}",
                answer["status"].as_str().unwrap_or("?"),
                answer["message"].as_str().unwrap_or("")
            );
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Download { task_id, out, .. } => {
            let status = client.status(&task_id).await?.body;
            if status["status"] != "SUCCESS" {
                bail!("{} has no images to download", describe(&task_id, &status));
            }
            for path in save::images(&client, &task_id, &status, &out).await? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Polls until the task is done, at the pace the server asks for (`poll_after_seconds`,
/// or `Retry-After`), within [`MIN_POLL`, `MAX_POLL`].
async fn wait_for(client: &ApiClient, task_id: &str, first: Option<Duration>) -> Result<Value> {
    let mut progress = Progress::new();
    let mut pause = first.unwrap_or(MIN_POLL);
    loop {
        tokio::time::sleep(pause.clamp(MIN_POLL, MAX_POLL)).await;
        let answer = client.status(task_id).await?;
        let status = answer.body;
        if status["done"].as_bool().unwrap_or(false) {
            progress.finish(task_id, &status);
            return Ok(status);
        }
        progress.show(task_id, &status);
        pause = status["poll_after_seconds"]
            .as_u64()
            .map(Duration::from_secs)
            .or(answer.retry_after)
            .unwrap_or(MIN_POLL);
        // A running job with a live preview changes every few seconds: look more often.
        if status["status"] == "STARTED" && status.get("progress").is_some() {
            pause = pause.min(Duration::from_secs(2));
        }
    }
}

/// After the wait: saves the images of a successful task, or reports the failure with a
/// non-zero exit code.
async fn finish(
    client: &ApiClient,
    task_id: &str,
    status: &Value,
    out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    if status["status"] == "SUCCESS" {
        if let Some(dir) = out {
            for path in save::images(client, task_id, status, dir).await? {
                println!("{}", path.display());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: {} ({})",
        status["error_code"].as_str().unwrap_or("failed"),
        status["error"]
            .as_str()
            .unwrap_or("the task did not succeed")
    );
    Ok(ExitCode::FAILURE)
}
