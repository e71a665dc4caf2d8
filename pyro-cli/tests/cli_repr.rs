//! `py_repr` against Python's own `repr` for a corpus of values.
//!
//! `tests/python/cli_repr_corpus.py` prints, for each corpus value and
//! serializer, the payload Python sends and `repr()` of what a Python Pyro4
//! proxy gets from it. We decode the same payload the way the `pyro call`
//! client does (codec, then class objects) and must print the same text.

use pyro_cli::repr::py_repr_received;
use pyro_proto::serialize::SerializerId;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex payload"))
        .collect()
}

#[test]
fn cli_repr_matches_python_for_the_corpus() {
    let out = pyro_tests::python::script("cli_repr_corpus.py")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run cli_repr_corpus.py");
    assert!(
        out.status.success(),
        "cli_repr_corpus.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (ser, hex, want) = (
            parts.next().unwrap(),
            parts.next().expect("payload column"),
            parts.next().expect("repr column"),
        );
        let id = SerializerId::from_name(ser).expect("known serializer");
        let value = id
            .loads(&unhex(hex))
            .unwrap_or_else(|e| panic!("{ser} cannot decode {want}: {e}"));
        let got = py_repr_received(&value, id);
        if got != want {
            mismatches.push(format!(
                "{ser}: Python {want}\n{:>width$}  Rust {got}",
                "",
                width = ser.len()
            ));
        }
        *checked.entry(ser).or_default() += 1;
    }
    println!("checked {checked:?}");
    assert!(
        mismatches.is_empty(),
        "{} of {} reprs differ:\n{}",
        mismatches.len(),
        text.lines().count(),
        mismatches.join("\n")
    );
    for ser in ["marshal", "serpent", "json", "pickle"] {
        assert!(
            checked.get(ser).copied().unwrap_or(0) > 40,
            "too few {ser} cases: {checked:?}"
        );
    }
}
