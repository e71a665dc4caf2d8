//! The serpent writer: serpent 1.43's compact output (`indent=False`,
//! `module_in_classname=True`, no `bytes_repr`), byte for byte.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use base64::Engine;
use num_bigint::BigInt;

use super::{CODEC, HEADER};
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::repr::{float_repr, write_str_repr};
use crate::value::{Dict, Value};

/// Python refuses to convert ints with more decimal digits than this to text
/// (`sys.get_int_max_str_digits()`, default 4300 since 3.11): serpent fails
/// on them, and so do we rather than write something no peer reads.
pub(super) const MAX_INT_DIGITS: usize = 4300;

/// Append `value` as a complete serpent document (header line included).
pub(super) fn dumps_into(value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    crate::serialize::reserve(out, HEADER.len() + estimate(value));
    out.extend_from_slice(HEADER);
    write_value(out, value, 0)
}

/// Append Pyro4's call tuple `(object,method,vargs,kwargs)`.
pub(super) fn dumps_call_into(call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    // Room for a typical call's punctuation and small arguments as well
    // (a fresh buffer then does not grow midway).
    crate::serialize::reserve(
        out,
        HEADER.len() + call.object.len() + call.method.len() + 128 + estimate(&call.vargs),
    );
    out.extend_from_slice(HEADER);
    out.push(b'(');
    write_str_repr(out, &call.object);
    out.push(b',');
    write_str_repr(out, &call.method);
    out.push(b',');
    write_value(out, &call.vargs, 1)?;
    out.push(b',');
    match &call.kwargs {
        Some(kwargs) => write_dict(out, kwargs, 1)?,
        None => out.extend_from_slice(b"None"),
    }
    out.push(b')');
    Ok(())
}

/// A cheap first guess of the output size, so that large bytes and strings
/// do not make the buffer grow several times.
fn estimate(value: &Value) -> usize {
    match value {
        Value::Bytes(b) => b.len() / 3 * 4 + 48,
        Value::Str(s) => s.len() + 2,
        Value::List(items) | Value::Tuple(items) => items.len() * 8,
        _ => 64,
    }
}

fn unsupported(what: impl Into<alloc::string::String>) -> SerializeError {
    SerializeError::Unsupported {
        codec: CODEC,
        what: what.into(),
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), SerializeError> {
    match value {
        Value::None => out.extend_from_slice(b"None"),
        Value::Bool(true) => out.extend_from_slice(b"True"),
        Value::Bool(false) => out.extend_from_slice(b"False"),
        Value::Int(i) => write_i64(out, *i),
        Value::BigInt(b) => write_bigint(out, b)?,
        Value::Float(f) => write_float(out, *f),
        Value::Complex { re, im } => write_complex(out, *re, *im),
        Value::Str(s) => write_str_repr(out, s),
        Value::Bytes(b) => write_bytes(out, b),
        Value::List(items) => {
            let depth = enter(depth)?;
            out.push(b'[');
            write_items(out, items, depth)?;
            out.push(b']');
        }
        Value::Tuple(items) => {
            let depth = enter(depth)?;
            out.push(b'(');
            write_items(out, items, depth)?;
            if items.len() == 1 {
                out.push(b',');
            }
            out.push(b')');
        }
        Value::Set(items) | Value::FrozenSet(items) => {
            let depth = enter(depth)?;
            if items.is_empty() {
                // There is no empty-set literal: serpent writes an empty tuple.
                out.extend_from_slice(b"()");
            } else {
                for item in items {
                    check_key(item, "set element")?;
                }
                out.push(b'{');
                write_items(out, items, depth)?;
                out.push(b'}');
            }
        }
        Value::Dict(dict) => write_dict(out, dict, depth)?,
        Value::Class(class) => {
            let depth = enter(depth)?;
            out.extend_from_slice(b"{'__class__':");
            write_str_repr(out, &class.class_name);
            for (key, value) in &class.fields.0 {
                check_key(key, "dict key")?;
                out.push(b',');
                write_value(out, key, depth)?;
                out.push(b':');
                write_value(out, value, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn enter(depth: usize) -> Result<usize, SerializeError> {
    if depth >= MAX_DEPTH {
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    } else {
        Ok(depth + 1)
    }
}

fn write_items(out: &mut Vec<u8>, items: &[Value], depth: usize) -> Result<(), SerializeError> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, item, depth)?;
    }
    Ok(())
}

fn write_dict(out: &mut Vec<u8>, dict: &Dict, depth: usize) -> Result<(), SerializeError> {
    let depth = enter(depth)?;
    out.push(b'{');
    for (i, (key, value)) in dict.0.iter().enumerate() {
        check_key(key, "dict key")?;
        if i > 0 {
            out.push(b',');
        }
        write_value(out, key, depth)?;
        out.push(b':');
        write_value(out, value, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// serpent only accepts bool, bytes, str, tuple and numbers as dict keys and
/// set elements (`_check_hashable_type`). We are stricter where serpent would
/// write text that no reader accepts: bytes and NaN (written as dicts) and
/// tuples holding unhashable things, since that would only fail at the peer.
fn check_key(key: &Value, role: &str) -> Result<(), SerializeError> {
    let ok = match key {
        Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Str(_) => true,
        Value::Float(f) => !f.is_nan(),
        Value::Complex { re, im } => !re.is_nan() && !im.is_nan(),
        Value::Tuple(items) => items.iter().all(hashable_in_tuple),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(unsupported(format!(
            "a {} as {role} (serpent keys and set elements must be bool, int, float, complex, str or a tuple of hashable values)",
            type_name(key)
        )))
    }
}

/// Whether an element inside a tuple key reads back as something hashable.
fn hashable_in_tuple(v: &Value) -> bool {
    match v {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Str(_) => true,
        Value::Float(f) => !f.is_nan(),
        Value::Complex { re, im } => !re.is_nan() && !im.is_nan(),
        Value::Tuple(items) => items.iter().all(hashable_in_tuple),
        // An empty set is written as `()`, which is hashable.
        Value::Set(items) | Value::FrozenSet(items) => items.is_empty(),
        _ => false,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
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
        Value::Class(_) => "class object",
    }
}

fn write_i64(out: &mut Vec<u8>, i: i64) {
    // Most ints in calls have one or two digits: no digit loop, no copy.
    if (0..100).contains(&i) {
        let i = i as u8;
        if i < 10 {
            out.push(b'0' + i);
        } else {
            out.extend_from_slice(&[b'0' + i / 10, b'0' + i % 10]);
        }
        return;
    }
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

fn write_bigint(out: &mut Vec<u8>, b: &BigInt) -> Result<(), SerializeError> {
    // 4300 decimal digits need at least 14281 bits; cheap pre-check before
    // the (quadratic) conversion.
    if b.bits() > 14300 {
        return Err(too_many_digits());
    }
    let text = b.to_string();
    if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
        return Err(too_many_digits());
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn too_many_digits() -> SerializeError {
    unsupported(format!(
        "an int with more than {MAX_INT_DIGITS} decimal digits (Python's int_max_str_digits limit)"
    ))
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"{'__class__':'float','value':'nan'}");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"1e30000" } else { b"-1e30000" });
    } else if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
    } else {
        out.extend_from_slice(float_repr(f).as_bytes());
    }
}

fn write_complex(out: &mut Vec<u8>, re: f64, im: f64) {
    if re.is_nan() || im.is_nan() {
        out.extend_from_slice(b"{'__class__':'complex','real':");
        write_float(out, re);
        out.extend_from_slice(b",'imag':");
        write_float(out, im);
        out.push(b'}');
        return;
    }
    out.push(b'(');
    write_float(out, re);
    if im.is_sign_positive() {
        out.push(b'+');
    }
    write_float(out, im);
    out.extend_from_slice(b"j)");
}

/// `repr({'data': b64, 'encoding': 'base64'})`: note the spaces.
fn write_bytes(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"{'data': '");
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(data, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
    out.extend_from_slice(b"', 'encoding': 'base64'}");
}

/// For error messages that mention a value's kind.
pub(super) fn describe(v: &Value) -> alloc::string::String {
    type_name(v).to_string()
}
