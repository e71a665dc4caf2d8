//! `repr()` of a received value, as the Python proxy's caller would print it.
//!
//! `pyro call` prints a result the way `print(repr(proxy.method(...)))` does
//! in Python 3.11, so a Pyro4 user sees exactly what they know. The scalar
//! forms come from `pyro_proto::value::repr` (`str_repr`, `bytes_repr`,
//! `float_repr`); this module adds the containers, complex numbers, big
//! integers and the class objects Pyro4 sends (exceptions, URIs, proxies).
//!
//! Sets are listed in CPython's hash-table order where that is the same in
//! every process (numbers, tuples of numbers: see [`hash`](super::hash)). Two
//! things cannot be reproduced and are documented deviations: sets holding
//! strings, bytes or `None` (hashes randomised per process, or addresses)
//! keep the order they arrived in, and object reprs that carry a memory
//! address (`<Pyro4.core.URI at 0x7f..>`) show `0x?` instead.

use super::{float_repr, write_bytes_repr, write_str_repr};
use crate::serialize::{SerializerId, MAX_DEPTH};
use crate::uri::Uri;
use crate::value::{ClassDict, Value};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Python's `repr(value)` for a value built from these items in this order
/// (a set as Python builds it by adding its items one by one).
///
/// ```
/// use pyro_proto::value::repr::py_repr;
/// use pyro_proto::value::Value;
/// let v = Value::tuple([Value::from("a"), Value::Float(1.0)]);
/// assert_eq!(py_repr(&v), "('a', 1.0)");
/// ```
pub fn py_repr(value: &Value) -> String {
    Repr { set_passes: 1 }.render(value)
}

/// Python's `repr()` of what a Python Pyro4 proxy using `serializer` gets
/// from a reply carrying `value`: like [`py_repr`], but sets are listed as
/// Pyro4 leaves them. Its serpent and marshal serializers build each `set`
/// twice (`loads`, then `recreate_classes` re-adds the items in the first
/// set's order), which can change the order `repr` shows.
pub fn py_repr_received(value: &Value, serializer: SerializerId) -> String {
    let set_passes = match serializer {
        SerializerId::Serpent | SerializerId::Marshal => 2,
        _ => 1,
    };
    Repr { set_passes }.render(value)
}

/// How sets were built by the receiver.
struct Repr {
    /// How many times the receiver built each `set` by adding the items of
    /// the previous one (frozensets are built once).
    set_passes: usize,
}

impl Repr {
    fn render(&self, value: &Value) -> String {
        let mut out = Vec::new();
        self.write(&mut out, value, 0);
        // Only valid UTF-8 (whole chars of strings, and ASCII) is ever written.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// Python's `str(value)`: the text itself for a `str`, `repr` otherwise
/// (what `print(value)` shows, used for exception messages).
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        other => py_repr(other),
    }
}

/// `repr` of a float inside a complex number: Python's `'r'` format without
/// the `.0` it adds to plain floats (`(1+2j)`, `1e+16j`, `(nan+infj)`).
fn complex_part(x: f64) -> String {
    let mut s = float_repr(x);
    if s.ends_with(".0") {
        s.truncate(s.len() - 2);
    }
    s
}

fn complex_repr(re: f64, im: f64) -> String {
    let im_s = complex_part(im);
    // CPython: a real part of +0.0 is left out, with no parentheses.
    if re == 0.0 && re.is_sign_positive() {
        return format!("{im_s}j");
    }
    let sign = if im_s.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{im_s}j)", complex_part(re))
}

impl Repr {
    fn seq(&self, out: &mut Vec<u8>, items: &[Value], open: &str, close: &str, depth: usize) {
        out.extend_from_slice(open.as_bytes());
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            self.write(out, item, depth + 1);
        }
        out.extend_from_slice(close.as_bytes());
    }

    /// A set in the order CPython 3.11 lists it after `passes` rounds of
    /// adding the items to a new set in the previous order (see
    /// [`hash`](super::hash)); the received order when hashes are not fixed.
    fn set(
        &self,
        out: &mut Vec<u8>,
        items: &[Value],
        open: &str,
        close: &str,
        depth: usize,
        passes: usize,
    ) {
        let mut ordered: Vec<&Value> = items.iter().collect();
        for _ in 0..passes {
            let current: Vec<Value> = ordered.iter().map(|v| (*v).clone()).collect();
            match super::hash::set_order(&current) {
                Some(order) => ordered = order.into_iter().map(|i| ordered[i]).collect(),
                None => break,
            }
        }
        let ordered: Vec<Value> = ordered.into_iter().cloned().collect();
        self.seq(out, &ordered, open, close, depth)
    }

    fn write(&self, out: &mut Vec<u8>, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            // Python prints `[...]` only for cycles; values this deep cannot
            // arrive from a codec (they stop at MAX_DEPTH), so this is a guard.
            out.extend_from_slice(b"...");
            return;
        }
        match value {
            Value::None => out.extend_from_slice(b"None"),
            Value::Bool(true) => out.extend_from_slice(b"True"),
            Value::Bool(false) => out.extend_from_slice(b"False"),
            Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Value::BigInt(b) => out.extend_from_slice(b.to_string().as_bytes()),
            Value::Float(f) => out.extend_from_slice(float_repr(*f).as_bytes()),
            Value::Complex { re, im } => out.extend_from_slice(complex_repr(*re, *im).as_bytes()),
            Value::Str(s) => write_str_repr(out, s),
            Value::Bytes(b) => write_bytes_repr(out, b),
            Value::List(items) => self.seq(out, items, "[", "]", depth),
            Value::Tuple(items) if items.len() == 1 => self.seq(out, items, "(", ",)", depth),
            Value::Tuple(items) => self.seq(out, items, "(", ")", depth),
            Value::Set(items) if items.is_empty() => out.extend_from_slice(b"set()"),
            Value::Set(items) => self.set(out, items, "{", "}", depth, self.set_passes),
            Value::FrozenSet(items) if items.is_empty() => out.extend_from_slice(b"frozenset()"),
            Value::FrozenSet(items) => self.set(out, items, "frozenset({", "})", depth, 1),
            Value::Dict(d) => {
                out.push(b'{');
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    self.write(out, k, depth + 1);
                    out.extend_from_slice(b": ");
                    self.write(out, v, depth + 1);
                }
                out.push(b'}');
            }
            Value::Class(c) => self.class(out, c, depth),
        }
    }

    /// Class objects as Python prints them: exceptions as `Name(args)`, URIs
    /// and proxies with their URI text, anything else as `<module.Name object>`.
    fn class(&self, out: &mut Vec<u8>, class: &ClassDict, depth: usize) {
        if class.fields.get_str("__exception__").is_some() {
            // BaseException.__repr__: type name, then repr(args) (one arg without
            // the tuple's trailing comma).
            out.extend_from_slice(class.short_name().as_bytes());
            match class.fields.get_str("args") {
                Some(Value::Tuple(args)) | Some(Value::List(args)) if args.len() == 1 => {
                    out.push(b'(');
                    self.write(out, &args[0], depth + 1);
                    out.push(b')');
                }
                Some(Value::Tuple(args)) | Some(Value::List(args)) => {
                    self.seq(out, args, "(", ")", depth)
                }
                _ => out.extend_from_slice(b"()"),
            }
            return;
        }
        let uri_text = |v: &Value| -> Option<String> {
            match v {
                Value::Str(s) => Some(s.to_string()),
                other => Uri::from_value(other).ok().map(|u| u.to_string()),
            }
        };
        let text = match class.class_name.as_str() {
            "Pyro4.core.URI" => Uri::from_value(&Value::Class(Box::new(class.clone())))
                .ok()
                .map(|u| format!("<Pyro4.core.URI at 0x?, {u}>")),
            "Pyro4.core.Proxy" => match class.fields.get_str("state") {
                Some(Value::Tuple(state)) | Some(Value::List(state)) => state
                    .first()
                    .and_then(uri_text)
                    .map(|u| format!("<Pyro4.core.Proxy at 0x?; not connected; for {u}>")),
                _ => None,
            },
            _ => None,
        };
        let text = text.unwrap_or_else(|| format!("<{} object at 0x?>", class.class_name));
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Dict;
    use alloc::vec;

    #[test]
    fn scalars() {
        assert_eq!(py_repr(&Value::None), "None");
        assert_eq!(py_repr(&Value::Bool(true)), "True");
        assert_eq!(py_repr(&Value::Int(-3)), "-3");
        assert_eq!(py_repr(&Value::Float(1e16)), "1e+16");
        assert_eq!(py_repr(&Value::from("it's")), "\"it's\"");
        assert_eq!(py_repr(&Value::bytes(b"\x00a".to_vec())), "b'\\x00a'");
    }

    #[test]
    fn complex_numbers_as_python_prints_them() {
        let c = |re, im| py_repr(&Value::Complex { re, im });
        assert_eq!(c(1.0, 2.0), "(1+2j)");
        assert_eq!(c(0.0, 2.0), "2j");
        assert_eq!(c(-0.0, 2.0), "(-0+2j)");
        assert_eq!(c(0.0, -0.0), "-0j");
        assert_eq!(c(1.5, -0.0), "(1.5-0j)");
        assert_eq!(c(0.0, 1e16), "1e+16j");
        assert_eq!(c(f64::NAN, f64::INFINITY), "(nan+infj)");
        assert_eq!(c(1.0, f64::NEG_INFINITY), "(1-infj)");
    }

    #[test]
    fn containers() {
        let one = Value::tuple([1]);
        assert_eq!(py_repr(&one), "(1,)");
        assert_eq!(py_repr(&Value::Tuple(vec![])), "()");
        assert_eq!(py_repr(&Value::Set(vec![])), "set()");
        assert_eq!(py_repr(&Value::FrozenSet(vec![])), "frozenset()");
        assert_eq!(
            py_repr(&Value::FrozenSet(vec![Value::Int(1), Value::Int(2)])),
            "frozenset({1, 2})"
        );
        let mut d = Dict::default();
        d.insert("a", Value::list([1, 2]));
        d.insert(Value::Int(1), Value::None);
        assert_eq!(py_repr(&Value::Dict(d)), "{'a': [1, 2], 1: None}");
    }

    #[test]
    fn exceptions_print_like_base_exception_repr() {
        let mut c = ClassDict::new("builtins.ValueError");
        c.fields.insert("__exception__", true);
        c.fields.insert("args", Value::tuple(["bad"]));
        assert_eq!(
            py_repr(&Value::Class(Box::new(c.clone()))),
            "ValueError('bad')"
        );
        c.fields
            .insert("args", Value::tuple([Value::from("a"), Value::Int(1)]));
        assert_eq!(
            py_repr(&Value::Class(Box::new(c.clone()))),
            "ValueError('a', 1)"
        );
        c.fields.insert("args", Value::Tuple(vec![]));
        assert_eq!(py_repr(&Value::Class(Box::new(c))), "ValueError()");
    }

    #[test]
    fn uri_objects_show_their_uri() {
        let uri = Uri::parse("PYRO:obj@localhost:9999").unwrap();
        assert_eq!(
            py_repr(&uri.to_value()),
            "<Pyro4.core.URI at 0x?, PYRO:obj@localhost:9999>"
        );
    }
}
