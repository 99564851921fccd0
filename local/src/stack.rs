//! The stack as a whole: what `up`, `down`, `status`, `env` and `logs` do with its components.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::cassandra::{self, NodeInfo};
use crate::error::{Error, Result, chain};
use crate::front_door;
use crate::gateway;
use crate::pki::Pki;
use crate::ports::{self, NeededPort};
use crate::processes::{self, Component, Launch, ProcessState, Started};
use crate::progress::{Progress, megabytes};
use crate::pulsar;
use crate::serve::{FrontDoorSettings, NodeSettings, ServeConfig};
use crate::state::{Paths, Ports, Secrets, Settings, cache_dir, create_dir};

/// How long `down` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// How long `up` waits for `serve` to listen.
const SERVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The host in the bundle and in the metadata's `sni_proxy_address`.
const PROXY_HOST: &str = "localhost";

/// Ports asked for on the command line or in the environment; the rest come from `stack.json`
/// (the ports of the last `up`), else from the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortChoices {
    pub cql: Option<u16>,
    pub cassandra_storage: Option<u16>,
    pub front_door_cql: Option<u16>,
    pub front_door_metadata: Option<u16>,
    pub pulsar: Option<u16>,
    pub pulsar_tls: Option<u16>,
    pub pulsar_http: Option<u16>,
    pub pulsar_https: Option<u16>,
    pub devops: Option<u16>,
}

/// The ports `up` uses. Changing ports of a running stack is refused: `down` first.
pub fn resolve_ports(paths: &Paths, choices: &PortChoices) -> Result<Ports> {
    let saved = Settings::load(paths)?.map(|s| s.ports);
    let base = saved.unwrap_or_default();
    let ports = Ports {
        cql: choices.cql.unwrap_or(base.cql),
        cassandra_storage: choices.cassandra_storage.unwrap_or(base.cassandra_storage),
        front_door_cql: choices.front_door_cql.unwrap_or(base.front_door_cql),
        front_door_metadata: choices.front_door_metadata.unwrap_or(base.front_door_metadata),
        pulsar: choices.pulsar.unwrap_or(base.pulsar),
        pulsar_tls: choices.pulsar_tls.unwrap_or(base.pulsar_tls),
        pulsar_http: choices.pulsar_http.unwrap_or(base.pulsar_http),
        pulsar_https: choices.pulsar_https.unwrap_or(base.pulsar_https),
        devops: choices.devops.unwrap_or(base.devops),
    };
    let running: Vec<&str> = Component::ALL
        .into_iter()
        .filter(|c| matches!(processes::state(paths, *c), ProcessState::Running { .. }))
        .map(Component::name)
        .collect();
    if let Some(saved) = saved
        && saved != ports
        && !running.is_empty()
    {
        return Err(Error::Config(format!(
            "the stack is running ({}) with other ports than asked: run `astra-local down` first to change ports",
            running.join(", ")
        )));
    }
    Ok(ports)
}

/// The ports a component listens on, for the free-port check.
fn needed_ports(component: Component, ports: &Ports) -> Vec<NeededPort> {
    let port = |port, purpose| NeededPort { port, purpose };
    match component {
        Component::Cassandra => vec![
            port(ports.cql, "Cassandra CQL"),
            port(ports.cassandra_storage, "Cassandra storage"),
        ],
        Component::Pulsar => vec![
            port(ports.pulsar, "Pulsar binary protocol"),
            port(ports.pulsar_tls, "Pulsar binary protocol over TLS"),
            port(ports.pulsar_http, "Pulsar admin HTTP"),
            port(ports.pulsar_https, "Pulsar admin HTTPS"),
        ],
        Component::Serve => {
            let mut needed = vec![
                port(ports.front_door_cql, "front door CQL proxy"),
                port(ports.front_door_metadata, "front door metadata service"),
            ];
            if gateway::enabled() {
                needed.extend(gateway::STACK_PORTS.map(|(p, purpose)| port(p, purpose)));
            }
            needed
        }
        Component::Devops => vec![port(ports.devops, "DevOps API contract server")],
    }
}

/// Starts whatever is not running, waits until each component is ready, and sets it up.
pub async fn up(paths: &Paths, ports: Ports, progress: &Progress) -> Result<()> {
    let started_at = Instant::now();
    create_dir(&paths.root)?;
    // Secrets first: they are saved before any is applied, so an interrupted start resumes.
    let secrets = Secrets::load_or_create(paths)?;
    pulsar::secret_key(paths)?;
    if let Some(warning) = pulsar::Disk::of(&paths.root).and_then(|disk| disk.warning()) {
        progress.println(format!("[pulsar] warning: {warning}"));
    }
    let pki = Pki::ensure(&paths.certs_dir()).map_err(|e| Error::FrontDoor(chain(&e)))?;

    let mut running = Vec::new();
    for component in Component::ALL {
        match processes::state(paths, component) {
            ProcessState::Running { pid, .. } => {
                progress.println(format!("[{}] already running (PID {pid})", component.name()));
                running.push(component);
            }
            ProcessState::Stale { pid } => {
                processes::remove_pid_file(paths, component)?;
                progress.println(format!(
                    "[{}] removed a stale PID file (PID {pid} is not running)",
                    component.name()
                ));
            }
            ProcessState::Stopped => {}
        }
    }
    let to_start: Vec<Component> = Component::ALL.into_iter().filter(|c| !running.contains(c)).collect();
    let needed: Vec<NeededPort> = to_start.iter().flat_map(|c| needed_ports(*c, &ports)).collect();
    ports::ensure_free(&needed)?;
    Settings { ports }.save(paths)?;

    let needs_java = to_start.contains(&Component::Cassandra) || to_start.contains(&Component::Pulsar);
    let java = if needs_java { Some(processes::java17()?) } else { None };
    let cache = cache_dir();
    // Cassandra and Pulsar start side by side (each takes 6-15 s, longer on a loaded machine);
    // the front door starts as soon as Cassandra is ready, since it needs the node's host_id.
    let database = async {
        match cassandra_up(paths, &ports, &secrets, &cache, java.as_deref(), progress).await {
            Ok(node) => serve_up(paths, &ports, &node, &pki, progress).await,
            Err(e) => {
                progress.println("[serve] not started: it needs Cassandra");
                Err(e)
            }
        }
    };
    let (database, broker, devops) = tokio::join!(
        database,
        pulsar_up(paths, &ports, &cache, java.as_deref(), progress),
        crate::devops::up(paths, ports.devops, &cache, progress),
    );
    let mut failures: Vec<Error> = [database, broker, devops].into_iter().filter_map(Result::err).collect();
    match failures.len() {
        0 => {
            print_summary(paths, &ports, started_at.elapsed());
            Ok(())
        }
        1 => Err(failures.remove(0)),
        _ => Err(Error::Config(
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n\n"),
        )),
    }
}

async fn cassandra_up(
    paths: &Paths,
    ports: &Ports,
    secrets: &Secrets,
    cache: &Path,
    java: Option<&Path>,
    progress: &Progress,
) -> Result<NodeInfo> {
    let component = Component::Cassandra;
    let mut started = match (processes::state(paths, component), java) {
        (ProcessState::Running { .. }, _) => None,
        (_, Some(java)) => {
            let lib = cassandra::fetch(cache, progress).await?;
            let launch = cassandra::prepare(paths, ports, &lib, java)?;
            Some(processes::spawn_detached(paths, launch)?)
        }
        (_, None) => return Err(Error::Java("no Java 17 to start Cassandra".into())),
    };
    let what = if started.is_some() {
        "starting Cassandra"
    } else {
        "checking Cassandra"
    };
    let step = progress.step(component.name(), what);
    match cassandra::ready(paths, ports, secrets, started.as_mut(), &step).await {
        Ok(node) => {
            step.finish(format!(
                "Cassandra {} ready on 127.0.0.1:{} (host_id {}, {})",
                node.release_version,
                ports.cql,
                node.host_id,
                pid_text(paths, component)
            ));
            Ok(node)
        }
        Err(e) => {
            step.fail("Cassandra is not ready");
            abandon(paths, started).await;
            Err(e)
        }
    }
}

async fn pulsar_up(paths: &Paths, ports: &Ports, cache: &Path, java: Option<&Path>, progress: &Progress) -> Result<()> {
    let component = Component::Pulsar;
    let mut started = match (processes::state(paths, component), java) {
        (ProcessState::Running { .. }, _) => None,
        (_, Some(java)) => {
            let distribution = pulsar::fetch(cache, progress).await?;
            let launch = pulsar::prepare(paths, ports, &distribution, java, &paths.certs_dir())?;
            Some(processes::spawn_detached(paths, launch)?)
        }
        (_, None) => return Err(Error::Java("no Java 17 to start Pulsar".into())),
    };
    let what = if started.is_some() {
        "starting Pulsar"
    } else {
        "checking Pulsar"
    };
    let step = progress.step(component.name(), what);
    match pulsar::ready(paths, ports, started.as_mut(), &step).await {
        Ok(()) => {
            step.finish(format!(
                "Pulsar {} ready: pulsar+ssl://localhost:{}, https://localhost:{} ({})",
                pulsar::VERSION,
                ports.pulsar_tls,
                ports.pulsar_https,
                pid_text(paths, component)
            ));
            Ok(())
        }
        Err(e) => {
            step.fail("Pulsar is not ready");
            abandon(paths, started).await;
            Err(e)
        }
    }
}

/// Stops a process this `up` started but that never became ready, so the next `up` starts clean.
async fn abandon(paths: &Paths, started: Option<Started>) {
    let Some(mut started) = started else { return };
    if started.exited().is_none() {
        let _ = processes::stop(started.component, started.pid(), STOP_GRACE).await;
        let _ = started.child.try_wait();
    }
    let _ = processes::remove_pid_file(paths, started.component);
}

fn pid_text(paths: &Paths, component: Component) -> String {
    match processes::state(paths, component) {
        ProcessState::Running { pid, .. } => format!("PID {pid}"),
        _ => "not running".into(),
    }
}

/// Writes `serve.json` for `node`, (re)starts `serve` when needed, and writes the bundle.
async fn serve_up(paths: &Paths, ports: &Ports, node: &NodeInfo, pki: &Pki, progress: &Progress) -> Result<()> {
    let component = Component::Serve;
    let exe = std::env::current_exe().map_err(|e| Error::Spawn {
        component: "serve",
        reason: e.to_string(),
    })?;
    let config = ServeConfig {
        binary: crate::serve::binary_identity(&exe),
        certs_dir: paths.certs_dir(),
        front_door: FrontDoorSettings {
            cql_port: ports.front_door_cql,
            metadata_port: ports.front_door_metadata,
            proxy_host: PROXY_HOST.into(),
            nodes: vec![NodeSettings {
                host_id: node.host_id,
                address: SocketAddr::from((Ipv4Addr::LOCALHOST, ports.cql)),
            }],
            local_dc: node.data_center.clone(),
        },
    };
    let changed = config.save(paths)?;
    if let ProcessState::Running { pid, .. } = processes::state(paths, component) {
        if !changed {
            write_bundle(paths, ports, node, pki)?;
            return Ok(());
        }
        progress.println(format!(
            "[serve] its configuration or binary changed: restarting PID {pid}"
        ));
        processes::stop(component, pid, STOP_GRACE).await?;
        processes::remove_pid_file(paths, component)?;
        ports::ensure_free(&needed_ports(component, ports))?;
    }
    let step = progress.step(component.name(), "starting the front door and the gateway");
    let launch = Launch {
        component,
        program: exe,
        args: vec!["serve".into(), "--state-dir".into(), paths.root.display().to_string()],
        env: vec![(
            "RUST_LOG".into(),
            std::env::var("RUST_LOG").unwrap_or_else(|_| "astra_local=info".into()),
        )],
        cwd: paths.root.clone(),
    };
    let mut started = processes::spawn_detached(paths, launch)?;
    let deadline = Instant::now() + SERVE_TIMEOUT;
    loop {
        if let Some(reason) = started.exited() {
            step.fail("serve did not start");
            let _ = processes::remove_pid_file(paths, component);
            return Err(started.failed(reason));
        }
        // Ready when every port answers: the front door's, and the gateway's, which binds once
        // it has logged in to Cassandra (a sample started right after `up` must find it).
        let listening = needed_ports(component, ports).iter().all(|p| ports::accepts(p.port));
        if listening {
            break;
        }
        if Instant::now() > deadline {
            step.fail("serve did not start");
            let error = started.failed(format!("not listening after {} s", SERVE_TIMEOUT.as_secs()));
            abandon(paths, Some(started)).await;
            return Err(error);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    write_bundle(paths, ports, node, pki)?;
    let gateway = if gateway::enabled() {
        "; gateway ready: Stargate APIs and the Data API"
    } else {
        ""
    };
    step.finish(format!(
        "front door ready: CQL proxy localhost:{}, metadata https://localhost:{}/metadata{gateway} (PID {})",
        ports.front_door_cql,
        ports.front_door_metadata,
        started.pid()
    ));
    Ok(())
}

fn write_bundle(paths: &Paths, ports: &Ports, node: &NodeInfo, pki: &Pki) -> Result<()> {
    front_door::write_bundle(
        &paths.bundle_file(),
        pki,
        PROXY_HOST,
        ports.front_door_metadata,
        ports.front_door_cql,
        cassandra::KEYSPACE,
        &node.data_center,
    )
    .map_err(|e| Error::FrontDoor(chain(&e)))
}

fn print_summary(paths: &Paths, ports: &Ports, elapsed: Duration) {
    println!(
        "astra-local is up ({:.1} s); state in {}",
        elapsed.as_secs_f64(),
        paths.root.display()
    );
    println!("  Cassandra   127.0.0.1:{} (plain CQL)", ports.cql);
    println!(
        "  front door  localhost:{} (CQL, mutual TLS), https://localhost:{}/metadata",
        ports.front_door_cql, ports.front_door_metadata
    );
    println!("  bundle      {}", paths.bundle_file().display());
    if gateway::enabled() {
        println!(
            "  Stargate    REST and Documents http://localhost:{}, GraphQL http://localhost:{}, gRPC localhost:{}, auth http://localhost:{}",
            gateway::DEFAULT_REST_PORT,
            gateway::DEFAULT_GRAPHQL_PORT,
            gateway::DEFAULT_GRPC_PORT,
            gateway::DEFAULT_AUTH_PORT
        );
        println!("  Data API    http://localhost:{}", gateway::data_api::DEFAULT_PORT);
    }
    println!(
        "  Pulsar      pulsar+ssl://localhost:{}, https://localhost:{} (plaintext: {}, http {})",
        ports.pulsar_tls, ports.pulsar_https, ports.pulsar, ports.pulsar_http
    );
    println!("  DevOps API  {} (contract server)", crate::devops::url(ports.devops));
    println!("Settings for the samples: eval \"$(scripts/astra-local env)\"");
}

/// Stops every running component (the front door first), by PID.
pub async fn down(paths: &Paths, progress: &Progress) -> Result<()> {
    let serve = stop_component(paths, Component::Serve, progress).await;
    let (cassandra, pulsar, devops) = tokio::join!(
        stop_component(paths, Component::Cassandra, progress),
        stop_component(paths, Component::Pulsar, progress),
        stop_component(paths, Component::Devops, progress),
    );
    let mut stopped = false;
    let mut errors = Vec::new();
    for result in [serve, cassandra, pulsar, devops] {
        match result {
            Ok(was_running) => stopped |= was_running,
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Config(errors.join("\n")));
    }
    if !stopped {
        println!("the local stack is not running: nothing to stop");
    }
    Ok(())
}

/// Returns true when the component was running.
async fn stop_component(paths: &Paths, component: Component, progress: &Progress) -> Result<bool> {
    match processes::state(paths, component) {
        ProcessState::Running { pid, .. } => {
            let step = progress.step(component.name(), format!("stopping PID {pid}"));
            let killed = processes::stop(component, pid, STOP_GRACE).await?;
            processes::remove_pid_file(paths, component)?;
            if killed {
                step.finish(format!("killed (no exit {} s after SIGTERM)", STOP_GRACE.as_secs()));
            } else {
                step.finish("stopped");
            }
            Ok(true)
        }
        ProcessState::Stale { pid } => {
            processes::remove_pid_file(paths, component)?;
            progress.println(format!(
                "[{}] was not running (removed a stale PID file for PID {pid})",
                component.name()
            ));
            Ok(false)
        }
        ProcessState::Stopped => Ok(false),
    }
}

/// Prints one line per component; returns true when all run.
pub fn status(paths: &Paths, quiet: bool) -> Result<bool> {
    let ports = Settings::load(paths)?.map(|s| s.ports).unwrap_or_default();
    let mut all_running = true;
    let mut rows = Vec::new();
    for component in Component::ALL {
        let (state, detail) = match processes::state(paths, component) {
            ProcessState::Running { pid, since } => {
                let mut detail = format!("PID {pid}");
                if let Some(uptime) = since.and_then(|s| SystemTime::now().duration_since(s).ok()) {
                    detail.push_str(&format!(", up {}", human_duration(uptime)));
                }
                if let Some(rss) = processes::rss_bytes(pid) {
                    detail.push_str(&format!(", RSS {}", megabytes(rss)));
                }
                ("running", detail)
            }
            ProcessState::Stopped => ("stopped", String::new()),
            ProcessState::Stale { pid } => ("stopped", format!("stale PID file: PID {pid} is gone")),
        };
        all_running &= state == "running";
        rows.push([
            component.name().to_owned(),
            state.to_owned(),
            detail,
            port_text(component, &ports),
        ]);
    }
    if !quiet {
        println!("state: {}", paths.root.display());
        let width = |column: usize| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0);
        let widths = [width(0), width(1), width(2)];
        for [name, state, detail, ports] in &rows {
            let line = format!(
                "{name:<w0$}  {state:<w1$}  {detail:<w2$}  {ports}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            println!("{line}");
        }
        if let Some(disk) = pulsar::Disk::of(&paths.root) {
            println!("disk:  {}", disk.summary());
            if let Some(warning) = disk.warning() {
                println!("warning: {warning}");
            }
        }
        if Secrets::load(paths)?.is_none() {
            println!("(never set up here: `scripts/astra-local up` creates the stack)");
        }
    }
    Ok(all_running)
}

fn port_text(component: Component, ports: &Ports) -> String {
    match component {
        Component::Cassandra => format!("CQL 127.0.0.1:{}, storage {}", ports.cql, ports.cassandra_storage),
        Component::Pulsar => format!(
            "pulsar+ssl {}, https {} (plaintext {}, http {})",
            ports.pulsar_tls, ports.pulsar_https, ports.pulsar, ports.pulsar_http
        ),
        Component::Serve => format!(
            "front door CQL {}, metadata {}",
            ports.front_door_cql, ports.front_door_metadata
        ),
        Component::Devops => format!("DevOps API contract {}", crate::devops::url(ports.devops)),
    }
}

fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// The `export NAME=value` lines of `astra-local env`.
pub fn env_lines(paths: &Paths) -> Result<Vec<String>> {
    let not_set_up = || Error::NotSetUp {
        dir: paths.root.clone(),
    };
    let secrets = Secrets::load(paths)?.ok_or_else(not_set_up)?;
    let ports = Settings::load(paths)?.ok_or_else(not_set_up)?.ports;
    let pulsar_key = pulsar::existing_secret_key(paths)?.ok_or_else(not_set_up)?;
    let ca = paths.certs_dir().join(crate::pki::CA_CERT_FILE);
    let vars: Vec<(&str, String)> = vec![
        ("ASTRA_DB_APPLICATION_TOKEN", secrets.application_token.clone()),
        ("ASTRA_DB_CLIENT_ID", secrets.client_id.clone()),
        ("ASTRA_DB_CLIENT_SECRET", secrets.client_secret.clone()),
        ("ASTRA_DB_KEYSPACE", cassandra::KEYSPACE.into()),
        ("ASTRA_DB_SECURE_BUNDLE_PATH", path_text(&paths.bundle_file())),
        (
            "ASTRA_STREAMING_SERVICE_URL",
            format!("pulsar+ssl://localhost:{}", ports.pulsar_tls),
        ),
        (
            "ASTRA_STREAMING_WEB_URL",
            format!("https://localhost:{}", ports.pulsar_https),
        ),
        (
            "ASTRA_STREAMING_TOKEN",
            pulsar::token(&pulsar_key, pulsar::CLIENT_ROLE)?,
        ),
        ("ASTRA_STREAMING_TENANT", pulsar::TENANT.into()),
        ("ASTRA_STREAMING_NAMESPACE", pulsar::NAMESPACE.into()),
        ("ASTRA_STREAMING_TOPIC", pulsar::TOPIC.into()),
        ("ASTRA_STREAMING_CA_PATH", path_text(&ca)),
        ("CASSANDRA_CONTACT_POINT", format!("127.0.0.1:{}", ports.cql)),
        ("CASSANDRA_USERNAME", cassandra::SUPERUSER.into()),
        ("CASSANDRA_PASSWORD", secrets.cassandra_password.clone()),
        // The Stargate-compatible gateway (local/src/gateway): Stargate's ports. Its username and
        // password are the client id's (a role that may use every keyspace, not the superuser).
        ("STARGATE_AUTH_URL", "http://localhost:8081".into()),
        ("STARGATE_REST_URL", "http://localhost:8082".into()),
        ("STARGATE_GRPC_ENDPOINT", "http://localhost:8090".into()),
        ("STARGATE_GRAPHQL_URL", "http://localhost:8080".into()),
        // The gateway's Data API, on the self-hosted Data API's port (append /api/json/v1/{keyspace}).
        ("ASTRA_DB_API_ENDPOINT", "http://localhost:8181".into()),
        ("STARGATE_USERNAME", secrets.client_id.clone()),
        ("STARGATE_PASSWORD", secrets.client_secret.clone()),
        ("ASTRA_DEVOPS_URL", crate::devops::url(ports.devops)),
        // For the stack's own tests only: the Pulsar super-user, and where the stack lives.
        (
            "ASTRA_LOCAL_PULSAR_ADMIN_TOKEN",
            pulsar::token(&pulsar_key, pulsar::ADMIN_ROLE)?,
        ),
        ("ASTRA_LOCAL_DIR", path_text(&paths.root)),
    ];
    Ok(vars
        .into_iter()
        .map(|(name, value)| format!("export {name}={}", shell_quote(&value)))
        .collect())
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// `value` as one shell word: unchanged when it only has safe characters, else single-quoted.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The log of `component`: its path, and its last `lines` lines (all of it when `None`).
pub fn log_text(paths: &Paths, component: Component, lines: Option<usize>) -> Result<(PathBuf, String)> {
    let path = component.log_file(paths);
    if !path.is_file() {
        return Err(Error::Config(format!(
            "{} has no log yet ({} does not exist)",
            component.name(),
            path.display()
        )));
    }
    let text = match lines {
        Some(n) => processes::tail_since(&path, 0, n),
        None => std::fs::read_to_string(&path).map_err(Error::io("read", &path))?,
    };
    Ok((path, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_safe_values_and_quotes_the_rest() {
        assert_eq!(shell_quote("AstraCS:abc:0f"), "AstraCS:abc:0f");
        assert_eq!(shell_quote("/a/b.zip"), "/a/b.zip");
        assert_eq!(
            shell_quote("pulsar+ssl://localhost:6651"),
            "pulsar+ssl://localhost:6651"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn env_fails_clearly_when_never_set_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = env_lines(&Paths::new(dir.path())).expect_err("not set up");
        assert!(error.to_string().contains("never set up"), "{error}");
    }

    #[test]
    fn serve_needs_the_gateways_ports_free_and_waits_for_them() {
        let needed: Vec<u16> = needed_ports(Component::Serve, &Ports::default())
            .iter()
            .map(|p| p.port)
            .collect();
        assert_eq!(needed, [29042, 29080, 8081, 8082, 8090, 8080, 8181]);
    }

    #[test]
    fn ports_of_a_stopped_stack_follow_the_choices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        let choices = PortChoices {
            cql: Some(19042),
            ..PortChoices::default()
        };
        let ports = resolve_ports(&paths, &choices).expect("ports");
        assert_eq!(ports.cql, 19042);
        assert_eq!(ports.pulsar_http, 8085);
    }
}
