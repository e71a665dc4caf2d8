//! The serpent reader: the subset of Python literal syntax that
//! `ast.literal_eval` (serpent 1.43's `loads`) accepts, with its semantics
//! (implicit string concatenation, `a+bj` complex arithmetic, duplicate dict
//! keys collapsing by Python equality), without recursion past [`MAX_DEPTH`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::{Signed as _, ToPrimitive};

use super::writer::MAX_INT_DIGITS;
use super::CODEC;
use crate::serialize::keys::{dedup_dict, dedup_set, unhashable};
use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{Dict, Value};

/// Decode one serpent document into a raw value tree.
pub(super) fn loads(data: &[u8]) -> Result<Value, SerializeError> {
    let text = match core::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            return Err(malformed(
                e.valid_up_to(),
                "invalid UTF-8 (serpent text is UTF-8 encoded)",
            ))
        }
    };
    if let Some(nul) = data.iter().position(|&b| b == 0) {
        return Err(malformed(nul, "the data contains a NUL byte (corrupted?)"));
    }
    let mut r = Reader {
        s: text,
        b: data,
        pos: 0,
        depth: 0,
        nest: 0,
    };
    r.document()
}

fn malformed(offset: usize, reason: impl Into<String>) -> SerializeError {
    SerializeError::Malformed {
        codec: CODEC,
        offset,
        reason: reason.into(),
    }
}

/// What kind of expression produced a value: `ast.literal_eval` only lets
/// unary `+`/`-` apply to a bare number literal, and `a+bj` only combine a
/// (signed) real literal with a bare imaginary literal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A number literal (int, float or imaginary), possibly in parentheses.
    Number,
    /// `+`/`-` applied to a number literal.
    Signed,
    /// Anything else.
    Other,
}

struct Operand {
    value: Value,
    kind: Kind,
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Containers (and parentheses) currently open.
    depth: usize,
    /// Brackets currently open: inside them newlines are plain whitespace.
    nest: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.b.get(self.pos + i).copied()
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, SerializeError> {
        Err(malformed(self.pos, reason))
    }

    /// Skip blanks, comments and line continuations; newlines too when inside
    /// brackets (at the top level a newline ends the expression).
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'#' => self.skip_comment(),
                b'\n' | b'\r' if self.nest > 0 => self.pos += 1,
                b'\\' => {
                    let len = match (self.peek_at(1), self.peek_at(2)) {
                        (Some(b'\r'), Some(b'\n')) => 3,
                        (Some(b'\n'), _) | (Some(b'\r'), _) => 2,
                        _ => return,
                    };
                    // A continuation right before the end is an error in
                    // Python ("unexpected EOF"): leave it for the caller.
                    if self.pos + len == self.b.len() {
                        return;
                    }
                    self.pos += len;
                }
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' || c == b'\r' {
                return;
            }
            self.pos += 1;
        }
    }

    /// Skip blank lines, comment lines and whitespace at the top level.
    /// Returns the start of the line the next token is on.
    fn skip_top_level(&mut self) -> usize {
        let mut line_start = 0;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'\r') => {
                    self.pos += 1;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    line_start = self.pos;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    line_start = self.pos;
                }
                _ => return line_start,
            }
        }
    }

    fn document(&mut self) -> Result<Value, SerializeError> {
        let line_start = self.skip_top_level();
        if self.pos >= self.b.len() {
            return self.err("no value (the document is empty or only comments)");
        }
        // literal_eval strips indentation of the first line only; Python
        // rejects an indented expression on a later line.
        if line_start > 0 && self.pos > line_start {
            return Err(malformed(line_start, "unexpected indent"));
        }
        let first = self.expr()?.value;
        self.skip_ws();
        let value = if self.peek() == Some(b',') {
            // A bare top-level tuple: `1,2` or `1,`.
            let mut items = alloc::vec![first];
            while self.peek() == Some(b',') {
                self.pos += 1;
                self.skip_ws();
                match self.peek() {
                    None | Some(b'\n') | Some(b'\r') => break,
                    _ => {}
                }
                items.push(self.expr()?.value);
                self.skip_ws();
            }
            Value::Tuple(items)
        } else {
            first
        };
        self.skip_top_level();
        if self.pos < self.b.len() {
            return self.err("unexpected data after the value");
        }
        Ok(value)
    }

    /// An expression: a unary-level term, optionally `+`/`-` an imaginary
    /// literal (the only binary operation `ast.literal_eval` allows).
    fn expr(&mut self) -> Result<Operand, SerializeError> {
        let left_pos = self.pos;
        let left = self.unary()?;
        self.skip_ws();
        let op = match self.peek() {
            Some(c @ (b'+' | b'-')) => c,
            _ => return Ok(left),
        };
        let op_pos = self.pos;
        self.pos += 1;
        self.skip_ws();
        let right_pos = self.pos;
        let right = self.unary()?;
        let l = match (&left.kind, &left.value) {
            (Kind::Number | Kind::Signed, Value::Int(i)) => *i as f64,
            (Kind::Number | Kind::Signed, Value::BigInt(b)) => match b.to_f64() {
                Some(f) if f.is_finite() => f,
                _ => return Err(malformed(left_pos, "int too large to convert to float")),
            },
            (Kind::Number | Kind::Signed, Value::Float(f)) => *f,
            _ => {
                return Err(malformed(
                    op_pos,
                    "only a real number literal may be added to an imaginary literal",
                ))
            }
        };
        let (rre, rim) = match (&right.kind, &right.value) {
            (Kind::Number, Value::Complex { re, im }) => (*re, *im),
            _ => {
                return Err(malformed(
                    right_pos,
                    "the right operand of + or - must be an imaginary literal like 2.0j",
                ))
            }
        };
        // Python converts the real operand to complex(l, 0.0) and then
        // adds/subtracts componentwise (so signed zeros follow IEEE rules).
        let value = if op == b'+' {
            Value::Complex {
                re: l + rre,
                im: 0.0 + rim,
            }
        } else {
            Value::Complex {
                re: l - rre,
                im: 0.0 - rim,
            }
        };
        self.skip_ws();
        if let Some(b'+' | b'-') = self.peek() {
            return self.err("only one + or - may combine a real and an imaginary literal");
        }
        Ok(Operand {
            value,
            kind: Kind::Other,
        })
    }

    fn unary(&mut self) -> Result<Operand, SerializeError> {
        let op = match self.peek() {
            Some(c @ (b'+' | b'-')) => c,
            _ => return self.primary(),
        };
        let op_pos = self.pos;
        self.pos += 1;
        self.skip_ws();
        if let Some(b'+' | b'-') = self.peek() {
            return self.err("unary + or - may only be applied once, to a number literal");
        }
        let inner = self.primary()?;
        if inner.kind != Kind::Number {
            return Err(malformed(
                op_pos,
                "unary + or - may only be applied to a number literal",
            ));
        }
        let value = if op == b'+' {
            inner.value
        } else {
            match inner.value {
                Value::Int(i) => match i.checked_neg() {
                    Some(n) => Value::Int(n),
                    None => Value::BigInt(-BigInt::from(i)),
                },
                Value::BigInt(b) => normalise(-b),
                Value::Float(f) => Value::Float(-f),
                Value::Complex { re, im } => Value::Complex { re: -re, im: -im },
                other => other,
            }
        };
        Ok(Operand {
            value,
            kind: Kind::Signed,
        })
    }

    fn enter(&mut self, limit: usize) -> Result<(), SerializeError> {
        if self.depth >= limit {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        self.depth += 1;
        self.nest += 1;
        self.pos += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.nest -= 1;
        self.pos += 1;
    }

    fn other(value: Value) -> Operand {
        Operand {
            value,
            kind: Kind::Other,
        }
    }

    fn primary(&mut self) -> Result<Operand, SerializeError> {
        let c = match self.peek() {
            Some(c) => c,
            None => return self.err("unexpected end of data, a value was expected"),
        };
        match c {
            b'(' => self.paren(),
            b'[' => {
                self.enter(MAX_DEPTH)?;
                let items = self.items(b']')?;
                self.leave();
                Ok(Self::other(Value::List(items)))
            }
            b'{' => self.brace(),
            b'\'' | b'"' => self.strings(),
            b'0'..=b'9' => self.number(),
            b'.' => match self.peek_at(1) {
                Some(b'0'..=b'9') => self.number(),
                Some(b'.') if self.peek_at(2) == Some(b'.') => {
                    self.err("Ellipsis (...) has no counterpart in Pyro's value model")
                }
                _ => self.err("unexpected '.'"),
            },
            c if is_ident_start(c) => self.name(),
            _ => {
                let ch = self.s[self.pos..].chars().next().unwrap_or('?');
                self.err(format!("unexpected character {ch:?}, a value was expected"))
            }
        }
    }

    /// Comma-separated expressions up to `close` (trailing comma allowed).
    fn items(&mut self, close: u8) -> Result<Vec<Value>, SerializeError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                return Ok(items);
            }
            items.push(self.expr()?.value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => return Ok(items),
                _ => return self.err(format!("expected ',' or '{}'", close as char)),
            }
        }
    }

    fn paren(&mut self) -> Result<Operand, SerializeError> {
        // One extra level for grouping parentheses such as `(1.0+2.0j)`,
        // which are not containers; checked again below if it is a tuple.
        self.enter(MAX_DEPTH + 1)?;
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.leave();
            return self.tuple_ok(Vec::new());
        }
        let first = self.expr()?;
        self.skip_ws();
        match self.peek() {
            Some(b')') => {
                // Grouping: the value keeps its kind (`-(1)` is fine).
                self.leave();
                Ok(first)
            }
            Some(b',') => {
                self.pos += 1;
                let mut items = self.items(b')')?;
                items.insert(0, first.value);
                self.leave();
                self.tuple_ok(items)
            }
            _ => self.err("expected ',' or ')'"),
        }
    }

    fn tuple_ok(&self, items: Vec<Value>) -> Result<Operand, SerializeError> {
        if self.depth >= MAX_DEPTH {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        Ok(Self::other(Value::Tuple(items)))
    }

    fn brace(&mut self) -> Result<Operand, SerializeError> {
        self.enter(MAX_DEPTH)?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.leave();
            return Ok(Self::other(Value::Dict(Dict::default())));
        }
        if self.peek() == Some(b'*') {
            return self.err("** unpacking is not a literal");
        }
        let first_pos = self.pos;
        let first = self.expr()?.value;
        self.skip_ws();
        if self.peek() == Some(b':') {
            self.check_hashable(&first, first_pos)?;
            self.pos += 1;
            self.skip_ws();
            let value = self.expr()?.value;
            let mut entries = alloc::vec![(first, value)];
            loop {
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => break,
                    _ => return self.err("expected ',' or '}' in dict"),
                }
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    break;
                }
                let key_pos = self.pos;
                let key = self.expr()?.value;
                self.check_hashable(&key, key_pos)?;
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return self.err("expected ':' after a dict key");
                }
                self.pos += 1;
                self.skip_ws();
                let value = self.expr()?.value;
                entries.push((key, value));
            }
            self.leave();
            Ok(Self::other(Value::Dict(Dict(dedup_dict(entries)))))
        } else {
            self.check_hashable(&first, first_pos)?;
            let mut items = alloc::vec![first];
            loop {
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => break,
                    _ => return self.err("expected ',' or '}' in set"),
                }
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    break;
                }
                let item_pos = self.pos;
                let item = self.expr()?.value;
                self.check_hashable(&item, item_pos)?;
                items.push(item);
            }
            self.leave();
            Ok(Self::other(Value::Set(dedup_set(items))))
        }
    }

    fn check_hashable(&self, v: &Value, at: usize) -> Result<(), SerializeError> {
        if unhashable(v).is_none() {
            Ok(())
        } else {
            Err(malformed(
                at,
                format!(
                    "unhashable type '{}' as dict key or set element",
                    super::writer::describe(v)
                ),
            ))
        }
    }

    fn name(&mut self) -> Result<Operand, SerializeError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !is_ident_char(c) {
                break;
            }
            self.pos += 1;
        }
        let word = &self.s[start..self.pos];
        if let Some(b'\'' | b'"') = self.peek() {
            if word.len() <= 2 && word.bytes().all(|c| b"rRuUbBfF".contains(&c)) {
                self.pos = start;
                return self.strings();
            }
        }
        let value = match word {
            "None" => Value::None,
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "set" => {
                // `set()` is the one call literal_eval allows.
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    self.nest += 1;
                    self.skip_ws();
                    self.nest -= 1;
                    if self.peek() == Some(b')') {
                        self.pos += 1;
                        return Ok(Self::other(Value::Set(Vec::new())));
                    }
                }
                return Err(malformed(start, "only set() without arguments is allowed"));
            }
            _ => {
                return Err(malformed(
                    start,
                    format!(
                        "unknown name '{word}' (only literals, None, True and False are allowed)"
                    ),
                ))
            }
        };
        Ok(Self::other(value))
    }

    // ----- strings -----

    /// One or more adjacent string literals (implicit concatenation).
    fn strings(&mut self) -> Result<Operand, SerializeError> {
        let first_pos = self.pos;
        let mut buf: Vec<u8> = Vec::new();
        let mut is_bytes: Option<bool> = None;
        loop {
            let lit_pos = self.pos;
            let (bytes, raw) = self.prefix()?;
            match is_bytes {
                None => is_bytes = Some(bytes),
                Some(b) if b != bytes => {
                    return Err(malformed(lit_pos, "cannot mix bytes and str literals"))
                }
                _ => {}
            }
            self.string_body(&mut buf, lit_pos, bytes, raw)?;
            // Another literal right after (only blanks/comments between)?
            let save = self.pos;
            self.skip_ws();
            if !self.at_string_start() {
                self.pos = save;
                break;
            }
        }
        let value = if is_bytes == Some(true) {
            Value::Bytes(buf)
        } else {
            match String::from_utf8(buf) {
                Ok(s) => Value::Str(s.into()),
                Err(_) => return Err(malformed(first_pos, "string is not valid text")),
            }
        };
        Ok(Self::other(value))
    }

    fn at_string_start(&self) -> bool {
        let mut i = 0;
        while i < 3 {
            match self.peek_at(i) {
                Some(b'\'' | b'"') => return true,
                Some(c) if i < 2 && b"rRuUbBfF".contains(&c) => i += 1,
                _ => return false,
            }
        }
        false
    }

    /// Parse a string prefix; returns (is_bytes, is_raw).
    fn prefix(&mut self) -> Result<(bool, bool), SerializeError> {
        let start = self.pos;
        let (mut b, mut r, mut u, mut f) = (false, false, false, false);
        while let Some(c) = self.peek() {
            match c.to_ascii_lowercase() {
                b'b' if !b => b = true,
                b'r' if !r => r = true,
                b'u' if !u => u = true,
                b'f' if !f => f = true,
                _ => break,
            }
            self.pos += 1;
        }
        if f {
            return Err(malformed(start, "f-strings are not literals"));
        }
        if (u && (b || r)) || !matches!(self.peek(), Some(b'\'' | b'"')) {
            return Err(malformed(start, "invalid string prefix"));
        }
        Ok((b, r))
    }

    /// The body of one literal (`start`: where its prefix began, for errors).
    fn string_body(
        &mut self,
        out: &mut Vec<u8>,
        start: usize,
        bytes: bool,
        raw: bool,
    ) -> Result<(), SerializeError> {
        let quote = self.b[self.pos];
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let b = self.b;
        let mut run = self.pos;
        let high = if bytes { 0x80 } else { 0xff };
        let special =
            |c: u8| (c == quote) | (c == b'\\') | (c == b'\n') | (c == b'\r') | (c >= high);
        loop {
            // Skip plain text 16 bytes at a time (branch-free test per chunk),
            // which makes long strings (base64 data) cheap to read.
            while let Some(chunk) = b.get(self.pos..self.pos + 16) {
                if chunk.iter().fold(false, |hit, &c| hit | special(c)) {
                    break;
                }
                self.pos += 16;
            }
            let c = match b.get(self.pos) {
                Some(&c) => c,
                None => return Err(malformed(start, "unterminated string literal")),
            };
            match c {
                _ if c == quote => {
                    if !triple {
                        out.extend_from_slice(&b[run..self.pos]);
                        self.pos += 1;
                        return Ok(());
                    }
                    if b.get(self.pos + 1) == Some(&quote) && b.get(self.pos + 2) == Some(&quote) {
                        out.extend_from_slice(&b[run..self.pos]);
                        self.pos += 3;
                        return Ok(());
                    }
                    self.pos += 1;
                }
                b'\n' | b'\r' => {
                    if !triple {
                        return Err(malformed(
                            start,
                            "unterminated string literal (newline inside a single-quoted string)",
                        ));
                    }
                    out.extend_from_slice(&b[run..self.pos]);
                    self.newline(out);
                    run = self.pos;
                }
                b'\\' => {
                    out.extend_from_slice(&b[run..self.pos]);
                    if raw {
                        self.raw_escape(out, bytes)?;
                    } else {
                        self.escape(out, bytes)?;
                    }
                    run = self.pos;
                }
                0x80.. if bytes => {
                    return self.err("bytes can only contain ASCII literal characters");
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Python reads `\r\n` and `\r` in source as `\n`.
    fn newline(&mut self, out: &mut Vec<u8>) {
        if self.b[self.pos] == b'\r' && self.peek_at(1) == Some(b'\n') {
            self.pos += 1;
        }
        self.pos += 1;
        out.push(b'\n');
    }

    fn raw_escape(&mut self, out: &mut Vec<u8>, bytes: bool) -> Result<(), SerializeError> {
        // In raw literals the backslash stays, and it keeps the next character
        // (even a quote or a newline) from ending the literal.
        out.push(b'\\');
        self.pos += 1;
        match self.peek() {
            // The caller reports the unterminated literal at its start.
            None => Ok(()),
            Some(b'\n' | b'\r') => {
                self.newline(out);
                Ok(())
            }
            Some(c) if c >= 0x80 => {
                if bytes {
                    return self.err("bytes can only contain ASCII literal characters");
                }
                Ok(())
            }
            Some(c) => {
                out.push(c);
                self.pos += 1;
                Ok(())
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>, bytes: bool) -> Result<(), SerializeError> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(c) => c,
            // The caller reports the unterminated literal at its start.
            None => return Ok(()),
        };
        self.pos += 1;
        let simple = match c {
            b'\n' => return Ok(()),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                return Ok(());
            }
            b'\\' | b'\'' | b'"' => c,
            b'a' => 7,
            b'b' => 8,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                if bytes {
                    out.push((v & 0xff) as u8);
                } else {
                    push_char(out, v);
                }
                return Ok(());
            }
            b'x' => {
                let v = self.hex_digits(2, at, "\\xXX")?;
                if bytes {
                    out.push(v as u8);
                } else {
                    push_char(out, v);
                }
                return Ok(());
            }
            b'u' | b'U' if !bytes => {
                let n = if c == b'u' { 4 } else { 8 };
                let v =
                    self.hex_digits(n, at, if c == b'u' { "\\uXXXX" } else { "\\UXXXXXXXX" })?;
                if v > 0x10ffff {
                    return Err(malformed(at, "illegal Unicode character in \\U escape"));
                }
                if (0xd800..0xe000).contains(&v) {
                    return Err(malformed(
                        at,
                        "lone surrogate escape: a Rust string cannot hold it",
                    ));
                }
                push_char(out, v);
                return Ok(());
            }
            b'N' if !bytes => {
                return Err(malformed(
                    at,
                    "\\N{...} named escapes are not supported (serpent never writes them)",
                ))
            }
            _ => {
                // Unknown escape: Python keeps the backslash and the character.
                out.push(b'\\');
                self.pos -= 1;
                if c >= 0x80 && bytes {
                    return self.err("bytes can only contain ASCII literal characters");
                }
                return Ok(());
            }
        };
        out.push(simple);
        Ok(())
    }

    fn hex_digits(&mut self, n: usize, at: usize, form: &str) -> Result<u32, SerializeError> {
        let mut v: u32 = 0;
        for _ in 0..n {
            match self.peek().and_then(|d| (d as char).to_digit(16)) {
                Some(d) => {
                    v = v * 16 + d;
                    self.pos += 1;
                }
                None => return Err(malformed(at, format!("truncated {form} escape"))),
            }
        }
        Ok(v)
    }

    // ----- numbers -----

    /// Digits in `radix`, single underscores allowed between digits (and,
    /// when `lead_underscore`, right after a `0x`-style prefix).
    fn digits(
        &mut self,
        radix: u32,
        lead_underscore: bool,
        buf: &mut Vec<u8>,
    ) -> Result<usize, SerializeError> {
        let mut count = 0;
        let mut allow_underscore = lead_underscore;
        while let Some(c) = self.peek() {
            if c == b'_' {
                if !allow_underscore
                    || !matches!(self.peek_at(1), Some(d) if (d as char).is_digit(radix))
                {
                    return self.err("invalid number literal (misplaced '_')");
                }
                self.pos += 1;
                allow_underscore = false;
                continue;
            }
            if !(c as char).is_digit(radix) {
                break;
            }
            buf.push(c);
            count += 1;
            self.pos += 1;
            allow_underscore = true;
        }
        Ok(count)
    }

    fn number(&mut self) -> Result<Operand, SerializeError> {
        let start = self.pos;
        let mut buf: Vec<u8> = Vec::new();
        // Prefixed integers: 0x / 0o / 0b.
        if self.peek() == Some(b'0') {
            let radix = match self.peek_at(1) {
                Some(b'x' | b'X') => 16,
                Some(b'o' | b'O') => 8,
                Some(b'b' | b'B') => 2,
                _ => 0,
            };
            if radix != 0 {
                self.pos += 2;
                let n = self.digits(radix, true, &mut buf)?;
                if n == 0 {
                    return self.err("invalid number literal (no digits after the base prefix)");
                }
                self.number_end()?;
                let big = BigInt::parse_bytes(&buf, radix)
                    .ok_or_else(|| malformed(start, "invalid number literal"))?;
                check_int_digits(&big, start)?;
                return Ok(Operand {
                    value: normalise(big),
                    kind: Kind::Number,
                });
            }
        }
        let int_digits = self.digits(10, false, &mut buf)?;
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            is_float = true;
            buf.push(b'.');
            self.pos += 1;
            let frac = if let Some(b'0'..=b'9') = self.peek() {
                self.digits(10, false, &mut buf)?
            } else {
                0
            };
            if int_digits == 0 && frac == 0 {
                return Err(malformed(start, "invalid number literal"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            let sign = matches!(self.peek_at(1), Some(b'+' | b'-'));
            let digit_at = if sign { 2 } else { 1 };
            if let Some(b'0'..=b'9') = self.peek_at(digit_at) {
                is_float = true;
                buf.push(b'e');
                if sign {
                    buf.push(self.b[self.pos + 1]);
                }
                self.pos += digit_at;
                self.digits(10, false, &mut buf)?;
            } else {
                return self.err("invalid number literal (exponent has no digits)");
            }
        }
        if let Some(b'j' | b'J') = self.peek() {
            self.pos += 1;
            self.number_end()?;
            let im = parse_f64(&buf, start)?;
            return Ok(Operand {
                value: Value::Complex { re: 0.0, im },
                kind: Kind::Number,
            });
        }
        self.number_end()?;
        let value = if is_float {
            Value::Float(parse_f64(&buf, start)?)
        } else {
            if buf.len() > 1 && buf[0] == b'0' && buf.iter().any(|&d| d != b'0') {
                return Err(malformed(
                    start,
                    "leading zeros in decimal integer literals are not permitted",
                ));
            }
            parse_decimal_int(&buf, start)?
        };
        Ok(Operand {
            value,
            kind: Kind::Number,
        })
    }

    fn number_end(&self) -> Result<(), SerializeError> {
        match self.peek() {
            Some(c) if is_ident_char(c) || c == b'.' => self.err("invalid number literal"),
            _ => Ok(()),
        }
    }
}

fn push_char(out: &mut Vec<u8>, v: u32) {
    // Callers only pass values that are valid scalar values (<= 0o777,
    // <= 0xff, or checked \u/\U values).
    let ch = char::from_u32(v).unwrap_or('\u{fffd}');
    let mut tmp = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
}

fn parse_f64(buf: &[u8], at: usize) -> Result<f64, SerializeError> {
    core::str::from_utf8(buf)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| malformed(at, "invalid float literal"))
}

fn parse_decimal_int(buf: &[u8], at: usize) -> Result<Value, SerializeError> {
    if buf.len() <= 18 {
        let mut v: i64 = 0;
        for &d in buf {
            v = v * 10 + (d - b'0') as i64;
        }
        return Ok(Value::Int(v));
    }
    if buf.len() > MAX_INT_DIGITS {
        return Err(malformed(
            at,
            format!(
                "int literal has {} digits, more than Python's limit of {MAX_INT_DIGITS}",
                buf.len()
            ),
        ));
    }
    let big = BigInt::parse_bytes(buf, 10).ok_or_else(|| malformed(at, "invalid int literal"))?;
    Ok(normalise(big))
}

/// Refuse prefixed (hex/octal/binary) ints whose decimal form would exceed
/// Python's digit limit: we could not write them back.
fn check_int_digits(big: &BigInt, at: usize) -> Result<(), SerializeError> {
    let bits = big.bits();
    let too_big = bits > 14300 || (bits > 14200 && big.abs().to_string().len() > MAX_INT_DIGITS);
    if too_big {
        return Err(malformed(
            at,
            format!("int literal has more than {MAX_INT_DIGITS} decimal digits"),
        ));
    }
    Ok(())
}

/// `Value::Int` when it fits in `i64`, else `Value::BigInt`.
pub(super) fn normalise(big: BigInt) -> Value {
    match big.to_i64() {
        Some(i) => Value::Int(i),
        None => Value::BigInt(big),
    }
}
