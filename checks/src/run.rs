//! Running a sample binary the way a user would, but with nothing inherited: exactly the given
//! variables, an empty working directory (so no `.env` is found), a hard time limit, and its
//! output captured. Then checking that a failed run failed the way every sample must.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The folder holding the workspace's debug binaries (`target/debug`). Tests of this crate cannot
/// use `CARGO_BIN_EXE_…` of other packages, so the samples are found next to the test binary
/// (`target/debug/deps/<test>-<hash>`), or under `CARGO_TARGET_DIR` when it is set.
pub fn bin_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(debug) = exe.parent().and_then(|deps| deps.parent())
        && debug.join("deps").is_dir()
    {
        return debug.to_path_buf();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("debug")
}

/// Where sample binary `bin` is when built.
pub fn sample_path(bin: &str) -> PathBuf {
    bin_dir().join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
}

/// The path of sample binary `bin`; panics with what to run when it is not built.
pub fn sample_bin(bin: &str) -> PathBuf {
    let path = sample_path(bin);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --all-targets` first (scripts/reliability and scripts/test do)",
        path.display()
    );
    path
}

/// What one run of a binary did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code; `None` when the run was killed (by a signal, or by us at its time limit).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// True when the run was still going at its time limit and was killed.
    pub killed: bool,
}

/// Runs `bin` with `args`, exactly the variables `vars`, in a new empty directory, and kills it
/// after `limit`.
pub async fn run(bin: &str, args: &[&str], vars: &[(String, String)], limit: Duration) -> Run {
    let path = sample_bin(bin);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let child = tokio::process::Command::new(&path)
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.unwrap_or_else(|e| panic!("cannot wait for {}: {e}", path.display()));
            Run {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                elapsed: started.elapsed(),
                killed: false,
            }
        }
        // Dropping the future drops the child, which kills it (`kill_on_drop`).
        Err(_) => Run {
            code: None,
            stdout: String::new(),
            stderr: String::new(),
            elapsed: started.elapsed(),
            killed: true,
        },
    }
}

/// What a failed run must say: every text in `cause` (what is wrong) and at least one text in
/// `fix` (how to fix it), on its one `error:` line.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub cause: Vec<String>,
    pub fix: Vec<String>,
}

/// Signs of a panic or a backtrace; none may appear in a sample's output.
const PANIC_SIGNS: &[&str] = &["panicked", "RUST_BACKTRACE", "stack backtrace", "at src/", "at /rustc/"];

/// Checks that `run` failed the way every sample must on bad input: a non-zero exit within
/// `bound`, exactly one non-empty line on stderr that starts with `error:` and says `expect`, no
/// panic or backtrace, and none of `secrets` in stdout or stderr. Returns what is wrong, if
/// anything.
pub fn check_failure(run: &Run, expect: &Expect, secrets: &[String], bound: Duration) -> Result<(), String> {
    if run.killed {
        return Err(format!("still running after {:?}: killed", run.elapsed));
    }
    let mut problems = Vec::new();
    match run.code {
        Some(0) => problems.push("exit code 0".to_owned()),
        None => problems.push("ended by a signal".to_owned()),
        Some(_) => {}
    }
    if run.elapsed > bound {
        problems.push(format!("took {:.1} s (bound {:?})", run.elapsed.as_secs_f64(), bound));
    }
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let other_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("error:"))
        .collect();
    match error_lines.as_slice() {
        [line] => {
            if line.trim_start_matches("error:").trim().is_empty() {
                problems.push("the error line is empty".to_owned());
            }
            for text in &expect.cause {
                if !line.contains(text.as_str()) {
                    problems.push(format!("the error line does not say {text:?}"));
                }
            }
            if !expect.fix.is_empty() && !expect.fix.iter().any(|t| line.contains(t.as_str())) {
                problems.push(format!("the error line says no fix (one of {:?})", expect.fix));
            }
        }
        lines => problems.push(format!("{} `error:` lines instead of one", lines.len())),
    }
    // Warnings (e.g. "retrying" lines) may precede the error; anything else on stderr is noise a
    // user would have to read past, so it counts too, but only the `error:` line must be alone.
    if other_lines.iter().any(|l| !l.contains("WARN")) {
        problems.push(format!(
            "stderr has lines besides the error and warnings: {other_lines:?}"
        ));
    }
    for sign in PANIC_SIGNS {
        if run.stderr.contains(sign) || run.stdout.contains(sign) {
            problems.push(format!("output contains {sign:?} (a panic or backtrace)"));
        }
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if run.stdout.contains(secret.as_str()) || run.stderr.contains(secret.as_str()) {
            problems.push("a token appears in the output".to_owned());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; exit {:?}; stderr: {}",
            problems.join("; "),
            run.code,
            run.stderr.trim_end()
        ))
    }
}
