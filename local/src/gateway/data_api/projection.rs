//! The `projection` clause: which fields a returned document keeps. Inclusion (`{"a": 1}`) or
//! exclusion (`{"a": 0}`), never both (except `_id`, kept unless excluded); `"*"` alone keeps or
//! drops everything; `$vector` is left out unless asked for; `{"arr": {"$slice": n}}` or
//! `[skip, n]` cuts arrays.

use serde_json::{Map, Value};

use super::errors::{Code, DataApiError, Result};
use super::json::{get_path, remove_path, set_path};

#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `Some` for an inclusion projection (the paths kept), `None` for exclusion.
    include: Option<Vec<String>>,
    exclude: Vec<String>,
    keep_id: bool,
    keep_vector: bool,
    slices: Vec<(String, i64, Option<i64>)>,
}

fn unsupported(detail: impl std::fmt::Display) -> DataApiError {
    DataApiError::new(Code::UnsupportedProjectionParam, detail)
}

impl Projection {
    pub fn parse(projection: Option<&Value>) -> Result<Self> {
        let mut parsed = Projection {
            include: None,
            exclude: Vec::new(),
            keep_id: true,
            keep_vector: false,
            slices: Vec::new(),
        };
        let map = match projection {
            None | Some(Value::Null) => return Ok(parsed),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(DataApiError::new(
                    Code::InvalidRequestStructureMismatch,
                    "projection must be an object",
                ));
            }
        };
        if map.len() == 1
            && let Some(star) = map.get("*")
        {
            if truthy("*", star)? {
                parsed.keep_vector = true;
            } else {
                parsed.include = Some(Vec::new());
                parsed.keep_id = false;
            }
            return Ok(parsed);
        }
        let mut includes = Vec::new();
        collect(map, None, &mut parsed, &mut includes)?;
        if !includes.is_empty() {
            parsed.include = Some(includes);
        }
        Ok(parsed)
    }

    /// The document as the client sees it.
    pub fn apply(&self, doc: &Value) -> Value {
        let mut out = match &self.include {
            Some(paths) => {
                let mut out = Value::Object(Map::new());
                for path in paths {
                    if let Some(value) = get_path(doc, path) {
                        let _ = set_path(&mut out, path, value.clone());
                    }
                }
                for (path, _, _) in &self.slices {
                    if let Some(value) = get_path(doc, path) {
                        let _ = set_path(&mut out, path, value.clone());
                    }
                }
                out
            }
            None => {
                let mut out = doc.clone();
                for path in &self.exclude {
                    remove_path(&mut out, path);
                }
                out
            }
        };
        if let Value::Object(map) = &mut out {
            if self.keep_id {
                if let Some(id) = doc.get("_id") {
                    map.shift_insert(0, "_id".into(), id.clone());
                }
            } else {
                map.shift_remove("_id");
            }
            if self.keep_vector {
                if let Some(vector) = doc.get("$vector") {
                    map.insert("$vector".into(), vector.clone());
                }
            } else {
                map.shift_remove("$vector");
            }
        }
        for (path, skip, limit) in &self.slices {
            if let Some(Value::Array(items)) = super::json::get_path_mut(&mut out, path) {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let (start, count) = match limit {
                    None if *skip >= 0 => (0, *skip),
                    None => ((len + skip).max(0), len),
                    Some(n) => {
                        let start = if *skip < 0 {
                            (len + skip).max(0)
                        } else {
                            (*skip).min(len)
                        };
                        (start, *n)
                    }
                };
                let start = usize::try_from(start).unwrap_or(0);
                let count = usize::try_from(count).unwrap_or(0);
                *items = items.iter().skip(start).take(count).cloned().collect();
            }
        }
        out
    }
}

fn truthy(path: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        other => Err(unsupported(format!(
            "path ('{path}') value must be NUMBER, BOOLEAN or OBJECT, was {}",
            super::storage::type_name(other).to_uppercase()
        ))),
    }
}

fn collect(
    map: &Map<String, Value>,
    parent: Option<&str>,
    parsed: &mut Projection,
    includes: &mut Vec<String>,
) -> Result<()> {
    for (key, value) in map {
        if key.is_empty() {
            return Err(unsupported("empty paths (and path segments) not allowed"));
        }
        if key == "*" {
            return Err(unsupported("wildcard ('*') only allowed as the only root-level path"));
        }
        if key.starts_with('$') && key != "$vector" {
            match (parent, key.as_str()) {
                (Some(path), "$slice") => {
                    parsed.slices.push(slice(path, value)?);
                    continue;
                }
                (None, _) => {
                    return Err(unsupported(
                        "'$vector' is the only allowed path that can start with '$'",
                    ));
                }
                (Some(_), other) => {
                    return Err(unsupported(format!(
                        "unrecognized/unsupported projection operator '{other}' (only '$slice' supported)"
                    )));
                }
            }
        }
        let path = match parent {
            Some(parent) => format!("{parent}.{key}"),
            None => key.clone(),
        };
        if let Value::Object(inner) = value {
            collect(inner, Some(&path), parsed, includes)?;
            continue;
        }
        let keep = truthy(&path, value)?;
        // `_id` and `$vector` do not make a projection an inclusion or an exclusion; any other
        // path does, and the first one decides which (the other kind is then refused).
        match path.as_str() {
            "_id" => parsed.keep_id = keep,
            "$vector" => parsed.keep_vector = keep,
            _ if keep && !parsed.exclude.is_empty() => {
                return Err(unsupported(format!("cannot include '{path}' on exclusion projection")));
            }
            _ if !keep && !includes.is_empty() => {
                return Err(unsupported(format!("cannot exclude '{path}' on inclusion projection")));
            }
            _ if keep => includes.push(path),
            _ => parsed.exclude.push(path),
        }
    }
    Ok(())
}

fn slice(path: &str, value: &Value) -> Result<(String, i64, Option<i64>)> {
    let bad = || {
        unsupported(format!(
            "path ('{path}') has unsupported parameter for '$slice' ({value}): only NUMBER or ARRAY with 2 NUMBERs accepted"
        ))
    };
    match value {
        Value::Number(n) => Ok((path.to_string(), n.as_i64().ok_or_else(bad)?, None)),
        Value::Array(pair) if pair.len() == 2 => {
            let skip = pair[0].as_i64().ok_or_else(bad)?;
            let limit = pair[1].as_i64().ok_or_else(bad)?;
            if limit < 0 {
                return Err(unsupported(format!(
                    "path ('{path}') has unsupported parameter for '$slice' ({value}): second NUMBER (entries to return) MUST be positive"
                )));
            }
            Ok((path.to_string(), skip, Some(limit)))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(projection: Value, doc: Value) -> Value {
        Projection::parse(Some(&projection)).unwrap().apply(&doc)
    }

    #[test]
    fn default_leaves_out_the_vector_only() {
        let doc = json!({"_id": 1, "a": 1, "$vector": [0.1]});
        assert_eq!(Projection::parse(None).unwrap().apply(&doc), json!({"_id": 1, "a": 1}));
        assert_eq!(project(json!({"*": 1}), doc.clone()), doc);
        assert_eq!(project(json!({"*": 0}), doc.clone()), json!({}));
        assert_eq!(project(json!({"$vector": 1}), doc.clone()), doc);
    }

    #[test]
    fn inclusion_exclusion_and_slices() {
        let doc = json!({"_id": "x", "a": {"b": 1, "c": 2}, "d": 3, "arr": [1, 2, 3, 4]});
        assert_eq!(
            project(json!({"a.b": 1}), doc.clone()),
            json!({"_id": "x", "a": {"b": 1}})
        );
        assert_eq!(project(json!({"d": 1, "_id": 0}), doc.clone()), json!({"d": 3}));
        assert_eq!(
            project(json!({"a": 0, "arr": 0}), doc.clone()),
            json!({"_id": "x", "d": 3})
        );
        assert_eq!(
            project(json!({"arr": {"$slice": 2}}), doc.clone())["arr"],
            json!([1, 2])
        );
        assert_eq!(project(json!({"arr": {"$slice": -1}}), doc.clone())["arr"], json!([4]));
        assert_eq!(
            project(json!({"arr": {"$slice": [1, 2]}}), doc.clone())["arr"],
            json!([2, 3])
        );
        let mixed = Projection::parse(Some(&json!({"a": 1, "d": 0}))).unwrap_err();
        assert_eq!(mixed.code, Code::UnsupportedProjectionParam);
    }
}
