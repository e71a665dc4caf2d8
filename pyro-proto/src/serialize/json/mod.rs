//! The json codec (serializer id 2), byte-compatible with Pyro4 4.82's
//! `JsonSerializer` on CPython 3.11.
//!
//! Writing gives exactly `json.dumps(obj, ensure_ascii=False,
//! default=JsonSerializer.default).encode("utf-8")`: `", "` and `": "`
//! separators, raw UTF-8, `NaN`/`Infinity`/`-Infinity` tokens, Python float
//! `repr`, tuples and sets as arrays, int/float/bool/None dict keys as strings.
//! What Pyro4 refuses (bytes, complex, frozenset, tuple keys, ints over 4300
//! digits) is a [`SerializeError::Unsupported`] here too.
//!
//! Reading follows `json.loads`: arrays become [`Value::List`], objects
//! [`Value::Dict`] with string keys in document order (a repeated key keeps
//! its first position and its last value), ints are [`Value::Int`] or, outside
//! `i64`, [`Value::BigInt`]. A dict carrying `__class__` stays a plain dict
//! (class rebuilding is the `value::classes` layer's job).
//!
//! Where the reader differs from Python, always on input no Pyro4 peer writes:
//! * a `\uXXXX` escape of a lone surrogate is a [`SerializeError::Malformed`]
//!   (Python keeps it in its `str`; a Rust `String` cannot hold one, and a
//!   Pyro4 peer cannot send one: its UTF-8 encoding fails on surrogates);
//! * nesting deeper than [`MAX_DEPTH`](crate::serialize::MAX_DEPTH) is
//!   [`SerializeError::TooDeep`] (Python's limit is its recursion limit);
//! * error offsets count bytes, Python's count characters.
//!
//! json is lossy: tuples and sets come back as lists, non-str keys as strings,
//! classes as dicts, NaN payloads as the default NaN.

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::serialize::{Call, SerializeError};
use crate::value::{PyStr, Value};

mod decode;
mod encode;

const CODEC: &str = "json";

/// CPython's default `sys.get_int_max_str_digits()`: ints longer than this
/// can neither be written nor read by a Python 3.11 peer.
const PY_INT_MAX_STR_DIGITS: usize = 4300;

/// 10^0 ..= 10^15, all exact doubles: the float fast paths (reading and
/// writing short decimals) rely on that exactness.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Encode one value as Pyro4's `JsonSerializer.dumps` does.
pub fn dumps(value: &Value) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_into(value, &mut out)?;
    Ok(out)
}

/// [`dumps`], appending the text to `out` (cut back to its length on entry
/// if the value cannot be written).
pub fn dumps_into(value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    super::reserve(out, 128);
    crate::serialize::append_or_rollback(out, |out| encode::write_value(out, value))
}

/// Decode one value as Pyro4's `JsonSerializer.loads` does (before its
/// class-dict conversion): the raw tree, strict UTF-8 input.
pub fn loads(data: &[u8]) -> Result<Value, SerializeError> {
    decode::parse(data)
}

/// Encode a call as Pyro4's `JsonSerializer.dumpsCall` does. For json the
/// call is not a tuple but the object
/// `{"object": ..., "method": ..., "params": [...], "kwargs": {...}}`, with
/// `"kwargs": null` when [`Call::kwargs`] is `None`.
pub fn dumps_call(call: &Call) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_call_into(call, &mut out)?;
    Ok(out)
}

/// [`dumps_call`], appending the text to `out` (cut back to its length on
/// entry if the call cannot be written).
pub fn dumps_call_into(call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    super::reserve(out, 256);
    crate::serialize::append_or_rollback(out, |out| encode::write_call(out, call))
}

/// Decode a call as Pyro4's `JsonSerializer.loadsCall` does: a JSON object
/// from which the keys `object`, `method`, `params` and `kwargs` are taken
/// (in any order; other keys are ignored, as Python ignores them).
///
/// `object` and `method` must be strings, `params` an array (it becomes
/// [`Call::vargs`] as a [`Value::List`]), `kwargs` an object or `null`.
/// Anything else is [`SerializeError::BadCall`].
pub fn loads_call(data: &[u8]) -> Result<Call, SerializeError> {
    decode::parse_call(data).map(|(call, _)| call)
}

/// [`loads_call`], plus whether the class step
/// ([`recreate`](crate::value::recreate)) could change or refuse the call:
/// false when no object in it has a `__class__` key and nothing nests near
/// [`MAX_DEPTH`](crate::serialize::MAX_DEPTH), which the parser notes as it
/// goes, so the caller can skip a second pass over the arguments.
#[inline]
pub(crate) fn loads_call_noting_classes(data: &[u8]) -> Result<(Call, bool), SerializeError> {
    decode::parse_call(data)
}

fn bad(reason: &str) -> SerializeError {
    SerializeError::BadCall(reason.to_string())
}

fn missing(key: &str) -> SerializeError {
    SerializeError::BadCall(alloc::format!("the json call object has no \"{key}\" key"))
}

#[inline]
fn string_field(name: &str, value: Option<Value>) -> Result<PyStr, Box<SerializeError>> {
    match value {
        Some(Value::Str(s)) => Ok(s),
        Some(_) => Err(Box::new(SerializeError::BadCall(alloc::format!(
            "\"{name}\" in a json call must be a string"
        )))),
        None => Err(Box::new(missing(name))),
    }
}

#[cfg(test)]
mod tests;
