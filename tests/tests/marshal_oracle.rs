//! The marshal codec against CPython 3.11's `marshal` and Pyro4 4.82's
//! `MarshalSerializer` (`tests/python/marshal_oracle.py`).
//!
//! * Python -> Rust -> Python: a corpus of 225+ values defined in Python
//!   (every marshal type, int/float/str boundaries, NaN payloads, all Unicode
//!   planes, interned strings, deep and empty containers, keys of every
//!   hashable type, shared references that make Python emit FLAG_REF and `r`)
//!   is `marshal.dumps`-ed by Python, loaded and re-dumped by Rust, and
//!   `marshal.loads`-ed by Python, which must get a value equal to the
//!   original (floats by bit pattern). Calls go through `dumpsCall` /
//!   `loadsCall` the same way. Data Rust must refuse (cycles, Ellipsis, code,
//!   lone surrogates, too deep, truncated) is refused.
//! * Rust -> Python -> Rust: values generated in Rust are dumped by Rust,
//!   loaded and re-dumped by Python, and loaded again by Rust: equal to the
//!   original (sets compared as sets, since Python re-orders them).
//! * Byte identity: Rust's bytes are compared with Python's; they must equal
//!   Python's after stripping FLAG_REF/`r`/interning, and the test reports
//!   how many are identical even without that step.

mod marshal_support;

use std::io::Write;
use std::process::Stdio;

use marshal_support::{normalize, same};
use pyro_proto::serialize::{marshal, SerializeError};
use pyro_proto::value::{ClassDict, Dict, Value};
use pyro_tests::python::script;
use pyro_tests::vectors::hex;

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Run the oracle script in `mode` with `input` on stdin; its stdout lines.
fn oracle(mode: &str, input: &str) -> Vec<String> {
    let mut child = script("marshal_oracle.py")
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start marshal_oracle.py");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "marshal_oracle.py {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn python_corpus_round_trips_through_rust() {
    let lines = oracle("gen", "");
    let mut back = String::new();
    let (mut values, mut calls, mut refused, mut python_used_refs) = (0, 0, 0, 0);
    for line in &lines {
        let f: Vec<&str> = line.split(' ').collect();
        let data = hex(f[2]);
        match f[0] {
            "V" => {
                let v = marshal::loads(&data).unwrap_or_else(|e| panic!("value {}: {e}", f[1]));
                let ours = marshal::dumps(&v).unwrap();
                let norm = normalize(&data);
                if norm != data {
                    python_used_refs += 1;
                }
                assert_eq!(
                    to_hex(&ours),
                    to_hex(&norm),
                    "value {}: not Python's bytes modulo FLAG_REF",
                    f[1]
                );
                assert!(same(&marshal::loads(&ours).unwrap(), &v));
                back.push_str(&format!("V {} {}\n", f[1], to_hex(&ours)));
                values += 1;
            }
            "C" => {
                let c = marshal::loads_call(&data).unwrap_or_else(|e| panic!("call {}: {e}", f[1]));
                let ours = marshal::dumps_call(&c).unwrap();
                assert_eq!(ours, normalize(&data), "call {}", f[1]);
                back.push_str(&format!("C {} {}\n", f[1], to_hex(&ours)));
                calls += 1;
            }
            "R" => {
                let why = f[3];
                match marshal::loads(&data) {
                    Err(SerializeError::TooDeep { limit: 256 }) => {
                        assert_eq!(why, "deeper_than_256")
                    }
                    Err(SerializeError::Malformed { reason, .. }) => {
                        let expect = match why {
                            "recursive_list" | "recursive_dict" => "still being read",
                            "Ellipsis" => "Ellipsis",
                            "StopIteration" => "StopIteration",
                            "code_object" => "code objects",
                            "lone_surrogate" => "lone surrogate U+D800",
                            "truncated" => "truncated",
                            other => panic!("unknown refusal case {other}"),
                        };
                        assert!(reason.contains(expect), "{why}: {reason}");
                    }
                    other => panic!("{why}: expected a refusal, got {other:?}"),
                }
                refused += 1;
            }
            other => panic!("unexpected line kind {other}"),
        }
    }
    assert!(values >= 150, "corpus has only {values} values");
    assert_eq!((calls, refused), (5, 8));
    let report = oracle("check", &back);
    assert_eq!(report.len(), values + calls);
    let mut identical = 0;
    for line in &report {
        assert!(line.starts_with("OK "), "Python disagrees: {line}");
        if line.ends_with(" SAME") {
            identical += 1;
        }
    }
    eprintln!(
        "{values} values + {calls} calls: Python reads all of Rust's re-encodings as equal; \
         {python_used_refs} of Python's encodings used FLAG_REF/r/interning; \
         {identical} of Rust's are byte-identical to Python's marshal.dumps \
         (all {} are identical after normalising refs)",
        values + calls
    );
    assert!(python_used_refs > 50);
    assert!(identical > 0);
}

/// A small deterministic generator (xorshift), so the cases are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            " ",
            "é",
            "€",
            "😀",
            "\u{10ffff}",
            "日",
            "\0",
            "\n",
            "'",
            "\"",
        ];
        let n = self.below(12);
        let mut s: String = (0..n)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect();
        if self.below(20) == 0 {
            s.push_str(&"x".repeat(250 + self.below(20) as usize));
        }
        s
    }
    fn float(&mut self) -> f64 {
        match self.below(6) {
            0 => f64::from_bits(self.next()),
            1 => f64::from_bits(0x7ff0_0000_0000_0000 | (self.next() >> 12) | 1),
            2 => -0.0,
            3 => f64::INFINITY,
            _ => (self.next() as i64 as f64) / 1024.0,
        }
    }
    fn int(&mut self) -> Value {
        match self.below(5) {
            0 => Value::Int(self.next() as i64),
            1 => Value::Int(self.next() as i32 as i64),
            2 => Value::Int(self.below(600) as i64 - 300),
            _ => {
                // A big int built from random base-2^15 digits (the tests
                // crate has no bigint dependency of its own).
                let n = 5 + self.below(30) as i32;
                let mut rec = vec![b'l'];
                let sign = if self.below(2) == 0 { n } else { -n };
                rec.extend_from_slice(&sign.to_le_bytes());
                for i in 0..n {
                    let d = (self.next() & 0x7fff) as u16;
                    let d = if i == n - 1 { d | 0x4000 } else { d };
                    rec.extend_from_slice(&d.to_le_bytes());
                }
                marshal::loads(&rec).unwrap()
            }
        }
    }
    /// Distinct hashable keys (no bool/float, so no cross-type equalities).
    fn keys(&mut self, n: usize) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..n {
            let k = match self.below(4) {
                0 => self.int(),
                1 => Value::Str(self.string().into()),
                2 => Value::Bytes(self.string().into_bytes()),
                _ => Value::Tuple(vec![self.int(), Value::Str(self.string().into())]),
            };
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    }
    fn value(&mut self, depth: usize) -> Value {
        let top = if depth == 0 { 10 } else { 15 };
        match self.below(top) {
            0 => Value::None,
            1 => Value::Bool(self.below(2) == 1),
            2 | 3 => self.int(),
            4 => Value::Float(self.float()),
            5 => Value::Complex {
                re: self.float(),
                im: self.float(),
            },
            6 | 7 => Value::Str(self.string().into()),
            8 => Value::Bytes((0..self.below(40)).map(|_| self.next() as u8).collect()),
            9 => {
                let n = self.below(6) as usize;
                let ks = self.keys(n);
                if self.below(2) == 0 {
                    Value::Set(ks)
                } else {
                    Value::FrozenSet(ks)
                }
            }
            10 | 11 => {
                let n = self.below(6);
                let items = (0..n).map(|_| self.value(depth - 1)).collect();
                if self.below(2) == 0 {
                    Value::List(items)
                } else {
                    Value::Tuple(items)
                }
            }
            12 => {
                let n = self.below(6) as usize;
                let ks = self.keys(n);
                Value::Dict(Dict(
                    ks.into_iter().map(|k| (k, self.value(depth - 1))).collect(),
                ))
            }
            _ => {
                let n = self.below(4) as usize;
                let ks = self.keys(n);
                Value::Class(Box::new(ClassDict {
                    class_name: "mod.Thing".into(),
                    fields: Dict(
                        ks.into_iter()
                            .filter(|k| *k != Value::Str("__class__".into()))
                            .map(|k| (k, self.value(depth - 1)))
                            .collect(),
                    ),
                }))
            }
        }
    }
}

/// What a value reads back as: class dicts become plain dicts.
fn raw(v: &Value) -> Value {
    match v {
        Value::List(x) => Value::List(x.iter().map(raw).collect()),
        Value::Tuple(x) => Value::Tuple(x.iter().map(raw).collect()),
        Value::Dict(d) => Value::Dict(Dict(d.0.iter().map(|(k, v)| (raw(k), raw(v))).collect())),
        Value::Class(c) => {
            let mut pairs = vec![(
                Value::Str("__class__".into()),
                Value::Str(c.class_name.as_str().into()),
            )];
            pairs.extend(c.fields.0.iter().map(|(k, v)| (raw(k), raw(v))));
            Value::Dict(Dict(pairs))
        }
        other => other.clone(),
    }
}

/// `same`, but sets and frozensets compare as sets (Python re-orders them).
fn same_unordered(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Set(x), Value::Set(y)) | (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| same_unordered(p, q)))
        }
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_unordered(p, q))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((k1, v1), (k2, v2))| same_unordered(k1, k2) && same_unordered(v1, v2))
        }
        _ => same(a, b),
    }
}

fn has_set(v: &Value) -> bool {
    match v {
        Value::Set(x) | Value::FrozenSet(x) => x.len() > 1 || x.iter().any(has_set),
        Value::List(x) | Value::Tuple(x) => x.iter().any(has_set),
        Value::Dict(d) => d.0.iter().any(|(k, v)| has_set(k) || has_set(v)),
        Value::Class(c) => c.fields.0.iter().any(|(k, v)| has_set(k) || has_set(v)),
        _ => false,
    }
}

#[test]
fn rust_values_round_trip_through_python() {
    let mut rng = Rng(0x5eed_0f3a_2b1c);
    let mut cases: Vec<Value> = vec![
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Int(i32::MIN as i64 - 1),
        Value::Float(f64::from_bits(0x7ff4_0000_0000_0001)),
        Value::Float(f64::from_bits(0xfff8_dead_beef_0000)),
        Value::Str("\u{10000}\u{ffff}\u{7ff}\u{80}".into()),
        Value::Str("x".repeat(256).into()),
        Value::Tuple((0..256).map(Value::Int).collect()),
        Value::Set(vec![]),
        Value::FrozenSet(vec![]),
        Value::Dict(Dict(vec![(Value::Tuple(vec![]), Value::None)])),
    ];
    let mut deep = Value::None;
    for _ in 0..256 {
        deep = Value::Tuple(vec![deep]);
    }
    cases.push(deep);
    cases.extend((0..400).map(|_| rng.value(4)));

    let input: String = cases
        .iter()
        .map(|v| to_hex(&marshal::dumps(v).unwrap()) + "\n")
        .collect();
    let report = oracle("echo", &input);
    assert_eq!(report.len(), cases.len());
    let (mut identical, mut compared) = (0, 0);
    for (v, line) in cases.iter().zip(&report) {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], "OK", "Python could not read {v:?}: {line}");
        let python_bytes = hex(f[1]);
        let back = marshal::loads(&python_bytes).unwrap();
        assert!(
            same_unordered(&back, &raw(v)),
            "{v:?}\nPython: {}\nback: {back:?}",
            String::from_utf8(hex(f[2])).unwrap()
        );
        if !has_set(v) {
            // Python's re-encoding of what it read equals ours modulo FLAG_REF.
            assert_eq!(
                normalize(&python_bytes),
                marshal::dumps(v).unwrap(),
                "{v:?}"
            );
            compared += 1;
            if python_bytes == marshal::dumps(v).unwrap() {
                identical += 1;
            }
        }
    }
    eprintln!(
        "{} Rust values read by Python and back; {compared} compared bytewise: all equal modulo \
         FLAG_REF, {identical} identical as is",
        cases.len()
    );
    assert!(compared > 200);
}
