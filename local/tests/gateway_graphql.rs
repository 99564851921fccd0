//! Conformance of the gateway's GraphQL API with Stargate's, one test per documented behaviour
//! of `shared/reference/stargate-apis.md` §4 (transport and errors §4.1, CQL-first DDL §4.2,
//! CQL-first DML §4.3, schema-first §4.4), each named after it. They run against the local
//! stack's real Cassandra, and read what GraphQL wrote back through REST and plain CQL.

mod gateway_support;

use gateway_support::{KEYSPACE, TestGateway, encode, parse, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A GraphQL POST (`{"query", "variables"}`) to `path` with `token` (or none).
async fn graphql_with(
    gw: &TestGateway,
    path: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = gw
        .http
        .post(gw.graphql_url(path))
        .header("Content-Type", "application/json")
        .body(json!({"query": query, "variables": variables}).to_string());
    if let Some(token) = token {
        request = request.header("X-Cassandra-Token", token);
    }
    let response = request.send().await.expect("the GraphQL API answers");
    let status = response.status();
    (status, parse(&response.text().await.expect("a response body")))
}

/// A GraphQL POST with the stack's application token.
async fn graphql(gw: &TestGateway, path: &str, query: &str, variables: Value) -> (StatusCode, Value) {
    let token = gw.env.application_token.clone();
    graphql_with(gw, path, query, variables, Some(&token)).await
}

/// The `data` of a request that must succeed (HTTP 200, no `errors`).
async fn data(gw: &TestGateway, path: &str, query: &str, variables: Value) -> Value {
    let (status, body) = graphql(gw, path, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// The first error's message of a request that must fail inside GraphQL (HTTP 200).
async fn first_error(gw: &TestGateway, path: &str, query: &str, variables: Value) -> (Value, String) {
    let (status, body) = graphql(gw, path, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let message = body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error for {query}: {body}"))
        .to_string();
    (body, message)
}

/// A table `<name>(shelf text, seq int, title text, pages int, isbn bigint, added timestamp)`,
/// key `((shelf), seq)`, created through `/graphql-schema`.
async fn books_table(gw: &TestGateway) -> String {
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("books");
    let created = data(
        gw,
        "/graphql-schema",
        r#"mutation($ks: String!, $t: String!) {
          createTable(keyspaceName: $ks, tableName: $t,
            partitionKeys: [{name: "shelf", type: {basic: TEXT}}],
            clusteringKeys: [{name: "seq", type: {basic: INT}, order: "ASC"}],
            values: [{name: "title", type: {basic: TEXT}}, {name: "pages", type: {basic: INT}},
                     {name: "isbn", type: {basic: BIGINT}}, {name: "added", type: {basic: TIMESTAMP}}])
        }"#,
        json!({"ks": KEYSPACE, "t": table}),
    )
    .await;
    assert_eq!(created, json!({"createTable": true}));
    table
}

fn dml_path() -> String {
    format!("/graphql/{KEYSPACE}")
}

/// Inserts `(shelf, seq, title, pages)` through the generated `insert<table>`.
async fn insert_book(gw: &TestGateway, table: &str, shelf: &str, seq: i32, title: &str, pages: i32) {
    let query =
        format!("mutation($v: {table}Input!) {{ insert{table}(value: $v) {{ applied value {{ seq title }} }} }}");
    let inserted = data(
        gw,
        &dml_path(),
        &query,
        json!({"v": {"shelf": shelf, "seq": seq, "title": title, "pages": pages}}),
    )
    .await;
    assert_eq!(
        inserted[format!("insert{table}")],
        json!({"applied": true, "value": {"seq": seq, "title": title}})
    );
}

fn titles(result: &Value) -> Vec<String> {
    result["values"]
        .as_array()
        .unwrap_or_else(|| panic!("values: {result}"))
        .iter()
        .map(|row| row["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// §4.1 Transport, tokens and request errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_without_a_token_is_401_api_error_on_every_endpoint() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    for path in [
        "/graphql-schema",
        &dml_path(),
        "/graphql-admin",
        "/api/graphql-schema",
        "/api/graphql-admin",
    ] {
        let (status, body) = graphql_with(&gw, path, "{ __typename }", json!({}), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(
            body,
            json!({
                "description": "Role unauthorized for operation: Missing token, expecting one in the X-Cassandra-Token header.",
                "code": 401, "grpcStatus": null, "internalTxId": null
            }),
            "{path}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_bad_token_is_401_on_a_keyspace_and_a_fetcher_error_on_the_ddl_schema() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let (status, body) = graphql_with(&gw, &dml_path(), "{ __typename }", json!({}), Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["grpcStatus"], json!("UNAUTHENTICATED"), "{body}");
    assert_eq!(
        body["description"],
        json!("Unauthenticated gRPC operation (Status.Code.UNAUTHENTICATED->401): UNAUTHENTICATED: Invalid token")
    );

    let (status, body) = graphql_with(
        &gw,
        "/graphql-schema",
        "{ keyspaces { name } }",
        json!({}),
        Some("not-a-token"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        json!("Exception while fetching data (/keyspaces) : UNAUTHENTICATED: Invalid token"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["keyspaces"]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_syntax_error_is_200_with_an_invalid_syntax_error() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    for path in ["/graphql-schema".to_string(), dml_path()] {
        let (status, body) = graphql(&gw, &path, "{ keyspaces { name ", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let error = &body["errors"][0];
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Invalid Syntax"),
            "{body}"
        );
        assert_eq!(error["extensions"]["classification"], json!("InvalidSyntax"));
        assert!(error["locations"][0]["line"].is_number(), "{body}");
        assert!(
            body.get("data").is_none(),
            "no data for a query that did not parse: {body}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_query_naming_a_missing_table_is_a_field_undefined_validation_error() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let (body, message) = first_error(&gw, &dml_path(), "{ no_such_table { values { id } } }", json!({})).await;
    assert_eq!(
        message,
        "Validation error of type FieldUndefined: Field 'no_such_table' in type 'Query' is undefined @ 'no_such_table'"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["classification"],
        json!("ValidationError")
    );
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_unknown_keyspace_is_404_and_a_bad_name_400_in_the_graphql_error_shape() {
    let gw = TestGateway::start().await;
    let missing = unique("no_such_ks");
    let (status, body) = graphql(&gw, &format!("/graphql/{missing}"), "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"errors": [{"message": format!("Unknown keyspace '{missing}'")}]})
    );

    let (status, body) = graphql(&gw, "/graphql/bad-name", "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"errors": [{"message": "Invalid keyspace name"}]}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_request_without_a_query_is_400() {
    let gw = TestGateway::start().await;
    let response = gw
        .http
        .post(gw.graphql_url("/graphql-schema"))
        .header("X-Cassandra-Token", &gw.env.application_token)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        parse(&response.text().await.expect("body")),
        json!({"errors": [{"message": "You must provide a GraphQL query, either as a query parameter or in the request body"}]})
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_accepts_get_with_query_and_application_graphql_bodies_also_under_api() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let query = "{ keyspace(name: \"gateway_conformance\") { name } }";
    let expected = json!({"data": {"keyspace": {"name": KEYSPACE}}});

    let response = gw
        .http
        .get(gw.graphql_url(&format!("/graphql-schema?query={}", encode(query))))
        .header("X-Cassandra-Token", &gw.env.application_token)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(parse(&response.text().await.expect("body")), expected);

    let response = gw
        .http
        .post(gw.graphql_url("/api/graphql-schema"))
        .header("X-Cassandra-Token", &gw.env.application_token)
        .header("Content-Type", "application/graphql")
        .body(query)
        .send()
        .await
        .expect("POST application/graphql");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(parse(&response.text().await.expect("body")), expected);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_introspection_works_on_the_ddl_and_keyspace_endpoints() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    let introspection = "{ __schema { queryType { name } mutationType { name } types { name kind } } }";

    let ddl = data(&gw, "/graphql-schema", introspection, json!({})).await;
    let names: Vec<&str> = ddl["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "Keyspace",
        "Table",
        "Column",
        "DataType",
        "BasicType",
        "ColumnInput",
        "DataTypeInput",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let dml = data(&gw, &dml_path(), introspection, json!({})).await;
    assert_eq!(dml["__schema"]["queryType"]["name"], json!("Query"));
    assert_eq!(dml["__schema"]["mutationType"]["name"], json!("Mutation"));
    let names: Vec<&str> = dml["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        table.clone(),
        format!("{table}Input"),
        format!("{table}FilterInput"),
        format!("{table}Order"),
        format!("{table}Result"),
        format!("{table}MutationResult"),
        "QueryOptions".into(),
        "MutationOptions".into(),
        "BigInt".into(),
        "Timestamp".into(),
        "IntFilterInput".into(),
    ] {
        assert!(names.contains(&expected.as_str()), "{expected} in {names:?}");
    }

    // The fields of the query Stargate generates for a table.
    let fields = data(
        &gw,
        &dml_path(),
        "query($t: String!) { __type(name: \"Query\") { fields { name args { name } } } t: __type(name: $t) { fields { name } } }",
        json!({"t": table}),
    )
    .await;
    let query_field = fields["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == json!(table))
        .unwrap_or_else(|| panic!("query {table}: {fields}"))
        .clone();
    let args: Vec<&str> = query_field["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for expected in ["value", "filter", "orderBy", "groupBy", "options"] {
        assert!(args.contains(&expected), "{expected} in {args:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// §4.2 CQL-first DDL
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_ddl_round_trip_keyspace_table_columns_index_and_drops() {
    let gw = TestGateway::start().await;
    let ks = unique("gql_ddl");
    let path = "/graphql-schema";
    let created = data(
        &gw,
        path,
        "mutation($ks: String!) { createKeyspace(name: $ks, replicas: 1) }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(created, json!({"createKeyspace": true}));
    // ifNotExists on an existing keyspace succeeds; without it the node's error is reported.
    let again = data(
        &gw,
        path,
        "mutation($ks: String!) { createKeyspace(name: $ks, replicas: 1, ifNotExists: true) }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(again, json!({"createKeyspace": true}));
    let (body, message) = first_error(
        &gw,
        path,
        "mutation($ks: String!) { createKeyspace(name: $ks, replicas: 1) }",
        json!({"ks": ks}),
    )
    .await;
    assert!(
        message.starts_with("Exception while fetching data (/createKeyspace) : ALREADY_EXISTS: "),
        "{body}"
    );
    assert_eq!(body["data"], json!({"createKeyspace": null}));

    let listed = data(&gw, path, "{ keyspaces { name } }", json!({})).await;
    assert!(
        listed["keyspaces"]
            .as_array()
            .expect("list")
            .contains(&json!({"name": ks})),
        "{listed}"
    );

    let created = data(
        &gw,
        path,
        r#"mutation($ks: String!) {
          createTable(keyspaceName: $ks, tableName: "items",
            partitionKeys: [{name: "id", type: {basic: UUID}}],
            clusteringKeys: [{name: "at", type: {basic: TIMESTAMP}, order: "DESC"}],
            values: [{name: "tags", type: {basic: SET, info: {subTypes: [{basic: TEXT}]}}},
                     {name: "qty", type: {basic: INT}}])
        }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(created, json!({"createTable": true}));
    let table_query = r#"query($ks: String!) { keyspace(name: $ks) { name dcs { name replicas }
        table(name: "items") { name columns { name kind type { basic info { subTypes { basic } frozen } } } } } }"#;
    let described = data(&gw, path, table_query, json!({"ks": ks})).await;
    let keyspace = &described["keyspace"];
    assert_eq!(keyspace["name"], json!(ks));
    assert_eq!(
        keyspace["table"]["columns"],
        json!([
            {"name": "id", "kind": "PARTITION", "type": {"basic": "UUID", "info": null}},
            {"name": "at", "kind": "CLUSTERING", "type": {"basic": "TIMESTAMP", "info": null}},
            {"name": "qty", "kind": "REGULAR", "type": {"basic": "INT", "info": null}},
            {"name": "tags", "kind": "REGULAR", "type": {"basic": "SET", "info": {"subTypes": [{"basic": "TEXT"}], "frozen": false}}}
        ]),
        "{described}"
    );

    let altered = data(
        &gw,
        path,
        r#"mutation($ks: String!) { alterTableAdd(keyspaceName: $ks, tableName: "items",
            toAdd: [{name: "note", type: {basic: TEXT}}]) }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(altered, json!({"alterTableAdd": true}));
    let dropped = data(
        &gw,
        path,
        r#"mutation($ks: String!) { alterTableDrop(keyspaceName: $ks, tableName: "items", toDrop: ["qty"]) }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(dropped, json!({"alterTableDrop": true}));
    let columns = data(
        &gw,
        path,
        r#"query($ks: String!) { keyspace(name: $ks) { table(name: "items") { columns { name } } } }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(
        columns["keyspace"]["table"]["columns"],
        json!([{"name": "id"}, {"name": "at"}, {"name": "note"}, {"name": "tags"}])
    );

    let indexed = data(
        &gw,
        path,
        r#"mutation($ks: String!) { createIndex(keyspaceName: $ks, tableName: "items", columnName: "note", indexName: "items_note") }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(indexed, json!({"createIndex": true}));
    // The index is real: a query on the indexed column is accepted by the node.
    let found = data(
        &gw,
        &format!("/graphql/{ks}"),
        r#"{ items(value: {note: "x"}) { values { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(found, json!({"items": {"values": []}}));
    let unindexed = data(
        &gw,
        path,
        r#"mutation($ks: String!) { dropIndex(keyspaceName: $ks, indexName: "items_note") }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(unindexed, json!({"dropIndex": true}));
    let (_, message) = first_error(
        &gw,
        path,
        r#"mutation($ks: String!) { dropIndex(keyspaceName: $ks, indexName: "items_note") }"#,
        json!({"ks": ks}),
    )
    .await;
    assert!(
        message.starts_with("Exception while fetching data (/dropIndex) : "),
        "{message}"
    );
    let tolerated = data(
        &gw,
        path,
        r#"mutation($ks: String!) { dropIndex(keyspaceName: $ks, indexName: "items_note", ifExists: true) }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(tolerated, json!({"dropIndex": true}));

    let dropped = data(
        &gw,
        path,
        r#"mutation($ks: String!) { dropTable(keyspaceName: $ks, tableName: "items") }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(dropped, json!({"dropTable": true}));
    let gone = data(
        &gw,
        path,
        r#"query($ks: String!) { keyspace(name: $ks) { table(name: "items") { name } tables { name } } }"#,
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(gone, json!({"keyspace": {"table": null, "tables": []}}));

    let dropped = data(
        &gw,
        path,
        "mutation($ks: String!) { dropKeyspace(name: $ks) }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(dropped, json!({"dropKeyspace": true}));
    let missing = data(
        &gw,
        path,
        "query($ks: String!) { keyspace(name: $ks) { name } }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(missing, json!({"keyspace": null}));
}

// ---------------------------------------------------------------------------------------------
// §4.3 CQL-first DML
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_insert_query_update_delete_round_trip() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    insert_book(&gw, &table, "s1", 1, "Moby Dick", 635).await;

    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"s1\", seq: 1}}) {{ values {{ shelf seq title pages }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        read[&table],
        json!({"values": [{"shelf": "s1", "seq": 1, "title": "Moby Dick", "pages": 635}]})
    );

    let updated = data(
        &gw,
        &dml_path(),
        &format!(
            "mutation {{ update{table}(value: {{shelf: \"s1\", seq: 1, pages: 700}}) {{ applied value {{ pages }} }} }}"
        ),
        json!({}),
    )
    .await;
    assert_eq!(
        updated[format!("update{table}")],
        json!({"applied": true, "value": {"pages": 700}})
    );
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"s1\"}}) {{ values {{ title pages }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(read[&table], json!({"values": [{"title": "Moby Dick", "pages": 700}]}));

    let deleted = data(
        &gw,
        &dml_path(),
        &format!("mutation {{ delete{table}(value: {{shelf: \"s1\", seq: 1}}) {{ applied }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(deleted[format!("delete{table}")], json!({"applied": true}));
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"s1\"}}) {{ values {{ title }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(read[&table], json!({"values": []}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_scalars_bigint_as_string_and_timestamp_in_utc() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    let inserted = data(
        &gw,
        &dml_path(),
        &format!(
            "mutation {{ insert{table}(value: {{shelf: \"s\", seq: 1, isbn: \"9780142437247\", added: \"2024-03-05T10:20:30.123Z\"}}) {{ applied value {{ isbn added }} }} }}"
        ),
        json!({}),
    )
    .await;
    assert_eq!(
        inserted[format!("insert{table}")],
        json!({"applied": true, "value": {"isbn": "9780142437247", "added": "2024-03-05T10:20:30.123Z"}})
    );
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"s\"}}) {{ values {{ isbn added }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        read[&table]["values"][0],
        json!({"isbn": "9780142437247", "added": "2024-03-05T10:20:30.123Z"})
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_filters_eq_gt_in_and_order() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    for (seq, title) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        insert_book(&gw, &table, "f", seq, title, 100 + seq).await;
    }
    let query = |filter: &str| format!("{{ {table}(filter: {filter}) {{ values {{ title }} }} }}");
    let gt = data(
        &gw,
        &dml_path(),
        &query("{shelf: {eq: \"f\"}, seq: {gt: 2}}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&gt[&table]), ["c", "d"]);
    let lte = data(
        &gw,
        &dml_path(),
        &query("{shelf: {eq: \"f\"}, seq: {lte: 2}}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&lte[&table]), ["a", "b"]);
    let within = data(
        &gw,
        &dml_path(),
        &query("{shelf: {eq: \"f\"}, seq: {in: [1, 4]}}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&within[&table]), ["a", "d"]);
    let ordered = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"f\"}}, orderBy: [seq_DESC]) {{ values {{ title }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&ordered[&table]), ["d", "c", "b", "a"]);

    // No ALLOW FILTERING: a filter on a regular column is refused by the node.
    let (body, message) = first_error(&gw, &dml_path(), &query("{pages: {gt: 101}}"), json!({})).await;
    assert!(
        message.starts_with(&format!(
            "Exception while fetching data (/{table}) : INVALID_ARGUMENT: "
        )),
        "{body}"
    );
    assert!(message.contains("ALLOW FILTERING"), "{message}");
    assert_eq!(body["errors"][0]["path"], json!([table]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_paging_with_page_size_and_page_state() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    for seq in 1..=5 {
        insert_book(&gw, &table, "p", seq, &format!("t{seq}"), seq).await;
    }
    let query = format!(
        "query($state: String) {{ {table}(value: {{shelf: \"p\"}}, options: {{pageSize: 2, pageState: $state}}) {{ values {{ title }} pageState }} }}"
    );
    let mut seen = Vec::new();
    let mut state = Value::Null;
    for page in 0.. {
        assert!(page < 5, "paging terminates");
        let result = data(&gw, &dml_path(), &query, json!({"state": state})).await;
        let result = &result[&table];
        seen.extend(titles(result));
        match &result["pageState"] {
            Value::String(next) => {
                assert_eq!(titles(result).len(), 2, "a full page before the last: {result}");
                state = json!(next);
            }
            Value::Null => break,
            other => panic!("pageState: {other}"),
        }
    }
    assert_eq!(seen, ["t1", "t2", "t3", "t4", "t5"]);

    // limit caps the rows.
    let limited = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"p\"}}, options: {{limit: 3}}) {{ values {{ title }} pageState }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&limited[&table]), ["t1", "t2", "t3"]);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_if_not_exists_and_if_exists_report_applied_false_with_the_row() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    let insert = format!(
        "mutation($v: {table}Input!) {{ insert{table}(value: $v, ifNotExists: true) {{ applied value {{ shelf seq title }} }} }}"
    );
    let first = data(
        &gw,
        &dml_path(),
        &insert,
        json!({"v": {"shelf": "l", "seq": 1, "title": "first"}}),
    )
    .await;
    assert_eq!(
        first[format!("insert{table}")],
        json!({"applied": true, "value": {"shelf": "l", "seq": 1, "title": "first"}})
    );
    let second = data(
        &gw,
        &dml_path(),
        &insert,
        json!({"v": {"shelf": "l", "seq": 1, "title": "second"}}),
    )
    .await;
    assert_eq!(
        second[format!("insert{table}")],
        json!({"applied": false, "value": {"shelf": "l", "seq": 1, "title": "first"}})
    );

    let update = data(
        &gw,
        &dml_path(),
        &format!(
            "mutation {{ update{table}(value: {{shelf: \"l\", seq: 9, title: \"x\"}}, ifExists: true) {{ applied }} }}"
        ),
        json!({}),
    )
    .await;
    assert_eq!(update[format!("update{table}")], json!({"applied": false}));
    let delete = data(
        &gw,
        &dml_path(),
        &format!("mutation {{ delete{table}(value: {{shelf: \"l\", seq: 9}}, ifExists: true) {{ applied }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(delete[format!("delete{table}")], json!({"applied": false}));

    // ifCondition: applied only when the condition holds; otherwise the row's current values.
    let conditional = format!(
        "mutation($t: String) {{ update{table}(value: {{shelf: \"l\", seq: 1, title: \"third\"}}, ifCondition: {{title: {{eq: $t}}}}) {{ applied value {{ title }} }} }}"
    );
    let refused = data(&gw, &dml_path(), &conditional, json!({"t": "nope"})).await;
    assert_eq!(
        refused[format!("update{table}")],
        json!({"applied": false, "value": {"title": "first"}})
    );
    let accepted = data(&gw, &dml_path(), &conditional, json!({"t": "first"})).await;
    assert_eq!(accepted[format!("update{table}")]["applied"], json!(true));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_atomic_runs_the_mutations_as_one_batch() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    let batch = format!(
        "mutation @atomic {{
          a: insert{table}(value: {{shelf: \"b\", seq: 1, title: \"one\"}}) {{ applied value {{ title }} }}
          b: insert{table}(value: {{shelf: \"b\", seq: 2, title: \"two\"}}) {{ applied value {{ title }} }}
        }}"
    );
    let done = data(&gw, &dml_path(), &batch, json!({})).await;
    assert_eq!(
        done,
        json!({
            "a": {"applied": true, "value": {"title": "one"}},
            "b": {"applied": true, "value": {"title": "two"}}
        })
    );
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"b\"}}) {{ values {{ title }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&read[&table]), ["one", "two"]);

    // A conditional batch that does not apply writes nothing.
    let conditional = format!(
        "mutation @atomic {{
          a: insert{table}(value: {{shelf: \"b\", seq: 1, title: \"again\"}}, ifNotExists: true) {{ applied }}
          b: insert{table}(value: {{shelf: \"b\", seq: 3, title: \"three\"}}, ifNotExists: true) {{ applied }}
        }}"
    );
    let refused = data(&gw, &dml_path(), &conditional, json!({})).await;
    assert_eq!(refused["a"]["applied"], json!(false), "{refused}");
    assert_eq!(refused["b"]["applied"], json!(false), "{refused}");
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{shelf: \"b\"}}) {{ values {{ title }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(titles(&read[&table]), ["one", "two"]);

    // `options` may appear only once in an @atomic mutation.
    let twice = format!(
        "mutation @atomic {{
          a: insert{table}(value: {{shelf: \"b\", seq: 5}}, options: {{ttl: 60}}) {{ applied }}
          b: insert{table}(value: {{shelf: \"b\", seq: 6}}, options: {{ttl: 60}}) {{ applied }}
        }}"
    );
    let (body, _) = first_error(&gw, &dml_path(), &twice, json!({})).await;
    assert!(body["errors"].to_string().contains("options"), "{body}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_sees_a_table_created_through_rest_on_the_next_request() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("late");
    // The keyspace's schema is built (and cached) before the table exists.
    let before = data(&gw, &dml_path(), "{ __typename }", json!({})).await;
    assert_eq!(before, json!({"__typename": "Query"}));
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "text"}, {"name": "n", "typeDefinition": "int"}]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let read = data(
        &gw,
        &dml_path(),
        &format!("{{ {table}(value: {{id: \"x\"}}) {{ values {{ n }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(read[&table], json!({"values": []}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_sees_a_column_added_through_plain_cql_on_the_next_request() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    insert_book(&gw, &table, "c", 1, "Before", 10).await;
    // Cached now: the table's schema without `publisher`.
    let query = format!("{{ {table}(value: {{shelf: \"c\"}}) {{ values {{ title publisher }} }} }}");
    let (_, message) = first_error(&gw, &dml_path(), &query, json!({})).await;
    assert!(message.contains("publisher"), "{message}");

    let session = gw.plain_cql().await;
    session
        .query_unpaged(format!("ALTER TABLE {KEYSPACE}.{table} ADD publisher text"), ())
        .await
        .expect("ALTER TABLE");
    let read = data(&gw, &dml_path(), &query, json!({})).await;
    assert_eq!(
        read[&table],
        json!({"values": [{"title": "Before", "publisher": null}]})
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_row_inserted_is_read_through_rest_and_plain_cql() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    insert_book(&gw, &table, "x", 7, "Cross", 42).await;

    let (status, body) = gw
        .rest_json(Method::GET, &format!("/v2/keyspaces/{KEYSPACE}/{table}/x/7"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["title"], json!("Cross"), "{body}");
    assert_eq!(body["data"][0]["pages"], json!(42), "{body}");

    let session = gw.plain_cql().await;
    let result = session
        .query_unpaged(
            format!("SELECT title, pages FROM {KEYSPACE}.{table} WHERE shelf = ? AND seq = ?"),
            ("x", 7_i32),
        )
        .await
        .expect("CQL select");
    let (title, pages): (String, i32) = result.into_rows_result().expect("rows").single_row().expect("one row");
    assert_eq!((title.as_str(), pages), ("Cross", 42));
}

// ---------------------------------------------------------------------------------------------
// §4.4 GraphQL-first: /graphql-admin, then /graphql/{keyspace}
// ---------------------------------------------------------------------------------------------

const TASKS_SDL: &str = r#"
type Task @cql_entity(name: "tasks") @cql_input {
  runId: ID! @cql_column(name: "run_id", partitionKey: true)
  seq: Int! @cql_column(clusteringOrder: ASC)
  title: String
  done: Boolean
}
type TasksPage @cql_payload { data: [Task] pagingState: String }
type InsertTaskResponse @cql_payload { applied: Boolean! task: Task }
type Query {
  tasksOfRun(runId: ID!, pagingState: String @cql_pagingState): TasksPage @cql_select(pageSize: 2)
  tasksAfter(runId: ID!, seq: Int! @cql_where(field: "seq", predicate: GT)): [Task]
}
type Mutation {
  insertTask(task: TaskInput!): InsertTaskResponse @cql_insert(ifNotExists: true)
  deleteTasksOfRun(runId: ID!): Boolean @cql_delete(targetEntity: "Task")
}
"#;

const DEPLOY: &str = r#"mutation($ks: String!, $schema: String!, $v: String, $dry: Boolean! = false) {
  deploySchema(keyspace: $ks, schema: $schema, expectedVersion: $v, dryRun: $dry) {
    version cqlChanges logs { category message }
  }
}"#;

/// A keyspace of its own for a GraphQL-first test.
async fn fresh_keyspace(gw: &TestGateway, prefix: &str) -> String {
    let ks = unique(prefix);
    gw.ensure_keyspace(&ks).await;
    ks
}

/// Drops a test's own keyspace (through `/graphql-schema`) so runs do not pile them up.
async fn drop_keyspace(gw: &TestGateway, ks: &str) {
    let dropped = data(
        gw,
        "/graphql-schema",
        "mutation($ks: String!) { dropKeyspace(name: $ks) }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(dropped, json!({"dropKeyspace": true}));
}

/// Deploys `schema`, which must succeed; returns `deploySchema`'s response.
async fn deploy(gw: &TestGateway, ks: &str, schema: &str, expected: Option<&str>) -> Value {
    let deployed = data(
        gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": schema, "v": expected}),
    )
    .await;
    deployed["deploySchema"].clone()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_deploy_insert_query_redeploy_and_incompatible_redeploy() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_first").await;
    let first = deploy(&gw, &ks, TASKS_SDL, None).await;
    let v1 = first["version"].as_str().expect("a version").to_string();
    assert_eq!(
        uuid::Uuid::parse_str(&v1).expect("a UUID").get_version_num(),
        1,
        "a timeuuid"
    );
    assert_eq!(first["cqlChanges"], json!(["Create table tasks"]));
    assert!(
        first["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .any(|l| l["category"] == json!("INFO")
                && l["message"]
                    == json!(
                        "Task: using 'TaskInput' as the input type name since @cql_input doesn't have an argument"
                    )),
        "{first}"
    );

    // The keyspace now serves the deployed schema: the CQL-first fields are gone.
    let run = uuid::Uuid::new_v4().to_string();
    let path = format!("/graphql/{ks}");
    let insert = "mutation($t: TaskInput!) { insertTask(task: $t) { applied task { seq title } } }";
    for (seq, title) in [(1, "one"), (2, "two"), (3, "three")] {
        let inserted = data(
            &gw,
            &path,
            insert,
            json!({"t": {"runId": run, "seq": seq, "title": title, "done": false}}),
        )
        .await;
        assert_eq!(
            inserted["insertTask"],
            json!({"applied": true, "task": {"seq": seq, "title": title}})
        );
    }
    let again = data(
        &gw,
        &path,
        insert,
        json!({"t": {"runId": run, "seq": 1, "title": "other"}}),
    )
    .await;
    assert_eq!(
        again["insertTask"],
        json!({"applied": false, "task": {"seq": 1, "title": "one"}}),
        "IF NOT EXISTS keeps the row and answers with it"
    );
    let (_, message) = first_error(&gw, &path, "{ tasks { values { seq } } }", json!({})).await;
    assert!(
        message.contains("Field 'tasks' in type 'Query' is undefined"),
        "{message}"
    );

    let page_query =
        "query($r: ID!, $p: String) { tasksOfRun(runId: $r, pagingState: $p) { data { seq title done } pagingState } }";
    let page = data(&gw, &path, page_query, json!({"r": run})).await;
    assert_eq!(
        page["tasksOfRun"]["data"],
        json!([{"seq": 1, "title": "one", "done": false}, {"seq": 2, "title": "two", "done": false}])
    );
    let state = page["tasksOfRun"]["pagingState"]
        .as_str()
        .expect("a paging state")
        .to_string();
    let rest = data(&gw, &path, page_query, json!({"r": run, "p": state})).await;
    assert_eq!(
        rest["tasksOfRun"]["data"],
        json!([{"seq": 3, "title": "three", "done": false}])
    );
    assert_eq!(rest["tasksOfRun"]["pagingState"], Value::Null);

    let after = data(
        &gw,
        &path,
        "query($r: ID!) { tasksAfter(runId: $r, seq: 1) { seq } }",
        json!({"r": run}),
    )
    .await;
    assert_eq!(after["tasksAfter"], json!([{"seq": 2}, {"seq": 3}]));

    // Read through the REST API: the table is a plain CQL table.
    let (status, body) = gw
        .rest_json(Method::GET, &format!("/v2/keyspaces/{ks}/tasks/{run}/2"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["title"], json!("two"), "{body}");

    // The same schema again, from the right version: nothing to change, a new version.
    let same = deploy(&gw, &ks, TASKS_SDL, Some(&v1)).await;
    assert_eq!(same["cqlChanges"], json!(["No changes, the CQL schema is up to date"]));
    let v2 = same["version"].as_str().expect("a version").to_string();
    assert_ne!(v1, v2);

    // A stale or missing expectedVersion is refused.
    let (body, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": TASKS_SDL, "v": v1}),
    )
    .await;
    assert_eq!(
        message,
        format!(
            "Exception while fetching data (/deploySchema) : You specified expectedVersion {v1}, but there is a more recent version {v2}"
        )
    );
    assert_eq!(body["data"], json!({"deploySchema": null}));
    let (_, message) = first_error(&gw, "/graphql-admin", DEPLOY, json!({"ks": ks, "schema": TASKS_SDL})).await;
    assert!(
        message.ends_with(&format!("but there is a more recent version {v2}")),
        "{message}"
    );
    let (_, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": TASKS_SDL, "v": "not-a-uuid"}),
    )
    .await;
    assert_eq!(
        message,
        "Exception while fetching data (/deploySchema) : Invalid 'expectedVersion' value."
    );

    // An incompatible change (a column's type) is refused under the default strategy.
    let changed = TASKS_SDL.replace("title: String", "title: Int");
    let (body, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": changed, "v": v2}),
    )
    .await;
    assert_eq!(
        message,
        "Exception while fetching data (/deploySchema) : The GraphQL schema that you provided can't be mapped to the current CQL data model. Consider using a different migration strategy (current: ADD_MISSING_TABLES_AND_COLUMNS). See details in `extensions.migrationErrors` below."
    );
    assert_eq!(
        body["errors"][0]["extensions"]["migrationErrors"],
        json!(["[WRONG_TYPE] tasks.title: expected int, found text"])
    );
    // A dry run reports the same without touching anything.
    let (_, dry) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": changed, "v": v2, "dry": true}),
    )
    .await;
    assert_eq!(dry, message);

    // The refused deployment left no lock: an added column is accepted from v2.
    let extended = TASKS_SDL.replace("done: Boolean", "done: Boolean\n  note: String");
    let dry = data(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": extended, "v": v2, "dry": true}),
    )
    .await;
    assert_eq!(
        dry["deploySchema"]["cqlChanges"],
        json!(["Add column note to table tasks"])
    );
    assert_eq!(dry["deploySchema"]["version"], Value::Null);
    let added = deploy(&gw, &ks, &extended, Some(&v2)).await;
    assert_eq!(added["cqlChanges"], json!(["Add column note to table tasks"]));
    let v3 = added["version"].as_str().expect("a version").to_string();

    let schemas = data(
        &gw,
        "/graphql-admin",
        "query($ks: String!) { schema(keyspace: $ks) { keyspace version contents } schemas(keyspace: $ks) { version } }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(
        schemas["schema"],
        json!({"keyspace": ks, "version": v3, "contents": extended})
    );
    assert_eq!(
        schemas["schemas"],
        json!([{"version": v3}, {"version": v2}, {"version": v1}])
    );

    let deleted = data(
        &gw,
        &path,
        "mutation($r: ID!) { deleteTasksOfRun(runId: $r) }",
        json!({"r": run}),
    )
    .await;
    assert_eq!(deleted, json!({"deleteTasksOfRun": true}));
    let page = data(&gw, &path, page_query, json!({"r": run})).await;
    assert_eq!(page["tasksOfRun"]["data"], json!([]));
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_generates_a_missing_id_and_returns_the_entity() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_first_id").await;
    let schema = r#"
type Book @cql_input { id: ID! title: String author: String }
type Query { book(id: ID!): Book }
type Mutation { insertBook(book: BookInput!): Book }
"#;
    let deployed = deploy(&gw, &ks, schema, None).await;
    assert_eq!(deployed["cqlChanges"], json!(["Create table Book"]));
    assert!(
        deployed["logs"]
            .to_string()
            .contains("Book: using id as the partition key, because it has type ID and no other fields are annotated"),
        "{deployed}"
    );
    let path = format!("/graphql/{ks}");
    let inserted = data(
        &gw,
        &path,
        r#"mutation { insertBook(book: {title: "Moby Dick", author: "Herman Melville"}) { id title } }"#,
        json!({}),
    )
    .await;
    let id = inserted["insertBook"]["id"]
        .as_str()
        .expect("a generated id")
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let read = data(
        &gw,
        &path,
        "query($id: ID!) { book(id: $id) { title author } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(read["book"], json!({"title": "Moby Dick", "author": "Herman Melville"}));
    let missing = data(
        &gw,
        &path,
        "query($id: ID!) { book(id: $id) { title } }",
        json!({"id": uuid::Uuid::new_v4().to_string()}),
    )
    .await;
    assert_eq!(missing["book"], Value::Null);

    // Plain CQL sees the row GraphQL wrote.
    let session = gw.plain_cql().await;
    let result = session
        .query_unpaged(
            format!("SELECT title FROM {ks}.\"Book\" WHERE id = ?"),
            (uuid::Uuid::parse_str(&id).expect("uuid"),),
        )
        .await
        .expect("CQL select");
    let (title,): (String,) = result.into_rows_result().expect("rows").single_row().expect("one row");
    assert_eq!(title, "Moby Dick");
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_rejects_a_type_without_partition_key_and_invalid_sdl() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_first_bad").await;
    let (body, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": "type Book { title: String } type Query { book(title: String): Book }"}),
    )
    .await;
    assert_eq!(
        message,
        "Exception while fetching data (/deploySchema) : The GraphQL schema that you provided contains CQL mapping errors. See details in `extensions.mappingErrors` below."
    );
    let details = body["errors"][0]["extensions"]["mappingErrors"].to_string();
    assert!(
        details.contains("Book must have at least one partition key field"),
        "{body}"
    );

    let (body, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": ks, "schema": "type Query {"}),
    )
    .await;
    assert!(
        message.ends_with(
            "The schema that you provided is not valid GraphQL. See details in `extensions.schemaErrors` below."
        ),
        "{message}"
    );
    assert!(body["errors"][0]["extensions"]["schemaErrors"].is_array(), "{body}");

    // Nothing was deployed: the keyspace still serves its CQL-first schema.
    let typename = data(&gw, &format!("/graphql/{ks}"), "{ __typename }", json!({})).await;
    assert_eq!(typename, json!({"__typename": "Query"}));
    let schema = data(
        &gw,
        "/graphql-admin",
        "query($ks: String!) { schema(keyspace: $ks) { version } }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(schema, json!({"schema": null}));

    let missing = unique("no_such_ks");
    let (_, message) = first_error(
        &gw,
        "/graphql-admin",
        DEPLOY,
        json!({"ks": missing, "schema": TASKS_SDL}),
    )
    .await;
    assert_eq!(
        message,
        format!("Exception while fetching data (/deploySchema) : Keyspace '{missing}' does not exist.")
    );
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_deployment_survives_a_gateway_restart_and_undeploy_restores_cql_first() {
    let first = TestGateway::start().await;
    let ks = fresh_keyspace(&first, "gql_first_restart").await;
    let version = deploy(&first, &ks, TASKS_SDL, None).await["version"]
        .as_str()
        .expect("a version")
        .to_string();
    first.stop().await;

    let gw = TestGateway::start().await;
    let path = format!("/graphql/{ks}");
    let run = uuid::Uuid::new_v4().to_string();
    let inserted = data(
        &gw,
        &path,
        "mutation($r: ID!) { insertTask(task: {runId: $r, seq: 1, title: \"kept\"}) { applied } }",
        json!({"r": run}),
    )
    .await;
    assert_eq!(inserted, json!({"insertTask": {"applied": true}}));
    let schema = data(
        &gw,
        "/graphql-admin",
        "query($ks: String!) { schema(keyspace: $ks) { version } }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(schema, json!({"schema": {"version": version}}));

    let undeployed = data(
        &gw,
        "/graphql-admin",
        "mutation($ks: String!, $v: String!) { undeploySchema(keyspace: $ks, expectedVersion: $v) }",
        json!({"ks": ks, "v": version}),
    )
    .await;
    assert_eq!(undeployed, json!({"undeploySchema": true}));
    let generated = data(
        &gw,
        &path,
        "query($r: Uuid) { tasks(value: {run_id: $r}) { values { title } } }",
        json!({"r": run}),
    )
    .await;
    assert_eq!(generated, json!({"tasks": {"values": [{"title": "kept"}]}}));
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_admin_introspection_lists_the_admin_types() {
    let gw = TestGateway::start().await;
    let schema = data(
        &gw,
        "/graphql-admin",
        "{ __schema { mutationType { fields { name args { name defaultValue } } } types { name } } }",
        json!({}),
    )
    .await;
    let names = schema["__schema"]["types"].to_string();
    for expected in [
        "DeploySchemaResponse",
        "MigrationStrategy",
        "LogCategory",
        "Schema",
        "Log",
        "Upload",
    ] {
        assert!(names.contains(&format!("\"{expected}\"")), "{expected} in {names}");
    }
    let deploy = schema["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == json!("deploySchema"))
        .expect("deploySchema")
        .clone();
    let strategy = deploy["args"]
        .as_array()
        .expect("args")
        .iter()
        .find(|a| a["name"] == json!("migrationStrategy"))
        .expect("migrationStrategy")
        .clone();
    assert_eq!(strategy["defaultValue"], json!("ADD_MISSING_TABLES_AND_COLUMNS"));
    let file = schema["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == json!("deploySchemaFile"))
        .expect("deploySchemaFile")
        .clone();
    let args: Vec<&str> = file["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        args,
        [
            "keyspace",
            "expectedVersion",
            "migrationStrategy",
            "force",
            "dryRun",
            "schemaFile"
        ]
    );
}

/// One part of a multipart form: (name, file name, content type, contents).
type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str);

/// A `multipart/form-data` POST to `/graphql-admin` with the stack's token.
async fn admin_multipart(gw: &TestGateway, parts: &[FormPart<'_>]) -> (StatusCode, Value) {
    const BOUNDARY: &str = "astra-local-test-boundary";
    let mut body = String::new();
    for (name, file_name, content_type, contents) in parts {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(file_name) = file_name {
            body.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.push_str("\r\n");
        if let Some(content_type) = content_type {
            body.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        body.push_str(&format!("\r\n{contents}\r\n"));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let response = gw
        .http
        .post(gw.graphql_url("/graphql-admin"))
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("X-Cassandra-Token", gw.env.application_token.clone())
        .body(body)
        .send()
        .await
        .expect("the GraphQL API answers");
    let status = response.status();
    (status, parse(&response.text().await.expect("a response body")))
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_admin_deploy_schema_file_takes_the_sdl_as_a_multipart_upload() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_file").await;
    let operations = json!({
        "query": "mutation($ks: String!, $file: Upload!) { deploySchemaFile(keyspace: $ks, schemaFile: $file) { version cqlChanges } }",
        "variables": {"ks": ks, "file": null},
    })
    .to_string();
    let json_type = Some("application/json");
    let map = r#"{"0": ["variables.file"]}"#;
    let file = ("0", Some("tasks.graphql"), Some("application/octet-stream"), TASKS_SDL);
    let (status, body) = admin_multipart(
        &gw,
        &[
            ("operations", None, json_type, &operations),
            ("map", None, None, map),
            file,
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["deploySchemaFile"]["cqlChanges"],
        json!(["Create table tasks"])
    );
    let version = body["data"]["deploySchemaFile"]["version"]
        .as_str()
        .expect("a version")
        .to_string();
    // The uploaded file is the deployed schema: stored as sent, and served at /graphql/{ks}.
    let stored = data(
        &gw,
        "/graphql-admin",
        "query($ks: String!) { schema(keyspace: $ks) { version contents } }",
        json!({"ks": ks}),
    )
    .await;
    assert_eq!(stored["schema"], json!({"version": version, "contents": TASKS_SDL}));
    let run = uuid::Uuid::new_v4().to_string();
    let inserted = data(
        &gw,
        &format!("/graphql/{ks}"),
        "mutation($t: TaskInput!) { insertTask(task: $t) { applied } }",
        json!({"t": {"runId": run, "seq": 1, "title": "uploaded"}}),
    )
    .await;
    assert_eq!(inserted, json!({"insertTask": {"applied": true}}));

    // Stargate's request-level errors for a malformed upload: 400 in the GraphQL error shape.
    let without_variables = json!({"query": "{ schemas(keyspace: \"x\") { version } }"}).to_string();
    let nested = r#"{"0": ["variables.file.inner"]}"#;
    let malformed: [(&[FormPart], &str); 4] = [
        (
            &[("map", None, None, map), file],
            "Could not find GraphQL operations object. Make sure your multipart request includes an 'operations' part with MIME type application/json",
        ),
        (
            &[
                ("operations", None, json_type, &without_variables),
                ("map", None, None, map),
                file,
            ],
            "Found a 'map' part but the GraphQL query has no variables",
        ),
        (
            &[("operations", None, json_type, &operations), ("map", None, None, map)],
            "The 'map' part references '0', but found no part with that name",
        ),
        (
            &[
                ("operations", None, json_type, &operations),
                ("map", None, None, nested),
                file,
            ],
            "This implementation only allows simple variable references like 'variables.x' (offending reference: 'variables.file.inner')",
        ),
    ];
    for (parts, expected) in malformed {
        let (status, body) = admin_multipart(&gw, parts).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"errors": [{"message": expected}]}));
    }
    drop_keyspace(&gw, &ks).await;
}

const COUNTERS_SDL: &str = r#"
type Counters @cql_input {
  k: Int! @cql_column(partitionKey: true)
  likes: Counter
  views: Counter
}
type Playlist @cql_input {
  k: Int! @cql_column(partitionKey: true)
  songs: [String]
  title: String
}
type Query {
  counters(k: Int!): Counters
  playlist(k: Int!): Playlist
}
type Mutation {
  bump(k: Int, likes: Int @cql_increment, moreViews: Int @cql_increment(field: "views")): Boolean
    @cql_update(targetEntity: "Counters")
  appendSongs(k: Int, songs: [String] @cql_increment): Boolean @cql_update(targetEntity: "Playlist")
  prependSongs(k: Int, songs: [String] @cql_increment(prepend: true)): Boolean
    @cql_update(targetEntity: "Playlist")
  renamePlaylist(k: Int, title: String): Boolean @cql_update(targetEntity: "Playlist")
}
"#;

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_updates_by_key_increment_counters_append_prepend_lists_and_set_values() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_inc").await;
    deploy(&gw, &ks, COUNTERS_SDL, None).await;
    let path = format!("/graphql/{ks}");
    let run = |query: &'static str| data(&gw, &path, query, json!({}));

    assert_eq!(
        run("mutation { bump(k: 1, likes: 2, moreViews: 4) }").await,
        json!({"bump": true})
    );
    assert_eq!(
        run("mutation { bump(k: 1, likes: 10, moreViews: -1) }").await,
        json!({"bump": true})
    );
    // Counters read back as strings, like every 64-bit CQL integer.
    assert_eq!(
        run("{ counters(k: 1) { likes views } }").await,
        json!({"counters": {"likes": "12", "views": "3"}})
    );
    let session = gw.plain_cql().await;
    let (likes,) = session
        .query_unpaged(format!("SELECT likes FROM {ks}.\"Counters\" WHERE k = 1"), ())
        .await
        .expect("SELECT")
        .into_rows_result()
        .expect("rows")
        .single_row::<(scylla::value::Counter,)>()
        .expect("one row");
    assert_eq!(likes.0, 12);

    // A single value where the argument is a list is a list of one (GraphQL's input coercion).
    run("mutation { appendSongs(k: 7, songs: \"b\") }").await;
    run("mutation { appendSongs(k: 7, songs: [\"c\", \"d\"]) }").await;
    run("mutation { prependSongs(k: 7, songs: \"a\") }").await;
    // A regular field argument without a directive sets its column; the list is left alone.
    assert_eq!(
        run("mutation { renamePlaylist(k: 7, title: \"Road trip\") }").await,
        json!({"renamePlaylist": true})
    );
    assert_eq!(
        run("{ playlist(k: 7) { songs title } }").await,
        json!({"playlist": {"songs": ["a", "b", "c", "d"], "title": "Road trip"}})
    );

    // Stargate's mapping errors for misplaced directives (dry runs: checked, nothing deployed).
    for (mutation, expected) in [
        (
            "bad(k: Int @cql_increment, likes: Int @cql_increment): Boolean @cql_update(targetEntity: \"Counters\")",
            "Mutation bad: @cql_increment is not allowed on primary key fields (k)",
        ),
        (
            "bad(k: Int, likes: Int @cql_increment @cql_if): Boolean @cql_update(targetEntity: \"Counters\")",
            "Operation bad: can't set both @cql_if and @cql_increment on argument likes",
        ),
        (
            "bad(k: Int, title: String @cql_where): Boolean @cql_update(targetEntity: \"Playlist\")",
            "Mutation bad: @cql_where is only allowed on primary key fields for updates (title)",
        ),
    ] {
        let schema = COUNTERS_SDL.replace("type Mutation {", &format!("type Mutation {{\n  {mutation}"));
        let (body, _) = first_error(
            &gw,
            "/graphql-admin",
            DEPLOY,
            json!({"ks": ks, "schema": schema, "dry": true}),
        )
        .await;
        let details = body["errors"][0]["extensions"]["mappingErrors"].to_string();
        assert!(details.contains(expected), "{expected} in {body}");
    }
    drop_keyspace(&gw, &ks).await;
}

const AUTHORS_SDL: &str = r#"
enum Genre { FICTION HISTORY }
type Address @cql_entity(name: "address", target: UDT) @cql_input { street: String city: String }
type Author @cql_entity(name: "authors") @cql_input {
  id: ID!
  name: String
  genre: Genre
  address: Address
  tags: [String] @cql_index(name: "authors_tags_idx", target: VALUES)
}
type AuthorPayload @cql_payload { applied: Boolean author: Author }
type Query {
  author(id: ID!): Author
  authorsByTag(tag: String! @cql_where(field: "tags", predicate: CONTAINS)): [Author]
}
type Mutation {
  insertAuthor(author: AuthorInput!): Author @cql_insert(ttl: "PT1H")
  updateAuthor(author: AuthorInput!): Boolean
  updateAuthorIfExists(author: AuthorInput!): AuthorPayload
  removeAuthor(id: ID!): Boolean @cql_delete(targetEntity: "Author")
  deleteAuthorIfName(id: ID!, name: String @cql_if(field: "name")): AuthorPayload @cql_delete(targetEntity: "Author")
}
"#;

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_udts_enums_indexes_updates_conditional_deletes_and_ttl() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_first_authors").await;
    let deployed = deploy(&gw, &ks, AUTHORS_SDL, None).await;
    assert_eq!(
        deployed["cqlChanges"],
        json!([
            "Create UDT address",
            "Create table authors",
            "Create index authors_tags_idx on authors.tags"
        ])
    );
    let path = format!("/graphql/{ks}");
    let inserted = data(
        &gw,
        &path,
        r#"mutation { insertAuthor(author: {name: "Ann", genre: FICTION, address: {street: "1 Main St", city: "Lyon"}, tags: ["poetry", "prose"]}) {
            id name genre address { city } tags } }"#,
        json!({}),
    )
    .await;
    let author = &inserted["insertAuthor"];
    let id = author["id"].as_str().expect("a generated id").to_string();
    assert_eq!(author["genre"], json!("FICTION"));
    assert_eq!(author["address"], json!({"city": "Lyon"}));

    let read = data(
        &gw,
        &path,
        "query($id: ID!) { author(id: $id) { name genre address { street city } tags } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        read["author"],
        json!({"name": "Ann", "genre": "FICTION", "address": {"street": "1 Main St", "city": "Lyon"}, "tags": ["poetry", "prose"]})
    );
    let tagged = data(&gw, &path, "{ authorsByTag(tag: \"poetry\") { id } }", json!({})).await;
    assert_eq!(tagged["authorsByTag"], json!([{"id": id}]));

    let updated = data(
        &gw,
        &path,
        "mutation($id: ID!) { updateAuthor(author: {id: $id, name: \"Anna\", genre: HISTORY}) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(updated, json!({"updateAuthor": true}));
    let read = data(
        &gw,
        &path,
        "query($id: ID!) { author(id: $id) { name genre } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(read["author"], json!({"name": "Anna", "genre": "HISTORY"}));

    let absent = uuid::Uuid::new_v4().to_string();
    let refused = data(
        &gw,
        &path,
        "mutation($id: ID!) { updateAuthorIfExists(author: {id: $id, name: \"x\"}) { applied author { name } } }",
        json!({"id": absent}),
    )
    .await;
    assert_eq!(
        refused["updateAuthorIfExists"],
        json!({"applied": false, "author": {"name": null}})
    );

    let conditional =
        "mutation($id: ID!, $n: String) { deleteAuthorIfName(id: $id, name: $n) { applied author { name } } }";
    let kept = data(&gw, &path, conditional, json!({"id": id, "n": "Ann"})).await;
    assert_eq!(
        kept["deleteAuthorIfName"],
        json!({"applied": false, "author": {"name": "Anna"}})
    );

    // The insert's TTL is on the row (plain CQL).
    let session = gw.plain_cql().await;
    let result = session
        .query_unpaged(
            format!("SELECT TTL(address) FROM {ks}.authors WHERE id = ?"),
            (uuid::Uuid::parse_str(&id).expect("uuid"),),
        )
        .await
        .expect("CQL select");
    let (ttl,): (Option<i32>,) = result.into_rows_result().expect("rows").single_row().expect("one row");
    assert!(ttl.is_some_and(|t| t > 3000 && t <= 3600), "{ttl:?}");

    let removed = data(&gw, &path, conditional, json!({"id": id, "n": "Anna"})).await;
    assert_eq!(removed["deleteAuthorIfName"]["applied"], json!(true));
    let gone = data(
        &gw,
        &path,
        "query($id: ID!) { author(id: $id) { name } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(gone, json!({"author": null}));
    let removed = data(
        &gw,
        &path,
        "mutation($id: ID!) { removeAuthor(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(removed, json!({"removeAuthor": true}));
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_files_serve_the_deployed_sdl_and_the_directives() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_files").await;
    let version = deploy(&gw, &ks, TASKS_SDL, None).await["version"]
        .as_str()
        .expect("a version")
        .to_string();
    let get = |path: String, token: bool| {
        let mut request = gw.http.get(gw.graphql_url(&path));
        if token {
            request = request.header("X-Cassandra-Token", &gw.env.application_token);
        }
        async move {
            let response = request.send().await.expect("answer");
            (response.status(), response.text().await.expect("body"))
        }
    };
    let (status, body) = get(format!("/graphql-files/keyspace/{ks}.graphql"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, TASKS_SDL);
    let (status, body) = get(format!("/graphql-files/keyspace/{ks}.graphql?version={version}"), true).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, TASKS_SDL));
    let (status, _) = get(format!("/graphql-files/keyspace/{ks}.graphql"), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let missing = unique("no_schema");
    let (status, body) = get(format!("/graphql-files/keyspace/{missing}.graphql"), true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        parse(&body)["description"],
        json!(format!(
            "The schema for keyspace {missing} and version null does not exist."
        ))
    );
    let (status, body) = get("/api/graphql-files/cql_directives.graphql".into(), false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("directive @cql_entity"), "{body}");
    // The directives file is itself valid SDL.
    assert!(async_graphql::parser::parse_schema(&body).is_ok());
    drop_keyspace(&gw, &ks).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_cql_first_aggregate_functions_and_group_by() {
    let gw = TestGateway::start().await;
    let table = books_table(&gw).await;
    for (shelf, seq, pages) in [("a", 1, 10), ("a", 2, 30), ("b", 1, 5)] {
        insert_book(&gw, &table, shelf, seq, "t", pages).await;
    }
    let aggregated = data(
        &gw,
        &dml_path(),
        &format!(
            "{{ {table}(value: {{shelf: \"a\"}}) {{ values {{ most: _int_function(name: \"max\", args: [\"pages\"]) rows: _bigint_function(name: \"count\", args: [\"seq\"]) }} }} }}"
        ),
        json!({}),
    )
    .await;
    assert_eq!(aggregated[&table], json!({"values": [{"most": 30, "rows": "2"}]}));
    let grouped = data(
        &gw,
        &dml_path(),
        &format!(
            "{{ {table}(filter: {{shelf: {{in: [\"a\", \"b\"]}}}}, groupBy: {{shelf: true}}) {{ values {{ shelf total: _int_function(name: \"sum\", args: [\"pages\"]) }} }} }}"
        ),
        json!({}),
    )
    .await;
    let mut values = grouped[&table]["values"].as_array().expect("values").clone();
    values.sort_by_key(|v| v["shelf"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        values,
        [json!({"shelf": "a", "total": 40}), json!({"shelf": "b", "total": 5})]
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn graphql_first_atomic_runs_the_mutations_as_one_batch() {
    let gw = TestGateway::start().await;
    let ks = fresh_keyspace(&gw, "gql_first_atomic").await;
    deploy(&gw, &ks, TASKS_SDL, None).await;
    let path = format!("/graphql/{ks}");
    let run = uuid::Uuid::new_v4().to_string();
    let batch = "mutation($r: ID!, $a: String, $b: String) @atomic {
      one: insertTask(task: {runId: $r, seq: 1, title: $a}) { applied task { title } }
      two: insertTask(task: {runId: $r, seq: 2, title: $b}) { applied task { title } }
    }";
    let done = data(&gw, &path, batch, json!({"r": run, "a": "a", "b": "b"})).await;
    assert_eq!(
        done,
        json!({"one": {"applied": true, "task": {"title": "a"}}, "two": {"applied": true, "task": {"title": "b"}}})
    );
    // Row 1 exists: the conditional batch applies nothing and answers with the rows found.
    let refused = data(&gw, &path, batch, json!({"r": run, "a": "x", "b": "y"})).await;
    assert_eq!(
        refused["one"],
        json!({"applied": false, "task": {"title": "a"}}),
        "{refused}"
    );
    assert_eq!(refused["two"]["applied"], json!(false), "{refused}");
    let page = data(
        &gw,
        &path,
        "query($r: ID!) { tasksOfRun(runId: $r) { data { title } } }",
        json!({"r": run}),
    )
    .await;
    assert_eq!(page["tasksOfRun"]["data"], json!([{"title": "a"}, {"title": "b"}]));
    drop_keyspace(&gw, &ks).await;
}
