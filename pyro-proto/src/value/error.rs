//! Exceptions as they cross the wire: what a daemon sends in an EXCEPTION
//! reply (and inside batch results), and what a client gets back.
//!
//! Pyro4 sends an exception as the class dict
//! `{'__class__': 'builtins.ValueError', '__exception__': True, 'args': (...),
//! 'attributes': {<vars(exc)>, '_pyroTraceback': [lines]}}` (pickle: the real
//! object, which the pickle codec reads into the same [`ClassDict`] shape).
//! [`RemoteError`] is that object in Rust form.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::serialize::SerializeError;
use crate::value::classes::{exception_args, PYRO_ERRORS};
use crate::value::repr::{py_repr, py_str};
use crate::value::{ClassDict, Dict, Value};

/// The attribute holding the remote traceback text.
const TRACEBACK_ATTR: &str = "_pyroTraceback";

/// An exception raised on the other side of a Pyro connection.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// Module-qualified class name, e.g. `builtins.ZeroDivisionError` or
    /// `Pyro4.errors.DaemonError` (bare names like `ValueError` are also
    /// accepted by Python receivers).
    pub class_name: String,
    /// The exception's `args`.
    pub args: Vec<Value>,
    /// `vars(exception)` without `_pyroTraceback`, in the order received.
    pub attributes: Dict,
    /// The remote traceback: Python's `"".join(exc._pyroTraceback)`. Sent as a
    /// list of lines (each ending in `\n`), as `traceback.format_exception` gives.
    pub traceback: Option<String>,
}

impl RemoteError {
    /// An exception of class `class_name` with the given args, no attributes
    /// and no traceback.
    pub fn new(class_name: impl Into<String>, args: Vec<Value>) -> RemoteError {
        RemoteError {
            class_name: class_name.into(),
            args,
            attributes: Dict::new(),
            traceback: None,
        }
    }

    /// A Python builtin exception, `builtins.<name>(message)`; use the names
    /// Python knows (`ValueError`, `AttributeError`, `StopIteration`, ...) or
    /// a Python client will refuse it.
    pub fn builtin(name: &str, message: impl Into<String>) -> RemoteError {
        RemoteError::new(
            format!("builtins.{name}"),
            alloc::vec![Value::Str(message.into().into())],
        )
    }

    /// A `Pyro4.errors.<name>(message)`.
    pub fn pyro(name: &str, message: impl Into<String>) -> RemoteError {
        RemoteError::new(
            format!("Pyro4.errors.{name}"),
            alloc::vec![Value::Str(message.into().into())],
        )
    }

    /// `Pyro4.errors.PyroError`: generic Pyro failure.
    pub fn pyro_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("PyroError", message)
    }

    /// `Pyro4.errors.DaemonError`, e.g. `unknown object`.
    pub fn daemon_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("DaemonError", message)
    }

    /// `Pyro4.errors.SecurityError`, e.g. for double-underscore class names.
    pub fn security_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("SecurityError", message)
    }

    /// `Pyro4.errors.SerializeError`, e.g. `unsupported serialized class: X`.
    pub fn serialize_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("SerializeError", message)
    }

    /// `Pyro4.errors.ProtocolError`.
    pub fn protocol_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("ProtocolError", message)
    }

    /// `Pyro4.errors.NamingError`, e.g. `unknown name: X`.
    pub fn naming_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("NamingError", message)
    }

    /// `Pyro4.errors.CommunicationError`.
    pub fn communication_error(message: impl Into<String>) -> RemoteError {
        RemoteError::pyro("CommunicationError", message)
    }

    /// `builtins.AttributeError`: what Pyro4 sends for a missing or private method.
    pub fn attribute_error(message: impl Into<String>) -> RemoteError {
        RemoteError::builtin("AttributeError", message)
    }

    /// The same error with a traceback text attached.
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> RemoteError {
        self.traceback = Some(traceback.into());
        self
    }

    /// A custom attribute of the exception (`getattr(exc, name)` for what
    /// `vars(exc)` carried), e.g. `errno` or an application field.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes.get_str(name)
    }

    /// The class name after the last dot (`ZeroDivisionError`).
    pub fn short_name(&self) -> &str {
        self.class_name
            .rsplit_once('.')
            .map_or(self.class_name.as_str(), |(_, n)| n)
    }

    /// True for the `Pyro4.errors` classes.
    pub fn is_pyro_error(&self) -> bool {
        self.class_name
            .strip_prefix("Pyro4.errors.")
            .is_some_and(|n| PYRO_ERRORS.contains(&n))
    }

    /// True for `Pyro4.errors.CommunicationError` and its subclasses (after
    /// which a Python proxy drops its connection).
    pub fn is_communication_error(&self) -> bool {
        matches!(
            self.class_name.strip_prefix("Pyro4.errors."),
            Some(
                "CommunicationError"
                    | "ConnectionClosedError"
                    | "TimeoutError"
                    | "ProtocolError"
                    | "MessageTooLargeError"
                    | "SerializeError"
            )
        )
    }

    /// Read an exception from its received form: a [`Value::Class`] (after
    /// [`recreate`](crate::value::recreate), or from pickle) or the raw dict
    /// with a `__class__` key.
    pub fn from_value(value: &Value) -> Result<RemoteError, SerializeError> {
        let (class_name, fields) = match value {
            Value::Class(c) => (c.class_name.as_str(), &c.fields),
            Value::Dict(d) => match d.get_str("__class__") {
                Some(Value::Str(name)) => (name.as_str(), d),
                _ => return Err(not_an_exception(value)),
            },
            _ => return Err(not_an_exception(value)),
        };
        let args = match fields.get_str("args") {
            Some(a) => exception_args(a).ok_or_else(|| {
                SerializeError::Conversion(format!(
                    "{class_name}: exception args must be a tuple, found {}",
                    a.type_name()
                ))
            })?,
            None => {
                return Err(SerializeError::Conversion(format!(
                    "{class_name}: exception without 'args'"
                )))
            }
        };
        let mut attributes = match fields.get_str("attributes") {
            Some(Value::Dict(d)) => d.clone(),
            None | Some(Value::None) => Dict::new(),
            Some(other) => {
                return Err(SerializeError::Conversion(format!(
                    "{class_name}: exception attributes must be a dict, found {}",
                    other.type_name()
                )))
            }
        };
        let traceback = match attributes.remove(&Value::from(TRACEBACK_ATTR)) {
            None | Some(Value::None) => None,
            Some(Value::Str(s)) => Some(s.into()),
            Some(v) => match v.as_seq() {
                Some(lines) => {
                    let mut text = String::new();
                    for line in lines {
                        match line {
                            Value::Str(s) => text.push_str(s),
                            other => {
                                return Err(SerializeError::Conversion(format!(
                                    "{class_name}: _pyroTraceback items must be str, found {}",
                                    other.type_name()
                                )))
                            }
                        }
                    }
                    Some(text)
                }
                None => {
                    return Err(SerializeError::Conversion(format!(
                        "{class_name}: _pyroTraceback must be a list of str, found {}",
                        v.type_name()
                    )))
                }
            },
        };
        Ok(RemoteError {
            class_name: class_name.to_string(),
            args,
            attributes,
            traceback,
        })
    }

    /// The class object Pyro4 sends: fields `__exception__`, `args` (a tuple)
    /// and `attributes` (custom attributes, then `_pyroTraceback` last as a
    /// list of lines, or `None` without a traceback), in that order. Every
    /// codec writes `__class__` first, giving Pyro4's exact key order.
    pub fn to_value(&self) -> Value {
        let mut attributes = self.attributes.clone();
        attributes.remove(&Value::from(TRACEBACK_ATTR));
        let tb = match &self.traceback {
            Some(t) => Value::List(t.split_inclusive('\n').map(Value::from).collect()),
            None => Value::None,
        };
        attributes.0.push((Value::from(TRACEBACK_ATTR), tb));
        let mut fields = Dict::with_capacity(3);
        fields
            .0
            .push((Value::from("__exception__"), Value::Bool(true)));
        fields
            .0
            .push((Value::from("args"), Value::Tuple(self.args.clone())));
        fields
            .0
            .push((Value::from("attributes"), Value::Dict(attributes)));
        Value::Class(Box::new(ClassDict {
            class_name: self.class_name.clone(),
            fields,
        }))
    }

    /// Python's `str(exc)`: empty for no args, `str(args[0])` for one
    /// (`repr` for `KeyError`), the tuple's repr otherwise, with
    /// [`py_repr`]'s rendering of values.
    pub fn message(&self) -> String {
        match self.args.as_slice() {
            [] => String::new(),
            [one] if self.short_name() == "KeyError" => py_repr(one),
            [one] => py_str(one),
            many => py_repr(&Value::Tuple(many.to_vec())),
        }
    }
}

impl From<&SerializeError> for RemoteError {
    /// The exception a Pyro4 daemon would send for a payload it could not
    /// decode or encode: `SecurityError` for double-underscore class names,
    /// `ProtocolError` for a Proxy's bad hmac encoding, `SerializeError`
    /// (Python's text, e.g. `unsupported serialized class: X`) otherwise.
    fn from(e: &SerializeError) -> RemoteError {
        match e {
            SerializeError::DunderClass(_) => RemoteError::security_error(e.to_string()),
            SerializeError::Conversion(m) if m == "hmac encoding error" => {
                RemoteError::protocol_error(m.clone())
            }
            _ => RemoteError::serialize_error(e.to_string()),
        }
    }
}

fn not_an_exception(v: &Value) -> SerializeError {
    SerializeError::Conversion(format!(
        "expected an exception class object, found {}",
        v.type_name()
    ))
}

impl fmt::Display for RemoteError {
    /// The last line of a Python traceback: `ZeroDivisionError: division by
    /// zero`; builtins lose their module prefix, others keep it
    /// (`Pyro4.errors.NamingError: unknown name: x`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .class_name
            .strip_prefix("builtins.")
            .unwrap_or(&self.class_name);
        let msg = self.message();
        if msg.is_empty() {
            f.write_str(name)
        } else {
            write!(f, "{name}: {msg}")
        }
    }
}

impl core::error::Error for RemoteError {}

/// One failed entry of a batch result (`Pyro4.futures._ExceptionWrapper`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionWrapper {
    /// The exception the batched call raised.
    pub exception: RemoteError,
}

/// The wrapper's class name on the wire.
pub const EXCEPTION_WRAPPER_CLASS: &str = "Pyro4.futures._ExceptionWrapper";

impl ExceptionWrapper {
    /// True when `value` is a wrapper class object.
    pub fn is_wrapper(value: &Value) -> bool {
        matches!(value, Value::Class(c) if c.class_name == EXCEPTION_WRAPPER_CLASS)
    }

    /// Read a wrapper class object.
    pub fn from_value(value: &Value) -> Result<ExceptionWrapper, SerializeError> {
        match value {
            Value::Class(c) if c.class_name == EXCEPTION_WRAPPER_CLASS => {
                let ex = c.fields.get_str("exception").ok_or_else(|| {
                    SerializeError::Conversion(
                        "_ExceptionWrapper without an 'exception' entry".to_string(),
                    )
                })?;
                Ok(ExceptionWrapper {
                    exception: RemoteError::from_value(ex)?,
                })
            }
            other => Err(SerializeError::Conversion(format!(
                "expected {EXCEPTION_WRAPPER_CLASS}, found {}",
                other.type_name()
            ))),
        }
    }

    /// `{'__class__': 'Pyro4.futures._ExceptionWrapper', 'exception': <exception>}`.
    pub fn to_value(&self) -> Value {
        let mut fields = Dict::with_capacity(1);
        fields
            .0
            .push((Value::from("exception"), self.exception.to_value()));
        Value::Class(Box::new(ClassDict {
            class_name: EXCEPTION_WRAPPER_CLASS.to_string(),
            fields,
        }))
    }

    /// Split a batch reply (a list of results) into per-call outcomes, as the
    /// Python client's result generator does: results in order, and the
    /// first wrapper becomes an `Err` after which nothing more is returned.
    pub fn unwrap_batch(reply: Value) -> Result<Vec<Result<Value, RemoteError>>, SerializeError> {
        let items = match reply {
            Value::List(v) | Value::Tuple(v) => v,
            other => {
                return Err(SerializeError::Conversion(format!(
                    "a batch reply must be a list, found {}",
                    other.type_name()
                )))
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if ExceptionWrapper::is_wrapper(&item) {
                out.push(Err(ExceptionWrapper::from_value(&item)?.exception));
                break;
            }
            out.push(Ok(item));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serialize::SerializerId;
    use alloc::vec;

    fn captured() -> Value {
        // The serpent_exception.txt reply, as the classes layer hands it over.
        let attrs: Dict = [(
            "_pyroTraceback",
            Value::list([
                "Traceback (most recent call last):\n",
                "  File \"/srv/capture/vectorsvc.py\", line 30, in divide\n    return a // b\n",
                "ZeroDivisionError: integer division or modulo by zero\n",
            ]),
        )]
        .into_iter()
        .collect();
        let raw: Dict = [
            ("__class__", Value::from("builtins.ZeroDivisionError")),
            ("__exception__", Value::Bool(true)),
            ("args", Value::tuple(["integer division or modulo by zero"])),
            ("attributes", Value::Dict(attrs)),
        ]
        .into_iter()
        .collect();
        crate::value::recreate(Value::Dict(raw), SerializerId::Serpent, None).unwrap()
    }

    #[test]
    fn reads_the_captured_exception() {
        let e = RemoteError::from_value(&captured()).unwrap();
        assert_eq!(e.class_name, "builtins.ZeroDivisionError");
        assert_eq!(e.short_name(), "ZeroDivisionError");
        assert_eq!(
            e.to_string(),
            "ZeroDivisionError: integer division or modulo by zero"
        );
        assert!(e.attributes.is_empty());
        let tb = e.traceback.as_deref().unwrap();
        assert!(tb.starts_with("Traceback (most recent call last):\n"));
        assert!(tb.ends_with("modulo by zero\n"));
        // Written back in the same shape; the traceback list is re-split at
        // line ends, which Python's "".join() reads as the same text.
        let back = e.to_value();
        let Value::Class(c) = &back else { panic!() };
        let Value::Class(orig) = captured() else {
            panic!()
        };
        assert_eq!(c.class_name, orig.class_name);
        assert!(c
            .fields
            .get_str("args")
            .unwrap()
            .bits_eq(orig.fields.get_str("args").unwrap()));
        let lines = c
            .fields
            .get_str("attributes")
            .unwrap()
            .as_dict()
            .unwrap()
            .get_str("_pyroTraceback")
            .unwrap();
        assert_eq!(lines.as_seq().unwrap().len(), 4);
        assert_eq!(RemoteError::from_value(&back).unwrap(), e);
    }

    #[test]
    fn key_order_and_custom_attributes() {
        let mut e = RemoteError::new(
            "vectorsvc.MyError",
            vec!["custom failure".into(), 42.into()],
        )
        .with_traceback("line 1\nline 2\n");
        e.attributes.insert("extra", "extra-attr");
        let Value::Class(c) = e.to_value() else {
            panic!()
        };
        let keys: Vec<_> = c.fields.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["__exception__", "args", "attributes"]);
        let dict = c.to_dict();
        assert_eq!(dict.keys().next().unwrap().as_str(), Some("__class__"));
        assert_eq!(e.attribute("extra"), Some(&Value::from("extra-attr")));
        let attrs = c.fields.get_str("attributes").unwrap().as_dict().unwrap();
        let akeys: Vec<_> = attrs.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(akeys, ["extra", "_pyroTraceback"]);
        assert!(attrs
            .get_str("_pyroTraceback")
            .unwrap()
            .bits_eq(&Value::list(["line 1\n", "line 2\n"])));
        assert_eq!(e.to_string(), "vectorsvc.MyError: ('custom failure', 42)");
    }

    #[test]
    fn messages_like_python() {
        let m = |name: &str, args: Vec<Value>| RemoteError::new(name, args).to_string();
        assert_eq!(m("builtins.ValueError", vec![]), "ValueError");
        assert_eq!(m("builtins.KeyError", vec!["x".into()]), "KeyError: 'x'");
        assert_eq!(
            m("builtins.ValueError", vec![1.5.into()]),
            "ValueError: 1.5"
        );
        assert_eq!(
            m(
                "builtins.ValueError",
                vec!["it's".into(), Value::None, Value::tuple([1])]
            ),
            "ValueError: (\"it's\", None, (1,))"
        );
        assert_eq!(
            m(
                "builtins.ValueError",
                vec![
                    Value::bytes(*b"a\x00'"),
                    "\u{7}é\n".into(),
                    Value::tuple(Vec::<Value>::new())
                ]
            ),
            "ValueError: (b\"a\\x00'\", '\\x07é\\n', ())"
        );
        assert_eq!(
            RemoteError::daemon_error("unknown object").to_string(),
            "Pyro4.errors.DaemonError: unknown object"
        );
    }

    #[test]
    fn helpers_classify() {
        assert!(RemoteError::serialize_error("x").is_communication_error());
        assert!(RemoteError::security_error("x").is_pyro_error());
        assert!(!RemoteError::security_error("x").is_communication_error());
        assert!(!RemoteError::attribute_error("x").is_pyro_error());
        assert_eq!(
            RemoteError::attribute_error("x").class_name,
            "builtins.AttributeError"
        );
    }

    #[test]
    fn from_serialize_errors() {
        let e = RemoteError::from(&SerializeError::UnknownClass("app.X".into()));
        assert_eq!(
            e.to_string(),
            "Pyro4.errors.SerializeError: unsupported serialized class: app.X"
        );
        let e = RemoteError::from(&SerializeError::DunderClass("__main__.X".into()));
        assert_eq!(e.class_name, "Pyro4.errors.SecurityError");
        assert_eq!(
            e.message(),
            "refused to deserialize types with double underscores in their name: __main__.X"
        );
        let e = RemoteError::from(&SerializeError::Conversion("hmac encoding error".into()));
        assert_eq!(
            e.to_string(),
            "Pyro4.errors.ProtocolError: hmac encoding error"
        );
    }

    #[test]
    fn rejects_non_exceptions() {
        assert!(RemoteError::from_value(&Value::Int(3)).is_err());
        let c = Value::Class(Box::new(ClassDict::new("Pyro4.core.URI")));
        let err = RemoteError::from_value(&c).unwrap_err();
        assert!(err.to_string().contains("without 'args'"), "{err}");
    }

    #[test]
    fn batch_results() {
        let wrapped = ExceptionWrapper {
            exception: RemoteError::builtin("ZeroDivisionError", "division by zero"),
        };
        let reply = Value::list([42.into(), "hi".into(), wrapped.to_value(), 12.into()]);
        let out = ExceptionWrapper::unwrap_batch(reply).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Ok(Value::Int(42)));
        assert_eq!(out[2].as_ref().unwrap_err(), &wrapped.exception);
        assert_eq!(
            ExceptionWrapper::from_value(&wrapped.to_value()).unwrap(),
            wrapped
        );
        assert!(ExceptionWrapper::unwrap_batch(Value::None).is_err());
    }
}
