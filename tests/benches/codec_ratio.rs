//! Speed of our codecs against Pyro4 4.82's Python serializers, measured in
//! one run on the same machine and the same values, printed as ratios.
//!
//!     cargo bench -p pyro-tests --bench codec_ratio
//!
//! Rust side: best-of-N loops over `SerializerId::{dumps_call_into,
//! loads_call, dumps, loads}`; Python side: `tests/python/bench_codecs.py` (timeit, best
//! of 5) through `Pyro4.util.get_serializer(name).{dumpsCall, loadsCall,
//! dumps, loads}`. Payloads: the typical call
//! `("test.obj", "method", ("hello", 42, 3.25, [0..9], {"a": 1, "b": "two"}), {})`
//! and a 1 MiB `bytes` value.
//!
//! "call decode" decodes the bytes Python Pyro4 itself writes for the call
//! (`bench_codecs.py docs`), the input a daemon gets from a Python client and
//! the same input Python's side decodes. They differ from what our writer
//! produces (marshal's FLAG_REF and back-references, pickle's MEMOIZE), so
//! decoding our own bytes is printed on an extra line.
//!
//! "call encode" is `dumps_call_into` into one buffer reused across the
//! iterations (cleared each time), which is what a client session does with
//! every request (it serializes into a buffer it keeps and frames from
//! there). `dumps_call`, which returns a fresh `Vec` per call (an allocation
//! and a free more), is printed on an extra line for comparison.
//!
//! Targets (printed, not enforced: timings on a shared machine are noisy):
//! every codec >= 10x the Python serializer on the typical call (encode and
//! decode), serpent >= 5x on the 1 MiB bytes value. A codec that is not
//! implemented yet (`Unsupported`) is reported as such and skipped.
//! `CODEC_RATIO_SCALE=0.2` shortens both sides' loops.

use std::hint::black_box;
use std::time::Instant;

use pyro_proto::serialize::{Call, SerializerId};
use pyro_proto::value::{Dict, Value};
use pyro_tests::python::script;
use pyro_tests::vectors::hex;
use serde_json::Value as Json;

const MIB: usize = 1 << 20;

/// The typical call, identical to `CALL` in `bench_codecs.py`.
fn typical_call() -> Call {
    Call {
        object: "test.obj".into(),
        method: "method".into(),
        vargs: Value::Tuple(vec![
            Value::Str("hello".into()),
            Value::Int(42),
            Value::Float(3.25),
            Value::List((0..10).map(Value::Int).collect()),
            Value::Dict(Dict(vec![
                (Value::Str("a".into()), Value::Int(1)),
                (Value::Str("b".into()), Value::Str("two".into())),
            ])),
        ]),
        kwargs: Some(Dict::default()),
    }
}

/// `bytes(range(256)) * 4096`.
fn blob() -> Value {
    Value::Bytes((0..MIB).map(|i| i as u8).collect())
}

/// Seconds per call of `f`: best of 5 rounds of `number` calls.
fn best<T>(number: u32, mut f: impl FnMut() -> T) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..number {
                black_box(f());
            }
            t.elapsed().as_secs_f64() / f64::from(number)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Our four timings for one codec, or why it could not be timed.
#[derive(Default)]
struct Ours {
    /// `dumps_call_into` a reused buffer (what the session does).
    call_dumps: Option<f64>,
    /// `dumps_call`: a fresh `Vec` per call.
    call_dumps_vec: Option<f64>,
    /// `loads_call` of the bytes Python wrote.
    call_loads: Option<f64>,
    /// `loads_call` of the bytes we wrote.
    call_loads_own: Option<f64>,
    /// `loads_call_raw` (no class step): tells parsing cost from the class walk.
    call_loads_raw: Option<f64>,
    /// Cloning and dropping the decoded call: building and freeing its
    /// `Value` tree, which every decoder must do, without any parsing.
    call_floor: Option<f64>,
    bytes_dumps: Option<f64>,
    bytes_loads: Option<f64>,
    problems: Vec<String>,
}

impl Ours {
    /// The faster of two measurements, field by field.
    fn min(self, other: Ours) -> Ours {
        let m = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        Ours {
            call_dumps: m(self.call_dumps, other.call_dumps),
            call_dumps_vec: m(self.call_dumps_vec, other.call_dumps_vec),
            call_loads: m(self.call_loads, other.call_loads),
            call_loads_own: m(self.call_loads_own, other.call_loads_own),
            call_loads_raw: m(self.call_loads_raw, other.call_loads_raw),
            call_floor: m(self.call_floor, other.call_floor),
            bytes_dumps: m(self.bytes_dumps, other.bytes_dumps),
            bytes_loads: m(self.bytes_loads, other.bytes_loads),
            problems: self.problems,
        }
    }
}

fn time_ours(ser: SerializerId, call: &Call, py_doc: &[u8], blob: &Value, scale: f64) -> Ours {
    let n = |base: f64| ((base * scale) as u32).max(1);
    let mut o = Ours::default();
    match ser.dumps_call(call) {
        Ok(doc) => {
            let mut buf = Vec::new();
            o.call_dumps = Some(best(n(20_000.0), || {
                buf.clear();
                let r = ser.dumps_call_into(black_box(call), &mut buf);
                black_box(&buf);
                r
            }));
            o.call_dumps_vec = Some(best(n(20_000.0), || ser.dumps_call(black_box(call))));
            match (ser.loads_call(&doc), ser.loads_call(py_doc)) {
                (Ok(own), Ok(theirs)) => {
                    // Both inputs must carry the same call, or the ratio compares different work.
                    assert_eq!(
                        own,
                        theirs,
                        "{}: Python's bytes decode to another call",
                        ser.name()
                    );
                    o.call_loads = Some(best(n(20_000.0), || ser.loads_call(black_box(py_doc))));
                    o.call_loads_own = Some(best(n(20_000.0), || ser.loads_call(black_box(&doc))));
                    o.call_loads_raw =
                        Some(best(n(20_000.0), || ser.loads_call_raw(black_box(py_doc))));
                    o.call_floor = Some(best(n(20_000.0), || black_box(&theirs).clone()));
                }
                (Err(e), _) => o.problems.push(format!("call decode (our bytes): {e}")),
                (_, Err(e)) => o
                    .problems
                    .push(format!("call decode (Python's bytes): {e}")),
            }
        }
        Err(e) => o.problems.push(format!("call encode: {e}")),
    }
    match ser.dumps(blob) {
        Ok(doc) => {
            o.bytes_dumps = Some(best(n(20.0), || ser.dumps(black_box(blob))));
            match ser.loads(&doc) {
                Ok(_) => o.bytes_loads = Some(best(n(20.0), || ser.loads(black_box(&doc)))),
                Err(e) => o.problems.push(format!("1 MiB decode: {e}")),
            }
        }
        // json cannot carry bytes; Pyro4 refuses too, so it is not a problem.
        Err(e) if ser == SerializerId::Json => {
            let _ = e;
        }
        Err(e) => o.problems.push(format!("1 MiB encode: {e}")),
    }
    o
}

/// Runs `bench_codecs.py` with `arg` and parses the JSON it prints.
fn python_json(arg: &str) -> Result<Json, String> {
    let out = script("bench_codecs.py")
        .arg(arg)
        .output()
        .map_err(|e| format!("cannot run bench_codecs.py: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bench_codecs.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bench_codecs.py output: {e}"))
}

/// The bytes Pyro4's `dumpsCall` writes for the typical call, per codec.
fn python_docs() -> Result<Vec<(SerializerId, Vec<u8>)>, String> {
    let docs = python_json("docs")?;
    SerializerId::ALL
        .iter()
        .map(|&ser| {
            let hex_text = docs[ser.name()]
                .as_str()
                .ok_or_else(|| format!("bench_codecs.py docs: no {}", ser.name()))?;
            Ok((ser, hex(hex_text)))
        })
        .collect()
}

fn fmt_time(t: Option<f64>) -> String {
    match t {
        None => "-".into(),
        Some(s) if s < 1e-3 => format!("{:.2} us", s * 1e6),
        Some(s) => format!("{:.3} ms", s * 1e3),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us without it: stay quick then.
    let benching = std::env::args().any(|a| a == "--bench");
    let scale: f64 = std::env::var("CODEC_RATIO_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 1.0 } else { 0.01 });
    let call = typical_call();
    let blob = blob();
    let docs = python_docs().unwrap_or_else(|e| panic!("Python Pyro4 unavailable: {e}"));
    let measure = || -> Vec<(SerializerId, Ours)> {
        docs.iter()
            .map(|(ser, doc)| (*ser, time_ours(*ser, &call, doc, &blob, scale)))
            .collect()
    };
    // Ours before and after Python's run, keeping the better of the two, so
    // that a burst of load on the shared machine does not favour one side.
    let before = measure();
    let py = match python_json(&scale.to_string()) {
        Ok(j) => j,
        Err(e) => panic!("Python Pyro4 timings unavailable: {e}"),
    };
    let ours: Vec<(SerializerId, Ours)> = before
        .into_iter()
        .zip(measure())
        .map(|((ser, a), (_, b))| (ser, a.min(b)))
        .collect();
    println!(
        "codec speed, Rust vs Python {} Pyro4 4.82 (seconds per operation, best of 5; ratio = Python / Rust)",
        py["python"].as_str().unwrap_or("?")
    );
    println!(
        "{:<8} {:<12} {:>12} {:>12} {:>8} {:>8}  verdict",
        "codec", "operation", "python", "rust", "ratio", "target"
    );
    let mut misses = Vec::new();
    for (ser, o) in &ours {
        let p = &py["serializers"][ser.name()];
        let rows = [
            (
                "call encode",
                p["call_dumps"].as_f64(),
                o.call_dumps,
                Some(10.0),
            ),
            (
                "call decode",
                p["call_loads"].as_f64(),
                o.call_loads,
                Some(10.0),
            ),
            (
                "1MiB encode",
                p["bytes_dumps"].as_f64(),
                o.bytes_dumps,
                (*ser == SerializerId::Serpent).then_some(5.0),
            ),
            (
                "1MiB decode",
                p["bytes_loads"].as_f64(),
                o.bytes_loads,
                (*ser == SerializerId::Serpent).then_some(5.0),
            ),
        ];
        for (op, pt, rt, target) in rows {
            let ratio = match (pt, rt) {
                (Some(p), Some(r)) if r > 0.0 => Some(p / r),
                _ => None,
            };
            let verdict = match (ratio, target) {
                (Some(r), Some(t)) if r >= t => "ok",
                (Some(_), Some(_)) => {
                    misses.push(format!("{} {op}", ser.name()));
                    "BELOW TARGET"
                }
                (None, Some(_)) if rt.is_none() && pt.is_some() => "NOT MEASURED",
                _ => "",
            };
            println!(
                "{:<8} {:<12} {:>12} {:>12} {:>8} {:>8}  {verdict}",
                ser.name(),
                op,
                fmt_time(pt),
                fmt_time(rt),
                ratio.map(|r| format!("{r:.1}x")).unwrap_or("-".into()),
                target.map(|t| format!(">={t}x")).unwrap_or_default(),
            );
        }
        println!(
            "{:<8} {:<12} {:>12} {:>12}           (dumps_call: a fresh Vec per call, for comparison)",
            ser.name(),
            "call enc Vec",
            "",
            fmt_time(o.call_dumps_vec),
        );
        println!(
            "{:<8} {:<12} {:>12} {:>12}           (decoding the bytes our writer produces)",
            ser.name(),
            "call dec own",
            "",
            fmt_time(o.call_loads_own),
        );
        println!(
            "{:<8} {:<12} {:>12} {:>12}           (decode without the class step, for diagnosis)",
            ser.name(),
            "call raw dec",
            "",
            fmt_time(o.call_loads_raw),
        );
        let ceiling = match (p["call_loads"].as_f64(), o.call_floor) {
            (Some(p), Some(f)) if f > 0.0 => format!("{:>7.1}x", p / f),
            _ => "-".into(),
        };
        println!(
            "{:<8} {:<12} {:>12} {:>12} {ceiling}           (clone + drop of the decoded call: what building its Value tree costs; no decoder returning one can beat it)",
            ser.name(),
            "call floor",
            "",
            fmt_time(o.call_floor),
        );
        for problem in &o.problems {
            println!(
                "{:<8} not measured: {problem} (codec not implemented yet?)",
                ser.name()
            );
        }
    }
    if !benching || cfg!(debug_assertions) {
        println!(
            "(smoke run, scale {scale}{}: the ratios mean nothing; use `cargo bench -p pyro-tests --bench codec_ratio`)",
            if cfg!(debug_assertions) { ", debug build" } else { "" }
        );
    }
    if misses.is_empty() {
        println!("all measured targets met");
    } else {
        println!("below target: {}", misses.join(", "));
    }
}
