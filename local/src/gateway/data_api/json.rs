//! JSON values as the Data API compares them: exact numbers (`1`, `1.0` and `1e0` are equal),
//! `{"$date": millis}` as a date, and one total order over types for sorting, `$min`/`$max` and
//! range filters: null < number < string < object < array < boolean < date.
//! Paths are dotted (`a.b.0`); a numeric segment indexes an array.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// A number as sign, significant digits and exponent: value = 0.`digits` × 10^`exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exp: i64,
}

fn decimal(number: &Number) -> Decimal {
    let text = number.to_string();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (
            &text[..i],
            text[i + 1..].trim_start_matches('+').parse::<i64>().unwrap_or(0),
        ),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_string();
    if digits.is_empty() {
        return Decimal {
            negative: false,
            digits,
            exp: 0,
        };
    }
    let exp = int_part.len() as i64 - leading as i64 + exponent;
    Decimal { negative, digits, exp }
}

/// Exact comparison of two JSON numbers.
pub fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    let (a, b) = (decimal(a), decimal(b));
    let sign = |d: &Decimal| {
        if d.digits.is_empty() {
            0
        } else if d.negative {
            -1
        } else {
            1
        }
    };
    let (sa, sb) = (sign(&a), sign(&b));
    if sa != sb || sa == 0 {
        return sa.cmp(&sb);
    }
    let magnitude = a.exp.cmp(&b.exp).then_with(|| {
        let width = a.digits.len().max(b.digits.len());
        format!("{:0<width$}", a.digits).cmp(&format!("{:0<width$}", b.digits))
    });
    if sa < 0 { magnitude.reverse() } else { magnitude }
}

/// One spelling per numeric value (`1`, `1.0`, `10e-1` → the same text): the key of numeric `_id`s.
pub fn canonical_number(number: &Number) -> String {
    let d = decimal(number);
    if d.digits.is_empty() {
        return "0".into();
    }
    format!("{}0.{}e{}", if d.negative { "-" } else { "" }, d.digits, d.exp)
}

/// The milliseconds of `{"$date": n}`.
pub fn date_millis(value: &Value) -> Option<i64> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.get("$date")?.as_i64()
}

fn type_rank(value: &Value) -> u8 {
    if date_millis(value).is_some() {
        return 6;
    }
    match value {
        Value::Null => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Object(_) => 3,
        Value::Array(_) => 4,
        Value::Bool(_) => 5,
    }
}

/// The Data API's total order over JSON values.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        _ if ra == 6 => date_millis(a).cmp(&date_millis(b)),
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let order = compare(p, q);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            for ((kp, vp), (kq, vq)) in x.iter().zip(y) {
                let order = kp.cmp(kq).then_with(|| compare(vp, vq));
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

/// Equality as filters see it (numbers by value, objects field by field in order).
pub fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

/// The value at a dotted path.
pub fn get_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = doc;
    for segment in path.split('.') {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Why an update could not reach a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A segment goes through a value that is neither an object nor an array.
    NotContainer(String),
}

/// The value at `path`, created as `default` (with objects on the way) when missing. An array on
/// the way is indexed by a numeric segment and padded with nulls.
pub fn get_or_create<'a>(doc: &'a mut Value, path: &str, default: Value) -> Result<&'a mut Value, PathError> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut current = doc;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let fill = if last {
            default.clone()
        } else {
            Value::Object(Map::new())
        };
        current = match current {
            Value::Object(map) => map.entry(segment.to_string()).or_insert(fill),
            Value::Array(items) => {
                let index = segment
                    .parse::<usize>()
                    .map_err(|_| PathError::NotContainer(segments[..i].join(".")))?;
                while items.len() <= index {
                    items.push(Value::Null);
                }
                if items[index].is_null() && !last {
                    items[index] = fill;
                }
                &mut items[index]
            }
            _ => return Err(PathError::NotContainer(segments[..i].join("."))),
        };
    }
    Ok(current)
}

/// Sets the value at `path` (creating objects on the way).
pub fn set_path(doc: &mut Value, path: &str, value: Value) -> Result<(), PathError> {
    let slot = get_or_create(doc, path, Value::Null)?;
    *slot = value;
    Ok(())
}

/// Removes the value at `path`; returns it when there was one.
pub fn remove_path(doc: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (get_path_mut(doc, parent)?, last),
        None => (doc, path),
    };
    match parent {
        Value::Object(map) => map.shift_remove(last),
        Value::Array(items) => {
            let index = last.parse::<usize>().ok()?;
            let slot = items.get_mut(index)?;
            // Removing from an array leaves a null, keeping the other positions.
            Some(std::mem::replace(slot, Value::Null))
        }
        _ => None,
    }
}

/// The value at a dotted path, mutable.
pub fn get_path_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut current = doc;
    for segment in path.split('.') {
        current = match current {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_compare_by_value_not_spelling() {
        assert_eq!(compare_numbers(&n("1"), &n("1.0")), Ordering::Equal);
        assert_eq!(compare_numbers(&n("10e-1"), &n("1")), Ordering::Equal);
        assert_eq!(compare_numbers(&n("-2"), &n("1")), Ordering::Less);
        assert_eq!(compare_numbers(&n("-2"), &n("-10")), Ordering::Greater);
        assert_eq!(compare_numbers(&n("0.1"), &n("0.05")), Ordering::Greater);
        assert_eq!(compare_numbers(&n("0"), &n("-0.0")), Ordering::Equal);
        assert_eq!(
            compare_numbers(&n("12345678901234567890"), &n("12345678901234567891")),
            Ordering::Less
        );
        assert_eq!(canonical_number(&n("1.50")), canonical_number(&n("15e-1")));
    }

    #[test]
    fn types_order_null_number_string_object_array_boolean_date() {
        let order = [
            json!(null),
            json!(5),
            json!("a"),
            json!({"a": 1}),
            json!([1]),
            json!(false),
            json!({"$date": 0}),
        ];
        for pair in order.windows(2) {
            assert_eq!(compare(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        let mut doc = json!({"a": {"b": [10, {"c": 1}]}});
        assert_eq!(get_path(&doc, "a.b.1.c"), Some(&json!(1)));
        assert_eq!(get_path(&doc, "a.x"), None);
        set_path(&mut doc, "a.d.e", json!(2)).unwrap();
        assert_eq!(doc["a"]["d"]["e"], json!(2));
        assert_eq!(remove_path(&mut doc, "a.d"), Some(json!({"e": 2})));
        assert!(set_path(&mut doc, "a.b.0.x", json!(1)).is_err());
    }
}
