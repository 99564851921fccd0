//! The `sort` clause: `{"field": 1 | -1, …}` (in the gateway, over the matching documents, in
//! the Data API's type order; a missing field sorts as null), or `{"$vector": [..]}` alone: the
//! documents with a vector, most similar first, by the collection's metric.

use std::cmp::Ordering;

use serde_json::Value;

use super::errors::{Code, DataApiError, Result};
use super::json::{compare, get_path};

#[derive(Debug, Clone, PartialEq)]
pub enum Sort {
    None,
    /// Paths with `true` for ascending.
    Fields(Vec<(String, bool)>),
    Vector(Vec<f32>),
}

impl Sort {
    pub fn parse(sort: Option<&Value>) -> Result<Self> {
        let map = match sort {
            None | Some(Value::Null) => return Ok(Sort::None),
            Some(Value::Object(map)) if map.is_empty() => return Ok(Sort::None),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(DataApiError::new(
                    Code::InvalidSortClause,
                    "sort clause must be an object",
                ));
            }
        };
        if let Some(vector) = map.get("$vector") {
            if map.len() > 1 {
                return Err(DataApiError::plain(Code::VectorSearchUsageError));
            }
            return Ok(Sort::Vector(parse_vector(vector)?));
        }
        let mut fields = Vec::with_capacity(map.len());
        for (path, order) in map {
            if path.trim().is_empty() {
                return Err(DataApiError::new(
                    Code::InvalidSortClausePath,
                    "path must be represented as a non-empty string",
                ));
            }
            if path.starts_with('$') {
                return Err(DataApiError::new(
                    Code::InvalidSortClausePath,
                    format!("path ('{path}') cannot start with '$'"),
                ));
            }
            let ascending = match order.as_i64() {
                Some(1) => true,
                Some(-1) => false,
                _ => {
                    return Err(DataApiError::new(
                        Code::InvalidSortClauseValue,
                        format!(
                            "Sort ordering value can only be `1` for ascending or `-1` for descending (not `{order}`)"
                        ),
                    ));
                }
            };
            fields.push((path.clone(), ascending));
        }
        Ok(Sort::Fields(fields))
    }

    /// Orders two documents by the sort fields.
    pub fn compare(fields: &[(String, bool)], a: &Value, b: &Value) -> Ordering {
        for (path, ascending) in fields {
            let (x, y) = (
                get_path(a, path).unwrap_or(&Value::Null),
                get_path(b, path).unwrap_or(&Value::Null),
            );
            let order = compare(x, y);
            let order = if *ascending { order } else { order.reverse() };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

/// A `$vector` value: a non-empty array of numbers.
pub fn parse_vector(value: &Value) -> Result<Vec<f32>> {
    let items = value
        .as_array()
        .ok_or_else(|| DataApiError::plain(Code::ShredBadDocumentVectorType))?;
    if items.is_empty() {
        return Err(DataApiError::plain(Code::ShredBadVectorSize));
    }
    items
        .iter()
        .map(|item| {
            item.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| DataApiError::plain(Code::ShredBadVectorValue))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sort_clauses_parse_and_order() {
        let Sort::Fields(fields) = Sort::parse(Some(&json!({"a": -1, "b": 1}))).unwrap() else {
            panic!("fields")
        };
        let (x, y) = (json!({"a": 2, "b": 1}), json!({"a": 1, "b": 0}));
        assert_eq!(Sort::compare(&fields, &x, &y), Ordering::Less);
        assert_eq!(
            Sort::parse(Some(&json!({"$vector": [1, 0.5]}))).unwrap(),
            Sort::Vector(vec![1.0, 0.5])
        );
        let code = |v: Value| Sort::parse(Some(&v)).unwrap_err().code;
        assert_eq!(code(json!({"$vector": [1], "a": 1})), Code::VectorSearchUsageError);
        assert_eq!(code(json!({"a": 2})), Code::InvalidSortClauseValue);
        assert_eq!(code(json!({"$vector": []})), Code::ShredBadVectorSize);
        assert_eq!(code(json!({"$a": 1})), Code::InvalidSortClausePath);
    }
}
