//! Criterion benchmarks for the four codecs: encoding and decoding a typical
//! call payload and a 1 MiB `bytes` value, per codec.
//!
//! `cargo bench -p pyro-proto --bench codecs -- --warm-up-time 1 --measurement-time 3`
//!
//! The typical call is the one `tests/benches/codec_ratio.rs` and
//! `tests/python/bench_codecs.py` time against Python's Pyro4 serializers:
//! `Call("test.obj", "method", ("hello", 42, 3.25, [0..9], {"a": 1, "b": "two"}), {})`.
//! Targets (checked by the ratio runner, not here): each codec >= 10x the
//! Python serializer on the call; serpent >= 5x on the 1 MiB bytes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pyro_proto::serialize::{Call, SerializerId};
use pyro_proto::value::{Dict, Value};

const MIB: usize = 1 << 20;

/// The typical call (same values as the ratio runner's).
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

/// 1 MiB of every byte value (as `bytes(range(256)) * 4096` in Python).
fn blob() -> Value {
    Value::Bytes((0..MIB).map(|i| i as u8).collect())
}

fn call(c: &mut Criterion) {
    let call = typical_call();
    let mut enc = c.benchmark_group("call_encode");
    for &ser in SerializerId::ALL {
        match ser.dumps_call(&call) {
            Ok(doc) => {
                enc.throughput(Throughput::Bytes(doc.len() as u64));
                enc.bench_function(BenchmarkId::from_parameter(ser.name()), |b| {
                    b.iter(|| ser.dumps_call(black_box(&call)).unwrap())
                });
            }
            Err(e) => eprintln!("skipping {} call encode: {e}", ser.name()),
        }
    }
    enc.finish();
    let mut dec = c.benchmark_group("call_decode");
    for &ser in SerializerId::ALL {
        if let Ok(doc) = ser.dumps_call(&call) {
            dec.throughput(Throughput::Bytes(doc.len() as u64));
            dec.bench_function(BenchmarkId::from_parameter(ser.name()), |b| {
                b.iter(|| ser.loads_call(black_box(&doc)).unwrap())
            });
        }
    }
    dec.finish();
}

fn bytes_1mib(c: &mut Criterion) {
    let value = blob();
    let mut enc = c.benchmark_group("bytes_1mib_encode");
    enc.sample_size(20)
        .throughput(Throughput::Bytes(MIB as u64));
    for &ser in SerializerId::ALL {
        match ser.dumps(&value) {
            Ok(_) => {
                enc.bench_function(BenchmarkId::from_parameter(ser.name()), |b| {
                    b.iter(|| ser.dumps(black_box(&value)).unwrap())
                });
            }
            // json has no bytes type (Pyro4 refuses it too).
            Err(e) => eprintln!("skipping {} 1 MiB encode: {e}", ser.name()),
        }
    }
    enc.finish();
    let mut dec = c.benchmark_group("bytes_1mib_decode");
    dec.sample_size(20)
        .throughput(Throughput::Bytes(MIB as u64));
    for &ser in SerializerId::ALL {
        if let Ok(doc) = ser.dumps(&value) {
            dec.bench_function(BenchmarkId::from_parameter(ser.name()), |b| {
                b.iter(|| ser.loads(black_box(&doc)).unwrap())
            });
        }
    }
    dec.finish();
}

criterion_group!(benches, call, bytes_1mib);
criterion_main!(benches);
