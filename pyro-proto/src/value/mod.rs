//! Python's data model, as the values a Pyro4 peer sends and expects.
//!
//! Every serializer reads into and writes from [`Value`], so a value that
//! crossed the wire in one format can be re-sent in another without loss.

use alloc::string::String;
use alloc::vec::Vec;
use num_bigint::BigInt;

pub mod repr;

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
    /// A `str`.
    Str(String),
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
    /// exceptions, `_ExceptionWrapper`, or a user class.
    Class(ClassDict),
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
