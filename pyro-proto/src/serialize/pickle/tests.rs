use super::*;
use crate::serialize::keys::{dedup_dict, dedup_set};
use crate::serialize::MAX_DEPTH;
use crate::value::ClassDict;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use num_bigint::BigInt;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::Dict(Dict(pairs))
}

fn exception(name: &str, args: Vec<Value>, attrs: Vec<(Value, Value)>) -> Value {
    Value::Class(Box::new(ClassDict {
        class_name: name.to_string(),
        fields: Dict(vec![
            (s("__exception__"), Value::Bool(true)),
            (s("args"), Value::Tuple(args)),
            (s("attributes"), dict(attrs)),
        ]),
    }))
}

fn uri(state: Vec<Value>) -> Value {
    Value::Class(Box::new(ClassDict {
        class_name: "Pyro4.core.URI".to_string(),
        fields: Dict(vec![(s("state"), Value::Tuple(state))]),
    }))
}

fn malformed(r: Result<Value, SerializeError>) -> String {
    match r {
        Err(SerializeError::Malformed { codec, reason, .. }) => {
            assert_eq!(codec, "pickle");
            reason
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// Payloads from tests/vectors/unit_serializer_pickle.txt (Pyro4 4.82, protocol 5).
const CALL_MULTIPLY: &str =
    "8005952200000000000000288c08746573742e6f626a948c086d756c7469706c79944b064b0786947d9474942e";
const DATA_URI: &str = "8005953a000000000000008c0a5079726f342e636f7265948c03555249949394298194288c045059524f948c036f626a944e8c096c6f63616c686f7374944dd2047494622e";
const DATA_VALUEERROR: &str = "80059579000000000000008c086275696c74696e73948c0a56616c75654572726f729493948c03626164944b2a869452947d948c0e5f7079726f54726163656261636b945d94288c2354726163656261636b20286d6f737420726563656e742063616c6c206c617374293a0a948c1056616c75654572726f723a206261640a946573622e";
const DATA_WRAPPER: &str = "800595b8000000000000005d94284b2a8c0d5079726f342e66757475726573948c115f457863657074696f6e577261707065729493942981947d948c09657863657074696f6e948c086275696c74696e73948c0a56616c75654572726f729493948c03626164944b2a869452947d948c0e5f7079726f54726163656261636b945d94288c2354726163656261636b20286d6f737420726563656e742063616c6c206c617374293a0a948c1056616c75654572726f723a206261640a946573627362652e";

/// Python restores a proxy's URI from its pickled state without parsing it,
/// so a call carrying a proxy whose URI Pyro4 could not parse (here host
/// `./u:0.0.1`, bracketed because it holds a colon) is read. Writing it again
/// needs the URI text parsed, and that is refused with a clear error rather
/// than sending a URI no Pyro4 peer could use. (Found by the pickle_parser
/// fuzz target.)
#[test]
fn a_proxy_with_an_unparsable_uri_is_rewritten_as_python_would() {
    let data = hex("8005955c01000000000000288c07666163746f7279948c0474616b65948c0a5079726f342e636f7265948c0550726f78799493942981942868028c03555249949394298194288c045059524f948c096d6164652e6f626a32944e8c092e2f753a302e302e31944d04b87494628f94288c0b6f6e657761795f63616c6c94908f94288c086d756c7469704c79948c0b72616973655f76616c7565948c046563686f948c0c72616973655f637573746f6d948c06646976696465948c04626c6f62948c0c637573746f7d5f636c617373948c086974657261746f7294680e8c0a72616973655f7079726f948c066b7761726773948c0b74797065735f6261736963948c0e74797065735f657874656e646564948c076765745f757269948c0367656e948c0c77656972645f666c6f61747394908f94288c08726561646f6e6c79948c0576616c756594904700000000000000004e8c057d7d7d7d7d7d4b004e74946285947d9474942e");
    let call = super::loads_call(&data).unwrap();
    assert_eq!(call.object, "factory");
    assert_eq!(call.method, "take");
    // The host `./u:0.0.1` holds a colon: as text the URI would be
    // bracketed, which Pyro4's parser refuses. It stays the URI object.
    let Value::Tuple(vargs) = &call.vargs else {
        panic!("{:?}", call.vargs)
    };
    let Value::Class(proxy) = &vargs[0] else {
        panic!("{:?}", vargs[0])
    };
    let Some((_, Value::Tuple(state))) = proxy.fields.0.first() else {
        panic!("{proxy:?}")
    };
    let uri_state = Value::Tuple(vec![
        s("PYRO"),
        s("made.obj2"),
        Value::None,
        s("./u:0.0.1"),
        Value::Int(47108),
    ]);
    match &state[0] {
        Value::Class(uri) => {
            assert_eq!(uri.class_name, "Pyro4.core.URI");
            assert_eq!(uri.fields.0, vec![(s("state"), uri_state.clone())]);
        }
        other => panic!("expected the URI object, got {other:?}"),
    }
    // Re-pickled, it reads back the same (the Python oracle test checks
    // that Python loads it too).
    let again = super::loads_call(&super::dumps_call(&call).unwrap()).unwrap();
    assert_eq!(
        (again.object, again.method, again.vargs, again.kwargs),
        (call.object, call.method, call.vargs, call.kwargs)
    );
}

/// Python pickles a `uuid.UUID` as its class plus `{'int': n}`; we read it
/// as the text `str(uuid)` gives (bytes from CPython 3.11, protocols 2 and 4).
#[test]
fn uuids_read_as_their_text() {
    let p2 = hex("800263757569640a555549440a7100298171017d71025803000000696e7471038a10efcdab8967452301ef896745cdab230173622e");
    assert_eq!(
        loads(&p2).unwrap(),
        s("0123abcd-4567-89ef-0123-456789abcdef")
    );
    let p4 = hex(
        "80049520000000000000008c0475756964948c04555549449493942981947d948c03696e74944b0573622e",
    );
    assert_eq!(
        loads(&p4).unwrap(),
        s("00000000-0000-0000-0000-000000000005")
    );
}

#[test]
fn reads_the_pyro4_call_vector() {
    let call = loads_call(&hex(CALL_MULTIPLY)).unwrap();
    assert_eq!(call.object, "test.obj");
    assert_eq!(call.method, "multiply");
    assert_eq!(call.vargs, Value::Tuple(vec![Value::Int(6), Value::Int(7)]));
    assert_eq!(call.kwargs, Some(Dict::default()));
    // And our encoding of it reads back the same.
    let again = loads_call(&dumps_call(&call).unwrap()).unwrap();
    assert_eq!(
        (again.object, again.method, again.vargs, again.kwargs),
        (call.object, call.method, call.vargs, call.kwargs)
    );
}

#[test]
fn reads_uri_exception_and_wrapper_vectors() {
    let u = loads(&hex(DATA_URI)).unwrap();
    assert_eq!(
        u,
        uri(vec![
            s("PYRO"),
            s("obj"),
            Value::None,
            s("localhost"),
            Value::Int(1234)
        ])
    );
    let tb = Value::List(vec![
        s("Traceback (most recent call last):\n"),
        s("ValueError: bad\n"),
    ]);
    let e = exception(
        "builtins.ValueError",
        vec![s("bad"), Value::Int(42)],
        vec![(s("_pyroTraceback"), tb)],
    );
    assert_eq!(loads(&hex(DATA_VALUEERROR)).unwrap(), e);
    let w = loads(&hex(DATA_WRAPPER)).unwrap();
    let wrapper = Value::Class(Box::new(ClassDict {
        class_name: "Pyro4.futures._ExceptionWrapper".into(),
        fields: Dict(vec![(s("exception"), e)]),
    }));
    assert_eq!(w, Value::List(vec![Value::Int(42), wrapper]));
    for v in [u, w] {
        assert_eq!(loads(&dumps(&v).unwrap()).unwrap(), v);
    }
}

/// `pickle.dumps(value, protocol)` by CPython 3.11 for protocols 0 to 3
/// (older forms: text opcodes, `__builtin__`/`exceptions` names, `_codecs.encode`).
const OLD_PROTOCOLS: &[(&str, &str)] = &[
    ("bytes", "635f636f646563730a656e636f64650a70300a28566162ff0a70310a566c6174696e310a70320a7470330a5270340a2e"),
    ("bytes", "635f636f646563730a656e636f64650a71002858040000006162c3bf710158060000006c6174696e3171027471035271042e"),
    ("bytes", "8002635f636f646563730a656e636f64650a710058040000006162c3bf710158060000006c6174696e3171028671035271042e"),
    ("bytes", "800343036162ff71002e"),
    ("set", "635f5f6275696c74696e5f5f0a7365740a70300a28286c70310a49310a6149320a617470320a5270330a2e"),
    ("set", "635f5f6275696c74696e5f5f0a7365740a7100285d7101284b014b02657471025271032e"),
    ("set", "8002635f5f6275696c74696e5f5f0a7365740a71005d7101284b014b02658571025271032e"),
    ("set", "8003636275696c74696e730a7365740a71005d7101284b014b02658571025271032e"),
    ("frozenset", "635f5f6275696c74696e5f5f0a66726f7a656e7365740a70300a28286c70310a49330a617470320a5270330a2e"),
    ("frozenset", "635f5f6275696c74696e5f5f0a66726f7a656e7365740a7100285d71014b03617471025271032e"),
    ("frozenset", "8002635f5f6275696c74696e5f5f0a66726f7a656e7365740a71005d71014b03618571025271032e"),
    ("frozenset", "8003636275696c74696e730a66726f7a656e7365740a71005d71014b03618571025271032e"),
    ("complex", "635f5f6275696c74696e5f5f0a636f6d706c65780a70300a2846312e300a46322e300a7470310a5270320a2e"),
    ("complex", "635f5f6275696c74696e5f5f0a636f6d706c65780a710028473ff00000000000004740000000000000007471015271022e"),
    ("complex", "8002635f5f6275696c74696e5f5f0a636f6d706c65780a7100473ff00000000000004740000000000000008671015271022e"),
    ("complex", "8003636275696c74696e730a636f6d706c65780a7100473ff00000000000004740000000000000008671015271022e"),
    ("bytearray", "635f5f6275696c74696e5f5f0a6279746561727261790a70300a28635f636f646563730a656e636f64650a70310a2856780a70320a566c6174696e310a70330a7470340a5270350a7470360a5270370a2e"),
    ("bytearray", "635f5f6275696c74696e5f5f0a6279746561727261790a710028635f636f646563730a656e636f64650a710128580100000078710258060000006c6174696e3171037471045271057471065271072e"),
    ("bytearray", "8002635f5f6275696c74696e5f5f0a6279746561727261790a7100635f636f646563730a656e636f64650a7101580100000078710258060000006c6174696e3171038671045271058571065271072e"),
    ("bytearray", "8003636275696c74696e730a6279746561727261790a710043017871018571025271032e"),
    ("empty", "635f5f6275696c74696e5f5f0a62797465730a70300a28745270310a2e"),
    ("empty", "635f5f6275696c74696e5f5f0a62797465730a7100295271012e"),
    ("empty", "8002635f5f6275696c74696e5f5f0a62797465730a7100295271012e"),
    ("empty", "8003430071002e"),
    ("error", "63657863657074696f6e730a56616c75654572726f720a70300a2856610a70310a7470320a5270330a2e"),
    ("error", "63657863657074696f6e730a56616c75654572726f720a71002858010000006171017471025271032e"),
    ("error", "800263657863657074696f6e730a56616c75654572726f720a710058010000006171018571025271032e"),
    ("error", "8003636275696c74696e730a56616c75654572726f720a710058010000006171018571025271032e"),
    ("list", "286c70300a49310a6156780a70310a614e614930310a614c313138303539313632303731373431313330333432344c0a61462d312e350a612e"),
    ("list", "5d7100284b0158010000007871014e4930310a4c313138303539313632303731373431313330333432344c0a47bff8000000000000652e"),
    ("list", "80025d7100284b0158010000007871014e888a0900000000000000004047bff8000000000000652e"),
    ("list", "80035d7100284b0158010000007871014e888a0900000000000000004047bff8000000000000652e"),
    ("text", "5668e96c6c6f205c7532306163205c5530303031663630300a70300a2e"),
    ("text", "580f00000068c3a96c6c6f20e282ac20f09f988071002e"),
    ("text", "8002580f00000068c3a96c6c6f20e282ac20f09f988071002e"),
    ("text", "8003580f00000068c3a96c6c6f20e282ac20f09f988071002e"),
];

#[test]
fn protocols_0_to_3_are_read_like_cpython() {
    for (kind, h) in OLD_PROTOCOLS {
        let want = match *kind {
            "bytes" => Value::Bytes(vec![b'a', b'b', 0xff]),
            "set" => Value::Set(vec![Value::Int(1), Value::Int(2)]),
            "frozenset" => Value::FrozenSet(vec![Value::Int(3)]),
            "complex" => Value::Complex { re: 1.0, im: 2.0 },
            "bytearray" => Value::Bytes(vec![b'x']),
            "empty" => Value::Bytes(vec![]),
            "error" => exception("builtins.ValueError", vec![s("a")], vec![]),
            "list" => Value::List(vec![
                Value::Int(1),
                s("x"),
                Value::None,
                Value::Bool(true),
                Value::BigInt(BigInt::from(1u8) << 70),
                Value::Float(-1.5),
            ]),
            "text" => s("h\u{e9}llo \u{20ac} \u{1F600}"),
            _ => unreachable!(),
        };
        assert_eq!(loads(&hex(h)).unwrap(), want, "{kind}: {h}");
    }
}

#[test]
fn unknown_and_dunder_globals_are_refused() {
    // pickle.dumps(os.system, 4) style: STACK_GLOBAL 'os' 'system'.
    let mut p = vec![0x80, 4, 0x8c, 2];
    p.extend_from_slice(b"os");
    p.extend_from_slice(&[0x8c, 6]);
    p.extend_from_slice(b"system");
    p.extend_from_slice(&[0x93, b'.']);
    assert_eq!(
        loads(&p),
        Err(SerializeError::UnknownClass("os.system".into()))
    );
    let g = b"c__main__\nThing\n)\x81.";
    assert_eq!(
        loads(g),
        Err(SerializeError::DunderClass("__main__.Thing".into()))
    );
    // A whitelisted class object on its own is not a value.
    assert!(matches!(
        loads(b"\x80\x04cbuiltins\nset\n."),
        Err(SerializeError::Unsupported { .. })
    ));
}

#[test]
fn malformed_input_is_reported_with_offset() {
    assert!(malformed(loads(b"")).contains("truncated"));
    assert!(malformed(loads(b"\x80\x05K")).contains("truncated"));
    assert!(malformed(loads(b"\x80\x06N.")).contains("protocol"));
    assert!(malformed(loads(b"\xff")).contains("0xff"));
    assert!(malformed(loads(b".")).contains("underflow"));
    assert!(malformed(loads(b"a.")).contains("underflow"));
    assert!(malformed(loads(b"h\x05.")).contains("memo key 5"));
    assert!(malformed(loads(b"K\x01K\x02a.")).contains("not a list"));
    // A length far beyond the input allocates nothing and fails cleanly.
    assert!(malformed(loads(b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.")).contains("truncated"));
    assert!(malformed(loads(b"X\xff\xff\xff\xff.")).contains("truncated"));
    assert!(malformed(loads(b"r\xff\xff\xff\xff.")).contains("empty stack"));
    // Unhashable dict keys.
    assert!(malformed(loads(b"}]K\x01s.")).contains("unhashable"));
    match loads(b"}]K\x01s.") {
        Err(SerializeError::Malformed { offset, .. }) => assert_eq!(offset, 5, "at STOP"),
        other => panic!("{other:?}"),
    }
    match loads(b"\x80\x02K\x01K\x02.") {
        Ok(v) => assert_eq!(v, Value::Int(2)),
        other => panic!("{other:?}"),
    }
    match loads(b"\x80\x04Kq") {
        Err(SerializeError::Malformed { offset, .. }) => assert_eq!(offset, 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // [[[[...]]]] built with EMPTY_LIST + APPEND, far deeper than MAX_DEPTH.
    let n = 100_000;
    let mut p = vec![0x80, 4];
    p.extend(core::iter::repeat_n(b']', n));
    p.extend(core::iter::repeat_n(b'a', n - 1));
    p.push(b'.');
    assert_eq!(loads(&p), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
    // Same with MARK/TUPLE.
    let mut p = vec![0x80, 4];
    p.extend(core::iter::repeat_n(b'(', n));
    p.extend(core::iter::repeat_n(b't', n));
    p.push(b'.');
    assert_eq!(loads(&p), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
    // Exactly MAX_DEPTH levels are fine.
    let mut p = vec![0x80, 4];
    p.extend(core::iter::repeat_n(b']', MAX_DEPTH));
    p.extend(core::iter::repeat_n(b'a', MAX_DEPTH - 1));
    p.push(b'.');
    assert!(loads(&p).is_ok());
    // The writer refuses too-deep values.
    let mut v = Value::None;
    for _ in 0..MAX_DEPTH + 2 {
        v = Value::List(vec![v]);
    }
    assert_eq!(dumps(&v), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
    core::mem::forget(v);
}

#[test]
fn memo_expansion_is_bounded() {
    // x = 'a'*200; then repeatedly: l = [x_prev, x_prev] (two GETs), memoize.
    // 40 doublings of a 200-byte string would be 2^40 * 200 bytes.
    let mut p = vec![0x80, 4, b'X', 200, 0, 0, 0];
    p.extend(core::iter::repeat_n(b'a', 200));
    p.push(0x94); // memo 0
    for i in 0..40u32 {
        p.extend_from_slice(b"(j");
        p.extend_from_slice(&i.to_le_bytes());
        p.push(b'j');
        p.extend_from_slice(&i.to_le_bytes());
        p.extend_from_slice(&[b'l', 0x94]);
    }
    p.push(b'.');
    let r = malformed(loads(&p));
    assert!(r.contains("size limit"), "{r}");
    // A self-referencing list (l = []; l.append(l)) is refused, not looped on.
    let r = loads(b"\x80\x04]\x94h\x00a.");
    assert!(matches!(r, Err(SerializeError::TooDeep { .. })), "{r:?}");
}

#[test]
fn memo_sees_later_mutation_like_python() {
    // pickle.dumps([x, x], 4) with x = [1, 2]: the inner list is memoized
    // empty, filled afterwards, then fetched again.
    let data = hex("8004950f000000000000005d94285d94284b014b0265680165");
    let mut d = data.clone();
    d.push(b'.');
    let inner = Value::List(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(loads(&d).unwrap(), Value::List(vec![inner.clone(), inner]));
}

#[test]
fn writes_what_python_writes_for_pyro_objects() {
    let e = exception("Pyro4.errors.NamingError", vec![s("x")], vec![]);
    let b = dumps(&e).unwrap();
    // STACK_GLOBAL 'Pyro4.errors' 'NamingError', args, REDUCE, no BUILD.
    assert!(b.windows(12).any(|w| w == b"Pyro4.errors"));
    assert_eq!(&b[b.len() - 2..], b"R.");
    assert_eq!(loads(&b).unwrap(), e);
    let u = uri(vec![s("PYRO"), s("o"), Value::None, s("h"), Value::Int(1)]);
    let b = dumps(&u).unwrap();
    assert_eq!(&b[b.len() - 2..], b"b.");
    assert_eq!(loads(&b).unwrap(), u);
    // Unknown classes go out as their class dict, `__class__` first.
    let c = Value::Class(Box::new(ClassDict {
        class_name: "mod.Thing".into(),
        fields: Dict(vec![(s("size"), Value::Int(3))]),
    }));
    assert_eq!(
        loads(&dumps(&c).unwrap()).unwrap(),
        dict(vec![
            (s("__class__"), s("mod.Thing")),
            (s("size"), Value::Int(3))
        ])
    );
    // Python 2 spelling goes out as builtins.
    let e2 = exception("exceptions.KeyError", vec![s("k")], vec![]);
    assert_eq!(
        loads(&dumps(&e2).unwrap()).unwrap(),
        exception("builtins.KeyError", vec![s("k")], vec![])
    );
}

#[test]
fn call_with_none_kwargs_and_list_vargs() {
    let call = Call {
        object: "Pyro.Daemon".into(),
        method: "get_next_stream_item".into(),
        vargs: Value::List(vec![s("id")]),
        kwargs: None,
    };
    let back = loads_call(&dumps_call(&call).unwrap()).unwrap();
    assert_eq!(back.vargs, call.vargs);
    assert_eq!(back.kwargs, None);
    assert!(matches!(
        loads_call(&dumps(&Value::Int(3)).unwrap()),
        Err(SerializeError::BadCall(_))
    ));
    assert!(matches!(
        loads_call(
            &dumps(&Value::Tuple(vec![
                s("a"),
                s("b"),
                Value::Int(1),
                Value::None
            ]))
            .unwrap()
        ),
        Err(SerializeError::BadCall(_))
    ));
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (any::<i64>(), 1u32..200).prop_map(|(i, sh)| {
            let b = BigInt::from(i) << (64 + sh);
            if b == BigInt::from(0) {
                Value::Int(0)
            } else {
                Value::BigInt(b)
            }
        }),
        any::<u64>().prop_map(|b| Value::Float(f64::from_bits(b))),
        (any::<f64>(), any::<f64>()).prop_map(|(re, im)| Value::Complex { re, im }),
        ".*".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            "[a-z]{0,8}".prop_map(Value::from),
            Just(Value::None),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Tuple),
            // Distinct keys, as a Python set or dict holds them.
            proptest::collection::vec(key.clone(), 0..5).prop_map(|ks| Value::Set(dedup_set(ks))),
            proptest::collection::vec(key.clone(), 0..5)
                .prop_map(|ks| Value::FrozenSet(dedup_set(ks))),
            proptest::collection::vec((key, inner.clone()), 0..6)
                .prop_map(|p| Value::Dict(Dict(dedup_dict(p)))),
            (
                proptest::collection::vec(inner.clone(), 0..3),
                "[a-z_]{1,6}",
                inner.clone()
            )
                .prop_map(|(args, k, v)| exception(
                    "builtins.RuntimeError",
                    args,
                    vec![(Value::Str(k.into()), v)]
                )),
            (".{0,10}", any::<u16>()).prop_map(|(o, p)| uri(vec![
                s("PYRO"),
                Value::Str(o.into()),
                Value::None,
                s("localhost"),
                Value::Int(p as i64)
            ])),
        ]
    })
}

/// Bit-exact equality (NaN payloads included), which `PartialEq` cannot give.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Complex { re: a, im: b }, Value::Complex { re: c, im: d }) => {
            a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
        }
        (Value::List(x), Value::List(y))
        | (Value::Tuple(x), Value::Tuple(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((a, b), (c, d))| same(a, c) && same(b, d))
        }
        (Value::Class(x), Value::Class(y)) => {
            x.class_name == y.class_name
                && same(
                    &Value::Dict(x.fields.clone()),
                    &Value::Dict(y.fields.clone()),
                )
        }
        _ => a == b,
    }
}

/// Our value as serde-pickle models it, for plain data (no classes).
fn to_serde(v: &Value) -> Option<serde_pickle::Value> {
    use serde_pickle::Value as S;
    Some(match v {
        Value::None => S::None,
        Value::Bool(b) => S::Bool(*b),
        Value::Int(i) => S::I64(*i),
        Value::BigInt(b) => S::Int(b.clone()),
        Value::Float(f) => S::F64(*f),
        Value::Str(s) => S::String(s.to_string()),
        Value::Bytes(b) => S::Bytes(b.clone()),
        Value::List(items) => S::List(items.iter().map(to_serde).collect::<Option<_>>()?),
        Value::Tuple(items) => S::Tuple(items.iter().map(to_serde).collect::<Option<_>>()?),
        Value::Set(items) => S::Set(
            items
                .iter()
                .map(|i| to_serde(i)?.into_hashable().ok())
                .collect::<Option<_>>()?,
        ),
        Value::FrozenSet(items) => S::FrozenSet(
            items
                .iter()
                .map(|i| to_serde(i)?.into_hashable().ok())
                .collect::<Option<_>>()?,
        ),
        Value::Dict(d) => S::Dict(
            d.0.iter()
                .map(|(k, v)| Some((to_serde(k)?.into_hashable().ok()?, to_serde(v)?)))
                .collect::<Option<_>>()?,
        ),
        Value::Complex { .. } | Value::Class(_) => return None,
    })
}

fn has_nan(v: &Value) -> bool {
    match v {
        Value::Float(f) => f.is_nan(),
        Value::List(i) | Value::Tuple(i) | Value::Set(i) | Value::FrozenSet(i) => {
            i.iter().any(has_nan)
        }
        Value::Dict(d) => d.0.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
        _ => false,
    }
}

proptest! {
    #[test]
    fn rust_round_trip(v in arb_value()) {
        let bytes = dumps(&v).unwrap();
        let back = loads(&bytes).unwrap();
        prop_assert!(same(&back, &v), "{:?} != {:?}", back, v);
    }

    #[test]
    fn call_round_trip(args in proptest::collection::vec(arb_value(), 0..4), kw in proptest::option::of("[a-z]{1,5}")) {
        let call = Call {
            object: "obj".into(),
            method: "m".into(),
            vargs: Value::Tuple(args),
            kwargs: kw.map(|k| Dict(vec![(Value::Str(k.into()), Value::Int(1))])),
        };
        let back = loads_call(&dumps_call(&call).unwrap()).unwrap();
        prop_assert!(same(&back.vargs, &call.vargs));
        prop_assert_eq!(back.kwargs, call.kwargs);
    }

    /// serde-pickle as an independent oracle on plain data, both directions.
    #[test]
    fn serde_pickle_agrees(v in arb_value()) {
        if let (Some(sv), false) = (to_serde(&v), has_nan(&v)) {
            let ours = dumps(&v).unwrap();
            let theirs = serde_pickle::value_from_slice(&ours, serde_pickle::DeOptions::new()).unwrap();
            prop_assert_eq!(&theirs, &sv);
            for opts in [serde_pickle::SerOptions::new(), serde_pickle::SerOptions::new().proto_v2()] {
                let bytes = serde_pickle::value_to_vec(&sv, opts).unwrap();
                let back = loads(&bytes).unwrap();
                prop_assert_eq!(to_serde(&back).unwrap(), sv.clone());
            }
        }
    }

    /// The plain-data fast path and the general machine agree wherever the
    /// fast path answers (on our output and on mutations of it).
    #[test]
    fn fast_path_agrees_with_the_machine(v in arb_value(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3)) {
        let mut bytes = dumps(&v).unwrap();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        if let Some(fast) = super::fast::loads(&bytes) {
            let slow = super::read::Reader::new(&bytes).run();
            prop_assert_eq!(format!("{:?}", slow), format!("{:?}", Ok::<_, SerializeError>(fast)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = loads(&data);
        let _ = loads_call(&data);
    }
}

#[test]
fn exception_state_is_taken_whole_and_built_once() {
    // A large __dict__ is taken as it is (no quadratic merging).
    let attrs: Vec<(Value, Value)> = (0..50_000)
        .map(|i| (Value::Str(format!("a{i}").into()), Value::Int(i)))
        .collect();
    let e = exception("builtins.ValueError", vec![s("x")], attrs);
    let mut bytes = dumps(&e).unwrap();
    assert_eq!(loads(&bytes).unwrap(), e);
    // A second BUILD on the same instance is refused.
    bytes.pop();
    bytes.extend_from_slice(b"}b.");
    assert!(malformed(loads(&bytes)).contains("second BUILD"));
    // State of the wrong type for an exception.
    let mut bytes = dumps(&exception("builtins.KeyError", vec![], vec![])).unwrap();
    bytes.pop();
    bytes.extend_from_slice(b"K\x01b.");
    assert!(malformed(loads(&bytes)).contains("must be a dict"));
}

#[test]
fn proxy_state_must_hold_a_uri() {
    let proxy = |first: Value| {
        Value::Class(Box::new(ClassDict {
            class_name: "Pyro4.core.Proxy".into(),
            fields: Dict(vec![(
                s("state"),
                Value::Tuple(vec![
                    first,
                    Value::Set(vec![]),
                    Value::Set(vec![s("m")]),
                    Value::Set(vec![]),
                    Value::Float(0.0),
                    Value::None,
                    s("hello"),
                    Value::Int(0),
                    Value::None,
                ]),
            )]),
        }))
    };
    let good = proxy(uri(vec![
        s("PYRO"),
        s("o"),
        Value::None,
        s("h"),
        Value::Int(1),
    ]));
    // Read back, a proxy has the class-dict form of the other serializers.
    let dict_form = proxy(s("PYRO:o@h:1"));
    let Value::Class(mut expected) = dict_form.clone() else {
        unreachable!()
    };
    if let Some((_, Value::Tuple(st))) = expected.fields.0.first_mut() {
        for names in &mut st[1..4] {
            if let Value::Set(items) = names {
                *names = Value::Tuple(core::mem::take(items));
            }
        }
    }
    assert_eq!(
        loads(&dumps(&good).unwrap()).unwrap(),
        Value::Class(expected.clone())
    );
    assert_eq!(
        loads(&dumps(&dict_form).unwrap()).unwrap(),
        Value::Class(expected)
    );
    // A first entry that is neither a URI nor its text is refused.
    assert!(matches!(
        dumps(&proxy(Value::Int(3))),
        Err(SerializeError::Unsupported { .. })
    ));
}

#[test]
fn unicode_opcode_decodes_raw_unicode_escape_like_python() {
    // pickle protocol 0 `V` lines; expected values from Python's
    // bytes.decode('raw_unicode_escape').
    let cases: [(&[u8], &str); 4] = [
        (b"V\\u0041\n.", "A"),
        (b"V\\\\u0041\n.", "\\\\u0041"),
        (b"V\\\\\\u0041\n.", "\\\\A"),
        (b"Vcaf\xe9 \\U0001f600\n.", "caf\u{e9} \u{1F600}"),
    ];
    for (p, want) in cases {
        assert_eq!(loads(p).unwrap(), s(want), "{p:?}");
    }
}

#[test]
fn fast_path_takes_python_call_payloads_and_agrees() {
    // Python's memoized output without GETs goes the fast way...
    for h in [
        CALL_MULTIPLY,
        "80054b2a2e",
        "8005950e000000000000008c0a68c3a96c6c6f20e282ac942e",
    ] {
        let data = hex(h);
        let fast = super::fast::loads(&data).expect("plain data takes the fast path");
        assert_eq!(Ok(fast), super::read::Reader::new(&data).run(), "{h}");
    }
    // ...memo fetches and classes do not (and still load).
    for h in [DATA_URI, DATA_VALUEERROR, DATA_WRAPPER] {
        let data = hex(h);
        assert!(super::fast::loads(&data).is_none(), "{h}");
        assert!(loads(&data).is_ok());
    }
    for (_, h) in OLD_PROTOCOLS {
        let data = hex(h);
        if let Some(fast) = super::fast::loads(&data) {
            assert_eq!(Ok(fast), super::read::Reader::new(&data).run(), "{h}");
        }
    }
}

#[test]
fn proxy_in_class_dict_form_is_pickled_as_python_pickles_a_proxy() {
    // Daemon::proxy_for (and serpent/json/marshal) give the state with the
    // uri as text and tuples of names; Python's pickled Proxy has a URI
    // object and sets (pickle_autoproxy.txt).
    let names = |n: &[&str]| Value::Tuple(n.iter().map(|s| Value::Str((*s).into())).collect());
    let state = Value::Tuple(vec![
        Value::Str("PYRO:made.obj0@127.0.0.1:47108".into()),
        names(&["oneway_call"]),
        names(&["echo", "oneway_call"]),
        names(&["value"]),
        Value::Float(0.0),
        Value::None,
        Value::Str("hello".into()),
        Value::Int(0),
        Value::None,
    ]);
    let proxy = Value::Class(Box::new(crate::value::ClassDict {
        class_name: "Pyro4.core.Proxy".into(),
        fields: Dict(vec![(Value::Str("state".into()), state)]),
    }));
    let bytes = dumps(&proxy).unwrap();
    // Python gets a URI object (STACK_GLOBAL 'Pyro4.core' 'URI') and sets ('\x8f' EMPTY_SET).
    let uri_global = hex("8c0a5079726f342e636f72658c0355524993");
    assert!(bytes.windows(uri_global.len()).any(|w| w == uri_global));
    assert_eq!(bytes.iter().filter(|b| **b == 0x8f).count(), 3);
    // ...and we read it back in the class-dict form it was given in.
    assert_eq!(loads(&bytes).unwrap(), proxy);
    // The HMAC key travels as `b64:` text in the dict form and as bytes in a pickle.
    let Value::Class(mut keyed) = proxy.clone() else {
        unreachable!()
    };
    if let Some((_, Value::Tuple(st))) = keyed.fields.0.first_mut() {
        st[5] = Value::Str("b64:c2VjcmV0".into());
    }
    let bytes = dumps(&Value::Class(keyed.clone())).unwrap();
    assert!(bytes.windows(6).any(|w| w == b"secret"));
    assert_eq!(loads(&bytes).unwrap(), Value::Class(keyed.clone()));
    if let Some((_, Value::Tuple(st))) = keyed.fields.0.first_mut() {
        st[5] = Value::Str("no-prefix".into());
    }
    assert!(dumps(&Value::Class(keyed)).is_err());
}

/// The writer's leaves skip the recursive call; the depth limit must still
/// fall exactly where it did: a leaf at level MAX_DEPTH is written, one
/// level deeper is refused, in lists, tuples and dicts alike.
#[test]
fn writer_depth_limit_is_exact_for_leaves() {
    let wrap = |levels: usize, leaf: Value, kind: u8| {
        let mut v = leaf;
        for _ in 0..levels {
            v = match kind {
                0 => Value::List(vec![v]),
                1 => Value::Tuple(vec![v, Value::Int(1)]),
                _ => Value::Dict(Dict(vec![(Value::Str("k".into()), v)])),
            };
        }
        v
    };
    for kind in 0..3 {
        for leaf in [Value::Int(7), Value::Str("x".into()), Value::None] {
            let ok = wrap(MAX_DEPTH, leaf.clone(), kind);
            let back = loads(&dumps(&ok).unwrap()).unwrap();
            assert_eq!(back, ok);
            let deep = wrap(MAX_DEPTH + 1, leaf, kind);
            assert_eq!(
                dumps(&deep),
                Err(SerializeError::TooDeep { limit: MAX_DEPTH })
            );
        }
    }
}

#[test]
fn fast_path_keeps_inputs_of_many_small_containers() {
    // More containers than MAX_DEPTH, none deep: the counting pass gives up,
    // the tracking pass takes it, and the machine agrees.
    let v = Value::List(
        (0..1000)
            .map(|i| Value::Tuple(vec![Value::Int(i)]))
            .collect(),
    );
    let data = dumps(&v).unwrap();
    let fast = super::fast::loads(&data).expect("many small containers stay on the fast path");
    assert_eq!(fast, v);
    assert_eq!(Ok(fast), super::read::Reader::new(&data).run());
    // A chain one level too deep is left to the machine, which refuses it.
    let mut p = vec![0x80, 4, b'N'];
    p.extend(core::iter::repeat_n(0x85, MAX_DEPTH + 1));
    p.push(b'.');
    assert!(super::fast::loads(&p).is_none());
    assert_eq!(loads(&p), Err(SerializeError::TooDeep { limit: MAX_DEPTH }));
    p.truncate(p.len() - 2);
    p.push(b'.');
    assert!(super::fast::loads(&p).is_some());
}

#[test]
fn call_items_come_straight_from_the_top_level_tuple() {
    // Python's memoized call tuple (MEMOIZE before STOP) gives its items...
    let data = hex(CALL_MULTIPLY);
    let Some(super::fast::Top::Call(items)) = super::fast::read(&data, true) else {
        panic!("the call tuple takes the fast path");
    };
    assert_eq!(
        Ok(Value::Tuple(items.to_vec())),
        super::read::Reader::new(&data).run()
    );
    // ...a 4-tuple that is not the value at STOP does not.
    let p = b"\x80\x04(\x8c\x01a\x8c\x01b)}t\x85.";
    assert!(matches!(
        super::fast::read(p, true),
        Some(super::fast::Top::Value(Value::Tuple(t))) if t.len() == 1
    ));
    assert!(matches!(loads_call(p), Err(SerializeError::BadCall(_))));
    // Neither does a top-level tuple of another length.
    let p = b"\x80\x04(\x8c\x01a\x8c\x01b)}N\x94t\x94.";
    assert!(matches!(
        super::fast::read(p, true),
        Some(super::fast::Top::Value(Value::Tuple(t))) if t.len() == 5
    ));
    assert!(matches!(loads_call(p), Err(SerializeError::BadCall(_))));
    // The same tuple with four items is a call.
    let p = b"\x80\x04(\x8c\x01a\x8c\x01b)}\x94t\x94\x94.";
    let call = loads_call(p).unwrap();
    assert_eq!((call.object.as_str(), call.method.as_str()), ("a", "b"));
    assert_eq!(call.vargs, Value::Tuple(vec![]));
    assert_eq!(call.kwargs, Some(Dict::default()));
}

#[test]
fn large_leaves_are_written_without_doubling_the_output() {
    // The output grows once for a large leaf (room for it and the opcodes
    // after it), not by doubling past it.
    for v in [
        Value::Bytes(vec![7; 1 << 20]),
        Value::Str("x".repeat(300_000).into()),
        Value::Tuple(vec![Value::Bytes(vec![1; 100_000]), Value::Int(5)]),
    ] {
        let out = dumps(&v).unwrap();
        assert!(
            out.capacity() - out.len() <= 2 * super::write::HEADROOM,
            "len {} capacity {}",
            out.len(),
            out.capacity()
        );
        assert_eq!(loads(&out).unwrap(), v);
    }
}

/// A hand-made pickle may repeat a dict key or a set element; Python keeps
/// one entry (`{1: 2}`, `{1}`, the first key's position and the last value),
/// on our fast path as in the general machine (a memo fetch sends the input
/// there). Python's `==` decides: `1`, `1.0` and `True` are the same key.
#[test]
fn repeated_keys_and_elements_collapse_as_in_python() {
    let d = |pairs: Vec<(Value, Value)>| dict(pairs);
    let cases: [(&[u8], Value); 9] = [
        // Two SETITEMS batches (Python's pickler splits at 1,000 items), the
        // key repeated across them: {1: 2, 2: 0}
        (
            b"}(K\x01K\x01u(K\x02K\x00K\x01K\x02u.",
            d(vec![
                (Value::Int(1), Value::Int(2)),
                (Value::Int(2), Value::Int(0)),
            ]),
        ),
        // ... and the same inside a list: [{1: 2}]
        (
            b"]}(K\x01K\x01u(K\x01K\x02ua.",
            Value::List(vec![d(vec![(Value::Int(1), Value::Int(2))])]),
        ),
        // Two ADDITEMS batches, 1 and True across them: {1, 2}
        (
            b"\x8f(K\x01\x90(K\x02\x88\x90.",
            Value::Set(vec![Value::Int(1), Value::Int(2)]),
        ),
        // EMPTY_DICT MARK K1 K1 K1 K2 SETITEMS STOP
        (
            b"}(K\x01K\x01K\x01K\x02u.",
            d(vec![(Value::Int(1), Value::Int(2))]),
        ),
        // EMPTY_DICT K1 K1 SETITEM K1 K2 SETITEM STOP
        (
            b"}K\x01K\x01sK\x01K\x02s.",
            d(vec![(Value::Int(1), Value::Int(2))]),
        ),
        // 1 and 1.0 collapse; the general machine (MEMOIZE + BINGET of the 2)
        (
            b"}(K\x01K\x02\x94G?\xf0\x00\x00\x00\x00\x00\x00h\x00u.",
            d(vec![(Value::Int(1), Value::Int(2))]),
        ),
        // EMPTY_SET MARK K1 K1 NEWTRUE ADDITEMS STOP
        (b"\x8f(K\x01K\x01\x88\x90.", Value::Set(vec![Value::Int(1)])),
        // MARK K1 K1 FROZENSET STOP
        (b"(K\x01K\x01\x91.", Value::FrozenSet(vec![Value::Int(1)])),
        // the same set through the general machine (MEMOIZE + BINGET)
        (
            b"\x8f(K\x01\x94h\x00\x88\x90.",
            Value::Set(vec![Value::Int(1)]),
        ),
    ];
    for (data, want) in cases {
        assert_eq!(loads(data).unwrap(), want, "{data:?}");
    }
}
