//! Arbitrary bytes into the json reader (value and call): never a panic, and
//! anything it accepts writes back out and reads again as the same tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::serialize::json;
use pyro_proto::value::Value;

/// Equality with NaN == NaN (json has a single NaN token).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Dict(x), Value::Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0.iter().zip(&y.0).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = json::loads(data) {
        let bytes = json::dumps(&value).expect("a decoded json tree always re-encodes");
        let again = json::loads(&bytes).expect("our own output decodes");
        assert!(same(&value, &again), "round trip changed the tree");
        assert_eq!(json::dumps(&again).unwrap(), bytes, "re-encoding is not a fixed point");
    }
    if let Ok(call) = json::loads_call(data) {
        let bytes = json::dumps_call(&call).expect("a decoded call always re-encodes");
        let again = json::loads_call(&bytes).expect("our own call output decodes");
        assert_eq!((&again.object, &again.method), (&call.object, &call.method));
        assert!(same(&again.vargs, &call.vargs));
        assert_eq!(json::dumps_call(&again).unwrap(), bytes);
    }
});
