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
        // bytearray is Value::Bytes in Rust: it reports as bytes.
        let message = message.replace("bytearray", "bytes");
        match json::dumps(&value) {
            // Pyro4's own SerializeError: the same text.
            Err(SerializeError::Refused {
                codec: "json",
                message: ours,
            }) => assert_eq!(ours, message, "{kind}"),
            // Python's json TypeError (tuple keys): the text after our context.
            Err(SerializeError::Unsupported {
                codec: "json",
                what,
            }) => assert!(what.ends_with(&message), "{kind}: {what:?} vs {message:?}"),
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
            _ => Value::Str(self.string().into()),
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
            6 | 7 => Value::Str(self.string().into()),
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
                Value::Class(Box::new(ClassDict {
                    class_name: format!("mod{}.Class{}", self.below(10), self.string()),
                    fields,
                }))
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
            object: g.string().into(),
            method: g.string().into(),
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

/// Python's float repr on many doubles, around every switch of the writer's
/// fast paths (integral below 1e16, positional between 1e-4 and 1e16, ties
/// between two shortest candidates) and on random bit patterns.
#[test]
fn floats_match_python_repr() {
    let mut g = Gen(0x0123_4567_89ab_cdef);
    let mut floats = Vec::new();
    for i in 0..120_000u64 {
        let x = match i % 10 {
            8 => g.below(10_000_000) as f64 / 10f64.powi(g.below(12) as i32), // short decimals
            9 => g.below(1_000_000_000_000_000) as f64 / 10f64.powi(g.below(20) as i32),
            0 => f64::from_bits(g.next()),
            1 => (g.next() % 20_000_000_000_000_000) as f64, // integral, both sides of 1e16
            2 => (g.next() % 9_000_000_000_000_000_000 + 100_000_000_000_000_000) as f64, // ties
            3 => (g.next() >> 11) as f64 / (1u64 << (g.next() % 63)) as f64,
            4 => {
                (g.next() % 100_000_000_000_000_000) as f64
                    * 10f64.powi((g.next() % 40) as i32 - 20)
            }
            5 => 1e-4 * (1.0 + (g.below(2000) as f64 - 1000.0) * 1e-6),
            6 => 1e16 * (1.0 + (g.below(2000) as f64 - 1000.0) * 1e-15),
            _ => f64::from_bits(0x3f1a_36e2_eb1c_432d + g.below(1 << 20) - (1 << 19)), // near 1e-4
        };
        floats.push(if g.below(2) == 0 { x } else { -x });
    }
    let payloads: Vec<Vec<u8>> = floats
        .chunks(2000)
        .map(|c| json::dumps(&Value::List(c.iter().map(|f| Value::Float(*f)).collect())).unwrap())
        .collect();
    let input: String = payloads.iter().map(|p| hexstr(p) + "\n").collect();
    let redumped = oracle("redump", &input);
    assert_eq!(redumped.len(), payloads.len());
    for (ours, theirs) in payloads.iter().zip(&redumped) {
        let theirs = hex(theirs);
        if theirs != *ours {
            let a = String::from_utf8_lossy(ours);
            let b = String::from_utf8_lossy(&theirs);
            let diff = a
                .split(", ")
                .zip(b.split(", "))
                .find(|(x, y)| x != y)
                .unwrap();
            panic!("Rust wrote {} where Python writes {}", diff.0, diff.1);
        }
    }
}

/// The reader accepts exactly what Pyro4's reader accepts (strict UTF-8, then
/// `json.loads`) and builds the same tree: mutated payloads, fed to both.
/// The one documented difference: lone-surrogate escapes, which Python keeps
/// in a `str` and we refuse.
#[test]
fn reader_accepts_exactly_what_python_accepts() {
    let seeds: Vec<Vec<u8>> = oracle("corpus", "")
        .iter()
        .map(|l| hex(l.split_once('\t').unwrap().0))
        .filter(|b| b.len() < 2000)
        .collect();
    let tokens: &[&[u8]] = &[
        b"NaN",
        b"-NaN",
        b"nan",
        b"Infinity",
        b"-Infinity",
        b"-Inf",
        b"infinity",
        b"-",
        b"+1",
        b"01",
        b"-0",
        b"1.",
        b".5",
        b"1e",
        b"1e+",
        b"1E5",
        b"1.5e-3",
        b"0x10",
        b"\\u",
        b"\\ud800",
        b"\\udc00",
        b"\\ud800\\udc00",
        b"\\uD83D\\uDE00",
        b"\\ud800\\u0041",
        b"\\u00e9",
        b"\\uZZZZ",
        b"\\x41",
        b"\\/",
        b"\\'",
        b"\x0b",
        b"\x0c",
        b"\xa0",
        b"\xc2\xa0",
        b"\xef\xbb\xbf",
        b"\xe2\x80\xa8",
        b"\x00",
        b"\x1f",
        b"\x7f",
        b"\xff",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc0\x80",
        b" ",
        b"\t",
        b"\r\n",
        b",",
        b":",
        b"[",
        b"]",
        b"{",
        b"}",
        b"\"",
        b"true",
        b"True",
        b"null",
        b"None",
        b"[]",
        b"{}",
        b"\"\"",
        b"1",
        b"12345678901234567890",
        b"-9223372036854775809",
        b"1e400",
        b"-1e-400",
        b"//",
        b"/*x*/",
    ];
    let mut g = Gen(0xdead_beef_cafe_f00d);
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    for _ in 0..6000 {
        let mut data = seeds[g.below(seeds.len() as u64) as usize].clone();
        for _ in 0..1 + g.below(3) {
            let at = g.below(data.len() as u64 + 1) as usize;
            match g.below(4) {
                0 if !data.is_empty() => {
                    let end = (at + 1 + g.below(4) as usize).min(data.len());
                    data.drain(at.min(end)..end);
                }
                1 if at < data.len() => data[at] = g.next() as u8,
                _ => {
                    let t = tokens[g.below(tokens.len() as u64) as usize];
                    data.splice(at..at, t.iter().copied());
                }
            }
        }
        inputs.push(data);
    }
    // Tokens alone and inside a string or an array, whole.
    for t in tokens {
        inputs.push(t.to_vec());
        inputs.push([b"\"", *t, b"\""].concat());
        inputs.push([b"[", *t, b"]"].concat());
    }
    let input: String = inputs.iter().map(|i| hexstr(i) + "\n").collect();
    let verdicts = oracle("accept", &input);
    assert_eq!(verdicts.len(), inputs.len());
    let (mut accepted, mut rejected, mut surrogates) = (0, 0, 0);
    for (data, verdict) in inputs.iter().zip(&verdicts) {
        let shown = String::from_utf8_lossy(data);
        let ours = json::loads(data);
        match verdict.as_str() {
            "REJECT" => {
                assert!(
                    matches!(ours, Err(SerializeError::Malformed { .. })),
                    "Python rejects {shown:?}, we gave {ours:?}"
                );
                rejected += 1;
            }
            "SURROGATE" => {
                match ours {
                    Err(SerializeError::Malformed { reason, .. }) => {
                        assert!(reason.contains("lone surrogate"), "{shown:?}: {reason}")
                    }
                    other => panic!("{shown:?}: Python keeps a lone surrogate, we gave {other:?}"),
                }
                surrogates += 1;
            }
            python => {
                let value = ours.unwrap_or_else(|e| panic!("Python accepts {shown:?}, we: {e}"));
                assert_eq!(
                    String::from_utf8_lossy(&json::dumps(&value).unwrap()),
                    String::from_utf8_lossy(&hex(python)),
                    "decoding {shown:?}"
                );
                accepted += 1;
            }
        }
    }
    eprintln!("{accepted} accepted, {rejected} rejected, {surrogates} lone-surrogate inputs");
    assert!(accepted > 500 && rejected > 500 && surrogates > 5);
}
