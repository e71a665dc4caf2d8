//! Servants: the objects a daemon serves.
//!
//! A [`Servant`] answers calls, attribute reads and writes by name, and tells
//! the daemon what it exposes ([`Metadata`]), which is what a Python proxy
//! learns in the handshake. Most servants are built from typed closures with
//! [`ServantBuilder`]: arguments arrive as serde types and return values go
//! back the same way, so a servant never touches [`Value`] unless it wants to.
//!
//! ```
//! use pyro_proto::servant::ServantBuilder;
//! use pyro_proto::value::RemoteError;
//!
//! let calc = ServantBuilder::new("Calculator")
//!     .method("add", |(a, b): (i64, i64)| Ok(a + b))
//!     .method("divide", |(a, b): (f64, f64)| {
//!         if b == 0.0 {
//!             Err(RemoteError::builtin("ZeroDivisionError", "float division by zero"))
//!         } else {
//!             Ok(a / b)
//!         }
//!     })
//!     .generator("count", |(n,): (u32,)| Ok(0..n))
//!     .build();
//! assert_eq!(calc.metadata().methods, ["add", "count", "divide"]);
//! ```

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::message::{Annotations, Flags};
use crate::serialize::SerializerId;
use crate::session::Metadata;
use crate::value::{from_value, to_value, Dict, RemoteError, Value};

/// What a call knows about its circumstances (Pyro4's `current_context`), and
/// where a servant puts annotations for the reply.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The client's address as the transport reports it (e.g. `127.0.0.1:50312`).
    pub client: Option<String>,
    /// The request's sequence number.
    pub seq: u16,
    /// The request's serializer.
    pub serializer: SerializerId,
    /// The request's flags.
    pub flags: Flags,
    /// The request's annotations.
    pub annotations: Annotations,
    /// The request's correlation id (the client's, or a fresh one).
    pub correlation_id: [u8; 16],
    /// Annotations to send with a normal reply (ignored on exception replies,
    /// as in Pyro4).
    pub response_annotations: Annotations,
}

/// Positional and keyword arguments of a call, as the client sent them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// Positional arguments.
    pub vargs: Vec<Value>,
    /// Keyword arguments (empty when none were given).
    pub kwargs: Dict,
}

/// The items of a stream, produced on demand as the client pulls them.
pub type ItemIter = Box<dyn Iterator<Item = Result<Value, RemoteError>> + Send>;

/// What a method returns: a value, or an iterator the daemon streams to the
/// client item by item (Pyro4's generator results).
pub enum Reply {
    /// A plain return value.
    Value(Value),
    /// A generator result.
    Stream(ItemIter),
}

impl core::fmt::Debug for Reply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Reply::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// An object a daemon can serve. Implement it by hand for full control over
/// dispatch, or build one with [`ServantBuilder`].
///
/// The daemon applies Pyro4's name rules (private names, attribute access
/// only for exposed attributes) before calling in, and calls only names the
/// metadata lists.
pub trait Servant: Send + Sync {
    /// The Python-style class name used in error texts
    /// (`'Calculator' object has no attribute 'x'`).
    fn class_name(&self) -> &str;

    /// What this servant exposes.
    fn metadata(&self) -> Metadata;

    /// Call method `method` (one of `metadata().methods`).
    fn invoke(&self, ctx: &mut CallContext, method: &str, args: Args)
        -> Result<Reply, RemoteError>;

    /// Read attribute `name` (one of `metadata().attrs`).
    fn get_attr(&self, ctx: &mut CallContext, name: &str) -> Result<Value, RemoteError> {
        let _ = ctx;
        Err(RemoteError::attribute_error(format!(
            "attempt to access unexposed or unknown remote attribute '{name}'"
        )))
    }

    /// Write attribute `name`.
    fn set_attr(&self, ctx: &mut CallContext, name: &str, value: Value) -> Result<(), RemoteError> {
        let _ = (ctx, value);
        Err(RemoteError::attribute_error(format!(
            "attempt to access unexposed or unknown remote attribute '{name}'"
        )))
    }

    /// Whether `method` is a `@callback`: when it fails, the daemon sends the
    /// error and then closes the connection, so the caller notices.
    fn is_callback(&self, method: &str) -> bool {
        let _ = method;
        false
    }
}

type MethodFn = Arc<dyn Fn(&mut CallContext, Args) -> Result<Reply, RemoteError> + Send + Sync>;
type GetterFn = Arc<dyn Fn(&mut CallContext) -> Result<Value, RemoteError> + Send + Sync>;
type SetterFn = Arc<dyn Fn(&mut CallContext, Value) -> Result<(), RemoteError> + Send + Sync>;

struct MethodEntry {
    f: MethodFn,
    oneway: bool,
    callback: bool,
}

struct AttrEntry {
    get: Option<GetterFn>,
    set: Option<SetterFn>,
}

/// Builds a [`Servant`] from closures; the metadata follows from what is added.
pub struct ServantBuilder {
    class_name: String,
    methods: BTreeMap<String, MethodEntry>,
    attrs: BTreeMap<String, AttrEntry>,
}

/// Positional arguments converted to the closure's argument type; keyword
/// arguments are refused as Python refuses unexpected ones.
fn typed_args<A: DeserializeOwned>(method: &str, args: Args) -> Result<A, RemoteError> {
    if let Some((k, _)) = args.kwargs.0.first() {
        let name = match k {
            Value::Str(s) => s.clone(),
            other => format!("{other:?}").into(),
        };
        return Err(RemoteError::builtin(
            "TypeError",
            format!("{method}() got an unexpected keyword argument '{name}'"),
        ));
    }
    let count = args.vargs.len();
    // A method without parameters takes `()`, which serde reads from None.
    let value = if count == 0 {
        match from_value::<A>(Value::Tuple(Vec::new())) {
            Ok(a) => return Ok(a),
            Err(_) => Value::None,
        }
    } else {
        Value::Tuple(args.vargs)
    };
    from_value::<A>(value).map_err(|e| {
        RemoteError::builtin(
            "TypeError",
            format!("{method}() got {count} positional argument(s) it cannot take: {e}"),
        )
    })
}

fn returned<R: Serialize>(method: &str, r: &R) -> Result<Value, RemoteError> {
    to_value(r).map_err(|e| {
        RemoteError::pyro(
            "SerializeError",
            format!("cannot serialize the result of {method}(): {e}"),
        )
    })
}

impl ServantBuilder {
    /// An empty servant named `class_name` (used in error texts).
    pub fn new(class_name: impl Into<String>) -> ServantBuilder {
        ServantBuilder {
            class_name: class_name.into(),
            methods: BTreeMap::new(),
            attrs: BTreeMap::new(),
        }
    }

    fn add(mut self, name: &str, f: MethodFn, oneway: bool, callback: bool) -> ServantBuilder {
        self.methods.insert(
            name.to_owned(),
            MethodEntry {
                f,
                oneway,
                callback,
            },
        );
        self
    }

    /// A method taking positional arguments as `A` (a tuple type such as
    /// `(i64, String)`, or `()`) and returning `R`.
    pub fn method<A, R, F>(self, name: &str, f: F) -> ServantBuilder
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(A) -> Result<R, RemoteError> + Send + Sync + 'static,
    {
        let m = name.to_owned();
        let f: MethodFn = Arc::new(move |_ctx, args| {
            let r = f(typed_args(&m, args)?)?;
            Ok(Reply::Value(returned(&m, &r)?))
        });
        self.add(name, f, false, false)
    }

    /// Like [`method`](Self::method), with the call's context (client
    /// address, annotations, response annotations).
    pub fn method_with_context<A, R, F>(self, name: &str, f: F) -> ServantBuilder
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(&mut CallContext, A) -> Result<R, RemoteError> + Send + Sync + 'static,
    {
        let m = name.to_owned();
        let f: MethodFn = Arc::new(move |ctx, args| {
            let r = f(ctx, typed_args(&m, args)?)?;
            Ok(Reply::Value(returned(&m, &r)?))
        });
        self.add(name, f, false, false)
    }

    /// A method that sees the raw arguments, keyword arguments included.
    pub fn raw_method<F>(self, name: &str, f: F) -> ServantBuilder
    where
        F: Fn(&mut CallContext, Args) -> Result<Reply, RemoteError> + Send + Sync + 'static,
    {
        self.add(name, Arc::new(f), false, false)
    }

    /// A method marked `@oneway`: clients do not wait for it (metadata lists
    /// it under `oneway`). Called without the ONEWAY flag (a client without
    /// metadata, or one that cleared its oneway set) it is answered with its
    /// result, as Pyro4's daemon serializes a `@oneway` method's return value
    /// then (`None` for a method returning `()`).
    pub fn oneway<A, R, F>(self, name: &str, f: F) -> ServantBuilder
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(A) -> Result<R, RemoteError> + Send + Sync + 'static,
    {
        let m = name.to_owned();
        let f: MethodFn = Arc::new(move |_ctx, args| {
            let r = f(typed_args(&m, args)?)?;
            Ok(Reply::Value(returned(&m, &r)?))
        });
        self.add(name, f, true, false)
    }

    /// A `@callback` method: if it fails, the daemon replies with the error
    /// and then closes the connection.
    pub fn callback<A, R, F>(self, name: &str, f: F) -> ServantBuilder
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(A) -> Result<R, RemoteError> + Send + Sync + 'static,
    {
        let m = name.to_owned();
        let f: MethodFn = Arc::new(move |_ctx, args| {
            let r = f(typed_args(&m, args)?)?;
            Ok(Reply::Value(returned(&m, &r)?))
        });
        self.add(name, f, false, true)
    }

    /// A generator method: the returned iterator becomes a Pyro stream that
    /// the client iterates remotely, one round trip per item.
    pub fn generator<A, R, I, F>(self, name: &str, f: F) -> ServantBuilder
    where
        A: DeserializeOwned,
        R: Serialize,
        I: IntoIterator<Item = R>,
        I::IntoIter: Send + 'static,
        F: Fn(A) -> Result<I, RemoteError> + Send + Sync + 'static,
    {
        let m = name.to_owned();
        let f: MethodFn = Arc::new(move |_ctx, args| {
            let iter = f(typed_args(&m, args)?)?.into_iter();
            let m = m.clone();
            Ok(Reply::Stream(Box::new(
                iter.map(move |item| returned(&m, &item)),
            )))
        });
        self.add(name, f, false, false)
    }

    /// A read-only attribute (a Python `@property` without setter).
    pub fn attr<R, G>(mut self, name: &str, get: G) -> ServantBuilder
    where
        R: Serialize,
        G: Fn() -> R + Send + Sync + 'static,
    {
        let n = name.to_owned();
        self.attrs.insert(
            name.to_owned(),
            AttrEntry {
                get: Some(Arc::new(move |_ctx| returned(&n, &get()))),
                set: None,
            },
        );
        self
    }

    /// A read-write attribute.
    pub fn attr_rw<T, G, S>(mut self, name: &str, get: G, set: S) -> ServantBuilder
    where
        T: Serialize + DeserializeOwned,
        G: Fn() -> T + Send + Sync + 'static,
        S: Fn(T) -> Result<(), RemoteError> + Send + Sync + 'static,
    {
        let n = name.to_owned();
        let n2 = name.to_owned();
        self.attrs.insert(
            name.to_owned(),
            AttrEntry {
                get: Some(Arc::new(move |_ctx| returned(&n, &get()))),
                set: Some(Arc::new(move |_ctx, v| {
                    let t = from_value::<T>(v).map_err(|e| {
                        RemoteError::builtin(
                            "TypeError",
                            format!("cannot set attribute '{n2}': {e}"),
                        )
                    })?;
                    set(t)
                })),
            },
        );
        self
    }

    /// The finished servant.
    pub fn build(self) -> Arc<dyn Servant> {
        let mut oneway = BTreeSet::new();
        for (name, m) in &self.methods {
            if m.oneway {
                oneway.insert(name.clone());
            }
        }
        let metadata = Metadata {
            methods: self.methods.keys().cloned().collect(),
            oneway: oneway.into_iter().collect(),
            attrs: self.attrs.keys().cloned().collect(),
        };
        Arc::new(BuiltServant {
            class_name: self.class_name,
            methods: self.methods,
            attrs: self.attrs,
            metadata,
        })
    }
}

struct BuiltServant {
    class_name: String,
    methods: BTreeMap<String, MethodEntry>,
    attrs: BTreeMap<String, AttrEntry>,
    metadata: Metadata,
}

fn unknown_attr(name: &str) -> RemoteError {
    RemoteError::attribute_error(format!(
        "attempt to access unexposed or unknown remote attribute '{name}'"
    ))
}

impl Servant for BuiltServant {
    fn class_name(&self) -> &str {
        &self.class_name
    }

    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn invoke(
        &self,
        ctx: &mut CallContext,
        method: &str,
        args: Args,
    ) -> Result<Reply, RemoteError> {
        match self.methods.get(method) {
            Some(m) => (m.f)(ctx, args),
            None => Err(RemoteError::attribute_error(format!(
                "'{}' object has no attribute '{method}'",
                self.class_name
            ))),
        }
    }

    fn get_attr(&self, ctx: &mut CallContext, name: &str) -> Result<Value, RemoteError> {
        match self.attrs.get(name).and_then(|a| a.get.as_ref()) {
            Some(get) => get(ctx),
            None => Err(unknown_attr(name)),
        }
    }

    fn set_attr(&self, ctx: &mut CallContext, name: &str, value: Value) -> Result<(), RemoteError> {
        match self.attrs.get(name).and_then(|a| a.set.as_ref()) {
            Some(set) => set(ctx, value),
            None => Err(unknown_attr(name)),
        }
    }

    fn is_callback(&self, method: &str) -> bool {
        self.methods.get(method).is_some_and(|m| m.callback)
    }
}

/// Pyro4's private-name rule (section 5.2): names starting with `_` are
/// private, except dunder names longer than four characters that are not on
/// Python's list of special methods.
pub fn is_private_name(name: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "__init__",
        "__init_subclass__",
        "__class__",
        "__module__",
        "__weakref__",
        "__call__",
        "__new__",
        "__del__",
        "__repr__",
        "__unicode__",
        "__str__",
        "__format__",
        "__nonzero__",
        "__bool__",
        "__coerce__",
        "__cmp__",
        "__eq__",
        "__ne__",
        "__hash__",
        "__ge__",
        "__gt__",
        "__le__",
        "__lt__",
        "__dir__",
        "__enter__",
        "__exit__",
        "__copy__",
        "__deepcopy__",
        "__sizeof__",
        "__getattr__",
        "__setattr__",
        "__hasattr__",
        "__getattribute__",
        "__delattr__",
        "__instancecheck__",
        "__subclasscheck__",
        "__getinitargs__",
        "__getnewargs__",
        "__getstate__",
        "__setstate__",
        "__reduce__",
        "__reduce_ex__",
        "__getstate_for_dict__",
        "__setstate_from_dict__",
        "__subclasshook__",
    ];
    if SPECIAL.contains(&name) {
        return true;
    }
    if name.len() > 4 && name.starts_with("__") && name.ends_with("__") {
        return false;
    }
    name.starts_with('_')
}

impl Args {
    /// Arguments from an INVOKE's `vargs` (tuple or list) and `kwargs`.
    pub fn from_call(vargs: Value, kwargs: Option<Dict>) -> Result<Args, RemoteError> {
        let vargs = match vargs {
            Value::Tuple(v) | Value::List(v) => v,
            other => {
                return Err(RemoteError::builtin(
                    "TypeError",
                    format!(
                        "argument after * must be an iterable, not {}",
                        other.type_name()
                    ),
                ))
            }
        };
        Ok(Args {
            vargs,
            kwargs: kwargs.unwrap_or_default(),
        })
    }

    /// Positional arguments only.
    pub fn positional(vargs: Vec<Value>) -> Args {
        Args {
            vargs,
            kwargs: Dict::default(),
        }
    }
}

#[cfg(test)]
mod tests;
