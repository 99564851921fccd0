//! Progress output for long steps (downloads, unpacking, waiting for a server), on stderr.
//!
//! On a terminal each step is a live line (a spinner, or a bar for downloads). Elsewhere (CI
//! logs, pipes) a step prints a line when it starts, a "still …" line every few seconds and a
//! line when it ends: a reader of a log never sees a silent minute.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a step reports itself when stderr is not a terminal.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// The progress display of one command. Cheap to clone; clones share the display.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Live bars on a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let interactive = std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        let multi = interactive.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { multi }
    }

    /// Plain lines only (for tests and non-interactive callers).
    pub fn plain() -> Self {
        Self { multi: None }
    }

    /// A line above the live steps (or a plain line).
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.multi {
            Some(multi) => {
                if multi.println(line.as_ref()).is_err() {
                    eprintln!("{}", line.as_ref());
                }
            }
            None => eprintln!("{}", line.as_ref()),
        }
    }

    /// A step without a known size: a spinner with the elapsed time.
    pub fn step(&self, component: &'static str, message: impl Into<String>) -> Step {
        self.start(component, message.into(), None)
    }

    /// A step counting bytes (a download); `total` when the size is known.
    pub fn bytes(&self, component: &'static str, message: impl Into<String>, total: Option<u64>) -> Step {
        self.start(component, message.into(), Some(total.unwrap_or(0)))
    }

    fn start(&self, component: &'static str, message: String, bytes_total: Option<u64>) -> Step {
        let shared = Arc::new(Shared {
            component,
            message: Mutex::new(message.clone()),
            started: Instant::now(),
            done: AtomicU64::new(0),
            total: bytes_total,
        });
        let bar = self.multi.as_ref().map(|multi| {
            let bar = match bytes_total {
                Some(total) if total > 0 => ProgressBar::new(total).with_style(style(
                    "{prefix:>10.bold} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}",
                )),
                Some(_) => {
                    ProgressBar::new_spinner().with_style(style("{prefix:>10.bold} {spinner} {msg} {bytes} {elapsed}"))
                }
                None => ProgressBar::new_spinner().with_style(style("{prefix:>10.bold} {spinner} {msg} {elapsed}")),
            };
            // Prefix and message first: `add` draws the bar at once.
            bar.set_prefix(component);
            bar.set_message(message.clone());
            let bar = multi.add(bar);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let ticker = if bar.is_none() {
            eprintln!("[{component}] {message}…");
            let shared = Arc::clone(&shared);
            tokio::runtime::Handle::try_current().ok().map(|runtime| {
                runtime.spawn(async move {
                    let mut interval = tokio::time::interval(PLAIN_INTERVAL);
                    interval.tick().await;
                    loop {
                        interval.tick().await;
                        eprintln!("[{}] still {}", shared.component, shared.describe());
                    }
                })
            })
        } else {
            None
        };
        Step {
            shared,
            bar,
            ticker,
            multi: self.multi.clone(),
            ended: false,
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

struct Shared {
    component: &'static str,
    message: Mutex<String>,
    started: Instant,
    done: AtomicU64,
    total: Option<u64>,
}

impl Shared {
    fn message(&self) -> String {
        self.message.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// "downloading x: 12.0 / 245.5 MB (4 %), 5 s"
    fn describe(&self) -> String {
        let elapsed = self.started.elapsed().as_secs();
        let done = self.done.load(Ordering::Relaxed);
        match self.total {
            Some(total) if total > 0 => format!(
                "{}: {} / {} ({} %), {elapsed} s",
                self.message(),
                megabytes(done),
                megabytes(total),
                done * 100 / total
            ),
            Some(_) => format!("{}: {}, {elapsed} s", self.message(), megabytes(done)),
            None => format!("{}… {elapsed} s", self.message()),
        }
    }
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// One running step. End it with [`Step::finish`] or [`Step::fail`]; dropping it ends it quietly.
pub struct Step {
    shared: Arc<Shared>,
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    multi: Option<MultiProgress>,
    ended: bool,
}

impl Step {
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        if let Some(bar) = &self.bar {
            bar.set_message(message.clone());
        }
        if let Ok(mut current) = self.shared.message.lock() {
            *current = message;
        }
    }

    /// Counts `n` more bytes.
    pub fn inc(&self, n: u64) {
        self.shared.done.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Time since the step started.
    pub fn elapsed(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Ends the step with a ✓ line: `[component] ✓ message (1.2 s)`.
    pub fn finish(mut self, message: impl AsRef<str>) {
        self.end(&format!(
            "✓ {} ({:.1} s)",
            message.as_ref(),
            self.elapsed().as_secs_f64()
        ));
    }

    /// Ends the step with a ✗ line.
    pub fn fail(mut self, message: impl AsRef<str>) {
        self.end(&format!(
            "✗ {} ({:.1} s)",
            message.as_ref(),
            self.elapsed().as_secs_f64()
        ));
    }

    fn end(&mut self, line: &str) {
        self.ended = true;
        self.stop();
        let line = format!("[{}] {line}", self.shared.component);
        match &self.multi {
            Some(multi) if multi.println(&line).is_ok() => {}
            _ => eprintln!("{line}"),
        }
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Some(multi) = &self.multi {
                multi.remove(&bar);
            }
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if !self.ended {
            self.stop();
        }
    }
}
