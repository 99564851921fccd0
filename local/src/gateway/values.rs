//! CQL values ⇄ JSON, the way Stargate's REST API v2 renders and parses them (reference §2.3).
//!
//! Output follows what Stargate's Jackson setup prints: timestamps as `Instant.toString()`, counters
//! as strings, blobs as standard Base64, maps as JSON objects (or `[{"key","value"}]` lists when
//! `compactMapData=false`). Input is "loose": a JSON string is read as a CQL literal of the
//! column's type (so `"['a','b']"` fills a list and `"'abc'"` stores `abc`), other JSON types are
//! coerced. Everything here is pure and unit-tested; the types come from the prepared statement,
//! so the server decides what each bind marker expects.

use std::net::IpAddr;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use num_bigint::BigInt;
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::{
    Counter, CqlDate, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint,
};
use serde_json::{Map, Number, Value};

/// Why a JSON value cannot become a value of the column's CQL type (Stargate's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

type Result<T> = std::result::Result<T, ValueError>;

/// The name Stargate's codecs use for a CQL type in their error messages.
pub fn type_name(typ: &ColumnType) -> String {
    match typ {
        ColumnType::Native(native) => native_name(native).to_string(),
        ColumnType::Collection {
            typ: CollectionType::List(e),
            ..
        } => format!("list<{}>", type_name(e)),
        ColumnType::Collection {
            typ: CollectionType::Set(e),
            ..
        } => format!("set<{}>", type_name(e)),
        ColumnType::Collection {
            typ: CollectionType::Map(k, v),
            ..
        } => {
            format!("map<{}, {}>", type_name(k), type_name(v))
        }
        ColumnType::Tuple(elements) => {
            format!(
                "tuple<{}>",
                elements.iter().map(type_name).collect::<Vec<_>>().join(", ")
            )
        }
        ColumnType::UserDefinedType { definition, .. } => definition.name.to_string(),
        ColumnType::Vector { typ, dimensions } => format!("vector<{}, {dimensions}>", type_name(typ)),
        _ => "custom".to_string(),
    }
}

fn native_name(native: &NativeType) -> &'static str {
    match native {
        NativeType::Ascii => "ascii",
        NativeType::Boolean => "boolean",
        NativeType::Blob => "blob",
        NativeType::Counter => "counter",
        NativeType::Date => "date",
        NativeType::Decimal => "decimal",
        NativeType::Double => "double",
        NativeType::Duration => "duration",
        NativeType::Float => "float",
        NativeType::Int => "int",
        NativeType::BigInt => "bigint",
        NativeType::Text => "text",
        NativeType::Timestamp => "timestamp",
        NativeType::Inet => "inet",
        NativeType::SmallInt => "smallint",
        NativeType::TinyInt => "tinyint",
        NativeType::Time => "time",
        NativeType::Timeuuid => "timeuuid",
        NativeType::Uuid => "uuid",
        NativeType::Varint => "varint",
        _ => "custom",
    }
}

// ---------------------------------------------------------------------------------------------
// CQL → JSON
// ---------------------------------------------------------------------------------------------

/// A cell as Stargate's REST API prints it; `None` (a CQL null) is JSON `null`.
pub fn to_json(value: Option<&CqlValue>, compact_maps: bool) -> Value {
    let Some(value) = value else { return Value::Null };
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => Value::String(s.clone()),
        CqlValue::Boolean(b) => Value::Bool(*b),
        CqlValue::TinyInt(n) => Value::from(*n),
        CqlValue::SmallInt(n) => Value::from(*n),
        CqlValue::Int(n) => Value::from(*n),
        CqlValue::BigInt(n) => Value::from(*n),
        // Stargate's REST API prints counters as strings (its codec reads them as Java Longs
        // boxed into text), unlike bigint.
        CqlValue::Counter(Counter(n)) => Value::String(n.to_string()),
        CqlValue::Varint(v) => exact_number(&BigInt::from_signed_bytes_be(v.as_signed_bytes_be_slice()).to_string()),
        CqlValue::Decimal(d) => {
            let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
            exact_number(&java_big_decimal(&BigInt::from_signed_bytes_be(bytes), scale))
        }
        CqlValue::Float(f) => float_number(f64::from(*f), &format!("{f:?}")),
        CqlValue::Double(f) => float_number(*f, &format!("{f:?}")),
        CqlValue::Uuid(u) => Value::String(u.to_string()),
        CqlValue::Timeuuid(u) => Value::String(u.to_string()),
        CqlValue::Timestamp(CqlTimestamp(ms)) => Value::String(render_timestamp(*ms)),
        CqlValue::Date(CqlDate(days)) => Value::String(render_date(*days)),
        CqlValue::Time(CqlTime(nanos)) => Value::String(render_time(*nanos)),
        CqlValue::Duration(d) => Value::String(render_duration(d)),
        CqlValue::Inet(ip) => Value::String(render_inet(ip)),
        CqlValue::Blob(bytes) => Value::String(BASE64.encode(bytes)),
        CqlValue::List(items) | CqlValue::Set(items) | CqlValue::Vector(items) => {
            Value::Array(items.iter().map(|v| to_json(Some(v), compact_maps)).collect())
        }
        CqlValue::Map(entries) if compact_maps => {
            let mut object = Map::new();
            for (key, value) in entries {
                let key = match to_json(Some(key), compact_maps) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, to_json(Some(value), compact_maps));
            }
            Value::Object(object)
        }
        CqlValue::Map(entries) => Value::Array(
            entries
                .iter()
                .map(|(k, v)| {
                    let mut entry = Map::new();
                    entry.insert("key".into(), to_json(Some(k), compact_maps));
                    entry.insert("value".into(), to_json(Some(v), compact_maps));
                    Value::Object(entry)
                })
                .collect(),
        ),
        CqlValue::Tuple(items) => Value::Array(items.iter().map(|v| to_json(v.as_ref(), compact_maps)).collect()),
        CqlValue::UserDefinedType { fields, .. } => {
            let mut object = Map::new();
            for (name, value) in fields {
                object.insert(name.clone(), to_json(value.as_ref(), compact_maps));
            }
            Value::Object(object)
        }
        CqlValue::Empty => Value::Null,
        _ => Value::Null,
    }
}

/// A JSON number with exactly these digits (serde_json keeps them with `arbitrary_precision`).
fn exact_number(text: &str) -> Value {
    Number::from_str(text)
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Floats print as Java does for finite values (`1.5`, `1.0`); NaN and infinities as strings.
fn float_number(value: f64, text: &str) -> Value {
    if value.is_finite() {
        exact_number(text)
    } else {
        Value::String(text.to_string())
    }
}

/// `Instant.toString()`: UTC, seconds always, the fraction in groups of three digits.
pub fn render_timestamp(millis: i64) -> String {
    match DateTime::from_timestamp_millis(millis) {
        Some(t) if millis.rem_euclid(1000) == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => millis.to_string(),
    }
}

/// Days since the CQL date epoch (1970-01-01 = 2^31) as `YYYY-MM-DD`.
pub fn render_date(days: u32) -> String {
    let offset = i64::from(days) - (1_i64 << 31);
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(offset)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| offset.to_string())
}

/// Nanoseconds since midnight as ISO local time, `HH:mm:ss` plus the fraction without trailing zeros.
pub fn render_time(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let mut text = format!("{:02}:{:02}:{:02}", seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

/// Stargate's duration text: units `y mo d h m s ms us ns`, a leading `-` when negative, and the
/// empty string for a zero duration.
pub fn render_duration(d: &CqlDuration) -> String {
    let negative = d.months < 0 || d.days < 0 || d.nanoseconds < 0;
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    let months = i64::from(d.months).unsigned_abs();
    let days = i64::from(d.days).unsigned_abs();
    let mut nanos = d.nanoseconds.unsigned_abs();
    let mut push = |amount: u64, unit: &str| {
        if amount > 0 {
            text.push_str(&format!("{amount}{unit}"));
        }
    };
    push(months / 12, "y");
    push(months % 12, "mo");
    push(days, "d");
    for (unit, size) in [
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        push(nanos / size, unit);
        nanos %= size;
    }
    push(nanos, "ns");
    if text == "-" { String::new() } else { text }
}

/// Java's `InetAddress.getHostAddress()`: IPv6 in full, each group in hex without leading zeros.
pub fn render_inet(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// Java's `BigDecimal.toString()`: plain notation unless the exponent is positive or the number
/// is smaller than 10^-6, then scientific (`1E+3`, `1.5E-7`).
pub fn java_big_decimal(unscaled: &BigInt, scale: i32) -> String {
    let text = unscaled.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let len = digits.len() as i64;
    let adjusted = -i64::from(scale) + (len - 1);
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            return format!("{sign}{int}.{frac}");
        }
        return format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()));
    }
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}.{rest}")
    };
    let exponent = if adjusted >= 0 {
        format!("+{adjusted}")
    } else {
        adjusted.to_string()
    };
    format!("{sign}{mantissa}E{exponent}")
}

// ---------------------------------------------------------------------------------------------
// JSON → CQL
// ---------------------------------------------------------------------------------------------

/// A JSON value (loosely typed, strings read as CQL literals) as a value of `typ`; `None` is null.
pub fn from_json(json: &Value, typ: &ColumnType, compact_maps: bool) -> Result<Option<CqlValue>> {
    match json {
        Value::Null => Ok(None),
        Value::String(s) => from_stringified(s, typ),
        _ => from_typed_json(json, typ, compact_maps).map(Some),
    }
}

/// A string (a path segment, or a JSON string) read as a CQL literal of `typ`.
pub fn from_stringified(text: &str, typ: &ColumnType) -> Result<Option<CqlValue>> {
    let text = unquote(text);
    match typ {
        ColumnType::Native(native) => scalar_from_str(&text, native, typ).map(Some),
        _ => {
            let literal = parse_literal(&text).map_err(|e| invalid_string(&text, typ, &e))?;
            literal_to_cql(&literal, typ).map_err(|e| invalid_string(&text, typ, &e.0))
        }
    }
}

/// Stargate strips one pair of single quotes around a string value and un-doubles `''`.
fn unquote(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.len() >= 2 && trimmed.starts_with('\'') && trimmed.ends_with('\'') {
        trimmed[1..trimmed.len() - 1].replace("''", "'")
    } else {
        text.to_string()
    }
}

fn invalid_string(text: &str, typ: &ColumnType, detail: &str) -> ValueError {
    let mut message = format!(
        "Invalid String value ('{text}'): not valid representation/value for target protobuf type: {}",
        type_name(typ)
    );
    if !detail.is_empty() {
        message.push_str(&format!(" ({detail})"));
    }
    ValueError(message)
}

fn cannot_coerce(json: &Value, typ: &ColumnType) -> ValueError {
    let described = match json {
        Value::Number(n) => format!("Number {n}"),
        Value::Bool(b) => format!("Boolean value ({b})"),
        Value::String(s) => format!("String value '{s}'"),
        Value::Array(_) => "Array value".to_string(),
        Value::Object(_) => "Object value".to_string(),
        Value::Null => "'null'".to_string(),
    };
    ValueError(format!(
        "Cannot coerce {described} into expected protobuf type: {}",
        type_name(typ)
    ))
}

fn from_typed_json(json: &Value, typ: &ColumnType, compact_maps: bool) -> Result<CqlValue> {
    let fail = || cannot_coerce(json, typ);
    match (typ, json) {
        (ColumnType::Native(native), Value::Number(n)) => number_to_cql(n, native, typ),
        (ColumnType::Native(NativeType::Text), Value::Bool(b)) => Ok(CqlValue::Text(b.to_string())),
        (ColumnType::Native(NativeType::Ascii), Value::Bool(b)) => Ok(CqlValue::Ascii(b.to_string())),
        (ColumnType::Native(NativeType::Boolean), Value::Bool(b)) => Ok(CqlValue::Boolean(*b)),
        (
            ColumnType::Collection {
                typ: CollectionType::List(element),
                ..
            },
            Value::Array(items),
        ) => Ok(CqlValue::List(elements_from_json(items, element, compact_maps)?)),
        (
            ColumnType::Collection {
                typ: CollectionType::Set(element),
                ..
            },
            Value::Array(items),
        ) => Ok(CqlValue::Set(elements_from_json(items, element, compact_maps)?)),
        (ColumnType::Vector { typ: element, .. }, Value::Array(items)) => {
            Ok(CqlValue::Vector(elements_from_json(items, element, compact_maps)?))
        }
        (
            ColumnType::Collection {
                typ: CollectionType::Map(key_type, value_type),
                ..
            },
            Value::Object(object),
        ) if compact_maps => {
            let mut entries = Vec::with_capacity(object.len());
            for (key, value) in object {
                let key =
                    from_stringified(key, key_type)?.ok_or_else(|| ValueError("map keys cannot be null".into()))?;
                let value = from_json(value, value_type, compact_maps)?
                    .ok_or_else(|| ValueError("map values cannot be null".into()))?;
                entries.push((key, value));
            }
            Ok(CqlValue::Map(entries))
        }
        (
            ColumnType::Collection {
                typ: CollectionType::Map(key_type, value_type),
                ..
            },
            Value::Array(items),
        ) if !compact_maps => {
            let mut entries = Vec::with_capacity(items.len());
            for item in items {
                let (Some(key), Some(value)) = (item.get("key"), item.get("value")) else {
                    return Err(ValueError(format!(
                        "Map entries must be JSON objects with 'key' and 'value' ({}): {item}",
                        type_name(typ)
                    )));
                };
                let key = from_json(key, key_type, compact_maps)?
                    .ok_or_else(|| ValueError("map keys cannot be null".into()))?;
                let value = from_json(value, value_type, compact_maps)?
                    .ok_or_else(|| ValueError("map values cannot be null".into()))?;
                entries.push((key, value));
            }
            Ok(CqlValue::Map(entries))
        }
        (ColumnType::Tuple(types), Value::Array(items)) => {
            if items.len() != types.len() {
                return Err(ValueError(format!(
                    "Tuple expected {} values, got {}",
                    types.len(),
                    items.len()
                )));
            }
            let values = items
                .iter()
                .zip(types)
                .map(|(item, t)| from_json(item, t, compact_maps))
                .collect::<Result<Vec<_>>>()?;
            Ok(CqlValue::Tuple(values))
        }
        (ColumnType::UserDefinedType { definition, .. }, Value::Object(object)) => {
            let mut fields = Vec::with_capacity(object.len());
            for (name, value) in object {
                let Some((_, field_type)) = definition.field_types.iter().find(|(n, _)| n == name) else {
                    return Err(ValueError(format!(
                        "UDT '{}' does not have field '{name}'",
                        definition.name
                    )));
                };
                fields.push((name.clone(), from_json(value, field_type, compact_maps)?));
            }
            Ok(CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields,
            })
        }
        _ => Err(fail()),
    }
}

fn elements_from_json(items: &[Value], element: &ColumnType, compact_maps: bool) -> Result<Vec<CqlValue>> {
    items
        .iter()
        .map(|item| {
            from_json(item, element, compact_maps)?.ok_or_else(|| {
                ValueError(format!(
                    "null is not a valid element of a collection of {}",
                    type_name(element)
                ))
            })
        })
        .collect()
}

/// A JSON number for a native type. Integers narrow as Java does (no range check), as Stargate's
/// codecs call `Number.intValue()` and friends.
fn number_to_cql(n: &Number, native: &NativeType, typ: &ColumnType) -> Result<CqlValue> {
    let integral = || n.as_i64().or_else(|| n.as_u64().map(|u| u as i64));
    let need_integral = || integral().ok_or_else(|| cannot_coerce(&Value::Number(n.clone()), typ));
    let text = n.to_string();
    Ok(match native {
        NativeType::TinyInt => CqlValue::TinyInt(need_integral()? as i8),
        NativeType::SmallInt => CqlValue::SmallInt(need_integral()? as i16),
        NativeType::Int => CqlValue::Int(need_integral()? as i32),
        NativeType::BigInt => CqlValue::BigInt(need_integral()?),
        NativeType::Counter => CqlValue::Counter(Counter(need_integral()?)),
        NativeType::Timestamp => CqlValue::Timestamp(CqlTimestamp(need_integral()?)),
        NativeType::Float => CqlValue::Float(
            n.as_f64()
                .ok_or_else(|| cannot_coerce(&Value::Number(n.clone()), typ))? as f32,
        ),
        NativeType::Double => CqlValue::Double(
            n.as_f64()
                .ok_or_else(|| cannot_coerce(&Value::Number(n.clone()), typ))?,
        ),
        NativeType::Varint => parse_varint(&text).ok_or_else(|| cannot_coerce(&Value::Number(n.clone()), typ))?,
        NativeType::Decimal => parse_decimal(&text).ok_or_else(|| cannot_coerce(&Value::Number(n.clone()), typ))?,
        NativeType::Text => CqlValue::Text(text),
        NativeType::Ascii => CqlValue::Ascii(text),
        _ => return Err(cannot_coerce(&Value::Number(n.clone()), typ)),
    })
}

/// A scalar CQL value from its string form (`text` already unquoted).
fn scalar_from_str(text: &str, native: &NativeType, typ: &ColumnType) -> Result<CqlValue> {
    let bad = || invalid_string(text, typ, "");
    let trimmed = text.trim();
    Ok(match native {
        NativeType::Text => CqlValue::Text(text.to_string()),
        NativeType::Ascii => {
            if !text.is_ascii() {
                return Err(bad());
            }
            CqlValue::Ascii(text.to_string())
        }
        NativeType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" => CqlValue::Boolean(true),
            "false" => CqlValue::Boolean(false),
            _ => return Err(bad()),
        },
        NativeType::TinyInt => CqlValue::TinyInt(trimmed.parse().map_err(|_| bad())?),
        NativeType::SmallInt => CqlValue::SmallInt(trimmed.parse().map_err(|_| bad())?),
        NativeType::Int => CqlValue::Int(trimmed.parse().map_err(|_| bad())?),
        NativeType::BigInt => CqlValue::BigInt(trimmed.parse().map_err(|_| bad())?),
        NativeType::Counter => CqlValue::Counter(Counter(trimmed.parse().map_err(|_| bad())?)),
        NativeType::Varint => parse_varint(trimmed).ok_or_else(bad)?,
        NativeType::Decimal => parse_decimal(trimmed).ok_or_else(bad)?,
        NativeType::Float => CqlValue::Float(trimmed.parse().map_err(|_| bad())?),
        NativeType::Double => CqlValue::Double(trimmed.parse().map_err(|_| bad())?),
        NativeType::Uuid => CqlValue::Uuid(uuid::Uuid::parse_str(trimmed).map_err(|_| bad())?),
        NativeType::Timeuuid => {
            let id = uuid::Uuid::parse_str(trimmed).map_err(|_| bad())?;
            if id.get_version_num() != 1 {
                return Err(invalid_string(text, typ, "not a version 1 (time-based) UUID"));
            }
            CqlValue::Timeuuid(CqlTimeuuid::from(id))
        }
        NativeType::Timestamp => match trimmed.parse::<i64>() {
            Ok(millis) => CqlValue::Timestamp(CqlTimestamp(millis)),
            Err(_) => CqlValue::Timestamp(CqlTimestamp(parse_timestamp(trimmed).ok_or_else(bad)?)),
        },
        NativeType::Date => CqlValue::Date(CqlDate(parse_date(trimmed).ok_or_else(bad)?)),
        NativeType::Time => CqlValue::Time(CqlTime(parse_time(trimmed).ok_or_else(bad)?)),
        NativeType::Duration => CqlValue::Duration(parse_duration(trimmed).ok_or_else(bad)?),
        NativeType::Inet => CqlValue::Inet(parse_inet(trimmed).ok_or_else(bad)?),
        NativeType::Blob => {
            let hex = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X"));
            let bytes = match hex {
                Some(hex) => hex::decode(hex).map_err(|_| bad())?,
                None => BASE64.decode(trimmed).map_err(|_| bad())?,
            };
            CqlValue::Blob(bytes)
        }
        _ => return Err(bad()),
    })
}

fn parse_varint(text: &str) -> Option<CqlValue> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let value = BigInt::from_str(digits).ok()?;
    Some(CqlValue::Varint(CqlVarint::from_signed_bytes_be(
        value.to_signed_bytes_be(),
    )))
}

/// `[-+]digits[.digits][e[-+]digits]` as unscaled value and scale, as `new BigDecimal(text)` does.
pub fn parse_decimal(text: &str) -> Option<CqlValue> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (
            &text[..at],
            text[at + 1..]
                .strip_prefix('+')
                .unwrap_or(&text[at + 1..])
                .parse::<i32>()
                .ok()?,
        ),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !frac.chars().all(|c| c.is_ascii_digit()) || (int.trim_start_matches(['-', '+']).is_empty() && frac.is_empty()) {
        return None;
    }
    let digits = format!("{}{frac}", int.strip_prefix('+').unwrap_or(int));
    let digits = if digits == "-" || digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    let unscaled = BigInt::from_str(&digits).ok()?;
    let scale = i32::try_from(frac.len()).ok()?.checked_sub(exponent)?;
    Some(CqlValue::Decimal(CqlDecimal::from_signed_be_bytes_and_exponent(
        unscaled.to_signed_bytes_be(),
        scale,
    )))
}

/// `yyyy-MM-ddTHH:mm:ss[.fraction]` and an offset `Z`, `±hh`, `±hhmm` or `±hh:mm`, as epoch millis.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t_at = text.find('T')?;
    let time_part = &text[t_at + 1..];
    let (local, offset_seconds) = if let Some(stripped) = time_part.strip_suffix(['Z', 'z']) {
        (stripped, 0)
    } else {
        let at = time_part.rfind(['+', '-'])?;
        let sign = if time_part[at..].starts_with('-') { -1 } else { 1 };
        let offset = time_part[at + 1..].replace(':', "");
        let (hours, minutes) = match offset.len() {
            2 => (offset.parse::<i64>().ok()?, 0),
            4 => (offset[..2].parse::<i64>().ok()?, offset[2..].parse::<i64>().ok()?),
            _ => return None,
        };
        (&time_part[..at], sign * (hours * 3600 + minutes * 60))
    };
    let naive = NaiveDateTime::parse_from_str(&format!("{}T{local}", &text[..t_at]), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(naive.and_utc().timestamp_millis() - offset_seconds * 1000)
}

/// `YYYY-MM-DD` as days with the epoch at 2^31.
pub fn parse_date(text: &str) -> Option<u32> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let days = date.signed_duration_since(epoch).num_days() + (1_i64 << 31);
    u32::try_from(days).ok()
}

/// ISO local time (`HH:mm`, `HH:mm:ss`, `HH:mm:ss.fffffffff`) as nanoseconds since midnight.
pub fn parse_time(text: &str) -> Option<i64> {
    let time = NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()?;
    Some(i64::from(time.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(time.nanosecond()))
}

/// A CQL duration literal: `1h30m`, `-2w`, `P1Y2M3DT4H5M6S`, `P2W`.
pub fn parse_duration(text: &str) -> Option<CqlDuration> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mut months, mut days, mut nanos) = (0_i64, 0_i64, 0_i64);
    if let Some(iso) = body.strip_prefix(['P', 'p']) {
        let (date_part, time_part) = match iso.split_once(['T', 't']) {
            Some((d, t)) => (d, Some(t)),
            None => (iso, None),
        };
        for (amount, unit) in iso_components(date_part)? {
            match unit {
                'Y' => months += amount * 12,
                'M' => months += amount,
                'W' => days += amount * 7,
                'D' => days += amount,
                _ => return None,
            }
        }
        if let Some(time_part) = time_part {
            for (amount, unit) in iso_components(time_part)? {
                match unit {
                    'H' => nanos += amount * 3_600_000_000_000,
                    'M' => nanos += amount * 60_000_000_000,
                    'S' => nanos += amount * 1_000_000_000,
                    _ => return None,
                }
            }
        }
    } else {
        let lower = body.to_lowercase();
        let mut rest = lower.as_str();
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
            if digits_end == 0 {
                return None;
            }
            let amount: i64 = rest[..digits_end].parse().ok()?;
            rest = &rest[digits_end..];
            let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            match &rest[..unit_end] {
                "y" => months += amount * 12,
                "mo" => months += amount,
                "w" => days += amount * 7,
                "d" => days += amount,
                "h" => nanos += amount * 3_600_000_000_000,
                "m" => nanos += amount * 60_000_000_000,
                "s" => nanos += amount * 1_000_000_000,
                "ms" => nanos += amount * 1_000_000,
                "us" | "µs" => nanos += amount * 1_000,
                "ns" => nanos += amount,
                _ => return None,
            }
            rest = &rest[unit_end..];
        }
    }
    let sign = if negative { -1 } else { 1 };
    Some(CqlDuration {
        months: i32::try_from(months * sign).ok()?,
        days: i32::try_from(days * sign).ok()?,
        nanoseconds: nanos * sign,
    })
}

fn iso_components(text: &str) -> Option<Vec<(i64, char)>> {
    let mut out = Vec::new();
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            out.push((digits.parse().ok()?, c.to_ascii_uppercase()));
            digits.clear();
        }
    }
    digits.is_empty().then_some(out)
}

/// An IP address; a host name is resolved, as Java's `InetAddress.getByName` does.
fn parse_inet(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    use std::net::ToSocketAddrs;
    (text, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

// ---------------------------------------------------------------------------------------------
// CQL literals inside strings: "['a','b']", "{'k': 1}", "(1, true, 'x')", "{name: 'Bob'}"
// ---------------------------------------------------------------------------------------------

/// A parsed CQL literal; `{…}` is kept as entries and read as a set, map or UDT by the type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Quoted(String),
    Bare(String),
    List(Vec<Literal>),
    Braces(Vec<(Literal, Option<Literal>)>),
    Tuple(Vec<Literal>),
}

/// Parses one CQL literal (the whole text).
pub fn parse_literal(text: &str) -> std::result::Result<Literal, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let literal = parse_one(&chars, &mut at)?;
    skip_space(&chars, &mut at);
    if at != chars.len() {
        return Err(format!("unexpected '{}' at position {at}", chars[at]));
    }
    Ok(literal)
}

fn skip_space(chars: &[char], at: &mut usize) {
    while *at < chars.len() && chars[*at].is_whitespace() {
        *at += 1;
    }
}

fn parse_one(chars: &[char], at: &mut usize) -> std::result::Result<Literal, String> {
    skip_space(chars, at);
    let Some(&c) = chars.get(*at) else {
        return Err("unexpected end of value".into());
    };
    match c {
        '\'' | '"' => {
            *at += 1;
            let mut text = String::new();
            loop {
                match chars.get(*at) {
                    None => return Err("unterminated quoted string".into()),
                    Some(&q) if q == c => {
                        if chars.get(*at + 1) == Some(&c) {
                            text.push(c);
                            *at += 2;
                        } else {
                            *at += 1;
                            break;
                        }
                    }
                    Some(&other) => {
                        text.push(other);
                        *at += 1;
                    }
                }
            }
            // A double-quoted token is a case-sensitive identifier (UDT field names).
            Ok(if c == '\'' {
                Literal::Quoted(text)
            } else {
                Literal::Bare(text)
            })
        }
        '[' => Ok(Literal::List(parse_sequence(chars, at, ']')?)),
        '(' => Ok(Literal::Tuple(parse_sequence(chars, at, ')')?)),
        '{' => {
            *at += 1;
            let mut entries = Vec::new();
            skip_space(chars, at);
            if chars.get(*at) == Some(&'}') {
                *at += 1;
                return Ok(Literal::Braces(entries));
            }
            loop {
                let key = parse_one(chars, at)?;
                skip_space(chars, at);
                let value = if chars.get(*at) == Some(&':') {
                    *at += 1;
                    Some(parse_one(chars, at)?)
                } else {
                    None
                };
                entries.push((key, value));
                skip_space(chars, at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some('}') => {
                        *at += 1;
                        return Ok(Literal::Braces(entries));
                    }
                    _ => return Err("expected ',' or '}'".into()),
                }
            }
        }
        _ => {
            let start = *at;
            while *at < chars.len() && !chars[*at].is_whitespace() && !",:[]{}()".contains(chars[*at]) {
                *at += 1;
            }
            if start == *at {
                return Err(format!("unexpected '{c}' at position {start}"));
            }
            Ok(Literal::Bare(chars[start..*at].iter().collect()))
        }
    }
}

fn parse_sequence(chars: &[char], at: &mut usize, close: char) -> std::result::Result<Vec<Literal>, String> {
    *at += 1;
    let mut items = Vec::new();
    skip_space(chars, at);
    if chars.get(*at) == Some(&close) {
        *at += 1;
        return Ok(items);
    }
    loop {
        items.push(parse_one(chars, at)?);
        skip_space(chars, at);
        match chars.get(*at) {
            Some(',') => *at += 1,
            Some(&c) if c == close => {
                *at += 1;
                return Ok(items);
            }
            _ => return Err(format!("expected ',' or '{close}'")),
        }
    }
}

/// A parsed literal as a value of `typ`; the bare word `null` is a CQL null.
pub fn literal_to_cql(literal: &Literal, typ: &ColumnType) -> Result<Option<CqlValue>> {
    if let Literal::Bare(word) = literal
        && word.eq_ignore_ascii_case("null")
    {
        return Ok(None);
    }
    let mismatch = || ValueError(format!("{literal:?} is not a literal of type {}", type_name(typ)));
    let non_null = |l: &Literal, t: &ColumnType| {
        literal_to_cql(l, t)?.ok_or_else(|| ValueError(format!("null is not a valid element of {}", type_name(typ))))
    };
    Ok(Some(match (typ, literal) {
        (ColumnType::Native(native), Literal::Quoted(s) | Literal::Bare(s)) => scalar_from_str(s, native, typ)?,
        (
            ColumnType::Collection {
                typ: CollectionType::List(e),
                ..
            },
            Literal::List(items),
        ) => CqlValue::List(items.iter().map(|i| non_null(i, e)).collect::<Result<_>>()?),
        (ColumnType::Vector { typ: e, .. }, Literal::List(items)) => {
            CqlValue::Vector(items.iter().map(|i| non_null(i, e)).collect::<Result<_>>()?)
        }
        (
            ColumnType::Collection {
                typ: CollectionType::Set(e),
                ..
            },
            Literal::Braces(entries),
        ) if entries.iter().all(|(_, v)| v.is_none()) => {
            CqlValue::Set(entries.iter().map(|(i, _)| non_null(i, e)).collect::<Result<_>>()?)
        }
        (
            ColumnType::Collection {
                typ: CollectionType::Set(e),
                ..
            },
            Literal::List(items),
        ) => CqlValue::Set(items.iter().map(|i| non_null(i, e)).collect::<Result<_>>()?),
        (
            ColumnType::Collection {
                typ: CollectionType::Map(k, v),
                ..
            },
            Literal::Braces(entries),
        ) => {
            let mut map = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let value = value.as_ref().ok_or_else(mismatch)?;
                map.push((non_null(key, k)?, non_null(value, v)?));
            }
            CqlValue::Map(map)
        }
        (ColumnType::Tuple(types), Literal::Tuple(items)) => {
            if items.len() != types.len() {
                return Err(ValueError(format!(
                    "Tuple expected {} values, got {}",
                    types.len(),
                    items.len()
                )));
            }
            CqlValue::Tuple(
                items
                    .iter()
                    .zip(types)
                    .map(|(i, t)| literal_to_cql(i, t))
                    .collect::<Result<_>>()?,
            )
        }
        (ColumnType::UserDefinedType { definition, .. }, Literal::Braces(entries)) => {
            let mut fields = Vec::with_capacity(entries.len());
            for (name, value) in entries {
                let (Literal::Bare(name) | Literal::Quoted(name)) = name else {
                    return Err(mismatch());
                };
                let value = value.as_ref().ok_or_else(mismatch)?;
                let Some((_, field_type)) = definition.field_types.iter().find(|(n, _)| n == name) else {
                    return Err(ValueError(format!(
                        "UDT '{}' does not have field '{name}'",
                        definition.name
                    )));
                };
                fields.push((name.clone(), literal_to_cql(value, field_type)?));
            }
            CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields,
            }
        }
        _ => return Err(mismatch()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::cluster::metadata::UserDefinedType;
    use serde_json::json;
    use std::sync::Arc;

    fn native(n: NativeType) -> ColumnType<'static> {
        ColumnType::Native(n)
    }
    fn list(e: ColumnType<'static>) -> ColumnType<'static> {
        ColumnType::Collection {
            frozen: false,
            typ: CollectionType::List(Box::new(e)),
        }
    }
    fn set(e: ColumnType<'static>) -> ColumnType<'static> {
        ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Set(Box::new(e)),
        }
    }
    fn map(k: ColumnType<'static>, v: ColumnType<'static>) -> ColumnType<'static> {
        ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Map(Box::new(k), Box::new(v)),
        }
    }
    fn address() -> ColumnType<'static> {
        ColumnType::UserDefinedType {
            frozen: true,
            definition: Arc::new(UserDefinedType {
                name: "address".into(),
                keyspace: "ks".into(),
                field_types: vec![
                    ("street".into(), native(NativeType::Text)),
                    ("zip".into(), native(NativeType::Int)),
                ],
            }),
        }
    }

    #[test]
    fn timestamps_render_as_instant_to_string() {
        assert_eq!(render_timestamp(1_619_203_342_139), "2021-04-23T18:42:22.139Z");
        assert_eq!(render_timestamp(1_619_203_342_000), "2021-04-23T18:42:22Z");
        assert_eq!(render_timestamp(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn timestamps_parse_every_documented_offset_form_and_epoch_millis() {
        let expected = Some(1_619_203_342_139);
        assert_eq!(parse_timestamp("2021-04-23T18:42:22.139Z"), expected);
        assert_eq!(parse_timestamp("2021-04-23T20:42:22.139+02"), expected);
        assert_eq!(parse_timestamp("2021-04-23T20:42:22.139+0200"), expected);
        assert_eq!(parse_timestamp("2021-04-23T16:42:22.139-02:00"), expected);
        assert_eq!(
            parse_timestamp("2021-04-23T18:42:22.139"),
            None,
            "no offset, no instant"
        );
        let ts = native(NativeType::Timestamp);
        assert_eq!(
            from_json(&json!(1_619_203_342_139_i64), &ts, true),
            Ok(Some(CqlValue::Timestamp(CqlTimestamp(1_619_203_342_139))))
        );
    }

    #[test]
    fn dates_times_durations_round_trip() {
        let days = parse_date("2021-04-23").expect("date");
        assert_eq!(render_date(days), "2021-04-23");
        assert_eq!(render_date(1 << 31), "1970-01-01");
        assert_eq!(parse_time("12:30:05.5"), Some(45_005_500_000_000));
        assert_eq!(render_time(45_005_500_000_000), "12:30:05.5");
        assert_eq!(render_time(45_000_000_000_000), "12:30:00");
        let d = parse_duration("2w").expect("2w");
        assert_eq!(render_duration(&d), "14d");
        let d = parse_duration("1y2mo3d4h5m6s7ms8us9ns").expect("all units");
        assert_eq!(render_duration(&d), "1y2mo3d4h5m6s7ms8us9ns");
        assert_eq!(parse_duration("P1Y2M3DT4H5M6S"), parse_duration("1y2mo3d4h5m6s"));
        assert_eq!(render_duration(&parse_duration("-1h30m").expect("negative")), "-1h30m");
        assert_eq!(
            render_duration(&CqlDuration {
                months: 0,
                days: 0,
                nanoseconds: 0
            }),
            ""
        );
        assert_eq!(parse_duration("1x"), None);
    }

    #[test]
    fn decimals_print_like_java_big_decimal() {
        assert_eq!(java_big_decimal(&BigInt::from(110), 2), "1.10");
        assert_eq!(java_big_decimal(&BigInt::from(1), -3), "1E+3");
        assert_eq!(java_big_decimal(&BigInt::from(-5), 3), "-0.005");
        assert_eq!(java_big_decimal(&BigInt::from(15), 8), "1.5E-7");
        let Some(CqlValue::Decimal(d)) = parse_decimal("1.10") else {
            panic!("decimal")
        };
        let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
        assert_eq!((BigInt::from_signed_bytes_be(bytes), scale), (BigInt::from(110), 2));
        assert_eq!(java_big_decimal(&BigInt::from(-125), -1), "-1.25E+3");
        assert_eq!(to_json(parse_decimal("-12.5e2").as_ref(), true).as_f64(), Some(-1250.0));
    }

    #[test]
    fn big_numbers_stay_exact_in_json() {
        let varint = from_json(
            &json!("123456789012345678901234567890"),
            &native(NativeType::Varint),
            true,
        )
        .expect("varint");
        assert_eq!(
            to_json(varint.as_ref(), true).to_string(),
            "123456789012345678901234567890"
        );
        assert_eq!(to_json(Some(&CqlValue::Float(1.1)), true).to_string(), "1.1");
        assert_eq!(to_json(Some(&CqlValue::Double(2.0)), true).to_string(), "2.0");
        assert_eq!(to_json(Some(&CqlValue::Counter(Counter(2))), true), json!("2"));
    }

    #[test]
    fn scalars_are_loosely_typed() {
        let text = native(NativeType::Text);
        assert_eq!(from_json(&json!(1), &text, true), Ok(Some(CqlValue::Text("1".into()))));
        assert_eq!(
            from_json(&json!("'it''s'"), &text, true),
            Ok(Some(CqlValue::Text("it's".into())))
        );
        let int = native(NativeType::Int);
        assert_eq!(from_json(&json!("42"), &int, true), Ok(Some(CqlValue::Int(42))));
        assert_eq!(from_json(&json!(null), &int, true), Ok(None));
        assert!(from_json(&json!(1.5), &int, true).is_err());
        let boolean = native(NativeType::Boolean);
        assert_eq!(
            from_json(&json!("TRUE"), &boolean, true),
            Ok(Some(CqlValue::Boolean(true)))
        );
        let uuid = native(NativeType::Uuid);
        let error = from_json(&json!("not-really-uuid"), &uuid, true).expect_err("bad uuid");
        assert!(error.0.contains("Invalid String value ('not-really-uuid')"), "{error}");
        let blob = native(NativeType::Blob);
        assert_eq!(
            from_json(&json!("AQID"), &blob, true),
            Ok(Some(CqlValue::Blob(vec![1, 2, 3])))
        );
        assert_eq!(to_json(Some(&CqlValue::Blob(vec![1, 2, 3])), true), json!("AQID"));
    }

    #[test]
    fn inet_prints_java_host_address() {
        assert_eq!(render_inet(&"127.0.0.1".parse().expect("v4")), "127.0.0.1");
        assert_eq!(render_inet(&"::1".parse().expect("v6")), "0:0:0:0:0:0:0:1");
    }

    #[test]
    fn collections_accept_json_and_cql_literals() {
        let tags = set(native(NativeType::Text));
        let from_array = from_json(&json!(["a", "b"]), &tags, true).expect("array");
        let from_literal = from_json(&json!("{'a', 'b'}"), &tags, true).expect("literal");
        assert_eq!(from_array, from_literal);
        let scores = map(native(NativeType::Int), native(NativeType::Boolean));
        let literal = from_json(&json!("{123: true}"), &scores, true).expect("map literal");
        assert_eq!(
            literal,
            Some(CqlValue::Map(vec![(CqlValue::Int(123), CqlValue::Boolean(true))]))
        );
        let listed = from_json(&json!([{"key": 123, "value": true}]), &scores, false).expect("map entries");
        assert_eq!(listed, literal);
        let numbers = list(native(NativeType::Int));
        assert_eq!(
            from_json(&json!("[1, 2]"), &numbers, true),
            Ok(Some(CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)])))
        );
    }

    #[test]
    fn maps_render_compact_or_as_key_value_entries() {
        let value = CqlValue::Map(vec![(CqlValue::Int(1), CqlValue::Text("one".into()))]);
        assert_eq!(to_json(Some(&value), true), json!({"1": "one"}));
        assert_eq!(to_json(Some(&value), false), json!([{"key": 1, "value": "one"}]));
    }

    #[test]
    fn tuples_and_udts_accept_both_shapes() {
        let pair = ColumnType::Tuple(vec![
            native(NativeType::Int),
            native(NativeType::Boolean),
            native(NativeType::Text),
        ]);
        let from_literal = from_json(&json!("(1, true, 'x')"), &pair, true).expect("tuple literal");
        let from_array = from_json(&json!([1, true, "x"]), &pair, true).expect("tuple array");
        assert_eq!(from_literal, from_array);
        assert!(from_json(&json!([1, true]), &pair, true).is_err());
        let udt = address();
        let from_object = from_json(&json!({"street": "Main", "zip": 123}), &udt, true).expect("udt object");
        let from_literal = from_json(&json!("{street: 'Main', zip: 123}"), &udt, true).expect("udt literal");
        assert_eq!(from_object, from_literal);
        assert_eq!(
            to_json(from_object.as_ref(), true),
            json!({"street": "Main", "zip": 123})
        );
        assert!(from_json(&json!({"nope": 1}), &udt, true).is_err());
    }

    #[test]
    fn literal_parser_handles_nesting_and_quotes() {
        let parsed = parse_literal("{'a': ['x', 'it''s'], 'b': []}").expect("parse");
        let Literal::Braces(entries) = parsed else {
            panic!("braces")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].1,
            Some(Literal::List(vec![
                Literal::Quoted("x".into()),
                Literal::Quoted("it's".into())
            ]))
        );
        assert!(parse_literal("[1, 2").is_err());
        assert!(parse_literal("[1] extra").is_err());
    }
}
