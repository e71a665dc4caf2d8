//! The marshal codec (serializer id 3): CPython's `marshal` format, version 4,
//! as Pyro4 4.82's `MarshalSerializer` uses it on CPython 3.11.
//!
//! Writing gives what `marshal.dumps(value)` gives, minus the parts that depend
//! on the writer's object reference counts: Python marks objects it has seen
//! more than once with `FLAG_REF` (bit `0x80`) and writes later occurrences as
//! `r` back-references, and uses the "interned" string codes (`Z`, `A`, `t`)
//! for interned strings. We never emit either, so our bytes equal Python's
//! after those are stripped (references expanded, `Z`/`A`/`t` read as
//! `z`/`a`/`u`); for values Python holds no extra references to (fresh
//! containers of non-interned data) the bytes are identical. Python reads
//! both forms to equal values.
//!
//! Code choice mirrors `w_object` in CPython 3.11: `i` for ints in the `i32`
//! range and `l` (base 2^15 digits) otherwise, `g`/`y` binary floats and
//! complexes (bit-exact, NaN payloads kept), `z` for ASCII strings shorter than
//! 256 bytes and `a` otherwise, `u` (UTF-8) for the rest, `)` for tuples
//! shorter than 256 items and `(` otherwise, `[`, `{ ... 0`, `<`, `>`, and `s`
//! for bytes. [`Value::Class`] is written as a dict with `__class__` first, as
//! Pyro4's `class_to_dict` builds it.
//!
//! Reading accepts everything CPython 3.8-3.13 `marshal.loads` reads for the
//! data types Pyro can carry (see `decode` for the full table, the reference
//! table, and the few inputs we refuse).

use alloc::vec::Vec;

use crate::serialize::{Call, SerializeError};
use crate::value::Value;

mod decode;
mod encode;
#[cfg(test)]
mod tests;

const CODEC: &str = "marshal";

/// Encode one value as Pyro4's `MarshalSerializer.dumps` does
/// (`marshal.dumps(value)` after the top-level class-dict conversion, which a
/// [`Value::Class`] already is).
pub fn dumps(value: &Value) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_into(value, &mut out)?;
    Ok(out)
}

/// [`dumps`], appending the record to `out` (cut back to its length on
/// entry if the value cannot be written).
pub fn dumps_into(value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    // Large str/bytes leaves reserve their own room as they are written.
    super::reserve(out, 64);
    crate::serialize::append_or_rollback(out, |out| encode::Writer::new(out).value(value, 0))
}

/// Decode one value as `marshal.loads` does: the raw tree, where a dict with a
/// `__class__` key stays a [`Value::Dict`]. Bytes after the first complete
/// object are ignored, as `marshal.loads` ignores them.
pub fn loads(data: &[u8]) -> Result<Value, SerializeError> {
    decode::read(data)
}

/// Encode a call as Pyro4's `MarshalSerializer.dumpsCall` does: the tuple
/// `(object, method, list(vargs), kwargs)`.
///
/// `vargs` may be a [`Value::Tuple`] or a [`Value::List`]; it is always written
/// as a list, as Pyro4 does. Python's `dumpsCall` crashes on `kwargs=None`
/// (`__getattr__`, `__setattr__`, batches); we write `None` there instead,
/// which a Python daemon's `loadsCall` reads and dispatches fine.
pub fn dumps_call(call: &Call) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_call_into(call, &mut out)?;
    Ok(out)
}

/// [`dumps_call`], appending the record to `out` (cut back to its length on
/// entry if the call cannot be written).
pub fn dumps_call_into(call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    let items = match &call.vargs {
        Value::Tuple(items) | Value::List(items) => items,
        other => {
            return Err(SerializeError::BadCall(alloc::format!(
                "call arguments must be a tuple or list, not {}",
                kind(other)
            )))
        }
    };
    // A typical call (a few args, short names) takes 100-200 bytes: room
    // for this much (for a fresh buffer one allocation, still the
    // allocator's small, cached class) avoids growing the buffer midway;
    // large str/bytes args reserve their own room as they are written.
    super::reserve(out, encode::HEADROOM);
    crate::serialize::append_or_rollback(out, |out| {
        let mut w = encode::Writer::new(out);
        w.raw(&[b')', 4]);
        w.str(&call.object);
        w.str(&call.method);
        w.seq(b'[', items, 0)?;
        match &call.kwargs {
            Some(kwargs) => w.dict(None, kwargs, 0),
            None => {
                w.raw(b"N");
                Ok(())
            }
        }
    })
}

/// Decode a call as Pyro4's `MarshalSerializer.loadsCall` does: unpack a
/// 4-item sequence `(object, method, vargs, kwargs)`.
///
/// `object` and `method` must be strings, `vargs` a list or tuple (kept as
/// it came), `kwargs` a dict or `None`.
pub fn loads_call(data: &[u8]) -> Result<Call, SerializeError> {
    decode::read_call(data).map(|(call, _)| call)
}

/// [`loads_call`], plus whether the class step
/// ([`recreate`](crate::value::recreate)) could change or refuse the call:
/// false when no dict in it has a `__class__` key and nothing nests near
/// [`MAX_DEPTH`](crate::serialize::MAX_DEPTH), which the reader notes as it
/// goes, so the caller can skip a second pass over the arguments.
#[inline]
pub(crate) fn loads_call_noting_classes(data: &[u8]) -> Result<(Call, bool), SerializeError> {
    decode::read_call(data)
}

/// The checks of [`loads_call`] on the four items of the call tuple.
#[inline]
fn call_from(
    object: Value,
    method: Value,
    vargs: Value,
    kwargs: Value,
) -> Result<Call, SerializeError> {
    // The usual shapes move straight into the call; anything else is
    // refused by `bad_call` with the first problem found.
    match (object, method, vargs, kwargs) {
        (
            Value::Str(object),
            Value::Str(method),
            vargs @ (Value::List(_) | Value::Tuple(_)),
            kwargs @ (Value::Dict(_) | Value::None),
        ) => Ok(Call {
            object,
            method,
            vargs,
            kwargs: match kwargs {
                Value::Dict(d) => Some(d),
                _ => None,
            },
        }),
        (object, method, vargs, kwargs) => Err(bad_call(&object, &method, &vargs, &kwargs)),
    }
}

/// Why four call items do not make a call.
#[cold]
fn bad_call(object: &Value, method: &Value, vargs: &Value, kwargs: &Value) -> SerializeError {
    let why = if !matches!(object, Value::Str(_)) {
        alloc::format!("the object id must be a str, not {}", kind(object))
    } else if !matches!(method, Value::Str(_)) {
        alloc::format!("the method name must be a str, not {}", kind(method))
    } else if !matches!(vargs, Value::List(_) | Value::Tuple(_)) {
        alloc::format!(
            "call arguments must be a list or tuple, not {}",
            kind(vargs)
        )
    } else {
        alloc::format!(
            "call keyword arguments must be a dict or None, not {}",
            kind(kwargs)
        )
    };
    SerializeError::BadCall(why)
}

/// [`loads_call`]'s refusal of a payload that is not a 4-item sequence.
#[cold]
fn not_a_call(v: Value) -> SerializeError {
    SerializeError::BadCall(match v {
        Value::Tuple(items) | Value::List(items) => alloc::format!(
            "expected a 4-tuple (object, method, vargs, kwargs), got {} items",
            items.len()
        ),
        other => alloc::format!(
            "expected a 4-tuple (object, method, vargs, kwargs), got {}",
            kind(&other)
        ),
    })
}

/// Python's type name for a value, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Float(_) => "float",
        Value::Complex { .. } => "complex",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Set(_) => "set",
        Value::FrozenSet(_) => "frozenset",
        Value::Dict(_) => "dict",
        Value::Class(_) => "class dict",
    }
}
