//! Unit tests for the Dict API, the Value helpers, the equality relations and
//! the serde bridge.

extern crate std;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use std::collections::{HashMap, HashSet};

use num_bigint::BigInt;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;
use crate::serialize::{SerializeError, MAX_DEPTH};

fn s(x: &str) -> Value {
    Value::from(x)
}

// ---------------------------------------------------------------- Dict API

/// Every parse stack, container and move carries whole `Value`s, so their
/// size is a codec speed figure: 32 bytes (a `PyStr`/`Vec` plus the tag).
/// A new variant with a large payload belongs in a `Box`, as `Class` is.
#[test]
fn values_stay_32_bytes_and_short_strings_stay_inline() {
    assert_eq!(core::mem::size_of::<Value>(), 32);
    let Value::Str(s) = Value::from("a 24-byte object id here") else {
        panic!("a &str becomes Value::Str");
    };
    assert_eq!(s.len(), 24);
    assert!(!s.is_heap_allocated(), "up to 24 bytes are stored inline");
    let Value::Str(long) = Value::from("twenty-five bytes of text") else {
        panic!("a &str becomes Value::Str");
    };
    assert!(long.is_heap_allocated());
}

#[test]
fn dict_insert_replaces_in_place_like_python() {
    let mut d = Dict::new();
    assert!(d.is_empty());
    assert_eq!(d.insert("a", 1), None);
    assert_eq!(d.insert(1, "one"), None);
    assert_eq!(d.insert("b", 2), None);
    // 1.0 and True are the same key as 1 in Python: replaced in place, key kept.
    assert_eq!(d.insert(1.0, "float"), Some(s("one")));
    assert_eq!(d.insert(true, "bool"), Some(s("float")));
    assert_eq!(d.len(), 3);
    let keys: Vec<&Value> = d.keys().collect();
    assert!(keys[1].bits_eq(&Value::Int(1)));
    assert_eq!(d.get(&Value::Float(1.0)), Some(&s("bool")));
    assert_eq!(d.get_str("b"), Some(&Value::Int(2)));
    assert!(d.contains_key(&s("a")));
    assert!(!d.contains_key(&s("zz")));
    assert_eq!(d.remove(&s("a")), Some(Value::Int(1)));
    let keys: Vec<&Value> = d.keys().collect();
    assert_eq!(keys, [&Value::Int(1), &s("b")]);
    let values: Vec<&Value> = d.values().collect();
    assert_eq!(values, [&s("bool"), &Value::Int(2)]);
    if let Some(v) = d.get_mut(&s("b")) {
        *v = Value::None;
    }
    assert_eq!(d.get_str("b"), Some(&Value::None));
    assert_eq!(Dict::with_capacity(4).len(), 0);
}

#[test]
fn dict_from_iterator_dedups_and_iterates_in_order() {
    let d: Dict = [("x", 1), ("y", 2), ("x", 3)].into_iter().collect();
    assert_eq!(d.len(), 2);
    assert_eq!(d.get_str("x"), Some(&Value::Int(3)));
    let pairs: Vec<(Value, Value)> = d.clone().into_iter().collect();
    assert_eq!(pairs[0], (s("x"), Value::Int(3)));
    let mut n = 0;
    for (k, _) in &d {
        assert!(k.as_str().is_some());
        n += 1;
    }
    assert_eq!(n, 2);
    assert_eq!(d.iter().count(), 2);
}

#[test]
fn large_str_keyed_dicts_build_in_reasonable_time() {
    // 50k distinct keys plus one repeat: quadratic insertion would take
    // seconds in a debug build; the index keeps it linear-logarithmic.
    let mut pairs: Vec<(String, i64)> = (0..50_000).map(|i| (alloc::format!("k{i}"), i)).collect();
    pairs.push(("k7".into(), -1));
    let d: Dict = pairs.into_iter().collect();
    assert_eq!(d.len(), 50_000);
    assert_eq!(d.get_str("k7"), Some(&Value::Int(-1)));
    assert_eq!(
        d.iter().position(|(k, _)| k.as_str() == Some("k7")),
        Some(7)
    );
    let json = serde_json::to_string(&Value::Dict(d.clone())).unwrap();
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back.as_dict().unwrap().len(), 50_000);
}

// ---------------------------------------------------------------- helpers

#[test]
fn accessors_and_type_names() {
    assert_eq!(s("hi").as_str(), Some("hi"));
    assert_eq!(Value::Int(5).as_i64(), Some(5));
    assert_eq!(Value::Bool(true).as_i64(), None);
    assert_eq!(Value::Int(2).as_f64(), Some(2.0));
    assert_eq!(Value::Float(2.5).as_f64(), Some(2.5));
    assert_eq!(Value::Bool(false).as_bool(), Some(false));
    assert_eq!(Value::bytes(*b"ab").as_bytes(), Some(&b"ab"[..]));
    assert!(Value::None.is_none());
    assert_eq!(Value::tuple([1, 2]).as_seq().map(<[Value]>::len), Some(2));
    let names = [
        (Value::None, "NoneType"),
        (Value::Bool(true), "bool"),
        (Value::Int(1), "int"),
        (Value::from(u128::MAX), "int"),
        (Value::Float(1.0), "float"),
        (Value::Complex { re: 1.0, im: 2.0 }, "complex"),
        (s("x"), "str"),
        (Value::bytes(vec![1]), "bytes"),
        (Value::list([1]), "list"),
        (Value::tuple([1]), "tuple"),
        (Value::Set(vec![]), "set"),
        (Value::FrozenSet(vec![]), "frozenset"),
        (Value::Dict(Dict::new()), "dict"),
        (
            Value::Class(Box::new(ClassDict::new("builtins.ValueError"))),
            "ValueError",
        ),
    ];
    for (v, n) in names {
        assert_eq!(v.type_name(), n);
    }
}

#[test]
fn from_impls_normalise_ints() {
    assert_eq!(Value::from(7u8), Value::Int(7));
    assert_eq!(Value::from(u64::MAX), Value::BigInt(BigInt::from(u64::MAX)));
    assert_eq!(Value::from(-5i128), Value::Int(-5));
    assert_eq!(Value::from(BigInt::from(12)), Value::Int(12));
    assert_eq!(
        Value::from(i64::MIN as i128 - 1),
        Value::BigInt(BigInt::from(i64::MIN as i128 - 1))
    );
    assert_eq!(Value::from('c'), s("c"));
    assert_eq!(Value::from(String::from("x")), s("x"));
    assert_eq!(Value::from(1.5f32), Value::Float(1.5));
    assert_eq!(Value::from(Option::<i32>::None), Value::None);
    assert_eq!(Value::from(Some(3)), Value::Int(3));
    assert_eq!(Value::from(()), Value::None);
    assert_eq!(
        Value::from(vec![Value::None]),
        Value::List(vec![Value::None])
    );
}

// ---------------------------------------------------------------- equality

#[test]
fn py_eq_follows_python() {
    let t = |a: Value, b: Value, want: bool| {
        assert_eq!(a.py_eq(&b), want, "{a:?} == {b:?}");
        assert_eq!(b.py_eq(&a), want, "{b:?} == {a:?}");
    };
    t(Value::Int(1), Value::Float(1.0), true);
    t(Value::Int(1), Value::Bool(true), true);
    t(Value::Int(0), Value::Bool(false), true);
    t(Value::Float(1.0), Value::Complex { re: 1.0, im: 0.0 }, true);
    t(
        Value::Float(1.0),
        Value::Complex { re: 1.0, im: 1.0 },
        false,
    );
    t(Value::Float(f64::NAN), Value::Float(f64::NAN), false);
    t(Value::Float(-0.0), Value::Float(0.0), true);
    t(Value::Float(0.5), Value::Int(0), false);
    // Exact comparison: 2**53 + 1 is not equal to float(2**53).
    t(
        Value::Int((1 << 53) + 1),
        Value::Float((1u64 << 53) as f64),
        false,
    );
    t(Value::Int(1 << 53), Value::Float((1u64 << 53) as f64), true);
    let big = BigInt::from(1u128 << 100);
    t(
        Value::BigInt(big.clone()),
        Value::Float((1u128 << 100) as f64),
        true,
    );
    t(Value::BigInt(BigInt::from(5)), Value::Int(5), true);
    t(Value::Float(f64::INFINITY), Value::BigInt(big), false);
    t(Value::list([1]), Value::tuple([1]), false);
    t(Value::list([1, 2]), Value::list([1.0, 2.0]), true);
    t(
        Value::Set(vec![1.into(), 2.into()]),
        Value::FrozenSet(vec![2.into(), 1.into()]),
        true,
    );
    t(
        Value::Set(vec![1.into()]),
        Value::Set(vec![1.into(), 2.into()]),
        false,
    );
    let d1: Dict = [("a", 1), ("b", 2)].into_iter().collect();
    let d2: Dict = [("b", 2.0), ("a", 1.0)].into_iter().collect();
    t(Value::Dict(d1.clone()), Value::Dict(d2), true);
    t(Value::Dict(d1), Value::Dict(Dict::new()), false);
    t(s("a"), Value::bytes(*b"a"), false);
    t(Value::None, Value::Int(0), false);
}

#[test]
fn bits_eq_is_structural() {
    assert!(Value::Float(f64::NAN).bits_eq(&Value::Float(f64::NAN)));
    assert!(!Value::Float(-0.0).bits_eq(&Value::Float(0.0)));
    assert!(!Value::Int(1).bits_eq(&Value::Bool(true)));
    assert!(!Value::Int(1).bits_eq(&Value::Float(1.0)));
    assert!(Value::Int(5).bits_eq(&Value::BigInt(BigInt::from(5))));
    assert!(!Value::Set(vec![1.into(), 2.into()]).bits_eq(&Value::Set(vec![2.into(), 1.into()])));
    assert!(!Value::Set(vec![]).bits_eq(&Value::FrozenSet(vec![])));
    let d1: Dict = [("a", 1), ("b", 2)].into_iter().collect();
    let d2: Dict = [("b", 2), ("a", 1)].into_iter().collect();
    assert!(!Value::Dict(d1.clone()).bits_eq(&Value::Dict(d2)));
    assert!(Value::Dict(d1.clone()).bits_eq(&Value::Dict(d1)));
}

// ---------------------------------------------------------------- serde: to_value

/// A `serde_bytes`-style wrapper (serialize_bytes / deserialize_byte_buf),
/// written here to avoid a dependency for tests.
#[derive(Debug, Clone, PartialEq)]
struct Raw(Vec<u8>);

impl Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Raw, E> {
                Ok(Raw(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i32, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Named { name: String, sides: u8 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    score: Option<f64>,
    tags: Vec<String>,
    pos: (i32, i32),
    blob: Raw,
    shape: Shape,
    big: u128,
    neg: i128,
    unit: Unit,
    pair: Pair,
    length: Meters,
    flag: bool,
    letter: char,
}

fn record() -> Record {
    Record {
        id: u64::MAX,
        name: "widget".into(),
        score: None,
        tags: vec!["a".into(), "b".into()],
        pos: (-1, 2),
        blob: Raw(vec![0, 255]),
        shape: Shape::Named {
            name: "tri".into(),
            sides: 3,
        },
        big: u128::MAX,
        neg: i128::MIN,
        unit: Unit,
        pair: Pair(7, "seven".into()),
        length: Meters(1.5),
        flag: true,
        letter: 'é',
    }
}

#[test]
fn struct_maps_to_dict_in_field_order() {
    let v = to_value(&record()).unwrap();
    let d = v.as_dict().unwrap();
    let keys: Vec<&str> = d.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "id", "name", "score", "tags", "pos", "blob", "shape", "big", "neg", "unit", "pair",
            "length", "flag", "letter"
        ]
    );
    assert!(d
        .get_str("id")
        .unwrap()
        .bits_eq(&Value::BigInt(BigInt::from(u64::MAX))));
    assert!(d.get_str("score").unwrap().is_none());
    assert!(d.get_str("tags").unwrap().bits_eq(&Value::list(["a", "b"])));
    assert!(d.get_str("pos").unwrap().bits_eq(&Value::tuple([-1, 2])));
    assert!(d
        .get_str("blob")
        .unwrap()
        .bits_eq(&Value::bytes(vec![0, 255])));
    let shape: Dict = [(
        "Named",
        Value::Dict(
            [("name", s("tri")), ("sides", Value::Int(3))]
                .into_iter()
                .collect(),
        ),
    )]
    .into_iter()
    .collect();
    assert!(d.get_str("shape").unwrap().bits_eq(&Value::Dict(shape)));
    assert!(d.get_str("unit").unwrap().is_none());
    assert!(d
        .get_str("pair")
        .unwrap()
        .bits_eq(&Value::tuple([Value::Int(7), s("seven")])));
    assert!(d.get_str("length").unwrap().bits_eq(&Value::Float(1.5)));
    assert!(d.get_str("letter").unwrap().bits_eq(&s("é")));
    assert_eq!(from_value::<Record>(v).unwrap(), record());
}

#[test]
fn enums_are_externally_tagged() {
    assert!(to_value(&Shape::Empty).unwrap().bits_eq(&s("Empty")));
    let c = to_value(&Shape::Circle(2.0)).unwrap();
    assert!(c.bits_eq(&Value::Dict([("Circle", 2.0)].into_iter().collect())));
    let r = to_value(&Shape::Rect(1, 2)).unwrap();
    assert!(r.bits_eq(&Value::Dict(
        [("Rect", Value::tuple([1, 2]))].into_iter().collect()
    )));
    for shape in [Shape::Empty, Shape::Circle(2.0), Shape::Rect(1, 2)] {
        assert_eq!(
            from_value::<Shape>(to_value(&shape).unwrap()).unwrap(),
            shape
        );
    }
    // A list works where Python sent one for the tuple variant.
    let from_list = Value::Dict([("Rect", Value::list([3, 4]))].into_iter().collect());
    assert_eq!(from_value::<Shape>(from_list).unwrap(), Shape::Rect(3, 4));
    let err = from_value::<Shape>(Value::Int(3)).unwrap_err();
    assert!(err.to_string().contains("found Python int"), "{err}");
}

#[test]
fn maps_sets_and_options() {
    let mut hm: HashMap<String, i32> = HashMap::new();
    hm.insert("x".into(), 1);
    let v = to_value(&hm).unwrap();
    assert!(v.bits_eq(&Value::Dict([("x", 1)].into_iter().collect())));
    assert_eq!(from_value::<HashMap<String, i32>>(v).unwrap(), hm);
    let bt: BTreeMap<i64, bool> = [(2, true), (1, false)].into_iter().collect();
    let v = to_value(&bt).unwrap();
    let keys: Vec<&Value> = v.as_dict().unwrap().keys().collect();
    assert_eq!(keys, [&Value::Int(1), &Value::Int(2)]);
    assert_eq!(from_value::<BTreeMap<i64, bool>>(v).unwrap(), bt);
    // Python sets and tuples deserialize as sequences.
    let set = Value::Set(vec![1.into(), 2.into()]);
    let hs: HashSet<i32> = from_value(set).unwrap();
    assert_eq!(hs, [1, 2].into_iter().collect());
    assert_eq!(from_value::<Vec<u8>>(Value::tuple([1, 2])).unwrap(), [1, 2]);
    assert_eq!(
        from_value::<Vec<u8>>(Value::FrozenSet(vec![3.into()])).unwrap(),
        [3]
    );
    assert_eq!(from_value::<Option<i32>>(Value::None).unwrap(), None);
    assert_eq!(from_value::<Option<i32>>(Value::Int(4)).unwrap(), Some(4));
    assert!(to_value(&Some(4)).unwrap().bits_eq(&Value::Int(4)));
    assert_eq!(from_value::<()>(Value::None).unwrap(), ());
    assert_eq!(
        from_value::<(i32, String)>(Value::list([Value::Int(1), s("a")])).unwrap(),
        (1, "a".to_string())
    );
}

#[test]
fn numbers_convert_with_clear_errors() {
    assert_eq!(from_value::<f64>(Value::Int(3)).unwrap(), 3.0);
    assert_eq!(
        from_value::<u128>(Value::from(u128::MAX)).unwrap(),
        u128::MAX
    );
    assert_eq!(
        from_value::<i128>(Value::from(i128::MIN)).unwrap(),
        i128::MIN
    );
    assert_eq!(from_value::<u64>(Value::from(u64::MAX)).unwrap(), u64::MAX);
    let err = from_value::<u8>(Value::Int(300)).unwrap_err();
    assert_eq!(
        err,
        SerializeError::Conversion("int 300 is out of range for u8".into())
    );
    let huge = Value::BigInt(BigInt::from(u128::MAX) * 4);
    assert!(from_value::<u128>(huge.clone())
        .unwrap_err()
        .to_string()
        .contains("out of range for u128"));
    assert!(from_value::<Value>(huge.clone()).unwrap().bits_eq(&huge));
    let err = from_value::<i32>(s("12")).unwrap_err();
    assert_eq!(
        err,
        SerializeError::Conversion("expected i32, found Python str \"12\"".into())
    );
    let err = from_value::<String>(Value::tuple([1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "value conversion failed: expected str, found Python tuple of 1 items"
    );
    let err = from_value::<bool>(Value::Int(1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected bool, found Python int 1"),
        "{err}"
    );
    assert_eq!(
        from_value::<(f64, f64)>(Value::Complex { re: 1.0, im: -2.0 }).unwrap(),
        (1.0, -2.0)
    );
}

#[test]
fn bytes_including_serpent_dict() {
    assert_eq!(
        from_value::<Raw>(Value::bytes(*b"hi")).unwrap(),
        Raw(b"hi".to_vec())
    );
    // serpent's {'data': base64, 'encoding': 'base64'}, as serpent.tobytes reads it.
    let d: Dict = [("data", "aGk="), ("encoding", "base64")]
        .into_iter()
        .collect();
    assert_eq!(
        from_value::<Raw>(Value::Dict(d.clone())).unwrap(),
        Raw(b"hi".to_vec())
    );
    // Asked for a map, the same dict stays a map.
    let m: BTreeMap<String, String> = from_value(Value::Dict(d)).unwrap();
    assert_eq!(m["encoding"], "base64");
    let bad: Dict = [("data", "!!"), ("encoding", "base64")]
        .into_iter()
        .collect();
    assert!(from_value::<Raw>(Value::Dict(bad))
        .unwrap_err()
        .to_string()
        .contains("base64"));
    assert!(from_value::<Raw>(s("hi"))
        .unwrap_err()
        .to_string()
        .contains("expected bytes, found Python str"));
    // A plain Vec<u8> reads bytes as a sequence of ints.
    assert_eq!(from_value::<Vec<u8>>(Value::bytes(*b"ab")).unwrap(), b"ab");
}

#[test]
fn borrowed_strings() {
    let v = Value::tuple(["abc", "def"]);
    let (a, b): (&str, &str) = from_value_ref(&v).unwrap();
    assert_eq!((a, b), ("abc", "def"));
    let bytes = Value::bytes(*b"xy");
    let r: &[u8] = from_value_ref(&bytes).unwrap();
    assert_eq!(r, b"xy");
}

#[test]
fn class_objects_read_as_maps() {
    #[derive(Deserialize)]
    struct Uri {
        #[serde(rename = "__class__")]
        class: String,
        state: (String, String, Option<String>, String, u16),
    }
    let mut c = ClassDict::new("Pyro4.core.URI");
    c.fields.insert(
        "state",
        Value::tuple([
            s("PYRO"),
            s("obj"),
            Value::None,
            s("localhost"),
            Value::Int(9090),
        ]),
    );
    let u: Uri = from_value(Value::Class(Box::new(c))).unwrap();
    assert_eq!(u.class, "Pyro4.core.URI");
    assert_eq!(u.state.4, 9090);
}

#[test]
fn value_round_trips_exactly_through_serde() {
    let mut class = ClassDict::new("builtins.ValueError");
    class.fields.insert("__exception__", true);
    class.fields.insert("args", Value::tuple(["bad"]));
    let v = Value::list([
        Value::tuple([Value::Float(f64::NAN), Value::Float(-0.0)]),
        Value::Set(vec![1.into(), s("x")]),
        Value::FrozenSet(vec![]),
        Value::Complex { re: 1.0, im: -2.5 },
        Value::from(u128::MAX),
        Value::BigInt(BigInt::from(-7) * BigInt::from(u128::MAX)),
        Value::bytes(vec![0, 1]),
        Value::Dict(
            [
                (Value::tuple([1, 2]), s("tuple key")),
                (Value::Int(1), Value::None),
            ]
            .into_iter()
            .collect(),
        ),
        Value::Class(Box::new(class)),
    ]);
    let back: Value = from_value(v.clone()).unwrap();
    assert!(back.bits_eq(&v), "{back:?}");
    let again = to_value(&v).unwrap();
    assert!(again.bits_eq(&v), "{again:?}");
    // Dict itself.
    let d: Dict = from_value(Value::Dict([("k", 1)].into_iter().collect())).unwrap();
    assert_eq!(d.get_str("k"), Some(&Value::Int(1)));
    assert!(from_value::<Dict>(Value::Int(1)).is_err());
}

#[test]
fn value_through_other_serde_formats() {
    let v = Value::Dict(
        [("a", Value::tuple([1, 2])), ("b", Value::None)]
            .into_iter()
            .collect(),
    );
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"a":[1,2],"b":null}"#);
    let back: Value = serde_json::from_str(&json).unwrap();
    let want = Value::Dict(
        [("a", Value::list([1, 2])), ("b", Value::None)]
            .into_iter()
            .collect(),
    );
    assert!(back.bits_eq(&want), "{back:?}");
}

#[test]
fn serde_depth_is_bounded() {
    let mut deep = Value::None;
    for _ in 0..(MAX_DEPTH + 10) {
        deep = Value::list([deep]);
    }
    assert_eq!(
        from_value::<Value>(deep.clone()).unwrap_err(),
        SerializeError::TooDeep { limit: MAX_DEPTH }
    );
    assert_eq!(
        to_value(&deep).unwrap_err(),
        SerializeError::TooDeep { limit: MAX_DEPTH }
    );
}

// ---------------------------------------------------------------- proptest

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::from),
        any::<u128>().prop_map(|n| Value::from_bigint(BigInt::from(n) * 3)),
        any::<f64>().prop_map(Value::Float),
        (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex { re, im }),
        ".{0,8}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Tuple),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Set),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::FrozenSet),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4)
                .prop_map(|p| Value::Dict(Dict(p))),
            (
                "[a-z.]{1,12}",
                proptest::collection::vec((inner.clone(), inner), 0..4)
            )
                .prop_map(|(class_name, p)| Value::Class(Box::new(ClassDict {
                    class_name,
                    fields: Dict(p)
                }))),
        ]
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mixed {
    a: i64,
    b: Option<String>,
    c: Vec<(u8, bool)>,
    d: BTreeMap<String, f64>,
    e: Raw,
    f: Shape,
    g: u128,
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>()
            .prop_filter("no NaN", |f| !f.is_nan())
            .prop_map(Shape::Circle),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Shape::Rect(a, b)),
        (".{0,6}", any::<u8>()).prop_map(|(name, sides)| Shape::Named { name, sides }),
    ]
}

proptest! {
    #[test]
    fn prop_value_serde_identity(v in arb_value()) {
        let back: Value = from_value(v.clone()).unwrap();
        prop_assert!(back.bits_eq(&v), "{:?} != {:?}", back, v);
        let again = to_value(&v).unwrap();
        prop_assert!(again.bits_eq(&v), "{:?} != {:?}", again, v);
    }

    #[test]
    fn prop_py_eq_is_reflexive_without_nan(v in arb_value()) {
        fn has_nan(v: &Value) -> bool {
            match v {
                Value::Float(f) => f.is_nan(),
                Value::Complex { re, im } => re.is_nan() || im.is_nan(),
                Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => x.iter().any(has_nan),
                Value::Dict(d) => d.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
                Value::Class(c) => c.fields.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
                _ => false,
            }
        }
        prop_assume!(!has_nan(&v));
        // Dicts with keys equal under Python == (1 and True) are not real dicts.
        prop_assert!(v.bits_eq(&v));
        let dup_keys = |d: &Dict| d.iter().enumerate().any(|(i, (k, _))| d.iter().skip(i + 1).any(|(k2, _)| k.py_eq(k2)));
        fn all_dicts(v: &Value, f: &dyn Fn(&Dict) -> bool) -> bool {
            match v {
                Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => x.iter().all(|y| all_dicts(y, f)),
                Value::Dict(d) => f(d) && d.iter().all(|(k, v)| all_dicts(k, f) && all_dicts(v, f)),
                Value::Class(c) => f(&c.fields) && c.fields.iter().all(|(k, v)| all_dicts(k, f) && all_dicts(v, f)),
                _ => true,
            }
        }
        prop_assume!(all_dicts(&v, &|d| !dup_keys(d)));
        prop_assert!(v.py_eq(&v));
    }

    #[test]
    fn prop_struct_round_trip(
        a in any::<i64>(),
        b in proptest::option::of(".{0,6}"),
        c in proptest::collection::vec((any::<u8>(), any::<bool>()), 0..4),
        d in proptest::collection::btree_map("[a-z]{0,4}", any::<f64>().prop_filter("no NaN", |f| !f.is_nan()), 0..4),
        e in proptest::collection::vec(any::<u8>(), 0..8),
        f in arb_shape(),
        g in any::<u128>(),
    ) {
        let m = Mixed { a, b, c, d, e: Raw(e), f, g };
        let v = to_value(&m).unwrap();
        prop_assert_eq!(from_value::<Mixed>(v.clone()).unwrap(), m.clone());
        prop_assert_eq!(from_value_ref::<Mixed>(&v).unwrap(), m);
    }
}
