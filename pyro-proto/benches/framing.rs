//! Criterion benchmarks for framing: decoding and encoding a small INVOKE and
//! a 1 MiB payload, fed whole (zero-copy `receive_bytes`) and in 4 KiB
//! chunks (copying `receive`), next to a plain 1 MiB memcpy for scale.
//!
//! `cargo bench -p pyro-proto --bench framing -- --warm-up-time 1 --measurement-time 3`
//!
//! Targets: >= 10 million small frames decoded per second; decoding the
//! 1 MiB frame fed whole costs <= 1/10 of the 1 MiB memcpy.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pyro_proto::message::{AnnotationId, Decoder, Encoder, ExpectedTypes, Message, MessageType};

const MIB: usize = 1 << 20;
const CHUNK: usize = 4096;

/// The INVOKE of section 2.1 (`multiply(6,7)`, serpent, seq 1).
fn small_invoke() -> Message {
    Message::new(
        MessageType::Invoke,
        1,
        &b"# serpent utf-8 python3.2\n('test.obj','multiply',(6,7),{})"[..],
    )
    .with_seq(1)
}

/// A RESULT carrying 1 MiB of payload and a CORR annotation.
fn big_result() -> Message {
    let payload: Vec<u8> = (0..MIB).map(|i| (i * 31 % 251) as u8).collect();
    Message::new(MessageType::Result, 1, payload)
        .with_seq(1)
        .with_annotation(AnnotationId::CORR, vec![0x5a; 16])
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");

    let small = Bytes::from(small_invoke().encode(None).unwrap());
    g.throughput(Throughput::Elements(1));
    g.bench_function("small_invoke/whole_bytes", |b| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON);
        b.iter(|| {
            d.receive_bytes(small.clone());
            black_box(d.next_message().unwrap().unwrap())
        })
    });
    g.bench_function("small_invoke/copied_slice", |b| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON);
        b.iter(|| {
            d.receive(&small);
            black_box(d.next_message().unwrap().unwrap())
        })
    });
    let signed = Bytes::from(small_invoke().encode(Some(b"secret-key")).unwrap());
    g.bench_function("small_invoke/whole_bytes_hmac", |b| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON).with_hmac_key(&b"secret-key"[..]);
        b.iter(|| {
            d.receive_bytes(signed.clone());
            black_box(d.next_message().unwrap().unwrap())
        })
    });

    let big = Bytes::from(big_result().encode(None).unwrap());
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("1MiB/whole_bytes", |b| {
        let mut d = Decoder::new(ExpectedTypes::CLIENT);
        b.iter(|| {
            d.receive_bytes(big.clone());
            black_box(d.next_message().unwrap().unwrap())
        })
    });
    g.bench_function("1MiB/4KiB_chunks", |b| {
        let mut d = Decoder::new(ExpectedTypes::CLIENT);
        b.iter(|| {
            for chunk in big.chunks(CHUNK) {
                d.receive(chunk);
            }
            black_box(d.next_message().unwrap().unwrap())
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let enc = Encoder::new();
    let small = small_invoke();
    g.throughput(Throughput::Elements(1));
    g.bench_function("small_invoke", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            enc.encode_into(black_box(&small), &mut out).unwrap();
            black_box(out.len())
        })
    });
    let signing = Encoder::new().with_hmac_key(&b"secret-key"[..]);
    g.bench_function("small_invoke_hmac", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            signing.encode_into(black_box(&small), &mut out).unwrap();
            black_box(out.len())
        })
    });
    let big = big_result();
    g.throughput(Throughput::Bytes(big.data.len() as u64));
    g.bench_function("1MiB/whole", |b| {
        let mut out = Vec::with_capacity(MIB + 256);
        b.iter(|| {
            out.clear();
            enc.encode_into(black_box(&big), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("1MiB/head_only", |b| {
        b.iter(|| black_box(enc.encode_head(black_box(&big)).unwrap()))
    });
    g.finish();
}

fn memcpy(c: &mut Criterion) {
    let mut g = c.benchmark_group("memcpy");
    let src = vec![0xa5u8; MIB];
    g.throughput(Throughput::Bytes(MIB as u64));
    // A warm destination, reused: the copy itself, no page faults.
    let mut dst = vec![0x5au8; MIB];
    g.bench_function("1MiB", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(dst.as_ptr())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode, memcpy);
criterion_main!(benches);
