//! Conformance of the gateway's Document API v2 with Stargate (reference §3), one test per
//! documented behaviour, named after it; plus a document found by `where` after a restart of the
//! gateway (documents live in Cassandra). They run against the local stack's Cassandra.

mod gateway_support;

use gateway_support::{TestGateway, encode, parse, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The namespace most tests share (created on first use).
const NAMESPACE: &str = "gateway_documents";

async fn ensure_namespace(gw: &TestGateway) {
    let (status, text) = gw
        .rest(
            Method::POST,
            "/v2/schemas/namespaces",
            Some(&json!({"name": NAMESPACE}).to_string()),
        )
        .await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::CONFLICT,
        "{status}: {text}"
    );
}

/// A fresh collection in the shared namespace (created by the first document write).
async fn collection(gw: &TestGateway) -> String {
    ensure_namespace(gw).await;
    unique("coll")
}

fn docs(collection: &str) -> String {
    format!("/v2/namespaces/{NAMESPACE}/collections/{collection}")
}

async fn put_doc(gw: &TestGateway, collection: &str, id: &str, doc: Value) {
    let (status, text) = gw
        .rest(
            Method::PUT,
            &format!("{}/{id}", docs(collection)),
            Some(&doc.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(parse(&text), json!({ "documentId": id }));
}

fn description(body: &Value) -> &str {
    body["description"].as_str().unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_without_token_is_401_missing_token() {
    let gw = TestGateway::start().await;
    let (status, text) = gw.rest_with(Method::GET, "/v2/schemas/namespaces", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        text.contains("Missing token, expecting one in the X-Cassandra-Token header."),
        "{text}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_namespace_create_is_201_with_location_then_409_when_it_exists() {
    let gw = TestGateway::start().await;
    let name = unique("ns");
    let body = json!({"name": name}).to_string();
    let response = gw
        .http
        .post(gw.rest_url("/v2/schemas/namespaces"))
        .header("X-Cassandra-Token", &gw.env.application_token)
        .body(body.clone())
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        location.ends_with(&format!("/v2/schemas/namespaces/{name}")),
        "{location}"
    );
    assert_eq!(
        parse(&response.text().await.expect("body")),
        json!({"name": name, "replicas": 1})
    );
    let (status, json) = gw.rest_json(Method::POST, "/v2/schemas/namespaces", Some(&body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        description(&json),
        format!("Create failed: namespace {name} already exists.")
    );
    let (status, json) = gw
        .rest_json(Method::GET, &format!("/v2/schemas/namespaces/{name}"), None)
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::OK, json!({"data": {"name": name, "replicas": 1}}))
    );
    let (status, _) = gw
        .rest(Method::DELETE, &format!("/v2/schemas/namespaces/{name}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_missing_namespace_is_404_and_a_nameless_one_is_400() {
    let gw = TestGateway::start().await;
    let (status, json) = gw
        .rest_json(Method::GET, "/v2/schemas/namespaces/no_such_ns", None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::NOT_FOUND, "Namespace no_such_ns does not exist.")
    );
    let (status, json) = gw
        .rest_json(Method::DELETE, "/v2/schemas/namespaces/no_such_ns", None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::NOT_FOUND, "Namespace no_such_ns does not exist.")
    );
    let (status, json) = gw
        .rest_json(Method::POST, "/v2/schemas/namespaces", Some(r#"{"replicas":1}"#))
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "Request invalid: `name` is required to create a namespace."
        )
    );
    let (status, json) = gw
        .rest_json(Method::GET, "/v2/namespaces/no_such_ns/collections", None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::NOT_FOUND,
            "Unknown namespace no_such_ns, you must create it first."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_collections_are_created_empty_listed_and_deleted() {
    let gw = TestGateway::start().await;
    ensure_namespace(&gw).await;
    let name = unique("coll");
    let path = format!("/v2/namespaces/{NAMESPACE}/collections");
    let body = json!({"name": name}).to_string();
    let (status, text) = gw.rest(Method::POST, &path, Some(&body)).await;
    assert_eq!((status, text.as_str()), (StatusCode::CREATED, ""));
    let (status, json) = gw.rest_json(Method::POST, &path, Some(&body)).await;
    assert_eq!(
        (status, description(&json).to_string()),
        (
            StatusCode::CONFLICT,
            format!("Create failed: collection {name} already exists.")
        )
    );
    let (status, json) = gw.rest_json(Method::GET, &format!("{path}?raw=true"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        json.as_array()
            .expect("list")
            .contains(&json!({"name": name, "upgradeAvailable": false})),
        "{json}"
    );
    let (status, json) = gw.rest_json(Method::POST, &path, Some(r#"{"name":"bad-name"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        description(&json),
        "Could not create collection bad-name, it has invalid characters. Valid characters are alphanumeric and underscores."
    );
    let (status, _) = gw.rest(Method::DELETE, &format!("{path}/{name}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, json) = gw.rest_json(Method::DELETE, &format!("{path}/{name}"), None).await;
    assert_eq!(
        (status, description(&json).to_string()),
        (StatusCode::NOT_FOUND, format!("Collection '{name}' not found."))
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_a_table_that_is_not_a_collection_is_400() {
    let gw = TestGateway::start().await;
    ensure_namespace(&gw).await;
    let table = unique("plain");
    let body = json!({"name": table, "primaryKey": {"partitionKey": ["id"]}, "columnDefinitions": [{"name": "id", "typeDefinition": "int"}]});
    gw.create_table(NAMESPACE, &body.to_string()).await;
    let (status, json) = gw.rest_json(Method::GET, &format!("{}/x", docs(&table)), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        description(&json),
        format!(
            "The database table {NAMESPACE}.{table} is not a Documents collection. Accessing arbitrary tables via the Documents API is not permitted."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_create_document_is_201_with_a_generated_id_and_location() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    let response = gw
        .http
        .post(gw.rest_url(&docs(&coll)))
        .header("X-Cassandra-Token", &gw.env.application_token)
        .body(r#"{"name":"Ann"}"#)
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let id = parse(&response.text().await.expect("body"))["documentId"]
        .as_str()
        .expect("documentId")
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert!(location.ends_with(&format!("/{coll}/{id}")), "{location}");
    let (status, json) = gw
        .rest_json(
            Method::POST,
            "/v2/namespaces/no_such_ns/collections/c",
            Some(r#"{"a":1}"#),
        )
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::NOT_FOUND,
            "Unknown namespace no_such_ns, you must create it first."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_get_document_sorts_keys_prints_integral_numbers_as_integers_and_honours_raw() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "d1", json!({"b": 2.0, "a": {"z": 1.5, "y": [3, "x"]}})).await;
    let (status, text) = gw.rest(Method::GET, &format!("{}/d1", docs(&coll)), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, r#"{"documentId":"d1","data":{"a":{"y":[3,"x"],"z":1.5},"b":2}}"#);
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/d1/a/y/[1]?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!("x"));
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}/d1?fields={}", docs(&coll), encode(r#"["a.z"]"#)),
            None,
        )
        .await;
    assert_eq!(json["data"], json!({"a": {"z": 1.5}}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_missing_document_or_path_is_404_with_stargates_description() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "d1", json!({"a": 1})).await;
    let (status, json) = gw.rest_json(Method::GET, &format!("{}/nope", docs(&coll)), None).await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::NOT_FOUND, "A document with the id nope does not exist.")
    );
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/d1/a/b", docs(&coll)), None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::NOT_FOUND,
            "A path [a, b] in a document with the id d1, or the document itself, does not exist."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_put_replaces_the_whole_document_or_a_sub_path() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "d", json!({"a": 1, "b": 2})).await;
    put_doc(&gw, &coll, "d", json!({"c": 3})).await;
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/d?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!({"c": 3}), "full replace");
    let (status, _) = gw
        .rest(Method::PUT, &format!("{}/d/c", docs(&coll)), Some(r#"{"deep":true}"#))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/d?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!({"c": {"deep": true}}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_patch_replaces_each_top_level_key_and_keeps_the_others() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "p", json!({"keep": 1, "swap": {"old": true}})).await;
    let (status, json) = gw
        .rest_json(
            Method::PATCH,
            &format!("{}/p", docs(&coll)),
            Some(r#"{"swap":{"new":true}}"#),
        )
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"documentId": "p"})));
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/p?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!({"keep": 1, "swap": {"new": true}}));
    let (status, json) = gw
        .rest_json(Method::PATCH, &format!("{}/p", docs(&coll)), Some("[1]"))
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "A patch operation must be done with a JSON object, not an array."
        )
    );
    let (status, json) = gw
        .rest_json(Method::PATCH, &format!("{}/p", docs(&coll)), Some("{}"))
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "A patch operation must be done with a non-empty JSON object."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_invalid_bodies_are_400_with_stargates_descriptions() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    for (body, expected) in [
        ("", "Request invalid: payload must not be empty."),
        ("{oops", "HTTP 400 Bad Request"),
        (
            "1",
            "Updating a key with just a JSON primitive is not allowed. Hint: update the parent path with a defined object instead.",
        ),
        (
            "{}",
            "Updating a key with just an empty object or an empty array is not allowed. Hint: update the parent path with a defined object instead.",
        ),
    ] {
        let (status, json) = gw
            .rest_json(Method::PUT, &format!("{}/x", docs(&coll)), Some(body))
            .await;
        assert_eq!(
            (status, description(&json)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    let (status, json) = gw
        .rest_json(Method::PUT, &format!("{}/x", docs(&coll)), Some(r#"{"a.b":1}"#))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(description(&json).starts_with(
        "Array paths contained in square brackets, periods, single quotes, and backslash are not allowed"
    ));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_delete_is_204_even_for_a_missing_document() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "gone", json!({"a": {"b": 1, "c": 2}})).await;
    let (status, _) = gw
        .rest(Method::DELETE, &format!("{}/gone/a/b", docs(&coll)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/gone?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!({"a": {"c": 2}}));
    for _ in 0..2 {
        let (status, _) = gw.rest(Method::DELETE, &format!("{}/gone", docs(&coll)), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = gw.rest(Method::GET, &format!("{}/gone", docs(&coll)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_search_filters_with_where_prunes_with_fields_and_pages_by_page_state() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    for n in 0..7 {
        put_doc(
            &gw,
            &coll,
            &format!("doc{n}"),
            json!({"n": n, "kind": if n % 2 == 0 { "even" } else { "odd" }, "extra": "x"}),
        )
        .await;
    }
    let where_even = encode(r#"{"kind":{"$eq":"even"},"n":{"$gte":0}}"#);
    let mut found = Vec::new();
    let mut state: Option<String> = None;
    for _ in 0..10 {
        let mut path = format!(
            "{}?where={where_even}&page-size=2&fields={}",
            docs(&coll),
            encode(r#"["n"]"#)
        );
        if let Some(s) = &state {
            path.push_str(&format!("&page-state={}", encode(s)));
        }
        let (status, json) = gw.rest_json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        for (id, doc) in json["data"].as_object().expect("data keyed by id") {
            assert_eq!(doc, &json!({"n": doc["n"]}), "fields prune {id}");
            found.push(doc["n"].as_i64().expect("n"));
        }
        match json.get("pageState").and_then(Value::as_str) {
            Some(next) => state = Some(next.to_string()),
            None => break,
        }
    }
    found.sort();
    assert_eq!(found, vec![0, 2, 4, 6]);
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}?where={}", docs(&coll), encode(r#"{"n":{"$gt":100}}"#)),
            None,
        )
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"data": {}})));
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!(
                "{}?where={}",
                docs(&coll),
                encode(r#"{"n":{"$in":[1,3]},"$or":[{"kind":{"$eq":"odd"}}]}"#)
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"].as_object().map(|d| d.len()), Some(2));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_search_errors_are_400() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "d", json!({"a": 1})).await;
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}?page-size=21", docs(&coll)), None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "Request invalid: the max number of documents to return is 20."
        )
    );
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}?where=nope", docs(&coll)), None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "The `where` parameter expects a valid JSON object representing search criteria."
        )
    );
    let (status, json) = gw
        .rest_json(
            Method::GET,
            &format!("{}?where={}", docs(&coll), encode(r#"{"a":{"$regex":"x"}}"#)),
            None,
        )
        .await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::BAD_REQUEST, "Operation '$regex' is not supported.")
    );
    let (status, _) = gw.rest(Method::GET, &format!("{}?fields=a", docs(&coll)), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_functions_push_and_pop_edit_arrays() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "f", json!({"list": [1]})).await;
    let function = format!("{}/f/list/function", docs(&coll));
    let (status, json) = gw
        .rest_json(Method::POST, &function, Some(r#"{"operation":"$push","value":2}"#))
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::OK, json!({"documentId": "f", "data": [1, 2]}))
    );
    let (status, json) = gw
        .rest_json(
            Method::POST,
            &format!("{function}?raw=true"),
            Some(r#"{"operation":"$pop"}"#),
        )
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!(2)));
    gw.rest(Method::POST, &function, Some(r#"{"operation":"$pop"}"#)).await;
    let (status, json) = gw
        .rest_json(Method::POST, &function, Some(r#"{"operation":"$pop"}"#))
        .await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::BAD_REQUEST, "No data available to pop.")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_json_schema_is_stored_with_the_collection() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "s", json!({"a": 1})).await;
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/json-schema", docs(&coll)), None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (StatusCode::NOT_FOUND, "The JSON schema is not set for the collection.")
    );
    let schema = json!({"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object"});
    let (status, json) = gw
        .rest_json(
            Method::PUT,
            &format!("{}/json-schema", docs(&coll)),
            Some(&schema.to_string()),
        )
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({ "schema": schema })));
    let (status, json) = gw
        .rest_json(Method::GET, &format!("{}/json-schema", docs(&coll)), None)
        .await;
    assert_eq!((status, json), (StatusCode::OK, json!({ "schema": schema })));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_batch_writes_with_an_id_path_answer_202_with_the_ids() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    let body = json!([{"user": {"id": "u1"}, "n": 1}, {"user": {"id": "u2"}, "n": 2}]).to_string();
    let (status, json) = gw
        .rest_json(
            Method::POST,
            &format!("{}/batch?id-path=user.id", docs(&coll)),
            Some(&body),
        )
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::ACCEPTED, json!({"documentIds": ["u1", "u2"]}))
    );
    let (_, json) = gw
        .rest_json(Method::GET, &format!("{}/u2/n?raw=true", docs(&coll)), None)
        .await;
    assert_eq!(json, json!(2));
    let (status, json) = gw
        .rest_json(Method::POST, &format!("{}/batch", docs(&coll)), Some(r#"{"a":1}"#))
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "The payload for the batched document write must be a JSON array."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_document_is_found_by_where_after_a_gateway_restart() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "persisted", json!({"city": "Lyon"})).await;
    gw.stop().await;
    let restarted = TestGateway::start().await;
    let path = format!(
        "/api/rest{}?where={}",
        docs(&coll),
        encode(r#"{"city":{"$eq":"Lyon"}}"#)
    );
    let (status, json) = restarted.rest_json(Method::GET, &path, None).await;
    assert_eq!(
        (status, json),
        (StatusCode::OK, json!({"data": {"persisted": {"city": "Lyon"}}}))
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_upgrade_is_always_400() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    put_doc(&gw, &coll, "u", json!({"a": 1})).await;
    let (status, json) = gw
        .rest_json(
            Method::POST,
            &format!("{}/upgrade", docs(&coll)),
            Some(r#"{"upgradeType":"SAI_INDEX_UPGRADE"}"#),
        )
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "The collection cannot be upgraded in given manner."
        )
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn docs_sub_document_search_rebuilds_matches_from_the_root_or_answers_204() {
    let gw = TestGateway::start().await;
    let coll = collection(&gw).await;
    let doc = json!({"products": {"food": {"Apple": {"name": "apple", "price": 0.99}, "Pear": {"name": "pear", "price": 0.89}}}});
    put_doc(&gw, &coll, "shop", doc).await;
    let path = |w: &str, extra: &str| format!("{}/shop?raw=true&where={}{extra}", docs(&coll), encode(w));
    let (status, json) = gw
        .rest_json(Method::GET, &path(r#"{"products.food.*.price":{"$lt":0.9}}"#, ""), None)
        .await;
    assert_eq!(
        (status, json),
        (
            StatusCode::OK,
            json!([{"products": {"food": {"Pear": {"price": 0.89}}}}])
        )
    );
    let fields = format!("&fields={}", encode(r#"["name","price"]"#));
    let (_, json) = gw
        .rest_json(
            Method::GET,
            &path(r#"{"products.food.Apple.price":{"$eq":0.99}}"#, &fields),
            None,
        )
        .await;
    assert_eq!(
        json,
        json!([{"products": {"food": {"Apple": {"name": "apple", "price": 0.99}}}}])
    );
    let (status, text) = gw
        .rest(Method::GET, &path(r#"{"products.food.*.price":{"$gt":100}}"#, ""), None)
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
    let (status, json) = gw
        .rest_json(Method::GET, &path(r#"{"a":{"$eq":1},"b":{"$eq":2}}"#, ""), None)
        .await;
    assert_eq!(
        (status, description(&json)),
        (
            StatusCode::BAD_REQUEST,
            "Conditions across multiple fields are not yet supported. Found: 2."
        )
    );
}
