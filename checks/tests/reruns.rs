//! Re-runs and concurrency (issue #14): each sample, against the local stack, run 3 times in a row
//! and then 4 at once. Every run must succeed, and afterwards nothing a run wrote may be left:
//! no rows of its run id, no documents it created, no table of its own, no subscription, no topic.
//! What each sample leaves is looked up independently (plain CQL as the superuser, Pulsar's admin
//! API), from the names the runs print.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use checks::matrix::stack_env;
use checks::run::{self, Run};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

/// A whole run against the local stack takes seconds; this bounds a hung one.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// What a run leaves behind if it does not clean up, and how to find it.
enum Residue {
    /// Rows of the run's `run_id` (printed as "(run <uuid>)") in a shared table, in the stack's
    /// keyspace unless `keyspace` names another.
    Rows {
        keyspace: Option<&'static str>,
        table: &'static str,
    },
    /// Documents the run created (ids printed) in a shared collection (a table keyed by `key`).
    Documents { collection: &'static str },
    /// A table of the run's own, `sample_grpc_<id>`, named in the output.
    OwnTable { prefix: &'static str },
    /// The run's subscription `sample-pulsar-producer-<run id>` on the shared topic.
    Subscription { prefix: &'static str },
    /// The partitioned topic the run created ("Created partitioned topic persistent://t/ns/NAME").
    Topic,
    /// Nothing: the run only reads (or, against the local contract server, keeps no state).
    Nothing,
}

struct Rerun {
    bin: &'static str,
    vars: &'static [&'static str],
    residue: Residue,
}

const TOKEN: &str = "ASTRA_DB_APPLICATION_TOKEN";
const KEYSPACE: &str = "ASTRA_DB_KEYSPACE";

const SAMPLES: &[Rerun] = &[
    Rerun {
        bin: "sample-cql",
        vars: &["ASTRA_DB_SECURE_BUNDLE_PATH", TOKEN, KEYSPACE],
        residue: Residue::Rows {
            keyspace: None,
            table: "sample_cql_tasks",
        },
    },
    Rerun {
        bin: "sample-rest",
        vars: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        residue: Residue::Rows {
            keyspace: None,
            table: "sample_rest_tasks",
        },
    },
    Rerun {
        bin: "sample-document",
        vars: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        residue: Residue::Documents {
            collection: "sample_document_tasks",
        },
    },
    Rerun {
        bin: "sample-grpc",
        vars: &["STARGATE_GRPC_ENDPOINT", TOKEN, KEYSPACE],
        residue: Residue::OwnTable { prefix: "sample_grpc_" },
    },
    Rerun {
        bin: "sample-graphql-cql-first",
        vars: &["STARGATE_GRAPHQL_URL", TOKEN, KEYSPACE],
        residue: Residue::Rows {
            keyspace: None,
            table: "sample_graphql_tasks",
        },
    },
    Rerun {
        bin: "sample-graphql-first",
        vars: &["STARGATE_GRAPHQL_URL", TOKEN],
        // Its schema's `Task` type, deployed to its own keyspace (`--keyspace`, graphql_first).
        residue: Residue::Rows {
            keyspace: Some("graphql_first"),
            table: "tasks",
        },
    },
    Rerun {
        bin: "sample-data-api",
        vars: &["ASTRA_DB_API_ENDPOINT", TOKEN, KEYSPACE],
        // A collection of its own per run (a table), dropped at the end.
        residue: Residue::OwnTable {
            prefix: "sample_data_api_",
        },
    },
    Rerun {
        bin: "sample-pulsar-producer",
        vars: &[
            "ASTRA_STREAMING_SERVICE_URL",
            "ASTRA_STREAMING_TOKEN",
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
            "ASTRA_STREAMING_TOPIC",
            "ASTRA_STREAMING_CA_PATH",
        ],
        residue: Residue::Subscription {
            prefix: "sample-pulsar-producer-",
        },
    },
    Rerun {
        bin: "sample-pulsar-admin",
        vars: &[
            "ASTRA_STREAMING_WEB_URL",
            "ASTRA_STREAMING_TOKEN",
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
            "ASTRA_STREAMING_CA_PATH",
        ],
        residue: Residue::Topic,
    },
    Rerun {
        bin: "sample-devops-db",
        vars: &["ASTRA_DEVOPS_URL", TOKEN],
        residue: Residue::Nothing,
    },
    Rerun {
        bin: "sample-devops-org",
        vars: &["ASTRA_DEVOPS_URL", TOKEN],
        residue: Residue::Nothing,
    },
    Rerun {
        bin: "sample-devops-streaming",
        vars: &["ASTRA_DEVOPS_URL", TOKEN],
        residue: Residue::Nothing,
    },
];

fn vars_of(sample: &Rerun) -> Vec<(String, String)> {
    sample.vars.iter().map(|n| ((*n).to_owned(), stack_env(n))).collect()
}

/// A successful run, or a description of how it failed.
fn succeeded(bin: &str, run: &Run) -> Result<(), String> {
    if run.code == Some(0) && !run.killed {
        return Ok(());
    }
    Err(format!(
        "{bin} failed (exit {:?}, killed {}, {:.1} s):\n{}",
        run.code,
        run.killed,
        run.elapsed.as_secs_f64(),
        run.stderr.trim_end()
    ))
}

/// Every text in `stdout` between `before` and the first character of `stop`.
fn between<'a>(stdout: &'a str, before: &str, stop: &[char]) -> Vec<&'a str> {
    stdout
        .split(before)
        .skip(1)
        .filter_map(|rest| rest.split(|c| stop.contains(&c)).next())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn cql() -> Session {
    let builder = SessionBuilder::new()
        .known_node(stack_env("CASSANDRA_CONTACT_POINT"))
        .user(stack_env("CASSANDRA_USERNAME"), stack_env("CASSANDRA_PASSWORD"));
    tokio::time::timeout(Duration::from_secs(30), builder.build())
        .await
        .expect("CQL connect in time")
        .unwrap()
}

async fn count(session: &Session, cql: String, value: impl scylla::serialize::row::SerializeRow) -> usize {
    let result = session.query_unpaged(cql, value).await.unwrap();
    result.into_rows_result().unwrap().rows_num()
}

fn pulsar_admin() -> reqwest::Client {
    let ca = std::fs::read(stack_env("ASTRA_STREAMING_CA_PATH")).unwrap();
    common::http::client_with_ca("checks-reruns", &ca).unwrap()
}

async fn admin_list(path: &str) -> Vec<String> {
    let url = format!("{}/admin/v2/{path}", stack_env("ASTRA_STREAMING_WEB_URL"));
    let response = pulsar_admin()
        .get(&url)
        .bearer_auth(stack_env("ASTRA_STREAMING_TOKEN"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    response.json().await.unwrap()
}

/// What the runs (their stdouts) left behind; empty when nothing.
async fn residue_of(sample: &Rerun, stdouts: &[String], session: &Session) -> Vec<String> {
    let keyspace = stack_env(KEYSPACE);
    let mut left = Vec::new();
    for stdout in stdouts {
        match sample.residue {
            Residue::Rows { keyspace: other, table } => {
                let keyspace = other.map(str::to_owned).unwrap_or_else(|| keyspace.clone());
                let ids = between(stdout, "(run ", &[')']);
                assert!(!ids.is_empty(), "no run id in {stdout}");
                for id in ids {
                    let id: uuid::Uuid = id.parse().unwrap();
                    let cql = format!("SELECT run_id FROM {keyspace}.{table} WHERE run_id = ?");
                    let rows = count(session, cql, (id,)).await;
                    if rows > 0 {
                        left.push(format!("{rows} rows of run {id} in {keyspace}.{table}"));
                    }
                }
            }
            Residue::Documents { collection } => {
                let mut ids: Vec<&str> = between(stdout, "PUT document ", &[' ']);
                for list in between(stdout, "the API chose their ids: ", &['\n']) {
                    ids.extend(list.trim_end_matches('.').split(", "));
                }
                assert!(ids.len() > 1, "no document ids in {stdout}");
                for id in ids {
                    let cql = format!("SELECT key FROM {keyspace}.{collection} WHERE key = ?");
                    if count(session, cql, (id,)).await > 0 {
                        left.push(format!("document {id} in {keyspace}.{collection}"));
                    }
                }
            }
            Residue::OwnTable { prefix } => {
                let names = between(stdout, prefix, &[' ', '.', ':', ',', ')', '\n', '`']);
                assert!(!names.is_empty(), "no {prefix} table in {stdout}");
                for name in names {
                    let table = format!("{prefix}{name}");
                    let cql = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?";
                    if count(session, cql.to_owned(), (&keyspace, &table)).await > 0 {
                        left.push(format!("table {keyspace}.{table}"));
                    }
                }
            }
            Residue::Subscription { prefix } => {
                let ids = between(stdout, "(run ", &[')']);
                assert!(!ids.is_empty(), "no run id in {stdout}");
                let topic = format!(
                    "persistent/{}/{}/{}/subscriptions",
                    stack_env("ASTRA_STREAMING_TENANT"),
                    stack_env("ASTRA_STREAMING_NAMESPACE"),
                    stack_env("ASTRA_STREAMING_TOPIC")
                );
                let subscriptions = admin_list(&topic).await;
                for id in ids {
                    let name = format!("{prefix}{id}");
                    if subscriptions.contains(&name) {
                        left.push(format!("subscription {name}"));
                    }
                }
            }
            Residue::Topic => {
                let names = between(stdout, "Created partitioned topic ", &[' ']);
                assert!(!names.is_empty(), "no created topic in {stdout}");
                let namespace = format!(
                    "persistent/{}/{}",
                    stack_env("ASTRA_STREAMING_TENANT"),
                    stack_env("ASTRA_STREAMING_NAMESPACE")
                );
                let mut listed = admin_list(&namespace).await;
                listed.extend(admin_list(&format!("{namespace}/partitioned")).await);
                for name in names {
                    // Partitions are listed as NAME-partition-<n>.
                    if listed
                        .iter()
                        .any(|t| t == name || t.starts_with(&format!("{name}-partition-")))
                    {
                        left.push(format!("topic {name}"));
                    }
                }
            }
            Residue::Nothing => {}
        }
    }
    left
}

/// Runs `sample` 3 times in a row and then 4 at once; returns what went wrong.
async fn rerun(sample: &Rerun, session: &Session) -> Result<Duration, String> {
    if !run::sample_path(sample.bin).is_file() {
        return Err("not built: run `cargo build --workspace --all-targets` first".to_owned());
    }
    let started = Instant::now();
    let vars = vars_of(sample);
    let mut stdouts = Vec::new();
    for _ in 0..3 {
        let ran = run::run(sample.bin, &[], &vars, RUN_LIMIT).await;
        succeeded(sample.bin, &ran).map_err(|e| format!("in a row: {e}"))?;
        stdouts.push(ran.stdout);
    }
    let at_once = futures_join(sample.bin, &vars).await;
    for ran in &at_once {
        succeeded(sample.bin, ran).map_err(|e| format!("4 at once: {e}"))?;
    }
    stdouts.extend(at_once.into_iter().map(|r| r.stdout));
    let left = residue_of(sample, &stdouts, session).await;
    if !left.is_empty() {
        return Err(format!("left behind: {}", left.join("; ")));
    }
    Ok(started.elapsed())
}

/// 4 runs at the same time.
async fn futures_join(bin: &'static str, vars: &[(String, String)]) -> Vec<Run> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let vars = vars.to_vec();
            tokio::spawn(async move { run::run(bin, &[], &vars, RUN_LIMIT).await })
        })
        .collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local stack: run scripts/test"]
async fn three_in_a_row_then_four_at_once_all_succeed_and_leave_nothing() {
    let session = cql().await;
    let mut problems = Vec::new();
    // Rows written ahead for samples that are not workspace members yet are named, not run.
    let members = checks::workspace_samples();
    for sample in SAMPLES {
        if !members.iter().any(|m| sample.bin == format!("sample-{m}")) {
            eprintln!("{}: not a workspace member yet: not run", sample.bin);
            continue;
        }
        match rerun(sample, &session).await {
            Ok(took) => eprintln!("{}: 7 runs in {:.1} s, nothing left", sample.bin, took.as_secs_f64()),
            Err(problem) => problems.push(format!("{}: {problem}", sample.bin)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every sample of the workspace is re-run: a new sample cannot be left out.
#[test]
fn every_workspace_sample_is_re_run() {
    let missing: Vec<String> = checks::workspace_samples()
        .into_iter()
        .filter(|name| !SAMPLES.iter().any(|s| s.bin == format!("sample-{name}")))
        .collect();
    assert!(
        missing.is_empty(),
        "samples missing from SAMPLES in tests/reruns.rs: {missing:?}"
    );
}
