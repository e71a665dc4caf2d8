//! The serpent codec against everything real Pyro4 4.82 / serpent 1.43 wrote
//! in the captured vectors: every payload decodes, and re-encoding what we
//! decoded gives back the very same bytes.

use pyro_proto::serialize::serpent;
use pyro_proto::value::{Dict, Value};
use pyro_tests::vectors::{self, raw_frame};

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SPACED_OPEN: &[u8] = b"{'data': '";
const SPACED_CLOSE: &[u8] = b"', 'encoding': 'base64'}";

fn contains(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len()).any(|w| w == needle)
}

fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// The text as it reads after the bytes dicts lost their `repr()` spacing.
fn compact_bytes_dicts(payload: &[u8]) -> Vec<u8> {
    let t = replace_all(payload, SPACED_OPEN, b"{'data':'");
    replace_all(&t, SPACED_CLOSE, b"','encoding':'base64'}")
}

fn b64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// serpent's `tobytes()` applied everywhere: `{'data': b64, 'encoding':
/// 'base64'}` dicts become bytes again.
fn bytes_dicts_to_bytes(v: Value) -> Value {
    let f = bytes_dicts_to_bytes;
    match v {
        Value::Dict(d) => {
            if let [(Value::Str(k1), Value::Str(data)), (Value::Str(k2), Value::Str(enc))] =
                d.0.as_slice()
            {
                if k1 == "data" && k2 == "encoding" && enc == "base64" {
                    return Value::Bytes(b64_decode(data));
                }
            }
            Value::Dict(Dict(d.0.into_iter().map(|(k, v)| (f(k), f(v))).collect()))
        }
        Value::List(x) => Value::List(x.into_iter().map(f).collect()),
        Value::Tuple(x) => Value::Tuple(x.into_iter().map(f).collect()),
        Value::Set(x) => Value::Set(x.into_iter().map(f).collect()),
        other => other,
    }
}

/// `unit_serializer_serpent.txt`: deterministic `dumpsCall` (CALL) and
/// `dumps` (DATA) output of Pyro4's SerpentSerializer.
#[test]
fn unit_vectors_round_trip_byte_exact() {
    let file = vectors::named("unit_serializer_serpent.txt");
    let (mut calls, mut datas) = (0, 0);
    for line in &file.lines {
        let where_ = format!("line {}: {}", line.line_no, text(&line.bytes));
        match line.tag.as_str() {
            "CALL" => {
                calls += 1;
                let call =
                    serpent::loads_call(&line.bytes).unwrap_or_else(|e| panic!("{where_}: {e}"));
                let again = serpent::dumps_call(&call).unwrap();
                assert_eq!(text(&again), text(&line.bytes), "{where_}");
                // The call tuple is also an ordinary value.
                let value = serpent::loads(&line.bytes).unwrap();
                assert_eq!(serpent::dumps(&value).unwrap(), line.bytes, "{where_}");
            }
            "DATA" => {
                datas += 1;
                let value = serpent::loads(&line.bytes).unwrap_or_else(|e| panic!("{where_}: {e}"));
                let again = serpent::dumps(&value).unwrap();
                assert_eq!(text(&again), text(&line.bytes), "{where_}");
            }
            other => panic!("unexpected tag {other} at line {}", line.line_no),
        }
    }
    assert_eq!((calls, datas), (7, 15), "vector file changed?");
}

/// Spot checks that decoding means what the file's comments say.
#[test]
fn unit_vectors_decode_to_the_documented_values() {
    let file = vectors::named("unit_serializer_serpent.txt");
    let line = |needle: &str| {
        file.lines
            .iter()
            .find(|l| l.comments.iter().any(|c| c.contains(needle)))
            .unwrap_or_else(|| panic!("no vector described as {needle}"))
    };
    let call = serpent::loads_call(&line("call with kwargs").bytes).unwrap();
    assert_eq!(
        (call.object.as_str(), call.method.as_str()),
        ("test.obj", "kwargs")
    );
    assert_eq!(call.vargs, Value::Tuple(vec![Value::Int(1)]));
    assert_eq!(
        call.kwargs,
        Some(Dict(vec![(s("b"), Value::Int(3)), (s("extra"), s("x"))]))
    );
    let call = serpent::loads_call(&line("get_next_stream_item").bytes).unwrap();
    assert_eq!(
        call.vargs,
        Value::List(vec![s("3f1b7c1e-0000-4000-8000-000000000000")])
    );
    let call = serpent::loads_call(&line("__getattr__ (kwargs None)").bytes).unwrap();
    assert_eq!(call.kwargs, None);
    assert_eq!(serpent::loads(&line("str: ").bytes).unwrap(), s("héllo €"));
    assert_eq!(
        serpent::loads(&line("float specials").bytes).unwrap(),
        Value::List(vec![
            Value::Float(1.5),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY)
        ])
    );
    // Class dicts stay raw dicts, `__class__` first.
    match serpent::loads(&line("URI: ").bytes).unwrap() {
        Value::Dict(d) => {
            assert_eq!(d.0[0], (s("__class__"), s("Pyro4.core.URI")));
            assert_eq!(
                d.0[1].1,
                Value::Tuple(vec![
                    s("PYRO"),
                    s("obj"),
                    Value::None,
                    s("localhost"),
                    Value::Int(1234)
                ])
            );
        }
        other => panic!("URI decoded to {other:?}"),
    }
}

/// Every message with serializer id 1 in every captured session.
#[test]
fn every_captured_serpent_payload_round_trips() {
    let mut checked = 0;
    let mut calls = 0;
    for file in vectors::all() {
        for line in &file.lines {
            if line.tag != "C2S" && line.tag != "S2C" {
                continue;
            }
            let frame = raw_frame(&line.bytes);
            // PING (type 6) payloads are raw bytes (`b'pong'`), not serpent,
            // whatever serializer id the header happens to carry.
            if frame.serializer_id != 1 || frame.msg_type == 6 || frame.payload.is_empty() {
                continue;
            }
            let where_ = format!("{} line {}", file.name, line.line_no);
            let value = serpent::loads(&frame.payload)
                .unwrap_or_else(|e| panic!("{where_}: {e}\n{}", text(&frame.payload)));
            let again = serpent::dumps(&value).unwrap_or_else(|e| panic!("{where_}: {e}"));
            // The one expected difference: serpent writes bytes as the repr()
            // of a dict (`{'data': '...', 'encoding': 'base64'}`, with spaces)
            // and the reader gets a plain dict back, which serpent (and we)
            // write compactly. Nothing else may differ.
            assert_eq!(
                text(&again),
                text(&compact_bytes_dicts(&frame.payload)),
                "{where_}"
            );
            // Turning those dicts back into bytes restores the exact original
            // (unless it already held such a dict compactly: a Python peer
            // echoing received "bytes" sends back the plain dict).
            let echoed_dict = contains(&frame.payload, b"{'data':'");
            if !echoed_dict {
                let restored = serpent::dumps(&bytes_dicts_to_bytes(value)).unwrap();
                assert_eq!(text(&restored), text(&frame.payload), "{where_}");
            }
            if frame.msg_type == 4 {
                // INVOKE: the call tuple reads and writes back identically too.
                let mut call =
                    serpent::loads_call(&frame.payload).unwrap_or_else(|e| panic!("{where_}: {e}"));
                let again = serpent::dumps_call(&call).unwrap();
                assert_eq!(
                    text(&again),
                    text(&compact_bytes_dicts(&frame.payload)),
                    "{where_}"
                );
                if !echoed_dict {
                    call.vargs = bytes_dicts_to_bytes(call.vargs);
                    let restored = serpent::dumps_call(&call).unwrap();
                    assert_eq!(text(&restored), text(&frame.payload), "{where_}");
                }
                calls += 1;
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} serpent payloads found");
    assert!(calls > 30, "only {calls} serpent INVOKE payloads found");
}
