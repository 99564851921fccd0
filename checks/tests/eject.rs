//! `scripts/eject SAMPLE DIR`: each sample copied out of the workspace is a standalone project
//! that builds offline from the workspace's lock file, and the ejected cql, rest and
//! pulsar-producer run against the local stack with nothing but their `.env`.
//!
//! The ejected projects live in `target/eject/projects/<sample>` and share one target folder,
//! `target/eject/target`, so their dependencies compile once (and stay compiled between runs).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";
/// A whole sample run against the local stack takes seconds; this bounds it generously.
const RUN_BOUND: Duration = Duration::from_secs(120);

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: {NEEDS_STACK}"))
}

/// `target/eject` of the workspace (next to `target/tmp`, honouring CARGO_TARGET_DIR).
fn eject_area() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("eject")
}

fn eject(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eject")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The last lines of a long output (a failed build's errors end with their summary).
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The workspace's samples (its members under `samples/`, from `cargo metadata`).
fn samples() -> Vec<String> {
    checks::workspace_samples()
}

/// `(name, version)` of every registry package of a Cargo.lock.
fn registry_packages(lock: &Path) -> BTreeSet<(String, String)> {
    let doc: toml_edit::DocumentMut = fs::read_to_string(lock).unwrap().parse().unwrap();
    doc["package"]
        .as_array_of_tables()
        .unwrap()
        .iter()
        .filter(|p| p.contains_key("source"))
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap().to_owned();
            (field("name"), field("version"))
        })
        .collect()
}

/// The variable names of a `.env.example`.
fn env_names(dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(dir.join(".env.example"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(n, _)| n.to_owned()))
        .collect()
}

/// What every ejected project must be: standalone manifests, the workspace's versions, the
/// sample's files without its tests, only variables the workspace knows.
fn assert_standalone(sample: &str, dir: &Path) {
    let root = checks::workspace_root();
    for manifest in ["Cargo.toml", "common/Cargo.toml"] {
        let Ok(text) = fs::read_to_string(dir.join(manifest)) else {
            continue;
        };
        assert!(
            !text.contains(".workspace") && !text.contains("workspace = true"),
            "{manifest}:\n{text}"
        );
        assert!(!text.contains("dev-dependencies"), "{manifest}:\n{text}");
    }
    assert!(dir.join("src/main.rs").is_file(), "{sample}: no src/main.rs");
    assert!(!dir.join("tests").exists(), "{sample}: tests/ copied");
    let sample_dir = root.join("samples").join(sample);
    for file in ["build.rs", "proto"] {
        assert_eq!(
            dir.join(file).exists(),
            sample_dir.join(file).exists(),
            "{sample}: {file}"
        );
    }
    assert_eq!(
        fs::read_to_string(dir.join(".gitignore")).unwrap(),
        "/target/\n.env\n",
        "{sample}: .gitignore"
    );

    // Every registry package of the ejected lock file is the very one the workspace locked.
    let workspace = registry_packages(&root.join("Cargo.lock"));
    let ejected = registry_packages(&dir.join("Cargo.lock"));
    let foreign: Vec<_> = ejected.difference(&workspace).collect();
    assert!(
        foreign.is_empty(),
        "{sample}: not in the workspace's Cargo.lock: {foreign:?}"
    );
    assert!(
        ejected.len() < workspace.len(),
        "{sample}: the lock file was not pruned"
    );

    let known = {
        let root_example = fs::read_to_string(root.join(".env.example")).unwrap();
        root_example
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('=').map(|(n, _)| n.to_owned()))
            .collect::<BTreeSet<_>>()
    };
    let names = env_names(dir);
    assert!(!names.is_empty(), "{sample}: .env.example lists no variable");
    let unknown: Vec<_> = names.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "{sample} reads variables .env.example does not list: {unknown:?}"
    );
}

/// Ejects `sample` into `target/eject/projects/<sample>` and builds it offline with the copied
/// lock file (`--locked`: the lock must not need any change); once per test run. Returns the
/// project folder and its binary.
fn ejected_and_built(sample: &str) -> (PathBuf, PathBuf) {
    static BUILT: Mutex<BTreeMap<String, (PathBuf, PathBuf)>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(done) = built.get(sample) {
        return done.clone();
    }
    let area = eject_area();
    let dir = area.join("projects").join(sample);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    let out = eject(&[sample, dir.to_str().unwrap()]);
    assert!(out.status.success(), "eject {sample}: {}", text(&out.stderr));
    assert_standalone(sample, &dir);

    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--offline", "--locked"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", area.join("target"))
        // Built to be checked and run, never debugged: without debug info the copies' shared
        // target folder takes a fraction of the disk.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .output()
        .unwrap();
    let stderr = text(&build.stderr);
    assert!(
        build.status.success(),
        "cargo build of ejected {sample} failed:\n{}",
        tail(&stderr)
    );
    // The ejected code compiles as cleanly as in the workspace (e.g. no unused import left behind
    // by the modules of common that were cut).
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning")).collect();
    assert!(warnings.is_empty(), "ejected {sample} builds with warnings:\n{stderr}");
    eprintln!("ejected {sample} built in {:.0?}", started.elapsed());

    let binary = area.join("target/debug").join(format!("sample-{sample}"));
    assert!(binary.is_file(), "no binary at {}", binary.display());
    built.insert(sample.to_owned(), (dir.clone(), binary.clone()));
    (dir, binary)
}

#[test]
fn help_names_the_arguments() {
    let out = eject(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["scripts/eject", "<SAMPLE>", "<DIR>", "--force"] {
        assert!(help.contains(word), "{word} missing from\n{help}");
    }
}

#[test]
fn unknown_sample_lists_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out = eject(&["no-such-sample", dir.path().join("x").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: unknown sample \"no-such-sample\": choose one of "),
        "{stderr}"
    );
    for sample in samples() {
        assert!(stderr.contains(&sample), "{sample} missing from {stderr}");
    }
    assert!(!dir.path().join("x").exists(), "wrote something for an unknown sample");
}

#[test]
fn a_folder_with_files_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let path = dir.path().to_str().unwrap();

    let out = eject(&["pulsar-producer", path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!dir.path().join("Cargo.toml").exists());

    let out = eject(&["sample-pulsar-producer", path, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(dir.path().join("notes.txt")).unwrap(), "mine");
    assert_standalone("pulsar-producer", dir.path());
}

#[test]
fn rest_gets_the_common_modules_and_variables_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let out = eject(&["rest", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_standalone("rest", dir.path());

    // endpoints (rest_url, auth_url) and http, with settings and token behind them; no bundle.
    let modules: BTreeSet<String> = fs::read_dir(dir.path().join("common/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected = ["endpoints.rs", "http.rs", "lib.rs", "settings.rs", "token.rs"];
    assert_eq!(modules, expected.map(String::from).into(), "common/src");
    let lib = fs::read_to_string(dir.path().join("common/src/lib.rs")).unwrap();
    assert!(!lib.contains("bundle") && !lib.contains("metadata"), "{lib}");
    // The modules' unit tests stay in the workspace, and so do the crates only they use.
    let http = fs::read_to_string(dir.path().join("common/src/http.rs")).unwrap();
    assert!(!http.contains("#[cfg(test)]"), "tests left in common/src/http.rs");
    let common_manifest = fs::read_to_string(dir.path().join("common/Cargo.toml")).unwrap();
    for gone in ["zip", "rustls-pki-types", "wiremock"] {
        assert!(!common_manifest.contains(gone), "{gone} in\n{common_manifest}");
    }

    // The token, the database (for Astra URLs) or Stargate's URLs and credentials: nothing else.
    let expected = [
        "ASTRA_DB_APPLICATION_TOKEN",
        "ASTRA_DB_ID",
        "ASTRA_DB_REGION",
        "ASTRA_DB_KEYSPACE",
        "STARGATE_AUTH_URL",
        "STARGATE_REST_URL",
        "STARGATE_USERNAME",
        "STARGATE_PASSWORD",
    ];
    assert_eq!(env_names(dir.path()), expected.map(String::from).into());
    let example = fs::read_to_string(dir.path().join(".env.example")).unwrap();
    assert!(example.contains("# REST API v2 and Document API v2 base (port 8082).\nSTARGATE_REST_URL="));

    // Concrete versions and features where the workspace had inheritance.
    let manifest = fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("edition = \"2024\""), "{manifest}");
    assert!(manifest.contains("common = { path = \"common\" }"), "{manifest}");
    assert!(manifest.contains("[lints.clippy]"), "{manifest}");
    let reqwest = manifest.lines().find(|l| l.starts_with("reqwest = ")).unwrap();
    assert!(
        reqwest.contains("default-features = false") && reqwest.contains("\"rustls\""),
        "{reqwest}"
    );
    let readme = fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.starts_with("> Copied out of the astra-rust-samples workspace (`samples/rest`)"));
}

#[test]
fn grpc_takes_its_build_script_and_protos_along() {
    let dir = tempfile::tempdir().unwrap();
    let out = eject(&["grpc", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_standalone("grpc", dir.path());
    assert!(dir.path().join("proto/google/rpc/status.proto").is_file());
    let manifest = fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    let build_deps = manifest.split("[build-dependencies]").nth(1).unwrap();
    assert!(build_deps.contains("tonic-prost-build = \"0.14."), "{manifest}");
    // The member's own feature and its comment survive next to the workspace's features.
    assert!(manifest.contains("\"tls-aws-lc\""), "{manifest}");
    assert!(manifest.contains("\"tls-webpki-roots\""), "{manifest}");
    assert!(
        manifest.contains("# tls-webpki-roots next to the workspace's tls-native-roots"),
        "{manifest}"
    );
}

#[test]
#[ignore = "builds every sample once more, outside the workspace (minutes): run scripts/test"]
fn every_sample_ejects_and_builds_offline_from_the_workspace_lock() {
    let started = Instant::now();
    let samples = samples();
    // Every sample is tried, and every failure reported together.
    let mut failed = Vec::new();
    for sample in &samples {
        let built = std::panic::catch_unwind(|| ejected_and_built(sample));
        if let Err(panic) = built {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{sample}: {message}"));
        }
    }
    eprintln!(
        "ejected and built {} of {} samples in {:.0?}",
        samples.len() - failed.len(),
        samples.len(),
        started.elapsed()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Runs an ejected sample the way its README says: `.env` from `.env.example`, filled in with the
/// local stack's values (`overrides` first), then `cargo run`'s binary in the project folder with
/// no other environment.
fn run_ejected(sample: &str, overrides: &[(&str, &str)]) -> String {
    let (dir, binary) = ejected_and_built(sample);
    let example = fs::read_to_string(dir.join(".env.example")).unwrap();
    let mut dotenv = String::new();
    for line in example.lines() {
        let Some((name, default)) = line.split_once('=').filter(|_| !line.starts_with('#')) else {
            continue;
        };
        let value = overrides
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| std::env::var(name).ok())
            .unwrap_or_else(|| default.to_owned());
        dotenv.push_str(&format!("{name}={value}\n"));
    }
    fs::write(dir.join(".env"), dotenv).unwrap();
    let started = Instant::now();
    let out = Command::new(&binary).current_dir(&dir).env_clear().output().unwrap();
    fs::remove_file(dir.join(".env")).unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "ejected {sample} failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        started.elapsed() <= RUN_BOUND,
        "ejected {sample} took {:?}",
        started.elapsed()
    );
    stdout
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn ejected_cql_rest_and_pulsar_producer_run_against_the_local_stack() {
    // Fail early, and clearly, without the stack's settings.
    for name in [
        "ASTRA_DB_APPLICATION_TOKEN",
        "STARGATE_REST_URL",
        "ASTRA_STREAMING_SERVICE_URL",
    ] {
        env(name);
    }

    let out = run_ejected("cql", &[]);
    assert!(out.contains("Read 10 rows back."), "{out}");
    assert!(out.contains("(0 left)"), "{out}");

    let out = run_ejected("rest", &[]);
    assert!(out.contains("Done in"), "{out}");

    // A topic of its own: other tests publish to the stack's topic.
    let topic = format!("eject-{}", std::process::id());
    let out = run_ejected("pulsar-producer", &[("ASTRA_STREAMING_TOPIC", &topic)]);
    assert!(
        out.contains("Checked: each of the 10 messages came back exactly once"),
        "{out}"
    );
}
