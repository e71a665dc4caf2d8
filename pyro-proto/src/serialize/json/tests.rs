//! Unit tests: expected bytes were produced with CPython 3.11.7 + Pyro4 4.82
//! (`JsonSerializer().dumps(...)` / `json.loads(...)`).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use num_bigint::BigInt;
use proptest::prelude::*;

use super::{dumps, dumps_call, loads, loads_call};
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn d(pairs: Vec<(Value, Value)>) -> Value {
    Value::Dict(Dict(pairs))
}

fn text(v: &Value) -> String {
    String::from_utf8(dumps(v).expect("dumps")).expect("utf-8")
}

fn big(text: &str) -> Value {
    Value::BigInt(text.parse::<BigInt>().unwrap())
}

#[test]
fn scalars() {
    assert_eq!(text(&Value::None), "null");
    assert_eq!(text(&Value::Bool(true)), "true");
    assert_eq!(text(&Value::Bool(false)), "false");
    assert_eq!(text(&Value::Int(0)), "0");
    assert_eq!(text(&Value::Int(-42)), "-42");
    assert_eq!(text(&Value::Int(i64::MIN)), "-9223372036854775808");
    assert_eq!(text(&Value::Int(i64::MAX)), "9223372036854775807");
    assert_eq!(
        text(&big("1267650600228229401496703205376")),
        "1267650600228229401496703205376"
    );
    assert_eq!(
        text(&big("-1267650600228229401496703205376")),
        "-1267650600228229401496703205376"
    );
}

#[test]
fn floats() {
    let cases: &[(f64, &str)] = &[
        (1.5, "1.5"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (1e308, "1e+308"),
        (1e16, "1e+16"),
        (1e-5, "1e-05"),
        (123.0, "123.0"),
        (1.2345678901234568e17, "1.2345678901234568e+17"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
    ];
    for (x, want) in cases {
        assert_eq!(text(&Value::Float(*x)), *want);
    }
}

#[test]
fn string_escapes_match_python() {
    // json.dumps('\x7f\u2028\u2029\x00\x1f\x08\x0c"\\/é😀', ensure_ascii=False)
    let v = s("\u{7f}\u{2028}\u{2029}\u{0}\u{1f}\u{8}\u{c}\"\\/é😀");
    assert_eq!(
        text(&v),
        "\"\u{7f}\u{2028}\u{2029}\\u0000\\u001f\\b\\f\\\"\\\\/é😀\""
    );
    assert_eq!(text(&s("a\nb\rc\td\u{1b}")), "\"a\\nb\\rc\\td\\u001b\"");
}

#[test]
fn containers_and_keys() {
    let v = d(vec![
        (Value::Int(1), s("a")),
        (Value::Float(1.5), s("b")),
        (Value::None, s("d")),
        (Value::Float(f64::NAN), Value::Int(1)),
        (Value::Float(f64::INFINITY), Value::Int(2)),
        (Value::Float(-0.0), Value::Int(3)),
        (big("1180591620717411303424"), Value::Int(4)),
        (Value::Float(1e16), Value::Int(5)),
        (Value::Bool(false), Value::Int(6)),
    ]);
    assert_eq!(
        text(&v),
        "{\"1\": \"a\", \"1.5\": \"b\", \"null\": \"d\", \"NaN\": 1, \"Infinity\": 2, \
         \"-0.0\": 3, \"1180591620717411303424\": 4, \"1e+16\": 5, \"false\": 6}"
    );
    let v = Value::List(vec![
        Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
        Value::Set(vec![]),
        Value::Tuple(vec![]),
        d(vec![]),
    ]);
    assert_eq!(text(&v), "[[1, 2], [], [], {}]");
}

#[test]
fn class_writes_class_name_first() {
    let v = Value::Class(Box::new(ClassDict {
        class_name: "Pyro4.core.URI".into(),
        fields: Dict(vec![(
            s("state"),
            Value::Tuple(vec![
                s("PYRO"),
                s("obj"),
                Value::None,
                s("localhost"),
                Value::Int(1234),
            ]),
        )]),
    }));
    assert_eq!(
        text(&v),
        "{\"__class__\": \"Pyro4.core.URI\", \"state\": [\"PYRO\", \"obj\", null, \"localhost\", 1234]}"
    );
}

#[test]
fn unsupported_values_are_refused_like_pyro4() {
    for (v, class) in [
        (Value::Bytes(b"ab".to_vec()), "bytes"),
        (Value::Complex { re: 1.0, im: 2.0 }, "complex"),
        (Value::FrozenSet(vec![Value::Int(1)]), "frozenset"),
    ] {
        let nested = Value::List(vec![v.clone()]);
        for v in [v, nested] {
            match dumps(&v) {
                Err(SerializeError::Refused {
                    codec: "json",
                    message,
                }) => assert_eq!(
                    message,
                    alloc::format!(
                        "don't know how to serialize class <class '{class}'> using serializer \
                         JsonSerializer. Give it vars() or an appropriate __getstate__"
                    )
                ),
                other => panic!("{v:?}: {other:?}"),
            }
        }
    }
    let tuple_key = d(vec![(Value::Tuple(vec![Value::Int(1)]), Value::Int(3))]);
    match dumps(&tuple_key) {
        Err(SerializeError::Unsupported { what, .. }) => {
            assert!(what.contains("keys must be str, int, float, bool or None, not tuple"))
        }
        other => panic!("{other:?}"),
    }
    // ints beyond Python's 4300-digit conversion limit
    let mut digits = "1".repeat(4300);
    assert!(dumps(&big(&digits)).is_ok());
    assert!(dumps(&big(&alloc::format!("-{digits}"))).is_ok());
    digits.push('1');
    assert!(matches!(
        dumps(&big(&digits)),
        Err(SerializeError::Unsupported { .. })
    ));
    // 10**4300 (4301 digits) and a huge number refused without converting
    let ten = BigInt::from(10u8);
    for exp in [4300u32, 1_000_000] {
        let v = Value::BigInt(num_traits::pow(ten.clone(), exp as usize));
        assert!(matches!(dumps(&v), Err(SerializeError::Unsupported { .. })));
    }
    let max_ok = num_traits::pow(ten, 4300) - 1u8;
    assert_eq!(dumps(&Value::BigInt(max_ok)).unwrap().len(), 4300);
}

#[test]
fn call_is_an_object_not_a_tuple() {
    let call = Call {
        object: "test.obj".into(),
        method: "multiply".into(),
        vargs: Value::Tuple(vec![Value::Int(6), Value::Int(7)]),
        kwargs: Some(Dict::default()),
    };
    let bytes = dumps_call(&call).unwrap();
    assert_eq!(
        bytes,
        b"{\"object\": \"test.obj\", \"method\": \"multiply\", \"params\": [6, 7], \"kwargs\": {}}"
    );
    let back = loads_call(&bytes).unwrap();
    assert_eq!(back.object, "test.obj");
    assert_eq!(back.method, "multiply");
    assert_eq!(back.vargs, Value::List(vec![Value::Int(6), Value::Int(7)]));
    assert_eq!(back.kwargs, Some(Dict::default()));

    let getattr = Call {
        object: "o".into(),
        method: "__getattr__".into(),
        vargs: Value::Tuple(vec![s("value")]),
        kwargs: None,
    };
    let bytes = dumps_call(&getattr).unwrap();
    assert_eq!(
        bytes,
        b"{\"object\": \"o\", \"method\": \"__getattr__\", \"params\": [\"value\"], \"kwargs\": null}"
    );
    assert_eq!(loads_call(&bytes).unwrap().kwargs, None);
}

#[test]
fn loads_call_takes_keys_in_any_order_and_checks_types() {
    let c =
        loads_call(br#"{"kwargs": {"a": 1}, "x": 0, "params": [], "method": "m", "object": "o"}"#)
            .unwrap();
    assert_eq!((c.object.as_str(), c.method.as_str()), ("o", "m"));
    assert_eq!(c.kwargs, Some(Dict(vec![(s("a"), Value::Int(1))])));
    for bad in [
        &br#"[1, 2]"#[..],
        br#"{"object": "o", "method": "m", "params": []}"#,
        br#"{"object": 1, "method": "m", "params": [], "kwargs": null}"#,
        br#"{"object": "o", "method": "m", "params": "ab", "kwargs": null}"#,
        br#"{"object": "o", "method": "m", "params": [], "kwargs": []}"#,
    ] {
        assert!(
            matches!(loads_call(bad), Err(SerializeError::BadCall(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn loads_call_follows_python_dict_rules() {
    // escaped key spelling, repeated keys (the last wins), unknown keys skipped
    let c = loads_call(
        br#"{"object": "a", "para\u006ds": [1], "method": "m", "object": "b", "kwargs": null, "params": [2], "z": {"deep": [1]}}"#,
    )
    .unwrap();
    assert_eq!(c.object, "b");
    assert_eq!(c.vargs, Value::List(vec![Value::Int(2)]));
    assert_eq!(c.kwargs, None);
    // malformed json is Malformed (Python's JSONDecodeError comes first),
    // valid json of the wrong shape is BadCall
    for (input, malformed) in [
        (&b"[1, 2"[..], true),
        (b"{\"object\": \"o\"} x", true),
        (b"{\"object\" \"o\"}", true),
        (b"{\"object\": \"o\",}", true),
        (b"\xff", true),
        (b" [1, 2] ", false),
        (b"{}", false),
        (b"\"call\"", false),
    ] {
        let got = loads_call(input);
        assert_eq!(
            matches!(got, Err(SerializeError::Malformed { .. })),
            malformed,
            "{:?}: {got:?}",
            String::from_utf8_lossy(input)
        );
        assert!(got.is_err());
    }
    let deep = alloc::format!(
        "{{\"object\": \"o\", \"method\": \"m\", \"kwargs\": null, \"params\": {}{}}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    assert_eq!(
        loads_call(deep.as_bytes()).unwrap_err(),
        SerializeError::TooDeep { limit: MAX_DEPTH }
    );
}

#[test]
fn call_depth_limit_is_the_same_both_ways() {
    // What dumps_call writes, loads_call reads, right up to the limit.
    for extra in 0..4 {
        let mut v = Value::Int(1);
        for _ in 0..MAX_DEPTH - 3 + extra {
            v = Value::List(vec![v]);
        }
        let calls = [
            Call {
                object: "o".into(),
                method: "m".into(),
                vargs: Value::List(vec![v.clone()]),
                kwargs: None,
            },
            Call {
                object: "o".into(),
                method: "m".into(),
                vargs: Value::List(vec![]),
                kwargs: Some(Dict(vec![(s("k"), v)])),
            },
        ];
        for call in calls {
            match dumps_call(&call) {
                Ok(bytes) => assert!(loads_call(&bytes).is_ok(), "extra {extra}"),
                Err(e) => assert_eq!(e, SerializeError::TooDeep { limit: MAX_DEPTH }),
            }
        }
    }
}

#[test]
fn reads_what_python_reads() {
    let ok: &[(&[u8], Value)] = &[
        (
            b" \t\n\r[1 , 2 ]\r\n ",
            Value::List(vec![Value::Int(1), Value::Int(2)]),
        ),
        (b"-Infinity", Value::Float(f64::NEG_INFINITY)),
        (b"Infinity", Value::Float(f64::INFINITY)),
        (b"1E400", Value::Float(f64::INFINITY)),
        (b"-1e400", Value::Float(f64::NEG_INFINITY)),
        (b"1e-400", Value::Float(0.0)),
        (b"-0", Value::Int(0)),
        (b"-0.0", Value::Float(-0.0)),
        (b"1.0e+5", Value::Float(100000.0)),
        (b"1e05", Value::Float(100000.0)),
        (b"5e-324", Value::Float(5e-324)),
        (b"-9223372036854775808", Value::Int(i64::MIN)),
        (b"9223372036854775807", Value::Int(i64::MAX)),
        (b"9223372036854775808", big("9223372036854775808")),
        (b"-1180591620717411303424", big("-1180591620717411303424")),
        (
            b"\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
            s("é/\u{8}\u{c}\n\r\t\"\\"),
        ),
        (b"\"\\ud800\\udc00\"", s("\u{10000}")),
        (b"\"\\uDBFF\\uDFFF\"", s("\u{10ffff}")),
        (b"\"a\x7fb\"", s("a\u{7f}b")),
        (b"{\"a\" :1 }", d(vec![(s("a"), Value::Int(1))])),
        (b"true ", Value::Bool(true)),
        (
            b"{\"a\":1,\"b\":2,\"a\":3}",
            d(vec![(s("a"), Value::Int(3)), (s("b"), Value::Int(2))]),
        ),
    ];
    for (input, want) in ok {
        assert_eq!(
            loads(input).as_ref(),
            Ok(want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(matches!(loads(b"NaN"), Ok(Value::Float(f)) if f.is_nan()));
}

#[test]
fn rejects_what_python_rejects() {
    let bad: &[&[u8]] = &[
        b"\x0c1",
        b"[1,]",
        b"01",
        b"-",
        b"1.",
        b".5",
        b"1e",
        b"+1",
        b"-NaN",
        b"nan",
        b"\"a\x1fb\"",
        b"1 2",
        b"",
        b"[",
        b"\"\\x\"",
        b"{1:2}",
        b"True",
        b"[-]",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"\"abc",
        b"\"\\u12\"",
        b"\"\\u12G4\"",
        b"\xef\xbb\xbf1",
        b"\"\xff\"",
        b"\"\xed\xa0\x80\"", // a UTF-8-encoded surrogate
        b"[1] x",
        b"\x00",
    ];
    for input in bad {
        assert!(
            matches!(
                loads(input),
                Err(SerializeError::Malformed { codec: "json", .. })
            ),
            "{:?} -> {:?}",
            String::from_utf8_lossy(input),
            loads(input)
        );
    }
}

#[test]
fn lone_surrogates_are_an_error() {
    for input in [
        &b"\"\\ud800\""[..],
        b"\"\\udc00\"",
        b"\"\\uD800x\"",
        b"\"\\ud834\\u0041\"",
    ] {
        match loads(input) {
            Err(SerializeError::Malformed { reason, offset, .. }) => {
                assert!(reason.contains("lone surrogate"), "{reason}");
                assert_eq!(offset, 1);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn int_digit_limit_as_python() {
    let ok = "1".repeat(4300);
    assert!(matches!(loads(ok.as_bytes()), Ok(Value::BigInt(_))));
    assert!(matches!(
        loads(alloc::format!("-{ok}").as_bytes()),
        Ok(Value::BigInt(_))
    ));
    let too_long = "1".repeat(4301);
    assert!(matches!(
        loads(too_long.as_bytes()),
        Err(SerializeError::Malformed { .. })
    ));
    // floats have no digit limit
    assert!(matches!(
        loads(alloc::format!("{}.0", "1".repeat(5000)).as_bytes()),
        Ok(Value::Float(_))
    ));
}

#[test]
fn error_offsets_are_byte_offsets() {
    match loads(b"[1, 2, }") {
        Err(SerializeError::Malformed { offset, .. }) => assert_eq!(offset, 7),
        other => panic!("{other:?}"),
    }
    match loads("[\"é\", x]".as_bytes()) {
        Err(SerializeError::Malformed { offset, .. }) => assert_eq!(offset, 7),
        other => panic!("{other:?}"),
    }
}

#[test]
fn depth_limit_both_ways() {
    let ok = alloc::format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(loads(ok.as_bytes()).is_ok());
    let too_deep = alloc::format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(
        loads(too_deep.as_bytes()),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );
    // a million brackets: an error, not a stack overflow
    let huge = "[{\"a\":".repeat(1_000_000);
    assert_eq!(
        loads(huge.as_bytes()),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );

    let mut v = Value::Int(1);
    for _ in 0..MAX_DEPTH {
        v = Value::List(vec![v]);
    }
    assert!(dumps(&v).is_ok());
    let v = d(vec![(s("k"), v)]);
    assert_eq!(dumps(&v), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
}

#[test]
fn large_object_with_duplicates_keeps_first_position() {
    let mut text = String::from("{");
    for i in 0..1000 {
        text.push_str(&alloc::format!("\"k{}\": {}, ", i % 100, i));
    }
    text.push_str("\"end\": 0}");
    let Ok(Value::Dict(Dict(entries))) = loads(text.as_bytes()) else {
        panic!()
    };
    assert_eq!(entries.len(), 101);
    assert_eq!(entries[0], (s("k0"), Value::Int(900)));
    assert_eq!(entries[99], (s("k99"), Value::Int(999)));
    assert_eq!(entries[100], (s("end"), Value::Int(0)));
}

/// Containers share one parse stack: nested arrays and objects (one of them
/// with repeated keys, sitting above other open containers) must
/// each get exactly their own entries.
#[test]
fn nested_containers_keep_their_own_entries() {
    let mut big = String::from("{");
    for i in 0..40 {
        big.push_str(&alloc::format!("\"k{}\": [{}], ", i % 20, i));
    }
    big.push_str("\"k0\": {\"x\": [], \"x\": [1, 2]}}");
    let text = alloc::format!(
        "[1, [2, [3, 4], {{\"a\": [5, {{\"b\": 6}}], \"a\": [7], \"c\": {{}}}}], {big}, 8]"
    );
    let Ok(Value::List(top)) = loads(text.as_bytes()) else {
        panic!()
    };
    let l = Value::List;
    assert_eq!(top.len(), 4);
    assert_eq!(top[0], Value::Int(1));
    assert_eq!(
        top[1],
        l(vec![
            Value::Int(2),
            l(vec![Value::Int(3), Value::Int(4)]),
            d(vec![(s("a"), l(vec![Value::Int(7)])), (s("c"), d(vec![]))]),
        ])
    );
    let Value::Dict(Dict(entries)) = &top[2] else {
        panic!()
    };
    assert_eq!(entries.len(), 20);
    assert_eq!(
        entries[0],
        (
            s("k0"),
            d(vec![(s("x"), l(vec![Value::Int(1), Value::Int(2)]))])
        )
    );
    assert_eq!(entries[19], (s("k19"), l(vec![Value::Int(39)])));
    assert_eq!(top[3], Value::Int(8));
}

// ---- property test: Rust -> json -> Rust, modelling json's lossy mapping ----

/// A value json can carry (no bytes, complex, frozenset, tuple keys).
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::None),
        (any::<i128>()).prop_map(|i| normalise_int(BigInt::from(i) * BigInt::from(1u64 << 63))),
    ];
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(|i| normalise_int(BigInt::from(i))),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(5e-324)
        ]
        .prop_map(Value::Float),
        any::<String>().prop_map(Value::from),
        "[\\x00-\\x1f\"\\\\a-z\u{7f}-\u{a0}\u{2028}]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        let key = key.clone();
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            prop::collection::vec((key.clone(), inner.clone()), 0..6)
                .prop_map(|p| Value::Dict(Dict(p))),
            (
                "[a-zA-Z_.]{1,20}",
                prop::collection::vec((key, inner), 0..4)
            )
                .prop_map(|(class_name, p)| Value::Class(Box::new(ClassDict {
                    class_name,
                    fields: Dict(p)
                }))),
        ]
    })
}

fn normalise_int(b: BigInt) -> Value {
    match i64::try_from(&b) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::BigInt(b),
    }
}

/// What json.loads(json.dumps(v)) gives in Python, built independently of
/// the codec: arrays for every sequence, string keys (JSON text of the key),
/// dict semantics for repeated keys, class dicts as plain dicts.
fn model(v: &Value) -> Value {
    match v {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) => {
            Value::List(x.iter().map(model).collect())
        }
        Value::Dict(dict) => model_dict(None, dict),
        Value::Class(c) => model_dict(Some(&c.class_name), &c.fields),
        other => other.clone(),
    }
}

fn model_key(k: &Value) -> String {
    match k {
        Value::Str(s) => s.to_string(),
        Value::None => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(b) => b.to_string(),
        Value::Float(f) if f.is_nan() => "NaN".into(),
        Value::Float(f) if f.is_infinite() => {
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
        }
        Value::Float(f) => crate::value::repr::float_repr(*f),
        other => panic!("not a json key: {other:?}"),
    }
}

fn model_dict(class: Option<&str>, dict: &Dict) -> Value {
    let mut out: Vec<(Value, Value)> = Vec::new();
    let pairs = class
        .map(|c| (Value::Str("__class__".into()), Value::Str(c.into())))
        .into_iter()
        .chain(
            dict.0
                .iter()
                .map(|(k, v)| (Value::Str(model_key(k).into()), model(v))),
        );
    for (k, v) in pairs {
        match out.iter_mut().find(|(ok, _)| *ok == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Value::Dict(Dict(out))
}

/// Equality where every NaN equals every NaN (json has one NaN spelling).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_matches_model(v in json_value()) {
        let bytes = dumps(&v).unwrap();
        let back = loads(&bytes).unwrap();
        prop_assert!(same(&back, &model(&v)), "{:?}\n{}\n{:?}", v, String::from_utf8_lossy(&bytes), back);
        // re-encoding the decoded tree is a fixed point (it equals `bytes`
        // unless stringified keys collided and were merged on reading)
        let again = dumps(&back).unwrap();
        prop_assert_eq!(&dumps(&loads(&again).unwrap()).unwrap(), &again);
        prop_assert_eq!(&again, &dumps(&model(&v)).unwrap());
    }

    #[test]
    fn floats_read_like_core_parse(
        m in 0u64..10_000_000_000_000_000,
        k in 0usize..18,
        neg in any::<bool>(),
        exp in prop::option::of(-30i32..30),
    ) {
        // decimal text with k fraction digits (and maybe an exponent): the
        // fast path and the general path must both agree with core's parser
        let digits = alloc::format!("{:0>width$}", m, width = k + 1);
        let (int, frac) = digits.split_at(digits.len() - k);
        let mut text = alloc::format!("{}{int}", if neg { "-" } else { "" });
        if k > 0 {
            text.push('.');
            text.push_str(frac);
        }
        if let Some(e) = exp {
            text.push_str(&alloc::format!("e{e}"));
        }
        let want: f64 = text.parse().unwrap();
        match loads(text.as_bytes()) {
            Ok(Value::Float(got)) => prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", text),
            Ok(Value::Int(i)) => prop_assert!(k == 0 && exp.is_none() && i as f64 == want),
            Ok(Value::BigInt(_)) => prop_assert!(k == 0 && exp.is_none()),
            other => prop_assert!(false, "{}: {:?}", text, other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = loads(&data) {
            let again = dumps(&v).unwrap();
            prop_assert!(same(&loads(&again).unwrap(), &v));
        }
        let _ = loads_call(&data);
    }

    #[test]
    fn call_round_trip(
        object in any::<String>(),
        method in any::<String>(),
        args in prop::collection::vec(json_value(), 0..4),
        kwargs in prop::option::of(prop::collection::vec((any::<String>(), json_value()), 0..4)),
    ) {
        let call = Call {
            object: object.into(),
            method: method.into(),
            vargs: Value::Tuple(args.clone()),
            kwargs: kwargs.map(|kv| Dict(kv.into_iter().map(|(k, v)| (Value::Str(k.into()), v)).collect())),
        };
        let bytes = dumps_call(&call).unwrap();
        let back = loads_call(&bytes).unwrap();
        prop_assert_eq!(&back.object, &call.object);
        prop_assert_eq!(&back.method, &call.method);
        prop_assert!(same(&back.vargs, &model(&Value::Tuple(args))));
        let want_kwargs = call.kwargs.as_ref().map(|d| model(&Value::Dict(d.clone())));
        let got_kwargs = back.kwargs.clone().map(Value::Dict);
        match (got_kwargs, want_kwargs) {
            (None, None) => {}
            (Some(a), Some(b)) => prop_assert!(same(&a, &b)),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
        let again = dumps_call(&back).unwrap();
        prop_assert_eq!(&dumps_call(&loads_call(&again).unwrap()).unwrap(), &again);
    }
}
