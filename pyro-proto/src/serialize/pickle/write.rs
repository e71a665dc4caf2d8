//! The pickle writer: protocol 4 opcodes, readable by every Python 3 since 3.4.
//!
//! Python objects Pyro needs are written the way CPython's pickler writes them,
//! so a Python peer gets real objects: exceptions as `class(*args)` (REDUCE)
//! plus their `__dict__` (BUILD), `Pyro4.core.URI` / `Proxy` / `Daemon` /
//! `Pyro4.futures._ExceptionWrapper` as `cls.__new__(cls)` (NEWOBJ) plus their
//! state (BUILD). No memo is written: a [`Value`] is a tree, nothing is shared.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use num_bigint::BigInt;

use super::names::is_known_exception;
use super::CODEC;
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

/// Output bytes reserved beyond a large leaf (see [`Writer::long_header`])
/// and at the start: room for the opcodes of a typical call.
pub(crate) const HEADROOM: usize = 256;

/// The protocol we write (4: frames, SHORT_BINUNICODE, sets, STACK_GLOBAL).
pub(crate) const PROTOCOL: u8 = 4;

/// Results inside the writer: the error boxed, so that the common `Ok(())`
/// comes back in a register (a `SerializeError` is returned through memory).
type R<T> = Result<T, Box<SerializeError>>;

#[cold]
fn too_deep() -> Box<SerializeError> {
    Box::new(SerializeError::TooDeep { limit: MAX_DEPTH })
}

/// Appends one pickle to a caller's buffer: [`new`](Self::new) starts it,
/// [`finish`](Self::finish) completes it, [`abandon`](Self::abandon) takes
/// it back out after an error.
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Where this pickle starts in `out` (what was there before stays).
    start: usize,
}

impl<'a> Writer<'a> {
    /// Start a pickle at the end of `out`.
    #[inline(always)]
    fn new(out: &'a mut Vec<u8>) -> Writer<'a> {
        let start = out.len();
        crate::serialize::reserve(out, HEADROOM);
        // PROTO 4, then one FRAME covering everything (length patched in finish()).
        out.extend_from_slice(&[0x80, PROTOCOL, 0x95, 0, 0, 0, 0, 0, 0, 0, 0]);
        Writer { out, start }
    }

    /// One pickle appended to `out` by `write`: completed when it succeeds,
    /// cut back out of `out` when it fails.
    #[inline(always)]
    pub(crate) fn append(
        out: &'a mut Vec<u8>,
        write: impl FnOnce(&mut Self) -> R<()>,
    ) -> Result<(), SerializeError> {
        let mut w = Writer::new(out);
        match write(&mut w) {
            Ok(()) => {
                w.finish();
                Ok(())
            }
            Err(e) => {
                w.abandon();
                Err(*e)
            }
        }
    }

    /// Complete the pickle: STOP, and the frame length.
    fn finish(self) {
        self.out.push(b'.');
        let frame = (self.out.len() - self.start - 11) as u64;
        self.out[self.start + 3..self.start + 11].copy_from_slice(&frame.to_le_bytes());
    }

    /// Cut the buffer back to what it held before [`new`](Self::new) (after an error).
    #[cold]
    fn abandon(self) {
        self.out.truncate(self.start);
    }

    pub(crate) fn value(&mut self, v: &Value, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        if self.scalar(v) {
            return Ok(());
        }
        self.container(v, depth)
    }

    /// A value that is not one of [`scalar`](Self::scalar)'s leaves (the
    /// containers and the rare values): callers that tried `scalar` already
    /// come here directly.
    fn container(&mut self, v: &Value, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match v {
            Value::List(items) => {
                if items.is_empty() {
                    self.out.push(b']');
                } else {
                    self.out.extend_from_slice(b"](");
                    self.items(items, depth)?;
                    self.out.push(b'e');
                }
            }
            Value::Tuple(items) => self.tuple(items, depth)?,
            Value::Dict(d) => self.dict(&d.0, depth)?,
            _ => self.rare(v, depth)?,
        }
        Ok(())
    }

    /// The common leaves (written without a recursive call); false for the
    /// rest, which [`value`](Self::value) writes.
    #[inline(always)]
    fn scalar(&mut self, v: &Value) -> bool {
        match v {
            Value::None => self.out.push(b'N'),
            Value::Bool(true) => self.out.push(0x88),
            Value::Bool(false) => self.out.push(0x89),
            // BININT1, the most common int, inline.
            Value::Int(i @ 0..=0xff) => self.out.extend_from_slice(&[b'K', *i as u8]),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.float(*f),
            Value::Str(s) => self.str(s),
            _ => return false,
        }
        true
    }

    /// The items of a container, one level below `depth`.
    #[inline(always)]
    fn items(&mut self, items: &[Value], depth: usize) -> R<()> {
        // Leaves skip `value`, so check their level here (as `value` would).
        if !items.is_empty() && depth + 1 > MAX_DEPTH {
            return Err(too_deep());
        }
        for it in items {
            if !self.scalar(it) {
                self.container(it, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Values seldom seen in calls, kept out of the hot path.
    #[inline(never)]
    fn rare(&mut self, v: &Value, depth: usize) -> R<()> {
        match v {
            Value::BigInt(b) => self.bigint(b),
            Value::Complex { re, im } => {
                self.global("builtins", "complex");
                self.float(*re);
                self.float(*im);
                self.out.extend_from_slice(&[0x86, b'R']);
            }
            Value::Bytes(b) => self.bytes(b),
            Value::Set(items) => {
                self.out.push(0x8f);
                if !items.is_empty() {
                    self.out.push(b'(');
                    self.items(items, depth)?;
                    self.out.push(0x90);
                }
            }
            Value::FrozenSet(items) => {
                self.out.push(b'(');
                self.items(items, depth)?;
                self.out.push(0x91);
            }
            Value::Class(c) => self.class(c, depth)?,
            // Written by `value` itself (never sent here by it).
            Value::None
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::List(_)
            | Value::Tuple(_)
            | Value::Dict(_) => self.value(v, depth)?,
        }
        Ok(())
    }

    #[inline(never)]
    fn int(&mut self, i: i64) {
        if (0..=0xff).contains(&i) {
            self.out.extend_from_slice(&[b'K', i as u8]);
        } else if (0..=0xffff).contains(&i) {
            let [a, b] = (i as u16).to_le_bytes();
            self.out.extend_from_slice(&[b'M', a, b]);
        } else if let Ok(v) = i32::try_from(i) {
            let [a, b, c, d] = v.to_le_bytes();
            self.out.extend_from_slice(&[b'J', a, b, c, d]);
        } else {
            self.bigint(&BigInt::from(i));
        }
    }

    #[inline(never)]
    fn bigint(&mut self, b: &BigInt) {
        let bytes = b.to_signed_bytes_le();
        if bytes.len() < 256 {
            self.out.extend_from_slice(&[0x8a, bytes.len() as u8]);
        } else {
            self.out.push(0x8b);
            self.out
                .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        }
        self.out.extend_from_slice(&bytes);
    }

    fn float(&mut self, f: f64) {
        // One write for opcode and value.
        let [a, b, c, d, e, g, h, i] = f.to_be_bytes();
        self.out.extend_from_slice(&[b'G', a, b, c, d, e, g, h, i]);
    }

    #[inline(always)]
    fn str(&mut self, s: &str) {
        let n = s.len();
        if n < 256 {
            self.out.extend_from_slice(&[0x8c, n as u8]);
        } else {
            self.long_header(n, b'X', 0x8d);
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    /// The call's object id and method name: [`str`](Self::str), with
    /// short ones (the usual case) put together in 16 bytes on the stack by
    /// fixed-size moves (two overlapping ones cover any length), appended
    /// whole and cut back to length, instead of a `memcpy` call for a few
    /// bytes. (Not used for strs inside the arguments: in the container
    /// loops the larger code costs more than it saves.)
    #[inline(always)]
    fn name(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len();
        if n > 14 {
            return self.str(s);
        }
        let mut record = [0u8; 16];
        record[0] = 0x8c;
        record[1] = n as u8;
        if n >= 8 {
            record[2..10].copy_from_slice(&b[..8]);
            record[n - 6..n + 2].copy_from_slice(&b[n - 8..]);
        } else if n >= 4 {
            record[2..6].copy_from_slice(&b[..4]);
            record[n - 2..n + 2].copy_from_slice(&b[n - 4..]);
        } else if n > 0 {
            record[2] = b[0];
            record[2 + n / 2] = b[n / 2];
            record[1 + n] = b[n - 1];
        }
        let end = self.out.len() + 2 + n;
        self.out.extend_from_slice(&record);
        self.out.truncate(end);
    }

    fn bytes(&mut self, b: &[u8]) {
        let n = b.len();
        if n < 256 {
            self.out.extend_from_slice(&[b'C', n as u8]);
        } else {
            self.long_header(n, b'B', 0x8e);
        }
        self.out.extend_from_slice(b);
    }

    /// The opcode and length of a str or bytes of `n >= 256` bytes (`op4`
    /// with a 4-byte length, `op8` with 8), after making room for all of it
    /// and some opcodes after it: a large leaf is then copied once into an
    /// output that need not grow again for the rest, without sizing the
    /// output by a walk over the value beforehand (which cost every small
    /// call about a tenth of its encoding time).
    #[cold]
    fn long_header(&mut self, n: usize, op4: u8, op8: u8) {
        self.out.reserve(n.saturating_add(HEADROOM));
        if let Ok(n) = u32::try_from(n) {
            self.out.push(op4);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(op8);
            self.out.extend_from_slice(&(n as u64).to_le_bytes());
        }
    }

    fn global(&mut self, module: &str, name: &str) {
        self.str(module);
        self.str(name);
        self.out.push(0x93);
    }

    #[inline(always)]
    fn tuple(&mut self, items: &[Value], depth: usize) -> R<()> {
        match items.len() {
            0 => self.out.push(b')'),
            n @ 1..=3 => {
                self.items(items, depth)?;
                self.out.push(0x85 + (n as u8 - 1));
            }
            _ => {
                self.out.push(b'(');
                self.items(items, depth)?;
                self.out.push(b't');
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn dict(&mut self, pairs: &[(Value, Value)], depth: usize) -> R<()> {
        if pairs.is_empty() {
            self.out.push(b'}');
        } else {
            if depth + 1 > MAX_DEPTH {
                return Err(too_deep());
            }
            self.out.extend_from_slice(b"}(");
            for (k, v) in pairs {
                if !self.scalar(k) {
                    self.container(k, depth + 1)?;
                }
                if !self.scalar(v) {
                    self.container(v, depth + 1)?;
                }
            }
            self.out.push(b'u');
        }
        Ok(())
    }

    /// `cls.__new__(cls)` then BUILD with `state`.
    fn newobj_build(&mut self, module: &str, name: &str, state: &Value, depth: usize) -> R<()> {
        self.global(module, name);
        self.out.extend_from_slice(&[b')', 0x81]);
        self.value(state, depth + 1)?;
        self.out.push(b'b');
        Ok(())
    }

    #[inline(never)]
    fn class(&mut self, c: &ClassDict, depth: usize) -> R<()> {
        let get = |key: &str| {
            c.fields
                .0
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v)
        };
        let unsupported = |what: &str| SerializeError::Unsupported {
            codec: CODEC,
            what: format!("{} {what}", c.class_name),
        };
        let name = c.class_name.as_str();
        let is_exception =
            matches!(get("__exception__"), Some(Value::Bool(true))) || is_known_exception(name);
        match name {
            "Pyro4.core.URI" | "Pyro4.core.Proxy" => {
                let state = match get("state") {
                    Some(Value::Tuple(t)) | Some(Value::List(t)) => t,
                    _ => return Err(Box::new(unsupported("without a state tuple"))),
                };
                if name == "Pyro4.core.URI" && state.len() != 5 {
                    return Err(Box::new(unsupported("state must have 5 items")));
                }
                let converted;
                let state = if name == "Pyro4.core.Proxy" {
                    converted = proxy_pickle_state(state).map_err(|e| unsupported(&e))?;
                    &converted
                } else {
                    state
                };
                let (module, cls) = name.rsplit_once('.').expect("literal has a dot");
                self.global(module, cls);
                self.out.extend_from_slice(&[b')', 0x81]);
                self.tuple(state, depth + 1)?;
                self.out.push(b'b');
            }
            "Pyro4.core.Daemon" => {
                self.newobj_build("Pyro4.core", "Daemon", &Value::Dict(Dict::default()), depth)?
            }
            "Pyro4.futures._ExceptionWrapper" => {
                let exc = get("exception").ok_or_else(|| unsupported("without 'exception'"))?;
                self.global("Pyro4.futures", "_ExceptionWrapper");
                self.out.extend_from_slice(&[b')', 0x81, b'}', 0x8c, 9]);
                self.out.extend_from_slice(b"exception");
                self.value(exc, depth + 2)?;
                self.out.extend_from_slice(b"sb");
            }
            _ if is_exception => {
                let (module, cls) = match name.rsplit_once('.') {
                    // Python 3 has no `exceptions` module.
                    Some(("exceptions", n)) => ("builtins", n),
                    Some((m, n)) if !m.is_empty() && !n.is_empty() => (m, n),
                    // A bare builtin exception name, as Pyro4's dict_to_class allows.
                    _ => ("builtins", name),
                };
                self.global(module, cls);
                match get("args") {
                    Some(Value::Tuple(a)) | Some(Value::List(a)) => self.tuple(a, depth + 1)?,
                    None | Some(Value::None) => self.out.push(b')'),
                    Some(_) => return Err(Box::new(unsupported("args must be a tuple or list"))),
                }
                self.out.push(b'R');
                match get("attributes") {
                    Some(Value::Dict(d)) if !d.0.is_empty() => {
                        self.dict(&d.0, depth + 1)?;
                        self.out.push(b'b');
                    }
                    Some(Value::Dict(_)) | None | Some(Value::None) => {}
                    Some(_) => return Err(Box::new(unsupported("attributes must be a dict"))),
                }
            }
            _ => {
                // Not a class Python can rebuild from a pickle we write: the
                // class-dict form, `__class__` first, as the other codecs send it.
                self.out.extend_from_slice(b"}(");
                self.str("__class__");
                self.str(name);
                for (k, v) in &c.fields.0 {
                    self.value(k, depth + 1)?;
                    self.value(v, depth + 1)?;
                }
                self.out.push(b'u');
            }
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn call(&mut self, call: &Call) -> R<()> {
        self.out.push(b'(');
        self.name(&call.object);
        self.name(&call.method);
        match &call.vargs {
            // The usual arguments, without a call through `value`.
            Value::Tuple(items) => self.tuple(items, 1)?,
            vargs => self.value(vargs, 1)?,
        }
        match &call.kwargs {
            Some(d) => self.dict(&d.0, 1)?,
            None => self.out.push(b'N'),
        }
        self.out.push(b't');
        Ok(())
    }
}

/// A proxy state as Python's `Proxy.__getstate__` gives it to pickle: the URI
/// as a `Pyro4.core.URI` object and the oneway/methods/attrs names as sets.
/// The class-dict form the other serializers use (and `Daemon::proxy_for`
/// builds) has the URI as text and the names as tuples; a Python peer that
/// unpickled that form would get a proxy whose `_pyroUri` is a str, which
/// fails as soon as it connects.
fn proxy_pickle_state(state: &[Value]) -> Result<Vec<Value>, String> {
    let mut out = state.to_vec();
    match out.first_mut() {
        Some(Value::Str(text)) => {
            let uri = crate::uri::Uri::parse(text)
                .map_err(|e| format!("state has an invalid uri {text:?}: {e}"))?;
            out[0] = uri.to_value();
        }
        // Python's Proxy.__setstate__ takes the URI object as it is.
        Some(Value::Class(c)) if c.class_name == "Pyro4.core.URI" => {}
        _ => return Err("state must start with the proxy's URI".into()),
    }
    for names in out.iter_mut().skip(1).take(3) {
        if let Value::Tuple(items) | Value::List(items) = names {
            *names = Value::Set(core::mem::take(items));
        }
    }
    // The dict form carries the HMAC key as `b64:<base64>`; pickle as bytes.
    if let Some(hmac) = out.get_mut(5) {
        if let Value::Str(text) = hmac {
            use base64::Engine;
            let key = text
                .strip_prefix("b64:")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .ok_or_else(|| String::from("hmac encoding error"))?;
            *hmac = Value::Bytes(key);
        }
    }
    Ok(out)
}
