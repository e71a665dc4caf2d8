//! Python equality and hashing for the values a literal can use as dict keys
//! and set elements, so that `{1: 'a', 1.0: 'b', True: 'c'}` reads as
//! `{1: 'c'}` and `{1, 1.0}` as `{1}`, exactly as `ast.literal_eval` builds them.

use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::FromPrimitive;

use crate::value::Value;

/// Whether Python could hash the value a literal produced (no list, dict or
/// set anywhere in it; tuples are hashable when their items are).
pub(super) fn is_hashable(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Class(_) => false,
        Value::Tuple(items) | Value::FrozenSet(items) => items.iter().all(is_hashable),
        _ => true,
    }
}

/// A number as Python compares it: exact integers, then floats, then complex.
enum Num<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
    Complex(f64, f64),
}

fn num(v: &Value) -> Option<Num<'_>> {
    Some(match v {
        Value::Bool(b) => Num::Int(*b as i64),
        Value::Int(i) => Num::Int(*i),
        Value::BigInt(b) => Num::Big(b),
        Value::Float(f) => Num::Float(*f),
        Value::Complex { re, im } => Num::Complex(*re, *im),
        _ => return None,
    })
}

/// A float that holds an integral value, as that integer.
fn float_as_int(f: f64) -> Option<Result<i64, BigInt>> {
    if !f.is_finite() {
        return None;
    }
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        // In range the cast truncates; equal back means there was no fraction.
        let i = f as i64;
        (i as f64 == f).then_some(Ok(i))
    } else {
        // Beyond 2**63 every float is an integer.
        BigInt::from_f64(f).map(Err)
    }
}

fn real_eq(a: &Num<'_>, b: &Num<'_>) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Big(x), Num::Big(y)) => x == y,
        (Num::Int(_), Num::Big(_)) | (Num::Big(_), Num::Int(_)) => false,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Float(f), Num::Int(i)) | (Num::Int(i), Num::Float(f)) => {
            matches!(float_as_int(*f), Some(Ok(v)) if v == *i)
        }
        (Num::Float(f), Num::Big(b)) | (Num::Big(b), Num::Float(f)) => {
            matches!(float_as_int(*f), Some(Err(v)) if v == **b)
        }
        (Num::Complex(re, im), other) | (other, Num::Complex(re, im)) => match other {
            Num::Complex(re2, im2) => re == re2 && im == im2,
            _ => *im == 0.0 && real_eq(&Num::Float(*re), other),
        },
    }
}

/// `a == b` in Python, for hashable literal values.
pub(super) fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return real_eq(&x, &y);
    }
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        _ => false,
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn mix(h: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(FNV_PRIME))
}

fn hash_int(h: u64, i: i64) -> u64 {
    mix(mix(h, b"i"), &i.to_le_bytes())
}

fn hash_big(h: u64, b: &BigInt) -> u64 {
    mix(mix(h, b"i"), &b.to_signed_bytes_le())
}

fn hash_real(h: u64, n: &Num<'_>) -> u64 {
    match n {
        Num::Int(i) => hash_int(h, *i),
        Num::Big(b) => hash_big(h, b),
        Num::Float(f) => match float_as_int(*f) {
            Some(Ok(i)) => hash_int(h, i),
            Some(Err(b)) => hash_big(h, &b),
            None => mix(mix(h, b"f"), &f.to_bits().to_le_bytes()),
        },
        Num::Complex(re, im) => {
            if *im == 0.0 {
                hash_real(h, &Num::Float(*re))
            } else {
                let re = if *re == 0.0 { 0.0 } else { *re };
                let h = mix(mix(h, b"c"), &re.to_bits().to_le_bytes());
                mix(h, &im.to_bits().to_le_bytes())
            }
        }
    }
}

/// A hash consistent with [`py_eq`] (equal values hash equal).
fn py_hash(h: u64, v: &Value) -> u64 {
    if let Some(n) = num(v) {
        return hash_real(h, &n);
    }
    match v {
        Value::Str(s) => mix(mix(h, b"s"), s.as_bytes()),
        Value::Bytes(b) => mix(mix(h, b"b"), b),
        Value::Tuple(items) => items.iter().fold(mix(h, b"t"), py_hash),
        _ => mix(h, b"n"),
    }
}

/// Find-or-insert by Python equality: returns the index of an equal earlier
/// key, or `None` after recording `len` as the slot of a new one.
struct Index {
    slots: Vec<usize>,
    mask: usize,
}

const SMALL: usize = 8;

impl Index {
    fn new(n: usize) -> Index {
        let size = (n * 2).next_power_of_two().max(16);
        Index {
            slots: alloc::vec![usize::MAX; size],
            mask: size - 1,
        }
    }

    fn find_or_insert<T>(
        &mut self,
        items: &[T],
        key_of: impl Fn(&T) -> &Value,
        key: &Value,
    ) -> Option<usize> {
        let mut i = py_hash(FNV_OFFSET, key) as usize & self.mask;
        loop {
            match self.slots[i] {
                usize::MAX => {
                    self.slots[i] = items.len();
                    return None;
                }
                j if py_eq(key_of(&items[j]), key) => return Some(j),
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

/// Build a dict as Python does from key/value pairs: a repeated key keeps
/// its first position (and first key object) and takes the last value.
pub(super) fn dedup_dict(entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    let n = entries.len();
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(n);
    if n <= SMALL {
        for (k, v) in entries {
            match out.iter().position(|(k2, _)| py_eq(k2, &k)) {
                Some(j) => out[j].1 = v,
                None => out.push((k, v)),
            }
        }
        return out;
    }
    let mut index = Index::new(n);
    for (k, v) in entries {
        match index.find_or_insert(&out, |e| &e.0, &k) {
            Some(j) => out[j].1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// Build a set as Python does: the first of equal elements stays.
pub(super) fn dedup_set(items: Vec<Value>) -> Vec<Value> {
    let n = items.len();
    let mut out: Vec<Value> = Vec::with_capacity(n);
    if n <= SMALL {
        for v in items {
            if !out.iter().any(|x| py_eq(x, &v)) {
                out.push(v);
            }
        }
        return out;
    }
    let mut index = Index::new(n);
    for v in items {
        if index.find_or_insert(&out, |e| e, &v).is_none() {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_types() {
        assert!(py_eq(&Value::Int(1), &Value::Bool(true)));
        assert!(py_eq(&Value::Int(1), &Value::Float(1.0)));
        assert!(py_eq(&Value::Float(0.0), &Value::Float(-0.0)));
        assert!(py_eq(&Value::Int(2), &Value::Complex { re: 2.0, im: 0.0 }));
        assert!(!py_eq(&Value::Int(2), &Value::Complex { re: 2.0, im: 1.0 }));
        let big: BigInt = BigInt::from(1u64 << 63) * 2u32;
        assert!(py_eq(
            &Value::BigInt(big.clone()),
            &Value::Float(1.8446744073709552e19)
        ));
        assert!(!py_eq(&Value::Str("1".into()), &Value::Int(1)));
        assert!(!py_eq(
            &Value::Str("a".into()),
            &Value::Bytes(b"a".to_vec())
        ));
    }

    #[test]
    fn large_and_small_dedup_agree() {
        let mut entries = Vec::new();
        for i in 0..40 {
            entries.push((Value::Int(i % 13), Value::Int(i)));
            entries.push((Value::Float((i % 7) as f64), Value::Int(-i)));
        }
        let out = dedup_dict(entries.clone());
        assert_eq!(out.len(), 13);
        // Key 0 first came as Int(0); the last write to it was Int(0) at i = 39.
        assert_eq!(out[0], (Value::Int(0), Value::Int(39)));
        let mut naive: Vec<(Value, Value)> = Vec::new();
        for (k, v) in entries {
            match naive.iter().position(|(k2, _)| py_eq(k2, &k)) {
                Some(j) => naive[j].1 = v,
                None => naive.push((k, v)),
            }
        }
        assert_eq!(out, naive);
        let set = dedup_set((0i64..30).map(|i| Value::Int(i % 5)).collect());
        assert_eq!(set, (0i64..5).map(Value::Int).collect::<Vec<_>>());
    }
}
