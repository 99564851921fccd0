//! The Document API's `where` and `fields` parameters (reference §3.3), parsed and evaluated
//! against documents (pure functions).
//!
//! A condition holds for a document when some value at a matching path satisfies it, as with
//! Stargate's row-per-leaf store, where a document without the path has no row to match. Paths
//! are dotted (`a.b.[0]`), with `*` for any key and `[*]` for any array element.

use std::cmp::Ordering;

use serde_json::Value;

use super::json::{Segment, parse_dotted};

/// One step of a search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Exact(Segment),
    AnyKey,
    AnyIndex,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    Exists,
    In,
    Nin,
}

/// A parsed `where`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Condition { path: Vec<Step>, op: Op, value: Value },
}

pub const WHERE_NOT_JSON: &str = "The `where` parameter expects a valid JSON object representing search criteria.";
pub const OBJECT_REQUIRED: &str = "Search was expecting a JSON object as input.";

fn steps(path: &str) -> Vec<Step> {
    let raw: Vec<&str> = path.split('.').collect();
    if raw.iter().any(|s| *s == "*" || *s == "[*]") {
        return raw
            .iter()
            .map(|s| match *s {
                "*" => Step::AnyKey,
                "[*]" => Step::AnyIndex,
                other => parse_dotted(other).into_iter().next().map_or(Step::AnyKey, Step::Exact),
            })
            .collect();
    }
    parse_dotted(path).into_iter().map(Step::Exact).collect()
}

/// Parses the `where` parameter.
pub fn parse_where(text: &str) -> Result<Expr, String> {
    let value: Value = serde_json::from_str(text).map_err(|_| WHERE_NOT_JSON.to_string())?;
    parse_object(&value)
}

fn parse_object(value: &Value) -> Result<Expr, String> {
    let Value::Object(object) = value else {
        return Err(OBJECT_REQUIRED.into());
    };
    let mut all = Vec::new();
    for (key, condition) in object {
        match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = condition else {
                    return Err(format!(
                        "Operation '{key}' does not support the provided value {condition}."
                    ));
                };
                let parts = items.iter().map(parse_object).collect::<Result<Vec<_>, _>>()?;
                all.push(if key == "$and" {
                    Expr::And(parts)
                } else {
                    Expr::Or(parts)
                });
            }
            "$not" => all.push(Expr::Not(Box::new(parse_object(condition)?))),
            field => {
                let Value::Object(ops) = condition else {
                    return Err(OBJECT_REQUIRED.into());
                };
                for (op_name, operand) in ops {
                    let op = match op_name.as_str() {
                        "$eq" => Op::Eq,
                        "$ne" => Op::Ne,
                        "$lt" => Op::Lt,
                        "$lte" => Op::Lte,
                        "$gt" => Op::Gt,
                        "$gte" => Op::Gte,
                        "$exists" => Op::Exists,
                        "$in" => Op::In,
                        "$nin" => Op::Nin,
                        "$selectivity" => continue,
                        other => return Err(format!("Operation '{other}' is not supported.")),
                    };
                    let fits = match op {
                        Op::Eq | Op::Ne => !operand.is_object() && !operand.is_array(),
                        Op::Lt | Op::Lte | Op::Gt | Op::Gte => operand.is_number() || operand.is_string(),
                        Op::Exists => operand.is_boolean(),
                        Op::In | Op::Nin => operand.is_array(),
                    };
                    if !fits {
                        return Err(format!(
                            "Operation '{op_name}' does not support the provided value {operand}."
                        ));
                    }
                    all.push(Expr::Condition {
                        path: steps(field),
                        op,
                        value: operand.clone(),
                    });
                }
            }
        }
    }
    Ok(if all.len() == 1 { all.remove(0) } else { Expr::And(all) })
}

/// Every value found at `path` (wildcards expand).
fn values_at<'a>(node: &'a Value, path: &[Step], out: &mut Vec<&'a Value>) {
    let Some((step, rest)) = path.split_first() else {
        out.push(node);
        return;
    };
    match (step, node) {
        (Step::Exact(Segment::Key(k)), Value::Object(o)) => {
            if let Some(child) = o.get(k) {
                values_at(child, rest, out);
            }
        }
        (Step::Exact(Segment::Index(i)), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                values_at(child, rest, out);
            }
        }
        (Step::AnyKey, Value::Object(o)) => o.values().for_each(|child| values_at(child, rest, out)),
        (Step::AnyIndex, Value::Array(items)) => items.iter().for_each(|child| values_at(child, rest, out)),
        _ => {}
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn satisfies(found: &Value, op: Op, operand: &Value) -> bool {
    let ordering = compare(found, operand);
    match op {
        Op::Eq => ordering == Some(Ordering::Equal),
        Op::Ne => ordering != Some(Ordering::Equal),
        Op::Lt => ordering == Some(Ordering::Less),
        Op::Lte => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ordering == Some(Ordering::Greater),
        Op::Gte => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
        Op::In => operand
            .as_array()
            .is_some_and(|items| items.iter().any(|i| compare(found, i) == Some(Ordering::Equal))),
        Op::Nin => operand
            .as_array()
            .is_some_and(|items| items.iter().all(|i| compare(found, i) != Some(Ordering::Equal))),
        Op::Exists => true,
    }
}

/// True when the document matches the expression.
pub fn matches(expr: &Expr, document: &Value) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| matches(p, document)),
        Expr::Or(parts) => parts.iter().any(|p| matches(p, document)),
        Expr::Not(inner) => !matches(inner, document),
        Expr::Condition { path, op, value } => {
            let mut found = Vec::new();
            values_at(document, path, &mut found);
            if *op == Op::Exists {
                return found.is_empty() != value.as_bool().unwrap_or(true);
            }
            found.iter().any(|f| satisfies(f, *op, value))
        }
    }
}

/// The `fields` parameter: a JSON array of dotted paths.
pub fn parse_fields(text: Option<&String>) -> Result<Vec<Vec<Segment>>, String> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| "The `fields` parameter expects a valid JSON array containing field names.".to_string())?;
    let Value::Array(items) = value else {
        return Err("The `fields` must be a JSON array and each field must be a non-empty string.".into());
    };
    items
        .iter()
        .map(|item| match item.as_str().filter(|s| !s.is_empty()) {
            Some(path) => Ok(parse_dotted(path)),
            None => Err("The `fields` must be a JSON array and each field must be a non-empty string.".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: Value, doc: &Value) -> bool {
        matches(&parse_where(&filter.to_string()).expect("where"), doc)
    }

    #[test]
    fn comparison_operators_match_values_at_a_path() {
        let doc = json!({"name": "Ann", "age": 30, "address": {"city": "Lyon"}, "tags": ["a", "b"]});
        assert!(check(json!({"name": {"$eq": "Ann"}}), &doc));
        assert!(check(json!({"age": {"$gt": 20, "$lte": 30}}), &doc));
        assert!(!check(json!({"age": {"$lt": 30}}), &doc));
        assert!(check(json!({"address.city": {"$in": ["Paris", "Lyon"]}}), &doc));
        assert!(check(json!({"address.city": {"$nin": ["Paris"]}}), &doc));
        assert!(check(json!({"tags.[1]": {"$eq": "b"}}), &doc));
        assert!(check(json!({"tags.[*]": {"$eq": "a"}}), &doc));
        assert!(check(json!({"*.city": {"$eq": "Lyon"}}), &doc));
        assert!(check(json!({"name": {"$exists": true}}), &doc));
        assert!(
            !check(json!({"missing": {"$ne": 1}}), &doc),
            "a missing path has nothing to compare"
        );
    }

    #[test]
    fn boolean_combinators_nest() {
        let doc = json!({"a": 1, "b": 2});
        assert!(check(json!({"$or": [{"a": {"$eq": 5}}, {"b": {"$eq": 2}}]}), &doc));
        assert!(!check(json!({"$and": [{"a": {"$eq": 1}}, {"b": {"$eq": 3}}]}), &doc));
        assert!(check(json!({"$not": {"a": {"$eq": 2}}}), &doc));
    }

    #[test]
    fn invalid_where_and_fields_are_refused_with_stargates_messages() {
        assert_eq!(parse_where("{nope"), Err(WHERE_NOT_JSON.into()));
        assert_eq!(parse_where("[1]"), Err(OBJECT_REQUIRED.into()));
        assert_eq!(
            parse_where(r#"{"a":{"$regex":"x"}}"#),
            Err("Operation '$regex' is not supported.".into())
        );
        assert_eq!(
            parse_where(r#"{"a":{"$in":1}}"#),
            Err("Operation '$in' does not support the provided value 1.".into())
        );
        assert_eq!(
            parse_fields(Some(&r#"["a","b.c"]"#.to_string())).map(|f| f.len()),
            Ok(2)
        );
        assert!(parse_fields(Some(&"a".to_string())).is_err());
        assert!(parse_fields(Some(&"{}".to_string())).is_err());
    }
}

/// A field path and the operators applied to it.
pub type FieldConditions = (Vec<Step>, Vec<(Op, Value)>);

/// The one field path a sub-document search may filter on, with its operators; Stargate refuses
/// conditions on several fields there.
pub fn single_field(expr: &Expr) -> Result<FieldConditions, String> {
    let mut conditions = Vec::new();
    fn collect<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) -> bool {
        match expr {
            Expr::And(parts) => parts.iter().all(|p| collect(p, out)),
            Expr::Condition { .. } => {
                out.push(expr);
                true
            }
            _ => false,
        }
    }
    if !collect(expr, &mut conditions) {
        return Err("Conditions across multiple fields are not yet supported. Found: 2.".into());
    }
    let mut path = None;
    let mut ops = Vec::new();
    let mut distinct = 0;
    for condition in conditions {
        if let Expr::Condition { path: p, op, value } = condition {
            if path.as_ref() != Some(p) {
                distinct += 1;
                path = Some(p.clone());
            }
            ops.push((*op, value.clone()));
        }
    }
    match path {
        Some(path) if distinct == 1 => Ok((path, ops)),
        _ => Err(format!(
            "Conditions across multiple fields are not yet supported. Found: {distinct}."
        )),
    }
}

/// A concrete path (array positions as `[n]`), the parent object and the value found there.
type Match<'a> = (Vec<String>, &'a Value, &'a Value);

/// Every concrete path matching `steps`.
fn matches_at<'a>(
    node: &'a Value,
    steps: &[Step],
    prefix: &mut Vec<String>,
    parent: &'a Value,
    out: &mut Vec<(Vec<String>, &'a Value, &'a Value)>,
) {
    let Some((step, rest)) = steps.split_first() else {
        out.push((prefix.clone(), parent, node));
        return;
    };
    let mut visit = |label: String, child: &'a Value, out: &mut Vec<Match<'a>>| {
        prefix.push(label);
        matches_at(child, rest, prefix, node, out);
        prefix.pop();
    };
    match (step, node) {
        (Step::Exact(Segment::Key(k)), Value::Object(o)) => {
            if let Some(child) = o.get(k) {
                visit(k.clone(), child, out);
            }
        }
        (Step::Exact(Segment::Index(i)), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                visit(format!("[{i}]"), child, out);
            }
        }
        (Step::AnyKey, Value::Object(o)) => {
            for (k, child) in o {
                visit(k.clone(), child, out);
            }
        }
        (Step::AnyIndex, Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                visit(format!("[{i}]"), child, out);
            }
        }
        _ => {}
    }
}

/// Sub-document search: for each value under `base` matching the field's conditions, the
/// document rebuilt from its root down to that value (arrays shown as objects keyed `[n]`); with
/// `fields`, the selected fields of the value's parent object instead of the value alone.
pub fn search_within(
    document: &Value,
    base: &[String],
    steps: &[Step],
    ops: &[(Op, Value)],
    fields: &[String],
) -> Vec<Value> {
    let Some(start) = super::json::get(document, &super::json::parse_path(base)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    matches_at(start, steps, &mut Vec::new(), start, &mut found);
    let mut results = Vec::new();
    for (path, parent, value) in found {
        let hold = ops.iter().all(|(op, operand)| match op {
            Op::Exists => operand.as_bool().unwrap_or(true),
            _ => satisfies(value, *op, operand),
        });
        if !hold {
            continue;
        }
        let mut full: Vec<String> = base.to_vec();
        full.extend(path);
        let Some(leaf_name) = full.pop() else { continue };
        let mut node = if fields.is_empty() {
            let mut object = serde_json::Map::new();
            object.insert(leaf_name, value.clone());
            Value::Object(object)
        } else {
            let mut object = serde_json::Map::new();
            for field in fields {
                if let Some(v) = parent.get(field) {
                    object.insert(field.clone(), v.clone());
                }
            }
            Value::Object(object)
        };
        for segment in full.into_iter().rev() {
            let mut object = serde_json::Map::new();
            object.insert(segment, node);
            node = Value::Object(object);
        }
        results.push(node);
    }
    results
}

#[cfg(test)]
mod sub_document_tests {
    use super::*;
    use serde_json::json;

    fn example() -> Value {
        json!({"products": {"food": {"Apple": {"name": "apple", "price": 0.99}, "Pear": {"name": "pear", "price": 0.89},
               "Orange": {"name": "orange", "price": 600}}},
               "quiz": {"q1": {"options": ["a", "b", "c", {"this": true}]}}})
    }

    fn search(base: &[&str], filter: Value, fields: &[&str]) -> Result<Vec<Value>, String> {
        let (steps, ops) = single_field(&parse_where(&filter.to_string())?)?;
        let base: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        Ok(search_within(&example(), &base, &steps, &ops, &fields))
    }

    #[test]
    fn matches_are_rebuilt_from_the_root() {
        let found = search(&[], json!({"products.food.*.price": {"$lt": 1}}), &[]).expect("search");
        assert_eq!(
            found,
            vec![
                json!({"products": {"food": {"Apple": {"price": 0.99}}}}),
                json!({"products": {"food": {"Pear": {"price": 0.89}}}})
            ]
        );
        let found = search(&[], json!({"quiz.q1.options.[3].this": {"$ne": false}}), &[]).expect("array path");
        assert_eq!(
            found,
            vec![json!({"quiz": {"q1": {"options": {"[3]": {"this": true}}}}})]
        );
    }

    #[test]
    fn fields_select_the_parent_objects_fields_and_a_sub_path_is_the_base() {
        let found = search(
            &[],
            json!({"products.food.Orange.price": {"$eq": 600}}),
            &["name", "price"],
        )
        .expect("fields");
        assert_eq!(
            found,
            vec![json!({"products": {"food": {"Orange": {"name": "orange", "price": 600}}}})]
        );
        let found = search(&["products", "food"], json!({"*.name": {"$eq": "pear"}}), &[]).expect("base");
        assert_eq!(found, vec![json!({"products": {"food": {"Pear": {"name": "pear"}}}})]);
    }

    #[test]
    fn conditions_on_several_fields_are_refused() {
        assert_eq!(
            search(&[], json!({"a": {"$eq": 1}, "b": {"$eq": 2}}), &[]),
            Err("Conditions across multiple fields are not yet supported. Found: 2.".into())
        );
    }
}
