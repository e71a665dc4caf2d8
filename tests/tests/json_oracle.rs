//! The json codec against the real Python: Pyro4 4.82's JsonSerializer on
//! CPython 3.11 (`tests/python/json_oracle.py`).
//!
//! * Python's bytes for a corpus of 150+ values -> Rust `loads` -> Rust
//!   `dumps` is byte-identical, and Python reads Rust's bytes as it reads its own.
//! * Values generated in Rust -> Rust `dumps` -> Python `loads` + Pyro4
//!   `dumps` is byte-identical to what Rust wrote.
//! * What Pyro4 refuses, Rust refuses with Pyro4's message.

use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use pyro_proto::serialize::{json, Call, SerializeError};
use pyro_proto::value::{ClassDict, Dict, Value};
use pyro_tests::{python, vectors::hex};

fn hexstr(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run the oracle in `mode`, feeding `input` on stdin; its stdout lines.
fn oracle(mode: &str, input: &str) -> Vec<String> {
    let mut child = python::script("json_oracle.py")
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python output");
    feeder.join().unwrap().expect("write to python");
    assert!(
        out.status.success(),
        "json_oracle.py {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn python_corpus_round_trips_byte_identically() {
    let corpus = oracle("corpus", "");
    assert!(corpus.len() >= 150, "corpus has {} values", corpus.len());
    let mut pairs = String::new();
    for line in &corpus {
        let (h, what) = line.split_once('\t').unwrap();
        let py = hex(h);
        let value = json::loads(&py).unwrap_or_else(|e| panic!("{what}: {e}"));
        let ours = json::dumps(&value).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&py),
            "{what}"
        );
        pairs.push_str(&format!("{h} {}\n", hexstr(&ours)));
    }
    // Python reads Rust's bytes exactly as it reads its own.
    let verdicts = oracle("check", &pairs);
    assert_eq!(verdicts.len(), corpus.len());
    for (v, line) in verdicts.iter().zip(&corpus) {
        assert_eq!(v, "ok", "{}", line.split_once('\t').unwrap().1);
    }
}

#[test]
fn refused_values_match_pyro4() {
    let messages: Vec<(String, String)> = oracle("errors", "")
        .into_iter()
        .map(|l| {
            let (k, m) = l.split_once('\t').unwrap();
            (k.to_string(), m.to_string())
        })
        .collect();
    assert_eq!(messages.len(), 5);
    for (kind, message) in &messages {
        assert_ne!(message, "NO ERROR", "{kind}");
        let value = match kind.as_str() {
            "bytes" | "bytearray" => Value::Bytes(b"ab".to_vec()),
            "complex" => Value::Complex { re: 1.0, im: 2.0 },
            "frozenset" => Value::FrozenSet(vec![Value::Int(1)]),
            "tuple_key" => Value::Dict(Dict(vec![(
                Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
                Value::Int(3),
            )])),
            other => panic!("unknown kind {other}"),
        };
        match json::dumps(&value) {
            Err(SerializeError::Unsupported {
                codec: "json",
                what,
            }) => {
                // bytearray is Value::Bytes in Rust: it reports as bytes.
                let message = message.replace("bytearray", "bytes");
                assert!(what.ends_with(&message), "{kind}: {what:?} vs {message:?}");
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn char(&mut self) -> char {
        let c = match self.below(8) {
            0 => self.below(0x20) as u32,
            1 => *[b'"', b'\\', b'/', 0x7f]
                .get(self.below(4) as usize)
                .unwrap() as u32,
            2 => 0x20 + self.below(0x5f) as u32,
            3 => 0x80 + self.below(0x780) as u32,
            4 => 0x800 + self.below(0xd000) as u32,
            5 => 0xe000 + self.below(0x2000) as u32,
            6 => 0x10000 + self.below(0x100000) as u32,
            _ => *[0x2028u32, 0x2029, 0xfeff, 0xfffd, 0xffff, 0x10ffff]
                .get(self.below(6) as usize)
                .unwrap(),
        };
        char::from_u32(c).expect("no surrogates generated")
    }

    fn string(&mut self) -> String {
        let n = self.below(12);
        (0..n).map(|_| self.char()).collect()
    }

    fn float(&mut self) -> f64 {
        match self.below(4) {
            0 => f64::from_bits(self.next()),
            1 => *[
                0.0,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                5e-324,
                1e308,
                1e16,
                1e-5,
            ]
            .get(self.below(9) as usize)
            .unwrap(),
            2 => (self.next() as i64 as f64) / 1000.0,
            _ => self.below(1000) as f64 / 8.0,
        }
    }

    fn bigint(&mut self) -> Value {
        let digits = 19 + self.below(200) as usize;
        let mut text = String::new();
        if self.below(2) == 0 {
            text.push('-');
        }
        text.push(char::from(b'1' + self.below(9) as u8));
        for _ in 1..digits {
            text.push(char::from(b'0' + self.below(10) as u8));
        }
        // the decoder normalises: an i64-range number becomes Value::Int
        json::loads(text.as_bytes()).unwrap()
    }

    fn key(&mut self) -> Value {
        match self.below(7) {
            0 => Value::Int(self.next() as i64 >> self.below(64)),
            1 => Value::Float(self.float()),
            2 => Value::Bool(self.below(2) == 0),
            3 => Value::None,
            4 => self.bigint(),
            _ => Value::Str(self.string()),
        }
    }

    fn dict(&mut self, depth: u32) -> Dict {
        let mut seen = std::collections::HashSet::new();
        let mut pairs = Vec::new();
        for _ in 0..self.below(6) {
            let key = self.key();
            // Keys that stringify alike would merge in Python's dict.
            let text = json::dumps(&Value::Dict(Dict(vec![(key.clone(), Value::None)]))).unwrap();
            if seen.insert(text) {
                pairs.push((key, self.value(depth + 1)));
            }
        }
        Dict(pairs)
    }

    fn value(&mut self, depth: u32) -> Value {
        let kinds = if depth >= 5 { 8 } else { 13 };
        match self.below(kinds) {
            0 => Value::None,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::Int(self.next() as i64 >> self.below(64)),
            3 => self.bigint(),
            4 | 5 => Value::Float(self.float()),
            6 | 7 => Value::Str(self.string()),
            8 => Value::List(self.items(depth)),
            9 => Value::Tuple(self.items(depth)),
            10 => Value::Set(self.items(depth)),
            11 => Value::Dict(self.dict(depth)),
            _ => {
                let fields = self.dict(depth);
                // a field named __class__ would be a second key of that name
                let fields = Dict(
                    fields
                        .0
                        .into_iter()
                        .filter(|(k, _)| *k != Value::Str("__class__".into()))
                        .collect(),
                );
                Value::Class(ClassDict {
                    class_name: format!("mod{}.Class{}", self.below(10), self.string()),
                    fields,
                })
            }
        }
    }

    fn items(&mut self, depth: u32) -> Vec<Value> {
        (0..self.below(6)).map(|_| self.value(depth + 1)).collect()
    }
}

#[test]
fn rust_values_survive_python_byte_identically() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut values: Vec<Vec<u8>> = (0..1500)
        .map(|_| json::dumps(&g.value(0)).unwrap())
        .collect();
    // and some calls, as a Rust client would send them
    for n in 0..200 {
        let call = Call {
            object: g.string(),
            method: g.string(),
            vargs: Value::Tuple(g.items(1)),
            kwargs: if n % 5 == 0 { None } else { Some(g.dict(1)) },
        };
        values.push(json::dumps_call(&call).unwrap());
    }
    let input: String = values.iter().map(|v| hexstr(v) + "\n").collect();
    let redumped = oracle("redump", &input);
    assert_eq!(redumped.len(), values.len());
    for (ours, theirs) in values.iter().zip(&redumped) {
        assert!(
            !theirs.starts_with("ERR"),
            "{theirs}: {}",
            String::from_utf8_lossy(ours)
        );
        assert_eq!(
            String::from_utf8_lossy(&hex(theirs)),
            String::from_utf8_lossy(ours)
        );
    }
}

/// Speed against Python on a typical call payload (run in release:
/// `cargo test --release -p pyro-tests --test json_oracle -- --ignored --nocapture`).
#[test]
#[ignore = "timing; run in release mode on demand"]
fn speed_versus_python() {
    let out = oracle("bench", "");
    let py_pyro: f64 = out[0].parse().unwrap();
    let py_json: f64 = out[1].parse().unwrap();
    let payload = hex(&out[2]);
    let call = json::loads_call(&payload).unwrap();
    assert_eq!(json::dumps_call(&call).unwrap(), payload);
    let n = 200_000;
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        let bytes = json::dumps_call(std::hint::black_box(&call)).unwrap();
        let back = json::loads_call(std::hint::black_box(&bytes)).unwrap();
        total += bytes.len() + back.method.len();
    }
    let rust = start.elapsed().as_secs_f64() / n as f64;
    assert!(total > 0);
    eprintln!(
        "typical call ({} bytes) dumps_call+loads_call: Rust {:.3} us, Python Pyro4 {:.3} us ({:.1}x), \
         bare json.dumps+loads {:.3} us ({:.1}x)",
        payload.len(),
        rust * 1e6,
        py_pyro * 1e6,
        py_pyro / rust,
        py_json * 1e6,
        py_json / rust
    );
}
