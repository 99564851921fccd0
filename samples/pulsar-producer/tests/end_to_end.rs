//! sample-pulsar-producer against the local stack's Pulsar (TLS on 6651, token authentication).
//! Run with `scripts/test` (it starts the stack and exports its settings).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS_STACK}"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// The stack's settings, under the names the sample reads.
fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "ASTRA_STREAMING_SERVICE_URL",
        "ASTRA_STREAMING_TOKEN",
        "ASTRA_STREAMING_TENANT",
        "ASTRA_STREAMING_NAMESPACE",
        "ASTRA_STREAMING_TOPIC",
        "ASTRA_STREAMING_CA_PATH",
    ]
    .into_iter()
    .map(|name| (name, env(name)))
    .collect()
}

fn with(vars: &[(&'static str, String)], overrides: &[(&'static str, Option<&str>)]) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = vars
        .iter()
        .filter(|(n, _)| !overrides.iter().any(|(o, _)| o == n))
        .cloned()
        .collect();
    for (name, value) in overrides {
        if let Some(value) = value {
            out.push((name, (*value).to_owned()));
        }
    }
    out
}

/// The sample with exactly `vars` as its environment, in an empty directory (so no `.env` is
/// picked up).
fn command(vars: &[(&'static str, String)], args: &[&str], dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sample-pulsar-producer"));
    command
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (*n, v.as_str())))
        .current_dir(dir.path());
    command
}

fn run_sample(vars: &[(&'static str, String)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let output = command(vars, args, &dir).output().expect("run the sample");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// A failed run: exit code 1, one `error:` line naming `expected`, no panic, no token.
fn assert_clear_failure(run: &Run, expected: &str, bound: Duration) {
    assert_eq!(
        run.code,
        Some(1),
        "exit code; stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {}", run.stderr);
    assert!(
        error_lines[0].contains(expected),
        "expected {expected:?} in {:?}",
        error_lines[0]
    );
    assert_no_token(&run.stdout, &run.stderr);
    assert!(run.elapsed <= bound, "took {:?} (bound {bound:?})", run.elapsed);
}

fn assert_no_token(stdout: &str, stderr: &str) {
    for name in ["ASTRA_STREAMING_TOKEN", "ASTRA_LOCAL_PULSAR_ADMIN_TOKEN"] {
        let token = env(name);
        assert!(!stdout.contains(&token) && !stderr.contains(&token), "{name} leaked");
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A port on 127.0.0.1 where nothing listens.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// The admin REST API as the super-user, to check what the sample did from the outside.
struct AdminApi {
    http: reqwest::Client,
    base: String,
    token: String,
    topic_path: String,
}

impl AdminApi {
    /// For the stack's topic (`ASTRA_STREAMING_TOPIC`).
    fn new() -> Self {
        Self::for_topic(&env("ASTRA_STREAMING_TOPIC"))
    }

    fn for_topic(topic: &str) -> Self {
        let ca = std::fs::read(env("ASTRA_STREAMING_CA_PATH")).expect("read the stack's CA");
        let topic_path = format!(
            "persistent/{}/{}/{topic}",
            env("ASTRA_STREAMING_TENANT"),
            env("ASTRA_STREAMING_NAMESPACE"),
        );
        Self {
            http: common::http::client_with_ca("sample-pulsar-producer-tests", &ca).expect("HTTP client"),
            base: format!("{}/admin/v2", env("ASTRA_STREAMING_WEB_URL").trim_end_matches('/')),
            token: env("ASTRA_LOCAL_PULSAR_ADMIN_TOKEN"),
            topic_path,
        }
    }

    /// The topic's subscriptions: name → stats.
    async fn subscriptions(&self) -> BTreeMap<String, serde_json::Value> {
        let url = format!("{}/{}/stats", self.base, self.topic_path);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET stats");
        assert!(response.status().is_success(), "GET {url}: {}", response.status());
        let stats: serde_json::Value = response.json().await.expect("stats JSON");
        let subscriptions = stats["subscriptions"].as_object().cloned().unwrap_or_default();
        subscriptions.into_iter().collect()
    }

    /// Deletes the topic, with its subscriptions (force: even with clients attached).
    async fn delete_topic(&self) {
        let url = format!("{}/{}?force=true", self.base, self.topic_path);
        let _ = self.http.delete(&url).bearer_auth(&self.token).send().await;
    }

    async fn delete_subscription(&self, name: &str) {
        let url = format!("{}/{}/subscription/{name}", self.base, self.topic_path);
        let _ = self.http.delete(&url).bearer_auth(&self.token).send().await;
    }
}

/// A sample process whose stdout lines arrive on a channel.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watcher {
    fn start(vars: &[(&'static str, String)], args: &[&str], dir: &tempfile::TempDir) -> Self {
        let mut child = command(vars, args, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the watcher");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until `done` holds for the lines seen so far, at most `bound`.
    fn wait_for(&mut self, bound: Duration, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + bound;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "watcher: no {what} within {bound:?}; output so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits, at most `bound`, for the exit; returns the exit code.
    fn interrupt(&mut self, bound: Duration) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the watcher did not stop within {bound:?} of Ctrl-C:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn ctrl_c_while_sending_stops_and_removes_the_subscription() {
    let vars = stack_vars();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut run = Watcher::start(&vars, &["--messages", "100000"], &dir);
    run.wait_for(Duration::from_secs(20), "\"Subscribed\" line", |lines| {
        lines.iter().any(|l| l.starts_with("Subscribed to "))
    });
    std::thread::sleep(Duration::from_millis(300));
    let code = run.interrupt(Duration::from_secs(10));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut run.child.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    let stdout = run.seen.join("\n");
    assert_eq!(code, Some(1), "stdout: {stdout}\nstderr: {stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].starts_with("error: interrupted by Ctrl-C while "),
        "{stderr}"
    );
    let subscription = stdout
        .split("as \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the run's subscription")
        .to_owned();
    assert!(
        stdout.contains(&format!("Removed subscription \"{subscription}\".")),
        "{stdout}"
    );
    assert_no_token(&stdout, &stderr);
    assert!(
        !AdminApi::new().subscriptions().await.contains_key(&subscription),
        "{subscription} must be gone"
    );
}

/// The run id in "Sent 25 messages (run 0123456789ab) …".
fn run_id(stdout: &str) -> String {
    stdout
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no run id in: {stdout}"))
        .to_owned()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn every_message_is_received_and_acknowledged_exactly_once() {
    const N: u32 = 25;
    // A topic of its own: other tests publish to the stack's topic at the same time, and the
    // backlog check below must see only this test's messages.
    let topic = unique("test-exactly-once");
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOPIC", Some(&topic))]);
    let admin = AdminApi::for_topic(&topic);

    // An independent consumer: the sample's --consume mode on a subscription of its own.
    let watch_subscription = unique("test-watch");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut watcher = Watcher::start(&vars, &["--consume", "--subscription", &watch_subscription], &dir);
    watcher.wait_for(Duration::from_secs(20), "\"Watching\" line", |lines| {
        lines.iter().any(|l| l.starts_with("Watching "))
    });

    let run = run_sample(&vars, &["--messages", &N.to_string()]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let out = &run.stdout;
    let id = run_id(out);
    assert!(out.contains("Connected to pulsar+ssl://"), "{out}");
    assert!(
        out.contains(&format!(
            "Subscribed to persistent://{}/{}/{} as \"sample-pulsar-producer-{id}\" (Exclusive)",
            env("ASTRA_STREAMING_TENANT"),
            env("ASTRA_STREAMING_NAMESPACE"),
            topic
        )),
        "{out}"
    );
    assert!(out.contains(&format!("Sent {N} messages (run {id}) in ")), "{out}");
    assert!(
        out.contains(&format!("Received and acknowledged {N} messages")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Checked: each of the {N} messages came back exactly once")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Removed subscription \"sample-pulsar-producer-{id}\".")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Summary: sent {N}, received {N}, acknowledged {N}, elapsed ")),
        "{out}"
    );
    // The first ten received messages are printed, with their content.
    for seq in 1..=10 {
        assert!(
            out.contains(&format!(
                "received #{seq}: key=device-{} properties={{run-id={id}, seq={seq}}} payload=\"message {seq} of {N} from run {id}\"",
                seq % 3
            )),
            "#{seq} in {out}"
        );
    }
    assert!(out.contains(&format!("… and {} more", N - 10)), "{out}");
    assert_no_token(&run.stdout, &run.stderr);

    // The watcher saw each message exactly once, with its key, properties and payload.
    let ours = |lines: &[String]| lines.iter().filter(|l| l.contains(&format!("run-id={id},"))).count();
    watcher.wait_for(Duration::from_secs(20), "messages of the run", |lines| {
        ours(lines) >= N as usize
    });
    std::thread::sleep(Duration::from_secs(1)); // room for a duplicate to show up
    let code = watcher.interrupt(Duration::from_secs(10));
    assert_eq!(code, Some(0), "watcher output:\n{}", watcher.seen.join("\n"));
    let lines: Vec<&String> = watcher
        .seen
        .iter()
        .filter(|l| l.contains(&format!("run-id={id},")))
        .collect();
    assert_eq!(
        lines.len(),
        N as usize,
        "exactly {N} lines of the run:\n{}",
        watcher.seen.join("\n")
    );
    for seq in 1..=N {
        let expected = format!(
            "  key=device-{} properties={{run-id={id}, seq={seq}}} payload=\"message {seq} of {N} from run {id}\"",
            seq % 3
        );
        assert_eq!(
            lines.iter().filter(|l| **l == &expected).count(),
            1,
            "{expected:?} once in the watcher's output"
        );
    }
    let summary = watcher
        .seen
        .iter()
        .find(|l| l.starts_with("Stopped by Ctrl-C"))
        .expect("the watcher's summary");
    let received: u64 = summary
        .split("received ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("received count");
    assert!(summary.contains(&format!("acknowledged {received} in")), "{summary}");

    // From the outside: the acknowledgements reached the broker (nothing left in the watcher's
    // backlog), and the run's own subscription is gone.
    let mut backlog = None;
    for _ in 0..50 {
        let subscriptions = admin.subscriptions().await;
        assert!(
            !subscriptions.contains_key(&format!("sample-pulsar-producer-{id}")),
            "{subscriptions:?}"
        );
        backlog = subscriptions
            .get(&watch_subscription)
            .and_then(|s| s["msgBacklog"].as_u64());
        if backlog == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.delete_topic().await;
    assert_eq!(
        backlog,
        Some(0),
        "the watcher's subscription must have acknowledged everything"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn a_thousand_messages() {
    // A topic of its own: runs on the shared topic would deliver their messages to this one's
    // subscription too, and the exact counts below would not hold.
    let topic = unique("thousand");
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOPIC", Some(&topic))]);
    let run = run_sample(&vars, &["--messages", "1000"]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Summary: sent 1000, received 1000, acknowledged 1000"),
        "{}",
        run.stdout
    );
    // Batching on: far fewer broker entries than messages.
    let batches: usize = run
        .stdout
        .split("messages (run ")
        .nth(1)
        .and_then(|s| s.split(") in ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("batch count");
    assert!(batches < 200, "1000 messages in {batches} batches: {}", run.stdout);
    eprintln!(
        "{}",
        run.stdout
            .lines()
            .filter(|l| !l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn messages_variable_sets_the_count() {
    let topic = unique("count");
    let vars = with(
        &stack_vars(),
        &[
            ("SAMPLE_PULSAR_MESSAGES", Some("3")),
            ("ASTRA_STREAMING_TOPIC", Some(&topic)),
        ],
    );
    let run = run_sample(&vars, &[]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Summary: sent 3, received 3, acknowledged 3"),
        "{}",
        run.stdout
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_an_authentication_error() {
    // The client token with another signature: well formed, but not signed by the broker's key.
    let token = env("ASTRA_STREAMING_TOKEN");
    let (signed, _signature) = token.rsplit_once('.').expect("a JWT");
    let wrong = format!("{signed}.{}", "A".repeat(43));
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOKEN", Some(&wrong))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "authentication failed: the broker rejected ASTRA_STREAMING_TOKEN",
        Duration::from_secs(10),
    );
    assert!(
        !run.stderr.contains("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "the wrong token must not be echoed"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variable() {
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOKEN", None)]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "ASTRA_STREAMING_TOKEN is not set", Duration::from_secs(2));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_broker_fails_within_seconds() {
    let url = format!("pulsar+ssl://127.0.0.1:{}", free_port());
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_SERVICE_URL", Some(&url))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "nothing is listening there", Duration::from_secs(10));
    assert!(run.stderr.contains(&url), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn plaintext_url_to_another_host_is_refused() {
    let vars = with(
        &stack_vars(),
        &[("ASTRA_STREAMING_SERVICE_URL", Some("pulsar://pulsar.example.com:6650"))],
    );
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "the token would cross the network unencrypted",
        Duration::from_secs(2),
    );
    assert!(!run.stdout.contains("Connected"), "{}", run.stdout);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn plaintext_url_to_loopback_is_accepted() {
    // The stack keeps Pulsar's plaintext port 6650 open for debugging.
    let vars = with(
        &stack_vars(),
        &[
            ("ASTRA_STREAMING_SERVICE_URL", Some("pulsar://127.0.0.1:6650")),
            ("ASTRA_STREAMING_TOPIC", Some(&unique("plaintext"))),
        ],
    );
    let run = run_sample(&vars, &["--messages", "2"]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("(TLS: no, loopback only"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Summary: sent 2, received 2, acknowledged 2"),
        "{}",
        run.stdout
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn url_without_port_uses_6651() {
    let url = env("ASTRA_STREAMING_SERVICE_URL");
    assert!(url.ends_with(":6651"), "the stack's URL: {url}");
    let without_port = url.trim_end_matches(":6651");
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_SERVICE_URL", Some(without_port))]);
    let run = run_sample(&vars, &["--messages", "1"]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("Connected to {without_port}:6651 ")),
        "{}",
        run.stdout
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn certificate_from_another_ca_is_named() {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other_ca = params.self_signed(&key).expect("CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other-ca.crt");
    std::fs::write(&path, other_ca.pem()).expect("write CA");
    let path = path.to_str().expect("UTF-8 path");
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_CA_PATH", Some(path))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "is not signed by the CA in ASTRA_STREAMING_CA_PATH",
        Duration::from_secs(10),
    );
    assert!(run.stderr.contains("UnknownIssuer"), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn without_the_stack_ca_only_public_roots_are_trusted() {
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_CA_PATH", None)]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "not signed by a public CA", Duration::from_secs(10));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn host_name_not_in_the_certificate_is_named() {
    // The broker listens on every address; its certificate names localhost and 127.0.0.1 only.
    let vars = with(
        &stack_vars(),
        &[("ASTRA_STREAMING_SERVICE_URL", Some("pulsar+ssl://127.0.0.2:6651"))],
    );
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "is not issued for the host", Duration::from_secs(10));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn watch_mode_stops_at_its_time_limit() {
    let subscription = unique("test-watch-limit");
    let run = run_sample(
        &stack_vars(),
        &["--consume", "--for", "2", "--subscription", &subscription],
    );
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("for 2 s or until Ctrl-C"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Stopped by the time limit: received "),
        "{}",
        run.stdout
    );
    assert!(
        run.elapsed >= Duration::from_secs(2) && run.elapsed < Duration::from_secs(10),
        "{:?}",
        run.elapsed
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(AdminApi::new().delete_subscription(&subscription));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn a_second_consumer_on_an_exclusive_subscription_is_told_why() {
    let vars = stack_vars();
    let subscription = unique("test-busy");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = Watcher::start(&vars, &["--consume", "--subscription", &subscription], &dir);
    first.wait_for(Duration::from_secs(20), "\"Watching\" line", |lines| {
        lines.iter().any(|l| l.starts_with("Watching "))
    });
    let second = run_sample(&vars, &["--consume", "--for", "1", "--subscription", &subscription]);
    assert_eq!(first.interrupt(Duration::from_secs(10)), Some(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(AdminApi::new().delete_subscription(&subscription));
    assert_clear_failure(&second, "another consumer is already attached", Duration::from_secs(20));
}
