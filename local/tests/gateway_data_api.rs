//! Conformance of the gateway's Data API with the Data API's documented behaviour: one test per
//! command, operator and error code, against the local stack's Cassandra; plus documents and
//! collection options still there after a restart of the gateway (they live in Cassandra).

#![allow(clippy::unwrap_used)]

mod gateway_support;

use gateway_support::{TestGateway, parse, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The keyspace these tests use (created on first use, never dropped).
const KEYSPACE: &str = "gateway_data_api";

async fn ensure_keyspace(gw: &TestGateway) {
    gw.ensure_keyspace(KEYSPACE).await;
}

/// A POST of `body` to the Data API port's `path` with `token` (or none).
async fn raw(gw: &TestGateway, path: &str, body: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = gw
        .http
        .post(format!("http://{}{path}", gw.addrs.data_api))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Token", token);
    }
    let response = request.send().await.expect("the Data API answers");
    let status = response.status();
    (status, parse(&response.text().await.expect("a body")))
}

/// A command at Astra's path (`/api/json/v1/{keyspace}[/{collection}]`); asserts HTTP 200.
async fn command(gw: &TestGateway, collection: Option<&str>, body: Value) -> Value {
    let path = match collection {
        Some(c) => format!("/api/json/v1/{KEYSPACE}/{c}"),
        None => format!("/api/json/v1/{KEYSPACE}"),
    };
    let token = gw.env.application_token.clone();
    let (status, answer) = raw(gw, &path, &body.to_string(), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body} -> {answer}");
    answer
}

/// A document command; asserts it has no errors.
async fn ok(gw: &TestGateway, collection: &str, body: Value) -> Value {
    let answer = command(gw, Some(collection), body.clone()).await;
    assert!(answer.get("errors").is_none(), "{body} -> {answer}");
    answer
}

/// The first error's code (panics when there is none).
fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["errorCode"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {answer}"))
}

async fn expect_error(gw: &TestGateway, collection: &str, body: Value, code: &str) -> Value {
    let answer = command(gw, Some(collection), body.clone()).await;
    assert_eq!(error_code(&answer), code, "{body} -> {answer}");
    answer
}

/// A new collection with `options`.
async fn collection(gw: &TestGateway, options: Value) -> String {
    ensure_keyspace(gw).await;
    let name = unique("c");
    let answer = command(
        gw,
        None,
        json!({"createCollection": {"name": name, "options": options}}),
    )
    .await;
    assert_eq!(answer, json!({"status": {"ok": 1}}));
    name
}

async fn insert(gw: &TestGateway, collection: &str, documents: Value) {
    let answer = ok(
        gw,
        collection,
        json!({"insertMany": {"documents": documents, "options": {"ordered": true}}}),
    )
    .await;
    assert!(answer["status"]["insertedIds"].is_array(), "{answer}");
}

/// The `_id`s of `find`'s documents.
async fn find_ids(gw: &TestGateway, collection: &str, find: Value) -> Vec<Value> {
    let answer = ok(gw, collection, json!({ "find": find })).await;
    answer["data"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].clone())
        .collect()
}

// ------------------------------------------------------------------------------------------
// Transport: paths, tokens, command envelope
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_without_token_is_401_and_bad_token_is_unauthenticated_request() {
    let gw = TestGateway::start().await;
    let path = format!("/v1/{KEYSPACE}");
    let (status, body) = raw(&gw, &path, r#"{"findCollections":{}}"#, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["errors"][0]["message"],
        "Role unauthorized for operation: Missing token, expecting one in the Token header."
    );
    let (status, body) = raw(&gw, &path, r#"{"findCollections":{}}"#, Some("AstraCS:not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHENTICATED_REQUEST");
    assert_eq!(body["errors"][0]["message"], "UNAUTHENTICATED: Invalid token");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_serves_self_hosted_and_astra_paths_and_accepts_x_cassandra_token() {
    let gw = TestGateway::start().await;
    ensure_keyspace(&gw).await;
    let token = gw.env.application_token.clone();
    for path in [format!("/v1/{KEYSPACE}"), format!("/api/json/v1/{KEYSPACE}")] {
        let (status, body) = raw(&gw, &path, r#"{"findCollections":{}}"#, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body["status"]["collections"].is_array(), "{body}");
    }
    let response = gw
        .http
        .post(format!("http://{}/v1/{KEYSPACE}", gw.addrs.data_api))
        .header("X-Cassandra-Token", &token)
        .body(r#"{"findCollections":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_envelope_errors_not_json_unknown_command_unknown_keyspace() {
    let gw = TestGateway::start().await;
    ensure_keyspace(&gw).await;
    let token = gw.env.application_token.clone();
    let (status, body) = raw(&gw, &format!("/v1/{KEYSPACE}"), "{not json", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "command errors are HTTP 200");
    assert_eq!(error_code(&body), "INVALID_REQUEST_NOT_JSON");
    let body = command(&gw, None, json!({"dropEverything": {}})).await;
    assert_eq!(error_code(&body), "COMMAND_UNKNOWN");
    let error = &body["errors"][0];
    assert_eq!(error["family"], "REQUEST");
    assert!(error["id"].is_string() && error["title"].is_string(), "{error}");
    let (_, body) = raw(
        &gw,
        "/v1/no_such_keyspace_here",
        r#"{"findCollections":{}}"#,
        Some(&token),
    )
    .await;
    assert_eq!(error_code(&body), "KEYSPACE_DOES_NOT_EXIST");
    let (_, body) = raw(
        &gw,
        &format!("/v1/{KEYSPACE}/c"),
        r#"{"find":{}, "findOne":{}}"#,
        Some(&token),
    )
    .await;
    assert_eq!(error_code(&body), "INVALID_REQUEST_STRUCTURE_MISMATCH");
}

// ------------------------------------------------------------------------------------------
// Keyspace commands
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_create_find_delete_collection() {
    let gw = TestGateway::start().await;
    let plain = collection(&gw, json!({})).await;
    let vector = collection(&gw, json!({"vector": {"dimension": 4, "metric": "euclidean"}})).await;
    let names = command(&gw, None, json!({"findCollections": {}})).await;
    let names = names["status"]["collections"].as_array().unwrap();
    assert!(
        names.contains(&json!(plain)) && names.contains(&json!(vector)),
        "{names:?}"
    );
    let explained = command(&gw, None, json!({"findCollections": {"options": {"explain": true}}})).await;
    let entry = explained["status"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(vector))
        .cloned()
        .unwrap();
    assert_eq!(
        entry["options"],
        json!({"vector": {"dimension": 4, "metric": "euclidean", "sourceModel": "other"}})
    );

    // The same options again: ok; other options: EXISTING_COLLECTION_DIFFERENT_SETTINGS.
    let again = command(
        &gw,
        None,
        json!({"createCollection": {"name": vector, "options": {"vector": {"dimension": 4, "metric": "euclidean"}}}}),
    )
    .await;
    assert_eq!(again, json!({"status": {"ok": 1}}));
    let other = command(
        &gw,
        None,
        json!({"createCollection": {"name": vector, "options": {"vector": {"dimension": 5}}}}),
    )
    .await;
    assert_eq!(error_code(&other), "EXISTING_COLLECTION_DIFFERENT_SETTINGS");

    let deleted = command(&gw, None, json!({"deleteCollection": {"name": plain}})).await;
    assert_eq!(deleted, json!({"status": {"ok": 1}}));
    let names = command(&gw, None, json!({"findCollections": {}})).await;
    assert!(
        !names["status"]["collections"]
            .as_array()
            .unwrap()
            .contains(&json!(plain))
    );
    let gone = expect_error(&gw, &plain, json!({"findOne": {}}), "COLLECTION_NOT_EXIST").await;
    assert_eq!(
        gone["errors"][0]["message"],
        json!(format!("Collection does not exist, collection name: {plain}"))
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_create_collection_rejects_bad_names_and_options() {
    let gw = TestGateway::start().await;
    ensure_keyspace(&gw).await;
    let cases = [
        (json!({"name": "bad-name"}), "COMMAND_FIELD_INVALID"),
        (
            json!({"name": "c", "options": {"vector": {"dimension": 3, "metric": "manhattan"}}}),
            "VECTOR_SEARCH_INVALID_FUNCTION_NAME",
        ),
        (
            json!({"name": "c", "options": {"vector": {"dimension": 5000}}}),
            "VECTOR_SEARCH_TOO_BIG_VALUE",
        ),
        (
            json!({"name": "c", "options": {"vector": {}}}),
            "INVALID_CREATE_COLLECTION_OPTIONS",
        ),
        (
            json!({"name": "c", "options": {"defaultId": {"type": "serial"}}}),
            "INVALID_CREATE_COLLECTION_OPTIONS",
        ),
        (
            json!({"name": "c", "options": {"vector": {"dimension": 3, "sourceModel": "word2vec"}}}),
            "VECTOR_SEARCH_UNRECOGNIZED_SOURCE_MODEL_NAME",
        ),
    ];
    for (body, code) in cases {
        let answer = command(&gw, None, json!({ "createCollection": body })).await;
        assert_eq!(error_code(&answer), code, "{body}: {answer}");
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_vector_metric_defaults_to_the_source_models() {
    let gw = TestGateway::start().await;
    let cases = [
        (json!({"dimension": 3}), "cosine", "other"),
        (
            json!({"dimension": 3, "sourceModel": "openai-v3-small"}),
            "dot_product",
            "openai-v3-small",
        ),
        (
            json!({"dimension": 3, "sourceModel": "bert", "metric": "euclidean"}),
            "euclidean",
            "bert",
        ),
    ];
    for (vector, metric, model) in cases {
        let name = collection(&gw, json!({ "vector": vector })).await;
        let listed = command(&gw, None, json!({"findCollections": {"options": {"explain": true}}})).await;
        let entry = listed["status"]["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == json!(name))
            .cloned()
            .unwrap();
        assert_eq!(
            entry["options"]["vector"],
            json!({"dimension": 3, "metric": metric, "sourceModel": model}),
            "{vector}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Inserts and _id types
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_insert_one_generates_ids_and_refuses_duplicates() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let answer = ok(&gw, &c, json!({"insertOne": {"document": {"name": "a"}}})).await;
    let id = answer["status"]["insertedIds"][0].as_str().unwrap().to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "a generated _id is a UUID string: {id}"
    );
    let found = ok(&gw, &c, json!({"findOne": {"filter": {"_id": id}}})).await;
    assert_eq!(found["data"]["document"], json!({"_id": id, "name": "a"}));

    ok(&gw, &c, json!({"insertOne": {"document": {"_id": "x", "v": 1}}})).await;
    let dup = expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": "x", "v": 2}}}),
        "DOCUMENT_ALREADY_EXISTS",
    )
    .await;
    assert_eq!(dup["status"]["insertedIds"], json!([]));
    let kept = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "x"}}})).await;
    assert_eq!(kept["data"]["document"]["v"], json!(1), "the first document stays");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_concurrent_inserts_of_one_id_admit_exactly_one() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let attempts = (0..8).map(|i| {
        command(
            &gw,
            Some(&c),
            json!({"insertOne": {"document": {"_id": "same", "n": i}}}),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let inserted = answers.iter().filter(|a| a.get("errors").is_none()).count();
    assert_eq!(inserted, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|a| a.get("errors").is_some())
            .all(|a| error_code(a) == "DOCUMENT_ALREADY_EXISTS")
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_id_types_string_number_uuid_object_id_date() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let ids = [
        json!("s1"),
        json!(42),
        json!({"$uuid": "5d3e8b2a-1c4f-4a6b-9e7d-0123456789ab"}),
        json!({"$objectId": "6553f8a0e6b5a1b2c3d4e5f6"}),
        json!({"$date": 1700000000000_i64}),
        json!(true),
    ];
    for id in &ids {
        let answer = ok(&gw, &c, json!({"insertOne": {"document": {"_id": id, "k": "v"}}})).await;
        assert_eq!(answer["status"]["insertedIds"], json!([id]));
        let found = ok(&gw, &c, json!({"findOne": {"filter": {"_id": id}}})).await;
        assert_eq!(found["data"]["document"]["_id"], *id);
    }
    // 42 and 42.0 are the same _id; "42" is another.
    expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": 42.0}}}),
        "DOCUMENT_ALREADY_EXISTS",
    )
    .await;
    ok(&gw, &c, json!({"insertOne": {"document": {"_id": "42"}}})).await;
    expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": [1]}}}),
        "SHRED_BAD_DOCID_TYPE",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": {"$uuid": "nope"}}}}),
        "SHRED_BAD_EJSON_VALUE",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": {"$bad": 1}}}),
        "SHRED_DOC_KEY_NAME_VIOLATION",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"insertOne": {"document": [1]}}),
        "SHRED_BAD_DOCUMENT_TYPE",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_bad_documents_fields_and_tables_have_their_codes() {
    let gw = TestGateway::start().await;
    let v = collection(&gw, json!({"vector": {"dimension": 2}})).await;
    let empty = expect_error(
        &gw,
        &v,
        json!({"insertOne": {"document": {"_id": ""}}}),
        "SHRED_BAD_DOCID_EMPTY_STRING",
    )
    .await;
    assert_eq!(empty["errors"][0]["scope"], "DOCUMENT");
    expect_error(
        &gw,
        &v,
        json!({"insertOne": {"document": {"$vector": "text"}}}),
        "SHRED_BAD_DOCUMENT_VECTOR_TYPE",
    )
    .await;
    expect_error(
        &gw,
        &v,
        json!({"insertOne": {"document": {"$vector": []}}}),
        "SHRED_BAD_VECTOR_SIZE",
    )
    .await;
    expect_error(&gw, &v, json!({"find": {"filtr": {}}}), "INVALID_REQUEST_UNKNOWN_FIELD").await;
    expect_error(&gw, &v, json!({"find": {"sort": [1]}}), "INVALID_SORT_CLAUSE").await;
    assert_eq!(
        ok(&gw, &v, json!({"countDocuments": {}})).await,
        json!({"status": {"count": 0}}),
        "nothing was stored"
    );

    // A CQL table that is not a collection: document commands and createCollection refuse it.
    let table = unique("t");
    let body = json!({
        "name": table,
        "primaryKey": {"partitionKey": ["id"]},
        "columnDefinitions": [{"name": "id", "typeDefinition": "text"}]
    });
    gw.create_table(KEYSPACE, &body.to_string()).await;
    expect_error(
        &gw,
        &table,
        json!({"findOne": {}}),
        "EXISTING_TABLE_NOT_DATA_API_COLLECTION",
    )
    .await;
    let create = command(&gw, None, json!({"createCollection": {"name": table}})).await;
    assert_eq!(error_code(&create), "EXISTING_TABLE_NOT_DATA_API_COLLECTION");
    let listed = command(&gw, None, json!({"findCollections": {}})).await;
    assert!(
        !listed["status"]["collections"]
            .as_array()
            .unwrap()
            .contains(&json!(table)),
        "{listed}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_default_id_object_id_and_uuid() {
    let gw = TestGateway::start().await;
    // (type, the extended-JSON key of the generated _id, the UUID version when it is one)
    let kinds = [
        ("objectId", "$objectId", None),
        ("uuid", "$uuid", Some(4)),
        ("uuidv6", "$uuid", Some(6)),
        ("uuidv7", "$uuid", Some(7)),
    ];
    for (kind, key, version) in kinds {
        let c = collection(&gw, json!({"defaultId": {"type": kind}})).await;
        let answer = ok(&gw, &c, json!({"insertOne": {"document": {"a": 1}}})).await;
        let id = &answer["status"]["insertedIds"][0];
        let text = id[key].as_str().unwrap_or_else(|| panic!("{kind}: {answer}"));
        match version {
            Some(v) => assert_eq!(
                uuid::Uuid::parse_str(text).unwrap().get_version_num(),
                v,
                "{kind}: {text}"
            ),
            None => assert!(
                text.len() == 24 && text.chars().all(|c| c.is_ascii_hexdigit()),
                "{kind}: {text}"
            ),
        }
        let found = ok(&gw, &c, json!({"findOne": {"filter": {"_id": id}}})).await;
        assert_eq!(found["data"]["document"]["a"], json!(1));
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_insert_many_ordered_stops_unordered_continues() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    ok(&gw, &c, json!({"insertOne": {"document": {"_id": "b"}}})).await;
    let docs = json!([{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]);
    let ordered = command(
        &gw,
        Some(&c),
        json!({"insertMany": {"documents": docs, "options": {"ordered": true}}}),
    )
    .await;
    assert_eq!(ordered["status"]["insertedIds"], json!(["a"]));
    assert_eq!(error_code(&ordered), "DOCUMENT_ALREADY_EXISTS");
    assert_eq!(
        ordered["errors"][0]["message"],
        "Failed to insert document with _id b: Document already exists with the given _id"
    );
    let count = ok(&gw, &c, json!({"countDocuments": {}})).await;
    assert_eq!(count["status"]["count"], json!(2), "c was not inserted");

    let docs = json!([{"_id": "a"}, {"_id": "d"}, {"_id": "c"}]);
    let unordered = command(&gw, Some(&c), json!({"insertMany": {"documents": docs}})).await;
    assert_eq!(unordered["status"]["insertedIds"], json!(["d", "c"]));
    assert_eq!(unordered["errors"].as_array().unwrap().len(), 1);

    let responses = command(
        &gw,
        Some(&c),
        json!({"insertMany": {"documents": [{"_id": "e"}, {"_id": "a"}], "options": {"returnDocumentResponses": true}}}),
    )
    .await;
    assert_eq!(
        responses["status"]["documentResponses"],
        json!([{"_id": "e", "status": "OK"}, {"_id": "a", "status": "ERROR", "errorsIdx": 0}])
    );

    // A single document's error is not prefixed with its _id.
    let single = command(&gw, Some(&c), json!({"insertMany": {"documents": [{"_id": "a"}]}})).await;
    assert_eq!(
        single["errors"][0]["message"],
        "Document already exists with the given _id"
    );

    let too_many: Vec<Value> = (0..101).map(|i| json!({ "i": i })).collect();
    expect_error(
        &gw,
        &c,
        json!({"insertMany": {"documents": too_many}}),
        "COMMAND_FIELD_INVALID",
    )
    .await;
}

// ------------------------------------------------------------------------------------------
// Filters
// ------------------------------------------------------------------------------------------

async fn filter_fixture(gw: &TestGateway) -> String {
    let c = collection(gw, json!({})).await;
    insert(
        gw,
        &c,
        json!([
            {"_id": 1, "name": "ann", "age": 30, "tags": ["a", "b"], "addr": {"city": "Paris"}, "when": {"$date": 1000}},
            {"_id": 2, "name": "bob", "age": 40, "tags": ["b"], "addr": {"city": "Oslo"}, "when": {"$date": 2000}},
            {"_id": 3, "name": "cid", "age": 50.5, "tags": [], "nick": null},
            {"_id": 4, "name": "dan", "age": "old"}
        ]),
    )
    .await;
    c
}

async fn matching(gw: &TestGateway, c: &str, filter: Value) -> Vec<i64> {
    let mut ids: Vec<i64> = find_ids(gw, c, json!({ "filter": filter }))
        .await
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_filter_operators() {
    let gw = TestGateway::start().await;
    let c = filter_fixture(&gw).await;
    let cases = [
        (json!({}), vec![1, 2, 3, 4]),
        (json!({"name": "bob"}), vec![2]),
        (json!({"name": {"$eq": "bob"}}), vec![2]),
        (json!({"name": {"$ne": "bob"}}), vec![1, 3, 4]),
        (json!({"addr.city": "Paris"}), vec![1]),
        (json!({"tags": "b"}), vec![1, 2]),
        (json!({"tags": ["b"]}), vec![2]),
        (json!({"_id": {"$in": [2, 3, 9]}}), vec![2, 3]),
        (json!({"name": {"$in": ["ann", "dan"]}}), vec![1, 4]),
        (json!({"name": {"$nin": ["ann", "dan"]}}), vec![2, 3]),
        (json!({"nick": {"$exists": true}}), vec![3]),
        (json!({"addr": {"$exists": false}}), vec![3, 4]),
        (json!({"nick": null}), vec![3]),
        (json!({"age": {"$gt": 30}}), vec![2, 3]),
        (json!({"age": {"$gte": 30, "$lt": 50}}), vec![1, 2]),
        (json!({"age": {"$lte": 40.0}}), vec![1, 2]),
        (json!({"name": {"$gt": "bz"}}), vec![3, 4]),
        (json!({"when": {"$gte": {"$date": 1500}}}), vec![2]),
        (json!({"tags": {"$all": ["b", "a"]}}), vec![1]),
        (json!({"tags": {"$size": 0}}), vec![3]),
        (json!({"$or": [{"name": "ann"}, {"age": {"$gt": 45}}]}), vec![1, 3]),
        (json!({"$and": [{"tags": "b"}, {"age": 40}]}), vec![2]),
        (json!({"$not": {"tags": "b"}}), vec![3, 4]),
        (json!({"_id": 2}), vec![2]),
    ];
    for (filter, expected) in cases {
        assert_eq!(matching(&gw, &c, filter.clone()).await, expected, "filter {filter}");
    }
    expect_error(
        &gw,
        &c,
        json!({"find": {"filter": {"a": {"$regex": "x"}}}}),
        "UNSUPPORTED_FILTER_OPERATION",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"find": {"filter": {"a": {"$in": 5}}}}),
        "INVALID_FILTER_EXPRESSION",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"find": {"filter": {"$or": {}}}}),
        "INVALID_FILTER_EXPRESSION",
    )
    .await;
}

// ------------------------------------------------------------------------------------------
// find: paging, sort, projection
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_find_pages_by_20_with_next_page_state_and_limit() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let docs: Vec<Value> = (0..25).map(|i| json!({ "_id": i, "even": i % 2 == 0 })).collect();
    insert(&gw, &c, Value::Array(docs)).await;
    let first = ok(&gw, &c, json!({"find": {}})).await;
    assert_eq!(first["data"]["documents"].as_array().unwrap().len(), 20);
    let state = first["data"]["nextPageState"].as_str().unwrap().to_string();
    let second = ok(&gw, &c, json!({"find": {"options": {"pageState": state}}})).await;
    assert_eq!(second["data"]["documents"].as_array().unwrap().len(), 5);
    assert_eq!(second["data"]["nextPageState"], Value::Null);
    let mut all: Vec<i64> = first["data"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"]["documents"].as_array().unwrap())
        .map(|d| d["_id"].as_i64().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..25).collect::<Vec<_>>(), "every document once");

    // A sorted find answers at most one page, no nextPageState; `skip` moves on.
    let sorted = ok(&gw, &c, json!({"find": {"sort": {"_id": 1}}})).await;
    let ids: Vec<i64> = sorted["data"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    assert_eq!(sorted["data"]["nextPageState"], Value::Null);
    let rest = find_ids(
        &gw,
        &c,
        json!({"sort": {"_id": 1}, "options": {"skip": 20, "limit": 100}}),
    )
    .await;
    assert_eq!(rest, (20..25).map(|i| json!(i)).collect::<Vec<_>>());
    let state = first["data"]["nextPageState"].as_str().unwrap().to_string();
    let mixed = expect_error(
        &gw,
        &c,
        json!({"find": {"sort": {"_id": 1}, "options": {"pageState": state}}}),
        "INVALID_SORT_CLAUSE",
    )
    .await;
    assert_eq!(
        mixed["errors"][0]["message"],
        "Invalid sort clause: pageState is not supported with non-empty sort clause"
    );

    let limited = ok(&gw, &c, json!({"find": {"options": {"limit": 3}}})).await;
    assert_eq!(limited["data"]["documents"].as_array().unwrap().len(), 3);
    assert_eq!(limited["data"]["nextPageState"], Value::Null);
    let none = ok(&gw, &c, json!({"findOne": {"filter": {"_id": 99}}})).await;
    assert_eq!(none, json!({"data": {"document": null}}));
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_sort_skip_limit() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    insert(
        &gw,
        &c,
        json!([
            {"_id": "a", "n": 3, "g": "x"},
            {"_id": "b", "n": 1, "g": "y"},
            {"_id": "c", "n": 2, "g": "x"},
            {"_id": "d", "g": "y"}
        ]),
    )
    .await;
    assert_eq!(
        find_ids(&gw, &c, json!({"sort": {"n": 1}})).await,
        json!(["d", "b", "c", "a"]).as_array().unwrap().clone()
    );
    assert_eq!(
        find_ids(&gw, &c, json!({"sort": {"n": -1}})).await,
        json!(["a", "c", "b", "d"]).as_array().unwrap().clone()
    );
    assert_eq!(
        find_ids(&gw, &c, json!({"sort": {"g": 1, "n": -1}})).await,
        json!(["a", "c", "b", "d"]).as_array().unwrap().clone()
    );
    assert_eq!(
        find_ids(&gw, &c, json!({"sort": {"n": 1}, "options": {"skip": 1, "limit": 2}})).await,
        json!(["b", "c"]).as_array().unwrap().clone()
    );
    let first = ok(&gw, &c, json!({"findOne": {"sort": {"n": -1}}})).await;
    assert_eq!(first["data"]["document"]["_id"], "a");
    expect_error(
        &gw,
        &c,
        json!({"find": {"options": {"skip": 1}}}),
        "COMMAND_FIELD_INVALID",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"find": {"sort": {"n": 2}}}),
        "INVALID_SORT_CLAUSE_VALUE",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"find": {"sort": {"$n": 1}}}),
        "INVALID_SORT_CLAUSE_PATH",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_projection() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({"vector": {"dimension": 2}})).await;
    ok(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": "p", "a": {"b": 1, "c": 2}, "d": 3, "arr": [1, 2, 3, 4], "$vector": [0.5, 0.5]}}}),
    )
    .await;
    let project = |projection: Value| {
        let gw = &gw;
        let c = c.clone();
        async move {
            ok(
                gw,
                &c,
                json!({"findOne": {"filter": {"_id": "p"}, "projection": projection}}),
            )
            .await["data"]["document"]
                .clone()
        }
    };
    let default = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "p"}}})).await;
    assert!(
        default["data"]["document"].get("$vector").is_none(),
        "$vector is left out by default"
    );
    assert_eq!(project(json!({"a.b": 1})).await, json!({"_id": "p", "a": {"b": 1}}));
    assert_eq!(project(json!({"d": 1, "_id": 0})).await, json!({"d": 3}));
    assert_eq!(project(json!({"a": 0, "arr": 0})).await, json!({"_id": "p", "d": 3}));
    assert_eq!(project(json!({"$vector": 1})).await["$vector"], json!([0.5, 0.5]));
    assert_eq!(project(json!({"arr": {"$slice": -2}})).await["arr"], json!([3, 4]));
    assert_eq!(project(json!({"*": 0})).await, json!({}));
    // `_id` and `$vector` are not counted as inclusions: `{"_id": 1}` alone keeps every field.
    assert_eq!(
        project(json!({"_id": 1})).await,
        json!({"_id": "p", "a": {"b": 1, "c": 2}, "d": 3, "arr": [1, 2, 3, 4]})
    );
    assert_eq!(project(json!({"arr": {"$slice": [1, 0]}})).await["arr"], json!([]));
    let mixed = expect_error(
        &gw,
        &c,
        json!({"find": {"projection": {"a": 1, "d": 0}}}),
        "UNSUPPORTED_PROJECTION_PARAM",
    )
    .await;
    assert_eq!(
        mixed["errors"][0]["message"],
        "Unsupported projection parameter: cannot exclude 'd' on inclusion projection"
    );
    let mixed = expect_error(
        &gw,
        &c,
        json!({"find": {"projection": {"d": 0, "a": 1}}}),
        "UNSUPPORTED_PROJECTION_PARAM",
    )
    .await;
    assert_eq!(
        mixed["errors"][0]["message"],
        "Unsupported projection parameter: cannot include 'a' on exclusion projection"
    );
}

// ------------------------------------------------------------------------------------------
// Vector search
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_vector_sort_cosine_dot_product_euclidean() {
    let gw = TestGateway::start().await;
    let docs = json!([
        {"_id": "x", "$vector": [1.0, 0.0], "k": 1},
        {"_id": "y", "$vector": [0.0, 1.0], "k": 1},
        {"_id": "xy", "$vector": [0.6, 0.8], "k": 2},
        {"_id": "none", "k": 1}
    ]);
    let query = json!([1.0, 0.0]);
    let cases = [
        ("cosine", vec![("x", 1.0), ("xy", 0.8), ("y", 0.5)]),
        ("dot_product", vec![("x", 1.0), ("xy", 0.8), ("y", 0.5)]),
        ("euclidean", vec![("x", 1.0), ("xy", 1.0 / 1.8), ("y", 1.0 / 3.0)]),
    ];
    for (metric, expected) in cases {
        let c = collection(&gw, json!({"vector": {"dimension": 2, "metric": metric}})).await;
        insert(&gw, &c, docs.clone()).await;
        let answer = ok(
            &gw,
            &c,
            json!({"find": {"sort": {"$vector": query}, "options": {"includeSimilarity": true}}}),
        )
        .await;
        let got: Vec<(String, f64)> = answer["data"]["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["_id"].as_str().unwrap().to_string(),
                    d["$similarity"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got.len(),
            3,
            "{metric}: documents without a vector are left out: {answer}"
        );
        for ((id, score), (want_id, want_score)) in got.iter().zip(&expected) {
            assert_eq!(id, want_id, "{metric}: {got:?}");
            assert!(
                (score - want_score).abs() < 1e-4,
                "{metric}: {id} scored {score}, not {want_score}"
            );
        }
        let limited = find_ids(
            &gw,
            &c,
            json!({"filter": {"k": 1}, "sort": {"$vector": query}, "options": {"limit": 1}}),
        )
        .await;
        assert_eq!(limited, vec![json!("x")]);
        let one = ok(
            &gw,
            &c,
            json!({"findOne": {"sort": {"$vector": [0.0, 1.0]}, "projection": {"k": 0}}}),
        )
        .await;
        assert_eq!(one["data"]["document"], json!({"_id": "y"}));
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_vector_errors() {
    let gw = TestGateway::start().await;
    let v = collection(&gw, json!({"vector": {"dimension": 3}})).await;
    let plain = collection(&gw, json!({})).await;
    expect_error(
        &gw,
        &v,
        json!({"insertOne": {"document": {"$vector": [1, 2]}}}),
        "VECTOR_SIZE_MISMATCH",
    )
    .await;
    expect_error(
        &gw,
        &v,
        json!({"find": {"sort": {"$vector": [1, 2]}}}),
        "VECTOR_SIZE_MISMATCH",
    )
    .await;
    expect_error(
        &gw,
        &v,
        json!({"insertOne": {"document": {"$vector": ["a", 1, 2]}}}),
        "SHRED_BAD_VECTOR_VALUE",
    )
    .await;
    expect_error(
        &gw,
        &v,
        json!({"find": {"sort": {"$vector": [1, 2, 3], "a": 1}}}),
        "VECTOR_SEARCH_USAGE_ERROR",
    )
    .await;
    expect_error(
        &gw,
        &plain,
        json!({"find": {"sort": {"$vector": [1, 2, 3]}}}),
        "VECTOR_SEARCH_NOT_SUPPORTED",
    )
    .await;
    expect_error(
        &gw,
        &plain,
        json!({"insertOne": {"document": {"$vector": [1, 2, 3]}}}),
        "VECTOR_SEARCH_NOT_SUPPORTED",
    )
    .await;
}

// ------------------------------------------------------------------------------------------
// Updates
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_update_one_operators() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    ok(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": "u", "n": 2, "s": "x", "arr": [1, 2], "lo": 5, "hi": 5, "old": 1}}}),
    )
    .await;
    let update = json!({
        "$set": {"a.b": "new"},
        "$unset": {"s": ""},
        "$inc": {"n": 3},
        "$mul": {"m": 2},
        "$min": {"lo": 1},
        "$max": {"hi": 9},
        "$rename": {"old": "renamed"},
        "$push": {"arr": {"$each": [0], "$position": 0}},
        "$addToSet": {"set": "v"},
        "$currentDate": {"at": true}
    });
    let answer = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "u"}, "update": update}}),
    )
    .await;
    assert_eq!(answer, json!({"status": {"matchedCount": 1, "modifiedCount": 1}}));
    let doc = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "u"}}})).await["data"]["document"].clone();
    assert_eq!(doc["a"], json!({"b": "new"}));
    assert!(doc.get("s").is_none());
    assert_eq!(doc["n"], json!(5));
    assert_eq!(doc["m"], json!(0));
    assert_eq!((doc["lo"].clone(), doc["hi"].clone()), (json!(1), json!(9)));
    assert_eq!(doc["renamed"], json!(1));
    assert!(doc.get("old").is_none());
    assert_eq!(doc["arr"], json!([0, 1, 2]));
    assert_eq!(doc["set"], json!(["v"]));
    assert!(doc["at"]["$date"].is_i64(), "{doc}");

    let pop = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "u"}, "update": {"$pop": {"arr": 1}}}}),
    )
    .await;
    assert_eq!(pop["status"]["modifiedCount"], json!(1));
    let same = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "u"}, "update": {"$set": {"n": 5}}}}),
    )
    .await;
    assert_eq!(same, json!({"status": {"matchedCount": 1, "modifiedCount": 0}}));
    let none = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "nope"}, "update": {"$set": {"n": 1}}}}),
    )
    .await;
    assert_eq!(none, json!({"status": {"matchedCount": 0, "modifiedCount": 0}}));

    expect_error(
        &gw,
        &c,
        json!({"updateOne": {"filter": {}, "update": {"$foo": {"a": 1}}}}),
        "UNSUPPORTED_UPDATE_OPERATION",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"updateOne": {"filter": {}, "update": {"$set": {"_id": 1}}}}),
        "UNSUPPORTED_UPDATE_OPERATION_PATH",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"updateOne": {"filter": {}, "update": {"$inc": {"n": "1"}}}}),
        "UNSUPPORTED_UPDATE_OPERATION_PARAM",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "u"}, "update": {"$inc": {"a": 1}}}}),
        "UNSUPPORTED_UPDATE_OPERATION_TARGET",
    )
    .await;
    expect_error(
        &gw,
        &c,
        json!({"updateOne": {"filter": {}, "update": {"$push": {"arr": {"$each": [1], "$sort": 1}}}}}),
        "UNSUPPORTED_UPDATE_OPERATION_MODIFIER",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_update_one_upsert_with_set_on_insert() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let update = json!({"$set": {"n": 1}, "$setOnInsert": {"created": true}});
    let answer = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "new", "kind": "k"}, "update": update, "options": {"upsert": true}}}),
    )
    .await;
    assert_eq!(
        answer,
        json!({"status": {"matchedCount": 0, "modifiedCount": 0, "upsertedId": "new"}})
    );
    let doc = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "new"}}})).await["data"]["document"].clone();
    assert_eq!(doc, json!({"_id": "new", "kind": "k", "n": 1, "created": true}));
    let update = json!({"$set": {"n": 2}, "$setOnInsert": {"created": false}});
    let again = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"_id": "new"}, "update": update, "options": {"upsert": true}}}),
    )
    .await;
    assert_eq!(again, json!({"status": {"matchedCount": 1, "modifiedCount": 1}}));
    let doc = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "new"}}})).await["data"]["document"].clone();
    assert_eq!(doc["created"], json!(true), "$setOnInsert applies only on insert");
    let generated = ok(
        &gw,
        &c,
        json!({"updateOne": {"filter": {"kind": "z"}, "update": {"$set": {"n": 3}}, "options": {"upsert": true}}}),
    )
    .await;
    assert!(generated["status"]["upsertedId"].is_string(), "{generated}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_contended_updates_apply_or_fail_with_concurrency_failure_and_lose_nothing() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    ok(&gw, &c, json!({"insertOne": {"document": {"_id": "counter", "n": 0}}})).await;
    // Twenty writers on one document: each read-then-conditional-write may lose its race up to
    // five times; a writer that loses every time gets CONCURRENCY_FAILURE and changes nothing.
    let increments = (0..20).map(|_| {
        command(
            &gw,
            Some(&c),
            json!({"updateOne": {"filter": {"_id": "counter"}, "update": {"$inc": {"n": 1}}}}),
        )
    });
    let answers = futures::future::join_all(increments).await;
    let mut applied = 0;
    let mut refused = 0;
    for answer in &answers {
        if answer.get("errors").is_none() {
            assert_eq!(answer["status"]["modifiedCount"], json!(1), "{answer}");
            applied += 1;
        } else {
            assert_eq!(error_code(answer), "CONCURRENCY_FAILURE", "{answer}");
            assert_eq!(
                answer["errors"][0]["message"],
                json!("Unable to complete transaction due to concurrent transactions"),
                "{answer}"
            );
            refused += 1;
        }
    }
    eprintln!("20 contended increments: {applied} applied, {refused} CONCURRENCY_FAILURE");
    assert!(applied >= 1, "no increment got through: {answers:?}");
    let doc = ok(&gw, &c, json!({"findOne": {"filter": {"_id": "counter"}}})).await;
    assert_eq!(doc["data"]["document"]["n"], json!(applied), "refused: {refused}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_sorting_more_than_10000_matches_is_dataset_too_big() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    // 10,001 documents, the last one in a group of its own; four insertMany calls in flight.
    let batches: Vec<Value> = (0..101)
        .map(|batch| {
            let docs: Vec<Value> = (batch * 100..(batch * 100 + 100).min(10_001))
                .map(|n| json!({ "_id": n, "n": n, "g": if n < 10_000 { "in" } else { "out" } }))
                .collect();
            Value::Array(docs)
        })
        .collect();
    for chunk in batches.chunks(4) {
        let calls = chunk.iter().map(|docs| {
            ok(
                &gw,
                &c,
                json!({"insertMany": {"documents": docs, "options": {"ordered": false}}}),
            )
        });
        futures::future::join_all(calls).await;
    }
    assert_eq!(
        ok(&gw, &c, json!({"estimatedDocumentCount": {}})).await,
        json!({"status": {"count": 10_001}})
    );
    let answer = expect_error(&gw, &c, json!({"find": {"sort": {"n": -1}}}), "DATASET_TOO_BIG").await;
    assert_eq!(
        answer["errors"][0]["message"],
        json!("Response data set too big to be sorted, add more filters"),
        "{answer}"
    );
    assert!(answer.get("data").is_none(), "{answer}");
    // Without a sort, the same 10,001 matches page as usual.
    assert_eq!(find_ids(&gw, &c, json!({})).await.len(), 20);
    // A filter that leaves exactly 10,000 matches sorts.
    let top = find_ids(
        &gw,
        &c,
        json!({"filter": {"g": "in"}, "sort": {"n": -1}, "options": {"limit": 3}}),
    )
    .await;
    assert_eq!(top, vec![json!(9999), json!(9998), json!(9997)]);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_update_many_changes_20_per_call_with_more_data() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let docs: Vec<Value> = (0..25)
        .map(|i| json!({ "_id": i, "group": "g", "done": false }))
        .collect();
    insert(&gw, &c, Value::Array(docs)).await;
    let update = json!({"$set": {"done": true}});
    let first = ok(
        &gw,
        &c,
        json!({"updateMany": {"filter": {"group": "g"}, "update": update}}),
    )
    .await;
    assert_eq!(first["status"]["matchedCount"], json!(20));
    assert_eq!(first["status"]["modifiedCount"], json!(20));
    assert_eq!(first["status"]["moreData"], json!(true));
    let state = first["status"]["nextPageState"].as_str().unwrap();
    let second = ok(
        &gw,
        &c,
        json!({"updateMany": {"filter": {"group": "g"}, "update": update, "options": {"pageState": state}}}),
    )
    .await;
    assert_eq!(second, json!({"status": {"matchedCount": 5, "modifiedCount": 5}}));
    let count = ok(&gw, &c, json!({"countDocuments": {"filter": {"done": true}}})).await;
    assert_eq!(count["status"]["count"], json!(25));
    let upsert = ok(
        &gw,
        &c,
        json!({"updateMany": {"filter": {"group": "h"}, "update": update, "options": {"upsert": true}}}),
    )
    .await;
    assert!(upsert["status"]["upsertedId"].is_string(), "{upsert}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_find_one_and_update_replace_delete() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    insert(
        &gw,
        &c,
        json!([{"_id": 1, "n": 1, "t": "a"}, {"_id": 2, "n": 2, "t": "a"}]),
    )
    .await;

    let before = ok(
        &gw,
        &c,
        json!({"findOneAndUpdate": {"filter": {"_id": 1}, "update": {"$inc": {"n": 10}}}}),
    )
    .await;
    assert_eq!(
        before["data"]["document"],
        json!({"_id": 1, "n": 1, "t": "a"}),
        "returnDocument defaults to before"
    );
    assert_eq!(before["status"], json!({"matchedCount": 1, "modifiedCount": 1}));
    let after = ok(
        &gw,
        &c,
        json!({"findOneAndUpdate": {"filter": {"t": "a"}, "sort": {"n": -1}, "update": {"$set": {"top": true}}, "options": {"returnDocument": "after"}, "projection": {"top": 1}}}),
    )
    .await;
    assert_eq!(after["data"]["document"], json!({"_id": 1, "top": true}));
    let upserted = ok(
        &gw,
        &c,
        json!({"findOneAndUpdate": {"filter": {"_id": 7}, "update": {"$set": {"n": 7}}, "options": {"upsert": true, "returnDocument": "after"}}}),
    )
    .await;
    assert_eq!(upserted["data"]["document"], json!({"_id": 7, "n": 7}));
    assert_eq!(upserted["status"]["upsertedId"], json!(7));

    let replaced = ok(
        &gw,
        &c,
        json!({"findOneAndReplace": {"filter": {"_id": 2}, "replacement": {"fresh": 1}, "options": {"returnDocument": "after"}}}),
    )
    .await;
    assert_eq!(replaced["data"]["document"], json!({"_id": 2, "fresh": 1}));
    expect_error(
        &gw,
        &c,
        json!({"findOneAndReplace": {"filter": {"_id": 2}, "replacement": {"_id": 3, "x": 1}}}),
        "DOCUMENT_REPLACE_DIFFERENT_DOCID",
    )
    .await;
    let replace_one = ok(
        &gw,
        &c,
        json!({"replaceOne": {"filter": {"_id": 2}, "replacement": {"again": 1}}}),
    )
    .await;
    assert_eq!(replace_one, json!({"status": {"matchedCount": 1, "modifiedCount": 1}}));

    let deleted = ok(
        &gw,
        &c,
        json!({"findOneAndDelete": {"filter": {}, "sort": {"n": -1}, "projection": {"n": 1}}}),
    )
    .await;
    assert_eq!(
        deleted,
        json!({"data": {"document": {"_id": 1, "n": 11}}, "status": {"deletedCount": 1}})
    );
    let nothing = ok(&gw, &c, json!({"findOneAndDelete": {"filter": {"_id": 1}}})).await;
    assert_eq!(
        nothing,
        json!({"data": {"document": null}, "status": {"deletedCount": 0}})
    );
}

// ------------------------------------------------------------------------------------------
// Deletes and counts
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_delete_one_delete_many_and_counts() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    let docs: Vec<Value> = (0..30).map(|i| json!({ "_id": i, "odd": i % 2 == 1 })).collect();
    insert(&gw, &c, Value::Array(docs)).await;
    assert_eq!(
        ok(&gw, &c, json!({"countDocuments": {}})).await,
        json!({"status": {"count": 30}})
    );
    assert_eq!(
        ok(&gw, &c, json!({"estimatedDocumentCount": {}})).await,
        json!({"status": {"count": 30}})
    );
    assert_eq!(
        ok(&gw, &c, json!({"countDocuments": {"filter": {"odd": true}}})).await,
        json!({"status": {"count": 15}})
    );
    assert_eq!(
        ok(&gw, &c, json!({"deleteOne": {"filter": {"_id": 0}}})).await,
        json!({"status": {"deletedCount": 1}})
    );
    assert_eq!(
        ok(&gw, &c, json!({"deleteOne": {"filter": {"_id": 0}}})).await,
        json!({"status": {"deletedCount": 0}})
    );
    let sorted = ok(&gw, &c, json!({"deleteOne": {"filter": {}, "sort": {"_id": -1}}})).await;
    assert_eq!(sorted, json!({"status": {"deletedCount": 1}}));
    assert_eq!(
        ok(&gw, &c, json!({"findOne": {"filter": {"_id": 29}}})).await,
        json!({"data": {"document": null}})
    );
    // 28 left: 14 odd (1..27), 14 even (2..28).
    let first = ok(&gw, &c, json!({"deleteMany": {"filter": {"odd": true}}})).await;
    assert_eq!(first, json!({"status": {"deletedCount": 14}}));
    let everything = ok(&gw, &c, json!({"deleteMany": {}})).await;
    assert_eq!(everything, json!({"status": {"deletedCount": -1}}));
    assert_eq!(
        ok(&gw, &c, json!({"countDocuments": {}})).await,
        json!({"status": {"count": 0}})
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_delete_many_and_count_report_more_data_past_their_limits() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({})).await;
    for batch in 0..11 {
        let docs: Vec<Value> = (0..100).map(|i| json!({ "_id": batch * 100 + i, "x": 1 })).collect();
        insert(&gw, &c, Value::Array(docs)).await;
    }
    let count = ok(&gw, &c, json!({"countDocuments": {"filter": {"x": 1}}})).await;
    assert_eq!(count, json!({"status": {"count": 1000, "moreData": true}}));
    let deleted = ok(&gw, &c, json!({"deleteMany": {"filter": {"x": 1}}})).await;
    assert_eq!(deleted, json!({"status": {"deletedCount": 20, "moreData": true}}));
    assert_eq!(
        ok(&gw, &c, json!({"estimatedDocumentCount": {}})).await,
        json!({"status": {"count": 1080}})
    );
}

// ------------------------------------------------------------------------------------------
// Durability
// ------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn data_api_documents_and_options_survive_a_gateway_restart() {
    let gw = TestGateway::start().await;
    let c = collection(&gw, json!({"vector": {"dimension": 2, "metric": "dot_product"}})).await;
    ok(
        &gw,
        &c,
        json!({"insertOne": {"document": {"_id": "kept", "$vector": [0.1, 0.2], "n": 12345678901234567890_u64}}}),
    )
    .await;
    gw.stop().await;

    let gw = TestGateway::start().await;
    let found = ok(
        &gw,
        &c,
        json!({"findOne": {"filter": {"_id": "kept"}, "projection": {"*": 1}}}),
    )
    .await;
    assert_eq!(
        found["data"]["document"],
        json!({"_id": "kept", "$vector": [0.1, 0.2], "n": 12345678901234567890_u64})
    );
    let listed = command(&gw, None, json!({"findCollections": {"options": {"explain": true}}})).await;
    let entry = listed["status"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == json!(c))
        .cloned()
        .unwrap();
    assert_eq!(
        entry["options"],
        json!({"vector": {"dimension": 2, "metric": "dot_product", "sourceModel": "other"}})
    );
}
