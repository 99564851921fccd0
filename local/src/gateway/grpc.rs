//! Stargate's gRPC API (reference §5): service `stargate.Stargate` on port 8090 (h2c).
//!
//! `ExecuteQuery` prepares the CQL (so every bind value is converted strictly by the type of its
//! marker, as Stargate does), runs it, and answers with a `ResultSet` for rows, a `SchemaChange`
//! for DDL, and no result for other statements. `ExecuteBatch` runs a batch. The streaming forms
//! answer each message in turn and report failures in the stream. The `.proto` files are the
//! repository's single copy in `samples/grpc/proto/`.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use num_bigint::BigInt;
use prost::Message;
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::errors::DbError;
use scylla::statement::batch::BatchType;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency as CqlConsistency, SerialConsistency};
use scylla::value::{
    Counter, CqlDate, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint, MaybeUnset,
};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status, Streaming};

use super::Shared;
use super::auth::{TOKEN_HEADER, TokenError};
use super::cql::{Bind, CqlError, Options, Page};

/// The code generated from `samples/grpc/proto/` (package `stargate`, and `google.rpc` for `Status`).
pub mod proto {
    pub mod stargate {
        tonic::include_proto!("stargate");
    }
    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }
}

use proto::stargate::stargate_server::{Stargate, StargateServer};
use proto::stargate::{
    self as pb, Batch, Collection, ColumnSpec, Query, ResultSet, Row, SchemaChange, StreamingResponse, TypeSpec,
    UdtValue, Value, schema_change, type_spec, value,
};

/// The tonic service for the gateway's shared state.
pub fn service(shared: Arc<Shared>) -> StargateServer<GrpcGateway> {
    StargateServer::new(GrpcGateway { shared })
}

/// Implements `stargate.Stargate` over the gateway's Cassandra session.
pub struct GrpcGateway {
    shared: Arc<Shared>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<StreamingResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Stargate for GrpcGateway {
    async fn execute_query(&self, request: Request<Query>) -> Result<Response<pb::Response>, Status> {
        authenticate(&self.shared, request.metadata()).await?;
        execute_query(&self.shared, request.into_inner())
            .await
            .map(Response::new)
    }

    type ExecuteQueryStreamStream = ResponseStream;

    async fn execute_query_stream(
        &self,
        request: Request<Streaming<Query>>,
    ) -> Result<Response<ResponseStream>, Status> {
        authenticate(&self.shared, request.metadata()).await?;
        let shared = self.shared.clone();
        let stream = request.into_inner().then(move |query| {
            let shared = shared.clone();
            async move {
                let outcome = match query {
                    Ok(query) => execute_query(&shared, query).await,
                    Err(status) => return Err(status),
                };
                Ok(streaming(outcome))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn execute_batch(&self, request: Request<Batch>) -> Result<Response<pb::Response>, Status> {
        authenticate(&self.shared, request.metadata()).await?;
        execute_batch(&self.shared, request.into_inner())
            .await
            .map(Response::new)
    }

    type ExecuteBatchStreamStream = ResponseStream;

    async fn execute_batch_stream(
        &self,
        request: Request<Streaming<Batch>>,
    ) -> Result<Response<ResponseStream>, Status> {
        authenticate(&self.shared, request.metadata()).await?;
        let shared = self.shared.clone();
        let stream = request.into_inner().then(move |batch| {
            let shared = shared.clone();
            async move {
                let outcome = match batch {
                    Ok(batch) => execute_batch(&shared, batch).await,
                    Err(status) => return Err(status),
                };
                Ok(streaming(outcome))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A streamed answer: the response, or the failure as a `google.rpc.Status` with an `ErrorInfo`.
fn streaming(outcome: Result<pb::Response, Status>) -> StreamingResponse {
    use pb::streaming_response::Message as Kind;
    match outcome {
        Ok(response) => StreamingResponse {
            message: Some(Kind::Response(response)),
        },
        Err(status) => {
            // google.rpc.ErrorInfo { string reason = 1; string domain = 2; map<string,string> metadata = 3; }
            let mut info = Vec::new();
            prost::encoding::string::encode(1, &status.message().to_string(), &mut info);
            let detail = prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: info,
            };
            StreamingResponse {
                message: Some(Kind::Status(proto::google::rpc::Status {
                    code: status.code() as i32,
                    message: format!("{}: {}", code_name(status.code()), status.message()),
                    details: vec![detail],
                })),
            }
        }
    }
}

fn code_name(code: Code) -> &'static str {
    super::rest::grpc_code_name(code)
}

/// Checks the `x-cassandra-token` metadata as Stargate does.
async fn authenticate(shared: &Shared, metadata: &MetadataMap) -> Result<(), Status> {
    let token = metadata.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    match shared.tokens.validate(token).await {
        Ok(()) => Ok(()),
        Err(TokenError::Missing) => Err(Status::unauthenticated("No token provided")),
        Err(TokenError::Invalid) => Err(Status::unauthenticated("Invalid token")),
        Err(TokenError::Unavailable(reason)) => Err(Status::unavailable(reason)),
    }
}

/// A Cassandra failure as a gRPC status, with Stargate's detail trailer where it has one.
pub fn status_for(error: CqlError) -> Status {
    let mut metadata = MetadataMap::new();
    if let Some(db) = &error.db_error {
        let detail: Option<(&'static str, Vec<u8>)> = match db {
            DbError::AlreadyExists { keyspace, table } => Some((
                "stargate.alreadyexists-bin",
                pb::AlreadyExists {
                    keyspace: keyspace.clone(),
                    table: table.clone(),
                }
                .encode_to_vec(),
            )),
            DbError::Unavailable {
                consistency,
                required,
                alive,
            } => Some((
                "stargate.unavailable-bin",
                pb::Unavailable {
                    consistency: consistency_number(*consistency),
                    required: *required,
                    alive: *alive,
                }
                .encode_to_vec(),
            )),
            DbError::WriteTimeout {
                consistency,
                received,
                required,
                write_type,
            } => Some((
                "stargate.writetimeout-bin",
                pb::WriteTimeout {
                    consistency: consistency_number(*consistency),
                    received: *received,
                    block_for: *required,
                    write_type: write_type.to_string(),
                }
                .encode_to_vec(),
            )),
            DbError::ReadTimeout {
                consistency,
                received,
                required,
                data_present,
            } => Some((
                "stargate.readtimeout-bin",
                pb::ReadTimeout {
                    consistency: consistency_number(*consistency),
                    received: *received,
                    block_for: *required,
                    data_present: *data_present,
                }
                .encode_to_vec(),
            )),
            DbError::ReadFailure {
                consistency,
                received,
                required,
                numfailures,
                data_present,
            } => Some((
                "stargate.readfailure-bin",
                pb::ReadFailure {
                    consistency: consistency_number(*consistency),
                    received: *received,
                    block_for: *required,
                    num_failures: *numfailures,
                    data_present: *data_present,
                }
                .encode_to_vec(),
            )),
            DbError::WriteFailure {
                consistency,
                received,
                required,
                numfailures,
                write_type,
            } => Some((
                "stargate.writefailure-bin",
                pb::WriteFailure {
                    consistency: consistency_number(*consistency),
                    received: *received,
                    block_for: *required,
                    num_failures: *numfailures,
                    write_type: write_type.to_string(),
                }
                .encode_to_vec(),
            )),
            DbError::FunctionFailure {
                keyspace,
                function,
                arg_types,
            } => Some((
                "stargate.functionfailure-bin",
                pb::FunctionFailure {
                    keyspace: keyspace.clone(),
                    function: function.clone(),
                    arg_types: arg_types.clone(),
                }
                .encode_to_vec(),
            )),
            _ => None,
        };
        if let Some((key, bytes)) = detail {
            metadata.insert_bin(key, MetadataValue::from_bytes(&bytes));
        }
    }
    Status::with_metadata(error.code, error.message, metadata)
}

fn consistency_number(consistency: CqlConsistency) -> i32 {
    let c = match consistency {
        CqlConsistency::Any => pb::Consistency::Any,
        CqlConsistency::One => pb::Consistency::One,
        CqlConsistency::Two => pb::Consistency::Two,
        CqlConsistency::Three => pb::Consistency::Three,
        CqlConsistency::Quorum => pb::Consistency::Quorum,
        CqlConsistency::All => pb::Consistency::All,
        CqlConsistency::LocalQuorum => pb::Consistency::LocalQuorum,
        CqlConsistency::EachQuorum => pb::Consistency::EachQuorum,
        CqlConsistency::Serial => pb::Consistency::Serial,
        CqlConsistency::LocalSerial => pb::Consistency::LocalSerial,
        CqlConsistency::LocalOne => pb::Consistency::LocalOne,
    };
    c as i32
}

/// A requested consistency (absent: `default`).
fn consistency(value: Option<&pb::ConsistencyValue>, default: CqlConsistency) -> CqlConsistency {
    let Some(value) = value else { return default };
    match pb::Consistency::try_from(value.value).unwrap_or(pb::Consistency::LocalQuorum) {
        pb::Consistency::Any => CqlConsistency::Any,
        pb::Consistency::One => CqlConsistency::One,
        pb::Consistency::Two => CqlConsistency::Two,
        pb::Consistency::Three => CqlConsistency::Three,
        pb::Consistency::Quorum => CqlConsistency::Quorum,
        pb::Consistency::All => CqlConsistency::All,
        pb::Consistency::LocalQuorum => CqlConsistency::LocalQuorum,
        pb::Consistency::EachQuorum => CqlConsistency::EachQuorum,
        pb::Consistency::Serial => CqlConsistency::Serial,
        pb::Consistency::LocalSerial => CqlConsistency::LocalSerial,
        pb::Consistency::LocalOne => CqlConsistency::LocalOne,
    }
}

fn serial_consistency(value: Option<&pb::ConsistencyValue>) -> Option<SerialConsistency> {
    match value.and_then(|v| pb::Consistency::try_from(v.value).ok()) {
        Some(pb::Consistency::LocalSerial) => Some(SerialConsistency::LocalSerial),
        _ => Some(SerialConsistency::Serial),
    }
}

/// `USE <keyspace>` cannot work on a shared connection; Stargate refuses it.
fn is_use_statement(cql: &str) -> bool {
    let trimmed = cql.trim_start();
    trimmed.len() > 4 && trimmed[..4].eq_ignore_ascii_case("use ")
}

async fn execute_query(shared: &Shared, query: Query) -> Result<pb::Response, Status> {
    if is_use_statement(&query.cql) {
        return Err(Status::invalid_argument("USE <keyspace> not supported"));
    }
    let parameters = query.parameters.unwrap_or_default();
    let keyspace = parameters.keyspace.clone().filter(|k| !k.is_empty());
    let options = Options {
        consistency: consistency(parameters.consistency.as_ref(), CqlConsistency::LocalQuorum),
        serial_consistency: serial_consistency(parameters.serial_consistency.as_ref()),
        page_size: parameters.page_size.filter(|s| *s > 0).unwrap_or(100),
        paging_state: parameters.paging_state.clone().filter(|s| !s.is_empty()),
        timestamp: parameters.timestamp,
    };
    let prepared = shared
        .cql
        .prepare(&query.cql, keyspace.as_deref())
        .await
        .map_err(status_for)?;
    let values = bind_values(&prepared, query.values.unwrap_or_default())?;
    let outcome = shared
        .cql
        .execute(&prepared, values, &options)
        .await
        .map_err(status_for)?;
    let result = match outcome.page {
        Some(page) => Some(pb::response::Result::ResultSet(result_set(
            page,
            parameters.skip_metadata,
        ))),
        None => schema_change_for(&query.cql, keyspace.as_deref()).map(pb::response::Result::SchemaChange),
    };
    Ok(pb::Response {
        result,
        warnings: outcome.warnings,
        traces: None,
    })
}

async fn execute_batch(shared: &Shared, batch: Batch) -> Result<pb::Response, Status> {
    if batch.queries.is_empty() {
        return Err(Status::invalid_argument("No queries in batch"));
    }
    let parameters = batch.parameters.unwrap_or_default();
    let keyspace = parameters.keyspace.clone().filter(|k| !k.is_empty());
    let batch_type = match pb::batch::Type::try_from(batch.r#type).unwrap_or(pb::batch::Type::Logged) {
        pb::batch::Type::Logged => BatchType::Logged,
        pb::batch::Type::Unlogged => BatchType::Unlogged,
        pb::batch::Type::Counter => BatchType::Counter,
    };
    let mut statements = Vec::with_capacity(batch.queries.len());
    for query in batch.queries {
        let prepared = shared
            .cql
            .prepare(&query.cql, keyspace.as_deref())
            .await
            .map_err(status_for)?;
        let values = bind_values(&prepared, query.values.unwrap_or_default())?;
        statements.push((prepared, values));
    }
    let options = Options {
        consistency: consistency(parameters.consistency.as_ref(), CqlConsistency::LocalQuorum),
        serial_consistency: serial_consistency(parameters.serial_consistency.as_ref()),
        timestamp: parameters.timestamp,
        ..Options::default()
    };
    let outcome = shared
        .cql
        .batch(batch_type, statements, &options)
        .await
        .map_err(status_for)?;
    Ok(pb::Response {
        result: None,
        warnings: outcome.warnings,
        traces: None,
    })
}

/// The request's values in marker order, converted by each marker's type (positional, or by
/// `value_names`).
fn bind_values(prepared: &PreparedStatement, values: pb::Values) -> Result<Vec<Bind>, Status> {
    let specs = prepared.get_variable_col_specs();
    let expected = specs.len();
    if values.values.len() != expected {
        return Err(Status::failed_precondition(format!(
            "Invalid number of bind values. Expected {expected}, but received {}",
            values.values.len()
        )));
    }
    if values.value_names.is_empty() {
        return values
            .values
            .iter()
            .zip(specs.iter())
            .enumerate()
            .map(|(i, (value, spec))| {
                to_cql(value, spec.typ())
                    .map_err(|msg| Status::invalid_argument(format!("Invalid argument at position {}: {msg}", i + 1)))
            })
            .collect();
    }
    if values.value_names.len() != expected {
        return Err(Status::failed_precondition(format!(
            "Invalid number of bind names. Expected {expected}, but received {}",
            values.value_names.len()
        )));
    }
    for name in &values.value_names {
        if !specs.iter().any(|s| s.name() == name) {
            return Err(Status::invalid_argument(format!(
                "Unable to find bind marker with name '{name}'"
            )));
        }
    }
    specs
        .iter()
        .map(|spec| {
            let position = values
                .value_names
                .iter()
                .position(|n| n == spec.name())
                .unwrap_or_default();
            to_cql(&values.values[position], spec.typ())
                .map_err(|msg| Status::invalid_argument(format!("Invalid argument for name '{}': {msg}", spec.name())))
        })
        .collect()
}

fn result_set(page: Page, skip_metadata: bool) -> ResultSet {
    let columns = if skip_metadata {
        Vec::new()
    } else {
        page.columns
            .iter()
            .map(|(name, typ)| ColumnSpec {
                r#type: Some(type_spec(typ)),
                name: name.clone(),
            })
            .collect()
    };
    let rows = page
        .rows
        .iter()
        .map(|row| Row {
            values: row.iter().map(|cell| from_cql(cell.as_ref())).collect(),
        })
        .collect();
    ResultSet {
        columns,
        rows,
        paging_state: page.paging_state,
    }
}

// ---------------------------------------------------------------------------------------------
// Types and values (pure)
// ---------------------------------------------------------------------------------------------

/// A CQL type as a `TypeSpec` (text columns say VARCHAR, as Stargate's results do).
pub fn type_spec(typ: &ColumnType) -> TypeSpec {
    use type_spec::{Basic, Spec};
    let basic = |b: Basic| TypeSpec {
        spec: Some(Spec::Basic(b as i32)),
    };
    match typ {
        ColumnType::Native(native) => basic(match native {
            NativeType::Ascii => Basic::Ascii,
            NativeType::BigInt => Basic::Bigint,
            NativeType::Blob => Basic::Blob,
            NativeType::Boolean => Basic::Boolean,
            NativeType::Counter => Basic::Counter,
            NativeType::Decimal => Basic::Decimal,
            NativeType::Double => Basic::Double,
            NativeType::Float => Basic::Float,
            NativeType::Int => Basic::Int,
            NativeType::Text => Basic::Varchar,
            NativeType::Timestamp => Basic::Timestamp,
            NativeType::Uuid => Basic::Uuid,
            NativeType::Varint => Basic::Varint,
            NativeType::Timeuuid => Basic::Timeuuid,
            NativeType::Inet => Basic::Inet,
            NativeType::Date => Basic::Date,
            NativeType::Time => Basic::Time,
            NativeType::SmallInt => Basic::Smallint,
            NativeType::TinyInt => Basic::Tinyint,
            NativeType::Duration => Basic::Duration,
            _ => Basic::Custom,
        }),
        ColumnType::Collection {
            frozen,
            typ: CollectionType::List(e),
        } => TypeSpec {
            spec: Some(Spec::List(Box::new(type_spec::List {
                element: Some(Box::new(type_spec(e))),
                frozen: *frozen,
            }))),
        },
        ColumnType::Collection {
            frozen,
            typ: CollectionType::Set(e),
        } => TypeSpec {
            spec: Some(Spec::Set(Box::new(type_spec::Set {
                element: Some(Box::new(type_spec(e))),
                frozen: *frozen,
            }))),
        },
        ColumnType::Collection {
            frozen,
            typ: CollectionType::Map(k, v),
        } => TypeSpec {
            spec: Some(Spec::Map(Box::new(type_spec::Map {
                key: Some(Box::new(type_spec(k))),
                value: Some(Box::new(type_spec(v))),
                frozen: *frozen,
            }))),
        },
        ColumnType::Tuple(elements) => TypeSpec {
            spec: Some(Spec::Tuple(type_spec::Tuple {
                elements: elements.iter().map(type_spec).collect(),
            })),
        },
        ColumnType::UserDefinedType { frozen, definition } => TypeSpec {
            spec: Some(Spec::Udt(type_spec::Udt {
                fields: definition
                    .field_types
                    .iter()
                    .map(|(n, t)| (n.to_string(), type_spec(t)))
                    .collect(),
                name: definition.name.to_string(),
                frozen: *frozen,
            })),
        },
        ColumnType::Vector { typ, .. } => TypeSpec {
            spec: Some(Spec::List(Box::new(type_spec::List {
                element: Some(Box::new(type_spec(typ))),
                frozen: true,
            }))),
        },
        _ => basic(Basic::Custom),
    }
}

fn inner(v: value::Inner) -> Value {
    Value { inner: Some(v) }
}

/// A CQL cell as a gRPC `Value`; `None` is `Value.null`.
pub fn from_cql(cell: Option<&CqlValue>) -> Value {
    use value::Inner;
    let Some(cell) = cell else {
        return inner(Inner::Null(value::Null {}));
    };
    match cell {
        CqlValue::Ascii(s) | CqlValue::Text(s) => inner(Inner::String(s.clone())),
        CqlValue::Boolean(b) => inner(Inner::Boolean(*b)),
        CqlValue::TinyInt(n) => inner(Inner::Int(i64::from(*n))),
        CqlValue::SmallInt(n) => inner(Inner::Int(i64::from(*n))),
        CqlValue::Int(n) => inner(Inner::Int(i64::from(*n))),
        CqlValue::BigInt(n) => inner(Inner::Int(*n)),
        CqlValue::Counter(Counter(n)) => inner(Inner::Int(*n)),
        CqlValue::Timestamp(CqlTimestamp(ms)) => inner(Inner::Int(*ms)),
        CqlValue::Float(f) => inner(Inner::Float(*f)),
        CqlValue::Double(f) => inner(Inner::Double(*f)),
        CqlValue::Blob(b) => inner(Inner::Bytes(b.clone())),
        CqlValue::Inet(ip) => inner(Inner::Inet(pb::Inet {
            value: match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            },
        })),
        CqlValue::Uuid(u) => inner(Inner::Uuid(pb::Uuid {
            value: u.as_bytes().to_vec(),
        })),
        CqlValue::Timeuuid(u) => inner(Inner::Uuid(pb::Uuid {
            value: u.as_bytes().to_vec(),
        })),
        CqlValue::Date(CqlDate(days)) => inner(Inner::Date(*days)),
        CqlValue::Time(CqlTime(nanos)) => inner(Inner::Time(u64::try_from(*nanos).unwrap_or_default())),
        CqlValue::List(items) | CqlValue::Set(items) | CqlValue::Vector(items) => {
            inner(Inner::Collection(Collection {
                elements: items.iter().map(|i| from_cql(Some(i))).collect(),
            }))
        }
        CqlValue::Map(entries) => inner(Inner::Collection(Collection {
            elements: entries
                .iter()
                .flat_map(|(k, v)| [from_cql(Some(k)), from_cql(Some(v))])
                .collect(),
        })),
        CqlValue::Tuple(items) => inner(Inner::Collection(Collection {
            elements: items.iter().map(|i| from_cql(i.as_ref())).collect(),
        })),
        CqlValue::UserDefinedType { fields, .. } => inner(Inner::Udt(UdtValue {
            fields: fields.iter().map(|(n, v)| (n.clone(), from_cql(v.as_ref()))).collect(),
        })),
        CqlValue::Varint(v) => inner(Inner::Varint(pb::Varint {
            value: v.as_signed_bytes_be_slice().to_vec(),
        })),
        CqlValue::Decimal(d) => {
            let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
            // The proto's scale is unsigned; a negative scale is folded into the unscaled value.
            let (bytes, scale) = if scale < 0 {
                let factor = BigInt::from(10).pow(scale.unsigned_abs());
                ((BigInt::from_signed_bytes_be(bytes) * factor).to_signed_bytes_be(), 0)
            } else {
                (bytes.to_vec(), scale.unsigned_abs())
            };
            inner(Inner::Decimal(pb::Decimal { scale, value: bytes }))
        }
        CqlValue::Duration(d) => inner(Inner::Duration(pb::Duration {
            months: d.months,
            days: d.days,
            nanos: d.nanoseconds,
        })),
        CqlValue::Empty => inner(Inner::Null(value::Null {})),
        _ => inner(Inner::Null(value::Null {})),
    }
}

fn integer(n: i64, typ: &str, min: i64, max: i64) -> Result<i64, String> {
    if n < min || n > max {
        return Err(format!("Valid range for {typ} is {min} to {max}, got {n}"));
    }
    Ok(n)
}

/// A gRPC `Value` as a bind value of the marker's CQL type (strict, as Stargate's codecs).
pub fn to_cql(value: &Value, typ: &ColumnType) -> Result<Bind, String> {
    use value::Inner;
    let Some(v) = &value.inner else {
        return Ok(MaybeUnset::Set(None));
    };
    match v {
        Inner::Null(_) => return Ok(MaybeUnset::Set(None)),
        Inner::Unset(_) => return Ok(MaybeUnset::Unset),
        _ => {}
    }
    Ok(MaybeUnset::Set(Some(element_to_cql(v, typ)?)))
}

fn non_null(value: &Value, typ: &ColumnType) -> Result<CqlValue, String> {
    match &value.inner {
        Some(value::Inner::Null(_) | value::Inner::Unset(_)) | None => {
            Err("null is not allowed inside a collection".into())
        }
        Some(v) => element_to_cql(v, typ),
    }
}

fn expected(name: &str) -> String {
    format!("Expected {name} type")
}

fn element_to_cql(v: &value::Inner, typ: &ColumnType) -> Result<CqlValue, String> {
    use value::Inner;
    Ok(match (typ, v) {
        (ColumnType::Native(NativeType::Text), Inner::String(s)) => CqlValue::Text(s.clone()),
        (ColumnType::Native(NativeType::Ascii), Inner::String(s)) => CqlValue::Ascii(s.clone()),
        (ColumnType::Native(NativeType::Text | NativeType::Ascii), _) => return Err(expected("string")),
        (ColumnType::Native(NativeType::Boolean), Inner::Boolean(b)) => CqlValue::Boolean(*b),
        (ColumnType::Native(NativeType::Boolean), _) => return Err(expected("boolean")),
        (ColumnType::Native(NativeType::TinyInt), Inner::Int(n)) => {
            CqlValue::TinyInt(integer(*n, "tinyint", i64::from(i8::MIN), i64::from(i8::MAX))? as i8)
        }
        (ColumnType::Native(NativeType::SmallInt), Inner::Int(n)) => {
            CqlValue::SmallInt(integer(*n, "smallint", i64::from(i16::MIN), i64::from(i16::MAX))? as i16)
        }
        (ColumnType::Native(NativeType::Int), Inner::Int(n)) => {
            CqlValue::Int(integer(*n, "int", i64::from(i32::MIN), i64::from(i32::MAX))? as i32)
        }
        (ColumnType::Native(NativeType::BigInt), Inner::Int(n)) => CqlValue::BigInt(*n),
        (ColumnType::Native(NativeType::Counter), Inner::Int(n)) => CqlValue::Counter(Counter(*n)),
        (ColumnType::Native(NativeType::Timestamp), Inner::Int(n)) => CqlValue::Timestamp(CqlTimestamp(*n)),
        (
            ColumnType::Native(
                NativeType::TinyInt
                | NativeType::SmallInt
                | NativeType::Int
                | NativeType::BigInt
                | NativeType::Counter
                | NativeType::Timestamp,
            ),
            _,
        ) => return Err(expected("integer")),
        (ColumnType::Native(NativeType::Float), Inner::Float(f)) => CqlValue::Float(*f),
        (ColumnType::Native(NativeType::Float), _) => return Err(expected("float")),
        (ColumnType::Native(NativeType::Double), Inner::Double(f)) => CqlValue::Double(*f),
        (ColumnType::Native(NativeType::Double), _) => return Err(expected("double")),
        (ColumnType::Native(NativeType::Blob), Inner::Bytes(b)) => CqlValue::Blob(b.clone()),
        (ColumnType::Native(NativeType::Blob), _) => return Err(expected("bytes")),
        (ColumnType::Native(NativeType::Uuid | NativeType::Timeuuid), Inner::Uuid(u)) => {
            let bytes: [u8; 16] = u
                .value
                .as_slice()
                .try_into()
                .map_err(|_| "Expected 16 bytes for a UUID".to_string())?;
            let id = uuid::Uuid::from_bytes(bytes);
            if matches!(typ, ColumnType::Native(NativeType::Timeuuid)) {
                CqlValue::Timeuuid(CqlTimeuuid::from(id))
            } else {
                CqlValue::Uuid(id)
            }
        }
        (ColumnType::Native(NativeType::Uuid | NativeType::Timeuuid), _) => return Err(expected("UUID")),
        (ColumnType::Native(NativeType::Inet), Inner::Inet(ip)) => CqlValue::Inet(match ip.value.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(ip.value.as_slice()).map_err(|e| e.to_string())?),
            16 => IpAddr::from(<[u8; 16]>::try_from(ip.value.as_slice()).map_err(|e| e.to_string())?),
            n => return Err(format!("Expected 4 or 16 bytes for an inet, got {n}")),
        }),
        (ColumnType::Native(NativeType::Inet), _) => return Err(expected("inet")),
        (ColumnType::Native(NativeType::Date), Inner::Date(d)) => CqlValue::Date(CqlDate(*d)),
        (ColumnType::Native(NativeType::Date), _) => return Err(expected("date")),
        (ColumnType::Native(NativeType::Time), Inner::Time(t)) => {
            if *t >= 86_400_000_000_000 {
                return Err(format!("Valid range for time is 0 to 86399999999999, got {t}"));
            }
            CqlValue::Time(CqlTime(*t as i64))
        }
        (ColumnType::Native(NativeType::Time), _) => return Err(expected("time")),
        (ColumnType::Native(NativeType::Varint), Inner::Varint(v)) => {
            CqlValue::Varint(CqlVarint::from_signed_bytes_be(v.value.clone()))
        }
        (ColumnType::Native(NativeType::Varint), _) => return Err(expected("varint")),
        (ColumnType::Native(NativeType::Decimal), Inner::Decimal(d)) => {
            CqlValue::Decimal(CqlDecimal::from_signed_be_bytes_and_exponent(
                d.value.clone(),
                i32::try_from(d.scale).map_err(|e| e.to_string())?,
            ))
        }
        (ColumnType::Native(NativeType::Decimal), _) => return Err(expected("decimal")),
        (ColumnType::Native(NativeType::Duration), Inner::Duration(d)) => CqlValue::Duration(CqlDuration {
            months: d.months,
            days: d.days,
            nanoseconds: d.nanos,
        }),
        (ColumnType::Native(NativeType::Duration), _) => return Err(expected("duration")),
        (
            ColumnType::Collection {
                typ: CollectionType::List(e),
                ..
            },
            Inner::Collection(c),
        ) => CqlValue::List(c.elements.iter().map(|i| non_null(i, e)).collect::<Result<_, _>>()?),
        (
            ColumnType::Collection {
                typ: CollectionType::Set(e),
                ..
            },
            Inner::Collection(c),
        ) => CqlValue::Set(c.elements.iter().map(|i| non_null(i, e)).collect::<Result<_, _>>()?),
        (ColumnType::Vector { typ: e, .. }, Inner::Collection(c)) => {
            CqlValue::Vector(c.elements.iter().map(|i| non_null(i, e)).collect::<Result<_, _>>()?)
        }
        (
            ColumnType::Collection {
                typ: CollectionType::Map(k, v),
                ..
            },
            Inner::Collection(c),
        ) => {
            if c.elements.len() % 2 != 0 {
                return Err("Expected an even number of elements for a map (key1, value1, key2, value2, …)".into());
            }
            let mut entries = Vec::with_capacity(c.elements.len() / 2);
            for pair in c.elements.chunks(2) {
                entries.push((non_null(&pair[0], k)?, non_null(&pair[1], v)?));
            }
            CqlValue::Map(entries)
        }
        (ColumnType::Tuple(types), Inner::Collection(c)) => {
            if c.elements.len() > types.len() {
                return Err(format!(
                    "Too many tuple fields. Expected {}, but received {}",
                    types.len(),
                    c.elements.len()
                ));
            }
            let mut items = Vec::with_capacity(types.len());
            for (i, t) in types.iter().enumerate() {
                items.push(match c.elements.get(i) {
                    Some(element) => match to_cql(element, t)? {
                        MaybeUnset::Set(value) => value,
                        MaybeUnset::Unset => None,
                    },
                    None => None,
                });
            }
            CqlValue::Tuple(items)
        }
        (ColumnType::Collection { .. } | ColumnType::Tuple(_) | ColumnType::Vector { .. }, _) => {
            return Err(expected("collection"));
        }
        (ColumnType::UserDefinedType { definition, .. }, Inner::Udt(udt)) => {
            let mut fields = Vec::with_capacity(udt.fields.len());
            for (name, value) in &udt.fields {
                let Some((_, field_type)) = definition.field_types.iter().find(|(n, _)| n == name) else {
                    return Err(format!(
                        "User-defined type {} has no field named '{name}'",
                        definition.name
                    ));
                };
                let value = match to_cql(value, field_type)? {
                    MaybeUnset::Set(value) => value,
                    MaybeUnset::Unset => None,
                };
                fields.push((name.clone(), value));
            }
            CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields,
            }
        }
        (ColumnType::UserDefinedType { .. }, _) => return Err(expected("UDT")),
        _ => return Err("Unsupported CQL type".into()),
    })
}

/// What a DDL statement changed, read from its text (the driver does not expose Cassandra's
/// schema-change result).
pub fn schema_change_for(cql: &str, session_keyspace: Option<&str>) -> Option<SchemaChange> {
    use schema_change::{Target, Type};
    let words = cql_words(cql);
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let change = match upper.first()?.as_str() {
        "CREATE" => Type::Created,
        "ALTER" => Type::Updated,
        "DROP" => Type::Dropped,
        _ => return None,
    };
    let mut at = 1;
    if upper.get(at).map(String::as_str) == Some("OR") && upper.get(at + 1).map(String::as_str) == Some("REPLACE") {
        at += 2;
    }
    let (target, is_index) = match upper.get(at)?.as_str() {
        "KEYSPACE" | "SCHEMA" => (Target::Keyspace, false),
        "TABLE" | "COLUMNFAMILY" => (Target::Table, false),
        "TYPE" => (Target::Type, false),
        "FUNCTION" => (Target::Function, false),
        "AGGREGATE" => (Target::Aggregate, false),
        "INDEX" | "CUSTOM" => (Target::Table, true),
        "MATERIALIZED" => {
            at += 1;
            (Target::Table, false)
        }
        _ => return None,
    };
    at += 1;
    if is_index {
        // CREATE [CUSTOM] INDEX … ON ks.table: the table changes.
        let on = upper.iter().position(|w| w == "ON");
        let name = on.and_then(|i| words.get(i + 1)).or_else(|| words.last())?;
        let (keyspace, table) = split_name(name, session_keyspace);
        let change = if change == Type::Created { Type::Updated } else { change };
        return Some(SchemaChange {
            change_type: change as i32,
            target: Target::Table as i32,
            keyspace,
            name: Some(table),
            argument_types: Vec::new(),
        });
    }
    while matches!(upper.get(at).map(String::as_str), Some("IF" | "NOT" | "EXISTS")) {
        at += 1;
    }
    let name = words.get(at)?;
    let name = name.split('(').next().unwrap_or(name);
    if target == Target::Keyspace {
        return Some(SchemaChange {
            change_type: change as i32,
            target: target as i32,
            keyspace: unquote_ident(name),
            name: None,
            argument_types: Vec::new(),
        });
    }
    let (keyspace, object) = split_name(name, session_keyspace);
    Some(SchemaChange {
        change_type: change as i32,
        target: target as i32,
        keyspace,
        name: Some(object),
        argument_types: Vec::new(),
    })
}

fn cql_words(cql: &str) -> Vec<String> {
    cql.split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn unquote_ident(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_ascii_lowercase(),
    }
}

fn split_name(name: &str, session_keyspace: Option<&str>) -> (String, String) {
    let name = name.split('(').next().unwrap_or(name);
    match name.split_once('.') {
        Some((keyspace, object)) => (unquote_ident(keyspace), unquote_ident(object)),
        None => (session_keyspace.unwrap_or_default().to_string(), unquote_ident(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;

    fn native(n: NativeType) -> ColumnType<'static> {
        ColumnType::Native(n)
    }

    /// The bound value, with `Unset` as an error (MaybeUnset has no `PartialEq`).
    fn bound(value: &Value, typ: &ColumnType) -> Result<Option<CqlValue>, String> {
        match to_cql(value, typ)? {
            MaybeUnset::Set(v) => Ok(v),
            MaybeUnset::Unset => Err("unset".into()),
        }
    }

    #[test]
    fn binds_are_strictly_typed() {
        let int = native(NativeType::Int);
        let int_value = Value {
            inner: Some(value::Inner::Int(7)),
        };
        assert_eq!(bound(&int_value, &int), Ok(Some(CqlValue::Int(7))));
        let too_big = Value {
            inner: Some(value::Inner::Int(1 << 40)),
        };
        assert!(
            to_cql(&too_big, &int)
                .expect_err("range")
                .starts_with("Valid range for int is")
        );
        let text = Value {
            inner: Some(value::Inner::String("x".into())),
        };
        assert_eq!(bound(&text, &int), Err("Expected integer type".into()));
        assert_eq!(
            bound(&int_value, &native(NativeType::Varint)),
            Err("Expected varint type".into())
        );
        let null = Value {
            inner: Some(value::Inner::Null(value::Null {})),
        };
        assert_eq!(bound(&null, &int), Ok(None));
        let unset = Value {
            inner: Some(value::Inner::Unset(value::Unset {})),
        };
        assert!(matches!(to_cql(&unset, &int), Ok(MaybeUnset::Unset)));
    }

    #[test]
    fn values_round_trip_through_the_proto() {
        let map_type = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Map(Box::new(native(NativeType::Text)), Box::new(native(NativeType::BigInt))),
        };
        let cells = [
            (CqlValue::Text("a".into()), native(NativeType::Text)),
            (CqlValue::Uuid(uuid::Uuid::new_v4()), native(NativeType::Uuid)),
            (
                CqlValue::Timestamp(CqlTimestamp(1_619_203_342_139)),
                native(NativeType::Timestamp),
            ),
            (CqlValue::Date(CqlDate(1 << 31)), native(NativeType::Date)),
            (
                CqlValue::Inet("127.0.0.1".parse().expect("ip")),
                native(NativeType::Inet),
            ),
            (
                CqlValue::Varint(CqlVarint::from_signed_bytes_be(vec![1, 0])),
                native(NativeType::Varint),
            ),
            (
                CqlValue::Duration(CqlDuration {
                    months: 1,
                    days: 2,
                    nanoseconds: 3,
                }),
                native(NativeType::Duration),
            ),
            (
                CqlValue::Map(vec![(CqlValue::Text("k".into()), CqlValue::BigInt(5))]),
                map_type,
            ),
        ];
        for (cell, typ) in cells {
            let wire = from_cql(Some(&cell));
            assert_eq!(bound(&wire, &typ), Ok(Some(cell.clone())), "{cell:?}");
        }
    }

    #[test]
    fn text_columns_are_typed_varchar_and_udts_carry_fields() {
        use type_spec::{Basic, Spec};
        assert_eq!(
            type_spec(&native(NativeType::Text)).spec,
            Some(Spec::Basic(Basic::Varchar as i32))
        );
        let udt = ColumnType::UserDefinedType {
            frozen: true,
            definition: StdArc::new(scylla::cluster::metadata::UserDefinedType {
                name: "address".into(),
                keyspace: "ks".into(),
                field_types: vec![("street".into(), native(NativeType::Text))],
            }),
        };
        let Some(Spec::Udt(spec)) = type_spec(&udt).spec else {
            panic!("udt spec")
        };
        assert_eq!(spec.name, "address");
        assert!(spec.frozen);
        assert_eq!(spec.fields.len(), 1);
    }

    #[test]
    fn ddl_text_gives_the_schema_change() {
        use schema_change::{Target, Type};
        let change =
            schema_change_for("CREATE TABLE IF NOT EXISTS ks.users (id int PRIMARY KEY)", None).expect("table");
        assert_eq!(
            (change.change_type, change.target),
            (Type::Created as i32, Target::Table as i32)
        );
        assert_eq!(
            (change.keyspace.as_str(), change.name.as_deref()),
            ("ks", Some("users"))
        );
        let change = schema_change_for("drop keyspace \"MyKs\"", None).expect("keyspace");
        assert_eq!((change.keyspace.as_str(), change.name), ("MyKs", None));
        let change = schema_change_for("CREATE INDEX ON t (v)", Some("ks")).expect("index");
        assert_eq!(
            (change.change_type, change.name.as_deref()),
            (Type::Updated as i32, Some("t"))
        );
        assert_eq!(schema_change_for("INSERT INTO t (a) VALUES (1)", None), None);
        assert_eq!(schema_change_for("CREATE ROLE x", None), None);
    }

    #[test]
    fn use_statements_are_refused() {
        assert!(is_use_statement("  USE ks"));
        assert!(!is_use_statement("user"));
    }
}
