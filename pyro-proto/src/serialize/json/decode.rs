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

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec::Vec;

use num_bigint::BigInt;

use super::{bad, missing, string_field, CODEC, POW10, PY_INT_MAX_STR_DIGITS};
use crate::serialize::{keys, Call, SerializeError, MAX_DEPTH};
use crate::value::{Dict, PyStr, Value};

/// Upper bound on the parse stack's first allocation, in values (plus its
/// bottom entry): enough for a typical call (its arguments plus one nested
/// list) without growing, and with 32-byte values no more than 1 KiB.
const SCRATCH_START: usize = 31;

/// Errors travel boxed inside the parser: the hot paths then return a
/// one-word `Result` in a register instead of writing a large one to memory.
type PResult<T> = Result<T, Box<SerializeError>>;

/// Parse one complete JSON document (surrounding whitespace allowed).
pub(super) fn parse(data: &[u8]) -> Result<Value, SerializeError> {
    let mut p = Parser::new(data)?;
    p.document().map_err(|e| *e)
}

/// Parse a document that should be a call object, picking out its
/// `object`, `method`, `params` and `kwargs` entries (last one wins, as in a
/// Python dict) without building the top-level dict, and shape them into a
/// [`Call`] as [`loads_call`](super::loads_call) documents; also says
/// whether the class step could change or refuse it (see
/// [`loads_call_noting_classes`](super::loads_call_noting_classes)).
pub(super) fn parse_call(data: &[u8]) -> Result<(Call, bool), SerializeError> {
    let mut p = Parser::new(data)?;
    let call = p.call().map_err(|e| *e)?;
    Ok((call, p.class_step))
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

/// The first index at or after `i` holding a [`STRING_STOP`] byte, or
/// `bytes.len()`. Tests eight bytes per step (SWAR): for each of the three
/// conditions the lowest flagged byte of a word is always a true match
/// (false flags only sit above a true one), so the lowest flag of their union
/// is the first stop byte.
#[inline]
fn scan_plain(bytes: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*chunk);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        let found = ((quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if STRING_STOP[usize::from(b)] {
            break;
        }
        i += 1;
    }
    i
}

/// A decoded string: borrowed from the input when it has no escapes.
enum Text<'a> {
    Plain(&'a str),
    Escaped(PyStr),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Escaped(s) => s.as_str(),
        }
    }

    fn into_pystr(self) -> PyStr {
        match self {
            Text::Plain(s) => PyStr::from(s),
            Text::Escaped(s) => s,
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The parse stack: the items of the arrays being read (keys and values
    /// alternating for objects), moved into an exactly sized `Vec` when the
    /// container closes. One buffer for the whole document instead of a
    /// growing `Vec` per container.
    scratch: Vec<Value>,
    /// Whether the class step could change or refuse the result: some
    /// object has a `__class__` key, or containers nest close to [`MAX_DEPTH`].
    class_step: bool,
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
            // Every value takes at least two bytes with its separator, so
            // this never reserves for values the input cannot hold.
            scratch: Vec::with_capacity((data.len() / 2).min(SCRATCH_START) + 1),
            class_step: false,
        };
        // A bottom entry that is never popped: containers then always split
        // off above index 0, where `Vec::split_off` copies into an exactly
        // sized buffer (at 0 it would hand out the whole stack buffer).
        p.scratch.push(Value::None);
        if data.starts_with(b"\xef\xbb\xbf") {
            return Err(*p.error(0, "unexpected UTF-8 byte order mark"));
        }
        p.skip_ws();
        Ok(p)
    }

    /// The whole input as one value.
    fn document(&mut self) -> PResult<Value> {
        self.value(0)?;
        self.finish()?;
        Ok(self.pop())
    }

    /// The value [`value`](Self::value) just pushed.
    fn pop(&mut self) -> Value {
        match self.scratch.pop() {
            Some(value) => value,
            None => Value::None,
        }
    }

    /// The whole input as a call object: see [`parse_call`]. The json
    /// must be valid before the call's shape is checked (Python's
    /// `json.loads` fails first).
    fn call(&mut self) -> PResult<Call> {
        if self.peek() != Some(b'{') {
            self.document()?;
            return Err(Box::new(bad("the json call payload is not an object")));
        }
        let (mut object, mut method, mut params, mut kwargs) = (None, None, None, None);
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.error(
                        self.pos,
                        "expecting property name enclosed in double quotes",
                    ));
                }
                let key = self.string()?;
                self.colon()?;
                self.value(1)?;
                let value = self.pop();
                match key.as_str() {
                    "object" => object = Some(value),
                    "method" => method = Some(value),
                    "params" => params = Some(value),
                    "kwargs" => kwargs = Some(value),
                    _ => {}
                }
                if self.next_entry(b'}')? {
                    break;
                }
            }
        }
        self.finish()?;
        let object = string_field("object", object)?;
        let method = string_field("method", method)?;
        let vargs = match params {
            Some(v @ Value::List(_)) => v,
            Some(_) => return Err(Box::new(bad("\"params\" in a json call must be an array"))),
            None => return Err(Box::new(missing("params"))),
        };
        let kwargs = match kwargs {
            Some(Value::None) => None,
            Some(Value::Dict(d)) => Some(d),
            Some(_) => {
                return Err(Box::new(bad(
                    "\"kwargs\" in a json call must be an object or null",
                )))
            }
            None => return Err(Box::new(missing("kwargs"))),
        };
        Ok(Call {
            object,
            method,
            vargs,
            kwargs,
        })
    }

    /// Only whitespace may follow the document.
    fn finish(&mut self) -> PResult<()> {
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.error(self.pos, "extra data after the JSON value"));
        }
        Ok(())
    }

    /// The `:` after an object key, with whitespace around it.
    #[inline]
    fn colon(&mut self) -> PResult<()> {
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
    #[inline]
    fn next_entry(&mut self, close: u8) -> PResult<bool> {
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

    #[cold]
    fn error(&self, offset: usize, reason: &str) -> Box<SerializeError> {
        Box::new(SerializeError::Malformed {
            codec: CODEC,
            offset,
            reason: reason.to_string(),
        })
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Python's json whitespace: space, tab, LF, CR (nothing else).
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value, pushed onto the parse stack; `depth` is the number of
    /// containers around it.
    fn value(&mut self, depth: usize) -> PResult<()> {
        match self.peek() {
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            _ => self.scalar(),
        }
    }

    /// A value inside a container: scalars are read in the container's own
    /// loop, only nested containers cost a call.
    #[inline(always)]
    fn item(&mut self, depth: usize) -> PResult<()> {
        match self.peek() {
            Some(b'[' | b'{') => self.value(depth),
            _ => self.scalar(),
        }
    }

    /// A value that is not a container, pushed onto the parse stack.
    #[inline(always)]
    fn scalar(&mut self) -> PResult<()> {
        let value = match self.peek() {
            Some(b'"') => Value::Str(self.string()?.into_pystr()),
            Some(b'0'..=b'9') => self.number()?,
            Some(b'-') if self.bytes.get(self.pos + 1) != Some(&b'I') => self.number()?,
            Some(b'-') => self.literal("-Infinity", Value::Float(f64::NEG_INFINITY))?,
            Some(b'n') => self.literal("null", Value::None)?,
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'N') => self.literal("NaN", Value::Float(f64::NAN))?,
            Some(b'I') => self.literal("Infinity", Value::Float(f64::INFINITY))?,
            _ => return Err(self.error(self.pos, "expecting value")),
        };
        self.scratch.push(value);
        Ok(())
    }

    fn literal(&mut self, word: &str, value: Value) -> PResult<Value> {
        if self
            .bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word.as_bytes()))
        {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(self.pos, "expecting value"))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, Python's number
    /// pattern: a fraction or exponent makes a float, otherwise an int of any
    /// size. A `.` or `e` not followed by digits is left for the caller (to
    /// fail on), as Python's scanner does.
    #[inline(always)]
    fn number(&mut self) -> PResult<Value> {
        // Fast paths: an int of at most 18 digits (exact in an i64), the
        // usual number in a call, and a short decimal.
        let bytes = self.bytes;
        let start = self.pos;
        let negative = bytes.get(start) == Some(&b'-');
        let first = start + usize::from(negative);
        let mut i = first;
        let mut n: u64 = 0;
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
                    n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    i += 1;
                }
            }
            _ => return Err(self.error(start, "expecting value")),
        }
        match bytes.get(i) {
            Some(b'e' | b'E') => {}
            Some(b'.') => {
                // Fast path: a short decimal without exponent (see the
                // exact-division note in `number_slow`).
                let frac_start = i + 1;
                let mut j = frac_start;
                while let Some(&d @ b'0'..=b'9') = bytes.get(j) {
                    n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    j += 1;
                }
                let frac_digits = j - frac_start;
                if frac_digits > 0
                    && i - first + frac_digits <= 15
                    && !matches!(bytes.get(j), Some(b'e' | b'E'))
                {
                    self.pos = j;
                    let x = n as f64 / POW10[frac_digits];
                    return Ok(Value::Float(if negative { -x } else { x }));
                }
            }
            _ if i - first <= 18 => {
                self.pos = i;
                let n = n as i64;
                return Ok(Value::Int(if negative { -n } else { n }));
            }
            _ => {}
        }
        self.number_slow()
    }

    /// [`number`](Self::number) for floats and long ints.
    #[inline(never)]
    fn number_slow(&mut self) -> PResult<Value> {
        let bytes = self.bytes;
        let start = self.pos;
        let negative = bytes.get(start) == Some(&b'-');
        let first = start + usize::from(negative);
        let mut i = first;
        // The digits accumulate as they are scanned (wrapping: the value
        // is only used when the digit count shows it is exact).
        let mut m: u64 = 0;
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
                    m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    i += 1;
                }
            }
            _ => return Err(self.error(start, "expecting value")),
        }
        let int_end = i;
        let mut is_float = false;
        let mut frac_digits = 0;
        if bytes.get(i) == Some(&b'.') && matches!(bytes.get(i + 1), Some(b'0'..=b'9')) {
            i += 1;
            let frac_start = i;
            while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
                m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            frac_digits = i - frac_start;
            is_float = true;
        }
        let mantissa_end = i;
        if let Some(b'e' | b'E') = bytes.get(i) {
            let mut j = i + 1;
            if let Some(b'+' | b'-') = bytes.get(j) {
                j += 1;
            }
            let exp_start = j;
            while let Some(b'0'..=b'9') = bytes.get(j) {
                j += 1;
            }
            if j > exp_start {
                i = j;
                is_float = true;
            }
        }
        self.pos = i;
        let int_digits = int_end - first;
        if !is_float {
            if int_digits <= 18 {
                // At most 18 digits: exact in an i64.
                let n = m as i64;
                return Ok(Value::Int(if negative { -n } else { n }));
            }
            return self.big_int(start, int_digits);
        }
        if mantissa_end == i && int_digits + frac_digits <= 15 {
            // No exponent. With at most 15 digits the mantissa and 10^k are
            // exact doubles, so one correctly rounded division gives the
            // correctly rounded value (Clinger's fast path).
            let x = m as f64 / POW10[frac_digits];
            return Ok(Value::Float(if negative { -x } else { x }));
        }
        // core's parser is correctly rounded, like Python's float();
        // overflow gives +-inf and underflow 0.0, also like Python.
        self.text
            .get(start..i)
            .and_then(|t| t.parse::<f64>().ok())
            .map(Value::Float)
            .ok_or_else(|| self.error(start, "invalid number"))
    }

    /// An int of more than 18 digits, already scanned up to `self.pos`.
    #[cold]
    fn big_int(&self, start: usize, digits: usize) -> PResult<Value> {
        if digits > PY_INT_MAX_STR_DIGITS {
            return Err(self.error(
                start,
                "integer has more than 4300 digits (Python's int conversion limit)",
            ));
        }
        let text = &self.bytes[start..self.pos];
        if let Some(n) = core::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
        {
            return Ok(Value::Int(n));
        }
        BigInt::parse_bytes(text, 10)
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
    #[inline(always)]
    fn string(&mut self) -> PResult<Text<'a>> {
        let open = self.pos;
        let end = scan_plain(self.bytes, open + 1);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            // Both ends sit next to an ASCII quote: char boundaries.
            return Ok(Text::Plain(
                self.text.get(open + 1..end).unwrap_or_default(),
            ));
        }
        self.string_escaped(open, end).map(Text::Escaped)
    }

    /// The rest of a string whose plain start runs up to `at`, which holds
    /// a backslash, a control character or the end of the input.
    #[inline(never)]
    fn string_escaped(&mut self, open: usize, mut at: usize) -> PResult<PyStr> {
        let mut out = PyStr::default();
        let mut run = open + 1;
        loop {
            let Some(&b) = self.bytes.get(at) else {
                return Err(self.error(open, "unterminated string starting here"));
            };
            match b {
                b'"' => {
                    out.push_str(&self.text[run..at]);
                    self.pos = at + 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..at]);
                    let esc = at;
                    let mut len = 2;
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
                            len = 6;
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
                                len = 12;
                                0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                            } else {
                                unit
                            };
                            match char::from_u32(code) {
                                Some(c) => c,
                                None => return Err(self.lone_surrogate(esc)),
                            }
                        }
                        Some(_) => return Err(self.error(esc, "invalid \\escape")),
                        None => return Err(self.error(open, "unterminated string starting here")),
                    };
                    out.push(ch);
                    at = esc + len;
                    run = at;
                }
                _ => return Err(self.error(at, "invalid control character in string")),
            }
            at = scan_plain(self.bytes, at);
        }
    }

    #[cold]
    fn lone_surrogate(&self, at: usize) -> Box<SerializeError> {
        self.error(
            at,
            "\\u escape of a lone surrogate (Python keeps it in a str, a Rust String cannot hold it)",
        )
    }

    #[inline]
    fn enter(&mut self, depth: usize) -> PResult<()> {
        if crate::serialize::near_depth_limit(depth) {
            self.class_step = true;
            if depth > MAX_DEPTH {
                return Err(Box::new(SerializeError::TooDeep { limit: MAX_DEPTH }));
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn array(&mut self, depth: usize) -> PResult<()> {
        self.enter(depth)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.scratch.push(Value::List(Vec::new()));
            return Ok(());
        }
        let start = self.scratch.len();
        loop {
            self.item(depth)?;
            if self.next_entry(b']')? {
                let items = self.scratch.split_off(start);
                self.scratch.push(Value::List(items));
                return Ok(());
            }
        }
    }

    #[inline(never)]
    fn object(&mut self, depth: usize) -> PResult<()> {
        self.enter(depth)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.scratch.push(Value::Dict(Dict(Vec::new())));
            return Ok(());
        }
        // Keys and values alternate on the parse stack from `start` on.
        let start = self.scratch.len();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error(
                    self.pos,
                    "expecting property name enclosed in double quotes",
                ));
            }
            let key = self.string()?.into_pystr();
            if key == "__class__" {
                self.class_step = true;
            }
            self.scratch.push(Value::Str(key));
            self.colon()?;
            self.item(depth)?;
            if self.next_entry(b'}')? {
                break;
            }
        }
        let mut entries = Vec::with_capacity((self.scratch.len() - start) / 2);
        let mut stack = self.scratch.drain(start..);
        while let (Some(key), Some(value)) = (stack.next(), stack.next()) {
            entries.push((key, value));
        }
        drop(stack);
        // Python dict assignment: a repeated key keeps its first position
        // and takes the last value.
        self.scratch
            .push(Value::Dict(Dict(keys::dedup_dict(entries))));
        Ok(())
    }
}
