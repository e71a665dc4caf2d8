//! Arbitrary bytes into the marshal reader (value and call): never a panic,
//! bounded memory (reference bombs are cut off by the reader's budget), and
//! anything it accepts writes back out and reads again as the same tree, with
//! our own output a fixed point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::serialize::marshal;
use pyro_proto::value::Value;

/// Equality with floats compared by bit pattern (marshal keeps NaN payloads).
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
                && x.0.iter().zip(&y.0).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = marshal::loads(data) {
        let bytes = marshal::dumps(&value).expect("a decoded marshal tree always re-encodes");
        let again = marshal::loads(&bytes).expect("our own output decodes");
        assert!(same(&value, &again), "round trip changed the tree");
        assert_eq!(marshal::dumps(&again).unwrap(), bytes, "re-encoding is not a fixed point");
    }
    if let Ok(call) = marshal::loads_call(data) {
        let bytes = marshal::dumps_call(&call).expect("a decoded call always re-encodes");
        let again = marshal::loads_call(&bytes).expect("our own call output decodes");
        assert_eq!((&again.object, &again.method), (&call.object, &call.method));
        // vargs always travel as a list.
        let (Value::List(a) | Value::Tuple(a)) = &call.vargs else { panic!("vargs kind") };
        assert!(same(&again.vargs, &Value::List(a.clone())));
        assert_eq!(again.kwargs.is_some(), call.kwargs.is_some());
        assert_eq!(marshal::dumps_call(&again).unwrap(), bytes);
    }
});
