//! Load check of the gateway (a benchmark, not a timed test): 32 concurrent clients each send
//! 1,000 mixed requests, alternating REST and gRPC writes and reads of their own rows. Passes when
//! no request fails and every written row is read back; prints throughput, latency percentiles
//! and the process's RSS (the gateway runs in-process).
//!
//! `scripts/astra-local up && eval "$(scripts/astra-local env)"`, then
//! `cargo test --release -p astra-local --test gateway_load -- --ignored --nocapture`

mod gateway_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use astra_local::gateway::grpc::proto::stargate::stargate_client::StargateClient;
use astra_local::gateway::grpc::proto::stargate::{Query, QueryParameters, Values, response, value};
use gateway_support::{KEYSPACE, TestGateway, unique};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tonic::Request;

const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 1_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn grpc_query(cql: &str, values: Vec<value::Inner>, token: &str) -> Request<Query> {
    let values = values
        .into_iter()
        .map(|inner| astra_local::gateway::grpc::proto::stargate::Value { inner: Some(inner) })
        .collect();
    let query = Query {
        cql: cql.to_string(),
        values: Some(Values {
            values,
            value_names: Vec::new(),
        }),
        parameters: Some(QueryParameters {
            page_size: Some(5_000),
            ..Default::default()
        }),
    };
    let mut request = Request::new(query);
    request
        .metadata_mut()
        .insert("x-cassandra-token", token.parse().expect("ASCII token"));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local stack: run scripts/test (a benchmark: run it in release mode)"]
async fn load_32_clients_x_1000_mixed_rest_and_grpc_requests_lose_no_write() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("load");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["client"], "clusteringKey": ["n"]},
        "columnDefinitions": [
            {"name": "client", "typeDefinition": "int"},
            {"name": "n", "typeDefinition": "int"},
            {"name": "payload", "typeDefinition": "text"}
        ]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let rss_before = rss_kib();
    let token = gw.env.application_token.clone();
    let rest_base = gw.rest_url(&format!("/v2/keyspaces/{KEYSPACE}/{table}"));
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (client, n, payload) VALUES (?, ?, ?)");
    let select = format!("SELECT payload FROM {KEYSPACE}.{table} WHERE client = ? AND n = ?");

    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let http = gw.http.clone();
        let token = token.clone();
        let rest_base = rest_base.clone();
        let (insert, select) = (insert.clone(), select.clone());
        let grpc_url = gw.grpc_url();
        clients.spawn(async move {
            let mut grpc = StargateClient::connect(grpc_url).await.expect("gRPC connection");
            let mut latencies = Vec::with_capacity(REQUESTS_PER_CLIENT);
            let mut written = Vec::new();
            for i in 0..REQUESTS_PER_CLIENT {
                let n = i as i64;
                let begun = Instant::now();
                match i % 4 {
                    0 => {
                        let row =
                            json!({"client": client, "n": n, "payload": format!("rest-{client}-{n}")}).to_string();
                        let response = http
                            .request(Method::POST, &rest_base)
                            .header("X-Cassandra-Token", &token)
                            .header("Content-Type", "application/json")
                            .body(row)
                            .send()
                            .await
                            .expect("REST write");
                        assert_eq!(response.status(), StatusCode::CREATED);
                        written.push(n);
                    }
                    1 => {
                        let values = vec![
                            value::Inner::Int(client as i64),
                            value::Inner::Int(n),
                            value::Inner::String(format!("grpc-{client}-{n}")),
                        ];
                        grpc.execute_query(grpc_query(&insert, values, &token))
                            .await
                            .expect("gRPC write");
                        written.push(n);
                    }
                    2 => {
                        let previous = n - 2;
                        let url = format!("{rest_base}/{client}/{previous}?raw=true");
                        let response = http
                            .get(url)
                            .header("X-Cassandra-Token", &token)
                            .send()
                            .await
                            .expect("REST read");
                        assert_eq!(response.status(), StatusCode::OK);
                        let rows: serde_json::Value = response.json().await.expect("JSON rows");
                        assert_eq!(
                            rows.as_array().map(Vec::len),
                            Some(1),
                            "row {client}/{previous} read back"
                        );
                    }
                    _ => {
                        let previous = n - 2;
                        let values = vec![value::Inner::Int(client as i64), value::Inner::Int(previous)];
                        let response = grpc
                            .execute_query(grpc_query(&select, values, &token))
                            .await
                            .expect("gRPC read");
                        let Some(response::Result::ResultSet(set)) = response.into_inner().result else {
                            panic!("a result set")
                        };
                        assert_eq!(set.rows.len(), 1, "row {client}/{previous} read back");
                    }
                }
                latencies.push(begun.elapsed());
            }
            (client, latencies, written)
        });
    }
    let mut latencies: Vec<Duration> = Vec::new();
    let mut expected: Vec<(usize, Vec<i64>)> = Vec::new();
    while let Some(done) = clients.join_next().await {
        let (client, client_latencies, written) = done.expect("a client finished without error");
        latencies.extend(client_latencies);
        expected.push((client, written));
    }
    let elapsed = started.elapsed();

    // Every write is read back: one full read of each client's partition.
    let mut grpc = StargateClient::connect(gw.grpc_url()).await.expect("gRPC connection");
    let scan = format!("SELECT n FROM {KEYSPACE}.{table} WHERE client = ?");
    for (client, written) in &expected {
        let response = grpc
            .execute_query(grpc_query(&scan, vec![value::Inner::Int(*client as i64)], &token))
            .await
            .expect("partition read");
        let Some(response::Result::ResultSet(set)) = response.into_inner().result else {
            panic!("a result set")
        };
        let found: BTreeSet<i64> = set
            .rows
            .iter()
            .filter_map(|r| match r.values.first().and_then(|v| v.inner.clone()) {
                Some(value::Inner::Int(n)) => Some(n),
                _ => None,
            })
            .collect();
        let wanted: BTreeSet<i64> = written.iter().copied().collect();
        assert_eq!(found, wanted, "client {client}: every written row is stored");
    }

    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let total = latencies.len();
    println!(
        "gateway load: {CLIENTS} clients x {REQUESTS_PER_CLIENT} requests = {total} in {:.2} s: {:.0} req/s; \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; RSS {} MiB before, {} MiB after",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        percentile(1.0).as_secs_f64() * 1e3,
        rss_before / 1024,
        rss_kib() / 1024,
    );
    assert_eq!(total, CLIENTS * REQUESTS_PER_CLIENT);
    assert!(rss_kib() < 2 * 1024 * 1024, "RSS stays bounded (under 2 GiB)");
}
