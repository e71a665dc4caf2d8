//! Arbitrary bytes into the serpent reader: it must never panic, and
//! whatever it accepts must write back and read again as the same value
//! (modulo what serpent itself cannot carry: bytes travel as base64 dicts,
//! an empty set as `()`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::serialize::serpent;
use pyro_proto::value::{Dict, Value};
use pyro_proto::SerializeError;

fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= n {
                out.push(A[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a decoded value reads back as after one more write and read.
fn model(v: &Value) -> Value {
    match v {
        Value::Bytes(b) => Value::Dict(Dict(vec![
            (Value::Str("data".into()), Value::Str(base64(b).into())),
            (Value::Str("encoding".into()), Value::Str("base64".into())),
        ])),
        Value::Set(items) if items.is_empty() => Value::Tuple(Vec::new()),
        Value::Set(items) => Value::Set(items.iter().map(model).collect()),
        Value::List(items) => Value::List(items.iter().map(model).collect()),
        Value::Tuple(items) => Value::Tuple(items.iter().map(model).collect()),
        Value::Dict(d) => Value::Dict(Dict(
            d.0.iter().map(|(k, v)| (model(k), model(v))).collect(),
        )),
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = serpent::loads_call(data) {
        if let Ok(text) = serpent::dumps_call(&call) {
            let again = serpent::loads_call(&text).expect("our own call output must read back");
            assert_eq!((&again.object, &again.method), (&call.object, &call.method));
            assert_eq!(again.vargs, model(&call.vargs));
            let kwargs = |d: &Option<Dict>| d.as_ref().map(|d| model(&Value::Dict(d.clone())));
            assert_eq!(kwargs(&again.kwargs), kwargs(&call.kwargs));
        }
    }
    let Ok(value) = serpent::loads(data) else {
        return;
    };
    match serpent::dumps(&value) {
        Ok(text) => {
            let again = serpent::loads(&text).expect("our own output must read back");
            // Value's `==` compares floats numerically, so the sign of a
            // complex zero (which follows Python's a+bj arithmetic) is moot.
            assert_eq!(again, model(&value), "{}", String::from_utf8_lossy(&text));
        }
        // None or bytes as dict keys / set elements read fine (Python
        // accepts them) but serpent refuses to write them; anything else is a bug.
        Err(SerializeError::Unsupported { .. }) => {}
        Err(e) => panic!("decoded value does not re-encode: {e}"),
    }
});
