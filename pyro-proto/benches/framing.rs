//! Criterion benchmarks for framing.
fn main() {}
