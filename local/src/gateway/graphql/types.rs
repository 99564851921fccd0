//! CQL types and values as Stargate's GraphQL API shows them (reference §4.3): the names of the
//! generated types (with Stargate's escaping of CQL names), its scalars, and the conversion of
//! values between GraphQL and CQL.
//!
//! Scalars: `text` String, `int` Int, `double` Float, `float` Float32, `bigint` BigInt (a JSON
//! string), `counter` Counter, `varint` Varint and `decimal` Decimal (strings too), `timestamp`
//! Timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSSZ` in UTC), `time` Time (`HH:mm:ss.SSSSSSSSS`), `date`
//! Date, `uuid` Uuid, `timeuuid` TimeUuid, `inet` Inet, `blob` Blob (Base64), `duration` Duration.
//! Lists and sets are GraphQL lists, maps lists of `Entry<K>Key<V>Value {key, value}`, tuples
//! `Tuple<T1><T2>… {item0, item1, …}`, UDTs objects named `<udt>Udt`.

use std::collections::BTreeMap;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar, TypeRef};
use async_graphql::{Name, Number, Value};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::DateTime;
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::{Counter, CqlDate, CqlTime, CqlTimestamp, CqlValue};

use crate::gateway::values;

/// Stargate's custom scalars, in the order its schema declares them.
pub const CUSTOM_SCALARS: [&str; 16] = [
    "Uuid",
    "TimeUuid",
    "Inet",
    "Date",
    "Duration",
    "BigInt",
    "Counter",
    "Ascii",
    "Decimal",
    "Varint",
    "Float32",
    "Blob",
    "SmallInt",
    "TinyInt",
    "Timestamp",
    "Time",
];

/// The custom scalars as types of a dynamic schema.
pub fn custom_scalars() -> Vec<Scalar> {
    CUSTOM_SCALARS.iter().map(|name| Scalar::new(*name)).collect()
}

// ---------------------------------------------------------------------------------------------
// Names (Stargate's NameConversions)
// ---------------------------------------------------------------------------------------------

/// What a CQL name names; tables and UDTs get extra escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Table,
    Udt,
    Column,
}

/// Table names that would clash with the schema's own types get a fixed escaped name.
const RESERVED_NAMES: [(&str, &str); 28] = [
    ("Mutation", "Mutatiox6e_"),
    ("MutationConsistency", "MutationConsistencx79_"),
    ("MutationOptions", "MutationOptionx73_"),
    ("Query", "Querx79_"),
    ("QueryConsistency", "QueryConsistencx79_"),
    ("QueryOptions", "QueryOptionx73_"),
    ("SerialConsistency", "SerialConsistencx79_"),
    ("Boolean", "Booleax6e_"),
    ("Float", "Floax74_"),
    ("Int", "Inx74_"),
    ("String", "Strinx67_"),
    ("Uuid", "Uuix64_"),
    ("TimeUuid", "TimeUuix64_"),
    ("Inet", "Inex74_"),
    ("Date", "Datx65_"),
    ("Duration", "Duratiox6e_"),
    ("BigInt", "BigInx74_"),
    ("Counter", "Countex72_"),
    ("Ascii", "Ascix69_"),
    ("Decimal", "Decimax6c_"),
    ("Varint", "Varinx74_"),
    ("Float32", "Float32"),
    ("Blob", "Blox62_"),
    ("SmallInt", "SmallInx74_"),
    ("TinyInt", "TinyInx74_"),
    ("Timestamp", "Timestamx70_"),
    ("Time", "Timx65_"),
    ("conversionWarnings", "conversionWarningx73_"),
];
const RESERVED_PREFIXES: [(&str, &str); 2] = [("Entry", "Entrx79_"), ("Tuple", "Tuplx65_")];
const RESERVED_SUFFIXES: [(&str, &str); 4] = [
    ("Input", "Inpux74_"),
    ("Result", "Resulx74_"),
    ("Order", "Ordex72_"),
    ("Udt", "Udx74_"),
];

/// The GraphQL name of a CQL table, UDT or column.
pub fn graphql_name(cql: &str, kind: NameKind) -> String {
    if kind == NameKind::Table
        && let Some((_, escaped)) = RESERVED_NAMES.iter().find(|(name, _)| *name == cql)
    {
        return (*escaped).to_string();
    }
    let mut name = hex_escape(cql);
    if kind != NameKind::Column
        && let Some((prefix, replacement)) = RESERVED_PREFIXES.iter().find(|(p, _)| name.starts_with(p))
    {
        name = format!("{replacement}{}", &name[prefix.len()..]);
    }
    match kind {
        NameKind::Table => {
            if let Some((suffix, replacement)) = RESERVED_SUFFIXES.iter().find(|(s, _)| name.ends_with(s)) {
                name = format!("{}{replacement}", &name[..name.len() - suffix.len()]);
            }
        }
        NameKind::Udt => name.push_str("Udt"),
        NameKind::Column => {}
    }
    name
}

fn is_graphql_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Length of a hex escape `x<hex>_` starting at byte `i` (which holds an `x`), if there is one.
fn hex_escape_len(name: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < name.len() {
        let c = name[j];
        if c == b'_' {
            return (j > i + 1).then_some(j - i + 1);
        }
        if !(c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            return None;
        }
        j += 1;
    }
    None
}

fn needs_escape(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.starts_with("__")
        || name.starts_with(|c: char| c.is_ascii_digit())
        || name
            .char_indices()
            .any(|(i, c)| !is_graphql_char(c) || (c == 'x' && hex_escape_len(bytes, i).is_some()))
}

/// Characters outside `[A-Za-z0-9_]`, a leading digit, a leading `__` and anything that reads like
/// an escape become `x<hex code point>_`.
fn hex_escape(name: &str) -> String {
    if !needs_escape(name) {
        return name.to_string();
    }
    let bytes = name.as_bytes();
    let mut out = String::new();
    let mut rest = name.char_indices().peekable();
    if name.starts_with("__") {
        out.push_str("x5f__");
        rest.next();
        rest.next();
    } else if let Some((_, c)) = rest.peek().copied()
        && c.is_ascii_digit()
    {
        out.push_str(&format!("x{:x}_", c as u32));
        rest.next();
    }
    for (i, c) in rest {
        if !is_graphql_char(c) || (c == 'x' && hex_escape_len(bytes, i).is_some()) {
            out.push_str(&format!("x{:x}_", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// The GraphQL scalar of a native CQL type.
pub fn scalar_name(native: &NativeType) -> Option<&'static str> {
    Some(match native {
        NativeType::Ascii => "Ascii",
        NativeType::BigInt => "BigInt",
        NativeType::Blob => "Blob",
        NativeType::Boolean => "Boolean",
        NativeType::Counter => "Counter",
        NativeType::Date => "Date",
        NativeType::Decimal => "Decimal",
        NativeType::Double => "Float",
        NativeType::Duration => "Duration",
        NativeType::Float => "Float32",
        NativeType::Inet => "Inet",
        NativeType::Int => "Int",
        NativeType::SmallInt => "SmallInt",
        NativeType::Text => "String",
        NativeType::Time => "Time",
        NativeType::Timestamp => "Timestamp",
        NativeType::Timeuuid => "TimeUuid",
        NativeType::TinyInt => "TinyInt",
        NativeType::Uuid => "Uuid",
        NativeType::Varint => "Varint",
        _ => return None,
    })
}

/// The composite types (map entries, tuples, UDTs) a schema needs, each registered once.
#[derive(Default)]
pub struct Composites {
    pub objects: BTreeMap<String, Object>,
    pub inputs: BTreeMap<String, InputObject>,
}

/// A GraphQL type and the name it contributes to composite names (`List` + element for lists).
fn composite_part(typ: &TypeRef) -> String {
    match typ {
        TypeRef::Named(name) => name.to_string(),
        TypeRef::NonNull(inner) => composite_part(inner),
        TypeRef::List(inner) => format!("List{}", composite_part(inner)),
    }
}

/// A field of an object type whose parent value is a GraphQL object: reads `key` from it.
pub fn value_field(name: &str, key: &str, typ: TypeRef) -> Field {
    let key = key.to_string();
    Field::new(name, typ, move |ctx| {
        let key = key.clone();
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_to_value()?;
            Ok(match parent {
                Value::Object(map) => map
                    .get(key.as_str())
                    .filter(|v| !matches!(v, Value::Null))
                    .cloned()
                    .map(FieldValue::value),
                _ => None,
            })
        })
    })
}

impl Composites {
    /// The GraphQL type of a CQL type, output (`input == false`) or input; `None` when Stargate
    /// has no mapping (vectors, custom types).
    pub fn type_ref(&mut self, typ: &ColumnType, input: bool) -> Option<TypeRef> {
        match typ {
            ColumnType::Native(native) => scalar_name(native).map(TypeRef::named),
            ColumnType::Collection {
                typ: CollectionType::List(element) | CollectionType::Set(element),
                ..
            } => Some(TypeRef::List(Box::new(self.type_ref(element, input)?))),
            ColumnType::Collection {
                typ: CollectionType::Map(key, value),
                ..
            } => {
                let key_type = self.type_ref(key, input)?;
                let value_type = self.type_ref(value, input)?;
                let name = format!(
                    "Entry{}Key{}Value{}",
                    composite_part(&key_type),
                    composite_part(&value_type),
                    if input { "Input" } else { "" }
                );
                if input {
                    self.inputs.entry(name.clone()).or_insert_with(|| {
                        InputObject::new(&name)
                            .description("Represents a key/value type for a Map")
                            .field(InputValue::new("key", TypeRef::NonNull(Box::new(key_type))))
                            .field(InputValue::new("value", value_type))
                    });
                } else {
                    self.objects.entry(name.clone()).or_insert_with(|| {
                        Object::new(&name)
                            .description("Represents a key/value type for a Map")
                            .field(value_field("key", "key", TypeRef::NonNull(Box::new(key_type))))
                            .field(value_field("value", "value", value_type))
                    });
                }
                Some(TypeRef::List(Box::new(TypeRef::named(name))))
            }
            ColumnType::Tuple(elements) => {
                let types = elements
                    .iter()
                    .map(|e| self.type_ref(e, input))
                    .collect::<Option<Vec<_>>>()?;
                let name = format!(
                    "Tuple{}{}",
                    types.iter().map(composite_part).collect::<String>(),
                    if input { "Input" } else { "" }
                );
                if input {
                    self.inputs.entry(name.clone()).or_insert_with(|| {
                        types.into_iter().enumerate().fold(
                            InputObject::new(&name)
                                .description(format!("Represents a Tuple input type with {} items", elements.len())),
                            |object, (i, t)| object.field(InputValue::new(format!("item{i}"), t)),
                        )
                    });
                } else {
                    self.objects.entry(name.clone()).or_insert_with(|| {
                        types.into_iter().enumerate().fold(
                            Object::new(&name)
                                .description(format!("Represents a Tuple type with {} items", elements.len())),
                            |object, (i, t)| {
                                let item = format!("item{i}");
                                object.field(value_field(&item, &item, t))
                            },
                        )
                    });
                }
                Some(TypeRef::named(name))
            }
            ColumnType::UserDefinedType { definition, .. } => {
                let base = graphql_name(&definition.name, NameKind::Udt);
                let name = if input { format!("{base}Input") } else { base };
                let known = if input {
                    self.inputs.contains_key(&name)
                } else {
                    self.objects.contains_key(&name)
                };
                if !known {
                    let mut fields = Vec::new();
                    for (field, field_type) in &definition.field_types {
                        if let Some(t) = self.type_ref(field_type, input) {
                            fields.push((graphql_name(field, NameKind::Column), t));
                        }
                    }
                    if input {
                        let object = fields
                            .into_iter()
                            .fold(InputObject::new(&name), |o, (f, t)| o.field(InputValue::new(f, t)));
                        self.inputs.insert(name.clone(), object);
                    } else {
                        let object = fields
                            .into_iter()
                            .fold(Object::new(&name), |o, (f, t)| o.field(value_field(&f, &f, t)));
                        self.objects.insert(name.clone(), object);
                    }
                }
                Some(TypeRef::named(name))
            }
            _ => None,
        }
    }

    /// The filter input of a column type (`StringFilterInput`, `ListIntFilterInput`, …):
    /// `eq notEq gt gte lt lte in`, plus `contains` for lists and sets and `containsKey contains
    /// containsEntry` for maps.
    pub fn filter_ref(&mut self, typ: &ColumnType) -> Option<TypeRef> {
        let input = self.type_ref(typ, true)?;
        let base = match &input {
            TypeRef::Named(name) => name.strip_suffix("Input").unwrap_or(name).to_string(),
            other => composite_part(other)
                .strip_suffix("Input")
                .map(str::to_string)
                .unwrap_or_else(|| composite_part(other)),
        };
        let name = format!("{base}FilterInput");
        if !self.inputs.contains_key(&name) {
            let mut object = InputObject::new(&name);
            for op in ["eq", "notEq", "gt", "gte", "lt", "lte"] {
                object = object.field(InputValue::new(op, input.clone()));
            }
            object = object.field(InputValue::new("in", TypeRef::List(Box::new(input.clone()))));
            match typ {
                ColumnType::Collection {
                    typ: CollectionType::List(element) | CollectionType::Set(element),
                    ..
                } => {
                    let element = self.type_ref(element, true)?;
                    object = object.field(InputValue::new("contains", element));
                }
                ColumnType::Collection {
                    typ: CollectionType::Map(key, value),
                    ..
                } => {
                    let key = self.type_ref(key, true)?;
                    let value = self.type_ref(value, true)?;
                    let TypeRef::List(entry) = input.clone() else {
                        return None;
                    };
                    object = object
                        .field(InputValue::new("containsKey", key))
                        .field(InputValue::new("contains", value))
                        .field(InputValue::new("containsEntry", *entry));
                }
                _ => {}
            }
            self.inputs.insert(name.clone(), object);
        }
        Some(TypeRef::named(name))
    }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in UTC (Stargate's images run in UTC).
pub fn render_timestamp(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| millis.to_string())
}

/// `HH:mm:ss.SSSSSSSSS`.
pub fn render_time(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60,
        nanos.rem_euclid(1_000_000_000)
    )
}

fn number_value(text: &str) -> Value {
    text.parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A CQL value as Stargate's GraphQL API returns it (`None`, a CQL null, is `null`).
pub fn to_graphql(value: Option<&CqlValue>) -> Value {
    let Some(value) = value else { return Value::Null };
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => Value::String(s.clone()),
        CqlValue::Boolean(b) => Value::Boolean(*b),
        CqlValue::TinyInt(n) => Value::Number(Number::from(*n)),
        CqlValue::SmallInt(n) => Value::Number(Number::from(*n)),
        CqlValue::Int(n) => Value::Number(Number::from(*n)),
        CqlValue::BigInt(n) => Value::String(n.to_string()),
        CqlValue::Counter(Counter(n)) => Value::String(n.to_string()),
        CqlValue::Varint(_) | CqlValue::Decimal(_) => match values::to_json(Some(value), true) {
            serde_json::Value::Number(n) => Value::String(n.to_string()),
            serde_json::Value::String(s) => Value::String(s),
            other => Value::String(other.to_string()),
        },
        CqlValue::Float(f) if f.is_finite() => number_value(&format!("{f:?}")),
        CqlValue::Double(f) if f.is_finite() => number_value(&format!("{f:?}")),
        CqlValue::Float(f) => Value::String(f.to_string()),
        CqlValue::Double(f) => Value::String(f.to_string()),
        CqlValue::Uuid(u) => Value::String(u.to_string()),
        CqlValue::Timeuuid(u) => Value::String(u.to_string()),
        CqlValue::Timestamp(CqlTimestamp(ms)) => Value::String(render_timestamp(*ms)),
        CqlValue::Date(CqlDate(days)) => Value::String(values::render_date(*days)),
        CqlValue::Time(CqlTime(nanos)) => Value::String(render_time(*nanos)),
        CqlValue::Duration(d) => Value::String(values::render_duration(d)),
        CqlValue::Inet(ip) => Value::String(values::render_inet(ip)),
        CqlValue::Blob(bytes) => Value::String(BASE64.encode(bytes)),
        CqlValue::List(items) | CqlValue::Set(items) | CqlValue::Vector(items) => {
            Value::List(items.iter().map(|v| to_graphql(Some(v))).collect())
        }
        CqlValue::Map(entries) => Value::List(
            entries
                .iter()
                .map(|(k, v)| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(Name::new("key"), to_graphql(Some(k)));
                    entry.insert(Name::new("value"), to_graphql(Some(v)));
                    Value::Object(entry)
                })
                .collect(),
        ),
        CqlValue::Tuple(items) => Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (Name::new(format!("item{i}")), to_graphql(v.as_ref())))
                .collect(),
        ),
        CqlValue::UserDefinedType { fields, .. } => Value::Object(
            fields
                .iter()
                .map(|(name, v)| (Name::new(graphql_name(name, NameKind::Column)), to_graphql(v.as_ref())))
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// A GraphQL input value as a value of `typ` (`None` is a CQL null).
pub fn from_graphql(value: &Value, typ: &ColumnType) -> Result<Option<CqlValue>, String> {
    let invalid = || format!("Invalid value {} for type {}", describe(value), values::type_name(typ));
    match (typ, value) {
        (_, Value::Null) => Ok(None),
        (ColumnType::Native(NativeType::Text), Value::String(s)) => Ok(Some(CqlValue::Text(s.clone()))),
        (ColumnType::Native(NativeType::Ascii), Value::String(s)) if s.is_ascii() => {
            Ok(Some(CqlValue::Ascii(s.clone())))
        }
        (ColumnType::Native(NativeType::Date), Value::Number(n)) => n
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .map(|d| Some(CqlValue::Date(CqlDate(d))))
            .ok_or_else(invalid),
        (ColumnType::Native(NativeType::Time), Value::Number(n)) => {
            n.as_i64().map(|t| Some(CqlValue::Time(CqlTime(t)))).ok_or_else(invalid)
        }
        (
            ColumnType::Native(
                NativeType::Text
                | NativeType::Ascii
                | NativeType::Boolean
                | NativeType::Uuid
                | NativeType::Timeuuid
                | NativeType::Inet
                | NativeType::Duration
                | NativeType::Blob,
            ),
            Value::Number(_),
        ) => Err(invalid()),
        (ColumnType::Native(NativeType::Boolean), Value::Boolean(b)) => Ok(Some(CqlValue::Boolean(*b))),
        (ColumnType::Native(_), Value::String(s)) => values::from_stringified(s, typ).map_err(|e| e.0),
        (ColumnType::Native(_), Value::Number(n)) => {
            values::from_json(&serde_json::Value::Number(n.clone()), typ, true).map_err(|e| e.0)
        }
        (
            ColumnType::Collection {
                typ: CollectionType::List(element),
                ..
            },
            Value::List(items),
        ) => Ok(Some(CqlValue::List(elements(items, element)?))),
        (
            ColumnType::Collection {
                typ: CollectionType::Set(element),
                ..
            },
            Value::List(items),
        ) => Ok(Some(CqlValue::Set(elements(items, element)?))),
        (
            ColumnType::Collection {
                typ: CollectionType::Map(key_type, value_type),
                ..
            },
            Value::List(items),
        ) => {
            let mut entries = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(entry) = item else {
                    return Err(invalid());
                };
                let key = entry
                    .get("key")
                    .map(|k| from_graphql(k, key_type))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| "map keys cannot be null".to_string())?;
                let value = entry
                    .get("value")
                    .map(|v| from_graphql(v, value_type))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| "map values cannot be null".to_string())?;
                entries.push((key, value));
            }
            Ok(Some(CqlValue::Map(entries)))
        }
        (ColumnType::Tuple(types), Value::Object(items)) => {
            let mut out = Vec::with_capacity(types.len());
            for (i, t) in types.iter().enumerate() {
                out.push(match items.get(format!("item{i}").as_str()) {
                    Some(v) => from_graphql(v, t)?,
                    None => None,
                });
            }
            Ok(Some(CqlValue::Tuple(out)))
        }
        (ColumnType::UserDefinedType { definition, .. }, Value::Object(object)) => {
            let mut fields = Vec::with_capacity(object.len());
            for (name, field_type) in &definition.field_types {
                if let Some(v) = object.get(graphql_name(name, NameKind::Column).as_str()) {
                    fields.push((name.to_string(), from_graphql(v, field_type)?));
                }
            }
            Ok(Some(CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields,
            }))
        }
        _ => Err(invalid()),
    }
}

fn elements(items: &[Value], element: &ColumnType) -> Result<Vec<CqlValue>, String> {
    items
        .iter()
        .map(|item| from_graphql(item, element)?.ok_or_else(|| "collection elements cannot be null".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_stargate_escapes_them() {
        assert_eq!(graphql_name("book", NameKind::Table), "book");
        assert_eq!(graphql_name("Foo", NameKind::Table), "Foo");
        assert_eq!(graphql_name("Query", NameKind::Table), "Querx79_");
        assert_eq!(graphql_name("a-b", NameKind::Column), "ax2d_b");
        assert_eq!(graphql_name("1st", NameKind::Column), "x31_st");
        assert_eq!(graphql_name("__x", NameKind::Column), "x5f__x");
        assert_eq!(graphql_name("bookInput", NameKind::Table), "bookInpux74_");
        assert_eq!(graphql_name("EntryLog", NameKind::Table), "Entrx79_Log");
        assert_eq!(graphql_name("address", NameKind::Udt), "addressUdt");
    }

    #[test]
    fn values_render_with_stargates_scalars() {
        assert_eq!(to_graphql(Some(&CqlValue::BigInt(5))), Value::String("5".into()));
        assert_eq!(
            to_graphql(Some(&CqlValue::Timestamp(CqlTimestamp(0)))),
            Value::String("1970-01-01T00:00:00.000Z".into())
        );
        assert_eq!(
            to_graphql(Some(&CqlValue::Time(CqlTime(3_600_000_000_001)))),
            Value::String("01:00:00.000000001".into())
        );
        let typ = ColumnType::Native(NativeType::BigInt);
        assert_eq!(
            from_graphql(&Value::String("12".into()), &typ),
            Ok(Some(CqlValue::BigInt(12)))
        );
        assert!(from_graphql(&Value::String("x".into()), &typ).is_err());
    }
}
