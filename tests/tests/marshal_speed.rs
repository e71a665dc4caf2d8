//! Speed of the marshal codec against CPython's C `marshal` and Pyro4's
//! `MarshalSerializer` on a typical call payload (the captured `types_basic`
//! echo call: 11 keys of every basic type). Ignored by default (timing is
//! meaningless in debug builds and on a loaded machine); run with
//!
//! ```text
//! cargo test --release -p pyro-tests --test marshal_speed -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use pyro_proto::serialize::marshal;
use pyro_tests::python::script;
use pyro_tests::vectors;

/// Best-of-15 nanoseconds per call of `f` (short batches, so one preempted
/// batch does not count).
fn best_ns(mut f: impl FnMut()) -> f64 {
    let n = 5000;
    (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::MAX, f64::min)
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn marshal_speed_against_python() {
    let file = vectors::named("marshal_types_basic.txt");
    let payload = file
        .lines
        .iter()
        .filter(|l| l.tag == "C2S")
        .map(|l| vectors::raw_frame(&l.bytes))
        .find(|f| f.msg_type == 4)
        .expect("an INVOKE")
        .payload;
    let call = marshal::loads_call(&payload).unwrap();
    let value = marshal::loads(&payload).unwrap();
    let rust = [
        (
            "loads",
            best_ns(|| drop(black_box(marshal::loads(black_box(&payload))))),
        ),
        (
            "dumps",
            best_ns(|| drop(black_box(marshal::dumps(black_box(&value))))),
        ),
        (
            "loadsCall",
            best_ns(|| drop(black_box(marshal::loads_call(black_box(&payload))))),
        ),
        (
            "dumpsCall",
            best_ns(|| drop(black_box(marshal::dumps_call(black_box(&call))))),
        ),
    ];

    let mut child = script("marshal_speed.py")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hex.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    println!("payload: {} bytes", payload.len());
    for ((name, ours), line) in rust.iter().zip(text.lines()) {
        let (pname, pns) = line.split_once(' ').unwrap();
        assert_eq!(*name, pname);
        let pns: f64 = pns.parse().unwrap();
        let what = if name.ends_with("Call") {
            "Pyro4 MarshalSerializer"
        } else {
            "CPython marshal"
        };
        println!(
            "{name:>9}: Rust {ours:7.0} ns, {what} {pns:7.0} ns, x{:.1}",
            pns / ours
        );
        assert!(*ours > 0.0);
    }
}
