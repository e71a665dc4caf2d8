//! The pickle codec (serializer id 4), restricted to a safe subset.
//!
//! Python's `pickle` can name any importable callable and run it while
//! loading, which is why Pyro4 daemons refuse it by default. This codec never
//! imports or calls anything: a small virtual machine (module `read`) interprets the
//! opcodes of protocols 0 to 5 and accepts only a whitelist of globals
//! (module `names`): built-in and `Pyro4.errors` exception classes,
//! `Pyro4.core.URI` / `Proxy` / `Daemon`, `Pyro4.futures._ExceptionWrapper`,
//! the helpers protocol 2 needs for bytes, sets and complex numbers, and
//! `copyreg._reconstructor(cls, object, None)` (how Pyro4's autoproxy
//! replacement pickles a Proxy). Python 2 module names in protocol 0-2
//! pickles are mapped as CPython does (`exceptions.ValueError` ->
//! `builtins.ValueError`). Any
//! other class is refused with [`SerializeError::UnknownClass`] (or
//! [`SerializeError::DunderClass`] for names containing `__`), as Pyro4's
//! other serializers refuse an unknown `__class__`.
//!
//! Instances come out as [`Value::Class`] in the same shape as the class-dict
//! form of the other serializers (protocol notes 5.6 and 5.8.6):
//! * exception: `builtins.ValueError` with fields `__exception__: True`,
//!   `args: tuple`, `attributes: dict` (the instance `__dict__`, including
//!   `_pyroTraceback` when present);
//! * `Pyro4.core.URI`: `state: (protocol, object, sockname, host, port)`;
//! * `Pyro4.core.Proxy`: `state: (uri, oneway, methods, attrs, timeout, hmac,
//!   handshake, max_retries, serializer)` in the class-dict form the other
//!   serializers carry (URI text, tuples of names, `b64:` hmac text), turned
//!   from and back into what Python pickles (URI object, sets, key bytes), so
//!   a proxy received in one format is re-sent in any other unchanged (a
//!   URI whose text Pyro4 could not parse back stays a `Pyro4.core.URI`
//!   value, so it is re-pickled as Python re-pickles it);
//! * `Pyro4.futures._ExceptionWrapper`: `exception: <exception>`;
//! * `Pyro4.core.Daemon`: `state: ()`.
//!
//! Types the [`Value`] model does not have are read as the text the other
//! serializers send for them: naive `datetime.datetime` / `datetime.date` as
//! ISO text, `uuid.UUID` and `decimal.Decimal` as their strings.
//!
//! Python semantics kept: memo references see later mutation (Python's
//! pickler memoizes containers before filling them), dict order, duplicate
//! dict keys as sent (Python's pickler never writes any). Refused: recursive
//! structures, unhashable keys, a second BUILD on one instance, out-of-band
//! buffers, persistent ids, extension codes, protocol 0/1 INST/OBJ. Bounded:
//! nesting ([`MAX_DEPTH`](crate::serialize::MAX_DEPTH)), memo expansion (a
//! copy budget proportional to the input), allocations (never sized by a
//! length the input has not delivered).
//!
//! `dumps` writes protocol 4 (readable by Python 3.4 and later), mapping the
//! class values above back to the Python objects; a class value of another
//! name goes out as its class dict (`__class__` first), as the other codecs
//! send it. The codec is hand-written
//! rather than built on `serde-pickle`, which has no model for class
//! instances (exceptions, URIs, proxies) and cannot keep tuple/list or
//! set/frozenset apart in all positions; `serde-pickle` serves as an
//! independent oracle in the tests instead.

use alloc::vec::Vec;

use crate::serialize::{Call, SerializeError};
use crate::value::{Dict, Value};

mod fast;
mod names;
mod read;
mod write;

const CODEC: &str = "pickle";

/// Encode one value as a protocol 4 pickle that Python's `pickle.loads`
/// turns into the equivalent Python object.
pub fn dumps(value: &Value) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_into(value, &mut out)?;
    Ok(out)
}

/// [`dumps`], appending the pickle to `out` (cut back to its length on
/// entry if the value cannot be written).
pub fn dumps_into(value: &Value, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    write::Writer::append(out, |w| w.value(value, 0))
}

/// Decode one pickle (any protocol CPython 3.11 writes, 0 to 5), refusing
/// every class outside the whitelist.
pub fn loads(data: &[u8]) -> Result<Value, SerializeError> {
    match fast::loads(data) {
        Some(v) => Ok(v),
        None => loads_general(data),
    }
}

/// The full machine (the only one that builds class values).
fn loads_general(data: &[u8]) -> Result<Value, SerializeError> {
    let mut v = read::Reader::new(data).run()?;
    dict_form_proxies(&mut v);
    Ok(v)
}

/// Give every `Pyro4.core.Proxy` in `v` the class-dict form of its state
/// (Pyro4's `__getstate_for_dict__`): URI as text, names as tuples, the
/// HMAC key as `b64:` text. Nesting is bounded by the reader's depth limit.
fn dict_form_proxies(v: &mut Value) {
    match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter_mut().for_each(dict_form_proxies)
        }
        Value::Dict(d) => d.0.iter_mut().for_each(|(_, v)| dict_form_proxies(v)),
        Value::Class(c) => {
            if c.class_name == "Pyro4.core.Proxy" {
                if let Some((_, Value::Tuple(state))) = c.fields.0.first_mut() {
                    proxy_dict_state(state);
                }
            }
            c.fields
                .0
                .iter_mut()
                .for_each(|(_, v)| dict_form_proxies(v));
        }
        _ => {}
    }
}

fn proxy_dict_state(state: &mut [Value]) {
    if let Some(first) = state.first_mut() {
        if let Ok(uri) = crate::uri::Uri::from_value(first) {
            // Python restores a URI from its pickled state without parsing
            // it, so a peer can send one whose text Pyro4's own parser would
            // refuse (e.g. a host with a colon). Such a URI stays an object:
            // as text it could not be pickled again, and Python re-pickles it.
            let text = alloc::string::ToString::to_string(&uri);
            if crate::uri::Uri::parse(&text).is_ok_and(|again| again == uri) {
                *first = Value::Str(text.into());
            }
        }
    }
    for names in state.iter_mut().skip(1).take(3) {
        if let Value::Set(items) | Value::FrozenSet(items) | Value::List(items) = names {
            *names = Value::Tuple(core::mem::take(items));
        }
    }
    if let Some(hmac) = state.get_mut(5) {
        if let Value::Bytes(key) = hmac {
            use base64::Engine;
            let text = base64::engine::general_purpose::STANDARD.encode(key);
            *hmac = Value::Str(alloc::format!("b64:{text}").into());
        }
    }
}

/// Encode a call tuple `(object, method, vargs, kwargs)` as Pyro4's
/// `PickleSerializer.dumpsCall` does (vargs as given, kwargs `None` when absent).
pub fn dumps_call(call: &Call) -> Result<Vec<u8>, SerializeError> {
    let mut out = Vec::new();
    dumps_call_into(call, &mut out)?;
    Ok(out)
}

/// [`dumps_call`], appending the pickle to `out` (cut back to its length on
/// entry if the call cannot be written).
#[inline]
pub fn dumps_call_into(call: &Call, out: &mut Vec<u8>) -> Result<(), SerializeError> {
    write::Writer::append(out, |w| w.call(call))
}

/// Decode a call tuple as Pyro4's `PickleSerializer.loadsCall` produces it.
pub fn loads_call(data: &[u8]) -> Result<Call, SerializeError> {
    match fast::read(data, true) {
        // The usual call: its four items, without building the tuple.
        Some(fast::Top::Call(items)) => call_from(items),
        Some(fast::Top::Value(v)) => call_from_value(v),
        None => call_from_value(loads_general(data)?),
    }
}

fn bad_call(what: &str) -> SerializeError {
    SerializeError::BadCall(alloc::format!("pickle call tuple: {what}"))
}

/// The call in a decoded value other than the fast path's call tuple.
#[cold]
fn call_from_value(v: Value) -> Result<Call, SerializeError> {
    match v {
        Value::Tuple(items) => call_from(
            <[Value; 4]>::try_from(items)
                .map_err(|_| bad_call("expected 4 items (object, method, vargs, kwargs)"))?,
        ),
        _ => Err(bad_call("not a tuple")),
    }
}

#[inline]
fn call_from([object, method, vargs, kwargs]: [Value; 4]) -> Result<Call, SerializeError> {
    let Value::Str(object) = object else {
        return Err(bad_call("object id is not a str"));
    };
    let Value::Str(method) = method else {
        return Err(bad_call("method name is not a str"));
    };
    if !matches!(vargs, Value::Tuple(_) | Value::List(_)) {
        return Err(bad_call("vargs is not a tuple or list"));
    }
    let kwargs: Option<Dict> = match kwargs {
        Value::Dict(d) => Some(d),
        Value::None => None,
        _ => return Err(bad_call("kwargs is not a dict or None")),
    };
    Ok(Call {
        object,
        method,
        vargs,
        kwargs,
    })
}

#[cfg(test)]
mod tests;
