//! Fetching, starting and stopping the stack's processes.
//!
//! - Downloads go to the per-user cache: jars through Maven, tarballs over HTTPS checked against
//!   their published SHA-1, each unpacked into a temporary folder and renamed into place with a
//!   marker file, so an interrupted fetch is never mistaken for a complete one.
//! - Servers run detached (their own session, via `setsid`), with stdout and stderr appended to a
//!   log file and their PID in a PID file. A PID file is only trusted when `/proc/<pid>/cmdline`
//!   still shows our command line: PIDs are reused.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use sha1::{Digest, Sha1};

use crate::error::{Error, Result, chain};
use crate::progress::{Progress, megabytes};
use crate::state::{Paths, create_dir};

/// The processes `up` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    Cassandra,
    Pulsar,
    /// `astra-local serve`: the front door (and later the gateway), in-process Rust servers.
    Serve,
    /// Prism serving the DevOps API contract (see `devops`).
    Devops,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Cassandra,
        Component::Pulsar,
        Component::Serve,
        Component::Devops,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Cassandra => "cassandra",
            Self::Pulsar => "pulsar",
            Self::Serve => "serve",
            Self::Devops => crate::devops::NAME,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn dir(self, paths: &Paths) -> PathBuf {
        paths.component_dir(self.name())
    }
    pub fn pid_file(self, paths: &Paths) -> PathBuf {
        self.dir(paths).join(format!("{}.pid", self.name()))
    }
    /// Where the process's stdout and stderr go.
    pub fn log_file(self, paths: &Paths) -> PathBuf {
        self.dir(paths).join("logs").join(format!("{}.log", self.name()))
    }

    /// Strings that the command line of this component of this stack contains (at every stage:
    /// `setsid`, `setpriv`, the `bin/pulsar` script, the JVM).
    fn markers(self, paths: &Paths) -> Vec<String> {
        let dir = self.dir(paths).display().to_string();
        match self {
            Self::Cassandra => vec!["org.apache.cassandra.service.CassandraDaemon".into(), dir],
            Self::Pulsar => vec!["standalone".into(), dir],
            Self::Serve => vec!["serve".into(), paths.root.display().to_string()],
            // `node …/prism mock … <state>/devops/openapi.yaml`
            Self::Devops => vec!["mock".into(), dir],
        }
    }
}

/// What a PID file says about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    Running {
        pid: u32,
        since: Option<SystemTime>,
    },
    /// No PID file.
    Stopped,
    /// A PID file whose process is gone (or is now another program).
    Stale {
        pid: u32,
    },
}

/// The state of `component`, checked against `/proc`.
pub fn state(paths: &Paths, component: Component) -> ProcessState {
    let pid_file = component.pid_file(paths);
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        return ProcessState::Stopped;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return ProcessState::Stale { pid: 0 };
    };
    if is_ours(pid, &component.markers(paths)) {
        let since = std::fs::metadata(&pid_file).and_then(|m| m.modified()).ok();
        ProcessState::Running { pid, since }
    } else {
        ProcessState::Stale { pid }
    }
}

/// True when `pid` is alive (not a zombie) and its command line contains every marker.
fn is_ours(pid: u32, markers: &[String]) -> bool {
    if !is_alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    markers.iter().all(|m| cmdline.contains(m.as_str()))
}

/// True when `/proc/<pid>` exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Resident memory of `pid` (VmRSS), in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn remove_pid_file(paths: &Paths, component: Component) -> Result<()> {
    let pid_file = component.pid_file(paths);
    match std::fs::remove_file(&pid_file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", pid_file)(e)),
    }
}

/// A server to start detached.
pub struct Launch {
    pub component: Component,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// A server started by this command: its PID, and where its log for this start begins.
pub struct Started {
    pub component: Component,
    pub child: Child,
    pub log: PathBuf,
    pub log_offset: u64,
}

impl Started {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(reason)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("the process exited ({status})")),
            Ok(None) => None,
            Err(e) => Some(format!("cannot check the process: {e}")),
        }
    }

    /// The start-up failure, with the last 30 lines this start wrote to the log.
    pub fn failed(&self, reason: impl Into<String>) -> Error {
        Error::StartFailed {
            component: self.component.name(),
            reason: reason.into(),
            log: self.log.clone(),
            tail: tail_since(&self.log, self.log_offset, 30),
        }
    }
}

/// Starts `launch` in its own session (`setsid`), stdin closed, stdout and stderr appended to
/// the component's log, and writes its PID file. `setsid` execs the program (it only forks when
/// it is already a process group leader, which a child of ours is not), so the PID is the
/// server's own.
pub fn spawn_detached(paths: &Paths, launch: Launch) -> Result<Started> {
    let component = launch.component;
    let log = component.log_file(paths);
    create_dir(log.parent().unwrap_or(&paths.root))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(Error::io("open log", &log))?;
    let log_offset = file.seek(SeekFrom::End(0)).map_err(Error::io("read log", &log))?;
    let banner = format!(
        "\n=== astra-local: starting {} at {} ===\n",
        component.name(),
        timestamp()
    );
    file.write_all(banner.as_bytes())
        .map_err(Error::io("write log", &log))?;
    let stderr = file.try_clone().map_err(Error::io("open log", &log))?;

    let mut command = Command::new("setsid");
    command
        .arg(&launch.program)
        .args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr);
    tracing::debug!(component = component.name(), ?command, "starting");
    let child = command.spawn().map_err(|e| Error::Spawn {
        component: component.name(),
        reason: format!("`setsid {}` failed: {e}", launch.program.display()),
    })?;
    let pid_file = component.pid_file(paths);
    crate::state::write_file(&pid_file, format!("{}\n", child.id()).as_bytes(), false)?;
    Ok(Started {
        component,
        child,
        log,
        log_offset,
    })
}

/// Stops `pid` with SIGTERM, then SIGKILL after `grace`. Returns true when SIGKILL was needed.
pub async fn stop(component: Component, pid: u32, grace: Duration) -> Result<bool> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let target = Pid::from_raw(i32::try_from(pid).map_err(|_| Error::Stop {
        component: component.name(),
        reason: format!("bad PID {pid}"),
    })?);
    let signal = |sig| match kill(target, sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::Stop {
            component: component.name(),
            reason: format!("kill -{sig} {pid}: {e}"),
        }),
    };
    signal(Signal::SIGTERM)?;
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!(
        component = component.name(),
        pid,
        "did not stop after SIGTERM; sending SIGKILL"
    );
    signal(Signal::SIGKILL)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::Stop {
        component: component.name(),
        reason: format!("PID {pid} survived SIGKILL"),
    })
}

/// The last `lines` lines of `path` written after byte `offset`.
pub fn tail_since(path: &Path, offset: u64, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        // Read at most the last 256 KiB: enough for 30 lines of any log.
        let start = offset.max(len.saturating_sub(256 * 1024));
        if file.seek(SeekFrom::Start(start)).is_ok() {
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let all: Vec<&str> = text.lines().collect();
    let shown = &all[all.len().saturating_sub(lines)..];
    if shown.iter().all(|l| l.trim().is_empty()) {
        return "(the log is empty)".into();
    }
    shown.join("\n")
}

fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix time {secs}")
}

// ---------------------------------------------------------------------------------------------
// Java

/// The Java 17 `java` binary. Cassandra 5.0 needs 17 (newer JDKs removed the SecurityManager it
/// installs), and Pulsar 4.0 runs on it too. Tried in order: `$JAVA_HOME` when it is a 17,
/// Debian's OpenJDK 17, any `/usr/lib/jvm/*17*`, then `java` on the PATH when it is a 17.
pub fn java17() -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        candidates.push(PathBuf::from(home).join("bin/java"));
    }
    candidates.push(PathBuf::from("/usr/lib/jvm/java-17-openjdk-amd64/bin/java"));
    if let Ok(entries) = std::fs::read_dir("/usr/lib/jvm") {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("17"))
            .map(|e| e.path().join("bin/java"))
            .collect();
        found.sort();
        candidates.extend(found);
    }
    candidates.push(PathBuf::from("java"));
    for candidate in candidates {
        if java_major(&candidate) == Some(17) {
            // `java` from the PATH: resolve the alternatives links to the real JDK folder.
            if candidate.is_relative() {
                return which(&candidate)
                    .map(|p| p.canonicalize().unwrap_or(p))
                    .ok_or_else(java_missing);
            }
            return Ok(candidate);
        }
    }
    Err(java_missing())
}

fn java_missing() -> Error {
    Error::Java(
        "Java 17 not found (Cassandra 5.0 does not run on newer Java): install it (`apt-get install \
         openjdk-17-jre-headless`) or set JAVA_HOME to a Java 17"
            .into(),
    )
}

/// The JDK folder of a `…/bin/java` (what `JAVA_HOME` should be).
pub fn java_home(java: &Path) -> Option<PathBuf> {
    java.parent()?.parent().map(Path::to_path_buf)
}

/// The major version `java -version` reports (`"17.0.15"` → 17), or `None` if it cannot run.
fn java_major(java: &Path) -> Option<u32> {
    let output = Command::new(java).arg("-version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stderr);
    let quoted = text.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// True when running as root (the owner of `/proc/self` is the effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn which(program: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// Maven

/// A folder of jars fetched by Maven into the cache: `<cache>/<name>/lib`, complete when
/// `<cache>/<name>/.complete` exists.
pub struct MavenJars<'a> {
    /// The folder name in the cache, e.g. `cassandra-5.0.8`.
    pub name: &'a str,
    /// The dependency, as `groupId:artifactId:version`.
    pub coordinates: &'a str,
    /// Shown in progress lines and errors, e.g. "Cassandra 5.0.8 jars".
    pub what: &'a str,
}

/// The `lib` folder of `jars`, fetched with `mvn dependency:copy-dependencies` (runtime scope)
/// on a generated POM unless the cache has it already.
pub async fn maven_jars(
    cache: &Path,
    jars: &MavenJars<'_>,
    progress: &Progress,
    component: &'static str,
) -> Result<PathBuf> {
    let dest = cache.join(jars.name);
    if dest.join(".complete").is_file() {
        return Ok(dest.join("lib"));
    }
    create_dir(cache)?;
    let mvn = ensure_maven(progress, component).await?;
    let staging = cache.join(format!("{}.tmp-{}", jars.name, std::process::id()));
    remove_dir(&staging)?;
    create_dir(&staging)?;
    let mut parts = jars.coordinates.split(':');
    let (Some(group), Some(artifact), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Config(format!("bad Maven coordinates {}", jars.coordinates)));
    };
    let pom = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by astra-local: fetches {what} and their runtime dependencies. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>astra-local</groupId>
  <artifactId>{name}-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{group}</groupId>
      <artifactId>{artifact}</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"#,
        what = jars.what,
        name = jars.name,
    );
    crate::state::write_file(&staging.join("pom.xml"), pom.as_bytes(), false)?;
    let log = cache.join(format!("{}.maven.log", jars.name));
    let log_file = std::fs::File::create(&log).map_err(Error::io("create", &log))?;
    let log_err = log_file.try_clone().map_err(Error::io("open", &log))?;
    let repo = cache.join("m2");
    let step = progress.step(
        component,
        format!("fetching {} with Maven into {}", jars.what, cache.display()),
    );
    let mut child = Command::new(&mvn)
        .current_dir(&staging)
        .args(["-B", "-q", "-f", "pom.xml"])
        .arg(format!("-Dmaven.repo.local={}", repo.display()))
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", staging.join("lib").display()))
        .arg("-DincludeScope=runtime")
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::Maven {
            what: jars.what.into(),
            log: log.clone(),
            tail: format!("cannot run {}: {e}", mvn.display()),
        })?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                step.set_message(format!(
                    "fetching {} with Maven ({} in the local repository)",
                    jars.what,
                    megabytes(dir_size(&repo))
                ));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(Error::Maven {
                    what: jars.what.into(),
                    log,
                    tail: e.to_string(),
                });
            }
        }
    };
    let count = std::fs::read_dir(staging.join("lib")).map(|d| d.count()).unwrap_or(0);
    if !status.success() || count == 0 {
        step.fail(format!("Maven failed ({status})"));
        return Err(Error::Maven {
            what: jars.what.into(),
            tail: tail_since(&log, 0, 30),
            log,
        });
    }
    crate::state::write_file(&staging.join(".complete"), b"", false)?;
    remove_dir(&dest)?;
    std::fs::rename(&staging, &dest).map_err(Error::io("move into place", &dest))?;
    step.finish(format!(
        "{} fetched: {count} jars, {}",
        jars.what,
        megabytes(dir_size(&dest.join("lib")))
    ));
    Ok(dest.join("lib"))
}

/// `mvn`, installed from Debian packages when missing (as root; otherwise an error saying how).
async fn ensure_maven(progress: &Progress, component: &'static str) -> Result<PathBuf> {
    if let Some(mvn) = which(Path::new("mvn")) {
        return Ok(mvn);
    }
    if !is_root() {
        return Err(Error::Java(
            "Maven (`mvn`) is needed to fetch Cassandra's jars: install it (`sudo apt-get install maven`)".into(),
        ));
    }
    let step = progress.step(component, "installing Maven (apt-get install maven)");
    let install = tokio::process::Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Java(format!("cannot run apt-get to install Maven: {e}")))?;
    if !install.status.success() {
        step.fail("apt-get install maven failed");
        return Err(Error::Java(format!(
            "apt-get install maven failed: {}",
            String::from_utf8_lossy(&install.stderr).trim()
        )));
    }
    step.finish("Maven installed");
    which(Path::new("mvn")).ok_or_else(|| Error::Java("Maven was installed but `mvn` is not on the PATH".into()))
}

// ---------------------------------------------------------------------------------------------
// Tarballs

/// A `.tar.gz` distribution on a Maven repository, with a `.sha1` next to it.
pub struct Tarball<'a> {
    pub url: &'a str,
    /// The folder the archive unpacks to, e.g. `apache-pulsar-4.0.8`; also its name in the cache.
    pub top_dir: &'a str,
    /// Shown in progress lines, e.g. "Pulsar 4.0.8".
    pub what: &'a str,
}

const UNPACKED_MARKER: &str = ".astra-local-complete";

/// The unpacked distribution folder in the cache, downloading (checked by SHA-1) and unpacking
/// it first when needed. A cached archive whose SHA-1 does not match is deleted and fetched again.
pub async fn unpacked(
    cache: &Path,
    tarball: &Tarball<'_>,
    progress: &Progress,
    component: &'static str,
) -> Result<PathBuf> {
    let dest = cache.join(tarball.top_dir);
    if dest.join(UNPACKED_MARKER).is_file() {
        return Ok(dest);
    }
    let downloads = cache.join("downloads");
    create_dir(&downloads)?;
    let file_name = tarball.url.rsplit('/').next().unwrap_or("download.tar.gz");
    let archive = downloads.join(file_name);
    let client = download_client()?;
    let expected = published_sha1(&client, tarball.url, &downloads.join(format!("{file_name}.sha1"))).await?;

    if archive.is_file() {
        let step = progress.step(component, format!("checking the cached {file_name}"));
        let actual = sha1_of_file(&archive).await?;
        if actual == expected {
            step.finish(format!("cached {file_name} is intact"));
        } else {
            step.fail(format!(
                "cached {file_name} is corrupt (SHA-1 {actual}, expected {expected}): fetching it again"
            ));
            std::fs::remove_file(&archive).map_err(Error::io("delete", &archive))?;
        }
    }
    if !archive.is_file() {
        download(&client, tarball, &archive, &expected, progress, component).await?;
    }

    let step = progress.step(
        component,
        format!("unpacking {} into {}", tarball.what, cache.display()),
    );
    let staging = cache.join(format!("{}.tmp-{}", tarball.top_dir, std::process::id()));
    remove_dir(&staging)?;
    create_dir(&staging)?;
    let (from, to) = (archive.clone(), staging.clone());
    let unpack = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = std::fs::File::open(&from)?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
        archive.set_preserve_mtime(true);
        archive.unpack(&to)
    });
    match unpack.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            step.fail("unpacking failed");
            remove_dir(&staging)?;
            // A readable archive that does not unpack is corrupt even if its checksum matched a
            // corrupt upload: remove it so the next attempt fetches it again.
            let _ = std::fs::remove_file(&archive);
            return Err(Error::Download {
                url: tarball.url.into(),
                reason: format!("cannot unpack {}: {e}", archive.display()),
            });
        }
        Err(e) => {
            return Err(Error::Download {
                url: tarball.url.into(),
                reason: format!("unpacking stopped: {e}"),
            });
        }
    }
    let unpacked = staging.join(tarball.top_dir);
    if !unpacked.is_dir() {
        return Err(Error::Download {
            url: tarball.url.into(),
            reason: format!("the archive has no {} folder", tarball.top_dir),
        });
    }
    crate::state::write_file(&unpacked.join(UNPACKED_MARKER), b"", false)?;
    remove_dir(&dest)?;
    std::fs::rename(&unpacked, &dest).map_err(Error::io("move into place", &dest))?;
    remove_dir(&staging)?;
    step.finish(format!("{} unpacked ({})", tarball.what, megabytes(dir_size(&dest))));
    Ok(dest)
}

fn download_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("astra-local/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        // No overall timeout (a large file on a slow line takes long) but no stall either.
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Download {
            url: String::new(),
            reason: chain(&e),
        })
}

/// The published SHA-1 of `url` (`<url>.sha1`), cached in `cached` so warm starts need no network.
async fn published_sha1(client: &reqwest::Client, url: &str, cached: &Path) -> Result<String> {
    if let Ok(text) = std::fs::read_to_string(cached)
        && let Some(sha1) = parse_sha1(&text)
    {
        return Ok(sha1);
    }
    let sha1_url = format!("{url}.sha1");
    let failed = |reason: String| Error::Download {
        url: sha1_url.clone(),
        reason,
    };
    let response = client
        .get(&sha1_url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| failed(chain(&e)))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let text = response.text().await.map_err(|e| failed(chain(&e)))?;
    let sha1 = parse_sha1(&text).ok_or_else(|| failed(format!("not a SHA-1: {:?}", text.trim())))?;
    crate::state::write_file(cached, format!("{sha1}\n").as_bytes(), false)?;
    Ok(sha1)
}

/// The hex digest at the start of a `.sha1` file (some carry a file name after it).
fn parse_sha1(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?.to_ascii_lowercase();
    (first.len() == 40 && first.chars().all(|c| c.is_ascii_hexdigit())).then_some(first)
}

async fn sha1_of_file(path: &Path) -> Result<String> {
    let path = path.to_path_buf();
    let shown = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha1::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
    .map_err(|e| Error::Download {
        url: shown.display().to_string(),
        reason: e.to_string(),
    })?
    .map_err(Error::io("read", shown))
}

/// Downloads `tarball.url` to `dest` (through `dest.part`), checking the SHA-1 on the way.
async fn download(
    client: &reqwest::Client,
    tarball: &Tarball<'_>,
    dest: &Path,
    expected: &str,
    progress: &Progress,
    component: &'static str,
) -> Result<()> {
    let url = tarball.url;
    let failed = |reason: String| Error::Download {
        url: url.into(),
        reason,
    };
    let part = dest.with_extension("part");
    let mut response = client.get(url).send().await.map_err(|e| failed(chain(&e)))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    let step = progress.bytes(
        component,
        format!("downloading {}", tarball.what),
        response.content_length(),
    );
    let mut file = std::fs::File::create(&part).map_err(Error::io("create", &part))?;
    let mut hasher = Sha1::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                hasher.update(&chunk);
                file.write_all(&chunk).map_err(Error::io("write", &part))?;
                step.inc(chunk.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                step.fail("download interrupted");
                let _ = std::fs::remove_file(&part);
                return Err(failed(chain(&e)));
            }
        }
    }
    file.sync_all().map_err(Error::io("write", &part))?;
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        step.fail("checksum mismatch");
        let _ = std::fs::remove_file(&part);
        return Err(failed(format!(
            "SHA-1 {actual} does not match the published {expected}: run `up` again"
        )));
    }
    std::fs::rename(&part, dest).map_err(Error::io("move into place", dest))?;
    step.finish(format!("{} downloaded and verified (SHA-1 {expected})", tarball.what));
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", dir)(e)),
    }
}

/// Total size of the files under `dir` (0 when it does not exist).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_published_sha1_files() {
        let sha = "c1778d3c31fa53616190d644bb69616f9a3ae2fc";
        assert_eq!(parse_sha1(sha).as_deref(), Some(sha));
        assert_eq!(parse_sha1(&format!("{sha}  pulsar.tar.gz\n")).as_deref(), Some(sha));
        assert_eq!(parse_sha1("<html>not found</html>"), None);
    }

    #[test]
    fn tail_reads_only_what_this_start_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("x.log");
        std::fs::write(&log, "old 1\nold 2\n").expect("write");
        let offset = std::fs::metadata(&log).expect("stat").len();
        let mut lines = String::new();
        for i in 0..40 {
            lines.push_str(&format!("new {i}\n"));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(lines.as_bytes()))
            .expect("append");
        let tail = tail_since(&log, offset, 30);
        assert_eq!(tail.lines().count(), 30);
        assert!(tail.starts_with("new 10") && tail.ends_with("new 39"), "{tail}");
        assert!(!tail_since(&log, offset, 100).contains("old"));
    }

    #[test]
    fn a_pid_file_of_a_dead_or_foreign_process_is_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        assert_eq!(state(&paths, Component::Serve), ProcessState::Stopped);
        // This test process is alive but is not `astra-local serve` of that folder.
        let me = std::process::id();
        crate::state::write_file(&Component::Serve.pid_file(&paths), format!("{me}\n").as_bytes(), false)
            .expect("write");
        assert_eq!(state(&paths, Component::Serve), ProcessState::Stale { pid: me });
    }

    #[test]
    fn finds_java_17() {
        // Java 17 is a prerequisite of the stack (scripts/lib/common.sh installs it).
        let java = java17().expect("Java 17 is installed");
        assert_eq!(java_major(&java), Some(17));
        assert!(java_home(&java).is_some_and(|home| home.join("bin/java").is_file()));
    }
}
