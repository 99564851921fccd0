//! The `filter` clause: field conditions (`{"age": {"$gt": 30}}`, or a value for `$eq`) joined
//! with `$and`, `$or` and `$not`, matched against documents in the gateway.
//!
//! Operators: `$eq`, `$ne`, `$in`, `$nin`, `$exists`, `$gt`, `$gte`, `$lt`, `$lte`, `$all`,
//! `$size`. As in the Data API, `$eq` on an array field also matches when an element equals the
//! value, ranges compare values of the same type only (numbers, strings, dates), and
//! `$ne`/`$nin` match documents without the field.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::errors::{Code, DataApiError, Result};
use super::json::{compare, date_millis, equal, get_path};
use super::storage::{DocId, is_ejson_literal};

/// One parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Field { path: String, op: Op },
}

/// A condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Range(Ordering, bool, Value),
    All(Vec<Value>),
    Size(usize),
}

fn invalid(detail: impl std::fmt::Display) -> DataApiError {
    DataApiError::new(Code::InvalidFilterExpression, detail)
}

/// Parses a `filter` (absent means every document).
pub fn parse(filter: Option<&Value>) -> Result<Filter> {
    match filter {
        None | Some(Value::Null) => Ok(Filter::And(Vec::new())),
        Some(Value::Object(map)) => parse_object(map),
        Some(other) => Err(DataApiError::new(
            Code::InvalidRequestStructureMismatch,
            format!("filter must be an object, not {other}"),
        )),
    }
}

fn parse_object(map: &Map<String, Value>) -> Result<Filter> {
    let mut all = Vec::with_capacity(map.len());
    for (key, value) in map {
        all.push(match key.as_str() {
            "$and" | "$or" => {
                let items = value
                    .as_array()
                    .filter(|items| !items.is_empty())
                    .ok_or_else(|| invalid(format!("'{key}' operator must have at least one filter as an array")))?;
                let parsed = items
                    .iter()
                    .map(|item| match item {
                        Value::Object(m) => parse_object(m),
                        _ => Err(invalid(format!("'{key}' operator must have an array of objects"))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                if key == "$and" {
                    Filter::And(parsed)
                } else {
                    Filter::Or(parsed)
                }
            }
            "$not" => match value {
                Value::Object(m) => Filter::Not(Box::new(parse_object(m)?)),
                _ => return Err(invalid("'$not' operator must have an object value")),
            },
            op if op.starts_with('$') => {
                return Err(DataApiError::new(Code::UnsupportedFilterOperation, op));
            }
            path => {
                if path.is_empty() {
                    return Err(invalid("filter path must not be empty"));
                }
                parse_field(path, value)?
            }
        });
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Filter::And(all)
    })
}

fn is_operator_object(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty() && map.keys().all(|k| k.starts_with('$')) && !is_ejson_literal(value),
        _ => false,
    }
}

fn parse_field(path: &str, value: &Value) -> Result<Filter> {
    if !is_operator_object(value) {
        check_id_value(path, value)?;
        return Ok(Filter::Field {
            path: path.to_string(),
            op: Op::Eq(value.clone()),
        });
    }
    let Value::Object(ops) = value else {
        unreachable!("checked above")
    };
    let mut conditions = Vec::with_capacity(ops.len());
    for (op, operand) in ops {
        let list = |name: &str| -> Result<Vec<Value>> {
            let items = operand
                .as_array()
                .ok_or_else(|| invalid(format!("'{name}' operator must have an array value")))?;
            items.iter().try_for_each(|v| check_id_value(path, v))?;
            Ok(items.clone())
        };
        let parsed = match op.as_str() {
            "$eq" => {
                check_id_value(path, operand)?;
                Op::Eq(operand.clone())
            }
            "$ne" => {
                check_id_value(path, operand)?;
                Op::Ne(operand.clone())
            }
            "$in" => Op::In(list("$in")?),
            "$nin" => Op::Nin(list("$nin")?),
            "$all" => Op::All(list("$all")?),
            "$exists" => Op::Exists(
                operand
                    .as_bool()
                    .ok_or_else(|| invalid("'$exists' operator supports only true or false"))?,
            ),
            "$size" => {
                let size = operand
                    .as_u64()
                    .or_else(|| {
                        operand
                            .as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| invalid("'$size' operator must have a non-negative integer value"))?;
                Op::Size(usize::try_from(size).unwrap_or(usize::MAX))
            }
            "$gt" | "$gte" | "$lt" | "$lte" => {
                let comparable = matches!(operand, Value::Number(_) | Value::String(_) | Value::Bool(_))
                    || date_millis(operand).is_some()
                    || (path == "_id" && is_ejson_literal(operand));
                if !comparable {
                    return Err(DataApiError::new(
                        Code::InvalidFilterExpression,
                        format!("'{op}' operator must have a value of type number, string, boolean or date"),
                    ));
                }
                let (direction, inclusive) = match op.as_str() {
                    "$gt" => (Ordering::Greater, false),
                    "$gte" => (Ordering::Greater, true),
                    "$lt" => (Ordering::Less, false),
                    _ => (Ordering::Less, true),
                };
                Op::Range(direction, inclusive, operand.clone())
            }
            other => return Err(DataApiError::new(Code::UnsupportedFilterOperation, other)),
        };
        conditions.push(Filter::Field {
            path: path.to_string(),
            op: parsed,
        });
    }
    Ok(if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Filter::And(conditions)
    })
}

/// `_id` values must be ids (not objects or arrays other than `$uuid`/`$objectId`/`$date`).
fn check_id_value(path: &str, value: &Value) -> Result<()> {
    if path == "_id" {
        DocId::from_json(value).map_err(|e| DataApiError::new(Code::InvalidFilterExpression, e.message))?;
    }
    Ok(())
}

impl Filter {
    /// True when `doc` passes the filter.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(doc)),
            Filter::Or(any) => any.iter().any(|f| f.matches(doc)),
            Filter::Not(inner) => !inner.matches(doc),
            Filter::Field { path, op } => op.matches(get_path(doc, path)),
        }
    }

    /// The `_id`s the filter is limited to, when it pins `_id` with `$eq` or `$in` at the top
    /// level: such a filter reads those rows by key instead of scanning.
    pub fn ids(&self) -> Option<Vec<Value>> {
        match self {
            Filter::Field { path, op } if path == "_id" => match op {
                Op::Eq(value) => Some(vec![value.clone()]),
                Op::In(values) => Some(values.clone()),
                _ => None,
            },
            Filter::And(all) => all.iter().find_map(Filter::ids),
            _ => None,
        }
    }

    /// The `$eq` conditions on plain values at the top level: an upsert starts from these.
    pub fn equalities(&self) -> Vec<(String, Value)> {
        match self {
            Filter::Field {
                path,
                op: Op::Eq(value),
            } => vec![(path.clone(), value.clone())],
            Filter::And(all) => all.iter().flat_map(Filter::equalities).collect(),
            _ => Vec::new(),
        }
    }
}

fn eq_matches(field: Option<&Value>, value: &Value) -> bool {
    match field {
        None => false,
        Some(field) => {
            equal(field, value) || matches!(field, Value::Array(items) if items.iter().any(|i| equal(i, value)))
        }
    }
}

impl Op {
    fn matches(&self, field: Option<&Value>) -> bool {
        match self {
            Op::Eq(value) => eq_matches(field, value),
            Op::Ne(value) => !eq_matches(field, value),
            Op::In(values) => values.iter().any(|v| eq_matches(field, v)),
            Op::Nin(values) => !values.iter().any(|v| eq_matches(field, v)),
            Op::Exists(wanted) => field.is_some() == *wanted,
            Op::Range(direction, inclusive, value) => field.is_some_and(|field| {
                let same_type = std::mem::discriminant(field) == std::mem::discriminant(value)
                    && date_millis(field).is_some() == date_millis(value).is_some();
                if !same_type {
                    return false;
                }
                let order = compare(field, value);
                order == *direction || (*inclusive && order == Ordering::Equal)
            }),
            Op::All(values) => match field {
                Some(Value::Array(items)) => values.iter().all(|v| items.iter().any(|i| equal(i, v))),
                _ => false,
            },
            Op::Size(size) => matches!(field, Some(Value::Array(items)) if items.len() == *size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(filter: Value, doc: Value) -> bool {
        parse(Some(&filter)).unwrap().matches(&doc)
    }

    #[test]
    fn implicit_eq_matches_values_and_array_elements() {
        assert!(matches(json!({"a": 1}), json!({"a": 1.0})));
        assert!(matches(json!({"tags": "x"}), json!({"tags": ["y", "x"]})));
        assert!(!matches(json!({"a": 1}), json!({"b": 1})));
        assert!(matches(json!({"a.b": 2}), json!({"a": {"b": 2}})));
    }

    #[test]
    fn operators_follow_the_data_api() {
        let doc = json!({"n": 5, "s": "m", "arr": [1, 2, 3], "d": {"$date": 1000}});
        assert!(matches(json!({"n": {"$gt": 4, "$lte": 5}}), doc.clone()));
        assert!(!matches(json!({"n": {"$gt": "4"}}), doc.clone()));
        assert!(matches(json!({"s": {"$in": ["a", "m"]}}), doc.clone()));
        assert!(matches(json!({"x": {"$nin": [1]}}), doc.clone()));
        assert!(matches(json!({"x": {"$ne": 1}}), doc.clone()));
        assert!(matches(json!({"x": {"$exists": false}}), doc.clone()));
        assert!(matches(json!({"arr": {"$all": [3, 1], "$size": 3}}), doc.clone()));
        assert!(matches(json!({"d": {"$lt": {"$date": 2000}}}), doc.clone()));
        assert!(matches(json!({"$or": [{"n": 1}, {"s": "m"}]}), doc.clone()));
        assert!(matches(json!({"$not": {"n": 1}}), doc.clone()));
        assert!(!matches(json!({"$and": [{"n": 5}, {"s": "z"}]}), doc));
    }

    #[test]
    fn bad_filters_are_errors_with_the_data_api_codes() {
        let code = |filter: Value| parse(Some(&filter)).unwrap_err().code;
        assert_eq!(code(json!({"a": {"$regex": "x"}})), Code::UnsupportedFilterOperation);
        assert_eq!(code(json!({"a": {"$in": 1}})), Code::InvalidFilterExpression);
        assert_eq!(code(json!({"$or": 1})), Code::InvalidFilterExpression);
        assert_eq!(code(json!({"a": {"$exists": 1}})), Code::InvalidFilterExpression);
    }

    #[test]
    fn id_pins_are_found() {
        let f = parse(Some(&json!({"_id": {"$in": ["a", "b"]}, "x": 1}))).unwrap();
        assert_eq!(f.ids(), Some(vec![json!("a"), json!("b")]));
        assert_eq!(parse(Some(&json!({"x": 1}))).unwrap().ids(), None);
    }
}
