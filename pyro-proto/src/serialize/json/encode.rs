//! The json writer: byte-for-byte what Pyro4's `JsonSerializer.dumps` gives,
//! i.e. `json.dumps(obj, ensure_ascii=False, default=...).encode("utf-8")`.
//!
//! Output goes straight into one `Vec<u8>`; nothing is built as text first.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt::Write;

use num_bigint::BigInt;

use super::{CODEC, POW10, PY_INT_MAX_STR_DIGITS};
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::repr::float_repr;
use crate::value::{Dict, Value};

/// Lowercase, as CPython's `_json` writes `\u00XX` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// How CPython's `_json` escapes each byte of a str with `ensure_ascii=False`:
/// 0 = as is, `u` = `\u00XX`, else the letter after the backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Python's type name for a value, used in error texts.
fn py_type(value: &Value) -> &'static str {
    match value {
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
        Value::Dict(_) | Value::Class(_) => "dict",
    }
}

/// The error Pyro4's `class_to_dict` raises for a type json cannot carry.
fn not_serializable(type_name: &str) -> SerializeError {
    SerializeError::Refused {
        codec: CODEC,
        message: format!(
            "don't know how to serialize class <class '{type_name}'> \
             using serializer JsonSerializer. Give it vars() or an appropriate __getstate__"
        ),
    }
}

/// Serialize `value` into `out`.
pub(super) fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), SerializeError> {
    Writer { out }.value(value, 0)
}

/// `{"object": ..., "method": ..., "params": [...], "kwargs": {...} | null}`,
/// the dict (not a tuple) Pyro4's `JsonSerializer.dumpsCall` writes.
pub(super) fn write_call(out: &mut Vec<u8>, call: &Call) -> Result<(), SerializeError> {
    let mut w = Writer { out };
    w.out.extend_from_slice(b"{\"object\": ");
    w.str(&call.object);
    w.out.extend_from_slice(b", \"method\": ");
    w.str(&call.method);
    w.out.extend_from_slice(b", \"params\": ");
    w.value(&call.vargs, 1)?;
    w.out.extend_from_slice(b", \"kwargs\": ");
    match &call.kwargs {
        None => w.out.extend_from_slice(b"null"),
        // the kwargs dict is the second level, inside the call object
        Some(kwargs) => w.dict(None, kwargs, 2)?,
    }
    w.out.push(b'}');
    Ok(())
}

/// `core::fmt::Write` into the output buffer, to format numbers in place.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    /// `depth` is the number of containers enclosing `value`.
    fn value(&mut self, value: &Value, depth: usize) -> Result<(), SerializeError> {
        match value {
            Value::None => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(i) => self.int(*i),
            Value::BigInt(b) => self.bigint(b)?,
            Value::Float(f) => self.float(*f),
            Value::Str(s) => self.str(s),
            // Python's json writes tuples as arrays; Pyro's `default` turns a
            // set into a tuple first. A frozenset is not a `set` instance, so
            // it reaches `class_to_dict` and fails, as do bytes and complex.
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                self.array(items, depth + 1)?
            }
            Value::Dict(d) => self.dict(None, d, depth + 1)?,
            Value::Class(c) => self.dict(Some(&c.class_name), &c.fields, depth + 1)?,
            Value::Bytes(_) | Value::Complex { .. } | Value::FrozenSet(_) => {
                return Err(not_serializable(py_type(value)))
            }
        }
        Ok(())
    }

    fn enter(depth: usize) -> Result<(), SerializeError> {
        if depth > MAX_DEPTH {
            Err(SerializeError::TooDeep { limit: MAX_DEPTH })
        } else {
            Ok(())
        }
    }

    fn array(&mut self, items: &[Value], depth: usize) -> Result<(), SerializeError> {
        Self::enter(depth)?;
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.value(item, depth)?;
        }
        self.out.push(b']');
        Ok(())
    }

    /// A dict; `class_name` (for [`Value::Class`]) is written first as `"__class__"`.
    fn dict(
        &mut self,
        class_name: Option<&str>,
        dict: &Dict,
        depth: usize,
    ) -> Result<(), SerializeError> {
        Self::enter(depth)?;
        self.out.push(b'{');
        let mut first = true;
        if let Some(name) = class_name {
            self.out.extend_from_slice(b"\"__class__\": ");
            self.str(name);
            first = false;
        }
        for (key, value) in &dict.0 {
            if !first {
                self.out.extend_from_slice(b", ");
            }
            first = false;
            self.key(key)?;
            self.out.extend_from_slice(b": ");
            self.value(value, depth)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Python's json turns int/float/bool/None keys into their JSON text
    /// wrapped in quotes and refuses every other key type (`default` is not
    /// consulted for keys).
    fn key(&mut self, key: &Value) -> Result<(), SerializeError> {
        match key {
            Value::Str(s) => self.str(s),
            Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
                self.out.push(b'"');
                self.value(key, 0)?;
                self.out.push(b'"');
            }
            other => {
                let t = py_type(other);
                return Err(SerializeError::Unsupported {
                    codec: CODEC,
                    what: format!(
                        "a dict key of type {t}: keys must be str, int, float, bool or None, not {t}"
                    ),
                });
            }
        }
        Ok(())
    }

    fn int(&mut self, i: i64) {
        // Most ints in calls have one or two digits: no digit loop, no copy.
        if (0..100).contains(&i) {
            let i = i as u8;
            if i < 10 {
                self.out.push(b'0' + i);
            } else {
                self.out.extend_from_slice(&[b'0' + i / 10, b'0' + i % 10]);
            }
            return;
        }
        let mut buf = [0u8; 20];
        let mut pos = buf.len();
        let mut n = i.unsigned_abs();
        loop {
            pos -= 1;
            buf[pos] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if i < 0 {
            self.out.push(b'-');
        }
        self.out.extend_from_slice(&buf[pos..]);
    }

    fn bigint(&mut self, b: &BigInt) -> Result<(), SerializeError> {
        // CPython's int.__repr__ refuses more than 4300 digits
        // (sys.get_int_max_str_digits). 2^14285 already has 4301 digits, so
        // such numbers are refused before paying for the conversion.
        if b.bits() <= 14285 {
            let text = b.to_string();
            if text.len() - usize::from(text.starts_with('-')) <= PY_INT_MAX_STR_DIGITS {
                self.out.extend_from_slice(text.as_bytes());
                return Ok(());
            }
        }
        Err(SerializeError::Unsupported {
            codec: CODEC,
            what: format!(
                "an int of more than {PY_INT_MAX_STR_DIGITS} digits: Python refuses to convert \
                 such ints to text (sys.set_int_max_str_digits)"
            ),
        })
    }

    fn float(&mut self, f: f64) {
        if f.is_nan() {
            self.out.extend_from_slice(b"NaN");
        } else if f == f64::INFINITY {
            self.out.extend_from_slice(b"Infinity");
        } else if f == f64::NEG_INFINITY {
            self.out.extend_from_slice(b"-Infinity");
        } else if f.abs() < 1e16 && (f as i64) as f64 == f {
            // Integral and below 1e16: Python's repr is the integer plus ".0"
            // (the i64 conversion is exact here).
            if f == 0.0 && f.is_sign_negative() {
                self.out.push(b'-');
            }
            self.int(f as i64);
            self.out.extend_from_slice(b".0");
        } else if self.short_decimal(f) {
            // written
        } else if (1e-4..1e16).contains(&f.abs()) {
            // Python's repr uses positional notation in this range, with
            // the shortest round-trip digits: exactly Rust's `Display`,
            // except when a tie between two shortest candidates is possible
            // (16+ digits), which `float_repr` resolves as Python does.
            let start = self.out.len();
            // Writing into a Vec cannot fail.
            let _ = write!(VecWriter(self.out), "{f}");
            let significant = self.out[start..]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .skip_while(|b| **b == b'0')
                .count();
            if significant >= 16 {
                self.out.truncate(start);
                self.out.extend_from_slice(float_repr(f).as_bytes());
            }
        } else {
            self.out.extend_from_slice(float_repr(f).as_bytes());
        }
    }

    /// Fast path for floats that are short decimals (`2.5`, `0.1`, `3.14`),
    /// the common case in payloads. If `|f| * 10^k` is an integer `m` below
    /// 10^15 for the smallest such `k`, and `m / 10^k` (an exact quotient
    /// correctly rounded) gives back `f`, then `m` with `k` decimals is a
    /// decimal of at most 15 digits that reads back as `f`. Decimals of at
    /// most 15 digits map to distinct doubles, so it is the only such one
    /// and therefore Python's shortest repr (after dropping trailing zeros).
    /// Returns false, writing nothing, when this does not apply.
    fn short_decimal(&mut self, f: f64) -> bool {
        let a = f.abs();
        if !(1e-4..1e15).contains(&a) {
            return false;
        }
        for (k, &scale) in POW10.iter().enumerate().skip(1) {
            let scaled = a * scale;
            if scaled >= 1e15 {
                return false;
            }
            let m = scaled as u64;
            if m as f64 != scaled {
                continue;
            }
            if m as f64 / scale != a {
                return false;
            }
            if f < 0.0 {
                self.out.push(b'-');
            }
            let unit = 10u64.pow(k as u32);
            self.int((m / unit) as i64);
            self.out.push(b'.');
            let mut frac = m % unit;
            let mut width = k;
            while width > 1 && frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            let mut buf = [b'0'; 16];
            for slot in buf[..width].iter_mut().rev() {
                *slot = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            self.out.extend_from_slice(&buf[..width]);
            return true;
        }
        false
    }

    /// A string as CPython's `_json` writes it with `ensure_ascii=False`:
    /// only `"`, `\` and C0 controls are escaped; DEL, U+2028/9 and all
    /// other non-ASCII text go out raw.
    fn str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        self.out.reserve(bytes.len() + 2);
        self.out.push(b'"');
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            // UTF-8 continuation and lead bytes are all >= 0x80, so a
            // byte-wise scan never splits a character.
            let short = ESCAPE[usize::from(b)];
            if short == 0 {
                continue;
            }
            self.out.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            if short != b'u' {
                self.out.extend_from_slice(&[b'\\', short]);
            } else {
                self.out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
    }
}
