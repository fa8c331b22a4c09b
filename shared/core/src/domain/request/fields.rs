//! Typed reads of a JSON object's fields, each error naming the field in full.

use serde_json::{Map, Value};

use super::{ValidationError, Warning};

/// Longest short string (a model, sampler, resolution or lane name, a grid cell): far
/// longer than any such name, and short enough to quote back in an error.
pub const MAX_WORD_BYTES: usize = 64;

/// The fields of one JSON object; `prefix` (such as `characters[1].`) is put before the
/// names errors report, so nested fields are named in full.
pub(super) struct Fields<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) prefix: String,
}

impl<'a> Fields<'a> {
    pub(super) fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
        }
    }

    /// The full name of a field, as errors report it.
    pub(super) fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The value of a field, treating JSON `null` as absent.
    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// An optional list of objects: absent, `null` and `[]` are all no items; anything but
    /// a list is refused with `shape` (what a list item looks like) in the message.
    pub(super) fn list(&self, name: &str, shape: &str) -> Result<&'a [Value], ValidationError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be a list of {shape} objects"),
                ))
            }
        }
    }

    /// A short string: a name, a choice or an id (at most [`MAX_WORD_BYTES`]).
    pub(super) fn string(&self, name: &str) -> Result<Option<&'a str>, ValidationError> {
        self.text(name, MAX_WORD_BYTES)
    }

    /// A string of at most `max_bytes` bytes of UTF-8 (what it costs to store and send,
    /// whatever the script: 8,000 emoji are 32,000 bytes).
    pub(super) fn text(
        &self,
        name: &str,
        max_bytes: usize,
    ) -> Result<Option<&'a str>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() <= max_bytes => Ok(Some(s.as_str())),
            Some(Value::String(_)) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be at most {max_bytes} bytes (UTF-8)"),
                ))
            }
            Some(_) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be a string"),
                ))
            }
        }
    }

    pub(super) fn boolean(&self, name: &str) -> Result<Option<bool>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be true or false"),
                ))
            }
        }
    }

    /// An integer in `[min, max]`; integral floats (`28.0`) are accepted.
    pub(super) fn integer(
        &self,
        name: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ValidationError> {
        let path = self.path(name);
        let err =
            || ValidationError::invalid(&path, format!("{path} must be an integer {min}-{max}"));
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(err)?,
            _ => return Err(err()),
        };
        if n < min || n > max {
            return Err(err());
        }
        Ok(Some(n))
    }

    /// A number brought into `[min, max]` when it is outside, the change noted in
    /// `warnings` (a value the seed service accepted is never refused for its range).
    pub(super) fn number_in_range(
        &self,
        name: &str,
        min: f64,
        max: f64,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<f64>, ValidationError> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let Some(f) = n.as_f64().filter(|f| f.is_finite()) else {
                    return Err(ValidationError::invalid(
                        &path,
                        format!("{path} must be a number {min}-{max}"),
                    ));
                };
                let sent = f.clamp(min, max);
                if sent != f {
                    warnings.push(Warning {
                        field: path,
                        given: Value::Number(n.clone()),
                        sent: serde_json::json!(sent),
                        message: format!("{name} {f} is outside {min}-{max}; {sent} was sent"),
                    });
                }
                Ok(Some(sent))
            }
            Some(_) => Err(ValidationError::invalid(
                &path,
                format!("{path} must be a number {min}-{max}"),
            )),
        }
    }

    pub(super) fn number(
        &self,
        name: &str,
        min: f64,
        max: f64,
    ) -> Result<Option<f64>, ValidationError> {
        let path = self.path(name);
        let err =
            || ValidationError::invalid(&path, format!("{path} must be a number {min}-{max}"));
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let f = n.as_f64().ok_or_else(err)?;
                if !(min..=max).contains(&f) {
                    return Err(err());
                }
                Ok(Some(f))
            }
            Some(_) => Err(err()),
        }
    }
}
