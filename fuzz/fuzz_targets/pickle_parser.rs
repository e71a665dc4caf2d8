//! Arbitrary bytes into the pickle reader: it must never panic, stay within
//! bounded memory (lengths are checked before allocating, memo expansion is
//! budgeted, nesting limited), and whatever it accepts must survive our own
//! writer: dumps(loads(x)) loads again to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::serialize::pickle::{dumps, dumps_call, loads, loads_call};
use pyro_proto::serialize::SerializeError;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = loads(data) {
        if let Ok(bytes) = dumps(&value) {
            let again = loads(&bytes).expect("our own pickle must load");
            // Debug form: NaN-safe, and exact for floats (bit patterns aside).
            assert_eq!(format!("{again:?}"), format!("{value:?}"));
        }
    }
    if let Ok(call) = loads_call(data) {
        let bytes = match dumps_call(&call) {
            Ok(bytes) => bytes,
            // Python restores a proxy's state without checking it. A URI
            // object in it is kept and re-pickled as read; a proxy whose
            // state holds URI *text* (the class-dict form) that Pyro4's
            // parser refuses is refused by our writer.
            Err(SerializeError::Unsupported { .. }) => return,
            Err(e) => panic!("a decoded call re-encodes: {e:?}"),
        };
        let again = loads_call(&bytes).expect("our own call pickle must load");
        assert_eq!(again.object, call.object);
        assert_eq!(again.method, call.method);
        assert_eq!(format!("{:?}", again.vargs), format!("{:?}", call.vargs));
        assert_eq!(format!("{:?}", again.kwargs), format!("{:?}", call.kwargs));
    }
});
