//! The DevOps API contract server. No open-source server implements Astra's DevOps API v2, so the
//! stack serves the project's own OpenAPI description of it (`local/devops/openapi.yaml`, compiled
//! into this binary) with Prism (`@stoplight/prism-cli` from npm) in mock mode. Prism checks every
//! request against the description: no bearer token gives 401, a parameter or body that breaks
//! the contract gives 422, and a valid request gets the description's example answer. The
//! `sample-devops-*` tests run against it.
//!
//! - Prism is installed once into the per-user cache (`<cache>/prism`, see
//!   [`crate::state::cache_dir`]) from a `package.json` that pins it. Prism 5.14.2 is the newest
//!   that runs on Node 20 (later ones want Node 24); its own dependencies use caret ranges that
//!   would pull in those later releases, so npm `overrides` pin them too.
//! - It runs as `prism mock -h 127.0.0.1 -p <port> <spec>`, detached, with its PID file and log in
//!   `.astra-local/devops/` like every other component, serving the copy of the description
//!   written there.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ports::{self, NeededPort};
use crate::processes::{self, Component, Launch, ProcessState, Started, tail_since};
use crate::progress::{Progress, Step};
use crate::state::{Paths, create_dir, write_file};

/// The component's name: its folder under `.astra-local/`, its log and PID file names.
pub const NAME: &str = "devops";
/// The contract, as built into this binary.
pub const SPEC: &str = include_str!("../devops/openapi.yaml");
/// The port of Prism's recipe; `up` can be told another.
pub const DEFAULT_PORT: u16 = 4010;
pub const PRISM_VERSION: &str = "5.14.2";
/// Prism's own packages at the last releases that still run on Node 18.20/20 (npm `overrides`).
const OVERRIDES: [(&str, &str); 3] = [
    ("@stoplight/prism-core", "5.8.0"),
    ("@stoplight/prism-http", "5.12.0"),
    ("@stoplight/prism-http-server", "5.12.2"),
];
/// The oldest Node.js Prism 5.14.2 declares it runs on.
const MIN_NODE: (u32, u32, u32) = (18, 20, 1);
/// `npm install` fetches about 185 packages: a quarter of a minute on a good line.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Prism parses the description and listens within seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// A request that must get a 401: proves Prism listens, serves this contract, and checks tokens.
const READY_PATH: &str = "/v2/currentOrg";

/// `.astra-local/devops`: the served copy of the description, the PID file and the log.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.component_dir(NAME)
}

/// Where the served copy of the description is written.
pub fn spec_file(paths: &Paths) -> PathBuf {
    dir(paths).join("openapi.yaml")
}

/// The base URL samples use (`ASTRA_DEVOPS_URL`).
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The `package.json` of the Prism installation: Prism pinned, and its packages pinned with
/// `overrides`.
pub fn package_json() -> String {
    let overrides: Vec<String> = OVERRIDES
        .iter()
        .map(|(name, version)| format!("    \"{name}\": \"{version}\""))
        .collect();
    format!(
        "{{\n  \"name\": \"astra-local-prism\",\n  \"private\": true,\n  \"description\": \"Written by astra-local: the DevOps API contract server.\",\n  \
         \"dependencies\": {{\n    \"@stoplight/prism-cli\": \"{PRISM_VERSION}\"\n  }},\n  \"overrides\": {{\n{}\n  }}\n}}\n",
        overrides.join(",\n")
    )
}

/// The Prism installation in the cache: `<cache>/prism`.
pub fn install_dir(cache: &Path) -> PathBuf {
    cache.join("prism")
}

fn prism_bin(install_dir: &Path) -> PathBuf {
    install_dir.join("node_modules").join(".bin").join("prism")
}

/// Written after a successful `npm install`, holding the `package.json` it installed: a marker
/// whose content differs from today's `package.json` means "install again".
fn marker(install_dir: &Path) -> PathBuf {
    install_dir.join(".astra-local-complete")
}

/// The `prism` command, installed with npm into the cache on first use and reused afterwards.
pub async fn install(cache: &Path, progress: &Progress) -> Result<PathBuf> {
    let dir = install_dir(cache);
    let bin = prism_bin(&dir);
    let package = package_json();
    if bin.is_file() && std::fs::read_to_string(marker(&dir)).is_ok_and(|m| m == package) {
        return Ok(bin);
    }
    let node = node_version()?;
    let npm = which("npm").ok_or_else(|| node_missing("npm is not on the PATH"))?;
    create_dir(&dir)?;
    write_file(&dir.join("package.json"), package.as_bytes(), false)?;
    let log = dir.join("npm-install.log");
    let log_file = std::fs::File::create(&log).map_err(Error::io("create", &log))?;
    let log_err = log_file.try_clone().map_err(Error::io("open", &log))?;
    let step = progress.step(
        NAME,
        format!(
            "installing Prism {PRISM_VERSION} with npm into {} (Node {})",
            dir.display(),
            dotted(node)
        ),
    );
    let install = tokio::process::Command::new(npm)
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .kill_on_drop(true)
        .status();
    let failed = |reason: String| Error::StartFailed {
        component: NAME,
        reason: format!("`npm install` of Prism {PRISM_VERSION} {reason}"),
        tail: tail_since(&log, 0, 30),
        log: log.clone(),
    };
    let status = match tokio::time::timeout(INSTALL_TIMEOUT, install).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            step.fail("npm did not run");
            return Err(failed(format!("could not run: {e}")));
        }
        Err(_) => {
            step.fail("npm install took too long");
            return Err(failed(format!("did not finish within {} s", INSTALL_TIMEOUT.as_secs())));
        }
    };
    if !status.success() || !bin.is_file() {
        step.fail("npm install failed");
        return Err(failed(format!("failed ({status})")));
    }
    write_file(&marker(&dir), package.as_bytes(), false)?;
    step.finish(format!("Prism {PRISM_VERSION} installed in {}", dir.display()));
    Ok(bin)
}

/// The version of `node` on the PATH; an error saying what to install when it is missing or
/// older than Prism needs.
pub fn node_version() -> Result<(u32, u32, u32)> {
    let output = std::process::Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| node_missing(&format!("`node` did not run ({e})")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version =
        parse_node_version(&text).ok_or_else(|| node_missing(&format!("`node --version` said {:?}", text.trim())))?;
    if version < MIN_NODE {
        return Err(node_missing(&format!("Node {} is too old", dotted(version))));
    }
    Ok(version)
}

fn node_missing(reason: &str) -> Error {
    Error::Config(format!(
        "the DevOps contract server (Prism) needs Node.js {} or newer and npm: {reason}. Install them \
         (`apt-get install nodejs npm`; scripts/astra-local does it as root)",
        dotted(MIN_NODE)
    ))
}

/// `v20.20.2` → (20, 20, 2).
fn parse_node_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text
        .trim()
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn dotted((major, minor, patch): (u32, u32, u32)) -> String {
    format!("{major}.{minor}.{patch}")
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Writes the built-in description to `.astra-local/devops/openapi.yaml`. Returns true when the
/// file changed (a running Prism then serves an old contract and must be restarted).
pub fn write_spec(paths: &Paths) -> Result<bool> {
    let file = spec_file(paths);
    if std::fs::read_to_string(&file).is_ok_and(|current| current == SPEC) {
        return Ok(false);
    }
    write_file(&file, SPEC.as_bytes(), false)?;
    Ok(true)
}

/// The program and arguments that serve the description on 127.0.0.1:`port`. `prism` is a Node
/// script (`#!/usr/bin/env node`), so the running process is `node …/prism mock …`.
pub fn command(prism: &Path, paths: &Paths, port: u16) -> (PathBuf, Vec<String>) {
    let args = vec![
        "mock".into(),
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        spec_file(paths).display().to_string(),
    ];
    (prism.to_path_buf(), args)
}

/// Serves the contract on 127.0.0.1:`port`: installs Prism when needed, writes the description,
/// starts Prism unless it already runs, and waits until it answers. A running Prism whose
/// description changed (a newer build of this binary) is restarted.
pub async fn up(paths: &Paths, port: u16, cache: &Path, progress: &Progress) -> Result<()> {
    let component = Component::Devops;
    let changed = write_spec(paths)?;
    if let ProcessState::Running { pid, .. } = processes::state(paths, component) {
        if !changed {
            let step = progress.step(NAME, "checking the DevOps contract server");
            return match ready(port, None, &step).await {
                Ok(()) => {
                    step.finish(format!("DevOps API contract served on {} (PID {pid})", url(port)));
                    Ok(())
                }
                Err(e) => {
                    step.fail("the DevOps contract server does not answer");
                    Err(e)
                }
            };
        }
        progress.println(format!("[{NAME}] the contract changed: restarting PID {pid}"));
        processes::stop(component, pid, STOP_GRACE).await?;
        processes::remove_pid_file(paths, component)?;
        ports::ensure_free(&[NeededPort {
            port,
            purpose: "DevOps API contract server",
        }])?;
    }
    let prism = install(cache, progress).await?;
    let (program, args) = command(&prism, paths, port);
    let launch = Launch {
        component,
        program,
        args,
        env: Vec::new(),
        cwd: dir(paths),
    };
    let mut started = processes::spawn_detached(paths, launch)?;
    let step = progress.step(NAME, "starting the DevOps contract server");
    match ready(port, Some(&mut started), &step).await {
        Ok(()) => {
            step.finish(format!(
                "DevOps API contract served on {} (Prism {PRISM_VERSION}, PID {})",
                url(port),
                started.pid()
            ));
            Ok(())
        }
        Err(e) => {
            step.fail("the DevOps contract server did not start");
            // Leave nothing half-started behind: the next `up` starts clean.
            if started.exited().is_none() {
                let _ = processes::stop(component, started.pid(), STOP_GRACE).await;
                let _ = started.child.try_wait();
            }
            let _ = processes::remove_pid_file(paths, component);
            Err(e)
        }
    }
}

/// Prism stops at once on SIGTERM; this is only the bound.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Waits until Prism answers an unauthenticated request with 401, the proof that it serves this
/// contract and checks tokens. Fails early when the process `started` exits.
pub async fn ready(port: u16, mut started: Option<&mut Started>, step: &Step) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| Error::Config(format!("cannot build an HTTP client: {e}")))?;
    let url = format!("{}{READY_PATH}", url(port));
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Some(started) = started.as_deref_mut()
            && let Some(reason) = started.exited()
        {
            return Err(started.failed(reason));
        }
        match client.get(&url).send().await {
            Ok(response) if response.status() == reqwest::StatusCode::UNAUTHORIZED => return Ok(()),
            Ok(response) => {
                last = format!(
                    "GET {READY_PATH} without a token answered {} instead of 401",
                    response.status()
                )
            }
            Err(e) => last = crate::error::chain(&e),
        }
        step.set_message(format!("waiting for the contract server on 127.0.0.1:{port} ({last})"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let reason = format!("not ready after {} s: {last}", START_TIMEOUT.as_secs());
    Err(match started {
        Some(started) => started.failed(reason),
        None => Error::Config(format!("the DevOps contract server on port {port} is {reason}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_pins_prism_and_overrides_its_packages() {
        let json: serde_json::Value = serde_json::from_str(&package_json()).expect("valid JSON");
        assert_eq!(json["dependencies"]["@stoplight/prism-cli"], PRISM_VERSION);
        assert_eq!(json["overrides"]["@stoplight/prism-core"], "5.8.0");
        assert_eq!(json["overrides"]["@stoplight/prism-http"], "5.12.0");
        assert_eq!(json["overrides"]["@stoplight/prism-http-server"], "5.12.2");
    }

    #[test]
    fn node_versions_are_parsed_and_compared() {
        assert_eq!(parse_node_version("v20.20.2\n"), Some((20, 20, 2)));
        assert_eq!(parse_node_version("garbage"), None);
        assert!(parse_node_version("v18.20.0").is_some_and(|v| v < MIN_NODE));
        assert!(parse_node_version("v18.20.1").is_some_and(|v| v >= MIN_NODE));
        assert!(parse_node_version("v24.1.0").is_some_and(|v| v >= MIN_NODE));
    }

    #[test]
    fn the_built_in_contract_is_written_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        assert!(write_spec(&paths).expect("write"));
        assert!(!write_spec(&paths).expect("unchanged"));
        assert!(SPEC.contains("openapi: 3.0.3") && SPEC.contains("/v2/databases"));
        let (_, args) = command(Path::new("/x/prism"), &paths, 4010);
        assert_eq!(args[..5], ["mock", "-h", "127.0.0.1", "-p", "4010"]);
        assert!(args[5].ends_with("devops/openapi.yaml"));
    }
}
