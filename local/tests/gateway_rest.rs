//! Conformance of the gateway's Auth API and REST API v2 with Stargate, one test per documented
//! behaviour of `shared/reference/stargate-apis.md` (§0 common HTTP behaviour, §1 Auth API, §2 REST
//! API v2), each named after it. They run against the local stack's real Cassandra.

mod gateway_support;

use gateway_support::{KEYSPACE, TestGateway, encode, parse, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A table `(id text, seq int, name text, tags set<text>, attrs map<text, int>)`, key `((id), seq)`.
async fn rows_table(gw: &TestGateway) -> String {
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("rows");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"], "clusteringKey": ["seq"]},
        "columnDefinitions": [
            {"name": "id", "typeDefinition": "text"},
            {"name": "seq", "typeDefinition": "int"},
            {"name": "name", "typeDefinition": "text"},
            {"name": "tags", "typeDefinition": "set<text>"},
            {"name": "attrs", "typeDefinition": "map<text, int>"}
        ],
        "tableOptions": {"clusteringExpression": [{"column": "seq", "order": "ASC"}]}
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    table
}

fn rows_path(table: &str) -> String {
    format!("/v2/keyspaces/{KEYSPACE}/{table}")
}

async fn add_row(gw: &TestGateway, table: &str, row: Value) {
    let (status, text) = gw.rest(Method::POST, &rows_path(table), Some(&row.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "adding {row}: {text}");
}

fn assert_api_error(body: &Value, code: u16, description: &str) {
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["description"], json!(description), "{body}");
    assert!(
        body.get("grpcStatus").is_some() && body.get("internalTxId").is_some(),
        "all four keys: {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// §1 Auth API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_with_valid_credentials_is_201_with_a_uuid_token_and_cache_control() {
    let gw = TestGateway::start().await;
    let body = json!({"username": gw.env.username, "password": gw.env.password}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("auth");
    assert_eq!(response.status(), StatusCode::CREATED);
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cache.contains("max-age=1790") && cache.contains("s-maxage=1790"),
        "{cache}"
    );
    let json = parse(&response.text().await.expect("body"));
    let token = json["authToken"].as_str().expect("authToken");
    assert!(uuid::Uuid::parse_str(token).is_ok(), "{token}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_accepts_the_client_id_and_secret_that_env_prints_as_stargate_username_and_password() {
    let gw = TestGateway::start().await;
    let username = std::env::var("STARGATE_USERNAME")
        .or_else(|_| std::env::var("ASTRA_DB_CLIENT_ID"))
        .expect("client id");
    let password = std::env::var("STARGATE_PASSWORD")
        .or_else(|_| std::env::var("ASTRA_DB_CLIENT_SECRET"))
        .expect("client secret");
    let body = json!({"username": username, "password": password}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_with_wrong_password_is_401_with_description_only() {
    let gw = TestGateway::start().await;
    let body = json!({"username": gw.env.username, "password": "wrong"}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let json = parse(&response.text().await.expect("body"));
    assert_eq!(
        json,
        json!({"description": format!("Failed to create token: Provided username {} and/or password are incorrect", gw.env.username)})
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_without_username_or_body_is_400_naming_what_is_missing() {
    let gw = TestGateway::start().await;
    for (body, description) in [
        ("", "Must provide a body to the request"),
        (r#"{"password":"p"}"#, "Must provide username in request"),
        (r#"{"username":"u"}"#, "Must provide password in request"),
    ] {
        let response = gw
            .http
            .post(gw.auth_url("/v1/auth"))
            .body(body)
            .send()
            .await
            .expect("auth");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            parse(&response.text().await.expect("body")),
            json!({"description": description})
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_token_is_stored_in_cassandra_and_accepted_after_a_gateway_restart() {
    let gw = TestGateway::start().await;
    let body = json!({"username": gw.env.username, "password": gw.env.password}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    let token = parse(&response.text().await.expect("body"))["authToken"]
        .as_str()
        .expect("token")
        .to_string();
    gw.stop().await;

    let restarted = TestGateway::start().await;
    let (status, text) = restarted
        .rest_with(Method::GET, "/v2/schemas/keyspaces", None, Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn auth_is_also_served_under_astras_prefix_on_the_rest_port() {
    let gw = TestGateway::start().await;
    let body = json!({"username": gw.env.username, "password": gw.env.password}).to_string();
    let response = gw
        .http
        .post(gw.rest_url("/api/rest/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(parse(&response.text().await.expect("body"))["authToken"].is_string());
}

// ---------------------------------------------------------------------------------------------
// §0 Tokens on every /v2 path
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_without_token_is_401_missing_token() {
    let gw = TestGateway::start().await;
    for path in [
        "/v2/schemas/keyspaces",
        "/v2/keyspaces/system/local/rows",
        "/api/rest/v2/schemas/keyspaces",
    ] {
        let (status, text) = gw.rest_with(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            text,
            r#"{"description":"Role unauthorized for operation: Missing token, expecting one in the X-Cassandra-Token header.","code":401,"grpcStatus":null,"internalTxId":null}"#
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_with_bad_token_is_401_unauthenticated_invalid_token() {
    let gw = TestGateway::start().await;
    for token in [
        "not-a-token",
        "8b0b4a2e-6c48-4c1e-9f0b-5d2f4c3b2a10",
        "AstraCS:wrong:0000",
    ] {
        let (status, text) = gw
            .rest_with(Method::GET, "/v2/schemas/keyspaces", None, Some(token))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        let body = parse(&text);
        assert_api_error(
            &body,
            401,
            "Unauthenticated gRPC operation (Status.Code.UNAUTHENTICATED->401): UNAUTHENTICATED: Invalid token",
        );
        assert_eq!(body["grpcStatus"], json!("UNAUTHENTICATED"));
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_accepts_the_application_token_and_issued_tokens() {
    let gw = TestGateway::start().await;
    let (status, _) = gw.rest(Method::GET, "/v2/schemas/keyspaces", None).await;
    assert_eq!(status, StatusCode::OK, "application token");
    let body = json!({"username": gw.env.username, "password": gw.env.password}).to_string();
    let response = gw
        .http
        .post(gw.auth_url("/v1/auth"))
        .body(body)
        .send()
        .await
        .expect("auth");
    let token = parse(&response.text().await.expect("body"))["authToken"]
        .as_str()
        .expect("token")
        .to_string();
    let (status, _) = gw
        .rest_with(Method::GET, "/v2/schemas/keyspaces", None, Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "issued token");
}

// ---------------------------------------------------------------------------------------------
// §2.1 Schema: keyspaces
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_create_keyspace_is_201_idempotent_and_listed() {
    let gw = TestGateway::start().await;
    let keyspace = unique("ks");
    let body = json!({"name": keyspace}).to_string();
    for _ in 0..2 {
        let (status, json) = gw.rest_json(Method::POST, "/v2/schemas/keyspaces", Some(&body)).await;
        assert_eq!((status, json), (StatusCode::CREATED, json!({"name": keyspace})));
    }
    let (status, json) = gw.rest_json(Method::GET, "/v2/schemas/keyspaces", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        json["data"]
            .as_array()
            .expect("data")
            .contains(&json!({"name": keyspace})),
        "{json}"
    );
    let (status, json) = gw
        .rest_json(Method::GET, &format!("/v2/schemas/keyspaces/{keyspace}?raw=true"), None)
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"name": keyspace})));
    let (status, _) = gw
        .rest(Method::DELETE, &format!("/v2/schemas/keyspaces/{keyspace}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_get_missing_keyspace_is_404_unable_to_describe() {
    let gw = TestGateway::start().await;
    let (status, json) = gw
        .rest_json(Method::GET, "/v2/schemas/keyspaces/no_such_keyspace_x", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_api_error(&json, 404, "Unable to describe keyspace 'no_such_keyspace_x'");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_create_keyspace_without_name_is_400() {
    let gw = TestGateway::start().await;
    let (status, json) = gw
        .rest_json(Method::POST, "/v2/schemas/keyspaces", Some(r#"{"replicas":1}"#))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        r#"Missing 'name' String property in payload Object: {"replicas":1}"#,
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_delete_missing_keyspace_is_204() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .rest(Method::DELETE, "/v2/schemas/keyspaces/no_such_keyspace_y", None)
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
}

// ---------------------------------------------------------------------------------------------
// §2.1 Schema: tables, columns, indexes, types
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_create_table_is_201_and_get_table_renders_stargates_table_object() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/{table}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["data"],
        json!({
            "name": table,
            "keyspace": KEYSPACE,
            "columnDefinitions": [
                {"name": "id", "typeDefinition": "text", "static": false},
                {"name": "seq", "typeDefinition": "int", "static": false},
                {"name": "attrs", "typeDefinition": "map<text, int>", "static": false},
                {"name": "name", "typeDefinition": "text", "static": false},
                {"name": "tags", "typeDefinition": "set<text>", "static": false}
            ],
            "primaryKey": {"partitionKey": ["id"], "clusteringKey": ["seq"]},
            "tableOptions": {"defaultTimeToLive": 0, "clusteringExpression": [{"column": "seq", "order": "ASC"}]}
        })
    );
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables?raw=true"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        json.as_array()
            .expect("raw list")
            .iter()
            .any(|t| t["name"] == json!(table))
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_create_existing_table_is_409_already_exists() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "text"}]
    });
    let (status, json) = gw
        .rest_json(
            Method::POST,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables"),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["grpcStatus"], json!("ALREADY_EXISTS"));
    let description = json["description"].as_str().expect("description");
    assert!(
        description.starts_with("Resource already exists (Status.Code.ALREADY_EXISTS->409): ALREADY_EXISTS: Cannot add already existing table"),
        "{description}"
    );
    let mut with_flag = body.clone();
    with_flag["ifNotExists"] = json!(true);
    let (status, _) = gw
        .rest(
            Method::POST,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables"),
            Some(&with_flag.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "ifNotExists");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_get_missing_table_is_404_with_description() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/no_such_table"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_api_error(
        &json,
        404,
        &format!("Table 'no_such_table' not found (in keyspace {KEYSPACE})"),
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_list_tables_of_missing_keyspace_is_400_keyspace_not_found() {
    let gw = TestGateway::start().await;
    let (status, json) = gw
        .rest_json(Method::GET, "/v2/schemas/keyspaces/no_such_keyspace_z/tables", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, "Keyspace 'no_such_keyspace_z' not found");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_create_table_without_column_definitions_is_400() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let body = r#"{"name":"t","primaryKey":{"partitionKey":["id"]}}"#;
    let (status, json) = gw
        .rest_json(
            Method::POST,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/tables"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, "TableAdd.columnDefinitions must be provided");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_update_table_sets_the_default_ttl_and_delete_is_204() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let path = format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/{table}");
    let body = json!({"name": table, "tableOptions": {"defaultTimeToLive": 600}}).to_string();
    let (status, json) = gw.rest_json(Method::PUT, &path, Some(&body)).await;
    assert_eq!((status, json), (StatusCode::OK, json!({"name": table})));
    let (_, json) = gw.rest_json(Method::GET, &path, None).await;
    assert_eq!(json["data"]["tableOptions"]["defaultTimeToLive"], json!(600));
    let (status, json) = gw
        .rest_json(Method::PUT, &path, Some(&json!({"name": table}).to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, "No update provided for defaultTTL");
    for _ in 0..2 {
        let (status, _) = gw.rest(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_columns_are_added_read_renamed_and_dropped() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let columns = format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/{table}/columns");
    let body = r#"{"name":"extra","typeDefinition":"frozen<map<date, text>>"}"#;
    let (status, json) = gw.rest_json(Method::POST, &columns, Some(body)).await;
    assert_eq!((status, json), (StatusCode::CREATED, json!({"name": "extra"})));
    let (status, json) = gw.rest_json(Method::GET, &format!("{columns}/extra"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["data"],
        json!({"name": "extra", "typeDefinition": "frozen<map<date, text>>", "static": false})
    );
    let (status, json) = gw.rest_json(Method::GET, &format!("{columns}?raw=true"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json.as_array().map(Vec::len), Some(6));
    let (status, json) = gw.rest_json(Method::GET, &format!("{columns}/nope"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_api_error(&json, 404, &format!("Column 'nope' not found in table '{table}'"));
    let (status, _) = gw.rest(Method::DELETE, &format!("{columns}/extra"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Only clustering columns can be renamed in Cassandra.
    let (status, json) = gw
        .rest_json(
            Method::PUT,
            &format!("{columns}/seq"),
            Some(r#"{"name":"position","typeDefinition":"int"}"#),
        )
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"name": "position"})));
    let (status, json) = gw.rest_json(Method::DELETE, &format!("{columns}/nope"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, &format!("Column 'nope' not found in table '{table}'"));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_indexes_are_created_listed_raw_and_dropped() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let indexes = format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/{table}/indexes");
    let index = format!("{table}_name_idx");
    let body = json!({"column": "name", "name": index}).to_string();
    let (status, json) = gw.rest_json(Method::POST, &indexes, Some(&body)).await;
    assert_eq!((status, json), (StatusCode::CREATED, json!({"success": true})));
    let (status, json) = gw.rest_json(Method::GET, &indexes, None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = json.as_array().expect("always raw");
    assert!(
        listed
            .iter()
            .any(|i| i["index_name"] == json!(index) && i["options"]["target"] == json!("name")),
        "{json}"
    );
    let (status, json) = gw.rest_json(Method::POST, &indexes, Some(r#"{"column":"nope"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_api_error(&json, 404, &format!("Column 'nope' not found in table '{table}'"));
    let (status, _) = gw.rest(Method::DELETE, &format!("{indexes}/{index}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_user_defined_types_are_created_read_updated_and_dropped() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let types = format!("/v2/schemas/keyspaces/{KEYSPACE}/types");
    let name = unique("udt");
    let body = json!({"name": name, "fields": [{"name": "street", "typeDefinition": "text"}]}).to_string();
    let (status, json) = gw.rest_json(Method::POST, &types, Some(&body)).await;
    assert_eq!((status, json), (StatusCode::CREATED, json!({"name": name})));
    let (status, json) = gw.rest_json(Method::POST, &types, Some(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "existing type: {json}");
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Bad request: ") && d.contains("already exists"))
    );
    let update = json!({"name": name, "addFields": [{"name": "zip", "typeDefinition": "int"}]}).to_string();
    let (status, _) = gw.rest(Method::PUT, &types, Some(&update)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) = gw.rest_json(Method::GET, &format!("{types}/{name}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["data"],
        json!({"name": name, "keyspace": KEYSPACE, "fields": [
            {"name": "street", "typeDefinition": "text"}, {"name": "zip", "typeDefinition": "int"}
        ]})
    );
    let (status, _) = gw.rest(Method::DELETE, &format!("{types}/{name}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, json) = gw.rest_json(Method::GET, &format!("{types}/{name}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_api_error(
        &json,
        404,
        &format!("No definition found for UDT '{name}' (keyspace '{KEYSPACE}')"),
    );
}

// ---------------------------------------------------------------------------------------------
// §2.2 Rows
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_add_row_is_201_and_echoes_the_body_verbatim() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let body = r#"{"id":"a",  "seq":1, "name":"Ann"}"#;
    let (status, text) = gw.rest(Method::POST, &rows_path(&table), Some(body)).await;
    assert_eq!((status, text.as_str()), (StatusCode::CREATED, body));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_get_by_primary_key_returns_the_rows_envelope() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    add_row(
        &gw,
        &table,
        json!({"id": "a", "seq": 1, "name": "Ann", "tags": ["x"], "attrs": {"k": 1}}),
    )
    .await;
    let (status, text) = gw.rest(Method::GET, &format!("{}/a/1", rows_path(&table)), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text,
        r#"{"count":1,"data":[{"id":"a","seq":1,"attrs":{"k":1},"name":"Ann","tags":["x"]}]}"#
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_get_by_partition_key_prefix_returns_every_clustering_row() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    for seq in 1..=3 {
        add_row(&gw, &table, json!({"id": "p", "seq": seq})).await;
    }
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/p", rows_path(&table)), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["count"], json!(3));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_where_supports_eq_gt_lte_and_in() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    for seq in 1..=5 {
        add_row(&gw, &table, json!({"id": "w", "seq": seq})).await;
    }
    let search = |w: Value| {
        format!(
            "{}?where={}&fields=seq&raw=true",
            rows_path(&table),
            encode(&w.to_string())
        )
    };
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &search(json!({"id": {"$eq": "w"}, "seq": {"$gt": 1, "$lte": 3}})),
            None,
        )
        .await;
    assert_eq!(json, json!([{"seq": 2}, {"seq": 3}]));
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &search(json!({"id": {"$EQ": "w"}, "seq": {"$in": [1, 5]}})),
            None,
        )
        .await;
    assert_eq!(json, json!([{"seq": 1}, {"seq": 5}]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_where_supports_contains_contains_key_and_contains_entry_on_indexed_collections() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let indexes = format!("/v2/schemas/keyspaces/{KEYSPACE}/tables/{table}/indexes");
    for (column, kind) in [("tags", "VALUES"), ("attrs", "KEYS"), ("attrs", "ENTRIES")] {
        let body = json!({"column": column, "name": format!("{table}_{column}_{kind}"), "kind": kind}).to_string();
        let (status, text) = gw.rest(Method::POST, &indexes, Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    add_row(
        &gw,
        &table,
        json!({"id": "c", "seq": 1, "tags": ["red"], "attrs": {"size": 3}}),
    )
    .await;
    add_row(
        &gw,
        &table,
        json!({"id": "c", "seq": 2, "tags": ["blue"], "attrs": {"weight": 4}}),
    )
    .await;
    let search = |w: Value| {
        format!(
            "{}?where={}&fields=seq&raw=true",
            rows_path(&table),
            encode(&w.to_string())
        )
    };
    let (status, json) = gw
        .rest_json(Method::GET, &search(json!({"tags": {"$contains": "red"}})), None)
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!([{"seq": 1}])));
    let (_, json) = gw
        .rest_json(Method::GET, &search(json!({"attrs": {"$containsKey": "weight"}})), None)
        .await;
    assert_eq!(json, json!([{"seq": 2}]));
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &search(json!({"attrs": {"$containsEntry": {"key": "size", "value": 3}}})),
            None,
        )
        .await;
    assert_eq!(json, json!([{"seq": 1}]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_where_errors_are_400_with_stargates_descriptions() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, json) = gw.rest_json(Method::GET, &rows_path(&table), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, "Request invalid: 'where' must be provided.");
    let search = |w: &str| format!("{}?where={}", rows_path(&table), encode(w));
    let (status, json) = gw.rest_json(Method::GET, &search(r#"{"id":{"$ne":"a"}}"#), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        "Invalid 'where' parameter, problem: Operation $ne is not supported.",
    );
    let (status, json) = gw.rest_json(Method::GET, &search("{not json"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Invalid 'where' parameter, problem: Input provided is not valid json."))
    );
    let (status, json) = gw.rest_json(Method::GET, &search(r#"{"nope":{"$eq":1}}"#), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.contains("Unknown field name 'nope'")),
        "{json}"
    );
    let (status, json) = gw.rest_json(Method::GET, &search(r#"{"id":{"$in":[]}}"#), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        "Invalid 'where' parameter, problem: Value entry for field 'id', operation $in must be a non-empty array",
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_where_on_a_non_key_column_is_400_invalid_argument_needing_filtering() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let path = format!("{}?where={}", rows_path(&table), encode(r#"{"name":{"$eq":"Ann"}}"#));
    let (status, json) = gw.rest_json(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["grpcStatus"], json!("INVALID_ARGUMENT"));
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.contains("ALLOW FILTERING")),
        "{json}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_fields_selects_the_named_columns_in_order() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    add_row(&gw, &table, json!({"id": "f", "seq": 1, "name": "Fay"})).await;
    let (_, text) = gw
        .rest(
            Method::GET,
            &format!("{}/f/1?fields=name,%20id,,", rows_path(&table)),
            None,
        )
        .await;
    assert_eq!(text, r#"{"count":1,"data":[{"name":"Fay","id":"f"}]}"#);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_page_size_and_page_state_walk_every_row_once() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    for seq in 0..7 {
        add_row(&gw, &table, json!({"id": "pg", "seq": seq})).await;
    }
    let mut seen = Vec::new();
    let mut state: Option<String> = None;
    for _ in 0..10 {
        let mut path = format!("{}/rows?page-size=3&fields=seq", rows_path(&table));
        if let Some(state) = &state {
            path.push_str(&format!("&page-state={}", encode(state)));
        }
        let (status, json) = gw.rest_json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let rows = json["data"].as_array().expect("rows").clone();
        assert_eq!(json["count"], json!(rows.len()));
        seen.extend(rows.iter().map(|r| r["seq"].as_i64().expect("seq")));
        match json.get("pageState").and_then(Value::as_str) {
            Some(next) => state = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_bad_page_state_is_500_on_rows_and_400_on_a_key_path() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}/rows?page-state=not-base64", rows_path(&table)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_api_error(&json, 500, "Illegal base64 character 2d");
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}/a?page-state=not-base64", rows_path(&table)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        "Invalid path for row to find, problem: Illegal base64 character 2d",
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_sort_desc_orders_descending_and_only_lowercase_desc_counts() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    for seq in 1..=3 {
        add_row(&gw, &table, json!({"id": "s", "seq": seq})).await;
    }
    let path = |order: &str| {
        format!(
            "{}/s?fields=seq&raw=true&sort={}",
            rows_path(&table),
            encode(&json!({"seq": order}).to_string())
        )
    };
    let (_, json) = gw.rest_json(Method::GET, &path("desc"), None).await;
    assert_eq!(json, json!([{"seq": 3}, {"seq": 2}, {"seq": 1}]));
    let (_, json) = gw.rest_json(Method::GET, &path("DESC"), None).await;
    assert_eq!(json, json!([{"seq": 1}, {"seq": 2}, {"seq": 3}]));
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/s?sort=nope", rows_path(&table)), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json["description"].as_str().is_some_and(|d| {
        d.starts_with("Invalid 'sort' parameter, problem: Invalid 'sort' argument, not valid JSON (nope)")
    }));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_put_and_patch_update_columns_and_answer_the_wrapped_body() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    add_row(&gw, &table, json!({"id": "u", "seq": 1, "name": "old"})).await;
    let key = format!("{}/u/1", rows_path(&table));
    let (status, json) = gw.rest_json(Method::PUT, &key, Some(r#"{"name":"put"}"#)).await;
    assert_eq!((status, json), (StatusCode::OK, json!({"data": {"name": "put"}})));
    let (status, json) = gw
        .rest_json(Method::PATCH, &format!("{key}?raw=true"), Some(r#"{"name":"patched"}"#))
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"name": "patched"})));
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{key}?fields=name&raw=true"), None)
        .await;
    assert_eq!(json, json!([{"name": "patched"}]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_delete_row_is_204_and_the_row_is_gone() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    add_row(&gw, &table, json!({"id": "d", "seq": 1})).await;
    let (status, body) = gw
        .rest(Method::DELETE, &format!("{}/d/1", rows_path(&table)), None)
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/d", rows_path(&table)), None)
        .await;
    assert_eq!(json, json!({"count": 0, "data": []}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_counters_are_incremented_by_put_and_render_as_strings() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("counters");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "text"}, {"name": "hits", "typeDefinition": "counter"}]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let key = format!("{}/x", rows_path(&table));
    for increment in [r#"{"hits":"+1"}"#, r#"{"hits":1}"#] {
        let (status, text) = gw.rest(Method::PUT, &key, Some(increment)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (_, json) = gw.rest_json(Method::GET, &format!("{key}?raw=true"), None).await;
    assert_eq!(json, json!([{"id": "x", "hits": "2"}]));
    let (status, _) = gw
        .rest(Method::POST, &rows_path(&table), Some(r#"{"id":"y","hits":1}"#))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "INSERT on a counter table is invalid CQL"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_rows_of_a_missing_table_or_keyspace_are_400_not_found() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let (status, json) = gw
        .rest_json(Method::POST, &rows_path("no_such_table"), Some(r#"{"id":"a"}"#))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        &format!("Table 'no_such_table' not found (in keyspace '{KEYSPACE}')"),
    );
    let (status, json) = gw
        .rest_json(Method::GET, "/v2/keyspaces/no_such_keyspace_w/t/a", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(&json, 400, "Keyspace 'no_such_keyspace_w' not found");
    // `/rows` skips the schema lookup: Cassandra's own message comes back.
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/rows", rows_path("no_such_table")), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["grpcStatus"], json!("INVALID_ARGUMENT"));
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.contains("no_such_table")),
        "{json}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_invalid_json_body_is_400_invalid_json_payload() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, json) = gw.rest_json(Method::POST, &rows_path(&table), Some("{oops")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Invalid JSON payload: ")),
        "{json}"
    );
    let (status, json) = gw
        .rest_json(Method::PUT, &format!("{}/a/1", rows_path(&table)), Some("[1]"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Invalid JSON payload: ")),
        "{json}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_unknown_column_in_a_body_is_400_unknown_field_name() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, json) = gw
        .rest_json(Method::POST, &rows_path(&table), Some(r#"{"id":"a","seq":1,"nope":1}"#))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let description = json["description"].as_str().expect("description");
    assert!(
        description.starts_with(&format!(
            "Invalid path for row to create, problem: Unknown field name 'nope' (table '{table}')"
        )),
        "{description}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_key_path_errors_are_400_invalid_path_for_row() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let table = unique("uuids");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "uuid"}, {"name": "v", "typeDefinition": "text"}]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/not-really-uuid", rows_path(&table)), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let description = json["description"].as_str().expect("description");
    assert!(
        description.starts_with("Invalid path for row to find, problem: "),
        "{description}"
    );
    assert!(
        description.contains("Invalid String value ('not-really-uuid')"),
        "{description}"
    );
    let id = uuid::Uuid::new_v4();
    let (status, json) = gw
        .rest_json(Method::DELETE, &format!("{}/{id}/extra", rows_path(&table)), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_api_error(
        &json,
        400,
        "Invalid path for row to delete, problem: Number of key values provided (2) exceeds number of partition keys (1) and clustering keys (0)",
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_values_of_every_cql_type_render_as_stargate_json() {
    let gw = TestGateway::start().await;
    gw.ensure_keyspace(KEYSPACE).await;
    let udt = unique("addr");
    let body = json!({"name": udt, "fields": [{"name": "street", "typeDefinition": "text"}, {"name": "zip", "typeDefinition": "int"}]});
    let (status, text) = gw
        .rest(
            Method::POST,
            &format!("/v2/schemas/keyspaces/{KEYSPACE}/types"),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let table = unique("types");
    let columns = [
        ("id", "int"),
        ("a_ascii", "ascii"),
        ("a_bigint", "bigint"),
        ("a_blob", "blob"),
        ("a_boolean", "boolean"),
        ("a_date", "date"),
        ("a_decimal", "decimal"),
        ("a_double", "double"),
        ("a_duration", "duration"),
        ("a_float", "float"),
        ("a_inet", "inet"),
        ("a_list", "list<int>"),
        ("a_map", "map<int, text>"),
        ("a_set", "set<text>"),
        ("a_smallint", "smallint"),
        ("a_time", "time"),
        ("a_timestamp", "timestamp"),
        ("a_timeuuid", "timeuuid"),
        ("a_tinyint", "tinyint"),
        ("a_tuple", "tuple<int, boolean, text>"),
        ("a_udt", &format!("frozen<{udt}>")),
        ("a_uuid", "uuid"),
        ("a_varint", "varint"),
    ];
    let definitions: Vec<Value> = columns
        .iter()
        .map(|(n, t)| json!({"name": n, "typeDefinition": t}))
        .collect();
    let body = json!({"name": table, "primaryKey": {"partitionKey": ["id"]}, "columnDefinitions": definitions});
    gw.create_table(KEYSPACE, &body.to_string()).await;
    let row = json!({
        "id": 1,
        "a_ascii": "abc",
        "a_bigint": 9_007_199_254_740_993_i64,
        "a_blob": "AQID",
        "a_boolean": "true",
        "a_date": "2021-04-23",
        "a_decimal": 1.10,
        "a_double": 2.5,
        "a_duration": "2w",
        "a_float": 1.5,
        "a_inet": "127.0.0.1",
        "a_list": "[1, 2]",
        "a_map": "{1: 'one'}",
        "a_set": ["x", "y"],
        "a_smallint": 7,
        "a_time": "12:30:05.5",
        "a_timestamp": "2021-04-23T20:42:22.139+02:00",
        "a_timeuuid": "d2177dd0-eaa2-11de-a572-001b779c76e3",
        "a_tinyint": "8",
        "a_tuple": [1, true, "x"],
        "a_udt": {"street": "Main", "zip": 123},
        "a_uuid": "2dd5d9c0-5c42-4b70-9a1f-58b3b5a0c4a1",
        "a_varint": "123456789012345678901234567890"
    });
    add_row(&gw, &table, row).await;
    let (status, text) = gw
        .rest(Method::GET, &format!("{}/1?raw=true", rows_path(&table)), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains(r#""a_varint":123456789012345678901234567890"#),
        "varint stays exact: {text}"
    );
    assert!(
        text.contains(r#""a_bigint":9007199254740993"#),
        "bigint stays exact: {text}"
    );
    let json = parse(&text);
    let got = &json[0];
    assert_eq!(got["a_ascii"], json!("abc"));
    assert_eq!(got["a_blob"], json!("AQID"));
    assert_eq!(got["a_boolean"], json!(true));
    assert_eq!(got["a_date"], json!("2021-04-23"));
    assert_eq!(got["a_decimal"].as_f64(), Some(1.1));
    assert_eq!(got["a_duration"], json!("14d"));
    assert_eq!(got["a_inet"], json!("127.0.0.1"));
    assert_eq!(got["a_list"], json!([1, 2]));
    assert_eq!(got["a_map"], json!({"1": "one"}));
    assert_eq!(got["a_set"], json!(["x", "y"]));
    assert_eq!(got["a_time"], json!("12:30:05.5"));
    assert_eq!(got["a_timestamp"], json!("2021-04-23T18:42:22.139Z"));
    assert_eq!(got["a_timeuuid"], json!("d2177dd0-eaa2-11de-a572-001b779c76e3"));
    assert_eq!(got["a_tinyint"], json!(8));
    assert_eq!(got["a_tuple"], json!([1, true, "x"]));
    assert_eq!(got["a_udt"], json!({"street": "Main", "zip": 123}));
    assert_eq!(got["a_uuid"], json!("2dd5d9c0-5c42-4b70-9a1f-58b3b5a0c4a1"));
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}/1?raw=true&fields=a_map&compactMapData=false", rows_path(&table)),
            None,
        )
        .await;
    assert_eq!(json, json!([{"a_map": [{"key": 1, "value": "one"}]}]));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_cql_endpoint_is_404_unless_enabled() {
    let gw = TestGateway::start().await;
    let (status, _) = gw
        .rest(Method::POST, "/v2/cql", Some("SELECT key FROM system.local"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
    let gw = TestGateway::start_with(|mut config| {
        config.rest_cql_enabled = true;
        config
    })
    .await;
    let (status, text) = gw
        .rest(Method::POST, "/v2/cql", Some("SELECT key FROM system.local"))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, r#"{"count":1,"data":[{"key":"local"}]}"#)
    );
    let (status, json) = gw.rest_json(Method::POST, "/v2/cql", Some("SELsECT")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["description"].as_str().is_some_and(|d| d.starts_with(
            "Invalid argument for gRPC operation (Status.Code.INVALID_ARGUMENT->400): INVALID_ARGUMENT: line 1:0"
        )),
        "{json}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn rest_rows_are_served_under_astras_prefix() {
    let gw = TestGateway::start().await;
    let table = rows_table(&gw).await;
    let (status, _) = gw
        .rest(
            Method::POST,
            &format!("/api/rest{}", rows_path(&table)),
            Some(r#"{"id":"astra","seq":1}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &format!("/api/rest{}/astra?raw=true&fields=id", rows_path(&table)),
            None,
        )
        .await;
    assert_eq!(json, json!([{"id": "astra"}]));
}

// ---------------------------------------------------------------------------------------------
// astra-local serve
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn serve_configures_the_gateway_from_the_stacks_files() {
    gateway_support::install_crypto();
    let dir = std::env::var("ASTRA_LOCAL_DIR").expect("ASTRA_LOCAL_DIR (from `scripts/astra-local env`)");
    let paths = astra_local::state::Paths::new(std::path::Path::new(&dir));
    let config = astra_local::gateway::config_from_stack(&paths).expect("stack.json and secrets.json");
    assert_eq!(config.rest_addr.port(), 8082, "Stargate's REST port");
    assert_eq!(config.username, "cassandra");
    let gateway = astra_local::gateway::Gateway::bind(config.with_any_ports())
        .await
        .expect("the stack's superuser logs in");
    let rest = gateway.local_addrs().rest;
    let task = tokio::spawn(gateway.run());
    let env = gateway_support::StackEnv::load();
    let response = reqwest::Client::new()
        .get(format!("http://{rest}/v2/schemas/keyspaces/system"))
        .header("X-Cassandra-Token", env.application_token)
        .send()
        .await
        .expect("REST answers");
    assert_eq!(response.status(), StatusCode::OK);
    task.abort();
}
