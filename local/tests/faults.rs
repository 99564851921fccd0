#![allow(clippy::unwrap_used)]
//! Faults in the local stack (issue #14): Cassandra killed under gateway load, `astra-local`
//! itself killed, Pulsar killed under a `--consume` run of sample-pulsar-producer.
//!
//! Each test starts a stack of its own, in a temporary state folder on free ports, and always
//! stops it (`astra-local down`, from a guard's `Drop`), so the faults never touch the stack the
//! other tests use. Its `serve` runs without the gateway (`ASTRA_LOCAL_NO_GATEWAY=1`): the
//! gateway's ports are Stargate's fixed ones, which the main stack's gateway owns; the Cassandra
//! test runs the gateway in-process on free ports instead. One stack at a time (a lock): each
//! takes ~1.5 GB and a minute to start.
//!
//! They are slow (1-3 min each) and need Java 17 and the download cache, like the stack itself:
//! `scripts/test` runs them; by hand:
//!
//! ```text
//! cargo test --workspace --test faults -- --include-ignored --test-threads 1
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use astra_local::gateway::grpc::proto::stargate::stargate_client::StargateClient;
use astra_local::gateway::grpc::proto::stargate::{Query, Values, response, value};
use astra_local::gateway::{Gateway, GatewayConfig};
use pulsar::{Authentication, ConnectionRetryOptions, Pulsar, TokioExecutor};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;

const ASTRA_LOCAL: &str = env!("CARGO_BIN_EXE_astra-local");
/// `up` of a stack whose downloads are cached takes 30-60 s; this bounds it on a loaded machine.
const UP_BOUND: Duration = Duration::from_secs(300);
/// `down`, `status`, `env`.
const CLI_BOUND: Duration = Duration::from_secs(60);
/// Every request of the load clients must end within this (the gateway's Cassandra requests time
/// out after 30 s at most, reconnecting after 5 s).
const REQUEST_BOUND: Duration = Duration::from_secs(45);
/// How long the gateway may take to serve again once Cassandra is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(60);

/// One stack of these tests at a time.
static ONE_STACK: Mutex<()> = Mutex::new(());

fn one_stack_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_STACK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn log(text: impl AsRef<str>) {
    eprintln!(
        "[faults {:>7.1} s] {}",
        elapsed_since_start().as_secs_f64(),
        text.as_ref()
    );
}

fn elapsed_since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

// ---------------------------------------------------------------------------------------------
// A process with a bound, its output collected by threads
// ---------------------------------------------------------------------------------------------

/// A child whose stdout and stderr lines are collected as they come.
struct Watched {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Watched {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self { child, stdout, stderr }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout().join("\n"),
            self.stderr().join("\n")
        )
    }

    /// The exit status, waiting at most `bound`; `None` if it still runs.
    fn wait_for(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a stdout line satisfies `found`, at most `bound`.
    fn wait_for_line(&mut self, bound: Duration, found: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if self.stdout().iter().any(|l| found(l)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Runs `command` to its end within `bound` (killed and reported otherwise).
fn run_bounded(command: Command, bound: Duration) -> (ExitStatus, String) {
    let shown = format!("{command:?}");
    let mut watched = Watched::spawn(command);
    match watched.wait_for(bound) {
        Some(status) => (status, watched.output()),
        None => {
            watched.kill();
            panic!("{shown} did not finish within {bound:?}:\n{}", watched.output())
        }
    }
}

fn kill_9(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -9 {pid}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
        assert!(Instant::now() < deadline, "PID {pid} survived kill -9");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

// ---------------------------------------------------------------------------------------------
// A stack of the test's own
// ---------------------------------------------------------------------------------------------

/// A stack in a temporary folder on free ports; `down` when dropped.
struct OwnStack {
    dir: tempfile::TempDir,
    ports: Vec<(&'static str, u16)>,
}

impl OwnStack {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("astra-local-faults-")
            .tempdir()
            .unwrap();
        // Hold every listener until all are picked, so the OS cannot hand out one port twice
        // (a CI run once gave Cassandra's CQL port to Pulsar's HTTPS admin too).
        let held: Vec<(&'static str, TcpListener)> = [
            "--cql-port",
            "--storage-port",
            "--front-door-port",
            "--metadata-port",
            "--pulsar-port",
            "--pulsar-tls-port",
            "--pulsar-http-port",
            "--pulsar-https-port",
            "--devops-port",
        ]
        .into_iter()
        .map(|flag| (flag, TcpListener::bind("127.0.0.1:0").unwrap()))
        .collect();
        let ports = held
            .iter()
            .map(|(flag, listener)| (*flag, listener.local_addr().unwrap().port()))
            .collect();
        drop(held);
        Self { dir, ports }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `astra-local --state-dir <dir> <args>`, its `serve` without the gateway.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ASTRA_LOCAL);
        command
            .arg("--state-dir")
            .arg(self.path())
            .args(args)
            .env("ASTRA_LOCAL_NO_GATEWAY", "1")
            .current_dir(self.path());
        command
    }

    fn up_command(&self) -> Command {
        let mut command = self.command(&["up"]);
        for (flag, port) in &self.ports {
            command.arg(flag).arg(port.to_string());
        }
        command
    }

    /// `up`, which must succeed.
    fn up(&self) -> String {
        let started = Instant::now();
        let (status, output) = run_bounded(self.up_command(), UP_BOUND);
        assert!(status.success(), "astra-local up failed ({status}):\n{output}");
        log(format!("up took {:.1} s", started.elapsed().as_secs_f64()));
        output
    }

    /// `status`: its exit code and output.
    fn status(&self) -> (i32, String) {
        let (status, output) = run_bounded(self.command(&["status"]), CLI_BOUND);
        (status.code().unwrap_or(-1), output)
    }

    /// The settings of `astra-local env`.
    fn env(&self) -> HashMap<String, String> {
        let (status, output) = run_bounded(self.command(&["env"]), CLI_BOUND);
        assert!(status.success(), "astra-local env failed:\n{output}");
        output
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), unquote(value)))
            .collect()
    }

    fn pid_file(&self, component: &str) -> PathBuf {
        self.path().join(component).join(format!("{component}.pid"))
    }

    fn pid(&self, component: &str) -> u32 {
        let file = self.pid_file(component);
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        text.trim().parse().unwrap()
    }
}

/// A value of `env`'s output, single quotes removed.
fn unquote(value: &str) -> String {
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(quoted) => quoted.replace(r"'\''", "'"),
        None => value.to_owned(),
    }
}

impl Drop for OwnStack {
    fn drop(&mut self) {
        let down = self
            .command(&["down"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = down {
            let deadline = Instant::now() + UP_BOUND;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// The component lines of `status` that say `running` / `stopped`.
fn status_of(output: &str, component: &str) -> String {
    output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(component))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no {component} line in status:\n{output}"))
}

// ---------------------------------------------------------------------------------------------
// astra-local killed with -9
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn astra_local_killed_with_9_leaves_a_stack_that_status_describes_and_up_repairs() {
    let _one = one_stack_at_a_time();
    let started = Instant::now();
    let stack = OwnStack::new();

    // 1. `up` killed while Cassandra and Pulsar start (their PID files are written at spawn).
    let mut up = Watched::spawn(stack.up_command());
    let deadline = Instant::now() + UP_BOUND;
    while !(stack.pid_file("cassandra").is_file() && stack.pid_file("pulsar").is_file()) {
        assert!(
            up.child.try_wait().unwrap().is_none(),
            "up ended early:\n{}",
            up.output()
        );
        assert!(Instant::now() < deadline, "up started nothing:\n{}", up.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    kill_9(up.child.id());
    let _ = up.child.wait();
    log("killed `up` with -9 while Cassandra and Pulsar were starting");
    let (code, output) = stack.status();
    assert_eq!(code, 3, "not everything runs:\n{output}");
    for component in ["cassandra", "pulsar"] {
        assert_eq!(
            status_of(&output, component),
            "running",
            "{component} was started:\n{output}"
        );
    }
    assert_eq!(status_of(&output, "serve"), "stopped", "serve never started:\n{output}");

    // 2. The next `up` adopts what runs, finishes the set-up and starts the rest.
    let output = stack.up();
    assert!(output.contains("[cassandra] already running"), "{output}");
    let (code, output) = stack.status();
    assert_eq!(code, 0, "everything runs after up:\n{output}");

    // 3. `serve` killed with -9: its PID file is stale, and status says so.
    let serve = stack.pid("serve");
    kill_9(serve);
    let (code, output) = stack.status();
    assert_eq!(code, 3, "serve is gone:\n{output}");
    assert_eq!(status_of(&output, "serve"), "stopped", "{output}");
    assert!(
        output.contains(&format!("stale PID file: PID {serve} is gone")),
        "{output}"
    );
    assert_eq!(status_of(&output, "cassandra"), "running", "{output}");

    // 4. `up` removes the stale PID file and starts serve again, leaving the rest alone.
    let cassandra = stack.pid("cassandra");
    let output = stack.up();
    assert!(
        output.contains(&format!(
            "[serve] removed a stale PID file (PID {serve} is not running)"
        )),
        "{output}"
    );
    assert_eq!(stack.pid("cassandra"), cassandra, "Cassandra was not restarted");
    assert_ne!(stack.pid("serve"), serve);
    let (code, output) = stack.status();
    assert_eq!(code, 0, "everything runs again:\n{output}");

    // 5. `up` killed while it restarts a component, then everything of the stack killed with -9
    //    (as after a crash of the session): status says stopped, and `up` starts from scratch.
    kill_9(stack.pid("devops"));
    let mut up = Watched::spawn(stack.up_command());
    std::thread::sleep(Duration::from_millis(500));
    kill_9(up.child.id());
    let _ = up.child.wait();
    for component in ["serve", "cassandra", "pulsar", "devops"] {
        if let Ok(text) = std::fs::read_to_string(stack.pid_file(component))
            && let Ok(pid) = text.trim().parse::<u32>()
        {
            // It may be gone already (devops, killed above, unless `up` started it again).
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    log("killed `up` and every component with -9");
    let (code, output) = stack.status();
    assert_eq!(code, 3, "nothing runs:\n{output}");
    for component in ["cassandra", "pulsar", "serve", "devops"] {
        assert_eq!(status_of(&output, component), "stopped", "{component}:\n{output}");
    }
    stack.up();
    let (code, output) = stack.status();
    assert_eq!(code, 0, "everything runs after a start from scratch:\n{output}");
    // The data survived: the token role still logs in (the bootstrap is not redone wrongly).
    let env = stack.env();
    assert!(env["ASTRA_DB_APPLICATION_TOKEN"].starts_with("AstraCS:"));
    log(format!(
        "astra-local kill -9 case: {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}

// ---------------------------------------------------------------------------------------------
// Cassandra killed under gateway load
// ---------------------------------------------------------------------------------------------

/// What one request of the load ended with.
#[derive(Debug, Clone)]
enum Outcome {
    /// Success: for a write, the row was acknowledged.
    Ok,
    /// The API's own error: REST's error body with a 5xx code, or a gRPC status.
    ApiError(String),
    /// Anything else: a hang, a dropped connection, another shape. Each is a failure.
    Wrong(String),
}

#[derive(Debug, Clone)]
struct Record {
    api: &'static str,
    started: Instant,
    took: Duration,
    outcome: Outcome,
}

#[derive(Default)]
struct Load {
    records: Mutex<Vec<Record>>,
    /// Ids of rows whose write was acknowledged (201 / gRPC OK).
    acknowledged: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    fn record(&self, api: &'static str, started: Instant, outcome: Outcome) {
        self.records.lock().unwrap().push(Record {
            api,
            started,
            took: started.elapsed(),
            outcome,
        });
    }
}

/// Stargate's error body: all four keys, `code` the HTTP status.
fn rest_error_shape(status: StatusCode, body: &str) -> Outcome {
    let shape = serde_json::from_str::<Value>(body).ok().filter(|v| {
        v["code"] == json!(status.as_u16())
            && v["description"].as_str().is_some_and(|d| !d.is_empty())
            && v.get("grpcStatus").is_some()
            && v.get("internalTxId").is_some()
    });
    match shape {
        Some(_) if status.is_server_error() => Outcome::ApiError(format!("{status}")),
        _ => Outcome::Wrong(format!("{status} {body}")),
    }
}

async fn rest_writer(load: Arc<Load>, http: reqwest::Client, rest: String, token: String, table: String, writer: u32) {
    let mut n = 0u32;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("w{writer}-{n}");
        let started = Instant::now();
        let row = json!({"id": id, "v": format!("value of {id}")}).to_string();
        let sent = http
            .post(format!("{rest}/v2/keyspaces/faults/{table}"))
            .header("X-Cassandra-Token", &token)
            .header("Content-Type", "application/json")
            .body(row)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status == StatusCode::CREATED {
                    load.acknowledged.lock().unwrap().push(id.clone());
                    Outcome::Ok
                } else {
                    rest_error_shape(status, &body)
                }
            }
            Err(e) => Outcome::Wrong(format!("no answer: {e}")),
        };
        let written = matches!(outcome, Outcome::Ok);
        load.record("REST write", started, outcome);
        if written {
            let started = Instant::now();
            let read = http
                .get(format!("{rest}/v2/keyspaces/faults/{table}/{id}"))
                .header("X-Cassandra-Token", &token)
                .send()
                .await;
            let outcome = match read {
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    if status == StatusCode::OK {
                        let found = serde_json::from_str::<Value>(&body).is_ok_and(|v| v["data"][0]["id"] == json!(id));
                        if found {
                            Outcome::Ok
                        } else {
                            Outcome::Wrong(format!("an acknowledged row is not read back: {body}"))
                        }
                    } else {
                        rest_error_shape(status, &body)
                    }
                }
                Err(e) => Outcome::Wrong(format!("no answer: {e}")),
            };
            load.record("REST read", started, outcome);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn grpc_client(load: Arc<Load>, grpc: String, token: String, table: String, client: u32) {
    let mut stargate = StargateClient::connect(grpc)
        .await
        .expect("the gRPC API accepts connections");
    let mut n = 0u32;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("g{client}-{n}");
        // A write, then a read of it, with bound values.
        for (cql, write) in [
            (format!("INSERT INTO faults.{table} (id, v) VALUES (?, ?)"), true),
            (format!("SELECT id, v FROM faults.{table} WHERE id = ?"), false),
        ] {
            let values: Vec<_> = if write {
                vec![text(&id), text(&format!("value of {id}"))]
            } else {
                vec![text(&id)]
            };
            let query = Query {
                cql,
                values: Some(Values {
                    values,
                    value_names: Vec::new(),
                }),
                parameters: None,
            };
            let mut request = tonic::Request::new(query);
            request
                .metadata_mut()
                .insert("x-cassandra-token", token.parse().unwrap());
            let started = Instant::now();
            let answer = tokio::time::timeout(REQUEST_BOUND, stargate.execute_query(request)).await;
            let api = if write { "gRPC write" } else { "gRPC read" };
            let outcome = match answer {
                Err(_) => Outcome::Wrong(format!("no answer within {REQUEST_BOUND:?}")),
                Ok(Ok(response)) => {
                    let response = response.into_inner();
                    if write {
                        load.acknowledged.lock().unwrap().push(id.clone());
                        Outcome::Ok
                    } else {
                        match response.result {
                            Some(response::Result::ResultSet(set)) if set.rows.len() == 1 => Outcome::Ok,
                            other => Outcome::Wrong(format!("an acknowledged row is not read back: {other:?}")),
                        }
                    }
                }
                // The gateway's own statuses for a node that is down or slow.
                Ok(Err(status)) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => {
                    Outcome::ApiError(format!("{:?}: {}", status.code(), status.message()))
                }
                Ok(Err(status)) => Outcome::Wrong(format!("{:?}: {}", status.code(), status.message())),
            };
            let ok = matches!(outcome, Outcome::Ok);
            load.record(api, started, outcome);
            if !ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GraphQL (CQL-first, `/graphql/faults`): an insert mutation, then a query of the row. Stargate
/// answers a failed operation with an `errors` array whose entries carry a `message`.
async fn graphql_client(
    load: Arc<Load>,
    http: reqwest::Client,
    url: String,
    token: String,
    table: String,
    client: u32,
) {
    let mut n = 0u32;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("q{client}-{n}");
        for write in [true, false] {
            let query = if write {
                format!(r#"mutation {{ insert{table}(value: {{id: "{id}", v: "value of {id}"}}) {{ applied }} }}"#)
            } else {
                format!(r#"query {{ {table}(value: {{id: "{id}"}}) {{ values {{ id v }} }} }}"#)
            };
            let started = Instant::now();
            let sent = http
                .post(&url)
                .header("X-Cassandra-Token", &token)
                .json(&json!({ "query": query }))
                .send()
                .await;
            let outcome = match sent {
                Err(e) => Outcome::Wrong(format!("no answer: {e}")),
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let answer = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
                    let messages: Vec<&str> = answer["errors"]
                        .as_array()
                        .map(|errors| errors.iter().filter_map(|e| e["message"].as_str()).collect())
                        .unwrap_or_default();
                    // An `errors` array: with 200 for a failed operation, with a 5xx when the
                    // keyspace's schema cannot be built (its tables cannot be read).
                    if !messages.is_empty() && (status == StatusCode::OK || status.is_server_error()) {
                        Outcome::ApiError(format!("{status}: {}", messages.join("; ")))
                    } else if status != StatusCode::OK {
                        Outcome::Wrong(format!("{status} {body}"))
                    } else if write && answer["data"][format!("insert{table}")]["applied"] == json!(true) {
                        load.acknowledged.lock().unwrap().push(id.clone());
                        Outcome::Ok
                    } else if !write && answer["data"][&table]["values"][0]["id"] == json!(id) {
                        Outcome::Ok
                    } else if !write {
                        Outcome::Wrong(format!("an acknowledged row is not read back: {body}"))
                    } else {
                        Outcome::Wrong(format!("neither data nor errors: {body}"))
                    }
                }
            };
            let ok = matches!(outcome, Outcome::Ok);
            load.record(if write { "GraphQL write" } else { "GraphQL read" }, started, outcome);
            if !ok {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(s: &str) -> astra_local::gateway::grpc::proto::stargate::Value {
    astra_local::gateway::grpc::proto::stargate::Value {
        inner: Some(value::Inner::String(s.to_owned())),
    }
}

/// The first moment after `after` at which `api` succeeded, if any.
fn first_success(records: &[Record], api: &str, after: Instant) -> Option<Instant> {
    records
        .iter()
        .filter(|r| r.api.starts_with(api) && r.started >= after && matches!(r.outcome, Outcome::Ok))
        .map(|r| r.started + r.took)
        .min()
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn cassandra_killed_under_load_gives_api_errors_then_the_gateway_recovers_with_every_acknowledged_write() {
    let _one = one_stack_at_a_time();
    let started = Instant::now();
    let stack = OwnStack::new();
    stack.up();
    let env = stack.env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(cassandra_fault(&stack, &env));
    log(format!(
        "Cassandra kill -9 case: {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}

async fn cassandra_fault(stack: &OwnStack, env: &HashMap<String, String>) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // The gateway in-process, on free ports, against this stack's Cassandra.
    let config = GatewayConfig::new(
        &env["CASSANDRA_CONTACT_POINT"],
        &env["CASSANDRA_USERNAME"],
        &env["CASSANDRA_PASSWORD"],
    )
    .with_any_ports();
    let gateway = Gateway::bind(config).await.expect("the gateway starts");
    let addrs = gateway.local_addrs();
    let (stop_gateway, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.run_until(async move {
        let _ = stopped.await;
    }));
    let rest = format!("http://{}", addrs.rest);
    let grpc = format!("http://{}", addrs.grpc);
    let token = env["ASTRA_DB_APPLICATION_TOKEN"].clone();
    let http = reqwest::Client::builder().timeout(REQUEST_BOUND).build().unwrap();

    // A keyspace and table of this test.
    // A plain name: the same in CQL, REST and GraphQL.
    let table = format!("faultrows{}", std::process::id());
    for (path, body) in [
        (
            "/v2/schemas/keyspaces".to_owned(),
            json!({"name": "faults", "replicas": 1}),
        ),
        (
            "/v2/schemas/keyspaces/faults/tables".to_owned(),
            json!({
                "name": table,
                "primaryKey": {"partitionKey": ["id"]},
                "columnDefinitions": [
                    {"name": "id", "typeDefinition": "text"},
                    {"name": "v", "typeDefinition": "text"}
                ]
            }),
        ),
    ] {
        let response = http
            .post(format!("{rest}{path}"))
            .header("X-Cassandra-Token", &token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{path}: {}",
            response.text().await.unwrap()
        );
    }

    // The load: REST writers (each write read back) and gRPC clients (insert then select).
    let load = Arc::new(Load::default());
    let mut clients = tokio::task::JoinSet::new();
    for writer in 0..4 {
        clients.spawn(rest_writer(
            load.clone(),
            http.clone(),
            rest.clone(),
            token.clone(),
            table.clone(),
            writer,
        ));
    }
    for client in 0..2 {
        clients.spawn(grpc_client(
            load.clone(),
            grpc.clone(),
            token.clone(),
            table.clone(),
            client,
        ));
    }
    let graphql = format!("http://{}/graphql/faults", addrs.graphql);
    for client in 0..2 {
        clients.spawn(graphql_client(
            load.clone(),
            http.clone(),
            graphql.clone(),
            token.clone(),
            table.clone(),
            client,
        ));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for api in ["REST write", "gRPC write", "GraphQL write"] {
        let records = load.records.lock().unwrap().clone();
        assert!(
            records.iter().any(|r| r.api == api && matches!(r.outcome, Outcome::Ok)),
            "{api}: nothing succeeded before the fault: {:?}",
            records.iter().filter(|r| r.api == api).take(3).collect::<Vec<_>>()
        );
    }

    // kill -9 Cassandra under the load; it stays down for 8 s.
    let cassandra = stack.pid("cassandra");
    let killed_at = Instant::now();
    kill_9(cassandra);
    log(format!("killed Cassandra (PID {cassandra}) with -9 under load"));
    tokio::time::sleep(Duration::from_secs(8)).await;

    // `up` starts Cassandra again (the other components still run); the gateway is not touched.
    let up = tokio::task::spawn_blocking({
        let command = stack.up_command();
        move || run_bounded(command, UP_BOUND)
    });
    let (status, output) = up.await.unwrap();
    assert!(status.success(), "up after the kill:\n{output}");
    let back_at = Instant::now();
    log(format!(
        "Cassandra is back after {:.1} s",
        back_at.duration_since(killed_at).as_secs_f64()
    ));

    // The gateway serves again by itself: REST and gRPC writes succeed within the bound.
    let deadline = back_at + RECOVERY_BOUND;
    let recovered = loop {
        let records = load.records.lock().unwrap().clone();
        let rest_ok = first_success(&records, "REST write", back_at);
        let grpc_ok = first_success(&records, "gRPC write", back_at);
        let graphql_ok = first_success(&records, "GraphQL write", back_at);
        if let (Some(a), Some(b), Some(c)) = (rest_ok, grpc_ok, graphql_ok) {
            break a.max(b).max(c);
        }
        assert!(
            Instant::now() < deadline,
            "the gateway does not serve {RECOVERY_BOUND:?} after Cassandra is back (REST {rest_ok:?}, gRPC {grpc_ok:?}, GraphQL {graphql_ok:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    log(format!(
        "the gateway served again {:.1} s after Cassandra was back",
        recovered.saturating_duration_since(back_at).as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.stop.store(true, Ordering::Relaxed);
    let joined = tokio::time::timeout(REQUEST_BOUND * 2, async {
        while clients.join_next().await.is_some() {}
    })
    .await;
    assert!(joined.is_ok(), "a load client hangs");

    // Every request ended with a success or the API's own error, within the bound.
    let records = load.records.lock().unwrap().clone();
    let wrong: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Wrong(what) => Some(format!("{} after {:.1} s: {what}", r.api, r.took.as_secs_f64())),
            _ => None,
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "requests that did not end with the API's shape: {wrong:#?}"
    );
    let slowest = records.iter().map(|r| r.took).max().unwrap();
    assert!(slowest < REQUEST_BOUND, "slowest request {slowest:?}");
    let mut summary: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    let mut errors: BTreeMap<String, u32> = BTreeMap::new();
    for record in &records {
        let kind = match &record.outcome {
            Outcome::Ok => "ok",
            Outcome::ApiError(shape) => {
                *errors
                    .entry(format!("{} {}", record.api, shape.split(':').next().unwrap_or("")))
                    .or_default() += 1;
                "error"
            }
            Outcome::Wrong(_) => "wrong",
        };
        *summary.entry((record.api, kind)).or_default() += 1;
    }
    let in_flight = records
        .iter()
        .filter(|r| r.started < killed_at && r.started + r.took >= killed_at)
        .count();
    log(format!(
        "{} requests: {summary:?}; errors {errors:?}; {in_flight} in flight at the kill; slowest {:.2} s",
        records.len(),
        slowest.as_secs_f64()
    ));
    for api in ["REST write", "gRPC write", "GraphQL write"] {
        assert!(
            records
                .iter()
                .any(|r| r.api == api && r.started >= killed_at && matches!(r.outcome, Outcome::ApiError(_))),
            "{api}: no error while Cassandra was down: the fault was not seen"
        );
    }

    // Every acknowledged write is there, read with plain CQL.
    let acknowledged: BTreeSet<String> = load.acknowledged.lock().unwrap().iter().cloned().collect();
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_node(&env["CASSANDRA_CONTACT_POINT"])
        .user(&env["CASSANDRA_USERNAME"], &env["CASSANDRA_PASSWORD"])
        .build()
        .await
        .expect("a CQL session");
    let mut stored = BTreeSet::new();
    let mut rows = session
        .query_iter(format!("SELECT id FROM faults.{table}"), ())
        .await
        .unwrap()
        .rows_stream::<(String,)>()
        .unwrap();
    while let Some(row) = futures::StreamExt::next(&mut rows).await {
        stored.insert(row.unwrap().0);
    }
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    log(format!(
        "{} acknowledged writes, all stored ({} rows in the table)",
        acknowledged.len(),
        stored.len()
    ));
    let _ = stop_gateway.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
}

// ---------------------------------------------------------------------------------------------
// Pulsar killed under `sample-pulsar-producer --consume`
// ---------------------------------------------------------------------------------------------

/// The sample's binary, built next to this test's `astra-local` by `cargo test --workspace`.
fn sample_pulsar_producer() -> PathBuf {
    let path = Path::new(ASTRA_LOCAL).with_file_name("sample-pulsar-producer");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo test --workspace --no-run)",
        path.display()
    );
    path
}

/// Sends messages `seqs` with properties run-id and seq; returns those the broker confirmed.
async fn produce(
    env: &HashMap<String, String>,
    topic: &str,
    run_id: &str,
    seqs: std::ops::RangeInclusive<u32>,
) -> Vec<u32> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client: Pulsar<TokioExecutor> = Pulsar::builder(&env["ASTRA_STREAMING_SERVICE_URL"], TokioExecutor)
        .with_auth(Authentication {
            name: "token".into(),
            data: env["ASTRA_STREAMING_TOKEN"].as_bytes().to_vec(),
        })
        .with_certificate_chain_file(&env["ASTRA_STREAMING_CA_PATH"])
        .unwrap()
        .with_connection_retry_options(ConnectionRetryOptions {
            max_retries: 3,
            connection_timeout: Duration::from_secs(5),
            ..ConnectionRetryOptions::default()
        })
        .build()
        .await
        .expect("the test's producer connects");
    let mut producer = client.producer().with_topic(topic).build().await.expect("a producer");
    let mut receipts = Vec::new();
    for seq in seqs {
        let receipt = producer
            .create_message()
            .with_key(format!("k{seq}"))
            .with_property("run-id", run_id)
            .with_property("seq", seq.to_string())
            .with_content(format!("fault message {seq}"))
            .send_non_blocking()
            .await
            .expect("send");
        receipts.push((seq, receipt));
    }
    let mut confirmed = Vec::new();
    for (seq, receipt) in receipts {
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(30), receipt).await {
            confirmed.push(seq);
        }
    }
    let _ = producer.close().await;
    confirmed
}

/// How often each seq of `run_id` appears in the sample's printed messages.
fn printed_seqs(lines: &[String], run_id: &str) -> BTreeMap<u32, u32> {
    let mut seen = BTreeMap::new();
    let ours = format!("run-id={run_id}, seq=");
    for line in lines {
        if let Some(rest) = line.split_once(&ours).map(|(_, rest)| rest)
            && let Some(seq) = rest.split('}').next().and_then(|s| s.parse::<u32>().ok())
        {
            *seen.entry(seq).or_default() += 1;
        }
    }
    seen
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn pulsar_killed_under_a_consume_run_loses_and_repeats_nothing() {
    let _one = one_stack_at_a_time();
    let started = Instant::now();
    let sample = sample_pulsar_producer();
    let stack = OwnStack::new();
    stack.up();
    let env = stack.env();
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let run_id = format!("faults{}x{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
    let topic = format!(
        "persistent://{}/{}/faults-{run_id}",
        env["ASTRA_STREAMING_TENANT"], env["ASTRA_STREAMING_NAMESPACE"]
    );
    let subscription = "faults-watch";
    let consume = |extra: &[&str]| {
        let mut command = Command::new(&sample);
        command
            .args(["--consume", "--subscription", subscription])
            .args(extra)
            .envs(&env)
            .env("ASTRA_STREAMING_TOPIC", &topic)
            .env("RUST_LOG", "off")
            .current_dir(stack.path());
        command
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 1. The sample watches the topic; 50 messages arrive and are acknowledged.
    let mut first = Watched::spawn(consume(&[]));
    assert!(
        first.wait_for_line(Duration::from_secs(60), |l| l.starts_with("Watching ")),
        "the sample does not watch:\n{}",
        first.output()
    );
    let before = runtime.block_on(produce(&env, &topic, &run_id, 1..=50));
    assert_eq!(before.len(), 50, "the broker confirmed every message");
    let all_printed = |w: &Watched, n: usize| printed_seqs(&w.stdout(), &run_id).len() >= n;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_printed(&first, 50) {
        assert!(
            Instant::now() < deadline,
            "the sample did not get the 50 messages:\n{}",
            first.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The broker writes a subscription's acknowledged position at most once a second.
    std::thread::sleep(Duration::from_secs(3));

    // 2. kill -9 the broker mid-run: the sample ends with one clear line, in bounded time.
    let pulsar = stack.pid("pulsar");
    let killed_at = Instant::now();
    kill_9(pulsar);
    log(format!(
        "killed Pulsar (PID {pulsar}) with -9 under the sample's --consume"
    ));
    let exited = first.wait_for(Duration::from_secs(60));
    let first_outcome = match exited {
        Some(status) => {
            let took = killed_at.elapsed();
            let stderr = first.stderr();
            let errors: Vec<&String> = stderr.iter().filter(|l| l.starts_with("error: ")).collect();
            assert!(!status.success(), "{}", first.output());
            assert_eq!(errors.len(), 1, "exactly one error line:\n{}", first.output());
            assert!(
                errors[0].contains("lost the connection to the broker") && errors[0].contains(subscription),
                "the error says what happened and what to do:\n{}",
                first.output()
            );
            log(format!(
                "the sample exited {:.1} s after the kill: {}",
                took.as_secs_f64(),
                errors[0]
            ));
            format!("exited after {:.1} s", took.as_secs_f64())
        }
        None => {
            log("the sample still runs 60 s after the kill: it waits to reconnect");
            "still running".to_owned()
        }
    };

    // 3. The broker back; 50 more messages.
    stack.up();
    let after = runtime.block_on(produce(&env, &topic, &run_id, 51..=100));
    assert_eq!(after.len(), 50, "the broker confirmed every message after the restart");

    // 4. The sample (still running, or run again on the same subscription) gets exactly those.
    let mut lines = first.stdout();
    if first.child.try_wait().unwrap().is_none() {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !all_printed(&first, 100) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        first.kill();
        lines = first.stdout();
    } else {
        let mut second = Watched::spawn(consume(&["--for", "15"]));
        let status = second.wait_for(Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| s.success()),
            "the second run ends cleanly:\n{}",
            second.output()
        );
        let second_seqs = printed_seqs(&second.stdout(), &run_id);
        let repeated: Vec<u32> = second_seqs.keys().copied().filter(|seq| *seq <= 50).collect();
        assert!(
            repeated.is_empty(),
            "messages acknowledged before the kill were delivered again: {repeated:?}"
        );
        lines.extend(second.stdout());
    }
    let seen = printed_seqs(&lines, &run_id);
    let missing: Vec<u32> = (1..=100).filter(|seq| !seen.contains_key(seq)).collect();
    let repeated: Vec<u32> = seen.iter().filter(|(_, n)| **n > 1).map(|(seq, _)| *seq).collect();
    assert!(
        missing.is_empty() && repeated.is_empty(),
        "each confirmed message once: missing {missing:?}, repeated {repeated:?}"
    );
    log(format!(
        "Pulsar kill -9 case: sample {first_outcome}; 100 of 100 messages once; {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}
