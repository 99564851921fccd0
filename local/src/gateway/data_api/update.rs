//! The `update` clause: `$set`, `$unset`, `$inc`, `$mul`, `$min`, `$max`, `$rename`, `$push`
//! (with `$each`, `$position`), `$addToSet` (with `$each`), `$pop`, `$currentDate` and
//! `$setOnInsert` (applied only when an upsert inserts). `_id` cannot be changed, and no two
//! operations may touch the same path (or one inside the other).

use std::cmp::Ordering;

use serde_json::{Map, Number, Value, json};

use super::errors::{Code, DataApiError, Result};
use super::json::{PathError, compare, equal, get_or_create, get_path, get_path_mut, remove_path, set_path};

const OPERATORS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$push",
    "$addToSet",
    "$pop",
    "$currentDate",
    "$setOnInsert",
];

/// A parsed update: operations in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    ops: Vec<(String, String, Value)>,
}

fn op_error(code: Code, detail: impl std::fmt::Display) -> DataApiError {
    DataApiError::new(code, detail)
}

fn overlaps(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

impl Update {
    pub fn parse(update: Option<&Value>) -> Result<Self> {
        let map = match update {
            Some(Value::Object(map)) => map,
            None | Some(Value::Null) => {
                return Err(DataApiError::new(
                    Code::CommandFieldInvalid,
                    "field 'command.update' value `null` not valid. Problem: must not be null.",
                ));
            }
            Some(_) => {
                return Err(DataApiError::new(
                    Code::InvalidRequestStructureMismatch,
                    "update must be an object",
                ));
            }
        };
        let mut ops: Vec<(String, String, Value)> = Vec::new();
        for (operator, args) in map {
            if !OPERATORS.contains(&operator.as_str()) {
                return Err(op_error(Code::UnsupportedUpdateOperation, operator));
            }
            let Value::Object(args) = args else {
                return Err(op_error(
                    Code::UnsupportedUpdateOperationParam,
                    format!("update operation '{operator}' requires an object of path/value pairs"),
                ));
            };
            for (path, value) in args {
                if path == "_id" || path.starts_with("_id.") {
                    return Err(op_error(
                        Code::UnsupportedUpdateOperationPath,
                        format!("Update operation ({operator}) cannot apply to '_id'"),
                    ));
                }
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(op_error(
                        Code::UnsupportedUpdateOperationPath,
                        format!("empty path in '{operator}'"),
                    ));
                }
                if let Some((_, other, _)) = ops.iter().find(|(_, p, _)| overlaps(p, path)) {
                    return Err(op_error(
                        Code::UnsupportedUpdateOperationPath,
                        format!("Update operator path conflict due to overlap: '{path}' ({operator}) vs '{other}'"),
                    ));
                }
                check_args(operator, path, value)?;
                if operator == "$rename" {
                    let target = value.as_str().unwrap_or_default();
                    if ops.iter().any(|(_, p, _)| overlaps(p, target)) {
                        return Err(op_error(
                            Code::UnsupportedUpdateOperationPath,
                            format!("Update operator path conflict due to overlap: '{target}' ($rename)"),
                        ));
                    }
                }
                ops.push((operator.clone(), path.clone(), value.clone()));
            }
        }
        Ok(Update { ops })
    }

    /// Applies the update to `doc` (`inserting`: an upsert's new document, which also takes
    /// `$setOnInsert`). Returns whether the document changed.
    pub fn apply(&self, doc: &mut Value, inserting: bool) -> Result<bool> {
        let before = doc.clone();
        for (operator, path, value) in &self.ops {
            apply_one(doc, operator, path, value, inserting)?;
        }
        Ok(*doc != before)
    }
}

fn check_args(operator: &str, path: &str, value: &Value) -> Result<()> {
    let param = |detail: String| Err(op_error(Code::UnsupportedUpdateOperationParam, detail));
    match operator {
        "$inc" | "$mul" if !value.is_number() => param(format!(
            "{operator} requires numeric parameter, got: {}",
            super::storage::type_name(value).to_uppercase()
        )),
        "$rename" => match value.as_str() {
            Some(target) if !target.is_empty() && target != path && target != "_id" => Ok(()),
            _ => param(format!(
                "$rename requires a non-empty STRING parameter other than the path, got: {value}"
            )),
        },
        "$pop" => match value.as_i64() {
            Some(1 | -1) => Ok(()),
            _ => param(format!("$pop requires NUMBER argument (-1 or 1), instead got: {value}")),
        },
        "$currentDate" => match value {
            Value::Bool(true) => Ok(()),
            Value::Object(m) if m.get("$type").and_then(Value::as_str) == Some("date") && m.len() == 1 => Ok(()),
            _ => param(format!(
                "$currentDate requires argument of either `true` or `{{\"$type\": \"date\"}}`, got: {value}"
            )),
        },
        "$push" | "$addToSet" => {
            if let Value::Object(m) = value
                && m.keys().any(|k| k.starts_with('$'))
            {
                for key in m.keys() {
                    let allowed = key == "$each" || (operator == "$push" && key == "$position");
                    if !allowed {
                        return Err(op_error(
                            Code::UnsupportedUpdateOperationModifier,
                            format!(
                                "{operator} only supports {} modifiers; trying to use '{key}'",
                                if operator == "$push" {
                                    "$each and $position"
                                } else {
                                    "$each"
                                }
                            ),
                        ));
                    }
                }
                if !m.get("$each").is_some_and(Value::is_array) {
                    return param(format!(
                        "{operator} modifiers can only be used with $each with an array value"
                    ));
                }
                if m.get("$position").is_some_and(|p| !p.is_i64()) {
                    return param("$position requires an integer".into());
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn target_error(operator: &str, path: &str, found: &Value) -> DataApiError {
    op_error(
        Code::UnsupportedUpdateOperationTarget,
        format!(
            "{operator} requires target to be {} but path '{path}' has {}",
            match operator {
                "$push" | "$addToSet" | "$pop" => "Array",
                _ => "Number",
            },
            super::storage::type_name(found).to_uppercase()
        ),
    )
}

fn path_error(operator: &str, error: PathError) -> DataApiError {
    let PathError::NotContainer(at) = error;
    op_error(
        Code::UnsupportedUpdateOperationTarget,
        format!("{operator} cannot create a field inside '{at}', which is neither an object nor an array"),
    )
}

/// `a + b` or `a * b`, exact for integers, otherwise in floating point.
fn arithmetic(a: &Number, b: &Number, multiply: bool) -> Number {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let exact = if multiply { x.checked_mul(y) } else { x.checked_add(y) };
        if let Some(result) = exact {
            return Number::from(result);
        }
    }
    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    let result = if multiply { x * y } else { x + y };
    Number::from_f64(result).unwrap_or_else(|| Number::from(0))
}

fn apply_one(doc: &mut Value, operator: &str, path: &str, value: &Value, inserting: bool) -> Result<()> {
    match operator {
        "$set" => set_path(doc, path, value.clone()).map_err(|e| path_error(operator, e)),
        "$setOnInsert" if inserting => set_path(doc, path, value.clone()).map_err(|e| path_error(operator, e)),
        "$setOnInsert" => Ok(()),
        "$unset" => {
            remove_path(doc, path);
            Ok(())
        }
        "$currentDate" => {
            let now = chrono::Utc::now().timestamp_millis();
            set_path(doc, path, json!({ "$date": now })).map_err(|e| path_error(operator, e))
        }
        "$inc" | "$mul" => {
            let Value::Number(operand) = value else {
                unreachable!("checked in parse")
            };
            let multiply = operator == "$mul";
            let new = match get_path(doc, path) {
                None if multiply => Value::from(0),
                None => Value::Number(operand.clone()),
                Some(Value::Number(current)) => Value::Number(arithmetic(current, operand, multiply)),
                Some(other) => return Err(target_error(operator, path, other)),
            };
            set_path(doc, path, new).map_err(|e| path_error(operator, e))
        }
        "$min" | "$max" => {
            let wanted = if operator == "$min" {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            match get_path(doc, path) {
                Some(current) if compare(value, current) != wanted => Ok(()),
                _ => set_path(doc, path, value.clone()).map_err(|e| path_error(operator, e)),
            }
        }
        "$rename" => {
            let target = value.as_str().unwrap_or_default();
            if let Some(moved) = remove_path(doc, path) {
                set_path(doc, target, moved).map_err(|e| path_error(operator, e))?;
            }
            Ok(())
        }
        "$push" | "$addToSet" => {
            let (items, position) = match value {
                Value::Object(m) if m.contains_key("$each") => (
                    m.get("$each").and_then(Value::as_array).cloned().unwrap_or_default(),
                    m.get("$position").and_then(Value::as_i64),
                ),
                other => (vec![other.clone()], None),
            };
            let slot = get_or_create(doc, path, Value::Array(Vec::new())).map_err(|e| path_error(operator, e))?;
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(array) = slot else {
                let found = slot.clone();
                return Err(target_error(operator, path, &found));
            };
            if operator == "$addToSet" {
                for item in items {
                    if !array
                        .iter()
                        .any(|existing| equal(existing, &item) && same_kind(existing, &item))
                    {
                        array.push(item);
                    }
                }
            } else {
                let len = i64::try_from(array.len()).unwrap_or(i64::MAX);
                let at = match position {
                    None => len,
                    Some(p) if p < 0 => (len + p).max(0),
                    Some(p) => p.min(len),
                };
                let at = usize::try_from(at).unwrap_or(array.len());
                array.splice(at..at, items);
            }
            Ok(())
        }
        "$pop" => {
            match get_path_mut(doc, path) {
                None => {}
                Some(Value::Array(array)) => {
                    if value.as_i64() == Some(1) {
                        array.pop();
                    } else if !array.is_empty() {
                        array.remove(0);
                    }
                }
                Some(other) => {
                    let found = other.clone();
                    return Err(target_error(operator, path, &found));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `$addToSet` treats `1` and `"1"` as different values (equal() compares within a type only).
fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// A new document for an upsert: the filter's `$eq` fields (and `_id`), then the update.
pub fn upsert_base(equalities: &[(String, Value)]) -> Value {
    let mut doc = Value::Object(Map::new());
    for (path, value) in equalities {
        let _ = set_path(&mut doc, path, value.clone());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(update: Value, mut doc: Value) -> Value {
        Update::parse(Some(&update)).unwrap().apply(&mut doc, false).unwrap();
        doc
    }

    #[test]
    fn operators_change_documents() {
        let doc = json!({"_id": 1, "n": 2, "arr": [1, 2], "s": "x"});
        assert_eq!(run(json!({"$set": {"a.b": 1}}), doc.clone())["a"], json!({"b": 1}));
        assert_eq!(run(json!({"$unset": {"s": ""}}), doc.clone()).get("s"), None);
        assert_eq!(run(json!({"$inc": {"n": 3, "m": 1}}), doc.clone())["n"], json!(5));
        assert_eq!(run(json!({"$inc": {"m": 1}}), doc.clone())["m"], json!(1));
        assert_eq!(run(json!({"$mul": {"n": 1.5}}), doc.clone())["n"], json!(3.0));
        assert_eq!(run(json!({"$min": {"n": 1}}), doc.clone())["n"], json!(1));
        assert_eq!(run(json!({"$max": {"n": 1}}), doc.clone())["n"], json!(2));
        assert_eq!(run(json!({"$rename": {"s": "t"}}), doc.clone())["t"], json!("x"));
        assert_eq!(run(json!({"$push": {"arr": 3}}), doc.clone())["arr"], json!([1, 2, 3]));
        assert_eq!(
            run(json!({"$push": {"arr": {"$each": [0], "$position": 0}}}), doc.clone())["arr"],
            json!([0, 1, 2])
        );
        assert_eq!(
            run(json!({"$addToSet": {"arr": {"$each": [2, 3]}}}), doc.clone())["arr"],
            json!([1, 2, 3])
        );
        assert_eq!(run(json!({"$pop": {"arr": -1}}), doc.clone())["arr"], json!([2]));
        assert!(run(json!({"$currentDate": {"at": true}}), doc.clone())["at"]["$date"].is_i64());
    }

    #[test]
    fn set_on_insert_applies_only_when_inserting() {
        let update = Update::parse(Some(&json!({"$setOnInsert": {"a": 1}}))).unwrap();
        let mut doc = json!({});
        assert!(!update.apply(&mut doc, false).unwrap());
        assert!(update.apply(&mut doc, true).unwrap());
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn bad_updates_have_the_data_api_codes() {
        let code = |v: Value| Update::parse(Some(&v)).unwrap_err().code;
        assert_eq!(code(json!({"$foo": {"a": 1}})), Code::UnsupportedUpdateOperation);
        assert_eq!(code(json!({"$set": {"_id": 1}})), Code::UnsupportedUpdateOperationPath);
        assert_eq!(
            code(json!({"$set": {"a": 1}, "$inc": {"a": 1}})),
            Code::UnsupportedUpdateOperationPath
        );
        assert_eq!(code(json!({"$inc": {"a": "x"}})), Code::UnsupportedUpdateOperationParam);
        assert_eq!(
            code(json!({"$push": {"a": {"$each": [1], "$slice": 1}}})),
            Code::UnsupportedUpdateOperationModifier
        );
        let mut doc = json!({"a": "text"});
        let err = Update::parse(Some(&json!({"$inc": {"a": 1}})))
            .unwrap()
            .apply(&mut doc, false)
            .unwrap_err();
        assert_eq!(err.code, Code::UnsupportedUpdateOperationTarget);
    }
}
