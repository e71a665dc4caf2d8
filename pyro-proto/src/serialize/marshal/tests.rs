//! Unit tests: byte strings produced by CPython 3.11 `marshal.dumps`, the
//! reference table, the limits, and a Rust -> Rust round-trip property.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use num_bigint::BigInt;
use proptest::prelude::*;

use super::{dumps, dumps_call, loads, loads_call};
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn big(text: &str) -> Value {
    Value::BigInt(text.parse::<BigInt>().unwrap())
}

fn malformed(r: Result<Value, SerializeError>) -> (usize, String) {
    match r {
        Err(SerializeError::Malformed {
            codec: "marshal",
            offset,
            reason,
        }) => (offset, reason),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// Values and the bytes CPython 3.11 writes for them, with FLAG_REF cleared
/// (python3 -c "import marshal; print(marshal.dumps(v).hex())", then the
/// 0x80 bit of each type code removed, `Z` read as `z`).
fn python_pairs() -> Vec<(Value, &'static str)> {
    vec![
        (Value::Int(0), "6900000000"),
        (Value::Int(-1), "69ffffffff"),
        (Value::Int(2147483647), "69ffffff7f"),
        (Value::Int(2147483648), "6c03000000000000000200"),
        (Value::Int(-2147483648), "6900000080"),
        (Value::Int(-2147483649), "6cfdffffff010000000200"),
        (Value::Int(i64::MAX), "6c05000000ff7fff7fff7fff7f0700"),
        (Value::Int(i64::MIN), "6cfbffffff00000000000000000800"),
        (big("9223372036854775808"), "6c0500000000000000000000000800"),
        (
            big("1180591620717411303424"),
            "6c0500000000000000000000000004",
        ),
        (
            big("-1267650600228229401496703205376"),
            "6cf9ffffff0000000000000000000000000004",
        ),
        (Value::Float(1.5), "67000000000000f83f"),
        (Value::Float(-0.0), "670000000000000080"),
        (
            Value::Complex { re: 1.0, im: 2.0 },
            "79000000000000f03f0000000000000040",
        ),
        (s("abc"), "7a03616263"),
        (s("é"), "7502000000c3a9"),
        (Value::Bytes(vec![0, 0xff]), "730200000000ff"),
        (Value::Tuple(vec![]), "2900"),
        (
            Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
            "2902e901000000e902000000",
        ),
        (Value::List(vec![]), "5b00000000"),
        (
            Value::List(vec![Value::None, Value::Bool(true), Value::Bool(false)]),
            "5b030000004e5446",
        ),
        (Value::Dict(Dict::default()), "7b30"),
        (
            Value::Dict(Dict(vec![(s("a"), Value::Int(1))])),
            "7b7a0161e90100000030",
        ),
        (Value::Set(vec![]), "3c00000000"),
        (Value::FrozenSet(vec![]), "3e00000000"),
        (Value::Set(vec![Value::Int(1)]), "3c01000000e901000000"),
        (
            Value::FrozenSet(vec![Value::Int(2)]),
            "3e01000000e902000000",
        ),
    ]
}

/// The item codes inside those strings still carry Python's FLAG_REF; clear
/// it on the item `i` codes too for the writer comparison.
fn without_item_refs(h: &str) -> Vec<u8> {
    let mut b = hex(h);
    // Only `e9` (i|FLAG_REF) occurs inside the samples above.
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0xe9 {
            b[i] = b'i';
            i += 5;
        } else {
            i += 1;
        }
    }
    b
}

#[test]
fn reads_what_python_writes() {
    for (value, h) in python_pairs() {
        assert_eq!(loads(&hex(h)).unwrap(), value, "{h}");
    }
}

#[test]
fn writes_what_python_writes() {
    for (value, h) in python_pairs() {
        assert_eq!(dumps(&value).unwrap(), without_item_refs(h), "{value:?}");
    }
    // Long forms: 'a' for ASCII >= 256 bytes, '(' for tuples >= 256 items.
    let long = "x".repeat(300);
    let mut want = vec![b'a', 0x2c, 0x01, 0, 0];
    want.extend_from_slice(long.as_bytes());
    assert_eq!(dumps(&s(&long)).unwrap(), want);
    let tuple = Value::Tuple((0..300).map(Value::Int).collect());
    assert_eq!(&dumps(&tuple).unwrap()[..5], &hex("282c010000")[..]);
    assert_eq!(loads(&dumps(&tuple).unwrap()).unwrap(), tuple);
}

#[test]
fn class_is_a_dict_with_class_first() {
    let v = Value::Class(Box::new(ClassDict {
        class_name: "Pyro4.core.URI".to_string(),
        fields: Dict(vec![(s("state"), Value::Tuple(vec![s("PYRO")]))]),
    }));
    let bytes = dumps(&v).unwrap();
    assert_eq!(
        bytes,
        hex("7b7a095f5f636c6173735f5f7a0e5079726f342e636f72652e5552497a057374617465290 17a045059524f30".replace(' ', "").as_str())
    );
    // Read back raw: a plain dict, `__class__` first.
    let Value::Dict(d) = loads(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(d.0[0], (s("__class__"), s("Pyro4.core.URI")));
}

#[test]
fn flag_ref_and_back_references() {
    // l = [1, 2]; marshal.dumps([l, l])
    let v = loads(&hex("5b02000000db02000000e901000000e9020000007200000000")).unwrap();
    let inner = Value::List(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(v, Value::List(vec![inner.clone(), inner]));
    // A reference to a string (interned 'Z' with FLAG_REF) used as key and value.
    let v = loads(&hex("7bda0178720000000030")).unwrap();
    assert_eq!(v, Value::Dict(Dict(vec![(s("x"), s("x"))])));
    // Back-reference inside a back-referenced object: indices are not re-registered.
    let v = loads(&hex(
        "5b03000000db02000000da016172010000007200000000e903000000",
    ))
    .unwrap();
    let pair = Value::List(vec![s("a"), s("a")]);
    assert_eq!(v, Value::List(vec![pair.clone(), pair, Value::Int(3)]));
}

#[test]
fn bad_references() {
    // Index out of range, negative, or to a container still being read.
    let (off, why) = malformed(loads(&hex("7201000000")));
    assert_eq!(off, 0);
    assert!(why.contains("invalid reference"), "{why}");
    let (_, why) =
        malformed(loads(&hex("5b01000000e901000000")).and_then(|_| loads(&hex("72ffffffff"))));
    assert!(why.contains("invalid reference"), "{why}");
    let (off, why) = malformed(loads(&hex("db010000007200000000")));
    assert_eq!(off, 5);
    assert!(why.contains("still being read"), "{why}");
    // frozenset is registered only after its items, as in CPython.
    let (_, why) = malformed(loads(&hex("be01000000 7200000000"
        .replace(' ', "")
        .as_str())));
    assert!(why.contains("still being read"), "{why}");
}

#[test]
fn reference_bomb_is_bounded() {
    // t0 = (1,), t(k+1) = (r(tk), r(tk)): 2^40 leaves if expanded naively.
    let (_, why) = malformed(loads(&reference_chain("a901e901000000")));
    assert!(why.contains("reference bomb"), "{why}");
}

/// A list of 41 tuples: `t0` (given as hex: a flagged tuple registering
/// slot 0 and one flagged object, slot 1), then t(k+1) = (r(tk), r(tk)),
/// which is slot k + 2. Expanded naively, the last one has 2^40 leaves.
fn reference_chain(t0: &str) -> Vec<u8> {
    let mut data = vec![b'[', 41, 0, 0, 0];
    data.extend_from_slice(&hex(t0));
    for k in 0..40u32 {
        let prev = if k == 0 { 0 } else { k + 1 };
        data.extend_from_slice(&[0xa9, 2, b'r']);
        data.extend_from_slice(&prev.to_le_bytes());
        data.push(b'r');
        data.extend_from_slice(&prev.to_le_bytes());
    }
    data
}

#[test]
fn depth_is_limited() {
    let mut ok = Vec::new();
    for _ in 0..MAX_DEPTH {
        ok.extend_from_slice(&[b')', 1]);
    }
    ok.push(b'N');
    assert!(loads(&ok).is_ok());
    let mut deep = vec![b')', 1];
    deep.extend_from_slice(&ok);
    assert_eq!(
        loads(&deep),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );
    // Far deeper than any stack would allow: still an error, not a crash.
    let huge: Vec<u8> = core::iter::repeat_n([b'[', 1, 0, 0, 0], 100_000)
        .flatten()
        .collect();
    assert_eq!(
        loads(&huge),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );
    // The same through the item reader's own list and dict paths: flagged
    // lists, and dicts nested as values (`{None: {None: ...`).
    for unit in [&[0xdb, 1, 0, 0, 0][..], b"{N", &[0xfb, 0xce]] {
        assert_eq!(
            loads(&unit.repeat(100_000)),
            Err(SerializeError::TooDeep { limit: MAX_DEPTH }),
            "{unit:02x?}"
        );
    }
    // The writer refuses what the reader would refuse.
    let mut v = Value::None;
    for _ in 0..=MAX_DEPTH {
        v = Value::List(vec![v]);
    }
    assert_eq!(dumps(&v), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
}

/// A list's int items cut short: the message and offset are those of the
/// item reader, flagged or not, whichever path read the earlier items.
#[test]
fn truncated_list_items() {
    // [1, <int with 3 of its 4 bytes>]
    for (h, off) in [
        ("5b02000000e901000000e9020000", 11),
        ("5b02000000690100000069020000", 11),
        ("5b02000000690100000069", 11),
    ] {
        let (at, why) = malformed(loads(&hex(h)));
        assert_eq!(at, off, "{h}: {why}");
        assert!(why.contains("int needs 4 bytes"), "{h}: {why}");
    }
    // Only one of the two items arrived.
    let (at, why) = malformed(loads(&hex("5b02000000e901000000")));
    assert_eq!(at, 10);
    assert!(why.contains("EOF read where object expected"), "{why}");
}

#[test]
fn declared_sizes_are_not_trusted() {
    for h in [
        "5bffffff7f",
        "28ffffff7f",
        "73ffffff7f",
        "75ffffff7f",
        "6cffffff7f",
        "3cffffff7f",
    ] {
        let (_, why) = malformed(loads(&hex(h)));
        assert!(
            why.contains("truncated") || why.contains("EOF"),
            "{h}: {why}"
        );
    }
    for h in ["5bffffffff", "73ffffffff", "6c00000080"] {
        let (_, why) = malformed(loads(&hex(h)));
        assert!(why.contains("out of range"), "{h}: {why}");
    }
}

#[test]
fn big_int_edges() {
    // Unnormalised (top digit zero) and out-of-range digits are refused like CPython.
    assert!(
        malformed(loads(&hex("6c020000000100 0000".replace(' ', "").as_str())))
            .1
            .contains("unnormalized")
    );
    assert!(malformed(loads(&hex("6c010000000080")))
        .1
        .contains("digit out of range"));
    assert_eq!(loads(&hex("6c00000000")).unwrap(), Value::Int(0));
    // 9 digits (135 bits) takes the general path.
    let v = big("43556142965880123323311949751266331066368"); // 2**135
    let b = dumps(&v).unwrap();
    assert_eq!(b.len(), 5 + 2 * 10);
    assert_eq!(loads(&b).unwrap(), v);
    let neg = big("-43556142965880123323311949751266331066367");
    assert_eq!(loads(&dumps(&neg).unwrap()).unwrap(), neg);
}

#[test]
fn strings() {
    // Short-ASCII codes are one byte per code point (Latin-1), unchecked.
    assert_eq!(loads(&hex("7a02e9ff")).unwrap(), s("éÿ"));
    // Bytes that happen to be valid UTF-8 still read as Latin-1 ("é" in
    // UTF-8 is two Latin-1 characters), after an ASCII prefix too.
    assert_eq!(loads(&hex("7a02c3a9")).unwrap(), s("Ã©"));
    assert_eq!(loads(&hex("7a0341c3a9")).unwrap(), s("AÃ©"));
    assert_eq!(loads(&hex("7a00")).unwrap(), s(""));
    // One character, ASCII or not (its own path), flagged or not.
    assert_eq!(loads(&hex("7a0161")).unwrap(), s("a"));
    assert_eq!(loads(&hex("da017e")).unwrap(), s("~"));
    assert_eq!(loads(&hex("7a01e9")).unwrap(), s("é"));
    assert_eq!(loads(&hex("5a0180")).unwrap(), s("\u{80}"));
    assert_eq!(loads(&hex("41010000007f")).unwrap(), s("\u{7f}"));
    assert_eq!(loads(&hex("4103000000616263")).unwrap(), s("abc"));
    assert_eq!(loads(&hex("7400000000")).unwrap(), s(""));
    // Astral plane.
    assert_eq!(loads(&hex("7504000000f09f9880")).unwrap(), s("😀"));
    let (off, why) = malformed(loads(&hex("7503000000eda080")));
    assert_eq!(off, 5);
    assert!(why.contains("U+D800"), "{why}");
    let (_, why) = malformed(loads(&hex("7501000000ff")));
    assert!(why.contains("UTF-8"), "{why}");
}

#[test]
fn floats_bit_exact_and_text_forms() {
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let Value::Float(back) = loads(&dumps(&Value::Float(nan)).unwrap()).unwrap() else {
        panic!()
    };
    assert_eq!(back.to_bits(), nan.to_bits());
    // Version-0/1 text floats and complexes.
    assert_eq!(loads(&hex("6603312e35")).unwrap(), Value::Float(1.5));
    assert_eq!(
        loads(&hex("66042d696e66")).unwrap(),
        Value::Float(f64::NEG_INFINITY)
    );
    assert_eq!(
        loads(&hex("7803312e350132")).unwrap(),
        Value::Complex { re: 1.5, im: 2.0 }
    );
    assert!(malformed(loads(&hex("6603312e7a"))).1.contains("float"));
}

#[test]
fn dict_and_set_follow_python_equality() {
    // {1: 'a', 1.0: 'b', True: 'c'} -> {1: 'c'}
    let v = loads(&hex(
        "7b e901000000 7a0161 67000000000000f03f 7a0162 54 7a0163 30"
            .replace(' ', "")
            .as_str(),
    ))
    .unwrap();
    assert_eq!(v, Value::Dict(Dict(vec![(Value::Int(1), s("c"))])));
    // A set {1, 1.0, 2} keeps the first of the equal elements.
    let v = loads(&hex("3c03000000 e901000000 67000000000000f03f e902000000"
        .replace(' ', "")
        .as_str()))
    .unwrap();
    assert_eq!(v, Value::Set(vec![Value::Int(1), Value::Int(2)]));
    // Large dict with duplicates (hash path).
    let mut data = vec![b'{'];
    for i in 0..40 {
        data.push(b'i');
        data.extend_from_slice(&(i % 20i32).to_le_bytes());
        data.push(b'i');
        data.extend_from_slice(&i.to_le_bytes());
    }
    data.push(b'0');
    let Value::Dict(d) = loads(&data).unwrap() else {
        panic!()
    };
    assert_eq!(d.0.len(), 20);
    assert_eq!(d.0[3], (Value::Int(3), Value::Int(23)));
    // Unhashable key: refused like CPython's TypeError.
    let (_, why) = malformed(loads(&hex("7b5b000000004e30")));
    assert!(why.contains("unhashable type: 'list'"), "{why}");
    // CPython ends a dict silently at a NULL value.
    assert_eq!(
        loads(&hex("7be90100000030")).unwrap(),
        Value::Dict(Dict::default())
    );
}

#[test]
fn refused_codes() {
    for (h, word) in [
        ("53", "StopIteration"),
        ("2e", "Ellipsis"),
        ("63", "code objects"),
        ("e3", "code objects"),
        ("3a", "slice"),
        ("3f", "unknown type code"),
        ("30", "NULL object"),
        ("", "EOF"),
    ] {
        let (_, why) = malformed(loads(&hex(h)));
        assert!(why.contains(word), "{h}: {why}");
    }
    let (off, why) = malformed(loads(&hex("2902e90100000030")));
    assert_eq!(off, 7);
    assert!(
        why.contains("NULL object in marshal data for tuple"),
        "{why}"
    );
    // Each container names itself (flagged or not); a dict's NULL ends it.
    for (h, off, kind) in [
        ("280200000030", 5, "tuple"),
        ("5b0100000030", 5, "list"),
        ("db01000000b0", 5, "list"),
        ("3c0100000030", 5, "set"),
        ("3e0100000030", 5, "set"),
        ("5b010000003c0100000030", 10, "set"),
    ] {
        let (at, why) = malformed(loads(&hex(h)));
        assert_eq!(at, off, "{h}: {why}");
        assert!(
            why.contains(&alloc::format!("NULL object in marshal data for {kind}")),
            "{h}: {why}"
        );
    }
    let err = loads_call(&hex("5b0400000030")).unwrap_err().to_string();
    assert!(
        err.contains("NULL object in marshal data for list"),
        "{err}"
    );
}

#[test]
fn trailing_bytes_are_ignored_like_python() {
    assert_eq!(loads(b"Nxyz").unwrap(), Value::None);
}

#[test]
fn call_round_trip_and_vector_bytes() {
    // Pyro4's dumpsCall('test.obj', 'multiply', (6, 7), {}), FLAG_REF stripped
    // ('Z' -> 'z' too): ours is identical.
    let call = Call {
        object: "test.obj".into(),
        method: "multiply".into(),
        vargs: Value::Tuple(vec![Value::Int(6), Value::Int(7)]),
        kwargs: Some(Dict::default()),
    };
    let bytes = dumps_call(&call).unwrap();
    assert_eq!(
        bytes,
        hex(
            "29047a08746573742e6f626a7a086d756c7469706c795b0200000069060000006907000000 7b30"
                .replace(' ', "")
                .as_str()
        )
    );
    let back = loads_call(&hex(
        "2904fa08746573742e6f626ada086d756c7469706c79db02000000e906000000e907000000fb30",
    ))
    .unwrap();
    assert_eq!(back.object, "test.obj");
    assert_eq!(back.method, "multiply");
    assert_eq!(back.vargs, Value::List(vec![Value::Int(6), Value::Int(7)]));
    assert_eq!(back.kwargs, Some(Dict::default()));
    // kwargs None (attribute access, batch) is written as None and read back.
    let attr = Call {
        kwargs: None,
        method: "__getattr__".into(),
        vargs: Value::Tuple(vec![s("value")]),
        ..call
    };
    let back = loads_call(&dumps_call(&attr).unwrap()).unwrap();
    assert_eq!(back.kwargs, None);
    assert_eq!(back.vargs, Value::List(vec![s("value")]));
}

#[test]
fn bad_calls() {
    let bad = |v: Value| loads_call(&dumps(&v).unwrap());
    for v in [
        Value::None,
        Value::Tuple(vec![s("a"), s("b"), Value::List(vec![])]),
        Value::Tuple(vec![
            Value::Int(1),
            s("b"),
            Value::List(vec![]),
            Value::None,
        ]),
        Value::Tuple(vec![s("a"), s("b"), Value::None, Value::None]),
        Value::Tuple(vec![s("a"), s("b"), Value::List(vec![]), Value::Int(1)]),
    ] {
        assert!(matches!(bad(v), Err(SerializeError::BadCall(_))));
    }
    let call = Call {
        object: "o".into(),
        method: "m".into(),
        vargs: Value::Int(1),
        kwargs: None,
    };
    assert!(matches!(dumps_call(&call), Err(SerializeError::BadCall(_))));
}

/// Equality with floats compared by bits (NaN payloads, signed zeros).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Float(x), Float(y)) => x.to_bits() == y.to_bits(),
        (Complex { re: a, im: b }, Complex { re: c, im: d }) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (List(x), List(y))
        | (Tuple(x), Tuple(y))
        | (Set(x), Set(y))
        | (FrozenSet(x), FrozenSet(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Dict(x), Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-0.0),
        Just(f64::INFINITY),
        (any::<u64>()).prop_map(|p| f64::from_bits(0x7ff0_0000_0000_0001 | p)),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i32>().prop_map(|i| Value::Int(i as i64)),
        (any::<i64>(), 1u32..200).prop_map(|(i, shift)| {
            let b = BigInt::from(i) << (64 + shift);
            if b == BigInt::from(0) {
                Value::Int(0)
            } else {
                Value::BigInt(b)
            }
        }),
        float().prop_map(Value::Float),
        (float(), float()).prop_map(|(re, im)| Value::Complex { re, im }),
        ".{0,40}".prop_map(Value::from),
        "[a-z]{250,300}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
    ]
}

/// Hashable values with distinct Python identities, for keys and set items.
fn keys_strategy() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(
        prop_oneof![
            any::<i64>().prop_map(Value::Int),
            ".{0,10}".prop_map(Value::from),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
            (any::<i32>(), ".{0,4}")
                .prop_map(|(i, t)| Value::Tuple(vec![Value::Int(i as i64), Value::Str(t.into())])),
        ],
        0..8,
    )
    .prop_map(crate::serialize::keys::dedup_set)
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Tuple),
            keys_strategy().prop_map(Value::Set),
            keys_strategy().prop_map(Value::FrozenSet),
            (keys_strategy(), proptest::collection::vec(inner, 8))
                .prop_map(|(ks, vs)| { Value::Dict(Dict(ks.into_iter().zip(vs).collect())) }),
        ]
    })
}

proptest! {
    #[test]
    fn rust_round_trip(v in value()) {
        let bytes = dumps(&v).unwrap();
        let back = loads(&bytes).unwrap();
        prop_assert!(same(&back, &v), "{:?} -> {:?}", v, back);
        prop_assert_eq!(dumps(&back).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = loads(&data) {
            let again = loads(&dumps(&v).unwrap()).unwrap();
            prop_assert!(same(&again, &v));
        }
        let _ = loads_call(&data);
    }
}

#[test]
fn back_references_respect_the_depth_limit() {
    // [A, [[...[r(A)]...]]] with A 200 lists deep, referenced 100 lists down:
    // the copy would nest 301 deep.
    let mut data = vec![b'[', 2, 0, 0, 0, 0xdb, 1, 0, 0, 0];
    for _ in 0..199 {
        data.extend_from_slice(&[b'[', 1, 0, 0, 0]);
    }
    data.push(b'N');
    let shallow = data.clone();
    for _ in 0..100 {
        data.extend_from_slice(&[b'[', 1, 0, 0, 0]);
    }
    data.extend_from_slice(&[b'r', 0, 0, 0, 0]);
    assert_eq!(
        loads(&data),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );
    // The same reference right at the top level is fine.
    let mut ok = shallow;
    ok.extend_from_slice(&[b'r', 0, 0, 0, 0]);
    let Value::List(items) = loads(&ok).unwrap() else {
        panic!()
    };
    assert_eq!(items[0], items[1]);
}

/// Each container reads exactly its own items: a dict cut short by a NULL
/// value inside a list, a back-reference replayed inside a dict, and sibling
/// containers.
#[test]
fn containers_take_exactly_their_items() {
    // [ {1: 2, 3: NULL}, 7 ]: the inner dict keeps {1: 2} and drops key 3.
    let v = loads(&hex(
        "5b020000007be901000000e902000000e90300000030e907000000",
    ))
    .unwrap();
    assert_eq!(
        v,
        Value::List(vec![
            Value::Dict(Dict(vec![(Value::Int(1), Value::Int(2))])),
            Value::Int(7)
        ])
    );
    // ("ab" flagged as ref 0, {"k": r0}, r0): replays inside and after a dict.
    let v = loads(&hex("2903da0261627b7a016b7200000000307200000000")).unwrap();
    assert_eq!(
        v,
        Value::Tuple(vec![
            s("ab"),
            Value::Dict(Dict(vec![(s("k"), s("ab"))])),
            s("ab")
        ])
    );
    // Long one-byte-per-char strings take the validated path; Latin-1 bytes
    // still map to code points, ASCII stays as is.
    let long_ascii = "x".repeat(40);
    let mut data = vec![b'a', 40, 0, 0, 0];
    data.extend_from_slice(long_ascii.as_bytes());
    assert_eq!(loads(&data).unwrap(), s(&long_ascii));
    let mut data = vec![b'a', 20, 0, 0, 0];
    data.extend_from_slice(&[0xe9u8; 20]);
    assert_eq!(loads(&data).unwrap(), s(&"é".repeat(20)));
}

/// Flagged leaves read by the container loops' inline path register their
/// reference slot exactly as `object` does: CPython 3.11's
/// `MarshalSerializer.dumpsCall` of the typical call (every object flagged),
/// and back-references to a flagged int, float and string in a list.
#[test]
fn flagged_leaves_register_like_objects() {
    let call = loads_call(&hex("2904fa08746573742e6f626ada066d6574686f64db05000000da0568656c6c6fe92a000000e70000000000000a40db0a000000e900000000e901000000e902000000e903000000e904000000e905000000e906000000e907000000e908000000e909000000fbda01617208000000da0162da0374776f30fb30")).unwrap();
    assert_eq!(call.object, "test.obj");
    assert_eq!(call.method, "method");
    assert_eq!(
        call.vargs,
        Value::List(vec![
            s("hello"),
            Value::Int(42),
            Value::Float(3.25),
            Value::List((0..10).map(Value::Int).collect()),
            Value::Dict(Dict(vec![(s("a"), Value::Int(1)), (s("b"), s("two"))])),
        ])
    );
    assert_eq!(call.kwargs, Some(Dict::default()));
    // [7 (ref 0), 1.5 (ref 1), "q" (ref 2), r2, r1, r0]
    let v = loads(&hex(
        "5b06000000e907000000e7000000000000f83fda0171720200000072010000007200000000",
    ))
    .unwrap();
    assert_eq!(
        v,
        Value::List(vec![
            Value::Int(7),
            Value::Float(1.5),
            s("q"),
            s("q"),
            Value::Float(1.5),
            Value::Int(7)
        ])
    );
}

/// More registered objects than the reader keeps inline: references past
/// the inline part resolve, and a container registered there is still
/// refused while it is being read.
#[test]
fn many_references() {
    fn i32le(v: i32) -> [u8; 4] {
        v.to_le_bytes()
    }
    // A flagged list (ref 0) of 40 flagged ints (refs 1..=40, values 0..40)
    // and back-references on both sides of any inline size from 16 to 32.
    const BACK: [i32; 10] = [0, 14, 15, 22, 23, 24, 30, 31, 32, 39];
    let mut b = vec![b'[' | 0x80];
    b.extend(i32le(40 + BACK.len() as i32));
    for k in 0..40 {
        b.push(b'i' | 0x80);
        b.extend(i32le(k));
    }
    for k in BACK {
        b.push(b'r');
        b.extend(i32le(k + 1));
    }
    let mut want: Vec<Value> = (0..40).map(Value::Int).collect();
    want.extend(BACK.map(|k| Value::Int(k as i64)));
    assert_eq!(loads(&b).unwrap(), Value::List(want));
    // A reference to the outer list itself, registered first, is refused...
    let mut bad = b.clone();
    bad.truncate(bad.len() - 5);
    bad.push(b'r');
    bad.extend(i32le(0));
    let (_, why) = malformed(loads(&bad));
    assert!(why.contains("still being read"), "{why}");
    // ...as is one to a list registered past the inline part (ref 41) from
    // inside it, and one to a slot that was never registered.
    let mut b = vec![b'['];
    b.extend(i32le(41));
    for k in 0..40 {
        b.push(b'i' | 0x80);
        b.extend(i32le(k));
    }
    let nested_at = b.len();
    b.push(b'[' | 0x80);
    b.extend(i32le(1));
    b.push(b'r');
    b.extend(i32le(40));
    let (off, why) = malformed(loads(&b));
    assert_eq!(off, nested_at + 5);
    assert!(why.contains("still being read"), "{why}");
    let n = b.len();
    b[n - 4..].copy_from_slice(&i32le(41));
    let (_, why) = malformed(loads(&b));
    assert!(
        why.contains("invalid reference 41: 41 objects registered"),
        "{why}"
    );
    // Once read, that list resolves too: [ints..., [x], r41] (x = ref 39).
    let mut b = vec![b'['];
    b.extend(i32le(42));
    for k in 0..40 {
        b.push(b'i' | 0x80);
        b.extend(i32le(k));
    }
    b.push(b'[' | 0x80);
    b.extend(i32le(1));
    b.push(b'r');
    b.extend(i32le(39));
    b.push(b'r');
    b.extend(i32le(40));
    let mut want: Vec<Value> = (0..40).map(Value::Int).collect();
    want.push(Value::List(vec![Value::Int(39)]));
    want.push(Value::List(vec![Value::Int(39)]));
    assert_eq!(loads(&b).unwrap(), Value::List(want));
}

/// `loads_call` unpacks a top-level 4-item tuple or list without building its
/// vector; every form `marshal.loads` reads must still register, refuse and
/// report exactly as the generic reader does.
#[test]
fn call_top_level_forms() {
    let o_m = "7a016f7a016d";
    // '(' and '[' with an int32 count of four, and the small ')' form.
    for head in ["2804000000", "5b04000000", "2904"] {
        let call = loads_call(&hex(&alloc::format!("{head}{o_m}5b000000004e"))).unwrap();
        assert_eq!((call.object.as_str(), call.method.as_str()), ("o", "m"));
        assert_eq!(call.vargs, Value::List(vec![]));
        assert_eq!(call.kwargs, None);
    }
    // A flagged top-level tuple takes reference 0 and the flagged "o" 1, so
    // r1 in the arguments is "o" ...
    let call = loads_call(&hex("a904fa016fda016ddb0100000072010000006901000000")).unwrap_err();
    assert!(matches!(call, SerializeError::BadCall(_)), "{call}");
    let call = loads_call(&hex("a904fa016fda016ddb0100000072010000004e")).unwrap();
    assert_eq!(call.vargs, Value::List(vec![s("o")]));
    // ... and r0 is the tuple itself, still being read.
    let err = loads_call(&hex("a904fa016fda016ddb0100000072000000004e")).unwrap_err();
    assert!(err.to_string().contains("still being read"), "{err}");
    // The arguments list (flagged: reference 3) and kwargs are read straight
    // into the call, yet registered as usual: kwargs can refer back to them.
    let call = loads_call(&hex(
        "a904fa016fda016ddb01000000e905000000fb7a016b720300000030",
    ))
    .unwrap();
    assert_eq!(call.vargs, Value::List(vec![Value::Int(5)]));
    assert_eq!(
        call.kwargs,
        Some(Dict(vec![(s("k"), Value::List(vec![Value::Int(5)]))]))
    );
    let err = loads_call(&hex("29047a016f30")).unwrap_err();
    assert!(
        err.to_string()
            .contains("NULL object in marshal data for tuple"),
        "{err}"
    );
    // Other counts and shapes are the generic reader's business.
    let err = loads_call(&hex(&alloc::format!("2903{o_m}5b00000000"))).unwrap_err();
    assert!(err.to_string().contains("got 3 items"), "{err}");
    let err = loads_call(&hex(&alloc::format!("2804000000{o_m}5b00000000"))).unwrap_err();
    assert!(err.to_string().contains("EOF read"), "{err}");
    let err = loads_call(&hex(&alloc::format!("2904{o_m}5b000000"))).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = loads_call(&hex("2904")).unwrap_err();
    assert!(matches!(err, SerializeError::Malformed { .. }), "{err}");
    // Bytes after the call are ignored, as marshal.loads ignores them.
    let call = loads_call(&hex(&alloc::format!("2904{o_m}5b000000004e4e4e"))).unwrap();
    assert_eq!(call.kwargs, None);
    // An empty kwargs dict, flagged or not, with a flagged or plain NULL
    // (the usual `{}` of a Pyro call, read without the container calls).
    for kw in ["7b30", "fb30", "7bb0", "fbb0"] {
        let call = loads_call(&hex(&alloc::format!("2904{o_m}5b00000000{kw}"))).unwrap();
        assert_eq!(call.kwargs, Some(Dict::default()), "{kw}");
    }
    // A dict with a key but no NULL is still truncated, and `{` at the very
    // end of the input reports EOF, as the generic reader does.
    let err = loads_call(&hex(&alloc::format!("2904{o_m}5b000000007b7a016b"))).unwrap_err();
    assert!(err.to_string().contains("EOF read"), "{err}");
    let err = loads_call(&hex(&alloc::format!("2904{o_m}5b000000007b"))).unwrap_err();
    assert!(err.to_string().contains("EOF read"), "{err}");
}

/// Dicts of a few str keys skip the hashing dedup only when their keys are
/// all different: a repeated str key still keeps the first key's position
/// and the last value, as CPython's dict assignment does.
#[test]
fn str_key_dicts_dedup_like_python() {
    // {'a': 1, 'b': 2, 'a': 3} -> {'a': 3, 'b': 2}
    let v = loads(&hex(
        "7b7a016169010000007a016269020000007a01616903000000 30"
            .replace(' ', "")
            .as_str(),
    ))
    .unwrap();
    assert_eq!(
        v,
        Value::Dict(Dict(vec![(s("a"), Value::Int(3)), (s("b"), Value::Int(2))]))
    );
    // Distinct keys that share their first bytes stay apart.
    let v = loads(&hex("7b7a02616169010000007a0261626902000000 30"
        .replace(' ', "")
        .as_str()))
    .unwrap();
    assert_eq!(
        v,
        Value::Dict(Dict(vec![
            (s("aa"), Value::Int(1)),
            (s("ab"), Value::Int(2))
        ]))
    );
    // A str key next to an equal-looking non-str key: bytes b'a' != 'a'.
    let v = loads(&hex("7b7a016169010000007301000000616902000000 30"
        .replace(' ', "")
        .as_str()))
    .unwrap();
    let Value::Dict(d) = v else { panic!() };
    assert_eq!(d.0.len(), 2);
}

#[test]
fn large_leaves_are_written_without_doubling_the_output() {
    // The output grows once for a large leaf (room for it and the records
    // after it), not by doubling past it, and without a size walk up front.
    for v in [
        Value::Bytes(vec![7; 1 << 20]),
        Value::Str("x".repeat(300_000).into()),
        Value::Str("é".repeat(100_000).into()),
        Value::Tuple(vec![Value::Bytes(vec![1; 100_000]), Value::Int(5)]),
        Value::List(vec![
            Value::Int(1),
            Value::Dict(Dict(vec![(
                Value::from("k"),
                Value::Bytes(vec![2; 70_000]),
            )])),
            Value::None,
        ]),
    ] {
        let out = dumps(&v).unwrap();
        assert!(
            out.capacity() - out.len() <= 2 * super::encode::HEADROOM,
            "len {} capacity {}",
            out.len(),
            out.capacity()
        );
        assert_eq!(loads(&out).unwrap(), v);
    }
}

/// Runs of ints in a list or tuple are read in one go on a first read:
/// mixed flagged and plain ints register in order, a run stops at the
/// declared count (the next int belongs to the outer container) and at a
/// truncated int, and a replayed list (a back-reference) reads the same.
#[test]
fn int_runs_in_lists() {
    // (flagged [i1, flagged i2], i3, r0 -> the list, r1 -> i2)
    let v = loads(&hex(
        "2904db0200000069010000 00e902000000690300000072000000007201000000"
            .replace(' ', "")
            .as_str(),
    ))
    .unwrap();
    let inner = Value::List(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(
        v,
        Value::Tuple(vec![inner.clone(), Value::Int(3), inner, Value::Int(2)])
    );
    // A run cut short by the end of the input: the item reader's message.
    let (off, why) = malformed(loads(&hex("5b03000000690100000069020000006903")));
    assert_eq!(off, 16);
    assert!(why.contains("truncated data: int needs 4 bytes"), "{why}");
    // Negative and extreme int32 values keep their sign.
    let v = loads(&hex("2903e9ffffffff6900000080e9ffffff7f")).unwrap();
    assert_eq!(
        v,
        Value::Tuple(vec![
            Value::Int(-1),
            Value::Int(i32::MIN as i64),
            Value::Int(i32::MAX as i64)
        ])
    );
}

/// Two-key dicts skip the dedup pass only when the keys differ in length or
/// first byte; equal keys (inline or on the heap, from any string code)
/// still collapse to the first key with the last value.
#[test]
fn two_key_dicts_collapse_only_equal_keys() {
    let dict = |k1: &[u8], k2: &[u8]| {
        let mut b = vec![b'{'];
        for (k, v) in [(k1, 1u8), (k2, 2)] {
            b.extend_from_slice(k);
            b.extend_from_slice(&[b'i', v, 0, 0, 0]);
        }
        b.push(b'0');
        loads(&b).unwrap()
    };
    let long = "k".repeat(30);
    let mut a_long = vec![b'a', 30, 0, 0, 0];
    a_long.extend_from_slice(long.as_bytes());
    let mut u_long = vec![b'u', 30, 0, 0, 0];
    u_long.extend_from_slice(long.as_bytes());
    for (k1, k2, key) in [
        (&b"z\x01a"[..], &b"z\x01a"[..], "a"),
        (b"z\x02ab", b"u\x02\0\0\0ab", "ab"),
        (&a_long[..], &u_long[..], long.as_str()),
    ] {
        assert_eq!(
            dict(k1, k2),
            Value::Dict(Dict(vec![(s(key), Value::Int(2))])),
            "{key}"
        );
    }
    for (k1, k2) in [
        (&b"z\x01a"[..], &b"z\x01b"[..]),
        (b"z\x01a", b"z\x02ab"),
        (b"z\x02ab", b"z\x02ac"),
        (b"z\x00", b"z\x01a"),
    ] {
        let Value::Dict(d) = dict(k1, k2) else {
            panic!()
        };
        assert_eq!(d.0.len(), 2);
    }
}

/// Strings of the one-byte-per-char codes are ASCII only when every byte
/// is: a byte >= 0x80 at any position of any short length is a Latin-1
/// character, never passed through as UTF-8.
#[test]
fn latin1_bytes_at_every_position() {
    for n in 2..=30usize {
        let ascii: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        let mut data = vec![b'a', n as u8, 0, 0, 0];
        data.extend_from_slice(&ascii);
        assert_eq!(
            loads(&data).unwrap(),
            s(core::str::from_utf8(&ascii).unwrap())
        );
        for at in 0..n {
            for high in [0x80u8, 0xc3, 0xe9, 0xff] {
                let mut bytes = ascii.clone();
                bytes[at] = high;
                if at + 1 < n {
                    // A valid UTF-8 pair (é) is still two Latin-1 chars.
                    bytes[at + 1] = if high == 0xc3 { 0xa9 } else { bytes[at + 1] };
                }
                let mut data = vec![b'z', n as u8];
                data.extend_from_slice(&bytes);
                let want: String = bytes.iter().map(|&b| b as char).collect();
                assert_eq!(loads(&data).unwrap(), s(&want), "{n} {at} {high:#x}");
            }
        }
    }
}

/// A back-reference to an int is read in place (no replay), yet counts
/// towards the copy budget as a replayed int does.
#[test]
fn back_references_to_ints() {
    // [flagged 7, flagged -2, r0, r1, flagged (r0, 5), r2]
    let v = loads(&hex(
        "5b06000000e907000000e9feffffff72000000007201000000a9027200000000690500000072020000 00"
            .replace(' ', "")
            .as_str(),
    ))
    .unwrap();
    let pair = Value::Tuple(vec![Value::Int(7), Value::Int(5)]);
    assert_eq!(
        v,
        Value::List(vec![
            Value::Int(7),
            Value::Int(-2),
            Value::Int(7),
            Value::Int(-2),
            pair.clone(),
            pair
        ])
    );
    // t0 = (flagged 1, r1), t(k+1) = (r(tk), r(tk)): the int copies are
    // charged as they are replayed, so the bomb is still stopped.
    let (_, why) = malformed(loads(&reference_chain("a902e9010000007201000000")));
    assert!(why.contains("reference bomb"), "{why}");
}
