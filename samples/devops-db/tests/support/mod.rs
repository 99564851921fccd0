//! Running the sample binary as a user would, with exactly the given environment.

#![allow(dead_code)] // each test file uses its own part of this module

use std::time::{Duration, Instant};

/// A token in Astra's shape; no server in these tests checks more than its presence.
pub const TOKEN: &str =
    "AstraCS:TestTestTestTestTestTest:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The one `error:` line of a failed run.
    pub fn error_line(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "one error line expected; stderr:\n{}", self.stderr);
        lines[0].to_owned()
    }

    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self.assert_no_token();
    }

    /// Exit code 1, one `error:` line containing every one of `expected`, no panic, no token.
    pub fn assert_failure(&self, expected: &[&str]) {
        assert_eq!(self.code, Some(1), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let line = self.error_line();
        for text in expected {
            assert!(line.contains(text), "expected {text:?} in {line:?}");
        }
        self.assert_no_token();
    }

    pub fn assert_no_token(&self) {
        let secret = TOKEN.rsplit(':').next().unwrap_or(TOKEN);
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "the token was printed"
        );
    }
}

/// Runs the sample with `vars` as its whole environment, in an empty folder (no `.env`), and
/// kills it if it runs longer than a minute.
pub async fn run_sample(vars: &[(&str, &str)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let started = Instant::now();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sample-devops-db"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("the sample ran over a minute")
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs the sample against `url` with the test token.
pub async fn run_against(url: &str, args: &[&str]) -> Run {
    run_sample(
        &[("ASTRA_DEVOPS_URL", url), ("ASTRA_DB_APPLICATION_TOKEN", TOKEN)],
        args,
    )
    .await
}
