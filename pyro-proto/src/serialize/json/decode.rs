//! The json reader: accepts exactly what Pyro4's `JsonSerializer.loads`
//! accepts (`json.loads(data.decode("utf-8"))` with Python's defaults), and
//! builds the same tree.
//!
//! Hand-written rather than serde_json: Python's json reads the non-standard
//! `NaN`/`Infinity`/`-Infinity` tokens, ints of any size, and keeps objects in
//! insertion order with "last value wins, first position kept" for duplicate
//! keys; serde_json does none of that without extra features and a detour
//! through its own `Value`.
//!
//! Differences from Python, all on inputs a Pyro4 peer never produces:
//! * byte offsets in errors, where Python counts characters;
//! * a `\uXXXX` escape of a lone surrogate (Python keeps it in its `str`) is an
//!   error, because a Rust `String` cannot hold one; a Pyro4 peer never sends
//!   one (it writes non-ASCII raw and its UTF-8 encoding fails on surrogates);
//! * containers nested deeper than [`MAX_DEPTH`] fail with `TooDeep` (Python's
//!   limit is its recursion limit, about 1000).

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use num_bigint::BigInt;

use super::{CODEC, POW10, PY_INT_MAX_STR_DIGITS};
use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{Dict, Value};

/// Above this many entries an object also keeps a key index, so that
/// duplicate-key checks stay O(log n) on hostile input.
const INDEX_THRESHOLD: usize = 16;

/// Parse one complete JSON document (surrounding whitespace allowed).
pub(super) fn parse(data: &[u8]) -> Result<Value, SerializeError> {
    let mut p = Parser::new(data)?;
    let value = p.value(0)?;
    p.finish()?;
    Ok(value)
}

/// The four entries of a json call object, found by key.
#[derive(Default)]
pub(super) struct CallFields {
    pub object: Option<Value>,
    pub method: Option<Value>,
    pub params: Option<Value>,
    pub kwargs: Option<Value>,
}

/// Parse a document that should be a call object, picking out its
/// `object`, `method`, `params` and `kwargs` entries (last one wins, as in a
/// Python dict) without building the top-level dict. `Ok(None)`: valid json,
/// but not an object.
pub(super) fn parse_call(data: &[u8]) -> Result<Option<CallFields>, SerializeError> {
    let mut p = Parser::new(data)?;
    if p.peek() != Some(b'{') {
        p.value(0)?;
        p.finish()?;
        return Ok(None);
    }
    let mut fields = CallFields::default();
    p.pos += 1;
    p.skip_ws();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            if p.peek() != Some(b'"') {
                return Err(p.error(p.pos, "expecting property name enclosed in double quotes"));
            }
            let key = p.string()?;
            p.colon()?;
            let value = p.value(1)?;
            match &*key {
                "object" => fields.object = Some(value),
                "method" => fields.method = Some(value),
                "params" => fields.params = Some(value),
                "kwargs" => fields.kwargs = Some(value),
                _ => {}
            }
            if p.next_entry(b'}')? {
                break;
            }
        }
    }
    p.finish()?;
    Ok(Some(fields))
}

/// Bytes that end a plain run inside a string: the closing quote, a
/// backslash, and the C0 controls Python's strict mode refuses.
const STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Checks what Pyro4 checks before parsing: strict UTF-8 and no BOM.
    fn new(data: &'a [u8]) -> Result<Self, SerializeError> {
        let text = core::str::from_utf8(data).map_err(|e| SerializeError::Malformed {
            codec: CODEC,
            offset: e.valid_up_to(),
            reason: "invalid UTF-8 (Pyro4 decodes json payloads as strict UTF-8)".to_string(),
        })?;
        let mut p = Parser {
            text,
            bytes: data,
            pos: 0,
        };
        if data.starts_with(b"\xef\xbb\xbf") {
            return Err(p.error(0, "unexpected UTF-8 byte order mark"));
        }
        p.skip_ws();
        Ok(p)
    }

    /// Only whitespace may follow the document.
    fn finish(&mut self) -> Result<(), SerializeError> {
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.error(self.pos, "extra data after the JSON value"));
        }
        Ok(())
    }

    /// The `:` after an object key, with whitespace around it.
    fn colon(&mut self) -> Result<(), SerializeError> {
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error(self.pos, "expecting ':' delimiter"));
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    /// After a container entry: `,` (more follow: false) or the closing
    /// bracket `close` (done: true).
    fn next_entry(&mut self, close: u8) -> Result<bool, SerializeError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.error(self.pos, "expecting ',' delimiter")),
        }
    }

    fn error(&self, offset: usize, reason: &str) -> SerializeError {
        SerializeError::Malformed {
            codec: CODEC,
            offset,
            reason: reason.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Python's json whitespace: space, tab, LF, CR (nothing else).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value; `depth` is the number of containers around it.
    fn value(&mut self, depth: usize) -> Result<Value, SerializeError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.string()?.into())),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'n') => self.literal("null", Value::None),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'N') => self.literal("NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.literal("Infinity", Value::Float(f64::INFINITY)),
            Some(b'-') if self.bytes[self.pos + 1..].starts_with(b"Infinity") => {
                self.pos += 9;
                Ok(Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error(self.pos, "expecting value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, SerializeError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(self.pos, "expecting value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, Python's number
    /// pattern: a fraction or exponent makes a float, otherwise an int of any
    /// size. A `.` or `e` not followed by digits is left for the caller (to
    /// fail on), as Python's scanner does.
    fn number(&mut self) -> Result<Value, SerializeError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(start, "expecting value")),
        }
        let int_end = self.pos;
        let mut is_float = false;
        let mut frac_digits = 0;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            frac_digits = self.digits();
            is_float = true;
        }
        let mantissa_end = self.pos;
        if let Some(b'e' | b'E') = self.peek() {
            let mark = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = mark;
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.pos];
        if is_float && mantissa_end == self.pos {
            // No exponent. With at most 15 digits the mantissa and 10^k are
            // exact doubles, so one correctly rounded division gives the
            // correctly rounded value (Clinger's fast path).
            let first = start + usize::from(negative);
            if mantissa_end - first - 1 <= 15 {
                let mut m: u64 = 0;
                for &d in &self.bytes[first..mantissa_end] {
                    if d != b'.' {
                        m = m * 10 + u64::from(d - b'0');
                    }
                }
                let x = m as f64 / POW10[frac_digits];
                return Ok(Value::Float(if negative { -x } else { x }));
            }
        }
        if is_float {
            // core's parser is correctly rounded, like Python's float();
            // overflow gives +-inf and underflow 0.0, also like Python.
            return text
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.error(start, "invalid number"));
        }
        let digit_count = int_end - start - usize::from(negative);
        if digit_count <= 18 {
            let mut n: i64 = 0;
            for &d in &self.bytes[start + usize::from(negative)..int_end] {
                n = n * 10 + i64::from(d - b'0');
            }
            return Ok(Value::Int(if negative { -n } else { n }));
        }
        if digit_count > PY_INT_MAX_STR_DIGITS {
            return Err(self.error(
                start,
                "integer has more than 4300 digits (Python's int conversion limit)",
            ));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Int(n));
        }
        BigInt::parse_bytes(text.as_bytes(), 10)
            .map(Value::BigInt)
            .ok_or_else(|| self.error(start, "invalid integer"))
    }

    /// Four hex digits at `at` (Python accepts either case).
    fn hex4(&self, at: usize) -> Option<u32> {
        let chunk = self.bytes.get(at..at + 4)?;
        let mut n = 0u32;
        for &c in chunk {
            n = n * 16 + char::from(c).to_digit(16)?;
        }
        Some(n)
    }

    /// A string starting at the opening quote; borrowed from the input when
    /// it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, SerializeError> {
        let open = self.pos;
        self.pos += 1;
        let mut out: Option<String> = None;
        let mut run = self.pos;
        loop {
            // Skip the plain run in one tight scan (a local index stays in
            // a register).
            let bytes = self.bytes;
            let mut i = self.pos;
            while i < bytes.len() && !STRING_STOP[usize::from(bytes[i])] {
                i += 1;
            }
            self.pos = i;
            let Some(b) = self.peek() else {
                return Err(self.error(open, "unterminated string starting here"));
            };
            match b {
                b'"' => {
                    let tail = &self.text[run..self.pos];
                    self.pos += 1;
                    return Ok(match out {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..self.pos]);
                    let esc = self.pos;
                    let ch = match self.bytes.get(esc + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let Some(unit) = self.hex4(esc + 2) else {
                                return Err(self.error(esc, "invalid \\uXXXX escape"));
                            };
                            let code = if (0xd800..0xdc00).contains(&unit) {
                                // A high surrogate pairs with an immediately
                                // following \u low surrogate.
                                if self.bytes.get(esc + 6..esc + 8) != Some(b"\\u") {
                                    return Err(self.lone_surrogate(esc));
                                }
                                let Some(low) = self.hex4(esc + 8) else {
                                    return Err(self.error(esc + 6, "invalid \\uXXXX escape"));
                                };
                                if !(0xdc00..0xe000).contains(&low) {
                                    return Err(self.lone_surrogate(esc));
                                }
                                self.pos += 6;
                                0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                            } else {
                                unit
                            };
                            self.pos += 4;
                            match char::from_u32(code) {
                                Some(c) => c,
                                None => return Err(self.lone_surrogate(esc)),
                            }
                        }
                        Some(_) => return Err(self.error(esc, "invalid \\escape")),
                        None => return Err(self.error(open, "unterminated string starting here")),
                    };
                    s.push(ch);
                    self.pos += 2;
                    run = self.pos;
                }
                0x00..=0x1f => {
                    return Err(self.error(self.pos, "invalid control character in string"))
                }
                _ => self.pos += 1,
            }
        }
    }

    fn lone_surrogate(&self, at: usize) -> SerializeError {
        self.error(
            at,
            "\\u escape of a lone surrogate (Python keeps it in a str, a Rust String cannot hold it)",
        )
    }

    fn enter(depth: usize) -> Result<(), SerializeError> {
        if depth > MAX_DEPTH {
            Err(SerializeError::TooDeep { limit: MAX_DEPTH })
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, SerializeError> {
        Self::enter(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.value(depth)?);
            if self.next_entry(b']')? {
                return Ok(Value::List(items));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, SerializeError> {
        Self::enter(depth)?;
        self.pos += 1;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let mut index: Option<BTreeMap<String, usize>> = None;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Dict(Dict(entries)));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error(
                    self.pos,
                    "expecting property name enclosed in double quotes",
                ));
            }
            let key = self.string()?.into_owned();
            self.colon()?;
            let value = self.value(depth)?;
            insert(&mut entries, &mut index, key, value);
            if self.next_entry(b'}')? {
                return Ok(Value::Dict(Dict(entries)));
            }
        }
    }
}

/// Python dict assignment: a repeated key replaces the value but keeps the
/// position of its first occurrence.
fn insert(
    entries: &mut Vec<(Value, Value)>,
    index: &mut Option<BTreeMap<String, usize>>,
    key: String,
    value: Value,
) {
    let found = match index {
        Some(map) => map.get(key.as_str()).copied(),
        None => entries
            .iter()
            .position(|(k, _)| matches!(k, Value::Str(s) if *s == key)),
    };
    if let Some(i) = found {
        entries[i].1 = value;
        return;
    }
    if let Some(map) = index {
        map.insert(key.clone(), entries.len());
    } else if entries.len() + 1 >= INDEX_THRESHOLD {
        let mut map = BTreeMap::new();
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Value::Str(s) = k {
                map.insert(s.to_string(), i);
            }
        }
        map.insert(key.clone(), entries.len());
        *index = Some(map);
    }
    entries.push((Value::Str(key.into()), value));
}
