//! Rust values into [`Value`] through serde, and [`Value`] itself as a serde type.
//!
//! Mapping (what a Python peer receives):
//!
//! | Rust / serde | Python |
//! |---|---|
//! | `bool` | `bool` |
//! | integers (`u64`/`i128`/`u128` beyond `i64` become [`Value::BigInt`]) | `int` |
//! | `f32` / `f64` | `float` |
//! | `char`, `str` | `str` |
//! | `serialize_bytes` (`serde_bytes`) | `bytes` |
//! | `None`, `()`, unit struct | `None` |
//! | `Some(x)`, newtype struct | `x` |
//! | sequences (`Vec`, slices, sets) | `list` |
//! | tuples, tuple structs | `tuple` |
//! | maps | `dict` (keys in iteration order) |
//! | structs | `dict` with `str` keys in field order |
//! | unit variant | `str` (the variant name) |
//! | newtype / tuple / struct variant | `{name: content}` (serde's external tagging) |
//!
//! [`Value`] implements `Serialize` so that any serde format can carry it;
//! through [`to_value`] it comes back unchanged (tuples, sets, big ints,
//! complex numbers and class objects included).

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt::Display;

use num_bigint::BigInt;
use serde::ser::{self, Serialize, SerializeMap as _, SerializeSeq as _, SerializeTuple as _};

use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

// Private newtype-struct names through which `Value`'s own `Serialize` impl
// tells our serializer about Python types serde has no concept of. Any other
// serializer sees a transparent newtype (e.g. a JSON array or string).
pub(crate) const MAGIC_SET: &str = "$pyro_rs::Set";
pub(crate) const MAGIC_FROZENSET: &str = "$pyro_rs::FrozenSet";
pub(crate) const MAGIC_BIGINT: &str = "$pyro_rs::BigInt";
pub(crate) const MAGIC_COMPLEX: &str = "$pyro_rs::Complex";
pub(crate) const MAGIC_CLASS: &str = "$pyro_rs::Class";

impl ser::Error for SerializeError {
    fn custom<T: Display>(msg: T) -> Self {
        SerializeError::Conversion(msg.to_string())
    }
}

/// Convert any serde-serializable Rust value into a [`Value`] (mapping in the
/// module docs). Fails for map keys or values nested deeper than
/// [`MAX_DEPTH`], and for whatever the type's own `Serialize` reports.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerializeError> {
    value.serialize(ValueSerializer { depth: 0 })
}

/// serde serializer producing a [`Value`].
#[derive(Clone, Copy)]
struct ValueSerializer {
    depth: usize,
}

impl ValueSerializer {
    fn nested(self) -> Result<ValueSerializer, SerializeError> {
        if self.depth >= MAX_DEPTH {
            return Err(SerializeError::TooDeep { limit: MAX_DEPTH });
        }
        Ok(ValueSerializer {
            depth: self.depth + 1,
        })
    }
}

fn capped(len: Option<usize>) -> usize {
    len.unwrap_or(0).min(4096)
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerializeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantBuilder<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantBuilder<MapBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Value, SerializeError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerializeError> {
        Ok(Value::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerializeError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerializeError> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerializeError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, SerializeError> {
        Ok(Value::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerializeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerializeError> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerializeError> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerializeError> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, SerializeError> {
        let inner = value.serialize(self.nested()?)?;
        match name {
            MAGIC_SET | MAGIC_FROZENSET => match inner {
                Value::List(items) if name == MAGIC_SET => Ok(Value::Set(items)),
                Value::List(items) => Ok(Value::FrozenSet(items)),
                other => Err(magic_error(name, &other)),
            },
            MAGIC_BIGINT => match &inner {
                Value::Str(digits) => digits
                    .parse::<BigInt>()
                    .map(Value::from_bigint)
                    .map_err(|_| magic_error(name, &inner)),
                _ => Err(magic_error(name, &inner)),
            },
            MAGIC_COMPLEX => match inner {
                Value::Tuple(parts) => match parts.as_slice() {
                    [Value::Float(re), Value::Float(im)] => Ok(Value::Complex { re: *re, im: *im }),
                    _ => Err(magic_error(name, &Value::Tuple(parts))),
                },
                other => Err(magic_error(name, &other)),
            },
            MAGIC_CLASS => match inner {
                Value::Dict(mut d) => match d.remove(&Value::from("__class__")) {
                    Some(Value::Str(class_name)) => Ok(Value::Class(Box::new(ClassDict {
                        class_name: class_name.to_string(),
                        fields: d,
                    }))),
                    _ => Err(magic_error(name, &Value::Dict(d))),
                },
                other => Err(magic_error(name, &other)),
            },
            _ => Ok(inner),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerializeError> {
        let inner = value.serialize(self.nested()?)?;
        let mut d = Dict::with_capacity(1);
        d.0.push((Value::from(variant), inner));
        Ok(Value::Dict(d))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerializeError> {
        SeqBuilder::new(self, capped(len), false)
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, SerializeError> {
        SeqBuilder::new(self, capped(Some(len)), true)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, SerializeError> {
        SeqBuilder::new(self, capped(Some(len)), true)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<SeqBuilder>, SerializeError> {
        Ok(VariantBuilder {
            variant,
            inner: SeqBuilder::new(self, capped(Some(len)), true)?,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerializeError> {
        MapBuilder::new(self, capped(len))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<MapBuilder, SerializeError> {
        MapBuilder::new(self, capped(Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder>, SerializeError> {
        Ok(VariantBuilder {
            variant,
            inner: MapBuilder::new(self, capped(Some(len)))?,
        })
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<Value, SerializeError> {
        Ok(Value::Str(compact_str::format_compact!("{value}")))
    }
}

fn magic_error(name: &str, found: &Value) -> SerializeError {
    SerializeError::Conversion(format!(
        "internal marker {name} wraps an unexpected {}",
        found.type_name()
    ))
}

/// Collects a sequence or tuple.
struct SeqBuilder {
    ser: ValueSerializer,
    items: Vec<Value>,
    tuple: bool,
}

impl SeqBuilder {
    fn new(ser: ValueSerializer, cap: usize, tuple: bool) -> Result<SeqBuilder, SerializeError> {
        Ok(SeqBuilder {
            ser: ser.nested()?,
            items: Vec::with_capacity(cap),
            tuple,
        })
    }
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.items.push(value.serialize(self.ser)?);
        Ok(())
    }
    fn done(self) -> Value {
        if self.tuple {
            Value::Tuple(self.items)
        } else {
            Value::List(self.items)
        }
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.done())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.done())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.done())
    }
}

/// Collects a map or struct; keys are kept in the order given (Rust maps and
/// structs have unique keys, so no de-duplication is done).
struct MapBuilder {
    ser: ValueSerializer,
    dict: Dict,
    key: Option<Value>,
}

impl MapBuilder {
    fn new(ser: ValueSerializer, cap: usize) -> Result<MapBuilder, SerializeError> {
        Ok(MapBuilder {
            ser: ser.nested()?,
            dict: Dict::with_capacity(cap),
            key: None,
        })
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerializeError> {
        self.key = Some(key.serialize(self.ser)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        let key = self.key.take().ok_or_else(|| {
            SerializeError::Conversion("map value serialized before its key".to_owned())
        })?;
        let value = value.serialize(self.ser)?;
        self.dict.0.push((key, value));
        Ok(())
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(Value::Dict(self.dict))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        let value = value.serialize(self.ser)?;
        self.dict.0.push((Value::from(key), value));
        Ok(())
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(Value::Dict(self.dict))
    }
}

/// Wraps a tuple or struct variant's content as `{variant: content}`.
struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl VariantBuilder<SeqBuilder> {
    fn finish(self) -> Value {
        let mut d = Dict::with_capacity(1);
        d.0.push((Value::from(self.variant), self.inner.done()));
        Value::Dict(d)
    }
}

impl ser::SerializeTupleVariant for VariantBuilder<SeqBuilder> {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.inner.push(value)
    }
    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for VariantBuilder<MapBuilder> {
    type Ok = Value;
    type Error = SerializeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value, SerializeError> {
        let mut d = Dict::with_capacity(1);
        d.0.push((Value::from(self.variant), Value::Dict(self.inner.dict)));
        Ok(Value::Dict(d))
    }
}

/// A sequence of values, serialized as a serde seq.
struct Items<'a>(&'a [Value]);

impl Serialize for Items<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

/// A class object as its wire dict (`__class__` first).
struct ClassMap<'a>(&'a ClassDict);

impl Serialize for ClassMap<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.fields.len() + 1))?;
        map.serialize_entry("__class__", &self.0.class_name)?;
        for (k, v) in self.0.fields.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for Value {
    /// Every variant maps to the closest serde type; Python-only kinds (set,
    /// frozenset, big int as decimal text, complex as `(re, im)`, class object
    /// as its `__class__` dict) are wrapped in private newtype structs that
    /// [`to_value`] recognises and other formats see through. Recursion
    /// follows the value's depth (decoded values are bounded by `MAX_DEPTH`).
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::None => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(b) => s.serialize_newtype_struct(MAGIC_BIGINT, &b.to_string()),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Complex { re, im } => s.serialize_newtype_struct(MAGIC_COMPLEX, &(*re, *im)),
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::List(items) => Items(items).serialize(s),
            Value::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for v in items {
                    t.serialize_element(v)?;
                }
                t.end()
            }
            Value::Set(items) => s.serialize_newtype_struct(MAGIC_SET, &Items(items)),
            Value::FrozenSet(items) => s.serialize_newtype_struct(MAGIC_FROZENSET, &Items(items)),
            Value::Dict(d) => d.serialize(s),
            Value::Class(c) => s.serialize_newtype_struct(MAGIC_CLASS, &ClassMap(c)),
        }
    }
}

impl Serialize for Dict {
    /// A serde map, entries in order.
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
