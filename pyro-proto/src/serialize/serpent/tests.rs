//! Unit tests of the serpent codec. The expected texts are what serpent 1.43
//! on CPython 3.11 writes / what `ast.literal_eval` returns (checked against
//! the venv; the integration tests repeat this against the live Python).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use num_bigint::BigInt;

use super::*;
use crate::serialize::MAX_DEPTH;
use crate::value::ClassDict;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn body(v: &Value) -> String {
    let out = dumps(v).unwrap();
    assert!(out.starts_with(HEADER));
    String::from_utf8(out[HEADER.len()..].to_vec()).unwrap()
}

fn load(text: &str) -> Value {
    loads(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn load_err(text: &str) -> SerializeError {
    match loads(text.as_bytes()) {
        Ok(v) => panic!("{text:?} decoded to {v:?}"),
        Err(e) => e,
    }
}

fn offset_of(e: &SerializeError) -> usize {
    match e {
        SerializeError::Malformed { codec, offset, .. } => {
            assert_eq!(*codec, "serpent");
            *offset
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::Dict(Dict(pairs))
}

#[test]
fn writes_scalars() {
    assert_eq!(body(&Value::None), "None");
    assert_eq!(body(&Value::Bool(true)), "True");
    assert_eq!(body(&Value::Bool(false)), "False");
    assert_eq!(body(&Value::Int(0)), "0");
    assert_eq!(body(&Value::Int(-5)), "-5");
    assert_eq!(body(&Value::Int(i64::MIN)), "-9223372036854775808");
    assert_eq!(body(&Value::Int(i64::MAX)), "9223372036854775807");
    let big: BigInt = BigInt::from(1u8) << 70;
    assert_eq!(body(&Value::BigInt(big)), "1180591620717411303424");
    assert_eq!(body(&Value::Float(1.5)), "1.5");
    assert_eq!(body(&Value::Float(-0.0)), "-0.0");
    assert_eq!(body(&Value::Float(1e100)), "1e+100");
    assert_eq!(body(&Value::Float(1e-5)), "1e-05");
    assert_eq!(body(&Value::Float(f64::INFINITY)), "1e30000");
    assert_eq!(body(&Value::Float(f64::NEG_INFINITY)), "-1e30000");
    assert_eq!(
        body(&Value::Float(f64::NAN)),
        "{'__class__':'float','value':'nan'}"
    );
}

#[test]
fn writes_complex_like_serpent() {
    let c = |re, im| Value::Complex { re, im };
    assert_eq!(body(&c(1.0, 2.0)), "(1.0+2.0j)");
    assert_eq!(body(&c(-1.0, -2.0)), "(-1.0-2.0j)");
    assert_eq!(body(&c(1.0, -0.0)), "(1.0-0.0j)");
    assert_eq!(body(&c(-0.0, 0.0)), "(-0.0+0.0j)");
    assert_eq!(body(&c(0.0, f64::INFINITY)), "(0.0+1e30000j)");
    assert_eq!(
        body(&c(f64::NEG_INFINITY, f64::NEG_INFINITY)),
        "(-1e30000-1e30000j)"
    );
    assert_eq!(
        body(&c(f64::NAN, 1.0)),
        "{'__class__':'complex','real':{'__class__':'float','value':'nan'},'imag':1.0}"
    );
}

#[test]
fn writes_strings_and_bytes() {
    assert_eq!(body(&s("it's")), "\"it's\"");
    assert_eq!(body(&s("a\n\u{0}é\u{2028}")), "'a\\n\\x00é\\u2028'");
    assert_eq!(
        body(&Value::Bytes(b"ab\x00".to_vec())),
        "{'data': 'YWIA', 'encoding': 'base64'}"
    );
    assert_eq!(
        body(&Value::Bytes(Vec::new())),
        "{'data': '', 'encoding': 'base64'}"
    );
}

#[test]
fn writes_containers() {
    assert_eq!(body(&Value::Tuple(vec![])), "()");
    assert_eq!(body(&Value::Tuple(vec![Value::Int(1)])), "(1,)");
    assert_eq!(
        body(&Value::Tuple(vec![Value::Int(1), Value::Int(2)])),
        "(1,2)"
    );
    assert_eq!(body(&Value::List(vec![])), "[]");
    assert_eq!(body(&Value::List(vec![Value::Int(1)])), "[1]");
    assert_eq!(body(&Value::Set(vec![])), "()");
    assert_eq!(body(&Value::FrozenSet(vec![])), "()");
    assert_eq!(
        body(&Value::Set(vec![Value::Int(2), Value::Int(1)])),
        "{2,1}"
    );
    assert_eq!(body(&Value::FrozenSet(vec![s("a")])), "{'a'}");
    assert_eq!(body(&dict(vec![])), "{}");
    assert_eq!(
        body(&dict(vec![
            (s("b"), Value::Int(1)),
            (Value::Int(1), s("x"))
        ])),
        "{'b':1,1:'x'}"
    );
    let class = Value::Class(Box::new(ClassDict {
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
        body(&class),
        "{'__class__':'Pyro4.core.URI','state':('PYRO','obj',None,'localhost',1234)}"
    );
}

#[test]
fn refuses_keys_no_reader_accepts() {
    for key in [
        Value::None,
        Value::Bytes(b"x".to_vec()),
        Value::Float(f64::NAN),
        Value::List(vec![]),
        Value::Tuple(vec![Value::List(vec![])]),
        Value::Tuple(vec![Value::Bytes(vec![])]),
        Value::FrozenSet(vec![Value::Int(1)]),
    ] {
        let d = dict(vec![(key.clone(), Value::Int(1))]);
        assert!(
            matches!(
                dumps(&d),
                Err(SerializeError::Unsupported {
                    codec: "serpent",
                    ..
                })
            ),
            "{key:?} as key"
        );
        let set = Value::Set(vec![key.clone()]);
        assert!(
            matches!(dumps(&set), Err(SerializeError::Unsupported { .. })),
            "{key:?} in set"
        );
    }
    // A tuple key may hold None and an empty set (written as `()`).
    let ok = dict(vec![(
        Value::Tuple(vec![Value::None, Value::Set(vec![])]),
        Value::Int(1),
    )]);
    assert_eq!(body(&ok), "{(None,()):1}");
}

#[test]
fn refuses_ints_python_cannot_print() {
    let ok: BigInt = BigInt::from(10u8).pow(4299);
    assert_eq!(body(&Value::BigInt(ok.clone())).len(), 4300);
    let too_big = ok * 10u8;
    assert!(matches!(
        dumps(&Value::BigInt(too_big)),
        Err(SerializeError::Unsupported { .. })
    ));
}

#[test]
fn writes_call_tuples() {
    let call = Call {
        object: "test.obj".into(),
        method: "multiply".into(),
        vargs: Value::Tuple(vec![Value::Int(6), Value::Int(7)]),
        kwargs: Some(Dict::default()),
    };
    let out = dumps_call(&call).unwrap();
    assert_eq!(
        out,
        b"# serpent utf-8 python3.2\n('test.obj','multiply',(6,7),{})"
    );
    let back = loads_call(&out).unwrap();
    assert_eq!(back.object, "test.obj");
    assert_eq!(back.method, "multiply");
    assert_eq!(back.vargs, call.vargs);
    assert_eq!(back.kwargs, Some(Dict::default()));
    let attr = Call {
        object: "o".into(),
        method: "__getattr__".into(),
        vargs: Value::List(vec![s("value")]),
        kwargs: None,
    };
    let out = dumps_call(&attr).unwrap();
    assert_eq!(
        out,
        b"# serpent utf-8 python3.2\n('o','__getattr__',['value'],None)"
    );
    let back = loads_call(&out).unwrap();
    assert_eq!(back.vargs, attr.vargs);
    assert_eq!(back.kwargs, None);
}

#[test]
fn loads_call_rejects_bad_shapes() {
    for text in [
        "('o','m',())",
        "('o','m',(),{},1)",
        "(1,'m',(),{})",
        "('o',None,(),{})",
        "('o','m',5,{})",
        "('o','m',(),[])",
        "{'o':1}",
    ] {
        match loads_call(text.as_bytes()) {
            Err(SerializeError::BadCall(_)) => {}
            other => panic!("{text}: {other:?}"),
        }
    }
    // A list of four unpacks too, as in Python.
    assert!(loads_call(b"['o','m',[],None]").is_ok());
    assert!(matches!(
        loads_call(b"('o'"),
        Err(SerializeError::Malformed { .. })
    ));
}

#[test]
fn reads_headers_and_comments() {
    assert_eq!(load("# serpent utf-8 python3.2\n42"), Value::Int(42));
    assert_eq!(
        load("# serpent utf-8 python2.6\n(1,2)"),
        Value::Tuple(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        load("# a\n\n  # b\r\n# c\r[1, # inside\n 2]\n# end\n"),
        Value::List(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(load("  7  "), Value::Int(7));
    assert_eq!(load("\\\n1"), Value::Int(1));
    // A line continuation right before the end is a SyntaxError in Python.
    assert_eq!(load("1\\\n "), Value::Int(1));
    load_err("1\\\n");
    assert_eq!(offset_of(&load_err("# c\n  1")), 4);
    assert_eq!(offset_of(&load_err("1\n2")), 2);
    assert_eq!(offset_of(&load_err("# only a comment\n")), 17);
    assert_eq!(offset_of(&load_err("")), 0);
}

#[test]
fn reads_strings() {
    assert_eq!(load("'abc'"), s("abc"));
    assert_eq!(load("\"it's\""), s("it's"));
    assert_eq!(load("'a' \"b\" '''c'''"), s("abc"));
    assert_eq!(load("('a'\n 'b')"), s("ab"));
    assert_eq!(load("'''l1\nl2\r\nl3\rl4'''"), s("l1\nl2\nl3\nl4"));
    assert_eq!(load("\"\"\"a\"b\"\"c\"\"\""), s("a\"b\"\"c"));
    assert_eq!(
        load(r#"'\\ \' \" \a\b\f\n\r\t\v \x41 \101 \0 \777 \u20ac \U0001F600 \q \8'"#),
        s("\\ ' \" \u{7}\u{8}\u{c}\n\r\t\u{b} A A \u{0} \u{1ff} € 😀 \\q \\8")
    );
    assert_eq!(load("'a\\\nb'"), s("ab"));
    assert_eq!(load(r"r'a\'\n'"), s("a\\'\\n"));
    assert_eq!(load(r"R'\\'"), s("\\\\"));
    assert_eq!(load("u'x'"), s("x"));
    assert_eq!(load("'é€😀'"), s("é€😀"));
    assert_eq!(
        load(r"b'\x00\777a\u0041'"),
        Value::Bytes(b"\x00\xffa\\u0041".to_vec())
    );
    assert_eq!(
        load("b'a' B\"b\" rb'\\n' Br'c'"),
        Value::Bytes(b"ab\\nc".to_vec())
    );
    assert_eq!(offset_of(&load_err("'abc")), 0);
    assert_eq!(offset_of(&load_err("'a\nb'")), 0);
    assert_eq!(offset_of(&load_err("'a' b'b'")), 4);
    assert_eq!(offset_of(&load_err("b'é'")), 2);
    assert_eq!(offset_of(&load_err(r"'\x4'")), 1);
    assert_eq!(offset_of(&load_err(r"'\ud800'")), 1);
    assert_eq!(offset_of(&load_err(r"'\U00110000'")), 1);
    assert_eq!(offset_of(&load_err(r"'\N{DASH}'")), 1);
    assert_eq!(offset_of(&load_err("f'x'")), 0);
    assert_eq!(offset_of(&load_err("ub'x'")), 0);
    assert_eq!(offset_of(&load_err("bb'x'")), 0);
    assert_eq!(offset_of(&load_err("'a' rr'x'")), 4);
    assert_eq!(offset_of(&load_err("ur'x'")), 0);
    assert_eq!(offset_of(&load_err("r'\\'")), 0);
}

#[test]
fn reads_numbers() {
    assert_eq!(load("0"), Value::Int(0));
    assert_eq!(load("-0"), Value::Int(0));
    assert_eq!(load("+5"), Value::Int(5));
    assert_eq!(load("1_000"), Value::Int(1000));
    assert_eq!(load("0x_1f"), Value::Int(31));
    assert_eq!(load("0o17"), Value::Int(15));
    assert_eq!(load("0B101"), Value::Int(5));
    assert_eq!(load("00"), Value::Int(0));
    assert_eq!(load("9223372036854775807"), Value::Int(i64::MAX));
    assert_eq!(load("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(
        load("9223372036854775808"),
        Value::BigInt(BigInt::from(1u64 << 63))
    );
    assert_eq!(
        load("-(9223372036854775809)"),
        Value::BigInt(-BigInt::from((1u64 << 63) + 1))
    );
    assert_eq!(load("1.5"), Value::Float(1.5));
    assert_eq!(load("1."), Value::Float(1.0));
    assert_eq!(load(".5"), Value::Float(0.5));
    assert_eq!(load("1_0.5e1_0"), Value::Float(105000000000.0));
    assert_eq!(load("0123.5"), Value::Float(123.5));
    assert_eq!(load("1E+5"), Value::Float(1e5));
    assert_eq!(load("1e30000"), Value::Float(f64::INFINITY));
    assert_eq!(load("-1e30000"), Value::Float(f64::NEG_INFINITY));
    assert_eq!(load("5e-324"), Value::Float(5e-324));
    let neg_zero = load("-0.0");
    assert!(matches!(neg_zero, Value::Float(f) if f == 0.0 && f.is_sign_negative()));
    for bad in [
        "01", "1__0", "1_", "1e", "1e+", "0x", "1abc", "1.2.3", "--1", "-+1", "- -1", "-True",
        "-'a'", "-(1,)", "-(-1)",
    ] {
        load_err(bad);
    }
    let digits = "7".repeat(4300);
    assert!(matches!(load(&digits), Value::BigInt(_)));
    assert_eq!(offset_of(&load_err(&"7".repeat(4301))), 0);
}

fn bits(v: &Value) -> (u64, u64) {
    match v {
        Value::Complex { re, im } => (re.to_bits(), im.to_bits()),
        other => panic!("not complex: {other:?}"),
    }
}

#[test]
fn reads_complex_with_python_arithmetic() {
    let c = |re: f64, im: f64| (re.to_bits(), im.to_bits());
    assert_eq!(bits(&load("2j")), c(0.0, 2.0));
    assert_eq!(bits(&load("-2j")), c(-0.0, -2.0));
    assert_eq!(bits(&load("(1.0+2.0j)")), c(1.0, 2.0));
    assert_eq!(bits(&load("(-1.0-2.0j)")), c(-1.0, -2.0));
    // As in Python: 1.0 - 0.0j has imaginary part 0.0 - 0.0 = +0.0.
    assert_eq!(bits(&load("(1.0-0.0j)")), c(1.0, 0.0));
    assert_eq!(bits(&load("(-0.0+1.0j)")), c(0.0, 1.0));
    assert_eq!(bits(&load("(-0.0-1.0j)")), c(-0.0, -1.0));
    assert_eq!(bits(&load("1+2j")), c(1.0, 2.0));
    assert_eq!(bits(&load("(1)+(2J)")), c(1.0, 2.0));
    assert_eq!(
        bits(&load("(1e30000-1e30000j)")),
        c(f64::INFINITY, f64::NEG_INFINITY)
    );
    assert_eq!(bits(&load("1e5j")), c(0.0, 1e5));
    for bad in [
        "1+2",
        "2j+1",
        "1+-2j",
        "1+2j+3j",
        "(1+2j)+3j",
        "'a'+2j",
        "True+1j",
        "None",
    ] {
        if bad == "None" {
            continue;
        }
        load_err(bad);
    }
    assert_eq!(offset_of(&load_err(&format!("1{}+1j", "0".repeat(400)))), 0);
}

#[test]
fn reads_containers() {
    assert_eq!(load("()"), Value::Tuple(vec![]));
    assert_eq!(load("(1,)"), Value::Tuple(vec![Value::Int(1)]));
    assert_eq!(load("(1)"), Value::Int(1));
    assert_eq!(load("((1))"), Value::Int(1));
    assert_eq!(
        load("(1,2,)"),
        Value::Tuple(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        load("1,2"),
        Value::Tuple(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(load("1,"), Value::Tuple(vec![Value::Int(1)]));
    assert_eq!(
        load("[1, 2,]"),
        Value::List(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(load("{}"), dict(vec![]));
    assert_eq!(load("{ 'a' : 1 , }"), dict(vec![(s("a"), Value::Int(1))]));
    assert_eq!(
        load("{1,2,}"),
        Value::Set(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(load("set()"), Value::Set(vec![]));
    assert_eq!(load("set ( )"), Value::Set(vec![]));
    assert_eq!(
        load("[None,True,False]"),
        Value::List(vec![Value::None, Value::Bool(true), Value::Bool(false)])
    );
    // Python equality decides duplicates: first key kept, last value wins.
    assert_eq!(
        load("{1:'a',True:'b',1.0:'c',2:'d'}"),
        dict(vec![(Value::Int(1), s("c")), (Value::Int(2), s("d"))])
    );
    assert_eq!(
        load("{1,1.0,True,(1,),(1.0,)}"),
        Value::Set(vec![Value::Int(1), Value::Tuple(vec![Value::Int(1)])])
    );
    assert_eq!(
        load("{b'a':1,'a':2}").clone(),
        dict(vec![
            (Value::Bytes(b"a".to_vec()), Value::Int(1)),
            (s("a"), Value::Int(2))
        ])
    );
    for bad in [
        "(",
        "(1",
        "(1 2)",
        "[1,,2]",
        "[,]",
        "{1:}",
        "{:1}",
        "{1:2,3}",
        "{1,2:3}",
        "{**a}",
        "{[1]:2}",
        "{{1}}",
        "{(1,[2])}",
        "[1] [2]",
        "x",
        "Nonex",
        "set(1)",
        "...",
        "1 if 1 else 2",
        "[1,2",
        "{'a':1",
        ")",
    ] {
        load_err(bad);
    }
    assert_eq!(offset_of(&load_err("{1:2, [3]:4}")), 6);
    assert_eq!(offset_of(&load_err("[1, 2 3]")), 6);
}

#[test]
fn rejects_nul_and_bad_utf8() {
    assert_eq!(offset_of(&load_err("# h\n'a\u{0}b'")), 6);
    assert_eq!(offset_of(&loads(b"'ab\xff'").unwrap_err()), 3);
}

fn nested(depth: usize, open: &str, close: &str) -> String {
    let mut t = open.repeat(depth);
    t.push('1');
    t.push_str(&close.repeat(depth));
    t
}

#[test]
fn depth_limit_is_an_error_not_a_crash() {
    assert!(loads(nested(MAX_DEPTH, "[", "]").as_bytes()).is_ok());
    assert!(loads(nested(MAX_DEPTH, "(", ",)").as_bytes()).is_ok());
    for (open, close) in [("[", "]"), ("(", ",)"), ("{", "}"), ("{1:", "}")] {
        assert_eq!(
            loads(nested(MAX_DEPTH + 1, open, close).as_bytes()),
            Err(SerializeError::TooDeep { limit: MAX_DEPTH }),
            "{open}"
        );
    }
    // Far deeper inputs stop at the limit, without touching the stack more.
    assert_eq!(
        loads("[".repeat(1_000_000).as_bytes()),
        Err(SerializeError::TooDeep { limit: MAX_DEPTH })
    );
    assert!(loads("-".repeat(100_000).as_bytes()).is_err());
    // A complex inside the innermost container still reads (its parentheses group).
    let mut t = "[".repeat(MAX_DEPTH);
    t.push_str("(1.0+2.0j)");
    t.push_str(&"]".repeat(MAX_DEPTH));
    assert!(loads(t.as_bytes()).is_ok());
    // The writer has the same limit.
    let mut v = Value::Int(1);
    for _ in 0..MAX_DEPTH {
        v = Value::List(vec![v]);
    }
    let text = dumps(&v).unwrap();
    assert_eq!(loads(&text).unwrap(), v);
    let v = Value::Tuple(vec![v]);
    assert_eq!(dumps(&v), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
}

/// What a value reads back as after a serpent round trip (see module docs).
fn expected_after_round_trip(v: &Value) -> Value {
    let e = expected_after_round_trip;
    match v {
        Value::Float(f) if f.is_nan() => nan_dict(),
        Value::Complex { re, im } if re.is_nan() || im.is_nan() => dict(vec![
            (s("__class__"), s("complex")),
            (s("real"), e(&Value::Float(*re))),
            (s("imag"), e(&Value::Float(*im))),
        ]),
        Value::Complex { re, im } => {
            if im.is_sign_positive() {
                Value::Complex {
                    re: re + 0.0,
                    im: *im,
                }
            } else {
                Value::Complex {
                    re: *re,
                    im: 0.0 - im.abs(),
                }
            }
        }
        Value::Bytes(b) => {
            use base64::Engine;
            dict(vec![
                (
                    s("data"),
                    s(&base64::engine::general_purpose::STANDARD.encode(b)),
                ),
                (s("encoding"), s("base64")),
            ])
        }
        Value::List(items) => Value::List(items.iter().map(e).collect()),
        Value::Tuple(items) => Value::Tuple(items.iter().map(e).collect()),
        Value::Set(items) | Value::FrozenSet(items) if items.is_empty() => Value::Tuple(vec![]),
        Value::Set(items) | Value::FrozenSet(items) => Value::Set(items.iter().map(e).collect()),
        Value::Dict(d) => dict(d.0.iter().map(|(k, v)| (e(k), e(v))).collect()),
        Value::Class(c) => {
            let mut pairs = vec![(s("__class__"), s(&c.class_name))];
            pairs.extend(c.fields.0.iter().map(|(k, v)| (e(k), e(v))));
            dict(pairs)
        }
        other => other.clone(),
    }
}

fn nan_dict() -> Value {
    dict(vec![(s("__class__"), s("float")), (s("value"), s("nan"))])
}

/// Equality that treats floats bit-exactly (so NaN equals NaN, -0.0 != 0.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Complex { re: a, im: b }, Value::Complex { re: c, im: d }) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (Value::List(x), Value::List(y))
        | (Value::Tuple(x), Value::Tuple(y))
        | (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (any::<i64>(), any::<u64>(), any::<bool>()).prop_map(|(hi, lo, neg)| {
                let b: BigInt =
                    (BigInt::from(hi) << 64u32) + BigInt::from(lo) + (BigInt::from(1u8) << 63);
                reader::normalise(if neg { -b } else { b })
            }),
            any::<f64>().prop_map(Value::Float),
            prop_oneof![
                Just(f64::NAN),
                Just(-0.0),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(5e-324)
            ]
            .prop_map(Value::Float),
            (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex { re, im }),
            (
                prop_oneof![Just(0.0), Just(-0.0), any::<f64>()],
                prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN)]
            )
                .prop_map(|(re, im)| Value::Complex { re, im }),
            any::<String>().prop_map(Value::from),
            "[\\x00-\\x7f'\"\\\\]{0,12}".prop_map(Value::from),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ]
    }

    fn key() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::Int),
            any::<String>().prop_map(Value::from),
            (any::<i32>(), "[a-z]{0,3}").prop_map(|(i, t)| Value::Tuple(vec![
                Value::Int(i as i64),
                Value::Str(t.into()),
                Value::None
            ])),
        ]
    }

    /// Keys distinct under Python equality (else a dict would collapse them).
    fn distinct(keys: Vec<Value>) -> Vec<Value> {
        crate::serialize::keys::dedup_set(keys)
    }

    pub(super) fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
                proptest::collection::vec(key(), 0..6).prop_map(|k| Value::Set(distinct(k))),
                proptest::collection::vec(key(), 0..6).prop_map(|k| Value::FrozenSet(distinct(k))),
                (
                    proptest::collection::vec(key(), 0..6),
                    proptest::collection::vec(inner.clone(), 6)
                )
                    .prop_map(|(k, v)| Value::Dict(Dict(distinct(k).into_iter().zip(v).collect()))),
                (
                    "[a-z]{1,8}\\.[A-Z][a-z]{0,8}",
                    proptest::collection::vec(inner, 3)
                )
                    .prop_map(|(name, v)| {
                        let names = ["state", "args", "attributes"];
                        Value::Class(Box::new(ClassDict {
                            class_name: name,
                            fields: Dict(names.iter().map(|n| s(n)).zip(v).collect()),
                        }))
                    }),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip_matches_the_serpent_model(v in value()) {
            let text = dumps(&v).unwrap();
            let back = loads(&text).unwrap();
            let want = expected_after_round_trip(&v);
            prop_assert!(same(&back, &want), "{:?}\n -> {}\n -> {:?}\n want {:?}", v, String::from_utf8_lossy(&text), back, want);
            // What was read writes back to the same text except where the
            // model changed the value's kind (bytes, NaN, empty sets, complex zeros).
            let again = dumps(&back).unwrap();
            prop_assert_eq!(loads(&again).unwrap(), back);
        }

        #[test]
        fn call_round_trip(object in ".{0,12}", method in "[a-z_<>]{1,12}", args in proptest::collection::vec(value(), 0..4), list in any::<bool>(), kw in proptest::option::of(proptest::collection::vec(("[a-z]{1,6}", value()), 0..4))) {
            let call = Call {
                object: object.into(),
                method: method.into(),
                vargs: if list { Value::List(args) } else { Value::Tuple(args) },
                kwargs: kw.map(|pairs| {
                let mut seen = Vec::new();
                Dict(
                    pairs
                        .into_iter()
                        .filter(|(k, _)| !seen.contains(k) && { seen.push(k.clone()); true })
                        .map(|(k, v)| (Value::Str(k.into()), v))
                        .collect(),
                )
            }),
            };
            let text = dumps_call(&call).unwrap();
            // The call tuple is an ordinary tuple value too.
            let whole = Value::Tuple(vec![
                Value::Str(call.object.clone()),
                Value::Str(call.method.clone()),
                call.vargs.clone(),
                call.kwargs.clone().map(Value::Dict).unwrap_or(Value::None),
            ]);
            prop_assert_eq!(&text, &dumps(&whole).unwrap());
            let back = loads_call(&text).unwrap();
            prop_assert_eq!(&back.object, &call.object);
            prop_assert_eq!(&back.method, &call.method);
            prop_assert!(same(&back.vargs, &expected_after_round_trip(&call.vargs)));
            match (back.kwargs, call.kwargs) {
                (None, None) => {}
                (Some(got), Some(sent)) => {
                    prop_assert!(same(&Value::Dict(got), &expected_after_round_trip(&Value::Dict(sent))))
                }
                (got, sent) => prop_assert!(false, "kwargs {:?} came back as {:?}", sent, got),
            }
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = loads(&data);
            let _ = loads_call(&data);
        }

        #[test]
        fn reader_never_panics_on_near_serpent(v in value(), cut in any::<proptest::sample::Index>(), byte in any::<u8>()) {
            let mut text = dumps(&v).unwrap();
            let i = cut.index(text.len());
            text[i] = byte;
            if let Ok(decoded) = loads(&text) {
                // Literals cannot produce NaN, so Python equality (`==` on
                // floats, -0.0 == 0.0 as in complex zeros) is the right test;
                // a `b'..'` literal reads as bytes, which serpent writes as
                // its base64 dict, hence the round-trip model.
                if let Ok(again) = dumps(&decoded) {
                    prop_assert_eq!(loads(&again).unwrap(), expected_after_round_trip(&decoded));
                }
            }
        }
    }
}
