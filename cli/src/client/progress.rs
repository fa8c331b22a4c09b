//! The live progress line of `naiq generate --wait`: an indicatif spinner redrawn in place
//! on a terminal, and plain lines, one per change, everywhere else (a pipe, a log file,
//! CI), so scripts read a clean record of what happened.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

pub enum Progress {
    Terminal(ProgressBar),
    Plain { last: String },
}

impl Progress {
    /// A spinner when standard error is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress::Terminal(bar)
        } else {
            Progress::Plain {
                last: String::new(),
            }
        }
    }

    /// Shows the task's state; plain output prints only when the line changed.
    pub fn show(&mut self, task_id: &str, status: &Value) {
        let line = describe(task_id, status);
        match self {
            Progress::Terminal(bar) => bar.set_message(line),
            Progress::Plain { last } => {
                if *last != line {
                    let _ = writeln!(std::io::stderr(), "{line}");
                    *last = line;
                }
            }
        }
    }

    /// Leaves the final line on screen.
    pub fn finish(&mut self, task_id: &str, status: &Value) {
        let line = describe(task_id, status);
        match self {
            Progress::Terminal(bar) => bar.finish_with_message(line),
            Progress::Plain { last } => {
                if *last != line {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
    }
}

/// One line for a task's status: its state, then what matters in that state (position
/// and estimated start while waiting, the preview step while generating, the error when
/// failed).
pub fn describe(task_id: &str, status: &Value) -> String {
    let state = status["status"].as_str().unwrap_or("?");
    let mut line = format!("{task_id} {state}");
    match state {
        "PENDING" | "RETRY" => {
            let q = &status["queue_info"];
            if let (Some(p), Some(t)) = (q["position"].as_u64(), q["total_pending"].as_u64()) {
                line.push_str(&format!(" · position {p} of {t}"));
            }
            if let Some(wait) = q["estimated_wait"].as_u64() {
                line.push_str(&format!(" · starts in ~{}", human(wait)));
            }
            if let Some(at) = q["estimated_start_at"].as_str() {
                line.push_str(&format!(" (at {at})"));
            }
            if state == "RETRY"
                && let Some(code) = status["error_code"].as_str()
            {
                line.push_str(&format!(" · last attempt: {code}"));
            }
        }
        "STARTED" => {
            let p = &status["progress"];
            match (p["step"].as_u64(), p["steps"].as_u64()) {
                (Some(step), Some(steps)) => line.push_str(&format!(" · step {step}/{steps}")),
                _ => line.push_str(" · generating"),
            }
            if let Some(a) = status["attempts"].as_u64().filter(|a| *a > 1) {
                line.push_str(&format!(" · attempt {a}"));
            }
        }
        "SUCCESS" => {
            let n = status["image_urls"].as_array().map_or(0, Vec::len);
            line.push_str(&format!(" · {n} image{}", if n == 1 { "" } else { "s" }));
        }
        _ => {
            if let Some(code) = status["error_code"].as_str() {
                line.push_str(&format!(" · {code}"));
            }
            if let Some(e) = status["error"].as_str() {
                line.push_str(&format!(": {e}"));
            }
        }
    }
    line
}

/// Seconds as the largest two units (`1h 05m`, `3m 20s`, `12s`).
fn human(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_waiting_task_shows_position_and_start() {
        let s = json!({"status": "PENDING", "queue_info": {"position": 3, "total_pending": 10, "estimated_wait": 125, "estimated_start_at": "2026-12-02T12:00:00Z"}});
        assert_eq!(
            describe("t1", &s),
            "t1 PENDING · position 3 of 10 · starts in ~2m 05s (at 2026-12-02T12:00:00Z)"
        );
    }

    #[test]
    fn a_running_task_shows_its_step_when_there_is_one() {
        let s = json!({"status": "STARTED", "attempts": 2, "progress": {"step": 7, "steps": 28}});
        assert_eq!(describe("t", &s), "t STARTED · step 7/28 · attempt 2");
        assert_eq!(
            describe("t", &json!({"status": "STARTED", "attempts": 1})),
            "t STARTED · generating"
        );
    }

    #[test]
    fn a_failed_task_shows_its_code_and_error() {
        let s = json!({"status": "FAILURE", "error_code": "upstream_400", "error": "bad prompt"});
        assert_eq!(describe("t", &s), "t FAILURE · upstream_400: bad prompt");
        assert_eq!(human(3725), "1h 02m");
    }
}
