//! Reading typed fields out of strictly parsed JSON objects, with errors that name the
//! JSON path and the rule broken.

use crate::jcs::MAX_SAFE_INTEGER;
use crate::{Error, Ref, Result};
use serde_json::{Map, Value};

/// The JSON type name of `v`, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "non-integer number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON object being read field by field; `finish` rejects members nobody read.
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(path: &str, v: &'a Value) -> Result<Fields<'a>> {
        match v {
            Value::Object(map) => Ok(Fields {
                path: path.to_owned(),
                map,
                seen: Vec::new(),
            }),
            other => Err(Error::WrongType {
                field: path.to_owned(),
                expected: "object",
                found: type_name(other),
            }),
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn opt(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key)
    }

    pub(crate) fn req(&mut self, key: &'static str) -> Result<&'a Value> {
        let p = self.path(key);
        self.opt(key).ok_or(Error::Missing { field: p })
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Result<String> {
        let p = self.path(key);
        as_string(&p, self.req(key)?)
    }

    pub(crate) fn reference(&mut self, key: &'static str) -> Result<Ref> {
        let p = self.path(key);
        let s = self.string(key)?;
        Ref::parse_field(&p, &s)
    }

    pub(crate) fn uint(&mut self, key: &'static str) -> Result<u64> {
        let p = self.path(key);
        as_uint(&p, self.req(key)?)
    }

    pub(crate) fn object(&mut self, key: &'static str) -> Result<&'a Value> {
        let p = self.path(key);
        let v = self.req(key)?;
        if !v.is_object() {
            return Err(Error::WrongType {
                field: p,
                expected: "object",
                found: type_name(v),
            });
        }
        Ok(v)
    }

    pub(crate) fn array(&mut self, key: &'static str) -> Result<&'a Vec<Value>> {
        let p = self.path(key);
        match self.req(key)? {
            Value::Array(a) => Ok(a),
            other => Err(Error::WrongType {
                field: p,
                expected: "array",
                found: type_name(other),
            }),
        }
    }

    /// Rejects members that were never read.
    pub(crate) fn finish(self) -> Result<()> {
        for k in self.map.keys() {
            if !self.seen.iter().any(|s| s == k) {
                return Err(Error::Unexpected {
                    field: self.path(k),
                });
            }
        }
        Ok(())
    }
}

pub(crate) fn as_string(path: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(Error::WrongType {
            field: path.to_owned(),
            expected: "string",
            found: type_name(other),
        }),
    }
}

/// A JSON integer in `0..=2^53-1` (no float, bool or string).
pub(crate) fn as_uint(path: &str, v: &Value) -> Result<u64> {
    match v {
        Value::Number(n) if !n.is_f64() => match n.as_u64() {
            Some(u) if u <= MAX_SAFE_INTEGER => Ok(u),
            Some(u) => Err(Error::IntegerOutOfRange {
                field: path.to_owned(),
                value: u.to_string(),
            }),
            None => Err(Error::rule(path, "must be a non-negative integer")),
        },
        other => Err(Error::WrongType {
            field: path.to_owned(),
            expected: "integer",
            found: type_name(other),
        }),
    }
}

/// `path.key`, where the root paths `""` and `"$"` give just `key`: typed constructors
/// name members relative to the construction's input.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() || path == "$" {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
