//! [`Value`] into Rust values through serde, and [`Value`] itself as a serde type.
//!
//! What each Python type can become:
//!
//! | Python ([`Value`]) | Rust / serde |
//! |---|---|
//! | `None` | `Option::None`, `()`, unit structs |
//! | `bool` | `bool` |
//! | `int` | any integer type it fits (big ints through `i128`/`u128`), `f32`/`f64` |
//! | `float` | `f32` / `f64` |
//! | `complex` | a `(re, im)` pair |
//! | `str` | `String`, `&str` (borrowed with [`from_value_ref`]), `char` (one character), enum unit variants, identifiers |
//! | `bytes` | `serde_bytes` types (and `Vec<u8>` as a sequence of ints) |
//! | serpent's `{'data': <base64>, 'encoding': 'base64'}` | `serde_bytes` types (what `serpent.tobytes` does) |
//! | `list` / `tuple` / `set` / `frozenset` | any sequence or tuple (`Vec`, arrays, tuples, `HashSet`, tuple structs) |
//! | `dict` | maps (keys of any type) and structs; `{variant: content}` for enum variants |
//! | class object | a map that starts with `"__class__"`, then its fields |
//!
//! A type mismatch gives [`SerializeError::Conversion`] naming the Python
//! type found and what was expected.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Display};

use base64::Engine as _;
use num_bigint::BigInt;
use num_traits::ToPrimitive;
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use serde::Deserialize;

use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

/// Newtype-struct name through which `Value`'s `Deserialize` asks our
/// deserializer for an exact copy (other formats see a transparent newtype).
const MAGIC_VALUE: &str = "$pyro_rs::Value";

impl de::Error for SerializeError {
    fn custom<T: Display>(msg: T) -> Self {
        SerializeError::Conversion(msg.to_string())
    }
}

/// Convert a [`Value`] (e.g. a call's result) into a Rust type.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, SerializeError> {
    from_value_ref(&value)
}

/// Like [`from_value`], borrowing strings and bytes from `value` where the
/// target type allows (`&str`, `&[u8]`, `Cow`).
pub fn from_value_ref<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, SerializeError> {
    T::deserialize(ValueDeserializer::new(value))
}

/// A serde [`Deserializer`] reading a borrowed [`Value`], for `DeserializeSeed`
/// and other serde plumbing ([`from_value_ref`] is the usual entry point).
#[derive(Clone, Copy)]
pub struct ValueDeserializer<'de> {
    value: &'de Value,
    depth: usize,
}

impl<'de> ValueDeserializer<'de> {
    /// A deserializer for `value` (nesting bounded by `MAX_DEPTH`).
    pub fn new(value: &'de Value) -> ValueDeserializer<'de> {
        ValueDeserializer { value, depth: 0 }
    }

    fn child(&self, value: &'de Value) -> Result<ValueDeserializer<'de>, SerializeError> {
        if self.depth >= MAX_DEPTH {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        Ok(ValueDeserializer {
            value,
            depth: self.depth + 1,
        })
    }

    fn mismatch(&self, expected: &str) -> SerializeError {
        mismatch(self.value, expected)
    }

    fn seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => visitor.visit_seq(Seq {
                iter: items.iter(),
                de: self,
            }),
            Value::Bytes(b) => visitor.visit_seq(SeqDeserializer::new(b.iter().copied())),
            Value::Complex { re, im } => {
                visitor.visit_seq(SeqDeserializer::new([*re, *im].into_iter()))
            }
            _ => Err(self.mismatch("a sequence (list, tuple or set)")),
        }
    }

    fn map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Dict(d) => visitor.visit_map(Map {
                iter: d.0.iter(),
                pending: None,
                de: self,
            }),
            Value::Class(c) => visitor.visit_map(ClassMap {
                class: c,
                sent_name: false,
                inner: Map {
                    iter: c.fields.0.iter(),
                    pending: None,
                    de: self,
                },
            }),
            _ => Err(self.mismatch("a dict")),
        }
    }
}

/// A short description of what was found, for error messages.
fn mismatch(found: &Value, expected: &str) -> SerializeError {
    let sample = match found {
        Value::Bool(b) => format!(" {}", if *b { "True" } else { "False" }),
        Value::Int(i) => format!(" {i}"),
        Value::BigInt(b) => format!(" {b}"),
        Value::Float(f) => format!(" {}", crate::value::repr::float_repr(*f)),
        Value::Str(s) if s.chars().count() <= 40 => format!(" {s:?}"),
        Value::Str(_) => " (long text)".to_string(),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
            format!(" of {} items", v.len())
        }
        Value::Dict(d) => format!(" of {} items", d.len()),
        Value::Class(c) => format!(" ({})", c.class_name),
        _ => String::new(),
    };
    SerializeError::Conversion(format!(
        "expected {expected}, found Python {}{sample}",
        found.type_name()
    ))
}

macro_rules! int_method {
    ($method:ident, $t:ty, $visit:ident, $as:ty, $to:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
            let n: Option<$t> = match self.value {
                Value::Int(i) => <$t>::try_from(*i).ok(),
                Value::BigInt(b) => b.$to(),
                _ => return Err(self.mismatch(stringify!($t))),
            };
            match n {
                Some(n) => visitor.$visit(<$as>::from(n)),
                None => Err(SerializeError::Conversion(format!(
                    "int {} is out of range for {}",
                    match self.value {
                        Value::Int(i) => i.to_string(),
                        Value::BigInt(b) => b.to_string(),
                        _ => String::new(),
                    },
                    stringify!($t)
                ))),
            }
        }
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = SerializeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::BigInt(b) => {
                if let Some(n) = b.to_i128() {
                    visitor.visit_i128(n)
                } else if let Some(n) = b.to_u128() {
                    visitor.visit_u128(n)
                } else {
                    Err(SerializeError::Conversion(format!(
                        "int {b} does not fit in 128 bits"
                    )))
                }
            }
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Complex { .. }
            | Value::List(_)
            | Value::Tuple(_)
            | Value::Set(_)
            | Value::FrozenSet(_) => self.seq(visitor),
            Value::Dict(_) | Value::Class(_) => self.map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => Err(self.mismatch("bool")),
        }
    }

    int_method!(deserialize_i8, i8, visit_i64, i64, to_i8);
    int_method!(deserialize_i16, i16, visit_i64, i64, to_i16);
    int_method!(deserialize_i32, i32, visit_i64, i64, to_i32);
    int_method!(deserialize_i64, i64, visit_i64, i64, to_i64);
    int_method!(deserialize_i128, i128, visit_i128, i128, to_i128);
    int_method!(deserialize_u8, u8, visit_u64, u64, to_u8);
    int_method!(deserialize_u16, u16, visit_u64, u64, to_u16);
    int_method!(deserialize_u32, u32, visit_u64, u64, to_u32);
    int_method!(deserialize_u64, u64, visit_u64, u64, to_u64);
    int_method!(deserialize_u128, u128, visit_u128, u128, to_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Int(_) | Value::BigInt(_) => match self.value.as_f64() {
                Some(f) => visitor.visit_f64(f),
                None => Err(SerializeError::Conversion(
                    "int too large to convert to float".to_string(),
                )),
            },
            _ => Err(self.mismatch("float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Str(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => visitor.visit_char(c),
                    _ => Err(self.mismatch("a str of one character")),
                }
            }
            _ => Err(self.mismatch("a str of one character")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            _ => Err(self.mismatch("str")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Dict(d) => match serpent_bytes(d) {
                Some(Ok(b)) => visitor.visit_byte_buf(b),
                Some(Err(e)) => Err(e),
                None => Err(self.mismatch("bytes")),
            },
            _ => Err(self.mismatch("bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::None => visitor.visit_unit(),
            _ => Err(self.mismatch("None")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        if name == MAGIC_VALUE {
            return visitor.visit_enum(ExactValue { de: self });
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerializeError> {
        self.map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::List(_) | Value::Tuple(_) => self.seq(visitor),
            Value::Dict(_) | Value::Class(_) => self.map(visitor),
            _ => Err(self.mismatch("a dict")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Str(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Value::Dict(d) if d.len() == 1 => match &d.0[0] {
                (Value::Str(tag), content) => visitor.visit_enum(Variant {
                    tag,
                    content: self.child(content)?,
                }),
                _ => Err(self.mismatch("an enum variant: a str or a {name: content} dict")),
            },
            _ => Err(self.mismatch("an enum variant: a str or a {name: content} dict")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        match self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Int(i) if *i >= 0 => visitor.visit_u64(*i as u64),
            _ => Err(self.mismatch("str (a field or variant name)")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        visitor.visit_unit()
    }
}

/// serpent's bytes dict: `Some` when `d` has that shape.
fn serpent_bytes(d: &Dict) -> Option<Result<Vec<u8>, SerializeError>> {
    if d.get_str("encoding")?.as_str()? != "base64" {
        return None;
    }
    let data = d.get_str("data")?;
    let text = match data {
        Value::Str(s) => s.as_bytes(),
        Value::Bytes(b) => b.as_slice(),
        _ => return None,
    };
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| {
                SerializeError::Conversion(format!("invalid base64 in serpent bytes dict: {e}"))
            }),
    )
}

struct Seq<'de, I> {
    iter: I,
    de: ValueDeserializer<'de>,
}

impl<'de, I: Iterator<Item = &'de Value> + ExactSizeIterator> SeqAccess<'de> for Seq<'de, I> {
    type Error = SerializeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SerializeError> {
        match self.iter.next() {
            Some(v) => seed.deserialize(self.de.child(v)?).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Map<'de> {
    iter: core::slice::Iter<'de, (Value, Value)>,
    pending: Option<&'de Value>,
    de: ValueDeserializer<'de>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = SerializeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SerializeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.pending = Some(v);
                seed.deserialize(self.de.child(k)?).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, SerializeError> {
        let v = self.pending.take().ok_or_else(|| {
            SerializeError::Conversion("map value requested before its key".to_string())
        })?;
        seed.deserialize(self.de.child(v)?)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A class object as a map: `__class__` first, then the fields.
struct ClassMap<'de> {
    class: &'de ClassDict,
    sent_name: bool,
    inner: Map<'de>,
}

impl<'de> MapAccess<'de> for ClassMap<'de> {
    type Error = SerializeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SerializeError> {
        if !self.sent_name {
            return seed
                .deserialize(BorrowedStrDeserializer::<SerializeError>::new("__class__"))
                .map(Some);
        }
        self.inner.next_key_seed(seed)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, SerializeError> {
        if !self.sent_name {
            self.sent_name = true;
            return seed.deserialize(BorrowedStrDeserializer::<SerializeError>::new(
                &self.class.class_name,
            ));
        }
        self.inner.next_value_seed(seed)
    }
}

/// An externally tagged enum variant `{tag: content}`.
struct Variant<'de> {
    tag: &'de str,
    content: ValueDeserializer<'de>,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = SerializeError;
    type Variant = ValueDeserializer<'de>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), SerializeError> {
        let tag = seed.deserialize(BorrowedStrDeserializer::<SerializeError>::new(self.tag))?;
        Ok((tag, self.content))
    }
}

impl<'de> VariantAccess<'de> for ValueDeserializer<'de> {
    type Error = SerializeError;
    fn unit_variant(self) -> Result<(), SerializeError> {
        match self.value {
            Value::None => Ok(()),
            _ => Err(self.mismatch("None (unit variant content)")),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, SerializeError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.seq(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.map(visitor)
    }
}

/// The private channel that hands `Value`'s `Deserialize` an exact copy:
/// an enum whose tag is the variant name and whose content is the payload.
struct ExactValue<'de> {
    de: ValueDeserializer<'de>,
}

impl<'de> EnumAccess<'de> for ExactValue<'de> {
    type Error = SerializeError;
    type Variant = ExactContent<'de>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, ExactContent<'de>), SerializeError> {
        let tag = match self.de.value {
            Value::None => "None",
            Value::Bool(_) => "Bool",
            Value::Int(_) => "Int",
            Value::BigInt(_) => "BigInt",
            Value::Float(_) => "Float",
            Value::Complex { .. } => "Complex",
            Value::Str(_) => "Str",
            Value::Bytes(_) => "Bytes",
            Value::List(_) => "List",
            Value::Tuple(_) => "Tuple",
            Value::Set(_) => "Set",
            Value::FrozenSet(_) => "FrozenSet",
            Value::Dict(_) => "Dict",
            Value::Class(_) => "Class",
        };
        let tag = seed.deserialize(BorrowedStrDeserializer::<SerializeError>::new(tag))?;
        Ok((tag, ExactContent { de: self.de }))
    }
}

struct ExactContent<'de> {
    de: ValueDeserializer<'de>,
}

impl<'de> VariantAccess<'de> for ExactContent<'de> {
    type Error = SerializeError;
    fn unit_variant(self) -> Result<(), SerializeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, SerializeError> {
        match self.de.value {
            Value::BigInt(b) => {
                seed.deserialize(StringDeserializer::<SerializeError>::new(b.to_string()))
            }
            _ => seed.deserialize(self.de),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.de.seq(visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerializeError> {
        self.de.map(visitor)
    }
}

/// Map entries in order, duplicates kept (used for exact copies).
struct OrderedPairs(Vec<(Value, Value)>);

impl<'de> Deserialize<'de> for OrderedPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OrderedPairs, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedPairs, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
                while let Some(entry) = map.next_entry::<Value, Value>()? {
                    out.push(entry);
                }
                Ok(OrderedPairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Bytes content of an exact copy.
struct ByteContent(Vec<u8>);

impl<'de> Deserialize<'de> for ByteContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteContent, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteContent, E> {
                Ok(ByteContent(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteContent, E> {
                Ok(ByteContent(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any Python value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v.into()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::List(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Python semantics for a repeated key: first position, last value.
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(entry) = map.next_entry::<Value, Value>()? {
            pairs.push(entry);
        }
        Ok(Value::Dict(pairs.into_iter().collect()))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        // Only reached through our own deserializer's exact-copy channel.
        let (tag, content): (String, _) = data.variant()?;
        Ok(match tag.as_str() {
            "None" => {
                content.unit_variant()?;
                Value::None
            }
            "Bool" => Value::Bool(content.newtype_variant()?),
            "Int" => Value::Int(content.newtype_variant()?),
            "BigInt" => {
                let digits: String = content.newtype_variant()?;
                let n: BigInt = digits
                    .parse()
                    .map_err(|_| de::Error::custom(format!("invalid int literal {digits:?}")))?;
                Value::from_bigint(n)
            }
            "Float" => Value::Float(content.newtype_variant()?),
            "Complex" => {
                let (re, im): (f64, f64) = content.newtype_variant()?;
                Value::Complex { re, im }
            }
            "Str" => Value::Str(content.newtype_variant::<String>()?.into()),
            "Bytes" => Value::Bytes(content.newtype_variant::<ByteContent>()?.0),
            "List" => Value::List(content.newtype_variant()?),
            "Tuple" => Value::Tuple(content.newtype_variant()?),
            "Set" => Value::Set(content.newtype_variant()?),
            "FrozenSet" => Value::FrozenSet(content.newtype_variant()?),
            "Dict" => Value::Dict(Dict(content.newtype_variant::<OrderedPairs>()?.0)),
            "Class" => {
                let mut pairs = content.newtype_variant::<OrderedPairs>()?.0.into_iter();
                let class_name = match pairs.next() {
                    Some((_, Value::Str(name))) => name,
                    _ => return Err(de::Error::custom("class object without a name")),
                };
                Value::Class(Box::new(ClassDict {
                    class_name: class_name.to_string(),
                    fields: Dict(pairs.collect()),
                }))
            }
            other => return Err(de::Error::custom(format!("unknown value kind {other}"))),
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    /// From our own deserializer: an exact copy. From any other serde
    /// format: its natural mapping (sequences become lists, maps dicts).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(MAGIC_VALUE, ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Dict {
    /// A `dict` (a class object gives its wire dict, `__class__` first).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dict, D::Error> {
        match Value::deserialize(d)? {
            Value::Dict(d) => Ok(d),
            Value::Class(c) => Ok(c.to_dict()),
            other => Err(de::Error::custom(format!(
                "expected a dict, found Python {}",
                other.type_name()
            ))),
        }
    }
}

impl<'de> IntoDeserializer<'de, SerializeError> for &'de Value {
    type Deserializer = ValueDeserializer<'de>;
    fn into_deserializer(self) -> ValueDeserializer<'de> {
        ValueDeserializer::new(self)
    }
}
