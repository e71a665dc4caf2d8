//! Python's `==`/`hash` for the hashable values, so that dict keys and set
//! elements collapse as in CPython (`{1: 'a', 1.0: 'b', True: 'c'}` is one
//! entry), and unhashable keys (`list`, `dict`, `set`) are refused.
//!
//! Only inputs crafted by hand ever contain duplicates (Python's writer walks
//! real dicts and sets), so the common path is a cheap "no duplicates" check:
//! pairwise for small containers, hash-and-sort for large ones (O(n log n) on
//! hostile input).

use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::FromPrimitive;

use crate::value::Value;

/// Containers at most this long are checked pairwise.
const PAIRWISE_MAX: usize = 16;

/// A value's Python type name when it is unhashable (so cannot be a dict key
/// or set element), `None` when hashable.
pub(crate) fn unhashable(v: &Value) -> Option<&'static str> {
    match v {
        Value::List(_) => Some("list"),
        Value::Dict(_) | Value::Class(_) => Some("dict"),
        Value::Set(_) => Some("set"),
        Value::Tuple(items) => items.iter().find_map(unhashable),
        _ => None,
    }
}

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
        Value::Complex { re, im } if *im == 0.0 => Num::Float(*re),
        Value::Complex { re, im } => Num::Complex(*re, *im),
        _ => return None,
    })
}

/// An integral float as the int it equals (`None` for fractions, inf, NaN).
fn float_as_int(f: f64) -> Option<Result<i64, BigInt>> {
    /// 2**63 (exactly; the shortest literal that rounds to it).
    const TWO63: f64 = 9.223_372_036_854_776e18;
    if !f.is_finite() {
        return None;
    }
    if (-TWO63..TWO63).contains(&f) {
        let i = f as i64;
        (i as f64 == f).then_some(Ok(i))
    } else {
        // Every float this large is integral.
        BigInt::from_f64(f).map(Err)
    }
}

fn num_eq(a: Num<'_>, b: Num<'_>) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Big(x), Num::Big(y)) => x == y,
        (Num::Int(_), Num::Big(_)) | (Num::Big(_), Num::Int(_)) => false,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Complex(a, b), Num::Complex(c, d)) => a == c && b == d,
        (Num::Complex(..), _) | (_, Num::Complex(..)) => false,
        (Num::Float(f), Num::Int(i)) | (Num::Int(i), Num::Float(f)) => {
            matches!(float_as_int(f), Some(Ok(x)) if x == i)
        }
        (Num::Float(f), Num::Big(b)) | (Num::Big(b), Num::Float(f)) => {
            matches!(float_as_int(f), Some(Err(x)) if x == *b)
        }
    }
}

/// Python `a == b` for hashable values.
pub(crate) fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::None, Value::None) => true,
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| py_eq(p, q)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_eq(x, y),
            _ => false,
        },
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_bytes(tag: u64, bytes: &[u8]) -> u64 {
    let mut h = mix(tag ^ bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(word));
    }
    h
}

fn hash_big(b: &BigInt) -> u64 {
    hash_bytes(3, &b.to_signed_bytes_le())
}

/// A hash consistent with [`py_eq`]: equal values hash equal.
pub(crate) fn py_hash(v: &Value) -> u64 {
    match v {
        Value::None => 1,
        Value::Str(s) => hash_bytes(4, s.as_bytes()),
        Value::Bytes(b) => hash_bytes(5, b),
        Value::Tuple(items) => items
            .iter()
            .fold(mix(6 ^ items.len() as u64), |h, x| mix(h ^ py_hash(x))),
        Value::FrozenSet(items) => items
            .iter()
            .fold(mix(7), |h, x| h.wrapping_add(mix(py_hash(x)))),
        _ => match num(v) {
            Some(Num::Int(i)) => mix(i as u64),
            Some(Num::Big(b)) => hash_big(b),
            Some(Num::Float(f)) => match float_as_int(f) {
                Some(Ok(i)) => mix(i as u64),
                Some(Err(b)) => hash_big(&b),
                None => mix(f.to_bits() ^ 0x5555),
            },
            Some(Num::Complex(re, im)) => mix(re.to_bits() ^ mix(im.to_bits())),
            // Unhashable kinds never reach here (checked first).
            None => 0,
        },
    }
}

/// For each item, the index of the first earlier item equal to it (or
/// `None`); `None` overall when there are no duplicates at all.
fn duplicates<'v>(len: usize, key: impl Fn(usize) -> &'v Value) -> Option<Vec<Option<usize>>> {
    if len < 2 {
        return None;
    }
    if len <= PAIRWISE_MAX {
        // The usual case: a few str keys. Compare cheap fingerprints (length
        // and leading bytes) first, the strings only when those collide.
        let mut fps = [0u64; PAIRWISE_MAX];
        let mut all_str = true;
        for (i, fp) in fps.iter_mut().enumerate().take(len) {
            match key(i) {
                Value::Str(s) => *fp = fingerprint(s.as_bytes()),
                _ => all_str = false,
            }
        }
        let equal = |j: usize, i: usize| {
            if all_str {
                fps[j] == fps[i] && key(j) == key(i)
            } else {
                py_eq(key(j), key(i))
            }
        };
        let any = (1..len).any(|i| (0..i).any(|j| equal(j, i)));
        if !any {
            return None;
        }
        return Some((0..len).map(|i| (0..i).find(|&j| equal(j, i))).collect());
    }
    let mut hashes: Vec<(u64, usize)> = (0..len).map(|i| (py_hash(key(i)), i)).collect();
    hashes.sort_unstable();
    let mut firsts: Option<Vec<Option<usize>>> = None;
    let mut start = 0;
    while start < len {
        let mut end = start + 1;
        while end < len && hashes[end].0 == hashes[start].0 {
            end += 1;
        }
        // Within one hash group (sorted by index), link each to the first
        // earlier equal item.
        for a in start + 1..end {
            let ia = hashes[a].1;
            if let Some(b) = (start..a).find(|&b| py_eq(key(hashes[b].1), key(ia))) {
                let ib = hashes[b].1;
                let f = firsts.get_or_insert_with(|| alloc::vec![None; len]);
                // `ib` may itself be a duplicate of an earlier item.
                f[ia] = Some(f[ib].unwrap_or(ib));
            }
        }
        start = end;
    }
    firsts
}

fn fingerprint(b: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = b.len().min(7);
    word[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(word) ^ ((b.len() as u64) << 56)
}

/// Whether `pairs` has at most one key, or up to eight keys that are all
/// `str` and pairwise different (so [`dedup_dict`] would change nothing): the
/// shape of nearly every dict a Pyro call carries, checked without hashing.
#[inline]
fn distinct_strs(pairs: &[(Value, Value)]) -> bool {
    // Keys of another length or first byte differ without a byte compare.
    let differ = |a: &[u8], b: &[u8]| a.len() != b.len() || a.first() != b.first() || a != b;
    match pairs {
        [] | [_] => return true,
        // The usual kwargs or attribute dict: no key table needed.
        [(Value::Str(a), _), (Value::Str(b), _)] => return differ(a.as_bytes(), b.as_bytes()),
        _ if pairs.len() > 8 => return false,
        _ => {}
    }
    let mut keys: [&[u8]; 8] = [&[]; 8];
    for (slot, (k, _)) in keys.iter_mut().zip(pairs) {
        match k {
            Value::Str(s) => *slot = s.as_bytes(),
            _ => return false,
        }
    }
    let keys = &keys[..pairs.len()];
    (1..keys.len()).all(|i| keys[..i].iter().all(|k| differ(k, keys[i])))
}

/// Python `dict` assignment semantics over a list of pairs read in order: a
/// repeated key keeps the first key and position and takes the last value.
/// Python's writers never repeat a key, so the usual few distinct str keys
/// are recognised first, without hashing.
#[inline]
pub(crate) fn dedup_dict(pairs: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    if distinct_strs(&pairs) {
        pairs
    } else {
        dedup_dict_hashed(pairs)
    }
}

fn dedup_dict_hashed(pairs: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    let Some(firsts) = duplicates(pairs.len(), |i| &pairs[i].0) else {
        return pairs;
    };
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(pairs.len());
    let mut pos: Vec<usize> = alloc::vec![0; pairs.len()];
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        match firsts[i] {
            Some(first) => out[pos[first]].1 = v,
            None => {
                pos[i] = out.len();
                out.push((k, v));
            }
        }
    }
    out
}

/// Python `set.add` semantics: the first of equal elements stays.
pub(crate) fn dedup_set(items: Vec<Value>) -> Vec<Value> {
    let Some(firsts) = duplicates(items.len(), |i| &items[i]) else {
        return items;
    };
    items
        .into_iter()
        .zip(firsts)
        .filter_map(|(v, f)| f.is_none().then_some(v))
        .collect()
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
        // Equal values hash equal (the large-container path relies on it).
        assert_eq!(py_hash(&Value::Int(1)), py_hash(&Value::Float(1.0)));
        assert_eq!(py_hash(&Value::Int(1)), py_hash(&Value::Bool(true)));
        assert_eq!(
            py_hash(&Value::BigInt(big)),
            py_hash(&Value::Float(1.8446744073709552e19))
        );
    }

    #[test]
    fn large_and_small_dedup_agree() {
        let mut entries = alloc::vec::Vec::new();
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
