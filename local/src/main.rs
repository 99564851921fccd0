//! `astra-local`: a local Astra-compatible stack (see local/README.md).
//!
//! Run it through the wrapper, which builds it and finds the checkout's state folder:
//!
//! ```text
//! scripts/astra-local up       # start Cassandra, Pulsar and the front door (downloads on first use)
//! scripts/astra-local status   # what runs, with PIDs, ports, uptime and memory
//! eval "$(scripts/astra-local env)"   # the settings every sample reads
//! scripts/astra-local logs cassandra
//! scripts/astra-local down
//! ```
//!
//! Module map (one module per component, named for it): `processes` fetches, starts and stops the
//! servers; `cassandra` owns the CQL session (bootstrap); `pulsar` its tokens, configuration and
//! tenant; `pki` the certificates; `front_door` Astra's secure-connect front door; `serve` the
//! long-running in-process servers; `devops` the DevOps API contract server (Prism); `stack` what
//! each command does with all of them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use astra_local::processes::Component;
use astra_local::progress::Progress;
use astra_local::stack::{self, PortChoices};
use astra_local::state::{self, Paths};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "astra-local",
    version,
    about = "A local Astra-compatible stack: real Cassandra and Pulsar, Astra's secure-connect front door"
)]
struct Cli {
    /// The stack's state folder [default: .astra-local at the top of the git checkout]
    #[arg(long, global = true, env = "ASTRA_LOCAL_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start whatever is not running (downloading Cassandra and Pulsar on first use) and wait until all is ready
    Up(PortArgs),
    /// Stop every component this stack started (SIGTERM, then SIGKILL after 20 s)
    Down,
    /// Show each component: running or stopped, PID, uptime, memory, ports. Exit status 3 when not all run.
    Status {
        /// Print nothing: only the exit status tells (0 = everything runs)
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print `export NAME=value` lines with the settings samples read: eval "$(astra-local env)"
    Env,
    /// Print a component's log file path and its last lines
    Logs {
        /// cassandra, pulsar, serve or devops [default: all of them]
        component: Option<String>,
        /// How many lines to print
        #[arg(long, short = 'n', default_value_t = 40)]
        lines: usize,
        /// Print the whole log
        #[arg(long, conflicts_with = "lines")]
        all: bool,
    },
    /// Run the in-process servers (front door); started by `up`
    #[command(hide = true)]
    Serve,
}

/// Ports for `up`. Unset ones keep the values of the last `up` (in `.astra-local/stack.json`),
/// else the defaults.
#[derive(Debug, Args)]
struct PortArgs {
    /// Cassandra's native CQL port [default: 9042]
    #[arg(long, env = "ASTRA_LOCAL_CQL_PORT")]
    cql_port: Option<u16>,
    /// Cassandra's storage (gossip) port [default: 7000]
    #[arg(long, env = "ASTRA_LOCAL_STORAGE_PORT")]
    storage_port: Option<u16>,
    /// The front door's CQL proxy (mutual TLS) [default: 29042]
    #[arg(long, env = "ASTRA_LOCAL_FRONT_DOOR_PORT")]
    front_door_port: Option<u16>,
    /// The front door's metadata service (mutual TLS) [default: 29080]
    #[arg(long, env = "ASTRA_LOCAL_METADATA_PORT")]
    metadata_port: Option<u16>,
    /// Pulsar's plaintext binary protocol [default: 6650]
    #[arg(long, env = "ASTRA_LOCAL_PULSAR_PORT")]
    pulsar_port: Option<u16>,
    /// Pulsar's binary protocol over TLS [default: 6651]
    #[arg(long, env = "ASTRA_LOCAL_PULSAR_TLS_PORT")]
    pulsar_tls_port: Option<u16>,
    /// Pulsar's admin API over plain HTTP (never 8080: the GraphQL gateway's) [default: 8085]
    #[arg(long, env = "ASTRA_LOCAL_PULSAR_HTTP_PORT")]
    pulsar_http_port: Option<u16>,
    /// Pulsar's admin API over HTTPS [default: 8443]
    #[arg(long, env = "ASTRA_LOCAL_PULSAR_HTTPS_PORT")]
    pulsar_https_port: Option<u16>,
    /// The DevOps API contract server (Prism) [default: 4010]
    #[arg(long, env = "ASTRA_LOCAL_DEVOPS_PORT")]
    devops_port: Option<u16>,
}

impl From<&PortArgs> for PortChoices {
    fn from(args: &PortArgs) -> Self {
        Self {
            cql: args.cql_port,
            cassandra_storage: args.storage_port,
            front_door_cql: args.front_door_port,
            front_door_metadata: args.metadata_port,
            pulsar: args.pulsar_port,
            pulsar_tls: args.pulsar_tls_port,
            pulsar_http: args.pulsar_http_port,
            pulsar_https: args.pulsar_https_port,
            devops: args.devops_port,
        }
    }
}

/// Exit status of `status` when not every component runs.
const NOT_ALL_RUNNING: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve));
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr. The CLI shows progress lines itself, so its default is warnings only;
/// `serve` (whose stderr is its log file) logs at info. `RUST_LOG` overrides both.
fn init_tracing(serve: bool) {
    let default = if serve { "astra_local=info" } else { "astra_local=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // One TLS crypto provider for the whole process (front door, admin client, driver).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = cli.state_dir.unwrap_or_else(state::default_state_dir);
    let paths = Paths::new(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    match cli.command {
        Command::Up(ports) => {
            let progress = Progress::new();
            runtime.block_on(async {
                let ports = stack::resolve_ports(&paths, &PortChoices::from(&ports))?;
                stack::up(&paths, ports, &progress).await
            })?;
        }
        Command::Down => runtime.block_on(stack::down(&paths, &Progress::new()))?,
        Command::Status { quiet } => {
            if !stack::status(&paths, quiet)? {
                return Ok(ExitCode::from(NOT_ALL_RUNNING));
            }
        }
        Command::Env => {
            for line in stack::env_lines(&paths)? {
                println!("{line}");
            }
            if !paths.bundle_file().is_file() {
                eprintln!(
                    "warning: {} does not exist yet: run `scripts/astra-local up`",
                    paths.bundle_file().display()
                );
            }
        }
        Command::Logs { component, lines, all } => {
            let components =
                match component {
                    Some(name) => vec![Component::from_name(&name).with_context(|| {
                        format!("unknown component {name:?}: use cassandra, pulsar, serve or devops")
                    })?],
                    None => Component::ALL.to_vec(),
                };
            for component in components {
                let (path, text) = stack::log_text(&paths, component, (!all).then_some(lines))?;
                let shown = if all {
                    "all".to_owned()
                } else {
                    format!("last {lines} lines")
                };
                eprintln!("==> {} ({shown}) <==", path.display());
                println!("{text}");
            }
        }
        Command::Serve => runtime.block_on(async {
            // A second stack on this machine (the fault tests' own) sets ASTRA_LOCAL_NO_GATEWAY=1:
            // the gateway's ports are Stargate's fixed ones, which the first stack's gateway owns.
            if !astra_local::gateway::enabled() {
                return astra_local::serve::run(&paths).await;
            }
            // The Stargate-compatible gateway (local/src/gateway) serves next to the front door.
            tokio::select! {
                served = astra_local::serve::run(&paths) => served,
                () = astra_local::gateway::serve_stack(&paths) => Ok(()),
            }
        })?,
    }
    Ok(ExitCode::SUCCESS)
}
