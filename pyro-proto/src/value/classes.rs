//! Turning received `{'__class__': ...}` dicts into class objects, with the
//! exact acceptance rules of Pyro4 4.82's `SerializerBase.dict_to_class`.
//!
//! The serpent, json and marshal codecs return the raw tree; a Python peer
//! then passes every dict that has a `__class__` key (found anywhere in lists,
//! tuples, sets and dict values) through `dict_to_class`, and refuses the
//! whole payload when one of them names a class it does not know. [`recreate`]
//! does the same, so that a Rust peer accepts and refuses exactly what Python
//! does, and hands the caller [`Value::Class`] nodes for the accepted ones.
//!
//! Faithful details:
//! * a dict that becomes a class is **not** searched further (Python passes
//!   its raw content to the constructor), except `_ExceptionWrapper`, whose
//!   `exception` entry is rebuilt too;
//! * dict keys are not searched (Python keys cannot contain dicts);
//! * serpent only: `{'__class__': 'float', 'value': 'nan'}` becomes the float
//!   (`float(value)`, so `'inf'`, `'-inf'` and numeric strings work as well);
//! * pickle payloads are returned unchanged (pickle carries real classes and
//!   Python never runs `dict_to_class` on them).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::serialize::{SerializeError, SerializerId, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

/// A user hook turning a received class dict into a value (Python's
/// `register_dict_to_class` converter). It sees the class name and the
/// other entries of the dict.
pub type Converter = Box<dyn Fn(ClassDict) -> Result<Value, SerializeError> + Send + Sync>;

/// Class names the application accepts on top of Pyro4's built-in ones.
///
/// Checked before every built-in rule, as `register_dict_to_class` is in
/// Pyro4: a registered name is accepted even if it contains `__`.
#[derive(Default)]
pub struct ClassRegistry {
    entries: Vec<(String, Option<Converter>)>,
}

impl core::fmt::Debug for ClassRegistry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(n, c)| (n, c.is_some())))
            .finish()
    }
}

impl ClassRegistry {
    /// A registry with no user classes (Pyro4's defaults only).
    pub fn new() -> ClassRegistry {
        ClassRegistry::default()
    }

    /// Accept `class_name` and keep it as a [`Value::Class`].
    pub fn register(&mut self, class_name: impl Into<String>) {
        self.insert(class_name.into(), None);
    }

    /// Accept `class_name` and turn it into whatever `converter` returns.
    pub fn register_converter(
        &mut self,
        class_name: impl Into<String>,
        converter: impl Fn(ClassDict) -> Result<Value, SerializeError> + Send + Sync + 'static,
    ) {
        self.insert(class_name.into(), Some(Box::new(converter)));
    }

    /// Forget a registration; returns whether there was one.
    pub fn unregister(&mut self, class_name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n != class_name);
        before != self.entries.len()
    }

    /// True when `class_name` is registered.
    pub fn contains(&self, class_name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n == class_name)
    }

    fn insert(&mut self, name: String, conv: Option<Converter>) {
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 = conv,
            None => self.entries.push((name, conv)),
        }
    }

    fn lookup(&self, name: &str) -> Option<&Option<Converter>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// Python 3.11's builtin exception classes (`vars(builtins)` entries that are
/// `BaseException` subclasses): the names `builtins.X` / `exceptions.X` and
/// bare `X` may carry.
pub const BUILTIN_EXCEPTIONS: &[&str] = &[
    "BaseException",
    "BaseExceptionGroup",
    "Exception",
    "GeneratorExit",
    "KeyboardInterrupt",
    "SystemExit",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BufferError",
    "EOFError",
    "ImportError",
    "LookupError",
    "MemoryError",
    "NameError",
    "OSError",
    "ReferenceError",
    "RuntimeError",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SystemError",
    "TypeError",
    "ValueError",
    "Warning",
    "FloatingPointError",
    "OverflowError",
    "ZeroDivisionError",
    "BytesWarning",
    "DeprecationWarning",
    "EncodingWarning",
    "FutureWarning",
    "ImportWarning",
    "PendingDeprecationWarning",
    "ResourceWarning",
    "RuntimeWarning",
    "SyntaxWarning",
    "UnicodeWarning",
    "UserWarning",
    "BlockingIOError",
    "ChildProcessError",
    "ConnectionError",
    "FileExistsError",
    "FileNotFoundError",
    "InterruptedError",
    "IsADirectoryError",
    "NotADirectoryError",
    "PermissionError",
    "ProcessLookupError",
    "TimeoutError",
    "IndentationError",
    "IndexError",
    "KeyError",
    "ModuleNotFoundError",
    "NotImplementedError",
    "RecursionError",
    "UnboundLocalError",
    "UnicodeError",
    "BrokenPipeError",
    "ConnectionAbortedError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "TabError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeTranslateError",
    "ExceptionGroup",
    "EnvironmentError",
    "IOError",
];

/// The exception classes of `Pyro4.errors` (all `PyroError` subclasses).
pub const PYRO_ERRORS: &[&str] = &[
    "PyroError",
    "CommunicationError",
    "ConnectionClosedError",
    "TimeoutError",
    "ProtocolError",
    "MessageTooLargeError",
    "NamingError",
    "DaemonError",
    "SecurityError",
    "SerializeError",
];

/// `sqlite3` exception classes whose names end in `Error` (Pyro4 rebuilds those too).
const SQLITE3_ERRORS: &[&str] = &[
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
];

/// The serializer classes Pyro4 rebuilds from `Pyro4.util.<Name>`.
const PYRO_SERIALIZERS: &[&str] = &[
    "SerpentSerializer",
    "PickleSerializer",
    "MarshalSerializer",
    "JsonSerializer",
    "MsgpackSerializer",
    "CloudpickleSerializer",
    "DillSerializer",
];

/// Rebuild every class dict in a freshly decoded value, as Pyro4's
/// `recreate_classes` does for `serializer`, consulting `registry` first.
///
/// Returns the first refusal: [`SerializeError::DunderClass`] (Python's
/// `SecurityError`), [`SerializeError::UnknownClass`] (Python's
/// `SerializeError("unsupported serialized class: X")`), or
/// [`SerializeError::Conversion`] for a known class whose content Pyro4 could
/// not use (a URI state that is not a 5-tuple, a Proxy hmac that is not
/// `'b64:...'`, an exception without `args`). Nesting is bounded by
/// [`MAX_DEPTH`].
pub fn recreate(
    value: Value,
    serializer: SerializerId,
    registry: Option<&ClassRegistry>,
) -> Result<Value, SerializeError> {
    if serializer == SerializerId::Pickle {
        return Ok(value);
    }
    let ctx = Ctx {
        serializer,
        registry,
    };
    let mut value = value;
    if needs_walk(&value, 0) {
        ctx.walk(&mut value, 0)?;
    }
    Ok(value)
}

/// Whether [`Ctx::walk`] could change `v` or fail: some dict it visits has a
/// `__class__` key, or a value sits deeper than [`MAX_DEPTH`]. A read-only
/// scan that does not descend into leaves, so the usual payload (no class
/// objects) costs a few instructions per value instead of a full walk.
/// It visits exactly what `walk` visits (dict values, not keys; not the
/// inside of [`Value::Class`]).
fn needs_walk(v: &Value, depth: usize) -> bool {
    match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            if items.is_empty() {
                return false;
            }
            // `walk` refuses any value (leaf or not) below MAX_DEPTH.
            if depth + 1 > MAX_DEPTH {
                return true;
            }
            for item in items {
                if is_walked_container(item) && needs_walk(item, depth + 1) {
                    return true;
                }
            }
            false
        }
        Value::Dict(d) => {
            if d.is_empty() {
                return false;
            }
            if d.get_str("__class__").is_some() || depth + 1 > MAX_DEPTH {
                return true;
            }
            for (_, item) in d.iter() {
                if is_walked_container(item) && needs_walk(item, depth + 1) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// The values [`Ctx::walk`] descends into.
fn is_walked_container(v: &Value) -> bool {
    matches!(
        v,
        Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::FrozenSet(_) | Value::Dict(_)
    )
}

struct Ctx<'a> {
    serializer: SerializerId,
    registry: Option<&'a ClassRegistry>,
}

impl Ctx<'_> {
    fn walk(&self, v: &mut Value, depth: usize) -> Result<(), SerializeError> {
        if depth > MAX_DEPTH {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        match v {
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => {
                for item in items {
                    self.walk(item, depth + 1)?;
                }
            }
            Value::Dict(d) => {
                if d.get_str("__class__").is_some() {
                    let d = core::mem::take(d);
                    *v = self.dict_to_class(d, depth)?;
                } else {
                    for (_, item) in d.0.iter_mut() {
                        self.walk(item, depth + 1)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Pyro4's `dict_to_class` (plus `SerpentSerializer.dict_to_class`'s float rule).
    fn dict_to_class(&self, mut d: Dict, depth: usize) -> Result<Value, SerializeError> {
        if depth > MAX_DEPTH {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        let raw_name = d.remove(&Value::from("__class__")).unwrap_or(Value::None);
        if self.serializer == SerializerId::Serpent && raw_name.as_str() == Some("float") {
            return serpent_float(&d);
        }
        let class_name = match raw_name {
            Value::Str(s) => s.into(),
            // Python decodes a bytes class name as UTF-8.
            Value::Bytes(b) => String::from_utf8(b).map_err(|_| {
                SerializeError::Conversion(
                    "__class__ is bytes that are not valid UTF-8".to_string(),
                )
            })?,
            other => {
                return Err(SerializeError::Conversion(format!(
                    "__class__ must be a str, found {}",
                    other.type_name()
                )))
            }
        };
        let class = ClassDict {
            class_name,
            fields: d,
        };
        if let Some(conv) = self.registry.and_then(|r| r.lookup(&class.class_name)) {
            return match conv {
                Some(f) => f(class),
                None => Ok(Value::Class(Box::new(class))),
            };
        }
        let name = class.class_name.as_str();
        if name.contains("__") {
            return Err(SerializeError::DunderClass(class.class_name));
        }
        if let Some(rest) = name.strip_prefix("Pyro4.core.") {
            match rest {
                "URI" => check_uri(&class)?,
                "Proxy" => check_proxy(&class)?,
                "Daemon" => {
                    state(&class)?;
                }
                _ => return Err(unsupported(class)),
            }
            return Ok(Value::Class(Box::new(class)));
        }
        if let Some(rest) = name.strip_prefix("Pyro4.util.") {
            if PYRO_SERIALIZERS.contains(&rest) {
                return Ok(Value::Class(Box::new(class)));
            }
            return Err(unsupported(class));
        }
        if let Some(rest) = name.strip_prefix("Pyro4.errors.") {
            if PYRO_ERRORS.contains(&rest) {
                check_exception(&class)?;
                return Ok(Value::Class(Box::new(class)));
            }
            return Err(unsupported(class));
        }
        if name == "Pyro4.futures._ExceptionWrapper" {
            let mut class = class;
            let key = Value::from("exception");
            let Some(ex) = class.fields.get_mut(&key) else {
                return Err(SerializeError::Conversion(
                    "Pyro4.futures._ExceptionWrapper without an 'exception' entry".to_string(),
                ));
            };
            if let Value::Dict(inner) = ex {
                if inner.get_str("__class__").is_some() {
                    let inner = core::mem::take(inner);
                    *ex = self.dict_to_class(inner, depth + 1)?;
                }
            }
            return Ok(Value::Class(Box::new(class)));
        }
        if class.fields.get_str("__exception__").is_some_and(truthy) {
            let rebuilt = if BUILTIN_EXCEPTIONS.contains(&name) || PYRO_ERRORS.contains(&name) {
                true
            } else {
                match name.split_once('.') {
                    Some(("builtins" | "exceptions", short)) => BUILTIN_EXCEPTIONS.contains(&short),
                    Some(("sqlite3", short)) => SQLITE3_ERRORS.contains(&short),
                    _ => false,
                }
            };
            if rebuilt {
                check_exception(&class)?;
                return Ok(Value::Class(Box::new(class)));
            }
        }
        Err(unsupported(class))
    }
}

fn unsupported(class: ClassDict) -> SerializeError {
    SerializeError::UnknownClass(class.class_name)
}

/// Python truthiness of a flag value (`data.get("__exception__", False)`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::BigInt(_) => true,
        Value::Float(f) => *f != 0.0,
        Value::Complex { re, im } => *re != 0.0 || *im != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
        Value::Dict(d) => !d.is_empty(),
        Value::Class(_) => true,
    }
}

fn shape_error(class: &ClassDict, what: &str) -> SerializeError {
    SerializeError::Conversion(format!("{}: {what}", class.class_name))
}

fn state(class: &ClassDict) -> Result<&Value, SerializeError> {
    class
        .fields
        .get_str("state")
        .ok_or_else(|| shape_error(class, "missing 'state' entry"))
}

/// `URI.__setstate__` unpacks exactly five items.
fn check_uri(class: &ClassDict) -> Result<(), SerializeError> {
    match state(class)? {
        Value::List(items) | Value::Tuple(items) if items.len() == 5 => Ok(()),
        _ => Err(shape_error(
            class,
            "'state' must be a sequence of 5 items (protocol, object, sockname, host, port)",
        )),
    }
}

/// `Proxy.__setstate_from_dict__`: at least 8 items, and a hmac key that is
/// empty/None or `'b64:<base64>'`.
fn check_proxy(class: &ClassDict) -> Result<(), SerializeError> {
    let items = match state(class)? {
        Value::List(v) | Value::Tuple(v) if v.len() >= 8 => v,
        _ => {
            return Err(shape_error(
                class,
                "'state' must be a sequence of 8 or 9 items (uri, oneway, methods, attrs, timeout, hmac, handshake, max_retries[, serializer])",
            ))
        }
    };
    if !matches!(items[0], Value::Str(_)) {
        return Err(shape_error(class, "the proxy's uri must be a str"));
    }
    // Python: `if hmac_key: if hmac_key.startswith("b64:"): b64decode(...)
    // else: raise ProtocolError("hmac encoding error")`. Decoding the key is
    // left to whoever builds the proxy (Python's decoder is lenient).
    let hmac = &items[5];
    if truthy(hmac) && !hmac.as_str().is_some_and(|s| s.starts_with("b64:")) {
        return Err(SerializeError::Conversion(
            "hmac encoding error".to_string(),
        ));
    }
    Ok(())
}

/// `make_exception`: `cls(*data["args"])`, then `attributes.items()`.
fn check_exception(class: &ClassDict) -> Result<(), SerializeError> {
    match class.fields.get_str("args") {
        Some(a) if exception_args(a).is_some() => {}
        Some(a) => {
            return Err(shape_error(
                class,
                &format!(
                    "exception 'args' must be a tuple or list, found {}",
                    a.type_name()
                ),
            ))
        }
        None => return Err(shape_error(class, "exception without 'args'")),
    }
    match class.fields.get_str("attributes") {
        None => Ok(()),
        // `setattr(ex, name, value)` needs str names.
        Some(Value::Dict(d)) => match d.keys().find(|k| k.as_str().is_none()) {
            None => Ok(()),
            Some(k) => Err(shape_error(
                class,
                &format!(
                    "exception attribute names must be str, found {}",
                    k.type_name()
                ),
            )),
        },
        Some(a) => Err(shape_error(
            class,
            &format!(
                "exception 'attributes' must be a dict, found {}",
                a.type_name()
            ),
        )),
    }
}

/// The positional arguments `cls(*args)` receives: Python unpacks any
/// iterable, so besides tuples and lists a str gives its characters, bytes
/// their ints and a dict its keys (odd, but what Pyro4 accepts).
pub(crate) fn exception_args(args: &Value) -> Option<Vec<Value>> {
    Some(match args {
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => v.clone(),
        Value::Str(s) => s.chars().map(Value::from).collect(),
        Value::Bytes(b) => b.iter().map(|&x| Value::Int(i64::from(x))).collect(),
        Value::Dict(d) => d.keys().cloned().collect(),
        _ => return None,
    })
}

/// `float(data["value"])` for serpent's NaN dict.
fn serpent_float(d: &Dict) -> Result<Value, SerializeError> {
    let Some(v) = d.get_str("value") else {
        return Err(SerializeError::Conversion(
            "serpent float class dict without 'value'".to_string(),
        ));
    };
    let f = match v {
        Value::Float(f) => Some(*f),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Int(_) | Value::BigInt(_) => v.as_f64(),
        Value::Str(s) => parse_python_float(s),
        _ => None,
    };
    f.map(Value::Float).ok_or_else(|| {
        SerializeError::Conversion(format!(
            "could not convert {} to float in serpent float class dict",
            v.type_name()
        ))
    })
}

/// Python's `float(str)`: surrounding whitespace, `nan`/`inf`/`infinity` in
/// any case with a sign, and `_` between digits.
pub(crate) fn parse_python_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_whitespace());
    let b = t.as_bytes();
    let mut clean = String::with_capacity(t.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let digit_before = i > 0 && b[i - 1].is_ascii_digit();
            let digit_after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit_before && digit_after) {
                return None;
            }
        } else {
            clean.push(c as char);
        }
    }
    if !clean.is_ascii() {
        return None;
    }
    clean.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn d(pairs: Vec<(&str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    fn exc(name: &str) -> Value {
        d(vec![
            ("__class__", name.into()),
            ("__exception__", true.into()),
            ("args", Value::tuple(["boom"])),
            (
                "attributes",
                d(vec![("_pyroTraceback", Value::list(["Traceback\n"]))]),
            ),
        ])
    }

    fn rec(v: Value) -> Result<Value, SerializeError> {
        recreate(v, SerializerId::Json, None)
    }

    #[test]
    fn builtin_and_pyro_exceptions_become_classes() {
        for name in [
            "builtins.ZeroDivisionError",
            "exceptions.ValueError",
            "KeyError",
            "Pyro4.errors.NamingError",
            "NamingError",
            "sqlite3.OperationalError",
        ] {
            let v = rec(exc(name)).unwrap();
            let c = v.as_class().unwrap_or_else(|| panic!("{name}: {v:?}"));
            assert_eq!(c.class_name, name);
            assert_eq!(c.fields.keys().next(), Some(&Value::from("__exception__")));
            assert_eq!(c.fields.len(), 3);
        }
    }

    #[test]
    fn pyro_errors_need_no_exception_marker() {
        let v = d(vec![
            ("__class__", "Pyro4.errors.DaemonError".into()),
            ("args", Value::tuple(["unknown object"])),
        ]);
        assert!(rec(v).unwrap().as_class().is_some());
    }

    #[test]
    fn custom_and_unmarked_exceptions_are_refused() {
        for name in [
            "vectorsvc.MyError",
            "builtins.int",
            "builtins.NoSuchThing",
            "Pyro4.errors.Nope",
            "sqlite3.Warning",
        ] {
            assert_eq!(
                rec(exc(name)),
                Err(SerializeError::UnknownClass(name.to_string())),
                "{name}"
            );
        }
        let mut no_marker = exc("builtins.ValueError");
        if let Value::Dict(dd) = &mut no_marker {
            dd.insert("__exception__", false);
        }
        let err = rec(no_marker).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported serialized class: builtins.ValueError"
        );
    }

    #[test]
    fn double_underscore_names_are_a_security_error() {
        let v = d(vec![
            ("__class__", "__main__.Thing".into()),
            ("x", 1.into()),
        ]);
        let err = rec(Value::list([v])).unwrap_err();
        assert_eq!(err, SerializeError::DunderClass("__main__.Thing".into()));
        assert_eq!(
            err.to_string(),
            "refused to deserialize types with double underscores in their name: __main__.Thing"
        );
    }

    #[test]
    fn registry_comes_first_even_for_dunder_names() {
        let mut reg = ClassRegistry::new();
        reg.register("__main__.Thing");
        reg.register_converter("app.Point", |c| {
            Ok(Value::tuple([
                c.fields.get_str("x").cloned().unwrap_or(Value::None),
                c.fields.get_str("y").cloned().unwrap_or(Value::None),
            ]))
        });
        let v = Value::tuple([
            d(vec![("__class__", "__main__.Thing".into())]),
            d(vec![
                ("x", 1.into()),
                ("y", 2.into()),
                ("__class__", "app.Point".into()),
            ]),
        ]);
        let out = recreate(v, SerializerId::Serpent, Some(&reg)).unwrap();
        assert!(out.bits_eq(&Value::tuple([
            Value::Class(Box::new(ClassDict::new("__main__.Thing"))),
            Value::tuple([1, 2]),
        ])));
        assert!(reg.unregister("app.Point"));
        assert!(!reg.contains("app.Point"));
    }

    #[test]
    fn classes_found_everywhere_but_not_inside_classes() {
        let uri = d(vec![
            ("__class__", "Pyro4.core.URI".into()),
            (
                "state",
                Value::tuple([
                    Value::from("PYRO"),
                    "obj".into(),
                    Value::None,
                    "localhost".into(),
                    9090i64.into(),
                ]),
            ),
        ]);
        let nested = d(vec![(
            "k",
            Value::list([Value::Set(vec![]), Value::tuple([uri.clone()])]),
        )]);
        let out = rec(nested).unwrap();
        let inner = &out
            .as_dict()
            .unwrap()
            .get_str("k")
            .unwrap()
            .as_seq()
            .unwrap()[1]
            .as_seq()
            .unwrap()[0];
        assert_eq!(inner.as_class().unwrap().class_name, "Pyro4.core.URI");
        // An exception's args are not searched (Python passes them raw).
        let mut e = exc("builtins.ValueError");
        if let Value::Dict(dd) = &mut e {
            dd.insert(
                "args",
                Value::tuple([d(vec![("__class__", "x.Unknown".into())])]),
            );
        }
        let out = rec(e).unwrap();
        let args = out.as_class().unwrap().fields.get_str("args").unwrap();
        assert!(args.as_seq().unwrap()[0].as_dict().is_some());
    }

    #[test]
    fn uri_proxy_daemon_shapes() {
        let bad_uri = d(vec![
            ("__class__", "Pyro4.core.URI".into()),
            ("state", Value::tuple([1, 2])),
        ]);
        assert!(matches!(rec(bad_uri), Err(SerializeError::Conversion(_))));
        let proxy = |hmac: Value| {
            d(vec![
                ("__class__", "Pyro4.core.Proxy".into()),
                (
                    "state",
                    Value::Tuple(vec![
                        "PYRO:made.obj0@127.0.0.1:47108".into(),
                        Value::tuple(["oneway_call"]),
                        Value::tuple(["multiply"]),
                        Value::tuple(["value"]),
                        0.0.into(),
                        hmac,
                        "hello".into(),
                        0.into(),
                        Value::None,
                    ]),
                ),
            ])
        };
        assert!(rec(proxy(Value::None)).is_ok());
        assert!(rec(proxy("".into())).is_ok());
        assert!(rec(proxy("b64:c2VjcmV0".into())).is_ok());
        for bad in [
            Value::from("secret"),
            Value::Int(5),
            Value::bytes(*b"b64:c2VjcmV0"),
        ] {
            assert_eq!(
                rec(proxy(bad)),
                Err(SerializeError::Conversion("hmac encoding error".into()))
            );
        }
        let daemon = d(vec![
            ("__class__", "Pyro4.core.Daemon".into()),
            ("state", Value::tuple(Vec::<Value>::new())),
        ]);
        assert!(rec(daemon).unwrap().as_class().is_some());
        let other = d(vec![("__class__", "Pyro4.core.DaemonObject".into())]);
        assert_eq!(
            rec(other),
            Err(SerializeError::UnknownClass(
                "Pyro4.core.DaemonObject".into()
            ))
        );
        let ser = d(vec![("__class__", "Pyro4.util.SerpentSerializer".into())]);
        assert!(rec(ser).unwrap().as_class().is_some());
    }

    #[test]
    fn exception_wrapper_rebuilds_its_exception() {
        let w = d(vec![
            ("__class__", "Pyro4.futures._ExceptionWrapper".into()),
            ("exception", exc("builtins.ZeroDivisionError")),
        ]);
        let out = rec(Value::list([42.into(), "hi".into(), w])).unwrap();
        let w = out.as_seq().unwrap()[2].as_class().unwrap();
        let inner = w.fields.get_str("exception").unwrap().as_class().unwrap();
        assert_eq!(inner.class_name, "builtins.ZeroDivisionError");
        let w_bad = d(vec![
            ("__class__", "Pyro4.futures._ExceptionWrapper".into()),
            ("exception", exc("app.Custom")),
        ]);
        assert_eq!(
            rec(w_bad),
            Err(SerializeError::UnknownClass("app.Custom".into()))
        );
    }

    #[test]
    fn serpent_float_dict() {
        let f = |v: Value| d(vec![("__class__", "float".into()), ("value", v)]);
        let out = recreate(f("nan".into()), SerializerId::Serpent, None).unwrap();
        assert!(matches!(out, Value::Float(x) if x.is_nan()));
        for (text, want) in [
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            (" 1_0.5 ", 10.5),
        ] {
            let out = recreate(f(text.into()), SerializerId::Serpent, None).unwrap();
            assert!(out.bits_eq(&Value::Float(want)), "{text}: {out:?}");
        }
        assert!(recreate(f("1__0".into()), SerializerId::Serpent, None).is_err());
        assert!(recreate(f(Value::None), SerializerId::Serpent, None).is_err());
        // Only serpent knows this form.
        assert_eq!(
            recreate(f("nan".into()), SerializerId::Json, None),
            Err(SerializeError::UnknownClass("float".into()))
        );
        // serpent's complex-with-NaN dict is not rebuildable.
        let c = d(vec![
            ("__class__", "complex".into()),
            ("real", 1.0.into()),
            ("imag", f64::NAN.into()),
        ]);
        assert_eq!(
            recreate(c, SerializerId::Serpent, None),
            Err(SerializeError::UnknownClass("complex".into()))
        );
    }

    #[test]
    fn pickle_is_untouched_and_depth_is_bounded() {
        let raw = d(vec![("__class__", "anything.AtAll".into())]);
        assert!(recreate(raw.clone(), SerializerId::Pickle, None)
            .unwrap()
            .bits_eq(&raw));
        let mut deep = Value::None;
        for _ in 0..(MAX_DEPTH + 5) {
            deep = Value::list([deep]);
        }
        assert_eq!(rec(deep), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
    }

    #[test]
    fn serializer_loads_runs_the_class_step() {
        let call = br#"{"object": "test.obj", "method": "m", "params": [{"__class__": "Pyro4.core.URI", "state": ["PYRO", "o", null, "h", 1]}], "kwargs": {"k": {"__class__": "float", "value": "nan"}}}"#;
        let raw = SerializerId::Json.loads_call_raw(call).unwrap();
        assert!(raw.vargs.as_seq().unwrap()[0].as_dict().is_some());
        // json has no float rule: the kwargs' class dict is refused as Pyro4 refuses it.
        assert_eq!(
            SerializerId::Json.loads_call(call).unwrap_err(),
            SerializeError::UnknownClass("float".into())
        );
        let mut reg = ClassRegistry::new();
        reg.register_converter("float", |c| {
            Ok(c.fields.get_str("value").cloned().unwrap_or(Value::None))
        });
        let c = SerializerId::Json
            .loads_call_with(call, Some(&reg))
            .unwrap();
        assert_eq!(
            c.vargs.as_seq().unwrap()[0].as_class().unwrap().class_name,
            "Pyro4.core.URI"
        );
        assert_eq!(c.kwargs.unwrap().get_str("k"), Some(&Value::from("nan")));
        let v = br#"[1, {"__class__": "__main__.X"}]"#;
        assert!(SerializerId::Json.loads_raw(v).is_ok());
        assert_eq!(
            SerializerId::Json.loads(v),
            Err(SerializeError::DunderClass("__main__.X".into()))
        );
        let mut reg = ClassRegistry::new();
        reg.register("__main__.X");
        assert!(SerializerId::Json
            .loads_with(v, Some(&reg))
            .unwrap()
            .as_seq()
            .unwrap()[1]
            .as_class()
            .is_some());
        // A class dict as the whole kwargs cannot be **kwargs.
        let call = br#"{"object": "o", "method": "m", "params": [], "kwargs": {"__class__": "Pyro4.core.Daemon", "state": []}}"#;
        assert!(matches!(
            SerializerId::Json.loads_call(call),
            Err(SerializeError::BadCall(_))
        ));
    }

    fn arb_tree() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let names = prop_oneof![
            Just("builtins.ValueError"),
            Just("Pyro4.core.URI"),
            Just("Pyro4.core.Proxy"),
            Just("Pyro4.errors.NamingError"),
            Just("Pyro4.futures._ExceptionWrapper"),
            Just("float"),
            Just("__main__.X"),
            Just("app.Thing"),
        ];
        let leaf = prop_oneof![
            Just(Value::None),
            any::<i64>().prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            "[a-z_]{0,10}".prop_map(Value::from),
            names.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            let keys = prop_oneof![
                Just("__class__"),
                Just("__exception__"),
                Just("args"),
                Just("attributes"),
                Just("state"),
                Just("exception"),
                Just("value"),
                Just("x"),
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
                proptest::collection::vec((keys, inner), 0..5).prop_map(|p| Value::Dict(
                    p.into_iter().map(|(k, v)| (Value::from(k), v)).collect()
                )),
            ]
        })
    }

    fn has_class_key(v: &Value) -> bool {
        match v {
            Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => {
                x.iter().any(has_class_key)
            }
            Value::Dict(d) => d.get_str("__class__").is_some() || d.values().any(has_class_key),
            _ => false,
        }
    }

    fn has_dict_with_class_key_left(v: &Value) -> bool {
        match v {
            Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => {
                x.iter().any(has_dict_with_class_key_left)
            }
            Value::Dict(d) => {
                d.get_str("__class__").is_some() || d.values().any(has_dict_with_class_key_left)
            }
            _ => false,
        }
    }

    proptest::proptest! {
        /// Never panics; a tree without class dicts comes back unchanged;
        /// an accepted tree has no `__class__` dict left outside class objects.
        #[test]
        fn prop_recreate_total(v in arb_tree()) {
            for ser in [SerializerId::Serpent, SerializerId::Json, SerializerId::Marshal] {
                match recreate(v.clone(), ser, None) {
                    Ok(out) => {
                        if !has_class_key(&v) {
                            proptest::prop_assert!(out.bits_eq(&v));
                        }
                        proptest::prop_assert!(!has_dict_with_class_key_left(&out));
                    }
                    Err(e) => {
                        proptest::prop_assert!(has_class_key(&v), "{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn exception_shape_is_checked() {
        let v = d(vec![
            ("__class__", "builtins.ValueError".into()),
            ("__exception__", true.into()),
        ]);
        assert!(
            matches!(rec(v), Err(SerializeError::Conversion(m)) if m.contains("without 'args'"))
        );
        let v = d(vec![("__class__", 5.into())]);
        assert!(matches!(rec(v), Err(SerializeError::Conversion(m)) if m.contains("found int")));
    }

    /// The pre-scan that skips the walk must agree with the walk: class
    /// dicts found at any level (in lists, tuples, sets, dict values), plain
    /// payloads returned unchanged, and the depth limit falling exactly
    /// where the walk puts it (a leaf at MAX_DEPTH is fine, one deeper is not).
    #[test]
    fn pre_scan_agrees_with_the_walk() {
        let plain = Value::tuple([
            Value::from("hello"),
            Value::List((0..10).map(Value::Int).collect()),
            d(vec![
                ("a", 1.into()),
                ("b", d(vec![("c", Value::list([2]))])),
            ]),
        ]);
        assert!(!needs_walk(&plain, 0));
        assert_eq!(rec(plain.clone()).unwrap(), plain);
        let hidden = [
            Value::List(vec![Value::Int(1), exc("builtins.ValueError")]),
            Value::Set(vec![Value::tuple([exc("builtins.ValueError")])]),
            d(vec![(
                "x",
                Value::List(vec![d(vec![("y", exc("builtins.ValueError"))])]),
            )]),
        ];
        for v in hidden {
            assert!(needs_walk(&v, 0));
            let out = rec(v).unwrap();
            assert!(alloc::format!("{out:?}").contains("Class("), "{out:?}");
        }
        // A class dict as a dict key is not visited by the walk either.
        let key_only = Value::Dict(Dict(vec![(exc("builtins.ValueError"), Value::None)]));
        assert!(!needs_walk(&key_only, 0));
        let nest = |levels: usize| {
            let mut v = Value::Int(1);
            for _ in 0..levels {
                v = Value::List(vec![v]);
            }
            v
        };
        assert!(rec(nest(MAX_DEPTH)).is_ok());
        assert_eq!(
            rec(nest(MAX_DEPTH + 1)),
            Err(SerializeError::TooDeep { limit: MAX_DEPTH })
        );
    }
}
