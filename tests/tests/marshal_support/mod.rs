//! Helpers shared by the marshal integration tests: a byte-level
//! normaliser for CPython marshal output, Python's `repr` of a decoded value,
//! and float-bit-exact value equality.

#![allow(dead_code)]

use pyro_proto::value::repr::float_repr;
use pyro_proto::value::{Dict, Value};

/// CPython's marshal bytes with everything that depends on the writer's
/// reference counts removed: FLAG_REF bits cleared, `r` back-references
/// replaced by (the normalised bytes of) the object they point to, and the
/// interned string codes `Z` `A` `t` written as `z` `a` `u`. This is a pure
/// byte rewrite (independent of the codec under test): our writer must
/// produce exactly this.
pub fn normalize(data: &[u8]) -> Vec<u8> {
    let mut n = Normalizer {
        data,
        pos: 0,
        refs: Vec::new(),
    };
    let mut out = Vec::new();
    n.object(&mut out);
    out
}

struct Normalizer<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Option<Vec<u8>>>,
}

impl Normalizer<'_> {
    fn copy(&mut self, n: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
    }

    fn i32_at(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.data[at..at + 4].try_into().unwrap())
    }

    fn object(&mut self, out: &mut Vec<u8>) {
        let code = self.data[self.pos];
        self.pos += 1;
        let ty = code & 0x7f;
        if ty == b'r' {
            let idx = self.i32_at(self.pos) as usize;
            self.pos += 4;
            out.extend_from_slice(self.refs[idx].as_ref().expect("completed reference"));
            return;
        }
        let slot = (code & 0x80 != 0 && !matches!(ty, b'N' | b'T' | b'F' | b'0' | b'S' | b'.'))
            .then(|| {
                self.refs.push(None);
                self.refs.len() - 1
            });
        let start = out.len();
        match ty {
            b'N' | b'T' | b'F' | b'0' => out.push(ty),
            b'i' => {
                out.push(ty);
                self.copy(4, out);
            }
            b'l' => {
                let n = self.i32_at(self.pos).unsigned_abs() as usize;
                out.push(ty);
                self.copy(4 + 2 * n, out);
            }
            b'g' => {
                out.push(ty);
                self.copy(8, out);
            }
            b'y' => {
                out.push(ty);
                self.copy(16, out);
            }
            b's' | b'u' | b't' | b'a' | b'A' => {
                let n = self.i32_at(self.pos) as usize;
                out.push(match ty {
                    b't' => b'u',
                    b'A' => b'a',
                    other => other,
                });
                self.copy(4 + n, out);
            }
            b'z' | b'Z' => {
                let n = self.data[self.pos] as usize;
                out.push(b'z');
                self.copy(1 + n, out);
            }
            b')' => {
                let n = self.data[self.pos] as usize;
                out.push(ty);
                self.copy(1, out);
                for _ in 0..n {
                    self.object(out);
                }
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.i32_at(self.pos) as usize;
                out.push(ty);
                self.copy(4, out);
                for _ in 0..n {
                    self.object(out);
                }
            }
            b'{' => {
                out.push(ty);
                while self.data[self.pos] & 0x7f != b'0' {
                    self.object(out);
                    self.object(out);
                }
                self.pos += 1;
                out.push(b'0');
            }
            other => panic!("normalize: unexpected code {other:#x} at {}", self.pos - 1),
        }
        if let Some(i) = slot {
            self.refs[i] = Some(out[start..].to_vec());
        }
    }
}

/// Whether CPython's bytes use FLAG_REF / `r` / interned codes at all (when
/// not, `normalize` is the identity).
pub fn has_refs(data: &[u8]) -> bool {
    normalize(data) != data
}

/// Equality with floats compared by bit pattern (NaN payloads, -0.0).
pub fn same(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Float(x), Float(y)) => x.to_bits() == y.to_bits(),
        (Complex { re: a, im: b }, Complex { re: c, im: d }) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (List(x), List(y))
        | (Tuple(x), Tuple(y))
        | (Set(x), Set(y))
        | (FrozenSet(x), FrozenSet(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Dict(x), Dict(y)) => same_dict(x, y),
        _ => a == b,
    }
}

fn same_dict(x: &Dict, y: &Dict) -> bool {
    x.0.len() == y.0.len()
        && x.0
            .iter()
            .zip(&y.0)
            .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
}

/// Python's `repr` of a decoded value (enough of it for the vector comments).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    repr_into(v, &mut out);
    out
}

fn repr_seq(items: &[Value], open: &str, close: &str, out: &mut String) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr_into(item, out);
    }
    out.push_str(close);
}

fn repr_complex_part(x: f64) -> String {
    let r = float_repr(x);
    r.strip_suffix(".0").map(str::to_string).unwrap_or(r)
}

fn repr_into(v: &Value, out: &mut String) {
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::BigInt(b) => out.push_str(&b.to_string()),
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::Complex { re, im } => {
            let imag = repr_complex_part(*im);
            if *re == 0.0 && re.is_sign_positive() {
                out.push_str(&format!("{imag}j"));
            } else {
                let sign = if im.is_sign_negative() || im.is_nan() && imag.starts_with('-') {
                    ""
                } else {
                    "+"
                };
                out.push_str(&format!("({}{sign}{imag}j)", repr_complex_part(*re)));
            }
        }
        Value::Str(s) => repr_str(s, out),
        Value::Bytes(b) => {
            let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
                '"'
            } else {
                '\''
            };
            out.push('b');
            out.push(quote);
            for &c in b {
                match c {
                    b'\\' => out.push_str("\\\\"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    c if c as char == quote => {
                        out.push('\\');
                        out.push(quote)
                    }
                    0x20..=0x7e => out.push(c as char),
                    c => out.push_str(&format!("\\x{c:02x}")),
                }
            }
            out.push(quote);
        }
        Value::List(items) => repr_seq(items, "[", "]", out),
        Value::Tuple(items) if items.len() == 1 => repr_seq(items, "(", ",)", out),
        Value::Tuple(items) => repr_seq(items, "(", ")", out),
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => repr_seq(items, "{", "}", out),
        Value::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
        Value::FrozenSet(items) => repr_seq(items, "frozenset({", "})", out),
        Value::Dict(d) => {
            out.push('{');
            for (i, (k, v)) in d.0.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(k, out);
                out.push_str(": ");
                repr_into(v, out);
            }
            out.push('}');
        }
        Value::Class(c) => {
            out.push_str(&format!("<class dict {}>", c.class_name));
        }
    }
}

fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(quote)
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}
