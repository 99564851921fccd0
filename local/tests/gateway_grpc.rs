//! Conformance of the gateway's gRPC API with Stargate's `stargate.Stargate` service (reference
//! §5), one test per documented behaviour, plus the cross-interface check: a row added through
//! REST is read through gRPC and through plain CQL. They run against the local stack's Cassandra.

mod gateway_support;

use astra_local::gateway::grpc::proto::stargate::stargate_client::StargateClient;
use astra_local::gateway::grpc::proto::stargate::{
    Batch, BatchQuery, Query, QueryParameters, Response, ResultSet, Value, Values, batch, response, schema_change,
    type_spec, value,
};
use gateway_support::{KEYSPACE, TestGateway, unique};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request};

async fn client(gw: &TestGateway) -> StargateClient<Channel> {
    StargateClient::connect(gw.grpc_url())
        .await
        .expect("the gRPC API accepts connections")
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("x-cassandra-token", token.parse().expect("ASCII token"));
    }
    request
}

fn query(cql: &str, values: Vec<Value>) -> Query {
    Query {
        cql: cql.to_string(),
        values: Some(Values {
            values,
            value_names: Vec::new(),
        }),
        parameters: None,
    }
}

fn int(n: i64) -> Value {
    Value {
        inner: Some(value::Inner::Int(n)),
    }
}
fn string(s: &str) -> Value {
    Value {
        inner: Some(value::Inner::String(s.to_string())),
    }
}

async fn execute(gw: &TestGateway, q: Query) -> Result<Response, tonic::Status> {
    let token = gw.env.application_token.clone();
    client(gw)
        .await
        .execute_query(with_token(q, Some(&token)))
        .await
        .map(tonic::Response::into_inner)
}

fn rows(response: Response) -> ResultSet {
    match response.result {
        Some(response::Result::ResultSet(set)) => set,
        other => panic!("expected a result set, got {other:?}"),
    }
}

/// A table `kv (k text, n int, v text, PRIMARY KEY (k, n))` in the shared keyspace.
async fn kv_table(gw: &TestGateway) -> String {
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("kv");
    let cql = format!("CREATE TABLE {KEYSPACE}.{table} (k text, n int, v text, PRIMARY KEY (k, n))");
    let response = execute(gw, query(&cql, Vec::new())).await.expect("CREATE TABLE");
    assert!(
        matches!(response.result, Some(response::Result::SchemaChange(_))),
        "{response:?}"
    );
    table
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_without_token_is_unauthenticated_no_token_provided() {
    let gw = TestGateway::start().await;
    let status = client(&gw)
        .await
        .execute_query(with_token(query("SELECT key FROM system.local", vec![]), None))
        .await;
    let status = status.expect_err("no token");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "No token provided")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_with_bad_token_is_unauthenticated_invalid_token() {
    let gw = TestGateway::start().await;
    let status = client(&gw)
        .await
        .execute_query(with_token(
            query("SELECT key FROM system.local", vec![]),
            Some("not-a-token"),
        ))
        .await
        .expect_err("bad token");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "Invalid token")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_accepts_a_token_from_the_auth_api() {
    let gw = TestGateway::start().await;
    let body = json!({"username": gw.env.username, "password": gw.env.password}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    let token: serde_json::Value = serde_json::from_str(&response.text().await.expect("body")).expect("json");
    let token = token["authToken"].as_str().expect("token").to_string();
    let response = client(&gw)
        .await
        .execute_query(with_token(query("SELECT key FROM system.local", vec![]), Some(&token)))
        .await
        .expect("issued token accepted");
    assert_eq!(rows(response.into_inner()).rows.len(), 1);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_select_returns_a_result_set_with_columns_typed_varchar() {
    let gw = TestGateway::start().await;
    let set = rows(
        execute(&gw, query("SELECT key, cluster_name FROM system.local", vec![]))
            .await
            .expect("select"),
    );
    assert_eq!(
        set.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["key", "cluster_name"]
    );
    let varchar = Some(type_spec::Spec::Basic(type_spec::Basic::Varchar as i32));
    assert_eq!(set.columns[0].r#type.as_ref().map(|t| t.spec.clone()), Some(varchar));
    assert_eq!(set.rows[0].values[0], string("local"));
    assert_eq!(set.paging_state, None, "one page only");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_insert_returns_no_result_and_ddl_returns_a_schema_change() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (k, n, v) VALUES (?, ?, ?)");
    let response = execute(&gw, query(&insert, vec![string("a"), int(1), string("x")]))
        .await
        .expect("insert");
    assert_eq!(response.result, None);
    let response = execute(&gw, query(&format!("DROP TABLE {KEYSPACE}.{table}"), vec![]))
        .await
        .expect("drop");
    let Some(response::Result::SchemaChange(change)) = response.result else {
        panic!("schema change")
    };
    assert_eq!(change.change_type, schema_change::Type::Dropped as i32);
    assert_eq!(change.target, schema_change::Target::Table as i32);
    assert_eq!(
        (change.keyspace.as_str(), change.name.as_deref()),
        (KEYSPACE, Some(table.as_str()))
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_named_bind_values_bind_by_marker_name() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (k, n, v) VALUES (:k, :n, :v)");
    let values = Values {
        values: vec![string("x"), string("named"), int(2)],
        value_names: vec!["v".into(), "k".into(), "n".into()],
    };
    execute(
        &gw,
        Query {
            cql: insert,
            values: Some(values),
            parameters: None,
        },
    )
    .await
    .expect("named insert");
    let select = format!("SELECT v FROM {KEYSPACE}.{table} WHERE k = ? AND n = ?");
    let set = rows(
        execute(&gw, query(&select, vec![string("named"), int(2)]))
            .await
            .expect("select"),
    );
    assert_eq!(set.rows[0].values[0], string("x"));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_wrong_number_of_values_is_failed_precondition() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let select = format!("SELECT v FROM {KEYSPACE}.{table} WHERE k = ? AND n = ?");
    let status = execute(&gw, query(&select, vec![string("a")]))
        .await
        .expect_err("one value short");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "Invalid number of bind values. Expected 2, but received 1"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_values_of_the_wrong_type_are_invalid_argument_at_their_position() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let select = format!("SELECT v FROM {KEYSPACE}.{table} WHERE k = ? AND n = ?");
    let status = execute(&gw, query(&select, vec![string("a"), string("not an int")]))
        .await
        .expect_err("wrong type");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("Invalid argument at position 2: "),
        "{}",
        status.message()
    );
    let status = execute(&gw, query(&select, vec![string("a"), int(1 << 40)]))
        .await
        .expect_err("out of range");
    assert!(status.message().contains("Valid range for int"), "{}", status.message());
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_cassandra_errors_map_to_stargates_status_codes() {
    let gw = TestGateway::start().await;
    let status = execute(&gw, query("SELsECT * FROM system.local", vec![]))
        .await
        .expect_err("syntax");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("line 1:0"), "{}", status.message());
    let status = execute(&gw, query("SELECT * FROM system.no_such_table", vec![]))
        .await
        .expect_err("missing table");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("no_such_table"), "{}", status.message());
    let table = kv_table(&gw).await;
    let create = format!("CREATE TABLE {KEYSPACE}.{table} (k text PRIMARY KEY)");
    let status = execute(&gw, query(&create, vec![])).await.expect_err("exists");
    assert_eq!(status.code(), Code::AlreadyExists);
    let detail = status
        .metadata()
        .get_bin("stargate.alreadyexists-bin")
        .expect("AlreadyExists trailer");
    let detail = astra_local::gateway::grpc::proto::stargate::AlreadyExists::decode(detail.to_bytes().expect("bytes"))
        .expect("an AlreadyExists message");
    assert_eq!(
        (detail.keyspace.as_str(), detail.table.as_str()),
        (KEYSPACE, table.as_str())
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_use_keyspace_is_invalid_argument_not_supported() {
    let gw = TestGateway::start().await;
    let status = execute(&gw, query("USE system", vec![])).await.expect_err("USE");
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "USE <keyspace> not supported")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_paging_state_walks_every_page() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (k, n, v) VALUES (?, ?, ?)");
    for n in 0..5 {
        execute(&gw, query(&insert, vec![string("p"), int(n), string("v")]))
            .await
            .expect("insert");
    }
    let mut seen = Vec::new();
    let mut paging_state = None;
    for _ in 0..10 {
        let parameters = QueryParameters {
            page_size: Some(2),
            paging_state: paging_state.clone(),
            ..Default::default()
        };
        let q = Query {
            parameters: Some(parameters),
            ..query(&format!("SELECT n FROM {KEYSPACE}.{table} WHERE k = 'p'"), vec![])
        };
        let set = rows(execute(&gw, q).await.expect("page"));
        assert!(set.rows.len() <= 2);
        seen.extend(set.rows.iter().map(|r| r.values[0].clone()));
        match set.paging_state {
            Some(state) => paging_state = Some(state),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(int).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_keyspace_parameter_scopes_unqualified_table_names() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let parameters = QueryParameters {
        keyspace: Some(KEYSPACE.to_string()),
        ..Default::default()
    };
    let q = Query {
        parameters: Some(parameters),
        ..query(&format!("SELECT * FROM {table}"), vec![])
    };
    let set = rows(execute(&gw, q).await.expect("unqualified select"));
    assert!(set.rows.is_empty());
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_batch_applies_every_statement_and_an_empty_batch_is_invalid() {
    let gw = TestGateway::start().await;
    let table = kv_table(&gw).await;
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (k, n, v) VALUES (?, ?, ?)");
    let queries = (0..3)
        .map(|n| BatchQuery {
            cql: insert.clone(),
            values: Some(Values {
                values: vec![string("b"), int(n), string("v")],
                value_names: vec![],
            }),
        })
        .collect();
    let token = gw.env.application_token.clone();
    let mut grpc = client(&gw).await;
    let batch = Batch {
        r#type: batch::Type::Logged as i32,
        queries,
        parameters: None,
    };
    let response = grpc
        .execute_batch(with_token(batch, Some(&token)))
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(response.result, None);
    let set = rows(
        execute(
            &gw,
            query(&format!("SELECT n FROM {KEYSPACE}.{table} WHERE k = 'b'"), vec![]),
        )
        .await
        .expect("select"),
    );
    assert_eq!(set.rows.len(), 3);
    let empty = Batch {
        r#type: 0,
        queries: vec![],
        parameters: None,
    };
    let status = grpc
        .execute_batch(with_token(empty, Some(&token)))
        .await
        .expect_err("empty batch");
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "No queries in batch")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_values_of_rich_types_round_trip() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("rich");
    let create = format!(
        "CREATE TABLE {KEYSPACE}.{table} (id uuid PRIMARY KEY, at timestamp, day date, tags set<text>, scores map<text, int>, big varint)"
    );
    execute(&gw, query(&create, vec![])).await.expect("create");
    let id = uuid::Uuid::new_v4();
    let uuid_value = Value {
        inner: Some(value::Inner::Uuid(astra_local::gateway::grpc::proto::stargate::Uuid {
            value: id.as_bytes().to_vec(),
        })),
    };
    let collection = |elements: Vec<Value>| Value {
        inner: Some(value::Inner::Collection(
            astra_local::gateway::grpc::proto::stargate::Collection { elements },
        )),
    };
    let values = vec![
        uuid_value.clone(),
        int(1_619_203_342_139),
        Value {
            inner: Some(value::Inner::Date(1 << 31)),
        },
        collection(vec![string("a"), string("b")]),
        collection(vec![string("k"), int(5)]),
        Value {
            inner: Some(value::Inner::Varint(
                astra_local::gateway::grpc::proto::stargate::Varint { value: vec![1, 0] },
            )),
        },
    ];
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (id, at, day, tags, scores, big) VALUES (?, ?, ?, ?, ?, ?)");
    execute(&gw, query(&insert, values.clone())).await.expect("insert");
    let select = format!("SELECT id, at, day, tags, scores, big FROM {KEYSPACE}.{table} WHERE id = ?");
    let set = rows(execute(&gw, query(&select, vec![uuid_value])).await.expect("select"));
    assert_eq!(set.rows[0].values, values);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cross_interface_row_added_through_rest_is_read_through_grpc_and_cql() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("cross");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "text"}, {"name": "city", "typeDefinition": "text"}]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let (status, _) = gw
        .rest(
            Method::POST,
            &format!("/v2/keyspaces/{KEYSPACE}/{table}"),
            Some(r#"{"id":"r1","city":"Lyon"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let select = format!("SELECT city FROM {KEYSPACE}.{table} WHERE id = ?");
    let set = rows(
        execute(&gw, query(&select, vec![string("r1")]))
            .await
            .expect("gRPC select"),
    );
    assert_eq!(set.rows[0].values[0], string("Lyon"));

    let session = gw.plain_cql().await;
    let result = session
        .query_unpaged(select.as_str(), ("r1",))
        .await
        .expect("CQL select");
    let (city,): (String,) = result.into_rows_result().expect("rows").single_row().expect("one row");
    assert_eq!(city, "Lyon");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn grpc_query_stream_answers_each_query_and_reports_failures_in_the_stream() {
    use astra_local::gateway::grpc::proto::stargate::streaming_response::Message as Kind;
    let gw = TestGateway::start().await;
    let token = gw.env.application_token.clone();
    let queries = futures::stream::iter(vec![
        query("SELECT key FROM system.local", vec![]),
        query("SELsECT", vec![]),
    ]);
    let mut answers = client(&gw)
        .await
        .execute_query_stream(with_token(queries, Some(&token)))
        .await
        .expect("stream")
        .into_inner();
    let first = answers.message().await.expect("first answer").expect("an answer");
    assert!(matches!(first.message, Some(Kind::Response(_))), "{first:?}");
    let second = answers.message().await.expect("second answer").expect("an answer");
    let Some(Kind::Status(status)) = second.message else {
        panic!("a status: {second:?}")
    };
    assert_eq!(status.code, Code::InvalidArgument as i32);
    assert!(
        status.message.starts_with("INVALID_ARGUMENT: line 1:0"),
        "{}",
        status.message
    );
}
