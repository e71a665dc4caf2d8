//! Criterion benchmarks for the codecs.
fn main() {}
