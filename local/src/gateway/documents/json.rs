//! Documents as the Document API shows them, and the edits it makes to them (pure functions).
//!
//! Stargate shreds a document into one row per leaf, so what clients observe is: every number is
//! a double (an integral one prints as an integer), object keys come back sorted by their UTF-8
//! bytes at every level, and sub-paths (`a/b/[0]`) address object keys and array elements. The
//! gateway stores each document as one JSON text instead and reproduces those observations here.

use serde_json::{Map, Number, Value};

/// Stargate's limits on a document.
pub const MAX_DEPTH: usize = 64;
pub const MAX_ARRAY_LENGTH: usize = 1_000_000;

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Key(k) => f.write_str(k),
            Segment::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// URL path segments (`a`, `[0]`) as a document path; `[n]` is an array index.
pub fn parse_path(segments: &[String]) -> Vec<Segment> {
    segments
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            match s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
            {
                Some(index) => Segment::Index(index),
                None => Segment::Key(s.replace("\\.", ".").replace("\\,", ",").replace("\\*", "*")),
            }
        })
        .collect()
}

/// A dotted path (`a.b.[0]`, with `\.` for a literal period) as segments.
pub fn parse_dotted(path: &str) -> Vec<Segment> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push('\\');
                    current.push(next);
                }
            }
            '.' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parse_path(&parts)
}

/// A number as the shredded store returns it: a double, printed as an integer when integral.
pub fn as_stored_number(n: &Number) -> Value {
    let Some(f) = n.as_f64() else {
        return Value::Number(n.clone());
    };
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// The document as Stargate would return it: numbers through doubles, keys sorted at every level.
pub fn stored(value: &Value) -> Value {
    match value {
        Value::Number(n) => as_stored_number(n),
        Value::Array(items) => Value::Array(items.iter().map(stored).collect()),
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for key in keys {
                if let Some(v) = object.get(key) {
                    sorted.insert(key.clone(), stored(v));
                }
            }
            Value::Object(sorted)
        }
        other => other.clone(),
    }
}

/// Checks field names and the depth and array-length limits.
pub fn validate(value: &Value) -> Result<(), String> {
    fn walk(value: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("Max depth of {MAX_DEPTH} exceeded."));
        }
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    if !valid_field_name(key) {
                        return Err(format!(
                            "Array paths contained in square brackets, periods, single quotes, and backslash are not allowed in field names, invalid field {key}"
                        ));
                    }
                    walk(child, depth + 1)?;
                }
            }
            Value::Array(items) => {
                if items.len() > MAX_ARRAY_LENGTH {
                    return Err(format!("Max array length of {MAX_ARRAY_LENGTH} exceeded."));
                }
                for child in items {
                    walk(child, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(value, 0)
}

fn valid_field_name(name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('.' | ',' | '*') => {}
                _ => return false,
            },
            '[' | '.' | '\'' => return false,
            _ => {}
        }
    }
    true
}

/// The value at `path`, if there is one.
pub fn get<'a>(document: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(document, |node, segment| match (node, segment) {
        (Value::Object(object), Segment::Key(key)) => object.get(key),
        (Value::Array(items), Segment::Index(i)) => items.get(*i),
        _ => None,
    })
}

/// The container at `path` for writing, created (and scalars replaced) along the way.
fn slot<'a>(document: &'a mut Value, path: &[Segment]) -> &'a mut Value {
    let mut node = document;
    for segment in path {
        node = match segment {
            Segment::Key(key) => {
                if !node.is_object() {
                    *node = Value::Object(Map::new());
                }
                match node {
                    Value::Object(object) => object.entry(key.clone()).or_insert(Value::Null),
                    other => other,
                }
            }
            Segment::Index(i) => {
                if !node.is_array() {
                    *node = Value::Array(Vec::new());
                }
                match node {
                    Value::Array(items) => {
                        if items.len() <= *i {
                            items.resize(*i + 1, Value::Null);
                        }
                        &mut items[*i]
                    }
                    other => other,
                }
            }
        };
    }
    node
}

/// Replaces the sub-tree at `path` (the whole document for an empty path).
pub fn put(document: &mut Value, path: &[Segment], value: Value) {
    *slot(document, path) = value;
}

/// PATCH: each top-level key of `patch` replaces what is stored under it at `path`; other keys
/// stay. A non-object at `path` is replaced by the patch.
pub fn patch(document: &mut Value, path: &[Segment], patch: Map<String, Value>) {
    let target = slot(document, path);
    match target {
        Value::Object(object) => {
            for (key, value) in patch {
                object.insert(key, value);
            }
        }
        other => *other = Value::Object(patch),
    }
}

/// Removes the sub-tree at `path`; false when there was nothing there.
pub fn remove(document: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut node = document;
    for segment in parent_path {
        node = match (node, segment) {
            (Value::Object(object), Segment::Key(key)) => match object.get_mut(key) {
                Some(child) => child,
                None => return false,
            },
            (Value::Array(items), Segment::Index(i)) => match items.get_mut(*i) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match (node, last) {
        (Value::Object(object), Segment::Key(key)) => object.shift_remove(key).is_some(),
        (Value::Array(items), Segment::Index(i)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// `fields` projection: only the listed dotted paths (and their parents) are kept.
pub fn project(document: &Value, fields: &[Vec<Segment>]) -> Value {
    if fields.is_empty() {
        return document.clone();
    }
    let mut out = Value::Object(Map::new());
    for field in fields {
        if let Some(value) = get(document, field) {
            put(&mut out, field, value.clone());
        }
    }
    out
}

/// The result of a built-in function.
pub type FunctionResult = Result<Value, String>;

/// `$push`: appends `value` to the array at `path`; answers the new array.
pub fn push(document: &mut Value, path: &[Segment], value: Value) -> FunctionResult {
    match slot(document, path) {
        Value::Array(items) => {
            items.push(value);
            Ok(Value::Array(items.clone()))
        }
        other => Err(format!("The path provided to push to has no array, found {other}.")),
    }
}

/// `$pop`: removes and answers the last element of the array at `path`.
pub fn pop(document: &mut Value, path: &[Segment]) -> FunctionResult {
    match slot(document, path) {
        Value::Array(items) => items.pop().ok_or_else(|| "No data available to pop.".to_string()),
        other => Err(format!("The path provided to pop from has no array, found {other}.")),
    }
}

/// `$set`: `value` is an object of dotted paths (relative to `path`) to values; answers `null`.
pub fn set(document: &mut Value, path: &[Segment], value: &Value) -> FunctionResult {
    let Value::Object(assignments) = value else {
        return Err("The $set operation requires a JSON object of paths to values.".into());
    };
    for (dotted, v) in assignments {
        let mut full = path.to_vec();
        full.extend(parse_dotted(dotted));
        put(document, &full, v.clone());
    }
    Ok(Value::Null)
}

/// Stargate prints a path in its 404 as a Java list of the raw segments: `[a, b]`.
pub fn java_list(segments: &[String]) -> String {
    format!("[{}]", segments.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &[&str]) -> Vec<Segment> {
        parse_path(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn stored_documents_sort_keys_and_print_integral_numbers_as_integers() {
        let doc = json!({"b": 1.0, "a": {"z": 2.5, "Y": [3, 1e2]}});
        assert_eq!(stored(&doc).to_string(), r#"{"a":{"Y":[3,100],"z":2.5},"b":1}"#);
    }

    #[test]
    fn field_names_with_path_characters_are_refused() {
        assert!(validate(&json!({"ok": {"also_ok": 1, "esc\\.aped": 2}})).is_ok());
        for bad in ["a.b", "a[0]", "it's", "back\\slash", ""] {
            let error = validate(&json!({ bad: 1 })).expect_err(bad);
            assert!(error.ends_with(&format!("invalid field {bad}")), "{error}");
        }
        let mut deep = json!(1);
        for _ in 0..70 {
            deep = json!({ "d": deep });
        }
        assert_eq!(validate(&deep), Err("Max depth of 64 exceeded.".into()));
    }

    #[test]
    fn paths_address_keys_and_array_elements() {
        let doc = json!({"a": {"b": [10, 20]}});
        assert_eq!(get(&doc, &path(&["a", "b", "[1]"])), Some(&json!(20)));
        assert_eq!(get(&doc, &path(&["a", "x"])), None);
        assert_eq!(parse_dotted("a.b.[0]"), path(&["a", "b", "[0]"]));
        assert_eq!(parse_dotted("a\\.b"), vec![Segment::Key("a.b".into())]);
    }

    #[test]
    fn put_patch_and_remove_edit_sub_trees() {
        let mut doc = json!({"a": {"keep": 1, "swap": {"deep": true}}});
        patch(
            &mut doc,
            &path(&["a"]),
            json!({"swap": 2, "new": 3}).as_object().cloned().unwrap_or_default(),
        );
        assert_eq!(
            doc,
            json!({"a": {"keep": 1, "swap": 2, "new": 3}}),
            "shallow, per top-level key"
        );
        put(&mut doc, &path(&["a", "list", "[2]"]), json!("x"));
        assert_eq!(doc["a"]["list"], json!([null, null, "x"]));
        assert!(remove(&mut doc, &path(&["a", "keep"])));
        assert!(!remove(&mut doc, &path(&["nope", "x"])));
        assert_eq!(project(&doc, &[parse_dotted("a.new")]), json!({"a": {"new": 3}}));
    }

    #[test]
    fn functions_push_pop_and_set() {
        let mut doc = json!({"list": [1]});
        assert_eq!(push(&mut doc, &path(&["list"]), json!(2)), Ok(json!([1, 2])));
        assert_eq!(pop(&mut doc, &path(&["list"])), Ok(json!(2)));
        assert_eq!(pop(&mut doc, &path(&["list"])), Ok(json!(1)));
        assert_eq!(pop(&mut doc, &path(&["list"])), Err("No data available to pop.".into()));
        let mut scalar = json!({"n": 1});
        assert_eq!(
            push(&mut scalar, &path(&["n"]), json!(2)),
            Err("The path provided to push to has no array, found 1.".into())
        );
        assert_eq!(set(&mut doc, &[], &json!({"a.b": 1, "c": "x"})), Ok(Value::Null));
        assert_eq!(doc["a"]["b"], json!(1));
        assert_eq!(java_list(&["a".into(), "b".into()]), "[a, b]");
    }
}
