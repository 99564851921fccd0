//! sample-cql against the local stack, through the secure-connect front door.
//! Run with `scripts/test` (it starts the stack and exports its settings).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session_builder::SessionBuilder;
use uuid::Uuid;

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

/// Runs the sample binary with exactly `vars` as its environment, in an empty directory (so no
/// `.env` is picked up).
fn run_sample(vars: &[(&str, &str)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sample-cql"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "ASTRA_DB_SECURE_BUNDLE_PATH",
        "ASTRA_DB_APPLICATION_TOKEN",
        "ASTRA_DB_KEYSPACE",
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

fn as_refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// A failed run: non-zero exit, one `error:` line naming `expected`, no panic, no token.
fn assert_clear_failure(run: &Run, expected: &str, bound: Duration) {
    let token = env("ASTRA_DB_APPLICATION_TOKEN");
    assert_ne!(run.code, Some(0), "should fail; stdout: {}", run.stdout);
    assert_eq!(run.code, Some(1), "exit code; stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {}", run.stderr);
    assert!(
        error_lines[0].contains(expected),
        "expected {expected:?} in {:?}",
        error_lines[0]
    );
    assert!(
        !run.stdout.contains(&token) && !run.stderr.contains(&token),
        "token leaked"
    );
    assert!(run.elapsed <= bound, "took {:?} (bound {bound:?})", run.elapsed);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_tour_through_the_front_door() {
    let vars = stack_vars();
    let run = run_sample(&as_refs(&vars), &[]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("Connected to cluster"), "{out}");
    assert!(out.contains("Inserted 10 rows"), "{out}");
    assert!(out.contains("page 1: rows [1, 2, 3, 4]"), "{out}");
    assert!(out.contains("page 3: rows [9, 10]"), "{out}");
    assert!(out.contains("Read 10 rows back."), "{out}");
    assert!(out.contains("first try, IF done = false): applied = true"), "{out}");
    assert!(out.contains("second try, IF done = false): applied = false"), "{out}");
    assert!(out.contains("(0 left)"), "{out}");

    // Check the final state through an independent, plain CQL session as the superuser.
    let run_id: Uuid = out
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|id| id.parse().ok())
        .expect("run id in output");
    let session = SessionBuilder::new()
        .known_node(env("CASSANDRA_CONTACT_POINT"))
        .user(env("CASSANDRA_USERNAME"), env("CASSANDRA_PASSWORD"))
        .build()
        .await
        .unwrap();
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let rows = session
        .query_unpaged(
            format!("SELECT seq FROM {keyspace}.sample_cql_tasks WHERE run_id = ?"),
            (run_id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(rows.rows_num(), 0, "the run's rows must be deleted");
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn connect_only_prints_version_and_cluster() {
    let run = run_sample(&as_refs(&stack_vars()), &["--connect-only"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("Cassandra 5.0"), "{}", run.stdout);
    assert!(!run.stdout.contains("Inserted"), "{}", run.stdout);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn client_id_and_secret_work_too() {
    let vars = with(
        &stack_vars(),
        &[
            ("ASTRA_DB_APPLICATION_TOKEN", None),
            ("ASTRA_DB_CLIENT_ID", Some(&env("ASTRA_DB_CLIENT_ID"))),
            ("ASTRA_DB_CLIENT_SECRET", Some(&env("ASTRA_DB_CLIENT_SECRET"))),
        ],
    );
    let run = run_sample(&as_refs(&vars), &["--connect-only"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variable() {
    let vars = with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", None)]);
    let run = run_sample(&as_refs(&vars), &["--connect-only"]);
    assert_clear_failure(&run, "ASTRA_DB_APPLICATION_TOKEN is not set", Duration::from_secs(2));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_an_authentication_error() {
    let wrong = format!("AstraCS:{}:{}", "x".repeat(24), "0".repeat(64));
    let vars = with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", Some(&wrong))]);
    let run = run_sample(&as_refs(&vars), &["--connect-only"]);
    assert_clear_failure(&run, "authentication failed", Duration::from_secs(15));
    assert!(
        !run.stderr.contains(&wrong),
        "the wrong token must not be echoed either"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_bundle_file_is_named() {
    let vars = with(
        &stack_vars(),
        &[("ASTRA_DB_SECURE_BUNDLE_PATH", Some("/nonexistent/scb.zip"))],
    );
    let run = run_sample(&as_refs(&vars), &["--connect-only"]);
    assert_clear_failure(&run, "ASTRA_DB_SECURE_BUNDLE_PATH", Duration::from_secs(2));
}

/// The stack's bundle with members replaced (`Some`) or removed (`None`), written to a temp file.
fn altered_bundle(changes: &[(&str, Option<Vec<u8>>)]) -> (tempfile::TempDir, PathBuf) {
    let original = std::fs::read(env("ASTRA_DB_SECURE_BUNDLE_PATH")).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(original)).unwrap();
    let mut members = Vec::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let mut body = Vec::new();
        file.read_to_end(&mut body).unwrap();
        members.push((file.name().unwrap().to_string(), body));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scb.zip");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, body) in members {
        let body = match changes.iter().find(|(n, _)| *n == name.as_str()) {
            Some((_, None)) => continue,
            Some((_, Some(new))) => new.clone(),
            None => body,
        };
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&body).unwrap();
    }
    out.finish().unwrap();
    (dir, path)
}

fn run_with_bundle(path: &Path) -> Run {
    let path = path.to_str().unwrap();
    let vars = with(&stack_vars(), &[("ASTRA_DB_SECURE_BUNDLE_PATH", Some(path))]);
    run_sample(&as_refs(&vars), &["--connect-only"])
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn bundle_without_cert_or_key_names_the_member() {
    for member in ["cert", "key"] {
        let (_dir, path) = altered_bundle(&[(member, None)]);
        let run = run_with_bundle(&path);
        assert_clear_failure(&run, &format!("no `{member}` member"), Duration::from_secs(2));
    }
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn corrupt_zip_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scb.zip");
    let mut bytes = std::fs::read(env("ASTRA_DB_SECURE_BUNDLE_PATH")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();
    let run = run_with_bundle(&path);
    assert_clear_failure(&run, "is not a zip file", Duration::from_secs(2));
}

fn foreign_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn bundle_with_a_foreign_ca_fails_verification() {
    let (ca, _, _) = foreign_pki();
    let (_dir, path) = altered_bundle(&[("ca.crt", Some(ca.into_bytes()))]);
    let run = run_with_bundle(&path);
    // The metadata service is the first TLS peer: its certificate does not chain to this CA.
    assert_clear_failure(&run, "metadata service", Duration::from_secs(15));
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn client_certificate_from_another_ca_is_rejected() {
    let (_, cert, key) = foreign_pki();
    let (_dir, path) = altered_bundle(&[("cert", Some(cert.into_bytes())), ("key", Some(key.into_bytes()))]);
    let run = run_with_bundle(&path);
    assert_clear_failure(&run, "metadata service", Duration::from_secs(15));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_proxy_fails_within_bound() {
    // Point the bundle at a port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = format!(r#"{{"host":"localhost","port":{port},"keyspace":"default_keyspace"}}"#);
    let (_dir, path) = altered_bundle(&[("config.json", Some(config.into_bytes()))]);
    let run = run_with_bundle(&path);
    assert_clear_failure(&run, "cannot reach the metadata service", Duration::from_secs(15));
}
