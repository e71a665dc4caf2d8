//! Arbitrary text -> `Uri::parse`: never panics, and a parsed URI prints to a
//! string that parses back to an equal URI, except for the three forms that
//! Pyro4's own `str(uri)` loses (checked to be lossy, so the list stays exact).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::uri::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = Uri::parse(text) else {
        return;
    };
    let shown = uri.to_string();
    let lossy = uri.host() == Some("")
        || uri.host() == Some("./u")
        || uri.metadata().is_some_and(|m| m.len() == 1 && m.contains(""));
    let back = Uri::parse(&shown);
    if lossy {
        assert_ne!(back.as_ref(), Ok(&uri), "{text:?} printed as {shown:?} round-trips");
    } else {
        assert_eq!(back.as_ref(), Ok(&uri), "{text:?} printed as {shown:?}");
        // Printing is stable once normalised.
        assert_eq!(back.unwrap().to_string(), shown);
    }
    // The wire state always rebuilds the same URI.
    assert_eq!(Uri::from_state(&uri.state()).as_ref(), Ok(&uri));
    assert_eq!(Uri::from_value(&uri.to_value()).as_ref(), Ok(&uri));
    let _ = uri.location();
});
