//! GraphQL-first ("schema-first", reference §4.4): a user's SDL, deployed through
//! `/graphql-admin` (module [`super::admin`]), mapped to CQL tables and UDTs with the `@cql_*`
//! directives and Stargate's default rules, and then served at `/graphql/{keyspace}` with the
//! queries and mutations it declares.
//!
//! The SDL is read with `async_graphql::parser::parse_schema`; [`process`] turns it into a
//! [`Mapping`] (entities, payloads, operations, logs), [`migrate`] compares it with the
//! keyspace's tables and types and says which CQL brings them in line (or why it cannot), and
//! [`build`] makes the dynamic schema whose resolvers run the operations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar, Schema, TypeRef,
};
use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, ServiceDocument, Type, TypeDefinition, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Name, Pos, Positioned, Value};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use scylla::cluster::metadata::{CollectionType, ColumnKind, ColumnType, Keyspace};
use scylla::value::{CqlValue, MaybeUnset};
use serde_json::json;

use super::cql_first::MutationMode;
use super::ddl::response_key;
use super::types::{self, CUSTOM_SCALARS, value_field};
use super::{caught, cql_cause, fetch_error};
use crate::gateway::Shared;
use crate::gateway::cql::{Bind, Options, ident, qualified};

// ---------------------------------------------------------------------------------------------
// The mapping model
// ---------------------------------------------------------------------------------------------

/// A message of the deployment's `logs` (or an error of the mapping), with where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub pos: Option<Pos>,
}

impl Message {
    fn new(text: impl Into<String>, pos: Option<Pos>) -> Self {
        Self { text: text.into(), pos }
    }

    /// `{message, locations}` as Stargate lists processing messages in error extensions.
    pub fn json(&self) -> serde_json::Value {
        match self.pos {
            Some(p) => json!({"message": self.text, "locations": [{"line": p.line, "column": p.column}]}),
            None => json!({"message": self.text}),
        }
    }
}

/// Why a schema cannot be deployed (or served): a message and the list Stargate attaches under
/// `extensions.<key>`.
#[derive(Debug, Clone)]
pub struct DeployError {
    pub message: String,
    pub key: &'static str,
    pub details: Vec<serde_json::Value>,
}

impl DeployError {
    pub fn into_graphql(self, field: &str) -> async_graphql::Error {
        let details = Value::from_json(serde_json::Value::Array(self.details)).unwrap_or(Value::Null);
        let key = self.key;
        async_graphql::ErrorExtensions::extend_with(fetch_error(field, &self.message), move |_, e| {
            e.set(key, details.clone())
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Table,
    Udt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Partition,
    Clustering { descending: bool },
    Regular,
}

/// A CQL type as the mapping derives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CqlType {
    Native(&'static str),
    List(Box<CqlType>, bool),
    Udt(String, bool),
    /// `@cql_column(typeHint:)`, as written.
    Hint(String),
}

impl CqlType {
    /// The type in a CQL statement.
    pub fn ddl(&self) -> String {
        match self {
            Self::Native(n) => n.to_string(),
            Self::List(e, frozen) => frozen_text(format!("list<{}>", e.ddl()), *frozen),
            Self::Udt(name, frozen) => frozen_text(ident(name), *frozen),
            Self::Hint(text) => text.clone(),
        }
    }

    /// The type as Cassandra describes it, for comparing with a column.
    pub fn canonical(&self) -> String {
        match self {
            Self::Hint(text) => normalize_type(text),
            other => normalize_type(&other.ddl()),
        }
    }
}

fn frozen_text(text: String, frozen: bool) -> String {
    if frozen { format!("frozen<{text}>") } else { text }
}

/// Type text without spaces and quotes, lower case, `varchar` as `text`.
fn normalize_type(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect::<String>()
        .to_lowercase()
        .replace("varchar", "text")
}

/// A column's type as Cassandra describes it (frozen included).
pub fn describe_type(typ: &ColumnType) -> String {
    let text = match typ {
        ColumnType::Collection { frozen, typ } => {
            let inner = match typ {
                CollectionType::List(e) => format!("list<{}>", describe_type(e)),
                CollectionType::Set(e) => format!("set<{}>", describe_type(e)),
                CollectionType::Map(k, v) => format!("map<{},{}>", describe_type(k), describe_type(v)),
                _ => "custom".into(),
            };
            frozen_text(inner, *frozen)
        }
        ColumnType::UserDefinedType { frozen, definition } => frozen_text(definition.name.to_string(), *frozen),
        ColumnType::Tuple(items) => format!(
            "frozen<tuple<{}>>",
            items.iter().map(describe_type).collect::<Vec<_>>().join(",")
        ),
        other => crate::gateway::values::type_name(other),
    };
    normalize_type(&text)
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub class: Option<String>,
    pub target: Option<String>,
    pub options: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub gql: String,
    pub cql: String,
    pub ty: Type,
    pub cql_type: CqlType,
    pub kind: Kind,
    pub index: Option<Index>,
    /// The GraphQL type (innermost) is one of the schema's enums.
    pub is_enum: bool,
}

impl Column {
    fn is_key(&self) -> bool {
        self.kind != Kind::Regular
    }
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub gql: String,
    pub cql: String,
    pub target: Target,
    pub input: Option<String>,
    /// Partition keys, clustering columns, regular columns.
    pub columns: Vec<Column>,
}

impl Entity {
    fn column(&self, gql: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.gql == gql)
    }
}

/// A `@cql_payload` type: which of its fields holds the entity (or entities).
#[derive(Debug, Clone)]
pub struct Payload {
    pub entity_field: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    Eq,
    In,
    Lt,
    Gt,
    Lte,
    Gte,
    Contains,
}

impl Predicate {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "EQ" => Self::Eq,
            "IN" => Self::In,
            "LT" => Self::Lt,
            "GT" => Self::Gt,
            "LTE" => Self::Lte,
            "GTE" => Self::Gte,
            "CONTAINS" => Self::Contains,
            _ => return None,
        })
    }

    fn cql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::In => "IN",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::Lte => "<=",
            Self::Gte => ">=",
            Self::Contains => "CONTAINS",
        }
    }
}

/// A condition an operation argument stands for (`WHERE` or `IF`).
#[derive(Debug, Clone)]
pub struct Condition {
    pub argument: String,
    pub column: String,
    pub predicate: Predicate,
}

/// An update's argument that writes a regular column: the value to set, or with
/// `@cql_increment` the amount to add (a counter) or the elements to append or prepend (a list,
/// set or map).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub argument: String,
    pub column: String,
    /// `None`: `col = ?`; `Some(prepend)`: `col = col + ?`, or `col = ? + col` when prepending.
    pub increment: Option<bool>,
}

/// What an operation returns.
#[derive(Debug, Clone)]
pub enum Returns {
    Entity,
    Entities,
    Boolean,
    Payload(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Select,
    Insert,
    Update,
    Delete,
}

impl Operation {
    /// The consistency levels of the operation (LOCAL_QUORUM and SERIAL unless its directive
    /// says otherwise).
    fn options(&self) -> Options {
        use scylla::statement::{Consistency, SerialConsistency};
        let consistency = match self.consistency.as_deref() {
            Some("ONE") => Consistency::One,
            Some("TWO") => Consistency::Two,
            Some("THREE") => Consistency::Three,
            Some("QUORUM") => Consistency::Quorum,
            Some("ALL") => Consistency::All,
            Some("LOCAL_ONE") => Consistency::LocalOne,
            Some("EACH_QUORUM") => Consistency::EachQuorum,
            Some("SERIAL") => Consistency::Serial,
            Some("LOCAL_SERIAL") => Consistency::LocalSerial,
            Some("ANY") => Consistency::Any,
            _ => Consistency::LocalQuorum,
        };
        Options {
            consistency,
            serial_consistency: Some(match self.serial_consistency.as_deref() {
                Some("LOCAL_SERIAL") => SerialConsistency::LocalSerial,
                _ => SerialConsistency::Serial,
            }),
            ..Options::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub name: String,
    pub kind: OperationKind,
    pub entity: String,
    pub returns: Returns,
    /// The argument holding the entity input (insert, and update/delete by input).
    pub input_argument: Option<String>,
    pub conditions: Vec<Condition>,
    pub if_conditions: Vec<Condition>,
    /// An update by key arguments: what its other arguments write.
    pub assignments: Vec<Assignment>,
    pub paging_argument: Option<String>,
    pub limit: Option<i64>,
    pub page_size: i32,
    pub if_flag: bool,
    pub ttl: Option<i64>,
    /// `consistencyLevel` and `serialConsistency` of the operation's directive.
    pub consistency: Option<String>,
    pub serial_consistency: Option<String>,
}

/// A processed schema: what to create in CQL and what to serve.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub document: ServiceDocument,
    pub query_type: String,
    pub mutation_type: Option<String>,
    pub entities: Vec<Entity>,
    pub payloads: HashMap<String, Payload>,
    pub operations: Vec<Operation>,
    pub logs: Vec<Message>,
    pub enums: HashSet<String>,
}

impl Mapping {
    pub fn entity(&self, gql: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.gql == gql)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the SDL
// ---------------------------------------------------------------------------------------------

fn directive<'a>(directives: &'a [Positioned<ConstDirective>], name: &str) -> Option<&'a ConstDirective> {
    directives
        .iter()
        .map(|d| &d.node)
        .find(|d| d.name.node.as_str() == name)
}

fn argument<'a>(directive: &'a ConstDirective, name: &str) -> Option<&'a Value> {
    directive.get_argument(name).map(|v| &v.node)
}

fn string_argument(directive: &ConstDirective, name: &str) -> Option<String> {
    match argument(directive, name)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn bool_argument(directive: &ConstDirective, name: &str) -> Option<bool> {
    match argument(directive, name)? {
        Value::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn enum_argument(directive: &ConstDirective, name: &str) -> Option<String> {
    match argument(directive, name)? {
        Value::Enum(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_argument(directive: &ConstDirective, name: &str) -> Option<i64> {
    match argument(directive, name)? {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The innermost named type.
fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => base_name(inner),
    }
}

fn is_list(ty: &Type) -> bool {
    matches!(ty.base, BaseType::List(_))
}

/// GraphQL scalars and Stargate's CQL scalars as CQL types.
fn scalar_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "Int" => "int",
        "Float" => "double",
        "String" => "text",
        "Boolean" => "boolean",
        "ID" | "Uuid" => "uuid",
        "TimeUuid" => "timeuuid",
        "Inet" => "inet",
        "Date" => "date",
        "Duration" => "duration",
        "BigInt" => "bigint",
        "Counter" => "counter",
        "Ascii" => "ascii",
        "Decimal" => "decimal",
        "Varint" => "varint",
        "Float32" => "float",
        "Blob" => "blob",
        "SmallInt" => "smallint",
        "TinyInt" => "tinyint",
        "Timestamp" => "timestamp",
        "Time" => "time",
        _ => return None,
    })
}

fn maps_to_uuid(ty: &Type) -> bool {
    !is_list(ty) && matches!(base_name(ty), "ID" | "Uuid" | "TimeUuid")
}

struct Processor<'a> {
    types: HashMap<String, &'a TypeDefinition>,
    errors: Vec<Message>,
    logs: Vec<Message>,
}

impl Processor<'_> {
    fn error(&mut self, pos: Pos, text: String) {
        self.errors.push(Message::new(text, Some(pos)));
    }

    fn is_udt(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|t| {
            directive(&t.directives, "cql_entity")
                .and_then(|d| enum_argument(d, "target"))
                .as_deref()
                == Some("UDT")
        })
    }

    fn udt_cql_name(&self, name: &str) -> String {
        self.types
            .get(name)
            .and_then(|t| directive(&t.directives, "cql_entity"))
            .and_then(|d| string_argument(d, "name"))
            .unwrap_or_else(|| name.to_string())
    }

    fn infer(&self, ty: &Type, root: bool, prefix: &str) -> Result<CqlType, String> {
        match &ty.base {
            BaseType::List(inner) => Ok(CqlType::List(Box::new(self.infer(inner, false, prefix)?), !root)),
            BaseType::Named(name) => {
                if let Some(cql) = scalar_type(name)
                    && !self.types.contains_key(name.as_str())
                {
                    return Ok(CqlType::Native(cql));
                }
                match self.types.get(name.as_str()).map(|t| &t.kind) {
                    Some(TypeKind::Enum(_)) => Ok(CqlType::Native("text")),
                    Some(TypeKind::Object(_)) if self.is_udt(name) => Ok(CqlType::Udt(self.udt_cql_name(name), true)),
                    Some(TypeKind::Object(_)) => Err(format!(
                        "{prefix}: can't map type '{name}' to CQL: object types must be UDTs (annotated with @cql_entity(target: UDT))"
                    )),
                    Some(TypeKind::Scalar) if scalar_type(name).is_some() => {
                        Ok(CqlType::Native(scalar_type(name).unwrap_or("text")))
                    }
                    _ => Err(format!("{prefix}: can't map type '{name}' to CQL")),
                }
            }
        }
    }

    fn column(&mut self, entity: &str, target: Target, field: &Positioned<FieldDefinition>) -> Option<Column> {
        let def = &field.node;
        let gql = def.name.node.to_string();
        let prefix = format!("{entity}.{gql}");
        let column = directive(&def.directives, "cql_column");
        let cql = column
            .and_then(|d| string_argument(d, "name"))
            .unwrap_or_else(|| gql.clone());
        let partition = column.and_then(|d| bool_argument(d, "partitionKey")).unwrap_or(false);
        let order = column.and_then(|d| enum_argument(d, "clusteringOrder"));
        let hint = column.and_then(|d| string_argument(d, "typeHint"));
        if target == Target::Udt && (partition || order.is_some()) {
            self.error(
                field.pos,
                format!("{prefix}: fields of a UDT can't be partition keys or clustering columns"),
            );
            return None;
        }
        let kind = if partition {
            Kind::Partition
        } else {
            match order.as_deref() {
                Some("DESC") => Kind::Clustering { descending: true },
                Some(_) => Kind::Clustering { descending: false },
                None => Kind::Regular,
            }
        };
        let inferred = match self.infer(&def.ty.node, true, &prefix) {
            Ok(t) => t,
            Err(e) => {
                if hint.is_none() {
                    self.error(field.pos, e);
                    return None;
                }
                CqlType::Native("text")
            }
        };
        let mut cql_type = match hint {
            Some(h) => CqlType::Hint(h),
            None => inferred,
        };
        // Keys and nested UDTs are frozen; a UDT at the root of a regular column too (Cassandra
        // only allows non-frozen UDTs with every field non-frozen).
        if kind != Kind::Regular
            && let CqlType::List(e, _) = cql_type
        {
            cql_type = CqlType::List(e, true);
        }
        let index = directive(&def.directives, "cql_index").map(|d| Index {
            name: string_argument(d, "name").unwrap_or_else(|| format!("{entity}_{cql}_idx")),
            class: string_argument(d, "class"),
            target: enum_argument(d, "target"),
            options: string_argument(d, "options"),
        });
        let is_enum = matches!(
            self.types.get(base_name(&def.ty.node)).map(|t| &t.kind),
            Some(TypeKind::Enum(_))
        );
        Some(Column {
            gql,
            cql,
            ty: def.ty.node.clone(),
            cql_type,
            kind,
            index,
            is_enum,
        })
    }

    fn entity(&mut self, def: &Positioned<TypeDefinition>, fields: &[Positioned<FieldDefinition>]) -> Option<Entity> {
        let gql = def.node.name.node.to_string();
        let entity_directive = directive(&def.node.directives, "cql_entity");
        let cql = entity_directive
            .and_then(|d| string_argument(d, "name"))
            .unwrap_or_else(|| gql.clone());
        let target = match entity_directive.and_then(|d| enum_argument(d, "target")).as_deref() {
            Some("UDT") => Target::Udt,
            _ => Target::Table,
        };
        let input = directive(&def.node.directives, "cql_input").map(|d| {
            string_argument(d, "name").unwrap_or_else(|| {
                self.logs.push(Message::new(
                    format!(
                        "{gql}: using '{gql}Input' as the input type name since @cql_input doesn't have an argument"
                    ),
                    Some(def.pos),
                ));
                format!("{gql}Input")
            })
        });
        let mut columns: Vec<Column> = fields.iter().filter_map(|f| self.column(&gql, target, f)).collect();
        if columns.len() != fields.len() {
            return None;
        }
        match target {
            Target::Table => {
                if !columns.iter().any(|c| c.kind == Kind::Partition) {
                    match columns.first_mut() {
                        Some(first) if first.kind == Kind::Regular && maps_to_uuid(&first.ty) => {
                            first.kind = Kind::Partition;
                            self.logs.push(Message::new(
                                format!(
                                    "{gql}: using {} as the partition key, because it has type {} and no other fields are annotated",
                                    first.gql,
                                    base_name(&first.ty)
                                ),
                                Some(def.pos),
                            ));
                        }
                        _ => {
                            self.error(
                                def.pos,
                                format!(
                                    "{gql} must have at least one partition key field (use scalar type ID, Uuid or TimeUuid for the first field, or annotate your fields with @cql_column(partitionKey: true))"
                                ),
                            );
                            return None;
                        }
                    }
                }
                if let Some(first) = columns.iter_mut().find(|c| c.kind == Kind::Partition)
                    && let CqlType::Udt(name, _) = &first.cql_type
                {
                    first.cql_type = CqlType::Udt(name.clone(), true);
                }
            }
            Target::Udt => {
                if columns.is_empty() {
                    self.error(def.pos, format!("{gql} must have at least one field"));
                    return None;
                }
                // The gateway's CQL driver cannot read a column whose type is a UDT with a
                // case-sensitive name (`frozen<"Address">`): its schema metadata would fail for
                // every keyspace. Such names are refused here (a difference from Stargate).
                let plain = cql.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && cql
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !plain {
                    self.error(
                        def.pos,
                        format!(
                            "{gql}: UDT names must be lower case on this gateway (got '{cql}'): name it with @cql_entity(name: \"{}\", target: UDT)",
                            cql.to_lowercase()
                        ),
                    );
                    return None;
                }
            }
        }
        // Partition keys, clustering columns, then the others, each in declaration order.
        columns.sort_by_key(|c| match c.kind {
            Kind::Partition => 0,
            Kind::Clustering { .. } => 1,
            Kind::Regular => 2,
        });
        Some(Entity {
            gql,
            cql,
            target,
            input,
            columns,
        })
    }
}

/// The entity an output type refers to: itself, a list of it, or a payload holding it.
fn returns_of(ty: &Type, entities: &[Entity], payloads: &HashMap<String, Payload>) -> Option<(Returns, String)> {
    let name = base_name(ty);
    if entities.iter().any(|e| e.gql == name && e.target == Target::Table) {
        return Some((
            if is_list(ty) {
                Returns::Entities
            } else {
                Returns::Entity
            },
            name.to_string(),
        ));
    }
    if name == "Boolean" && !is_list(ty) {
        return Some((Returns::Boolean, String::new()));
    }
    let payload = payloads.get(name)?;
    let entity = payload
        .entity_field
        .as_ref()
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    Some((Returns::Payload(name.to_string()), entity))
}

/// Processes a schema: the SDL parsed, its types mapped to CQL, its operations checked.
pub fn process(source: &str) -> Result<Mapping, DeployError> {
    let document = async_graphql::parser::parse_schema(source).map_err(|e| DeployError {
        message: "The schema that you provided is not valid GraphQL. See details in `extensions.schemaErrors` below."
            .into(),
        key: "schemaErrors",
        details: vec![{
            let positions: Vec<serde_json::Value> = e
                .positions()
                .map(|p| json!({"line": p.line, "column": p.column}))
                .collect();
            json!({"message": e.to_string(), "locations": positions})
        }],
    })?;
    let mut processor = Processor {
        types: HashMap::new(),
        errors: Vec::new(),
        logs: Vec::new(),
    };
    let mut query_type = "Query".to_string();
    let mut mutation_type = "Mutation".to_string();
    let mut subscription_type = "Subscription".to_string();
    let mut ordered: Vec<&Positioned<TypeDefinition>> = Vec::new();
    for definition in &document.definitions {
        match definition {
            TypeSystemDefinition::Schema(schema) => {
                if let Some(q) = &schema.node.query {
                    query_type = q.node.to_string();
                }
                if let Some(m) = &schema.node.mutation {
                    mutation_type = m.node.to_string();
                }
                if let Some(s) = &schema.node.subscription {
                    subscription_type = s.node.to_string();
                }
            }
            TypeSystemDefinition::Type(t) => {
                processor.types.insert(t.node.name.node.to_string(), &t.node);
                ordered.push(t);
            }
            TypeSystemDefinition::Directive(_) => {}
        }
    }
    if let Some(t) = ordered.iter().find(|t| t.node.name.node.as_str() == subscription_type) {
        processor.error(
            t.pos,
            "This GraphQL implementation does not support subscriptions".into(),
        );
    }
    let operation_types = [query_type.as_str(), mutation_type.as_str(), subscription_type.as_str()];
    let mut entities = Vec::new();
    let mut payload_defs = Vec::new();
    let mut enums = HashSet::new();
    for t in &ordered {
        let name = t.node.name.node.as_str();
        match &t.node.kind {
            TypeKind::Enum(_) => {
                enums.insert(name.to_string());
            }
            TypeKind::Object(object) if !operation_types.contains(&name) => {
                if directive(&t.node.directives, "cql_payload").is_some() {
                    payload_defs.push((name.to_string(), object.fields.clone()));
                } else if let Some(entity) = processor.entity(t, &object.fields) {
                    entities.push(entity);
                }
            }
            _ => {}
        }
    }
    let mut payloads = HashMap::new();
    for (name, fields) in payload_defs {
        let entity_field = fields.iter().find_map(|f| {
            let target = base_name(&f.node.ty.node);
            entities
                .iter()
                .any(|e| e.gql == target && e.target == Target::Table)
                .then(|| (f.node.name.node.to_string(), target.to_string()))
        });
        payloads.insert(name, Payload { entity_field });
    }
    let has_query = ordered.iter().any(|t| t.node.name.node.as_str() == query_type);
    if !has_query {
        processor
            .errors
            .push(Message::new("A schema MUST have a 'query' operation defined", None));
    }
    let mut operations = Vec::new();
    for t in &ordered {
        let name = t.node.name.node.as_str();
        let TypeKind::Object(object) = &t.node.kind else {
            continue;
        };
        let is_query = name == query_type;
        if !is_query && name != mutation_type {
            continue;
        }
        for field in &object.fields {
            let built = if is_query {
                query_operation(&mut processor, field, &entities, &payloads)
            } else {
                mutation_operation(&mut processor, field, &entities, &payloads)
            };
            if let Some(operation) = built {
                operations.push(operation);
            }
        }
    }
    if !processor.errors.is_empty() {
        return Err(DeployError {
            message:
                "The GraphQL schema that you provided contains CQL mapping errors. See details in `extensions.mappingErrors` below."
                    .into(),
            key: "mappingErrors",
            details: processor.errors.iter().map(Message::json).collect(),
        });
    }
    let has_mutation = ordered.iter().any(|t| t.node.name.node.as_str() == mutation_type);
    Ok(Mapping {
        logs: processor.logs,
        document,
        query_type,
        mutation_type: has_mutation.then_some(mutation_type),
        entities,
        payloads,
        operations,
        enums,
    })
}

/// The conditions arguments stand for (`@cql_where`, or `col = ?` by name); `@cql_if` ones apart.
/// A type without its outer non-null marker.
fn nullable(ty: &Type) -> Type {
    Type {
        base: ty.base.clone(),
        nullable: true,
    }
}

/// The input type matching a field's type: entity (UDT) names replaced by their input types.
fn input_type(ty: &Type, entities: &[Entity]) -> Type {
    Type {
        base: match &ty.base {
            BaseType::Named(name) => BaseType::Named(
                entities
                    .iter()
                    .find(|e| e.gql == name.as_str())
                    .and_then(|e| e.input.clone())
                    .map_or_else(|| name.clone(), Name::new),
            ),
            BaseType::List(inner) => BaseType::List(Box::new(input_type(inner, entities))),
        },
        nullable: ty.nullable,
    }
}

fn predicate_name(predicate: Predicate) -> &'static str {
    match predicate {
        Predicate::Eq => "EQ",
        Predicate::In => "IN",
        Predicate::Lt => "LT",
        Predicate::Gt => "GT",
        Predicate::Lte => "LTE",
        Predicate::Gte => "GTE",
        Predicate::Contains => "CONTAINS",
    }
}

/// Stargate's checks of a `WHERE` condition: the predicates each kind of column allows, and the
/// argument's type against the field's.
fn check_where(
    operation: &str,
    arg: &InputValueDefinition,
    entity: &Entity,
    column: &Column,
    predicate: Predicate,
    entities: &[Entity],
) -> Result<(), String> {
    use Predicate::*;
    let p = predicate_name(predicate);
    let field = &column.gql;
    match column.kind {
        Kind::Partition if !matches!(predicate, Eq | In) => {
            return Err(format!(
                "Operation {operation}: predicate {p} is not supported for partition key field {field} (expected EQ or IN)"
            ));
        }
        Kind::Clustering { .. } if predicate == Contains => {
            return Err(format!(
                "Operation {operation}: predicate {p} is not supported for clustering field {field} (expected EQ, LT, GT, LTE, GTE or IN)"
            ));
        }
        Kind::Regular if column.index.is_none() => {
            return Err(format!(
                "Operation {operation}: non-primary key argument {} must be indexed in order to use it in a condition",
                arg.name.node
            ));
        }
        Kind::Regular if !matches!(predicate, Eq | In | Contains) => {
            return Err(format!(
                "Operation {operation}: predicate {p} is not supported for indexed field {field} (expected EQ, IN or CONTAINS)"
            ));
        }
        _ => {}
    }
    let actual = nullable(&arg.ty.node);
    let field_input = input_type(&nullable(&column.ty), entities);
    let expected = match predicate {
        In => Type {
            base: BaseType::List(Box::new(field_input)),
            nullable: true,
        },
        Contains => match &field_input.base {
            BaseType::List(element) => (**element).clone(),
            BaseType::Named(_) => {
                return Err(format!(
                    "Operation {operation}: CONTAINS predicate cannot be used with argument {} because it is not a list",
                    arg.name.node
                ));
            }
        },
        _ => field_input,
    };
    if actual != expected {
        let element = if predicate == Contains { "element type of " } else { "" };
        return Err(format!(
            "Operation {operation}: expected argument {} to have type {expected} to match {element}{}.{field}",
            arg.name.node, entity.gql
        ));
    }
    Ok(())
}

/// Stargate's check that a query's conditions need no `ALLOW FILTERING`.
fn check_no_filtering(entity: &Entity, conditions: &[Condition]) -> Result<(), String> {
    let on = |column: &Column| conditions.iter().find(|c| c.column == column.cql);
    let partition: Vec<&Column> = entity.columns.iter().filter(|c| c.kind == Kind::Partition).collect();
    let describe = partition.iter().map(|c| c.gql.as_str()).collect::<Vec<_>>().join(", ");
    let indexed = entity
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Regular && on(c).is_some())
        .count();
    match indexed {
        0 => {
            if partition.iter().any(|c| on(c).is_none()) {
                return Err(format!(
                    "every partition key field of type {} must be present (expected: {describe}).",
                    entity.gql
                ));
            }
            let mut open: Option<&str> = None;
            for column in entity
                .columns
                .iter()
                .filter(|c| matches!(c.kind, Kind::Clustering { .. }))
            {
                match on(column) {
                    None => {
                        open.get_or_insert(column.gql.as_str());
                    }
                    Some(condition) => {
                        if let Some(first) = open {
                            return Err(format!(
                                "clustering field {first} is not restricted by EQ or IN, so no other clustering field after it can be restricted (offending: {}).",
                                column.gql
                            ));
                        }
                        if !matches!(condition.predicate, Predicate::Eq | Predicate::In) {
                            open = Some(column.gql.as_str());
                        }
                    }
                }
            }
            Ok(())
        }
        1 => {
            if entity
                .columns
                .iter()
                .any(|c| matches!(c.kind, Kind::Clustering { .. }) && on(c).is_some())
            {
                return Err("when an indexed field is present, no clustering field can be used".into());
            }
            let restricted = partition.iter().filter(|c| on(c).is_some()).count();
            if restricted > 0 && restricted != partition.len() {
                return Err(format!(
                    "when an indexed field is present, either none or all of the partition key fields must be present (expected {describe})."
                ));
            }
            Ok(())
        }
        _ => Err("cannot use more than one indexed field per operation".into()),
    }
}

/// The entity column an operation argument stands for: the `field` of `named_by` (the argument's
/// directive that names it), else the argument's own name.
fn argument_column<'e>(
    processor: &mut Processor<'_>,
    operation: &str,
    arg: &Positioned<InputValueDefinition>,
    entity: &'e Entity,
    named_by: Option<&ConstDirective>,
) -> Option<&'e Column> {
    let field = named_by
        .and_then(|d| string_argument(d, "field"))
        .unwrap_or_else(|| arg.node.name.node.to_string());
    let column = entity.column(&field);
    if column.is_none() {
        processor.error(
            arg.pos,
            format!(
                "Operation {operation}: could not find field {field} in type {}",
                entity.gql
            ),
        );
    }
    column
}

/// The arguments of an update by key, as Stargate sorts them: key fields (and `@cql_if`) are
/// conditions, returned for [`argument_conditions`]; `@cql_increment` and the other regular fields
/// write their column. With any increment, only the increments are written.
fn update_arguments<'a>(
    processor: &mut Processor<'_>,
    operation: &str,
    arguments: &[&'a Positioned<InputValueDefinition>],
    entity: &Entity,
) -> Option<(Vec<&'a Positioned<InputValueDefinition>>, Vec<Assignment>)> {
    let mut conditions = Vec::new();
    let mut assignments = Vec::new();
    for arg in arguments {
        let name = arg.node.name.node.to_string();
        let found = |d: &str| directive(&arg.node.directives, d);
        let (where_, if_, increment) = (found("cql_where"), found("cql_if"), found("cql_increment"));
        let both = match (where_, if_, increment) {
            (Some(_), Some(_), _) => Some(("cql_where", "cql_if")),
            (Some(_), _, Some(_)) => Some(("cql_where", "cql_increment")),
            (_, Some(_), Some(_)) => Some(("cql_if", "cql_increment")),
            _ => None,
        };
        if let Some((first, second)) = both {
            processor.error(
                arg.pos,
                format!("Operation {operation}: can't set both @{first} and @{second} on argument {name}"),
            );
            return None;
        }
        let column = argument_column(processor, operation, arg, entity, if_.or(increment).or(where_))?;
        let refused = if column.is_key() {
            if_.map(|_| "cql_if")
                .or(increment.map(|_| "cql_increment"))
                .map(|d| format!("Mutation {operation}: @{d} is not allowed on primary key fields ({name})"))
        } else {
            where_.map(|_| {
                format!("Mutation {operation}: @cql_where is only allowed on primary key fields for updates ({name})")
            })
        };
        if let Some(problem) = refused {
            processor.error(arg.pos, problem);
            return None;
        }
        if column.is_key() || if_.is_some() {
            conditions.push(*arg);
        } else {
            assignments.push(Assignment {
                argument: name,
                column: column.cql.clone(),
                increment: increment.map(|d| bool_argument(d, "prepend").unwrap_or(false)),
            });
        }
    }
    if assignments.iter().any(|a| a.increment.is_some()) {
        assignments.retain(|a| a.increment.is_some());
    }
    Some((conditions, assignments))
}

fn argument_conditions(
    processor: &mut Processor<'_>,
    operation: &str,
    arguments: &[&Positioned<InputValueDefinition>],
    entity: &Entity,
    entities: &[Entity],
) -> Option<(Vec<Condition>, Vec<Condition>)> {
    let mut conditions = Vec::new();
    let mut ifs = Vec::new();
    for arg in arguments {
        let name = arg.node.name.node.to_string();
        let (list, d) = match (
            directive(&arg.node.directives, "cql_where"),
            directive(&arg.node.directives, "cql_if"),
        ) {
            (_, Some(d)) => (&mut ifs, Some(d)),
            (d, None) => (&mut conditions, d),
        };
        // Stargate looks the field up in `@cql_increment` too, which on a query or a delete
        // makes a `WHERE` condition like any other argument.
        let named_by = d.or_else(|| directive(&arg.node.directives, "cql_increment"));
        let predicate = d
            .and_then(|d| enum_argument(d, "predicate"))
            .map_or(Some(Predicate::Eq), |p| Predicate::parse(&p));
        let column = argument_column(processor, operation, arg, entity, named_by)?;
        let Some(predicate) = predicate else {
            processor.error(arg.pos, format!("Operation {operation}: unknown predicate"));
            return None;
        };
        if d.is_none_or(|d| d.name.node.as_str() == "cql_where")
            && let Err(problem) = check_where(operation, &arg.node, entity, column, predicate, entities)
        {
            processor.error(arg.pos, problem);
            return None;
        }
        list.push(Condition {
            argument: name,
            column: column.cql.clone(),
            predicate,
        });
    }
    Some((conditions, ifs))
}

fn query_operation(
    processor: &mut Processor<'_>,
    field: &Positioned<FieldDefinition>,
    entities: &[Entity],
    payloads: &HashMap<String, Payload>,
) -> Option<Operation> {
    let def = &field.node;
    let name = def.name.node.to_string();
    let Some((returns, entity_name)) =
        returns_of(&def.ty.node, entities, payloads).filter(|(r, e)| !matches!(r, Returns::Boolean) && !e.is_empty())
    else {
        processor.error(
            field.pos,
            format!("Query {name}: return type must reference an entity that maps to a table"),
        );
        return None;
    };
    let entity = entities.iter().find(|e| e.gql == entity_name)?;
    let paging_argument = def
        .arguments
        .iter()
        .find(|a| directive(&a.node.directives, "cql_pagingState").is_some())
        .map(|a| a.node.name.node.to_string());
    let arguments: Vec<&Positioned<InputValueDefinition>> = def
        .arguments
        .iter()
        .filter(|a| Some(a.node.name.node.to_string()) != paging_argument)
        .collect();
    let (conditions, _) = argument_conditions(processor, &name, &arguments, entity, entities)?;
    if let Err(problem) = check_no_filtering(entity, &conditions) {
        processor.error(field.pos, format!("Operation {name}: {problem}"));
        return None;
    }
    let select = directive(&def.directives, "cql_select");
    Some(Operation {
        name,
        kind: OperationKind::Select,
        entity: entity_name,
        returns,
        input_argument: None,
        conditions,
        if_conditions: Vec::new(),
        assignments: Vec::new(),
        paging_argument,
        limit: select.and_then(|d| int_argument(d, "limit")),
        page_size: select
            .and_then(|d| int_argument(d, "pageSize"))
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(100),
        if_flag: false,
        ttl: None,
        consistency: select.and_then(|d| enum_argument(d, "consistencyLevel")),
        serial_consistency: None,
    })
}

fn mutation_operation(
    processor: &mut Processor<'_>,
    field: &Positioned<FieldDefinition>,
    entities: &[Entity],
    payloads: &HashMap<String, Payload>,
) -> Option<Operation> {
    let def = &field.node;
    let name = def.name.node.to_string();
    let (kind, d) = if let Some(d) = directive(&def.directives, "cql_insert") {
        (OperationKind::Insert, Some(d))
    } else if let Some(d) = directive(&def.directives, "cql_update") {
        (OperationKind::Update, Some(d))
    } else if let Some(d) = directive(&def.directives, "cql_delete") {
        (OperationKind::Delete, Some(d))
    } else if name.starts_with("insert") || name.starts_with("create") {
        (OperationKind::Insert, None)
    } else if name.starts_with("update") {
        (OperationKind::Update, None)
    } else if name.starts_with("delete") || name.starts_with("remove") {
        (OperationKind::Delete, None)
    } else {
        processor.error(
            field.pos,
            format!(
                "Mutation {name}: could not infer mutation kind. Either use one of the mutation directives (@cql_insert, @cql_update, @cql_delete), or name your mutation with a recognized prefix (insert, create, update, delete, remove)"
            ),
        );
        return None;
    };
    let flag = match kind {
        OperationKind::Insert => {
            d.and_then(|d| bool_argument(d, "ifNotExists")).unwrap_or(false) || name.ends_with("IfNotExists")
        }
        _ => d.and_then(|d| bool_argument(d, "ifExists")).unwrap_or(false) || name.ends_with("IfExists"),
    };
    let input_of = |arg: &Positioned<InputValueDefinition>| {
        let type_name = base_name(&arg.node.ty.node);
        entities
            .iter()
            .find(|e| e.target == Target::Table && e.input.as_deref() == Some(type_name))
    };
    let kind_name = match kind {
        OperationKind::Insert => "insert",
        OperationKind::Update => "update",
        _ => "delete",
    };
    let mut fail = |text: String| {
        processor.error(field.pos, format!("Mutation {name}: {text}"));
        None
    };
    // The entity input is the first argument (Stargate's rule); updates and deletes may take
    // key fields instead, and then name their entity in the directive.
    let input_arg = def.arguments.first().filter(|a| input_of(a).is_some());
    if kind == OperationKind::Insert && input_arg.is_none() {
        return fail("inserts must take the entity input type as the first argument".into());
    }
    if kind != OperationKind::Insert {
        if def.arguments.is_empty() {
            return fail(format!(
                "{kind_name}s must take either the entity input type or a list of primary key fields"
            ));
        }
        if input_arg.is_some() && def.arguments.len() > 1 {
            return fail(format!(
                "if a{} {kind_name} takes an entity input type, it must be the only argument",
                if kind == OperationKind::Update { "n" } else { "" }
            ));
        }
    }
    let entity = match input_arg {
        Some(arg) => input_of(arg),
        None => {
            let directive_name = format!("cql_{kind_name}");
            let Some(target) = d.and_then(|d| string_argument(d, "targetEntity")) else {
                return fail(format!(
                    "if a{} {kind_name} doesn't take an entity input type, it must indicate the entity name in '@{directive_name}.targetEntity'",
                    if kind == OperationKind::Update { "n" } else { "" }
                ));
            };
            match entities.iter().find(|e| e.gql == target && e.target == Target::Table) {
                Some(e) => Some(e),
                None => {
                    return fail(format!(
                        "unknown entity {target} (from '@{directive_name}.targetEntity')"
                    ));
                }
            }
        }
    };
    let entity = entity?;
    let returns = match returns_of(&def.ty.node, entities, payloads) {
        Some((r @ (Returns::Boolean | Returns::Payload(_)), _)) => r,
        Some((r @ (Returns::Entity | Returns::Entities), e)) if kind == OperationKind::Insert && e == entity.gql => r,
        _ if kind == OperationKind::Insert => {
            return fail(format!(
                "invalid return type. Expected {}, Boolean or a response payload",
                entity.gql
            ));
        }
        _ => return fail("invalid return type. Expected Boolean or a response payload".into()),
    };
    let ttl = match d.and_then(|d| argument(d, "ttl")) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_ttl(text) {
            Ok(seconds) => Some(seconds),
            Err(problem) => {
                processor.error(field.pos, format!("Mutation {name}: {problem}"));
                return None;
            }
        },
        Some(Value::Number(n)) => n.as_i64(),
        Some(other) => {
            processor.error(
                field.pos,
                format!("Mutation {name}: can't parse TTL '{other}' (expected an integer or ISO-8601 duration string)"),
            );
            return None;
        }
    };
    let others: Vec<&Positioned<InputValueDefinition>> = def
        .arguments
        .iter()
        .filter(|a| Some(a.node.name.node.as_str()) != input_arg.map(|i| i.node.name.node.as_str()))
        .collect();
    let mut assignments = Vec::new();
    let (conditions, if_conditions) = if kind == OperationKind::Insert {
        (Vec::new(), Vec::new())
    } else {
        let mut others = others;
        if kind == OperationKind::Update && input_arg.is_none() {
            let (conditions, written) = update_arguments(processor, &name, &others, entity)?;
            others = conditions;
            assignments = written;
        }
        let (conditions, ifs) = argument_conditions(processor, &name, &others, entity, entities)?;
        if kind == OperationKind::Delete
            && input_arg.is_none()
            && let Err(problem) = check_no_filtering(entity, &conditions)
        {
            processor.error(field.pos, format!("Operation {name}: {problem}"));
            return None;
        }
        (conditions, ifs)
    };
    Some(Operation {
        name,
        kind,
        entity: entity.gql.clone(),
        returns,
        input_argument: input_arg.map(|a| a.node.name.node.to_string()),
        conditions,
        if_conditions,
        assignments,
        paging_argument: None,
        limit: None,
        page_size: 100,
        if_flag: flag,
        ttl,
        consistency: d.and_then(|d| enum_argument(d, "consistencyLevel")),
        serial_consistency: d.and_then(|d| enum_argument(d, "serialConsistency")),
    })
}

/// A TTL in seconds from an integer or an ISO-8601 duration (`PT1H`, `P1DT12H`, `PT0.5S` is
/// refused: the granularity is seconds).
fn parse_ttl(text: &str) -> Result<i64, String> {
    let cannot = || format!("can't parse TTL '{text}' (expected an integer or ISO-8601 duration string)");
    let seconds = if let Ok(n) = text.trim().parse::<i64>() {
        n
    } else {
        let rest = text.trim().strip_prefix('P').ok_or_else(cannot)?;
        let (days, time) = match rest.split_once('T') {
            Some((d, t)) => (d, t),
            None => (rest, ""),
        };
        let mut total: f64 = 0.0;
        let mut read = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
            let mut number = String::new();
            for c in part.chars() {
                if c.is_ascii_digit() || c == '.' {
                    number.push(c);
                } else {
                    let factor = units
                        .iter()
                        .find(|(u, _)| *u == c)
                        .map(|(_, f)| *f)
                        .ok_or_else(cannot)?;
                    total += number.parse::<f64>().map_err(|_| cannot())? * factor;
                    number.clear();
                }
            }
            if number.is_empty() { Ok(()) } else { Err(cannot()) }
        };
        read(days, &[('D', 86_400.0), ('W', 604_800.0)])?;
        read(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
        if total.fract() != 0.0 {
            return Err("TTL's minimum granularity is seconds, can't use fractional durations".into());
        }
        total as i64
    };
    if !(0..=i64::from(i32::MAX)).contains(&seconds) {
        return Err("TTL must between 0 and 2^31 - 1 seconds".into());
    }
    Ok(seconds)
}

// ---------------------------------------------------------------------------------------------
// Migration
// ---------------------------------------------------------------------------------------------

/// A CQL statement a deployment runs, with Stargate's description of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub cql: String,
    pub description: String,
}

pub const STRATEGIES: [&str; 5] = [
    "USE_EXISTING",
    "ADD_MISSING_TABLES",
    "ADD_MISSING_TABLES_AND_COLUMNS",
    "DROP_AND_RECREATE_ALL",
    "DROP_AND_RECREATE_IF_MISMATCH",
];

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Partition => "PARTITION_KEY",
        Kind::Clustering { .. } => "CLUSTERING",
        Kind::Regular => "REGULAR",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DifferenceKind {
    MissingColumn,
    WrongType,
    WrongKind,
    WrongClusteringOrder,
    MissingIndex,
}

struct Difference {
    kind: DifferenceKind,
    column: Column,
    description: Option<String>,
}

impl Difference {
    fn message(&self, table: &str) -> String {
        let kind = match self.kind {
            DifferenceKind::MissingColumn => "MISSING_COLUMN",
            DifferenceKind::WrongType => "WRONG_TYPE",
            DifferenceKind::WrongKind => "WRONG_KIND",
            DifferenceKind::WrongClusteringOrder => "WRONG_CLUSTERING_ORDER",
            DifferenceKind::MissingIndex => "MISSING_INDEX",
        };
        match &self.description {
            Some(d) => format!("[{kind}] {table}.{}: {d}", self.column.cql),
            None => format!("[{kind}] {table}.{}", self.column.cql),
        }
    }

    fn addable(&self) -> bool {
        matches!(self.kind, DifferenceKind::MissingColumn | DifferenceKind::MissingIndex) && !self.column.is_key()
    }
}

fn table_differences(
    entity: &Entity,
    table: &scylla::cluster::metadata::Table,
    descending: &HashSet<(String, String)>,
    indexed: &HashSet<String>,
) -> Vec<Difference> {
    let mut differences = Vec::new();
    for column in &entity.columns {
        let mut push = |kind, description: Option<String>| {
            differences.push(Difference {
                kind,
                column: column.clone(),
                description,
            })
        };
        let Some(actual) = table.columns.get(&column.cql) else {
            let description = match column.kind {
                Kind::Partition => Some("it can't be added because it is marked as a partition key".to_string()),
                Kind::Clustering { .. } => {
                    Some("it can't be added because it is marked as a clustering column".to_string())
                }
                Kind::Regular => None,
            };
            push(DifferenceKind::MissingColumn, description);
            continue;
        };
        let expected = column.cql_type.canonical();
        let found = describe_type(&actual.typ);
        let actual_kind = match actual.kind {
            ColumnKind::PartitionKey => Kind::Partition,
            ColumnKind::Clustering => Kind::Clustering {
                descending: descending.contains(&(entity.cql.clone(), column.cql.clone())),
            },
            _ => Kind::Regular,
        };
        let order = |k: Kind| {
            if k == (Kind::Clustering { descending: true }) {
                "DESC"
            } else {
                "ASC"
            }
        };
        if expected != found {
            push(
                DifferenceKind::WrongType,
                Some(format!("expected {expected}, found {found}")),
            );
        } else if std::mem::discriminant(&column.kind) != std::mem::discriminant(&actual_kind) {
            push(
                DifferenceKind::WrongKind,
                Some(format!(
                    "expected {}, found {}",
                    kind_name(column.kind),
                    kind_name(actual_kind)
                )),
            );
        } else if column.kind != actual_kind {
            push(
                DifferenceKind::WrongClusteringOrder,
                Some(format!("expected {}, found {}", order(column.kind), order(actual_kind))),
            );
        } else if column.index.is_some() && !indexed.contains(&column.cql) {
            push(DifferenceKind::MissingIndex, None);
        }
    }
    differences
}

fn create_table(keyspace: &str, entity: &Entity) -> Vec<Change> {
    let definitions: Vec<String> = entity
        .columns
        .iter()
        .map(|c| format!("{} {}", ident(&c.cql), c.cql_type.ddl()))
        .collect();
    let partition: Vec<String> = entity
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Partition)
        .map(|c| ident(&c.cql))
        .collect();
    let clustering: Vec<&Column> = entity
        .columns
        .iter()
        .filter(|c| matches!(c.kind, Kind::Clustering { .. }))
        .collect();
    let mut key = format!("({})", partition.join(", "));
    for c in &clustering {
        key.push_str(&format!(", {}", ident(&c.cql)));
    }
    let mut cql = format!(
        "CREATE TABLE {} ({}, PRIMARY KEY ({key}))",
        qualified(keyspace, &entity.cql),
        definitions.join(", ")
    );
    if !clustering.is_empty() {
        let orders: Vec<String> = clustering
            .iter()
            .map(|c| {
                let order = if c.kind == (Kind::Clustering { descending: true }) {
                    "DESC"
                } else {
                    "ASC"
                };
                format!("{} {order}", ident(&c.cql))
            })
            .collect();
        cql.push_str(&format!(" WITH CLUSTERING ORDER BY ({})", orders.join(", ")));
    }
    let mut changes = vec![Change {
        cql,
        description: format!("Create table {}", entity.cql),
    }];
    for column in &entity.columns {
        if column.index.is_some() {
            changes.push(create_index(keyspace, entity, column));
        }
    }
    changes
}

fn create_index(keyspace: &str, entity: &Entity, column: &Column) -> Change {
    let index = column.index.clone().unwrap_or(Index {
        name: format!("{}_{}_idx", entity.cql, column.cql),
        class: None,
        target: None,
        options: None,
    });
    let target = match index.target.as_deref() {
        Some("FULL") => format!("FULL({})", ident(&column.cql)),
        Some("KEYS") => format!("KEYS({})", ident(&column.cql)),
        Some("ENTRIES") => format!("ENTRIES({})", ident(&column.cql)),
        Some("VALUES") if matches!(column.cql_type, CqlType::List(..)) => format!("VALUES({})", ident(&column.cql)),
        _ => ident(&column.cql),
    };
    let mut cql = format!(
        "CREATE {}INDEX IF NOT EXISTS {} ON {} ({target})",
        if index.class.is_some() { "CUSTOM " } else { "" },
        ident(&index.name),
        qualified(keyspace, &entity.cql)
    );
    if let Some(class) = &index.class {
        cql.push_str(&format!(" USING {}", crate::gateway::cql::string_literal(class)));
        if let Some(options) = &index.options {
            cql.push_str(&format!(" WITH OPTIONS = {options}"));
        }
    }
    Change {
        cql,
        description: format!("Create index {} on {}.{}", index.name, entity.cql, column.cql),
    }
}

fn create_udt(keyspace: &str, entity: &Entity) -> Change {
    let fields: Vec<String> = entity
        .columns
        .iter()
        .map(|c| format!("{} {}", ident(&c.cql), c.cql_type.ddl()))
        .collect();
    Change {
        cql: format!(
            "CREATE TYPE {} ({})",
            qualified(keyspace, &entity.cql),
            fields.join(", ")
        ),
        description: format!("Create UDT {}", entity.cql),
    }
}

/// The statements that bring the keyspace in line with the mapping under `strategy`, or the
/// differences that prevent it (Stargate's `CassandraMigrator`).
pub fn migrate(
    mapping: &Mapping,
    keyspace: &str,
    metadata: &Keyspace,
    descending: &HashSet<(String, String)>,
    indexed: &HashMap<String, HashSet<String>>,
    strategy: &str,
) -> Result<Vec<Change>, DeployError> {
    let mut udts = Vec::new();
    let mut tables = Vec::new();
    let mut errors = Vec::new();
    let no_index = HashSet::new();
    for entity in &mapping.entities {
        match entity.target {
            Target::Udt => {
                let actual = metadata.user_defined_types.get(&entity.cql);
                let differences: Vec<Difference> = actual
                    .map(|udt| {
                        entity
                            .columns
                            .iter()
                            .filter_map(|c| match udt.field_types.iter().find(|(n, _)| n.as_ref() == c.cql) {
                                None => Some(Difference {
                                    kind: DifferenceKind::MissingColumn,
                                    column: c.clone(),
                                    description: None,
                                }),
                                Some((_, t)) if describe_type(t) != c.cql_type.canonical() => Some(Difference {
                                    kind: DifferenceKind::WrongType,
                                    column: c.clone(),
                                    description: Some(format!(
                                        "expected {}, found {}",
                                        c.cql_type.canonical(),
                                        describe_type(t)
                                    )),
                                }),
                                Some(_) => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let drop = Change {
                    cql: format!("DROP TYPE IF EXISTS {}", qualified(keyspace, &entity.cql)),
                    description: format!("Drop UDT {}", entity.cql),
                };
                match (strategy, actual) {
                    ("USE_EXISTING", None) => errors.push(format!("Missing UDT {}", entity.cql)),
                    ("DROP_AND_RECREATE_ALL", _) => udts.extend([drop, create_udt(keyspace, entity)]),
                    ("DROP_AND_RECREATE_IF_MISMATCH", Some(_)) if !differences.is_empty() => {
                        udts.extend([drop, create_udt(keyspace, entity)])
                    }
                    (_, None) => udts.push(create_udt(keyspace, entity)),
                    ("ADD_MISSING_TABLES_AND_COLUMNS", Some(_)) if differences.iter().all(Difference::addable) => {
                        for d in differences {
                            udts.push(Change {
                                cql: format!(
                                    "ALTER TYPE {} ADD {} {}",
                                    qualified(keyspace, &entity.cql),
                                    ident(&d.column.cql),
                                    d.column.cql_type.ddl()
                                ),
                                description: format!("Add field {} to UDT {}", d.column.cql, entity.cql),
                            });
                        }
                    }
                    ("DROP_AND_RECREATE_IF_MISMATCH", Some(_)) => {}
                    (_, Some(_)) => errors.extend(
                        differences
                            .iter()
                            .filter(|d| strategy != "ADD_MISSING_TABLES_AND_COLUMNS" || !d.addable())
                            .map(|d| d.message(&entity.cql)),
                    ),
                }
            }
            Target::Table => {
                let actual = metadata.tables.get(&entity.cql);
                let differences: Vec<Difference> = actual
                    .map(|t| table_differences(entity, t, descending, indexed.get(&entity.cql).unwrap_or(&no_index)))
                    .unwrap_or_default();
                let drop = Change {
                    cql: format!("DROP TABLE IF EXISTS {}", qualified(keyspace, &entity.cql)),
                    description: format!("Drop table {}", entity.cql),
                };
                match (strategy, actual) {
                    ("USE_EXISTING", None) => errors.push(format!("Missing table {}", entity.cql)),
                    ("DROP_AND_RECREATE_ALL", _) => {
                        tables.push(drop);
                        tables.extend(create_table(keyspace, entity));
                    }
                    ("DROP_AND_RECREATE_IF_MISMATCH", Some(_)) if !differences.is_empty() => {
                        tables.push(drop);
                        tables.extend(create_table(keyspace, entity));
                    }
                    (_, None) => tables.extend(create_table(keyspace, entity)),
                    ("ADD_MISSING_TABLES_AND_COLUMNS", Some(_)) if differences.iter().all(Difference::addable) => {
                        for d in differences {
                            if d.kind == DifferenceKind::MissingColumn {
                                tables.push(Change {
                                    cql: format!(
                                        "ALTER TABLE {} ADD {} {}",
                                        qualified(keyspace, &entity.cql),
                                        ident(&d.column.cql),
                                        d.column.cql_type.ddl()
                                    ),
                                    description: format!("Add column {} to table {}", d.column.cql, entity.cql),
                                });
                                if d.column.index.is_some() {
                                    tables.push(create_index(keyspace, entity, &d.column));
                                }
                            } else {
                                tables.push(create_index(keyspace, entity, &d.column));
                            }
                        }
                    }
                    ("DROP_AND_RECREATE_IF_MISMATCH", Some(_)) => {}
                    (_, Some(_)) => errors.extend(
                        differences
                            .iter()
                            .filter(|d| strategy != "ADD_MISSING_TABLES_AND_COLUMNS" || !d.addable())
                            .map(|d| d.message(&entity.cql)),
                    ),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(DeployError {
            message: format!(
                "The GraphQL schema that you provided can't be mapped to the current CQL data model. Consider using a different migration strategy (current: {strategy}). See details in `extensions.migrationErrors` below."
            ),
            key: "migrationErrors",
            details: errors.into_iter().map(serde_json::Value::String).collect(),
        });
    }
    // Drops first, then types, then tables (a table may use a type).
    let (drops, creates): (Vec<Change>, Vec<Change>) =
        udts.into_iter().chain(tables).partition(|c| c.cql.starts_with("DROP"));
    Ok(drops.into_iter().chain(creates).collect())
}

// ---------------------------------------------------------------------------------------------
// Serving a deployed schema
// ---------------------------------------------------------------------------------------------

/// An entity with the CQL types of its columns as the node has them.
struct Served {
    keyspace: String,
    entity: Entity,
    types: HashMap<String, ColumnType<'static>>,
}

impl Served {
    fn typ(&self, column: &Column) -> Result<&ColumnType<'static>, String> {
        self.types
            .get(&column.cql)
            .ok_or_else(|| format!("Column {} of table {} does not exist", column.cql, self.entity.cql))
    }

    /// A GraphQL input value of a column as a CQL value (enum values as text).
    fn to_cql(&self, column: &Column, value: &Value) -> Result<Option<CqlValue>, String> {
        types::from_graphql(&enums_as_strings(value), self.typ(column)?)
    }

    /// A row as the entity's GraphQL object.
    fn row(&self, names: &[String], row: Vec<Option<CqlValue>>) -> Value {
        Value::Object(
            names
                .iter()
                .zip(row)
                .filter_map(|(name, value)| {
                    let column = self.entity.columns.iter().find(|c| &c.cql == name)?;
                    let mut v = types::to_graphql(value.as_ref());
                    if column.is_enum {
                        v = strings_as_enums(v);
                    }
                    Some((Name::new(&column.gql), v))
                })
                .collect(),
        )
    }

    fn select_list(&self) -> String {
        self.entity
            .columns
            .iter()
            .filter(|c| self.types.contains_key(&c.cql))
            .map(|c| ident(&c.cql))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn enums_as_strings(value: &Value) -> Value {
    match value {
        Value::Enum(name) => Value::String(name.to_string()),
        Value::List(items) => Value::List(items.iter().map(enums_as_strings).collect()),
        other => other.clone(),
    }
}

fn strings_as_enums(value: Value) -> Value {
    match value {
        Value::String(s) => Value::Enum(Name::new(s)),
        Value::List(items) => Value::List(items.into_iter().map(strings_as_enums).collect()),
        other => other,
    }
}

fn type_ref(ty: &Type) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.as_str()),
        BaseType::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
    };
    if ty.nullable {
        base
    } else {
        TypeRef::NonNull(Box::new(base))
    }
}

/// 16 random bytes shaped as a version-1 (time-based) UUID for now, as Cassandra's `now()`.
pub fn time_uuid() -> uuid::Uuid {
    let since_gregorian = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) / 100 + 0x01B2_1DD2_1381_4000;
    let ticks = u64::try_from(since_gregorian).unwrap_or(0);
    let random: [u8; 8] = rand::random();
    let time_low = (ticks & 0xFFFF_FFFF) as u32;
    let time_mid = ((ticks >> 32) & 0xFFFF) as u16;
    let time_hi = (((ticks >> 48) & 0x0FFF) as u16) | 0x1000;
    let mut tail = random;
    tail[0] = (tail[0] & 0x3F) | 0x80;
    uuid::Builder::from_fields(time_low, time_mid, time_hi, &tail).into_uuid()
}

#[derive(Clone)]
struct Statement {
    cql: String,
    binds: Vec<Bind>,
    options: Options,
}

fn conditions_cql(
    served: &Served,
    conditions: &[Condition],
    ctx: &ResolverContext<'_>,
    out: &mut Vec<String>,
    binds: &mut Vec<Bind>,
) -> Result<(), String> {
    for condition in conditions {
        let Some(value) = ctx.args.get(&condition.argument).map(|v| v.as_value().clone()) else {
            continue;
        };
        if matches!(value, Value::Null) {
            continue;
        }
        let column = served
            .entity
            .columns
            .iter()
            .find(|c| c.cql == condition.column)
            .ok_or("unknown column")?;
        let typ = served.typ(column)?;
        let col = ident(&column.cql);
        match condition.predicate {
            Predicate::In => {
                let Value::List(items) = value else {
                    return Err(format!("{}: IN needs a list", condition.argument));
                };
                out.push(format!("{col} IN ({})", vec!["?"; items.len()].join(", ")));
                for item in items {
                    binds.push(MaybeUnset::Set(types::from_graphql(&enums_as_strings(&item), typ)?));
                }
            }
            Predicate::Contains => {
                let element = match typ {
                    ColumnType::Collection {
                        typ: CollectionType::List(e) | CollectionType::Set(e),
                        ..
                    } => e.as_ref(),
                    ColumnType::Collection {
                        typ: CollectionType::Map(_, v),
                        ..
                    } => v.as_ref(),
                    other => other,
                };
                out.push(format!("{col} CONTAINS ?"));
                binds.push(MaybeUnset::Set(types::from_graphql(
                    &enums_as_strings(&value),
                    element,
                )?));
            }
            predicate => {
                out.push(format!("{col} {} ?", predicate.cql()));
                binds.push(MaybeUnset::Set(types::from_graphql(&enums_as_strings(&value), typ)?));
            }
        }
    }
    Ok(())
}

async fn select(ctx: &ResolverContext<'_>, op: &Operation, served: &Served) -> Result<Value, String> {
    let shared = ctx.data::<Arc<Shared>>().map_err(|e| e.message)?;
    let mut cql = format!(
        "SELECT {} FROM {}",
        served.select_list(),
        qualified(&served.keyspace, &served.entity.cql)
    );
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    conditions_cql(served, &op.conditions, ctx, &mut clauses, &mut binds)?;
    if !clauses.is_empty() {
        cql.push_str(&format!(" WHERE {}", clauses.join(" AND ")));
    }
    if let Some(limit) = op.limit {
        cql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut options = Options {
        page_size: op.page_size,
        ..op.options()
    };
    if let Some(arg) = &op.paging_argument
        && let Some(Value::String(state)) = ctx.args.get(arg).map(|v| v.as_value().clone())
    {
        options.paging_state = Some(BASE64.decode(state).map_err(|e| format!("Invalid paging state: {e}"))?);
    }
    let outcome = shared.cql.run(&cql, binds, &options).await.map_err(|e| cql_cause(&e))?;
    let page = outcome.page.unwrap_or_default();
    let names: Vec<String> = page.columns.iter().map(|(n, _)| n.clone()).collect();
    let rows: Vec<Value> = page.rows.into_iter().map(|r| served.row(&names, r)).collect();
    Ok(match &op.returns {
        Returns::Entity => rows.into_iter().next().unwrap_or(Value::Null),
        Returns::Entities => Value::List(rows),
        Returns::Boolean => Value::Boolean(!rows.is_empty()),
        Returns::Payload(_) => {
            let mut map = async_graphql::indexmap::IndexMap::new();
            if let Some((field, _)) = payload_field(ctx, op) {
                let many = payload_is_list(ctx, op);
                map.insert(
                    Name::new(field),
                    if many {
                        Value::List(rows)
                    } else {
                        rows.into_iter().next().unwrap_or(Value::Null)
                    },
                );
            }
            map.insert(
                Name::new("pagingState"),
                page.paging_state
                    .map_or(Value::Null, |s| Value::String(BASE64.encode(s))),
            );
            Value::Object(map)
        }
    })
}

/// The payload's entity field of an operation (name, entity).
fn payload_field(ctx: &ResolverContext<'_>, op: &Operation) -> Option<(String, String)> {
    let mapping = ctx.data::<Arc<Mapping>>().ok()?;
    let Returns::Payload(payload) = &op.returns else {
        return None;
    };
    mapping.payloads.get(payload)?.entity_field.clone()
}

fn payload_is_list(ctx: &ResolverContext<'_>, op: &Operation) -> bool {
    let Some(mapping) = ctx.data::<Arc<Mapping>>().ok() else {
        return false;
    };
    let Returns::Payload(payload) = &op.returns else {
        return false;
    };
    let Some((field, _)) = payload_field(ctx, op) else {
        return false;
    };
    mapping.document.definitions.iter().any(|d| match d {
        TypeSystemDefinition::Type(t) if t.node.name.node.as_str() == payload => match &t.node.kind {
            TypeKind::Object(o) => o
                .fields
                .iter()
                .any(|f| f.node.name.node.as_str() == field && is_list(&f.node.ty.node)),
            _ => false,
        },
        _ => false,
    })
}

/// The `[applied]` flag and the row a conditional statement returned.
fn applied_and_row(served: &Served, page: Option<crate::gateway::cql::Page>) -> (bool, Option<Value>) {
    let Some(page) = page else { return (true, None) };
    let names: Vec<String> = page.columns.iter().map(|(n, _)| n.clone()).collect();
    let Some(row) = page.rows.into_iter().next() else {
        return (true, None);
    };
    let applied = names
        .iter()
        .position(|n| n == "[applied]")
        .is_none_or(|i| matches!(row.get(i), Some(Some(CqlValue::Boolean(true)))));
    let has_columns = names.iter().any(|n| n != "[applied]");
    (applied, (!applied && has_columns).then(|| served.row(&names, row)))
}

async fn mutate(ctx: &ResolverContext<'_>, op: &Operation, served: &Arc<Served>) -> Result<Value, String> {
    let shared = ctx.data::<Arc<Shared>>().map_err(|e| e.message)?;
    let entity = &served.entity;
    let table = qualified(&served.keyspace, &entity.cql);
    let input = op
        .input_argument
        .as_ref()
        .and_then(|a| ctx.args.get(a))
        .map(|v| v.as_value().clone());
    let input_fields = match &input {
        Some(Value::Object(map)) => map.clone(),
        _ => Default::default(),
    };
    let mut echo = input_fields.clone();
    let mut key = Vec::new();
    let options = op.options();
    let statement = match op.kind {
        OperationKind::Insert => {
            let mut names = Vec::new();
            let mut binds = Vec::new();
            for column in &entity.columns {
                let given = input_fields
                    .get(column.gql.as_str())
                    .filter(|v| !matches!(v, Value::Null));
                let value = match given {
                    Some(v) => served.to_cql(column, v)?,
                    None if column.kind == Kind::Partition && maps_to_uuid(&column.ty) => {
                        let id = if base_name(&column.ty) == "TimeUuid" {
                            CqlValue::Timeuuid(time_uuid().into())
                        } else {
                            CqlValue::Uuid(uuid::Uuid::new_v4())
                        };
                        echo.insert(Name::new(&column.gql), types::to_graphql(Some(&id)));
                        Some(id)
                    }
                    None => continue,
                };
                if column.is_key()
                    && let Some(v) = &value
                {
                    key.push((column.cql.clone(), v.clone()));
                }
                names.push(ident(&column.cql));
                binds.push(MaybeUnset::Set(value));
            }
            let ttl = op.ttl.map(|t| format!(" USING TTL {t}")).unwrap_or_default();
            Statement {
                cql: format!(
                    "INSERT INTO {table} ({}) VALUES ({}){}{ttl}",
                    names.join(", "),
                    vec!["?"; names.len()].join(", "),
                    if op.if_flag { " IF NOT EXISTS" } else { "" }
                ),
                binds,
                options,
            }
        }
        OperationKind::Update | OperationKind::Delete => {
            let mut assignments = Vec::new();
            let mut where_clauses = Vec::new();
            let mut binds = Vec::new();
            let mut where_binds = Vec::new();
            for column in &entity.columns {
                let Some(v) = input_fields.get(column.gql.as_str()) else {
                    continue;
                };
                let value = served.to_cql(column, v)?;
                if column.is_key() {
                    if let Some(v) = &value {
                        key.push((column.cql.clone(), v.clone()));
                    }
                    where_clauses.push(format!("{} = ?", ident(&column.cql)));
                    where_binds.push(MaybeUnset::Set(value));
                } else if op.kind == OperationKind::Update {
                    assignments.push(format!("{} = ?", ident(&column.cql)));
                    binds.push(MaybeUnset::Set(value));
                }
            }
            for assignment in &op.assignments {
                let Some(v) = ctx.args.get(&assignment.argument).map(|v| v.as_value().clone()) else {
                    continue;
                };
                let column = entity
                    .columns
                    .iter()
                    .find(|c| c.cql == assignment.column)
                    .ok_or("unknown column")?;
                // GraphQL's input coercion: one value where a list is declared is a list of one.
                let is_list = matches!(
                    served.typ(column)?,
                    ColumnType::Collection {
                        typ: CollectionType::List(_) | CollectionType::Set(_),
                        ..
                    }
                );
                let v = match v {
                    Value::List(_) | Value::Null => v,
                    one if is_list => Value::List(vec![one]),
                    other => other,
                };
                let col = ident(&column.cql);
                assignments.push(match assignment.increment {
                    None => format!("{col} = ?"),
                    Some(false) => format!("{col} = {col} + ?"),
                    Some(true) => format!("{col} = ? + {col}"),
                });
                binds.push(MaybeUnset::Set(served.to_cql(column, &v)?));
            }
            conditions_cql(served, &op.conditions, ctx, &mut where_clauses, &mut where_binds)?;
            let mut ifs = Vec::new();
            let mut if_binds = Vec::new();
            conditions_cql(served, &op.if_conditions, ctx, &mut ifs, &mut if_binds)?;
            let mut cql = if op.kind == OperationKind::Update {
                let ttl = op.ttl.map(|t| format!(" USING TTL {t}")).unwrap_or_default();
                format!("UPDATE {table}{ttl} SET {}", assignments.join(", "))
            } else {
                format!("DELETE FROM {table}")
            };
            if !where_clauses.is_empty() {
                cql.push_str(&format!(" WHERE {}", where_clauses.join(" AND ")));
            }
            if op.if_flag {
                cql.push_str(" IF EXISTS");
            } else if !ifs.is_empty() {
                cql.push_str(&format!(" IF {}", ifs.join(" AND ")));
            }
            binds.extend(where_binds);
            binds.extend(if_binds);
            Statement { cql, binds, options }
        }
        OperationKind::Select => return Err("not a mutation".into()),
    };
    let planned = AtomicStatement {
        statement,
        key,
        answer: Answer {
            insert: op.kind == OperationKind::Insert,
            returns: op.returns.clone(),
            payload_field: payload_field(ctx, op).map(|(f, _)| f),
            echo: Value::Object(echo),
        },
        served: served.clone(),
    };
    match ctx.data::<super::RequestData>().map(|d| d.mutations.clone()) {
        Ok(MutationMode::Statements(collected)) => {
            let answer = planned.answer.value(true, None);
            collected
                .lock()
                .map_err(|_| "batch state poisoned".to_string())?
                .push(planned);
            return Ok(answer);
        }
        Ok(MutationMode::Replay(results)) => {
            let next = results
                .lock()
                .map_err(|_| "batch state poisoned".to_string())?
                .pop_front();
            return next.unwrap_or_else(|| Err("the batch has no result for this mutation".into()));
        }
        _ => {}
    }
    let outcome = shared
        .cql
        .run(
            &planned.statement.cql,
            planned.statement.binds.clone(),
            &planned.statement.options,
        )
        .await
        .map_err(|e| cql_cause(&e))?;
    let (applied, existing) = applied_and_row(served, outcome.page);
    Ok(planned.answer.value(applied, existing))
}

/// How a mutation answers once its statement ran.
#[derive(Debug, Clone)]
struct Answer {
    insert: bool,
    returns: Returns,
    payload_field: Option<String>,
    echo: Value,
}

impl Answer {
    fn value(&self, applied: bool, existing: Option<Value>) -> Value {
        // An insert answers with what it wrote; an update or delete with nothing (the entity's
        // fields null) unless a condition failed: then with the row that is there.
        let entity_value = match existing {
            Some(row) => row,
            None if self.insert => self.echo.clone(),
            None => Value::Object(Default::default()),
        };
        match &self.returns {
            Returns::Boolean => Value::Boolean(applied),
            Returns::Entity => entity_value,
            Returns::Entities => Value::List(vec![entity_value]),
            Returns::Payload(_) => {
                let mut map = async_graphql::indexmap::IndexMap::new();
                map.insert(Name::new("applied"), Value::Boolean(applied));
                if let Some(field) = &self.payload_field {
                    map.insert(Name::new(field), entity_value);
                }
                Value::Object(map)
            }
        }
    }
}

/// A mutation's statement, planned in the first pass of an `@atomic` operation.
pub struct AtomicStatement {
    statement: Statement,
    /// The primary key values given, to find the row of a batch that did not apply.
    key: Vec<(String, CqlValue)>,
    answer: Answer,
    served: Arc<Served>,
}

/// Runs an `@atomic` mutation on a deployed schema: a first pass plans every field's statement,
/// one LOGGED batch runs them, a second pass answers each field from the batch's outcome (when
/// a condition failed, every field is `applied: false` with its row, as Stargate answers).
pub async fn execute_atomic(
    shared: &Shared,
    schema: &Schema,
    request: async_graphql::Request,
) -> axum::response::Response {
    let again = async_graphql::Request::new(request.query.clone()).variables(request.variables.clone());
    let again = match &request.operation_name {
        Some(name) => again.operation_name(name.clone()),
        None => again,
    };
    let collected = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first_errors = super::FieldErrors::default();
    let first = schema
        .execute(request.data(super::RequestData {
            token_error: None,
            mutations: MutationMode::Statements(collected.clone()),
            errors: first_errors.clone(),
        }))
        .await;
    if !first.errors.is_empty() || !first_errors.is_empty() {
        return super::render(first, &first_errors);
    }
    let planned: Vec<AtomicStatement> = collected
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    let results: std::collections::VecDeque<Result<Value, String>> = match run_batch(shared, &planned).await {
        Err(cause) => planned.iter().map(|_| Err(cause.clone())).collect(),
        Ok(batch) => planned
            .iter()
            .map(|p| {
                if batch.applied {
                    return Ok(p.answer.value(true, None));
                }
                let existing = batch
                    .row_for(&p.key)
                    .map(|r| p.served.row(&batch.columns, r.clone()))
                    .unwrap_or(Value::Object(Default::default()));
                Ok(p.answer.value(false, Some(existing)))
            })
            .collect(),
    };
    let second_errors = super::FieldErrors::default();
    let second = schema
        .execute(again.data(super::RequestData {
            token_error: None,
            mutations: MutationMode::Replay(Arc::new(std::sync::Mutex::new(results))),
            errors: second_errors.clone(),
        }))
        .await;
    super::render(second, &second_errors)
}

async fn run_batch(shared: &Shared, planned: &[AtomicStatement]) -> Result<super::cql_first::BatchOutcome, String> {
    // The batch takes the first statement's consistencies (they all come from one request).
    let options = planned.first().map(|p| p.statement.options.clone()).unwrap_or_default();
    let statements = planned
        .iter()
        .map(|p| (p.statement.cql.as_str(), p.statement.binds.clone()))
        .collect();
    super::cql_first::run_logged_batch(shared, statements, &options).await
}

fn operation_field(op: Operation, ty: &Type, served: Arc<Served>) -> Field {
    let op = Arc::new(op);
    let name = op.name.clone();
    let nullable = ty.nullable;
    Field::new(name, type_ref(ty), move |ctx| {
        let op = op.clone();
        let served = served.clone();
        FieldFuture::new(async move {
            let key = response_key(&ctx);
            let result = if op.kind == OperationKind::Select {
                select(&ctx, &op, &served).await
            } else {
                mutate(&ctx, &op, &served).await
            };
            let result = result
                .map_err(|cause| fetch_error(&key, &cause))
                .map(|value| match value {
                    Value::Null => None,
                    value => Some(FieldValue::value(value)),
                });
            if nullable { caught(&ctx, result) } else { result }
        })
    })
}

fn input_value(def: &InputValueDefinition) -> InputValue {
    let mut input = InputValue::new(def.name.node.as_str(), type_ref(&def.ty.node));
    if let Some(default) = &def.default_value {
        input = input.default_value(default.node.clone());
    }
    if let Some(description) = &def.description {
        input = input.description(description.node.clone());
    }
    input
}

/// The dynamic schema serving a mapping on the keyspace whose tables are `metadata`.
pub fn build(
    shared: Arc<Shared>,
    keyspace: &str,
    mapping: Mapping,
    metadata: &Keyspace,
) -> Result<Schema, DeployError> {
    let mapping = Arc::new(mapping);
    let mut objects = Vec::new();
    let mut inputs = Vec::new();
    let mut enums = Vec::new();
    let mut declared_scalars = HashSet::new();
    let mut referenced = HashSet::new();
    let mut note = |ty: &Type| {
        referenced.insert(base_name(ty).to_string());
    };
    let served: HashMap<String, Arc<Served>> = mapping
        .entities
        .iter()
        .filter(|e| e.target == Target::Table)
        .map(|e| {
            let types = metadata
                .tables
                .get(&e.cql)
                .map(|t| t.columns.iter().map(|(n, c)| (n.clone(), c.typ.clone())).collect())
                .unwrap_or_default();
            (
                e.gql.clone(),
                Arc::new(Served {
                    keyspace: keyspace.to_string(),
                    entity: e.clone(),
                    types,
                }),
            )
        })
        .collect();
    let mut query = Object::new(&mapping.query_type);
    let mut mutation = mapping.mutation_type.as_ref().map(Object::new);
    for definition in &mapping.document.definitions {
        let TypeSystemDefinition::Type(t) = definition else {
            continue;
        };
        let name = t.node.name.node.as_str();
        match &t.node.kind {
            TypeKind::Scalar => {
                declared_scalars.insert(name.to_string());
            }
            TypeKind::Enum(e) => {
                enums.push(Enum::new(name).items(e.values.iter().map(|v| v.node.value.node.to_string())));
            }
            TypeKind::InputObject(input) => {
                let mut object = InputObject::new(name);
                for field in &input.fields {
                    note(&field.node.ty.node);
                    object = object.field(input_value(&field.node));
                }
                inputs.push(object);
            }
            TypeKind::Object(object) => {
                let is_query = name == mapping.query_type;
                let is_mutation = mapping.mutation_type.as_deref() == Some(name);
                if is_query || is_mutation {
                    for field in &object.fields {
                        note(&field.node.ty.node);
                        let Some(op) = mapping.operations.iter().find(|o| {
                            o.name == field.node.name.node.as_str() && (o.kind == OperationKind::Select) == is_query
                        }) else {
                            continue;
                        };
                        let Some(entity) = served.get(&op.entity) else { continue };
                        let mut built = operation_field(op.clone(), &field.node.ty.node, entity.clone());
                        for arg in &field.node.arguments {
                            note(&arg.node.ty.node);
                            built = built.argument(input_value(&arg.node));
                        }
                        if let Some(description) = &field.node.description {
                            built = built.description(description.node.clone());
                        }
                        if is_query {
                            query = query.field(built);
                        } else if let Some(m) = mutation.take() {
                            mutation = Some(m.field(built));
                        }
                    }
                } else {
                    let mut built = Object::new(name);
                    for field in &object.fields {
                        note(&field.node.ty.node);
                        let n = field.node.name.node.as_str();
                        built = built.field(value_field(n, n, type_ref(&field.node.ty.node)));
                    }
                    objects.push(built);
                }
            }
            _ => {}
        }
    }
    // The generated input types (`@cql_input`): the entity's fields, with UUID keys optional.
    for entity in &mapping.entities {
        let Some(input_name) = &entity.input else { continue };
        let mut object = InputObject::new(input_name);
        for column in &entity.columns {
            let mut ty = column.ty.clone();
            if column.is_key() && maps_to_uuid(&ty) {
                ty.nullable = true;
            }
            let inner = base_name(&ty).to_string();
            if let Some(udt) = mapping.entity(&inner).filter(|e| e.target == Target::Udt)
                && let Some(udt_input) = &udt.input
            {
                ty = replace_base(&ty, udt_input);
            }
            note(&ty);
            object = object.field(InputValue::new(&column.gql, type_ref(&ty)));
        }
        inputs.push(object);
    }
    let mut builder = Schema::build(&mapping.query_type, mapping.mutation_type.as_deref(), None)
        .register(query)
        .data(shared)
        .data(mapping.clone());
    if let Some(m) = mutation {
        builder = builder.register(m);
    }
    for scalar in CUSTOM_SCALARS {
        if referenced.contains(scalar) && !declared_scalars.contains(scalar) {
            builder = builder.register(Scalar::new(scalar));
        }
    }
    for scalar in declared_scalars {
        if !matches!(scalar.as_str(), "Int" | "Float" | "String" | "Boolean" | "ID") {
            builder = builder.register(Scalar::new(scalar));
        }
    }
    for object in objects {
        builder = builder.register(object);
    }
    for input in inputs {
        builder = builder.register(input);
    }
    for e in enums {
        builder = builder.register(e);
    }
    builder.finish().map_err(|e| DeployError {
        message: format!("The GraphQL schema that you provided is invalid: {}", e.0),
        key: "schemaErrors",
        details: vec![json!({"message": e.0})],
    })
}

fn replace_base(ty: &Type, name: &str) -> Type {
    Type {
        base: match &ty.base {
            BaseType::Named(_) => BaseType::Named(Name::new(name)),
            BaseType::List(inner) => BaseType::List(Box::new(replace_base(inner, name))),
        },
        nullable: ty.nullable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASKS: &str = r#"
type Task @cql_entity(name: "tasks") @cql_input {
  runId: ID! @cql_column(name: "run_id", partitionKey: true)
  seq: Int! @cql_column(clusteringOrder: DESC)
  title: String
  tags: [String]
}
type TasksPage @cql_payload { data: [Task] pagingState: String }
type InsertTaskResponse @cql_payload { applied: Boolean! task: Task }
type Query {
  tasksOfRun(runId: ID!, pagingState: String @cql_pagingState): TasksPage @cql_select(pageSize: 4)
  tasksAfter(runId: ID!, seq: Int! @cql_where(field: "seq", predicate: GT)): [Task]
}
type Mutation {
  insertTask(task: TaskInput!): InsertTaskResponse @cql_insert(ifNotExists: true)
  deleteTasksOfRun(runId: ID!): Boolean @cql_delete(targetEntity: "Task")
}
"#;

    #[test]
    fn an_entity_maps_to_a_table_with_its_keys_and_types() {
        let mapping = process(TASKS).expect("a valid schema");
        let task = mapping.entity("Task").expect("the entity");
        assert_eq!(task.cql, "tasks");
        assert_eq!(task.input.as_deref(), Some("TaskInput"));
        let columns: Vec<(&str, String, Kind)> = task
            .columns
            .iter()
            .map(|c| (c.cql.as_str(), c.cql_type.ddl(), c.kind))
            .collect();
        assert_eq!(
            columns,
            [
                ("run_id", "uuid".to_string(), Kind::Partition),
                ("seq", "int".to_string(), Kind::Clustering { descending: true }),
                ("title", "text".to_string(), Kind::Regular),
                ("tags", "list<text>".to_string(), Kind::Regular),
            ]
        );
        let changes = create_table("ks", task);
        assert_eq!(
            changes[0].cql,
            "CREATE TABLE \"ks\".\"tasks\" (\"run_id\" uuid, \"seq\" int, \"title\" text, \"tags\" list<text>, PRIMARY KEY ((\"run_id\"), \"seq\")) WITH CLUSTERING ORDER BY (\"seq\" DESC)"
        );
        assert_eq!(changes[0].description, "Create table tasks");
    }

    #[test]
    fn operations_are_read_from_directives_and_names() {
        let mapping = process(TASKS).expect("a valid schema");
        let by_name = |n: &str| mapping.operations.iter().find(|o| o.name == n).expect(n);
        let page = by_name("tasksOfRun");
        assert_eq!(page.kind, OperationKind::Select);
        assert_eq!(page.page_size, 4);
        assert_eq!(page.paging_argument.as_deref(), Some("pagingState"));
        assert_eq!(page.conditions.len(), 1);
        let after = by_name("tasksAfter");
        assert_eq!(after.conditions[1].predicate, Predicate::Gt);
        let insert = by_name("insertTask");
        assert!(insert.kind == OperationKind::Insert && insert.if_flag);
        assert_eq!(insert.input_argument.as_deref(), Some("task"));
        let delete = by_name("deleteTasksOfRun");
        assert_eq!(delete.kind, OperationKind::Delete);
        assert_eq!(delete.entity, "Task");
    }

    #[test]
    fn the_first_uuid_field_becomes_the_partition_key_and_others_are_refused() {
        let mapping =
            process("type Book { id: ID! title: String } type Query { book(id: ID!): Book }").expect("a valid schema");
        assert_eq!(mapping.entity("Book").expect("Book").columns[0].kind, Kind::Partition);
        assert!(
            mapping.logs[0].text.contains("using id as the partition key"),
            "{:?}",
            mapping.logs
        );

        let error = process("type Book { title: String } type Query { book(title: String): Book }")
            .expect_err("no partition key");
        assert_eq!(error.key, "mappingErrors");
        assert!(
            error.details[0]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Book must have at least one partition key field"),
            "{:?}",
            error.details
        );
    }

    #[test]
    fn a_delete_by_key_fields_must_name_its_entity() {
        let error = process(
            "type Book { id: ID! } type Query { book(id: ID!): Book } type Mutation { removeBook(id: ID!): Boolean }",
        )
        .expect_err("no target entity");
        assert_eq!(
            error.details[0]["message"],
            "Mutation removeBook: if a delete doesn't take an entity input type, it must indicate the entity name in '@cql_delete.targetEntity'"
        );
    }

    #[test]
    fn a_udt_with_a_case_sensitive_name_is_refused() {
        let error = process(
            "type Address @cql_entity(target: UDT) { city: String } type P { id: ID! a: Address } type Query { p(id: ID!): P }",
        )
        .expect_err("a mixed-case UDT name");
        assert!(
            error.details[0]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Address: UDT names must be lower case"),
            "{:?}",
            error.details
        );
        let mapping = process(
            "type Address @cql_entity(name: \"address\", target: UDT) { city: String } type P { id: ID! a: Address } type Query { p(id: ID!): P }",
        )
        .expect("a lower-case UDT name");
        assert_eq!(
            mapping.entity("P").expect("P").columns[1].cql_type.ddl(),
            "frozen<\"address\">"
        );
    }

    #[test]
    fn query_conditions_are_checked_as_stargate_checks_them() {
        let first_error = |sdl: &str| -> String {
            let error = process(sdl).expect_err("a refused query");
            error.details[0]["message"].as_str().unwrap_or_default().to_string()
        };
        let book = "type Book { id: ID! @cql_column(partitionKey: true) n: Int @cql_column(clusteringOrder: ASC) title: String } ";
        assert_eq!(
            first_error(&format!("{book} type Query {{ byTitle(title: String): [Book] }}")),
            "Operation byTitle: non-primary key argument title must be indexed in order to use it in a condition"
        );
        assert_eq!(
            first_error(&format!("{book} type Query {{ byN(n: Int): [Book] }}")),
            "Operation byN: every partition key field of type Book must be present (expected: id)."
        );
        assert_eq!(
            first_error(&format!("{book} type Query {{ byId(id: String): [Book] }}")),
            "Operation byId: expected argument id to have type ID to match Book.id"
        );
        assert_eq!(
            first_error(&format!(
                "{book} type Query {{ after(id: ID!, n: Int @cql_where(field: \"id\", predicate: GT)): [Book] }}"
            )),
            "Operation after: predicate GT is not supported for partition key field id (expected EQ or IN)"
        );
        assert!(
            process(&format!(
                "{book} type Query {{ some(id: [ID] @cql_where(field: \"id\", predicate: IN)): [Book] }}"
            ))
            .is_ok()
        );
    }

    #[test]
    fn invalid_sdl_is_a_schema_error() {
        let error = process("type Query {").expect_err("not GraphQL");
        assert_eq!(error.key, "schemaErrors");
    }

    #[test]
    fn ttls_are_seconds_or_iso_durations() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("PT1H"), Ok(3600));
        assert_eq!(parse_ttl("P1DT2M"), Ok(86_520));
        assert!(parse_ttl("soon").is_err());
        assert!(parse_ttl("-1").is_err());
    }

    #[test]
    fn time_uuids_are_version_1() {
        let id = time_uuid();
        assert_eq!(id.get_version_num(), 1);
        assert_ne!(id, time_uuid());
    }
}
