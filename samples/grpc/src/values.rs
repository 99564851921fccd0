//! Stargate's `Value` ⇄ Rust types.
//!
//! Every bind value and every cell of a result is a `Value`: a protobuf `oneof` that says how the
//! value travels, not its CQL type. All integer types *and timestamps* travel as `int` (a
//! `sint64`), text as `string`, uuids as 16 bytes. The server converts a bind value by the CQL
//! type of its marker and is strict about it: an `int` column needs `Value.int` in 32-bit range,
//! a `timestamp` needs milliseconds as `Value.int`, a `text` column needs `Value.string`.
//!
//! Reading goes the other way: the column's CQL type (in the result set's `ColumnSpec`) says what
//! the `Value` means. These helpers are small on purpose; copy the ones you need.

use anyhow::{Context, anyhow};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

use crate::proto::stargate::value::{self, Inner};
use crate::proto::stargate::{self as pb, ColumnSpec, ResultSet, Row, Value, type_spec};

// ---- Rust → Value (bind values) ----------------------------------------------------------------

fn value(inner: Inner) -> Value {
    Value { inner: Some(inner) }
}

/// `text`, `varchar`, `ascii`.
pub fn text(s: impl Into<String>) -> Value {
    value(Inner::String(s.into()))
}

/// `int` (and `tinyint`, `smallint`): every integer travels as a 64-bit `Value.int`.
pub fn int(n: i32) -> Value {
    value(Inner::Int(i64::from(n)))
}

/// `bigint` (and `counter`).
pub fn bigint(n: i64) -> Value {
    value(Inner::Int(n))
}

/// `boolean`.
pub fn boolean(b: bool) -> Value {
    value(Inner::Boolean(b))
}

/// `double`.
pub fn double(f: f64) -> Value {
    value(Inner::Double(f))
}

/// `uuid` and `timeuuid`: the 16 bytes, most significant first.
pub fn uuid(u: Uuid) -> Value {
    value(Inner::Uuid(pb::Uuid {
        value: u.as_bytes().to_vec(),
    }))
}

/// `timestamp`: milliseconds since the Unix epoch, as `Value.int`.
pub fn timestamp(t: DateTime<Utc>) -> Value {
    value(Inner::Int(t.timestamp_millis()))
}

/// "Leave this column alone": nothing is written, so no tombstone is created, unlike a `null`.
/// Valid only as a bind value.
pub fn unset() -> Value {
    value(Inner::Unset(value::Unset {}))
}

// ---- Value → Rust (result cells) ---------------------------------------------------------------

/// Which `oneof` member a value uses, for error messages.
fn kind(v: &Value) -> &'static str {
    match &v.inner {
        None | Some(Inner::Null(_)) => "null",
        Some(Inner::Unset(_)) => "unset",
        Some(Inner::Int(_)) => "int",
        Some(Inner::Float(_)) => "float",
        Some(Inner::Double(_)) => "double",
        Some(Inner::Boolean(_)) => "boolean",
        Some(Inner::String(_)) => "string",
        Some(Inner::Bytes(_)) => "bytes",
        Some(Inner::Inet(_)) => "inet",
        Some(Inner::Uuid(_)) => "uuid",
        Some(Inner::Date(_)) => "date",
        Some(Inner::Time(_)) => "time",
        Some(Inner::Collection(_)) => "collection",
        Some(Inner::Udt(_)) => "udt",
        Some(Inner::Varint(_)) => "varint",
        Some(Inner::Decimal(_)) => "decimal",
        Some(Inner::Duration(_)) => "duration",
    }
}

fn expected(what: &str, v: &Value) -> anyhow::Error {
    anyhow!("expected {what}, got a {} value", kind(v))
}

pub fn as_text(v: &Value) -> anyhow::Result<String> {
    match &v.inner {
        Some(Inner::String(s)) => Ok(s.clone()),
        _ => Err(expected("a string", v)),
    }
}

pub fn as_int(v: &Value) -> anyhow::Result<i32> {
    match &v.inner {
        Some(Inner::Int(n)) => i32::try_from(*n).map_err(|_| anyhow!("{n} does not fit in an int")),
        _ => Err(expected("an int", v)),
    }
}

pub fn as_bigint(v: &Value) -> anyhow::Result<i64> {
    match &v.inner {
        Some(Inner::Int(n)) => Ok(*n),
        _ => Err(expected("an int", v)),
    }
}

pub fn as_boolean(v: &Value) -> anyhow::Result<bool> {
    match &v.inner {
        Some(Inner::Boolean(b)) => Ok(*b),
        _ => Err(expected("a boolean", v)),
    }
}

pub fn as_double(v: &Value) -> anyhow::Result<f64> {
    match &v.inner {
        Some(Inner::Double(f)) => Ok(*f),
        _ => Err(expected("a double", v)),
    }
}

pub fn as_uuid(v: &Value) -> anyhow::Result<Uuid> {
    match &v.inner {
        Some(Inner::Uuid(u)) => Uuid::from_slice(&u.value).context("a uuid has 16 bytes"),
        _ => Err(expected("a uuid", v)),
    }
}

pub fn as_timestamp(v: &Value) -> anyhow::Result<DateTime<Utc>> {
    match &v.inner {
        Some(Inner::Int(ms)) => {
            DateTime::from_timestamp_millis(*ms).with_context(|| format!("{ms} ms is out of range"))
        }
        _ => Err(expected("a timestamp (an int of milliseconds)", v)),
    }
}

/// A nullable column: `None` for a null cell, else the value read by `read`.
pub fn optional<T>(v: &Value, read: fn(&Value) -> anyhow::Result<T>) -> anyhow::Result<Option<T>> {
    match &v.inner {
        None | Some(Inner::Null(_)) => Ok(None),
        _ => read(v).map(Some),
    }
}

/// One row of a result set, read by column name rather than by position.
pub struct NamedRow<'a> {
    columns: &'a [ColumnSpec],
    row: &'a Row,
}

impl NamedRow<'_> {
    /// The cell of column `name`, read by `read` (`as_text`, `as_int`, …).
    pub fn get<T>(&self, name: &str, read: fn(&Value) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let index = self.columns.iter().position(|c| c.name == name).with_context(|| {
            format!("no column {name:?} in the result (did the query set skip_metadata, or not select it?)")
        })?;
        let cell = self
            .row
            .values
            .get(index)
            .with_context(|| format!("the row has no value for column {name:?}"))?;
        read(cell).with_context(|| format!("column {name:?}"))
    }
}

/// The rows of `result`, each readable by column name. Column names come with the result unless
/// the query set `skip_metadata`.
pub fn named_rows(result: &ResultSet) -> impl Iterator<Item = NamedRow<'_>> {
    result.rows.iter().map(|row| NamedRow {
        columns: &result.columns,
        row,
    })
}

// ---- Any value, for printing (`--cql`) ---------------------------------------------------------

/// A readable rendering of any value. The column's type (from the result's `ColumnSpec`) says
/// what the value means: an `int` may be a number or a timestamp, a collection a list, a set, a
/// map (flattened as key, value, key, value, …) or a tuple.
pub fn display(v: &Value, column_type: Option<&pb::TypeSpec>) -> String {
    use type_spec::Spec;
    let join = |parts: Vec<String>| parts.join(", ");
    match (&v.inner, column_type.and_then(|t| t.spec.as_ref())) {
        (Some(Inner::Int(ms)), Some(Spec::Basic(basic))) if *basic == type_spec::Basic::Timestamp as i32 => {
            DateTime::from_timestamp_millis(*ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339())
        }
        (Some(Inner::Collection(c)), Some(Spec::Map(map))) => {
            let (key_type, value_type) = (map.key.as_deref(), map.value.as_deref());
            let entries = c.elements.chunks(2).map(|entry| match entry {
                [key, value] => format!("{}: {}", display(key, key_type), display(value, value_type)),
                _ => entry.iter().map(|key| display(key, key_type)).collect(),
            });
            format!("{{{}}}", join(entries.collect()))
        }
        (Some(Inner::Collection(c)), Some(Spec::Set(set))) => {
            format!(
                "{{{}}}",
                join(c.elements.iter().map(|e| display(e, set.element.as_deref())).collect())
            )
        }
        (Some(Inner::Collection(c)), Some(Spec::List(list))) => {
            format!(
                "[{}]",
                join(c.elements.iter().map(|e| display(e, list.element.as_deref())).collect())
            )
        }
        (Some(Inner::Collection(c)), Some(Spec::Tuple(tuple))) => {
            let elements = c
                .elements
                .iter()
                .enumerate()
                .map(|(i, e)| display(e, tuple.elements.get(i)));
            format!("({})", join(elements.collect()))
        }
        (Some(Inner::Collection(c)), _) => format!("[{}]", join(c.elements.iter().map(|e| display(e, None)).collect())),
        (Some(Inner::Udt(udt)), spec) => {
            let field_type = |name: &str| match spec {
                Some(Spec::Udt(t)) => t.fields.get(name),
                _ => None,
            };
            let mut fields: Vec<String> = udt
                .fields
                .iter()
                .map(|(name, v)| format!("{name}: {}", display(v, field_type(name))))
                .collect();
            fields.sort();
            format!("{{{}}}", join(fields))
        }
        (inner, _) => display_scalar(inner.as_ref()),
    }
}

fn display_scalar(inner: Option<&Inner>) -> String {
    match inner {
        None | Some(Inner::Null(_)) => "null".into(),
        Some(Inner::Unset(_)) => "unset".into(),
        Some(Inner::Int(n)) => n.to_string(),
        Some(Inner::Float(f)) => f.to_string(),
        Some(Inner::Double(f)) => f.to_string(),
        Some(Inner::Boolean(b)) => b.to_string(),
        Some(Inner::String(s)) => s.clone(),
        Some(Inner::Bytes(b)) => format!("0x{}", hex(b)),
        Some(Inner::Inet(ip)) => match ip.value.len() {
            4 => <[u8; 4]>::try_from(ip.value.as_slice()).map(|a| std::net::Ipv4Addr::from(a).to_string()),
            _ => <[u8; 16]>::try_from(ip.value.as_slice()).map(|a| std::net::Ipv6Addr::from(a).to_string()),
        }
        .unwrap_or_else(|_| format!("0x{}", hex(&ip.value))),
        Some(Inner::Uuid(u)) => {
            Uuid::from_slice(&u.value).map_or_else(|_| format!("0x{}", hex(&u.value)), |u| u.to_string())
        }
        // Days, with the epoch (1970-01-01) at 2^31 so that earlier dates stay unsigned.
        Some(Inner::Date(days)) => {
            let offset = i64::from(*days) - (1_i64 << 31);
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(offset)))
                .map_or_else(|| days.to_string(), |d| d.to_string())
        }
        // Nanoseconds since midnight.
        Some(Inner::Time(nanos)) => {
            let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
            let frac = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
            NaiveTime::from_num_seconds_from_midnight_opt(secs, frac)
                .map_or_else(|| nanos.to_string(), |t| t.to_string())
        }
        Some(Inner::Varint(n)) => signed_be(&n.value).map_or_else(|| format!("0x{}", hex(&n.value)), |n| n.to_string()),
        Some(Inner::Decimal(d)) => match signed_be(&d.value) {
            Some(unscaled) => format!("{unscaled}E-{}", d.scale),
            None => format!("0x{}E-{}", hex(&d.value), d.scale),
        },
        Some(Inner::Duration(d)) => format!("{}mo{}d{}ns", d.months, d.days, d.nanos),
        Some(Inner::Collection(_) | Inner::Udt(_)) => "…".into(),
    }
}

/// A two's-complement big-endian integer of up to 16 bytes.
fn signed_be(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(full))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip() {
        assert_eq!(as_text(&text("hello")).unwrap(), "hello");
        assert_eq!(as_int(&int(-7)).unwrap(), -7);
        assert_eq!(as_bigint(&bigint(i64::MAX)).unwrap(), i64::MAX);
        assert!(as_boolean(&boolean(true)).unwrap());
        assert_eq!(as_double(&double(0.25)).unwrap(), 0.25);
        let id = Uuid::new_v4();
        assert_eq!(as_uuid(&uuid(id)).unwrap(), id);
        let t = DateTime::from_timestamp_millis(1_767_603_600_123).unwrap();
        assert_eq!(as_timestamp(&timestamp(t)).unwrap(), t);
    }

    #[test]
    fn timestamps_travel_as_milliseconds() {
        let t = DateTime::from_timestamp(1_767_603_600, 0).unwrap();
        assert_eq!(timestamp(t).inner, Some(Inner::Int(1_767_603_600_000)));
    }

    #[test]
    fn wrong_kind_and_range_are_errors() {
        let msg = as_int(&text("1")).unwrap_err().to_string();
        assert_eq!(msg, "expected an int, got a string value");
        let msg = as_int(&bigint(1 << 40)).unwrap_err().to_string();
        assert!(msg.contains("does not fit in an int"), "{msg}");
        let null = Value {
            inner: Some(Inner::Null(value::Null {})),
        };
        assert!(as_text(&null).unwrap_err().to_string().contains("got a null value"));
    }

    #[test]
    fn optional_reads_null_as_none() {
        let null = Value {
            inner: Some(Inner::Null(value::Null {})),
        };
        assert_eq!(optional(&null, as_double).unwrap(), None);
        assert_eq!(optional(&Value { inner: None }, as_double).unwrap(), None);
        assert_eq!(optional(&double(1.5), as_double).unwrap(), Some(1.5));
    }

    #[test]
    fn rows_are_read_by_column_name() {
        let result = ResultSet {
            columns: vec![
                ColumnSpec {
                    r#type: None,
                    name: "seq".into(),
                },
                ColumnSpec {
                    r#type: None,
                    name: "title".into(),
                },
            ],
            rows: vec![Row {
                values: vec![int(3), text("three")],
            }],
            paging_state: None,
        };
        let row = named_rows(&result).next().unwrap();
        assert_eq!(row.get("title", as_text).unwrap(), "three");
        assert_eq!(row.get("seq", as_int).unwrap(), 3);
        let msg = format!("{:#}", row.get("title", as_int).unwrap_err());
        assert_eq!(msg, "column \"title\": expected an int, got a string value");
        assert!(row.get("done", as_boolean).is_err());
    }

    #[test]
    fn display_uses_the_column_type_for_timestamps() {
        let ts = pb::TypeSpec {
            spec: Some(type_spec::Spec::Basic(type_spec::Basic::Timestamp as i32)),
        };
        assert_eq!(display(&bigint(0), Some(&ts)), "1970-01-01T00:00:00+00:00");
        assert_eq!(display(&bigint(0), None), "0");
        assert_eq!(display(&value(Inner::Date(1 << 31)), None), "1970-01-01");
        assert_eq!(display(&value(Inner::Time(3_600_000_000_000)), None), "01:00:00");
        assert_eq!(
            display(
                &value(Inner::Varint(pb::Varint {
                    value: vec![0xff, 0x38]
                })),
                None
            ),
            "-200"
        );
        let list = value(Inner::Collection(pb::Collection {
            elements: vec![int(1), text("a")],
        }));
        assert_eq!(display(&list, None), "[1, a]");
        let basic = |b: type_spec::Basic| pb::TypeSpec {
            spec: Some(type_spec::Spec::Basic(b as i32)),
        };
        let map_type = pb::TypeSpec {
            spec: Some(type_spec::Spec::Map(Box::new(type_spec::Map {
                key: Some(Box::new(basic(type_spec::Basic::Varchar))),
                value: Some(Box::new(basic(type_spec::Basic::Timestamp))),
                frozen: false,
            }))),
        };
        let map = value(Inner::Collection(pb::Collection {
            elements: vec![text("a"), bigint(0), text("b"), bigint(1000)],
        }));
        assert_eq!(
            display(&map, Some(&map_type)),
            "{a: 1970-01-01T00:00:00+00:00, b: 1970-01-01T00:00:01+00:00}"
        );
    }
}
