//! Rust servants mirroring the objects of Pyro4 4.82's own test suite, so
//! that `tests/python/pyro4_suite.py` can run that suite's proxy-side tests
//! against a Rust daemon (`tests/tests/pyro4_suite.rs`).
//!
//! * [`server_test_object`] mirrors `test_server.ServerTestObject`: the same
//!   exposed methods, oneway methods, properties and generators, with the
//!   results and exception types the Python object gives.
//! * [`not_everything_exposed`] mirrors `test_server.NotEverythingExposedClass`
//!   (with Pyro4's default `REQUIRE_EXPOSE`: only `getName` is exposed).
//! * [`control`] is the runner's remote control: each Python test's `setUp`
//!   asks it for a fresh object, as each Pyro4 test starts a fresh daemon
//!   with a fresh object, and `tearDown` releases it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pyro_proto::message::AnnotationId;
use pyro_proto::naming::{NameRegistry, NameServer};
use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Args, CallContext, Reply, Servant};
use pyro_proto::session::server::SERIALIZED_BLOB_CLASS;
use pyro_proto::session::Metadata;
use pyro_proto::value::{Dict, RemoteError, Value};

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|n| n.to_string()).collect();
    v.sort();
    v
}

/// Python's `TypeError` for a call with the wrong number of positional
/// arguments (`f() takes 3 positional arguments but 2 were given`, counting
/// `self` as Python does).
fn arity(method: &str, args: &Args, wanted: usize) -> Result<(), RemoteError> {
    if !args.kwargs.is_empty() {
        return Err(RemoteError::builtin(
            "TypeError",
            format!("{method}() got an unexpected keyword argument"),
        ));
    }
    if args.vargs.len() == wanted {
        Ok(())
    } else {
        Err(RemoteError::builtin(
            "TypeError",
            format!(
                "{method}() takes {} positional arguments but {} were given",
                wanted + 1,
                args.vargs.len() + 1
            ),
        ))
    }
}

fn unsupported(op: &str, a: &Value, b: &Value) -> RemoteError {
    RemoteError::builtin(
        "TypeError",
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ),
    )
}

/// Python's `x * y` for the operand types the suite uses: numbers, and a
/// str or list repeated an int number of times.
pub fn py_multiply(x: &Value, y: &Value) -> Result<Value, RemoteError> {
    fn repeat(seq: &Value, n: i64) -> Option<Value> {
        let n = usize::try_from(n).unwrap_or(0);
        match seq {
            Value::Str(t) => Some(Value::Str(t.repeat(n))),
            Value::List(items) => Some(Value::List(
                (0..n).flat_map(|_| items.iter().cloned()).collect(),
            )),
            _ => None,
        }
    }
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => a
            .checked_mul(*b)
            .map(Value::Int)
            .ok_or_else(|| RemoteError::builtin("OverflowError", "int too large for this servant")),
        (Value::Float(_) | Value::Int(_), Value::Float(_) | Value::Int(_)) => {
            Ok(Value::Float(x.as_f64().unwrap() * y.as_f64().unwrap()))
        }
        (seq, Value::Int(n)) | (Value::Int(n), seq) => repeat(seq, *n).ok_or_else(|| {
            RemoteError::builtin(
                "TypeError",
                format!(
                    "can't multiply sequence by non-int of type '{}'",
                    Value::Int(*n).type_name()
                ),
            )
        }),
        (Value::Str(_) | Value::List(_), other) | (other, Value::Str(_) | Value::List(_)) => {
            Err(RemoteError::builtin(
                "TypeError",
                format!(
                    "can't multiply sequence by non-int of type '{}'",
                    other.type_name()
                ),
            ))
        }
        _ => Err(unsupported("*", x, y)),
    }
}

/// Python's `x // y` for ints and floats, with its `ZeroDivisionError`s.
pub fn py_floordiv(x: &Value, y: &Value) -> Result<Value, RemoteError> {
    match (x, y) {
        (Value::Int(_), Value::Int(0)) => Err(RemoteError::builtin(
            "ZeroDivisionError",
            "integer division or modulo by zero",
        )),
        (Value::Int(a), Value::Int(b)) => a
            .checked_div_euclid(*b)
            .map(|q| Value::Int(q - i64::from(a.rem_euclid(*b) != 0 && *b < 0)))
            .ok_or_else(|| RemoteError::builtin("OverflowError", "int too large for this servant")),
        (Value::Float(_) | Value::Int(_), Value::Float(_) | Value::Int(_)) => {
            let (a, b) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if b == 0.0 {
                Err(RemoteError::builtin(
                    "ZeroDivisionError",
                    "float floor division by zero",
                ))
            } else {
                Ok(Value::Float((a / b).floor()))
            }
        }
        _ => Err(unsupported("//", x, y)),
    }
}

/// Python's `str(x)` for the simple values the suite passes as ids.
fn py_str(v: &Value) -> String {
    match v {
        Value::Str(t) => t.to_string(),
        Value::Int(i) => i.to_string(),
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        other => format!("{other:?}"),
    }
}

fn seconds(v: &Value) -> Result<f64, RemoteError> {
    v.as_f64()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| RemoteError::builtin("TypeError", "a delay must be a number of seconds"))
}

/// `return blob.info, blob.deserialized()` for the `SerializedBlob` the
/// daemon passes for a `KEEPSERIALIZED` call: `deserialized()` decodes the
/// kept payload with the request's serializer and takes its vargs slot.
fn blob_info_and_data(blob: &Value) -> Result<Value, RemoteError> {
    let not_blob = || {
        RemoteError::builtin(
            "AttributeError",
            format!("'{}' object has no attribute 'info'", blob.type_name()),
        )
    };
    let blob = blob
        .as_class()
        .filter(|c| c.class_name == SERIALIZED_BLOB_CLASS)
        .ok_or_else(not_blob)?;
    let field = |name: &str| blob.fields.get_str(name).ok_or_else(not_blob);
    let serializer = field("serializer")?
        .as_i64()
        .and_then(|id| u16::try_from(id).ok())
        .and_then(|id| SerializerId::from_id(id).ok())
        .ok_or_else(not_blob)?;
    let data = field("data")?.as_bytes().ok_or_else(not_blob)?;
    let call = serializer
        .loads_call(data)
        .map_err(|e| RemoteError::serialize_error(e.to_string()))?;
    Ok(Value::Tuple(vec![field("info")?.clone(), call.vargs]))
}

/// `test_server.ServerTestObject`'s state.
struct ServerTestObject {
    /// `self._dictionary`, also the `dictionary` property.
    dictionary: Dict,
    /// `self._value`, the `value` property.
    value: Mutex<Value>,
}

/// A fresh `test_server.ServerTestObject` (see the module docs).
pub fn server_test_object() -> Arc<dyn Servant> {
    let mut dictionary = Dict::new();
    dictionary.insert("number", Value::Int(42));
    Arc::new(ServerTestObject {
        dictionary,
        value: Mutex::new(Value::Int(12345)),
    })
}

impl ServerTestObject {
    /// What `new_test_object` returns: the object as serpent would send a
    /// plain Python object (`class_to_dict`: its class and `vars()`).
    fn as_class_dict() -> Value {
        let mut d = Dict::new();
        d.insert("__class__", s("test_server.ServerTestObject"));
        let mut dictionary = Dict::new();
        dictionary.insert("number", Value::Int(42));
        d.insert("_dictionary", Value::Dict(dictionary));
        let mut attr = Dict::new();
        attr.insert("number2", Value::Int(43));
        d.insert("dict_attr", Value::Dict(attr));
        d.insert("_value", Value::Int(12345));
        Value::Dict(d)
    }

    fn response_annotation(ctx: &mut CallContext) -> Result<Value, RemoteError> {
        let xyzz = AnnotationId::new("XYZZ").expect("a valid id");
        let Some(data) = ctx.annotations.get(xyzz) else {
            return Err(RemoteError::builtin(
                "ValueError",
                "XYZZ should be present in annotations in the daemon",
            ));
        };
        if data.as_ref() != b"data from proxy via new api" {
            return Err(RemoteError::builtin(
                "ValueError",
                "XYZZ annotation has wrong data",
            ));
        }
        ctx.response_annotations.insert(
            AnnotationId::new("ANN2").expect("a valid id"),
            b"daemon annotation via new api".to_vec(),
        );
        let mut received = Dict::new();
        for (id, data) in ctx.annotations.iter() {
            received.insert(id.as_str(), Value::bytes(data.to_vec()));
        }
        let mut reply = Dict::new();
        reply.insert("annotations_in_daemon", Value::Dict(received));
        Ok(Value::Dict(reply))
    }
}

impl Servant for ServerTestObject {
    fn class_name(&self) -> &str {
        "ServerTestObject"
    }

    fn metadata(&self) -> Metadata {
        Metadata {
            methods: names(&[
                "getDict",
                "getDictAttr",
                "multiply",
                "divide",
                "ping",
                "echo",
                "blob",
                "oneway_delay",
                "delay",
                "delayAndId",
                "testargs",
                "nonserializableException",
                "oneway_multiply",
                "iterator",
                "generator",
                "response_annotation",
                "new_test_object",
            ]),
            oneway: names(&["oneway_delay", "oneway_multiply"]),
            attrs: names(&["value", "dictionary"]),
        }
    }

    fn invoke(
        &self,
        ctx: &mut CallContext,
        method: &str,
        args: Args,
    ) -> Result<Reply, RemoteError> {
        let value = match method {
            "getDict" => {
                arity(method, &args, 0)?;
                Value::Dict(self.dictionary.clone())
            }
            "getDictAttr" => {
                arity(method, &args, 0)?;
                let mut d = Dict::new();
                d.insert("number2", Value::Int(43));
                Value::Dict(d)
            }
            "multiply" | "oneway_multiply" => {
                arity(method, &args, 2)?;
                py_multiply(&args.vargs[0], &args.vargs[1])?
            }
            "divide" => {
                arity(method, &args, 2)?;
                py_floordiv(&args.vargs[0], &args.vargs[1])?
            }
            "ping" => {
                arity(method, &args, 0)?;
                Value::None
            }
            "echo" => {
                arity(method, &args, 1)?;
                args.vargs.into_iter().next().unwrap()
            }
            "blob" => {
                arity(method, &args, 1)?;
                blob_info_and_data(&args.vargs[0])?
            }
            "oneway_delay" => {
                arity(method, &args, 1)?;
                thread::sleep(Duration::from_secs_f64(seconds(&args.vargs[0])?));
                Value::None
            }
            "delay" => {
                arity(method, &args, 1)?;
                let secs = seconds(&args.vargs[0])?;
                thread::sleep(Duration::from_secs_f64(secs));
                // "slept %d seconds" % delay: %d truncates a float.
                Value::Str(format!("slept {} seconds", secs.trunc() as i64).into())
            }
            "delayAndId" => {
                arity(method, &args, 2)?;
                thread::sleep(Duration::from_secs_f64(seconds(&args.vargs[0])?));
                Value::Str(format!("slept for {}", py_str(&args.vargs[1])).into())
            }
            "testargs" => {
                // def testargs(self, x, *args, **kwargs): return [x, list(args), kwargs]
                let mut vargs = args.vargs.into_iter();
                let Some(x) = vargs.next() else {
                    return Err(RemoteError::builtin(
                        "TypeError",
                        "testargs() missing 1 required positional argument: 'x'",
                    ));
                };
                Value::List(vec![
                    x,
                    Value::List(vargs.collect()),
                    Value::Dict(args.kwargs),
                ])
            }
            "nonserializableException" => {
                // What Pyro4's daemon answers when the exception itself
                // cannot be serialized (core.Daemon._handleRequest).
                return Err(RemoteError::pyro_error(
                    "Error serializing exception: unsupported serialized class: \
                     testsupport.NonserializableError. Original exception: \
                     <class 'testsupport.NonserializableError'>: ('xantippe', <function>)",
                ));
            }
            "iterator" => {
                arity(method, &args, 0)?;
                let items = ["one", "two", "three"].map(|t| Ok(s(t)));
                return Ok(Reply::Stream(Box::new(items.into_iter())));
            }
            "generator" => {
                arity(method, &args, 0)?;
                let items = ["one", "two", "three", "four", "five"].map(|t| Ok(s(t)));
                return Ok(Reply::Stream(Box::new(items.into_iter())));
            }
            "response_annotation" => {
                arity(method, &args, 0)?;
                Self::response_annotation(ctx)?
            }
            "new_test_object" => {
                arity(method, &args, 0)?;
                Self::as_class_dict()
            }
            _ => {
                return Err(RemoteError::attribute_error(format!(
                    "'ServerTestObject' object has no attribute '{method}'"
                )))
            }
        };
        Ok(Reply::Value(value))
    }

    fn get_attr(&self, _ctx: &mut CallContext, name: &str) -> Result<Value, RemoteError> {
        match name {
            "value" => Ok(self.value.lock().unwrap().clone()),
            "dictionary" => Ok(Value::Dict(self.dictionary.clone())),
            _ => Err(RemoteError::attribute_error(format!(
                "attempt to access unexposed or unknown remote attribute '{name}'"
            ))),
        }
    }

    fn set_attr(
        &self,
        _ctx: &mut CallContext,
        name: &str,
        value: Value,
    ) -> Result<(), RemoteError> {
        match name {
            "value" => {
                *self.value.lock().unwrap() = value;
                Ok(())
            }
            "dictionary" => Err(RemoteError::attribute_error("can't set attribute")),
            _ => Err(RemoteError::attribute_error(format!(
                "attempt to access unexposed or unknown remote attribute '{name}'"
            ))),
        }
    }
}

/// `test_server.NotEverythingExposedClass(name)`: `getName` is exposed,
/// `unexposed` is not (Pyro4's default `REQUIRE_EXPOSE`), so it is neither
/// in the metadata nor callable.
pub fn not_everything_exposed(name: &str) -> Arc<dyn Servant> {
    let name = name.to_string();
    pyro_proto::servant::ServantBuilder::new("NotEverythingExposedClass")
        .method("getName", move |()| Ok(name.clone()))
        .build()
}

/// Registers a servant in the daemon under a fresh id and returns its URI
/// text; the Rust test supplies it (the daemon handle lives in the adapter).
pub type RegisterFn = dyn Fn(Arc<dyn Servant>, &str) -> Result<String, String> + Send + Sync;
/// Unregisters the object with this id.
pub type UnregisterFn = dyn Fn(&str) + Send + Sync;

/// The id the runner finds [`control`] under.
pub const CONTROL: &str = "pyro4suite.control";

/// The runner's remote control: `fresh(kind)` registers a new object of
/// `kind` (`server` = [`server_test_object`], `unexposed` =
/// [`not_everything_exposed`]`("hello")`, `nameserver` = a Pyro4
/// `NameServer` with empty storage, as test_naming2's offline tests build
/// one) and returns its URI; `release(uri)` unregisters it; `fresh_count()`
/// says how many objects were handed out, so the Rust test can check that
/// the tests really ran against this daemon.
pub fn control(register: Box<RegisterFn>, unregister: Box<UnregisterFn>) -> Arc<dyn Servant> {
    let counter = Arc::new(AtomicU64::new(0));
    let handed = counter.clone();
    pyro_proto::servant::ServantBuilder::new("SuiteControl")
        .method("fresh", move |(kind,): (String,)| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let servant: Arc<dyn Servant> = match kind.as_str() {
                "server" => server_test_object(),
                "unexposed" => not_everything_exposed("hello"),
                "nameserver" => Arc::new(NameServer::with_registry(NameRegistry::new())),
                other => {
                    return Err(RemoteError::builtin(
                        "ValueError",
                        format!("unknown kind of object: {other}"),
                    ))
                }
            };
            register(servant, &format!("suite.{kind}.{n}"))
                .map_err(|e| RemoteError::builtin("RuntimeError", e))
        })
        .method("release", move |(uri,): (String,)| {
            let id = uri
                .strip_prefix("PYRO:")
                .and_then(|rest| rest.split('@').next())
                .ok_or_else(|| RemoteError::builtin("ValueError", format!("not a URI: {uri}")))?;
            unregister(id);
            Ok(())
        })
        .method("fresh_count", move |()| Ok(handed.load(Ordering::SeqCst)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiply_and_floordiv_follow_python() {
        assert_eq!(
            py_multiply(&Value::Int(7), &Value::Int(6)).unwrap(),
            Value::Int(42)
        );
        assert_eq!(py_multiply(&s("*"), &Value::Int(3)).unwrap(), s("***"));
        let e = py_multiply(&s("a"), &s("b")).unwrap_err();
        assert_eq!(e.class_name, "builtins.TypeError");
        assert_eq!(
            e.message(),
            "can't multiply sequence by non-int of type 'str'"
        );
        assert_eq!(
            py_floordiv(&Value::Int(999), &Value::Int(3)).unwrap(),
            Value::Int(333)
        );
        assert_eq!(
            py_floordiv(&Value::Int(-7), &Value::Int(2)).unwrap(),
            Value::Int(-4)
        );
        assert_eq!(
            py_floordiv(&Value::Int(7), &Value::Int(-2)).unwrap(),
            Value::Int(-4)
        );
        assert_eq!(
            py_floordiv(&Value::Int(-7), &Value::Int(-2)).unwrap(),
            Value::Int(3)
        );
        let e = py_floordiv(&Value::Int(1), &Value::Int(0)).unwrap_err();
        assert_eq!(e.class_name, "builtins.ZeroDivisionError");
    }

    #[test]
    fn server_test_object_metadata_is_pyro4s() {
        let m = server_test_object().metadata();
        assert_eq!(m.methods.len(), 17);
        assert_eq!(m.oneway, ["oneway_delay", "oneway_multiply"]);
        assert_eq!(m.attrs, ["dictionary", "value"]);
    }
}
