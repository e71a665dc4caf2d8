//! The serpent codec (serializer id 1, Pyro4's default): Python literal text
//! as serpent 1.43 writes it for Pyro4 (`module_in_classname=True`, compact,
//! set literals), read back the way `ast.literal_eval` reads it.
//!
//! Writing is byte-identical to serpent 1.43 for every value serpent can
//! write readably. Where serpent's output would not be readable by any peer
//! (bytes, NaN, None or containers as dict keys or set elements) we refuse
//! with [`SerializeError::Unsupported`] instead.
//!
//! Nesting is limited to [`MAX_DEPTH`](crate::serialize::MAX_DEPTH) (256)
//! containers both ways; note that CPython's parser already refuses more
//! than 200 nested brackets, and serpent's writer about as many.
//!
//! serpent sorts dict keys and set elements only in its indented mode, which
//! Pyro4 does not use: in compact mode dicts keep insertion order and sets
//! their iteration order, and so does this writer (in the `Vec` order).
//!
//! What does not survive a serpent round trip (in Python either): bytes come
//! back as `{'data': <base64>, 'encoding': 'base64'}` dicts, empty sets as
//! `()`, frozensets as sets, NaN as a `{'__class__': 'float', ...}` dict,
//! [`Value::Class`] as a plain dict, and complex numbers follow Python's
//! `a+bj` arithmetic (`(1.0-0.0j)` reads back with imaginary part `+0.0`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::serialize::{Call, SerializeError};
use crate::value::{Dict, Value};

mod reader;
mod writer;

const CODEC: &str = "serpent";

/// The header line serpent 1.43 writes on Python 3 (set literals in use).
pub const HEADER: &[u8] = b"# serpent utf-8 python3.2\n";

/// Encode one value as serpent text, byte-identical to Pyro4's
/// `SerpentSerializer.dumps` for the same Python value.
pub fn dumps(value: &Value) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_into(value, &mut out)?;
    Ok(out)
}

/// [`dumps`], appending the document to `out` (cut back to its length on
/// entry if the value cannot be written).
pub fn dumps_into(value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    crate::serialize::append_or_rollback(out, |out| writer::dumps_into(value, out))
}

/// Decode one serpent document (any header or comment lines, any literal
/// `ast.literal_eval` accepts) into the raw value tree: dicts with a
/// `__class__` key stay [`Value::Dict`], bytes stay base64 dicts.
pub fn loads(data: &[u8]) -> Result<Value, SerializeError> {
    reader::loads(data)
}

/// Encode a call tuple `(object,method,vargs,kwargs)` as Pyro4's
/// `SerpentSerializer.dumpsCall` does (`kwargs` `None` for attribute access
/// and batches).
pub fn dumps_call(call: &Call) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_call_into(call, &mut out)?;
    Ok(out)
}

/// [`dumps_call`], appending the document to `out` (cut back to its length
/// on entry if the call cannot be written).
pub fn dumps_call_into(call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    crate::serialize::append_or_rollback(out, |out| writer::dumps_call_into(call, out))
}

/// Decode an INVOKE payload: a 4-tuple (or list, Python unpacks either)
/// `(object: str, method: str, vargs: tuple|list, kwargs: dict|None)`.
pub fn loads_call(data: &[u8]) -> Result<Call, SerializeError> {
    let value = loads(data)?;
    let items = match value {
        Value::Tuple(items) | Value::List(items) if items.len() == 4 => items,
        other => {
            return Err(SerializeError::BadCall(format!(
                "serpent call payload must be a 4-tuple (object, method, vargs, kwargs), got {}",
                describe_len(&other)
            )))
        }
    };
    let mut it = items.into_iter();
    let (object, method, vargs, kwargs) = match (it.next(), it.next(), it.next(), it.next()) {
        (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
        _ => return Err(SerializeError::BadCall("call tuple too short".into())),
    };
    let object = match object {
        Value::Str(s) => s,
        other => return Err(bad_field("object id", "a str", &other)),
    };
    let method = match method {
        Value::Str(s) => s,
        other => return Err(bad_field("method name", "a str", &other)),
    };
    let vargs = match vargs {
        v @ (Value::Tuple(_) | Value::List(_)) => v,
        other => return Err(bad_field("vargs", "a tuple or list", &other)),
    };
    let kwargs: Option<Dict> = match kwargs {
        Value::Dict(d) => Some(d),
        Value::None => None,
        other => return Err(bad_field("kwargs", "a dict or None", &other)),
    };
    Ok(Call {
        object,
        method,
        vargs,
        kwargs,
    })
}

fn describe_len(v: &Value) -> String {
    match v {
        Value::Tuple(items) => format!("a tuple of {} items", items.len()),
        Value::List(items) => format!("a list of {} items", items.len()),
        other => format!("a {}", writer::describe(other)),
    }
}

fn bad_field(what: &str, want: &str, got: &Value) -> SerializeError {
    SerializeError::BadCall(format!(
        "serpent call {what} must be {want}, got a {}",
        writer::describe(got)
    ))
}

#[cfg(test)]
mod tests;
