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
use pyro_proto::servant::{CallContext, Reply, Servant, ServantBuilder};
use pyro_proto::session::server::SERIALIZED_BLOB_CLASS;
use pyro_proto::value::{Dict, RemoteError, Value};

fn s(text: &str) -> Value {
    Value::Str(text.into())
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

/// `self._dictionary` of a fresh `ServerTestObject`, also its `dictionary`
/// property.
fn dictionary() -> Value {
    let mut d = Dict::new();
    d.insert("number", Value::Int(42));
    Value::Dict(d)
}

/// `self.dict_attr` of a fresh `ServerTestObject` (not exposed as an attribute).
fn dict_attr() -> Value {
    let mut d = Dict::new();
    d.insert("number2", Value::Int(43));
    Value::Dict(d)
}

/// What `new_test_object` returns: the object as serpent sends a plain
/// Python object (`class_to_dict`: its class and `vars()`).
fn server_test_object_as_dict() -> Value {
    let mut d = Dict::new();
    d.insert("__class__", s("test_server.ServerTestObject"));
    d.insert("_dictionary", dictionary());
    d.insert("dict_attr", dict_attr());
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

/// A fresh `test_server.ServerTestObject` (see the module docs), built with
/// [`ServantBuilder`] as an application would build it.
pub fn server_test_object() -> Arc<dyn Servant> {
    let value = Arc::new(Mutex::new(Value::Int(12345)));
    let (get, set) = (value.clone(), value);
    ServantBuilder::new("ServerTestObject")
        .method("getDict", |()| Ok(dictionary()))
        .method("getDictAttr", |()| Ok(dict_attr()))
        .method("multiply", |(x, y): (Value, Value)| py_multiply(&x, &y))
        .method("divide", |(x, y): (Value, Value)| py_floordiv(&x, &y))
        .method("ping", |()| Ok(()))
        .method("echo", |(obj,): (Value,)| Ok(obj))
        .method("blob", |(blob,): (Value,)| blob_info_and_data(&blob))
        .oneway("oneway_delay", |(delay,): (Value,)| {
            thread::sleep(Duration::from_secs_f64(seconds(&delay)?));
            Ok(())
        })
        .method("delay", |(delay,): (Value,)| {
            let secs = seconds(&delay)?;
            thread::sleep(Duration::from_secs_f64(secs));
            // "slept %d seconds" % delay: %d truncates a float.
            Ok(format!("slept {} seconds", secs.trunc() as i64))
        })
        .method("delayAndId", |(delay, id): (Value, Value)| {
            thread::sleep(Duration::from_secs_f64(seconds(&delay)?));
            Ok(format!("slept for {}", py_str(&id)))
        })
        .raw_method("testargs", |_ctx, args| {
            // def testargs(self, x, *args, **kwargs): return [x, list(args), kwargs]
            let mut vargs = args.vargs.into_iter();
            let Some(x) = vargs.next() else {
                return Err(RemoteError::builtin(
                    "TypeError",
                    "testargs() missing 1 required positional argument: 'x'",
                ));
            };
            Ok(Reply::Value(Value::List(vec![
                x,
                Value::List(vargs.collect()),
                Value::Dict(args.kwargs),
            ])))
        })
        .method(
            "nonserializableException",
            |()| -> Result<(), RemoteError> {
                // What Pyro4's daemon answers when the exception itself cannot
                // be serialized (core.Daemon._handleRequest).
                Err(RemoteError::pyro_error(
                    "Error serializing exception: unsupported serialized class: \
                 testsupport.NonserializableError",
                ))
            },
        )
        // @oneway, but called without the ONEWAY flag it returns x * y.
        .oneway("oneway_multiply", |(x, y): (Value, Value)| {
            py_multiply(&x, &y)
        })
        .generator("iterator", |()| Ok(["one", "two", "three"]))
        .generator("generator", |()| {
            Ok(["one", "two", "three", "four", "five"])
        })
        .method_with_context("response_annotation", |ctx, ()| response_annotation(ctx))
        .method("new_test_object", |()| Ok(server_test_object_as_dict()))
        .attr_rw(
            "value",
            move || get.lock().unwrap().clone(),
            move |v: Value| {
                *set.lock().unwrap() = v;
                Ok(())
            },
        )
        .attr("dictionary", dictionary)
        .build()
}

/// `test_server.NotEverythingExposedClass(name)`: `getName` is exposed,
/// `unexposed` is not (Pyro4's default `REQUIRE_EXPOSE`), so it is neither
/// in the metadata nor callable.
pub fn not_everything_exposed(name: &str) -> Arc<dyn Servant> {
    let name = name.to_string();
    ServantBuilder::new("NotEverythingExposedClass")
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
    ServantBuilder::new("SuiteControl")
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
        // test_server.py testProxyMetadata's sets.
        let mut methods = vec![
            "echo",
            "getDict",
            "divide",
            "nonserializableException",
            "ping",
            "oneway_delay",
            "delayAndId",
            "delay",
            "testargs",
            "multiply",
            "oneway_multiply",
            "getDictAttr",
            "iterator",
            "generator",
            "response_annotation",
            "blob",
            "new_test_object",
        ];
        methods.sort();
        assert_eq!(m.methods, methods);
        assert_eq!(m.oneway, ["oneway_delay", "oneway_multiply"]);
        assert_eq!(m.attrs, ["dictionary", "value"]);
    }

    #[test]
    fn control_hands_out_fresh_objects_and_releases_them() {
        let registered = Arc::new(Mutex::new(Vec::<String>::new()));
        let (r1, r2) = (registered.clone(), registered.clone());
        let c = control(
            Box::new(move |servant, id| {
                r1.lock()
                    .unwrap()
                    .push(format!("{id}:{}", servant.class_name()));
                Ok(format!("PYRO:{id}@localhost:1"))
            }),
            Box::new(move |id| r2.lock().unwrap().retain(|e| !e.starts_with(id))),
        );
        let mut ctx = CallContext {
            client: None,
            seq: 1,
            serializer: SerializerId::Serpent,
            flags: pyro_proto::message::Flags::NONE,
            annotations: Default::default(),
            correlation_id: [0; 16],
            response_annotations: Default::default(),
        };
        let mut call = |method: &str, arg: Option<&str>| {
            let vargs = arg.map(|a| vec![s(a)]).unwrap_or_default();
            match c
                .invoke(
                    &mut ctx,
                    method,
                    pyro_proto::servant::Args::positional(vargs),
                )
                .unwrap()
            {
                Reply::Value(v) => v,
                Reply::Stream(_) => panic!("stream"),
            }
        };
        assert_eq!(
            call("fresh", Some("server")),
            s("PYRO:suite.server.0@localhost:1")
        );
        assert_eq!(
            call("fresh", Some("unexposed")),
            s("PYRO:suite.unexposed.1@localhost:1")
        );
        call("release", Some("PYRO:suite.server.0@localhost:1"));
        assert_eq!(
            *registered.lock().unwrap(),
            ["suite.unexposed.1:NotEverythingExposedClass"]
        );
        assert_eq!(call("fresh_count", None), Value::Int(2));
    }
}
