//! Python's data model, as the values a Pyro4 peer sends and expects.
//!
//! Every serializer reads into and writes from [`Value`], so a value that
//! crossed the wire in one format can be re-sent in another without loss.
//!
//! Around the enum:
//! * [`Dict`] / [`ClassDict`]: Python dicts (insertion order, any keys) and
//!   objects in Pyro's `{'__class__': ...}` form;
//! * [`Value::py_eq`] (Python `==`) and [`Value::bits_eq`] (exact, for tests);
//! * [`to_value`] / [`from_value`]: serde bridge to plain Rust types
//!   ([`ser`], [`de`] document the mapping);
//! * [`recreate`] ([`classes`]): Pyro4's `dict_to_class` acceptance rules,
//!   run by `SerializerId::loads`;
//! * [`RemoteError`] / [`ExceptionWrapper`] ([`error`]): exceptions on the wire.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive, Zero};

pub mod classes;
pub mod de;
pub mod error;
pub mod repr;
pub mod ser;

pub use classes::{recreate, ClassRegistry, Converter};
pub use de::{from_value, from_value_ref};
pub use error::{ExceptionWrapper, RemoteError};
pub use ser::to_value;

/// The string type of [`Value::Str`]: a `String` that keeps up to 24 bytes
/// inline. Decoding a call creates a handful of short strings (object id,
/// method, keys); storing them without a heap allocation is what makes our
/// codecs several times faster than Python's. It derefs to `str`, and
/// converts from and into `String` (`PyStr::from(s)`, `String::from(p)`).
pub type PyStr = compact_str::CompactString;

/// One Python value.
///
/// Integers have an `i64` fast path; `BigInt` holds only values outside the
/// `i64` range so that equal numbers have one representation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// An `int` outside the `i64` range (always normalised: never fits `i64`).
    BigInt(BigInt),
    /// A `float`, bit-exact (NaN payloads and signed zeros kept).
    Float(f64),
    /// A `complex`.
    Complex {
        /// Real part.
        re: f64,
        /// Imaginary part.
        im: f64,
    },
    /// A `str`. Short strings (up to 24 bytes: most names, keys and
    /// identifiers in Pyro payloads) are stored inline, without an allocation.
    Str(PyStr),
    /// A `bytes` (or `bytearray`) value.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<Value>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A `set`; element order is the order it arrived in (Python's is arbitrary).
    Set(Vec<Value>),
    /// A `frozenset`, for the codecs that distinguish it (marshal, pickle).
    FrozenSet(Vec<Value>),
    /// A `dict`, keys of any hashable type, in insertion order.
    Dict(Dict),
    /// An object that travels as `{'__class__': name, ...}`: Pyro's URI, Proxy,
    /// exceptions, `_ExceptionWrapper`, or a user class. Boxed because such
    /// objects are rare in payloads: inline, their two fields would make every
    /// `Value` 48 bytes instead of 32.
    Class(Box<ClassDict>),
}

/// A Python `dict`: insertion-ordered pairs with arbitrary hashable keys.
///
/// Kept as a vector because Pyro payload dicts are small and order matters
/// for byte-identical output; inserting an existing key replaces the value in
/// place, as Python does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dict(pub Vec<(Value, Value)>);

/// An object in Pyro's class-dict form: `{'__class__': class_name, **fields}`.
///
/// `fields` holds every entry except `__class__`, in their original order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDict {
    /// The fully qualified Python class name, e.g. `builtins.ValueError`.
    pub class_name: String,
    /// The other entries of the dict.
    pub fields: Dict,
}

impl Dict {
    /// An empty dict.
    pub const fn new() -> Dict {
        Dict(Vec::new())
    }

    /// An empty dict with room for `n` entries.
    pub fn with_capacity(n: usize) -> Dict {
        Dict(Vec::with_capacity(n))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the dict has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &Value) -> Option<usize> {
        // Fast path for the overwhelmingly common string key.
        if let Value::Str(k) = key {
            return self
                .0
                .iter()
                .position(|(x, _)| matches!(x, Value::Str(s) if s == k));
        }
        self.0.iter().position(|(x, _)| x.py_eq(key))
    }

    /// The value stored under `key`, looked up with Python's `==` (so `1`,
    /// `1.0` and `True` find the same entry, as in a Python dict).
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.position(key).map(|i| &self.0[i].1)
    }

    /// Mutable access to the value stored under `key`.
    pub fn get_mut(&mut self, key: &Value) -> Option<&mut Value> {
        self.position(key).map(move |i| &mut self.0[i].1)
    }

    /// The value stored under the string key `key` (the usual case for Pyro
    /// payloads), without building a [`Value`] for the lookup.
    pub fn get_str(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|(k, v)| match k {
            Value::Str(s) if s == key => Some(v),
            _ => None,
        })
    }

    /// True when an entry with a key equal to `key` (Python `==`) exists.
    pub fn contains_key(&self, key: &Value) -> bool {
        self.position(key).is_some()
    }

    /// Store `value` under `key`. As in Python, an existing equal key keeps
    /// its position (and its original key object); the old value is returned.
    /// Lookup is linear: Pyro dicts are small.
    pub fn insert(&mut self, key: impl Into<Value>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Some(i) => Some(core::mem::replace(&mut self.0[i].1, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Remove the entry for `key` (Python `==`), keeping the order of the rest.
    pub fn remove(&mut self, key: &Value) -> Option<Value> {
        self.position(key).map(|i| self.0.remove(i).1)
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> core::slice::Iter<'_, (Value, Value)> {
        self.0.iter()
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &Value> + '_ {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<K: Into<Value>, V: Into<Value>> FromIterator<(K, V)> for Dict {
    /// Builds the dict as Python's `dict(pairs)` would: a repeated key keeps
    /// its first position and takes the last value.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Dict {
        let mut d = Dict::new();
        d.extend(iter);
        d
    }
}

impl<K: Into<Value>, V: Into<Value>> Extend<(K, V)> for Dict {
    /// Inserts every pair with [`Dict::insert`] semantics. String keys are
    /// indexed while extending, so building a large str-keyed dict is not
    /// quadratic; other keys are compared linearly.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut index: alloc::collections::BTreeMap<String, usize> = self
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, (k, _))| k.as_str().map(|s| (String::from(s), i)))
            .collect();
        for (k, v) in iter {
            let (k, v) = (k.into(), v.into());
            if let Value::Str(s) = &k {
                match index.get(s.as_str()) {
                    Some(&i) => self.0[i].1 = v,
                    None => {
                        index.insert(String::from(s.as_str()), self.0.len());
                        self.0.push((k, v));
                    }
                }
            } else {
                self.insert(k, v);
            }
        }
    }
}

impl IntoIterator for Dict {
    type Item = (Value, Value);
    type IntoIter = alloc::vec::IntoIter<(Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = &'a (Value, Value);
    type IntoIter = core::slice::Iter<'a, (Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl ClassDict {
    /// A class dict with no fields yet.
    pub fn new(class_name: impl Into<String>) -> ClassDict {
        ClassDict {
            class_name: class_name.into(),
            fields: Dict::new(),
        }
    }

    /// The class name after the last dot (`ValueError` for `builtins.ValueError`).
    pub fn short_name(&self) -> &str {
        self.class_name
            .rsplit_once('.')
            .map_or(self.class_name.as_str(), |(_, n)| n)
    }

    /// The plain dict Pyro4 puts on the wire: `__class__` first, then the fields.
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::with_capacity(self.fields.len() + 1);
        d.0.push((
            Value::from("__class__"),
            Value::Str(self.class_name.as_str().into()),
        ));
        d.0.extend(self.fields.0.iter().cloned());
        d
    }
}

impl Value {
    /// A `bytes` value (there is deliberately no `From<Vec<u8>>`: a `Vec<u8>`
    /// could as well mean a list of ints, as it does for serde).
    pub fn bytes(data: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(data.into())
    }

    /// A `tuple` of the given items.
    pub fn tuple(items: impl IntoIterator<Item = impl Into<Value>>) -> Value {
        Value::Tuple(items.into_iter().map(Into::into).collect())
    }

    /// A `list` of the given items.
    pub fn list(items: impl IntoIterator<Item = impl Into<Value>>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// An `int` from an arbitrary-size integer, normalised to [`Value::Int`]
    /// when it fits in `i64` (the invariant every codec relies on).
    pub fn from_bigint(n: BigInt) -> Value {
        match n.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(n),
        }
    }

    /// The text of a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An `int` that fits in `i64` (not `bool`, although Python's bool is an int:
    /// Rust callers asking for a number rarely want `True`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::BigInt(b) => b.to_i64(),
            _ => None,
        }
    }

    /// A `float`, or an `int` converted as Python's `float(x)` would (rounding;
    /// `None` for an int too large for a float).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::BigInt(b) => b.to_f64().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    /// A `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The content of a `bytes` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items of any sequence-like value (list, tuple, set, frozenset).
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    /// A `dict`.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A class object.
    pub fn as_class(&self) -> Option<&ClassDict> {
        match self {
            Value::Class(c) => Some(c),
            _ => None,
        }
    }

    /// True for Python's `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// Python's name for the value's type (`type(x).__name__`), for error
    /// messages: `int`, `tuple`, `NoneType`; a class object gives its short
    /// class name (`ZeroDivisionError`, `URI`).
    pub fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex { .. } => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Dict(_) => "dict",
            Value::Class(c) => c.short_name(),
        }
    }

    /// Python `==`: numbers compare by value across `bool`/`int`/`float`/
    /// `complex` (`1 == 1.0 == True`, exactly, without float rounding), NaN is
    /// unequal to everything (Python's identity shortcut inside containers is
    /// not modelled), `-0.0 == 0.0`, list and tuple never equal each other,
    /// set and frozenset compare as sets (order-insensitive), dicts compare
    /// order-insensitively by key lookup. Class objects compare by class name
    /// and fields (Python would use identity for most classes; structural
    /// equality is what a Rust caller can use).
    pub fn py_eq(&self, other: &Value) -> bool {
        use Value::*;
        if let (Some(a), Some(b)) = (Num::of(self), Num::of(other)) {
            return a.eq(&b);
        }
        match (self, other) {
            (None, None) => true,
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Set(a) | FrozenSet(a), Set(b) | FrozenSet(b)) => set_eq(a, b),
            (Dict(a), Dict(b)) => dict_eq(a, b),
            (Class(a), Class(b)) => a.class_name == b.class_name && dict_eq(&a.fields, &b.fields),
            _ => false,
        }
    }

    /// Exact structural equality for tests: same variants all the way down
    /// (`Int(1)` differs from `Bool(true)` and `Float(1.0)`, a set differs
    /// from a frozenset, a list from a tuple), floats compared by their bits
    /// (NaN equals the same NaN, `-0.0` differs from `0.0`), and sets and
    /// dicts compared **in order** (wire order matters for byte-exact output).
    /// `Int` and `BigInt` holding the same number are equal (normalisation is
    /// checked elsewhere).
    pub fn bits_eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(_) | BigInt(_), Int(_) | BigInt(_)) => int_of(self) == int_of(other),
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Complex { re: a, im: b }, Complex { re: c, im: d }) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (List(a), List(b))
            | (Tuple(a), Tuple(b))
            | (Set(a), Set(b))
            | (FrozenSet(a), FrozenSet(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bits_eq(y))
            }
            (Dict(a), Dict(b)) => dict_bits_eq(a, b),
            (Class(a), Class(b)) => {
                a.class_name == b.class_name && dict_bits_eq(&a.fields, &b.fields)
            }
            _ => false,
        }
    }
}

fn int_of(v: &Value) -> BigInt {
    match v {
        Value::Int(i) => BigInt::from(*i),
        Value::BigInt(b) => b.clone(),
        _ => BigInt::zero(),
    }
}

fn dict_bits_eq(a: &Dict, b: &Dict) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((k1, v1), (k2, v2))| k1.bits_eq(k2) && v1.bits_eq(v2))
}

fn set_eq(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.iter().any(|y| x.py_eq(y))) && b.iter().all(|y| a.iter().any(|x| x.py_eq(y)))
}

fn dict_eq(a: &Dict, b: &Dict) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.py_eq(w)))
}

/// A number in the shape needed for Python's cross-type comparisons.
enum Num<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
    Complex(f64, f64),
}

impl<'a> Num<'a> {
    fn of(v: &'a Value) -> Option<Num<'a>> {
        Some(match v {
            Value::Bool(b) => Num::Int(i64::from(*b)),
            Value::Int(i) => Num::Int(*i),
            Value::BigInt(b) => Num::Big(b),
            Value::Float(f) => Num::Float(*f),
            Value::Complex { re, im } => Num::Complex(*re, *im),
            _ => return None,
        })
    }

    fn eq(&self, other: &Num<'_>) -> bool {
        use Num::*;
        match (self, other) {
            (Complex(a, b), Complex(c, d)) => a == c && b == d,
            (Complex(re, im), x) | (x, Complex(re, im)) => *im == 0.0 && x.eq(&Float(*re)),
            (Float(a), Float(b)) => a == b,
            (Float(f), x) | (x, Float(f)) => float_eq_int(*f, x),
            (Int(a), Int(b)) => a == b,
            (Big(a), Big(b)) => a == b,
            (Int(a), Big(b)) | (Big(b), Int(a)) => BigInt::from(*a).cmp(b) == Ordering::Equal,
        }
    }
}

/// Exact float/int equality (Python does not round the int to a float).
fn float_eq_int(f: f64, n: &Num<'_>) -> bool {
    if !f.is_finite() {
        return false;
    }
    // from_f64 truncates; an integral float converts back to itself exactly.
    let Some(fb) = BigInt::from_f64(f).filter(|b| b.to_f64() == Some(f)) else {
        return false;
    };
    match n {
        Num::Int(i) => fb == BigInt::from(*i),
        Num::Big(b) => &fb == *b,
        _ => false,
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Int(i64::from(n))
            }
        }
    )*};
}
from_small_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! from_wide_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                match i64::try_from(n) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::BigInt(BigInt::from(n)),
                }
            }
        }
    )*};
}
from_wide_int!(u64, usize, isize, i128, u128);

impl From<BigInt> for Value {
    /// Normalised: an `i64`-sized number becomes [`Value::Int`].
    fn from(n: BigInt) -> Value {
        Value::from_bigint(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Value {
        Value::Float(f64::from(f))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(PyStr::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s.into())
    }
}

impl From<char> for Value {
    fn from(c: char) -> Value {
        let mut buf = [0u8; 4];
        Value::Str(PyStr::from(&*c.encode_utf8(&mut buf)))
    }
}

impl From<Vec<Value>> for Value {
    /// A `list`.
    fn from(v: Vec<Value>) -> Value {
        Value::List(v)
    }
}

impl From<Dict> for Value {
    fn from(d: Dict) -> Value {
        Value::Dict(d)
    }
}

impl From<ClassDict> for Value {
    fn from(c: ClassDict) -> Value {
        Value::Class(Box::new(c))
    }
}

impl From<()> for Value {
    /// Python's `None`.
    fn from(_: ()) -> Value {
        Value::None
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` for `None`, the value otherwise.
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::None, Into::into)
    }
}

#[cfg(test)]
mod tests;
