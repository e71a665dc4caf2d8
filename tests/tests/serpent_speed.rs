//! Speed of the serpent codec against Python serpent 1.43 on the same
//! payloads (targets: >= 10x on a typical call, >= 5x on 1 MiB of bytes).
//! Timing tests are meaningless in debug builds and on a loaded machine, so
//! this one is opt-in:
//!
//!     cargo test --release -p pyro-tests --test serpent_speed -- --ignored --nocapture

use std::hint::black_box;
use std::time::Instant;

use pyro_proto::serialize::{serpent, Call};
use pyro_proto::value::{Dict, Value};
use pyro_tests::python::script;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn best<F: FnMut()>(mut f: F, number: u32) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..number {
                f();
            }
            t.elapsed().as_secs_f64() / number as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The same values as `tests/python/serpent_speed.py`.
fn call() -> Call {
    Call {
        object: "test.obj".into(),
        method: "echo".into(),
        vargs: Value::Tuple(vec![Value::Dict(Dict(vec![
            (s("int"), Value::Int(1)),
            (s("str"), s("héllo €")),
            (
                s("list"),
                Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            ),
            (s("float"), Value::Float(1.5)),
            (s("none"), Value::None),
            (s("tuple"), Value::Tuple(vec![s("a"), Value::Int(2)])),
        ]))]),
        kwargs: Some(Dict(vec![(s("flag"), Value::Bool(true))])),
    }
}

#[test]
#[ignore = "timing; run in release with --ignored"]
fn serpent_is_faster_than_python() {
    let out = script("serpent_speed.py").output().expect("run Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: std::collections::HashMap<String, f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();

    let call = call();
    let call_doc = serpent::dumps_call(&call).unwrap();
    let blob = Value::Bytes((0..=255u8).cycle().take(1 << 20).collect());
    let blob_doc = serpent::dumps(&blob).unwrap();
    let rust = [
        (
            "call_dumps",
            best(
                || drop(black_box(serpent::dumps_call(black_box(&call)))),
                20000,
            ),
        ),
        (
            "call_loads",
            best(
                || drop(black_box(serpent::loads_call(black_box(&call_doc)))),
                20000,
            ),
        ),
        (
            "bytes_dumps",
            best(|| drop(black_box(serpent::dumps(black_box(&blob)))), 50),
        ),
        (
            "bytes_loads",
            best(|| drop(black_box(serpent::loads(black_box(&blob_doc)))), 50),
        ),
    ];
    for (name, t) in rust {
        let p = py[name];
        let target = if name.starts_with("call") { 10.0 } else { 5.0 };
        eprintln!(
            "{name:12} Rust {:10.2} us   Python {:10.2} us   speed-up {:6.1}x (target {target}x)",
            t * 1e6,
            p * 1e6,
            p / t
        );
        assert!(
            p / t >= target,
            "{name}: only {:.1}x faster than Python",
            p / t
        );
    }
}
