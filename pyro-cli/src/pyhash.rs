//! The order in which CPython 3.11 prints a set.
//!
//! A Python proxy that receives a set builds it by adding the items in the
//! order they arrive (marshal, pickle's `ADDITEMS`, serpent's `set(...)` all
//! do), and `repr` then lists them in hash-table slot order. For items whose
//! hash is fixed across processes (ints, bools, floats other than NaN,
//! complex numbers, tuples of such, empty str/bytes) this module replays
//! CPython's `set_add_entry` and resize rules to get that order, so that
//! `pyro call` prints `{3, (1, 2)}` where Python does. Strings and bytes hash
//! differently in every Python process (hash randomisation), and `None`'s
//! hash is its address in 3.11: sets holding those keep the received order.

use num_bigint::{BigInt, Sign};
use pyro_proto::value::Value;

/// `sys.hash_info.modulus`: 2**61 - 1.
const MODULUS: u64 = (1 << 61) - 1;
const BITS: u32 = 61;
/// `sys.hash_info.inf`.
const HASH_INF: u64 = 314_159;
const XXPRIME_1: u64 = 11_400_714_785_074_694_791;
const XXPRIME_2: u64 = 14_029_467_366_897_019_727;
const XXPRIME_5: u64 = 2_870_177_450_012_600_261;
/// `set`'s smallest table.
const MIN_SIZE: usize = 8;
const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;

/// `-1` is reserved for errors in CPython: a hash of -1 becomes -2.
fn fix(h: u64) -> u64 {
    if h == u64::MAX {
        (-2i64) as u64
    } else {
        h
    }
}

fn hash_magnitude(negative: bool, magnitude_mod: u64) -> u64 {
    let h = if negative {
        magnitude_mod.wrapping_neg()
    } else {
        magnitude_mod
    };
    fix(h)
}

fn hash_bigint(b: &BigInt) -> u64 {
    let (sign, digits) = b.to_u64_digits();
    // sum d_i * 2**(64 i) mod M, with 2**64 = 8 (mod 2**61 - 1).
    let mut acc: u128 = 0;
    for d in digits.iter().rev() {
        acc = (acc * 8 + u128::from(*d)) % u128::from(MODULUS);
    }
    hash_magnitude(sign == Sign::Minus, acc as u64)
}

/// C's `frexp`: `v = m * 2**e` with `0.5 <= |m| < 1` (finite, non-zero `v`).
fn frexp(v: f64) -> (f64, i32) {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(v * f64::from_bits(0x4350_0000_0000_0000)); // 2**54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// `_Py_HashDouble` of CPython 3.11 (`None` for NaN: its hash is the
/// object's address).
fn hash_float(v: f64) -> Option<u64> {
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        return Some(if v > 0.0 {
            HASH_INF
        } else {
            HASH_INF.wrapping_neg()
        });
    }
    if v == 0.0 {
        return Some(0);
    }
    let (mut m, mut e) = frexp(v);
    let negative = m < 0.0;
    if negative {
        m = -m;
    }
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & MODULUS) | (x >> (BITS - 28));
        m *= 268_435_456.0; // 2**28
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= MODULUS {
            x -= MODULUS;
        }
    }
    let e = if e >= 0 {
        e as u32 % BITS
    } else {
        BITS - 1 - ((-1 - e) as u32 % BITS)
    };
    x = ((x << e) & MODULUS) | (x >> (BITS - e));
    Some(hash_magnitude(negative, x))
}

/// CPython 3.11's `hash(value)` where it is the same in every process.
pub fn py_hash(value: &Value) -> Option<u64> {
    match value {
        Value::Bool(b) => Some(u64::from(*b)),
        Value::Int(i) => Some(hash_magnitude(*i < 0, i.unsigned_abs() % MODULUS)),
        Value::BigInt(b) => Some(hash_bigint(b)),
        Value::Float(f) => hash_float(*f),
        Value::Complex { re, im } => {
            let (re, im) = (hash_float(*re)?, hash_float(*im)?);
            Some(fix(re.wrapping_add(im.wrapping_mul(1_000_003))))
        }
        Value::Str(s) if s.is_empty() => Some(0),
        Value::Bytes(b) if b.is_empty() => Some(0),
        Value::Tuple(items) => {
            let mut acc = XXPRIME_5;
            for item in items {
                let lane = py_hash(item)?;
                acc = acc.wrapping_add(lane.wrapping_mul(XXPRIME_2));
                acc = acc.rotate_left(31);
                acc = acc.wrapping_mul(XXPRIME_1);
            }
            acc = acc.wrapping_add(items.len() as u64 ^ (XXPRIME_5 ^ 3_527_539));
            Some(if acc == u64::MAX { 1_546_275_796 } else { acc })
        }
        _ => None,
    }
}

/// A CPython set table of item indices.
struct Table {
    slots: Vec<Option<(u64, usize)>>,
    fill: usize,
}

impl Table {
    fn new(size: usize) -> Table {
        Table {
            slots: vec![None; size],
            fill: 0,
        }
    }

    /// `set_insert_clean` (also `set_add_entry` for distinct items: the
    /// probe sequence is the same, a slot is taken at the first empty one).
    fn insert(&mut self, hash: u64, index: usize) {
        let mask = self.slots.len() - 1;
        let mut perturb = hash;
        let mut i = hash as usize & mask;
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            for j in i..=i + probes {
                if self.slots[j].is_none() {
                    self.slots[j] = Some((hash, index));
                    self.fill += 1;
                    return;
                }
            }
            perturb >>= PERTURB_SHIFT;
            i = (i
                .wrapping_mul(5)
                .wrapping_add(1)
                .wrapping_add(perturb as usize))
                & mask;
        }
    }

    /// `set_table_resize(so, minused)`.
    fn resize(&mut self, minused: usize) {
        let mut size = MIN_SIZE;
        while size <= minused {
            size <<= 1;
        }
        let old = std::mem::replace(self, Table::new(size));
        for (hash, index) in old.slots.into_iter().flatten() {
            self.insert(hash, index);
        }
    }
}

/// The order Python's `repr` lists a set built by adding `items` one by one
/// (as indices into `items`), or `None` when an item's hash differs between
/// Python processes.
pub fn set_order(items: &[Value]) -> Option<Vec<usize>> {
    let hashes = items.iter().map(py_hash).collect::<Option<Vec<u64>>>()?;
    let mut table = Table::new(MIN_SIZE);
    for (index, hash) in hashes.into_iter().enumerate() {
        table.insert(hash, index);
        let mask = table.slots.len() - 1;
        if table.fill * 5 >= mask * 3 {
            let used = table.fill;
            table.resize(if used > 50_000 { used * 2 } else { used * 4 });
        }
    }
    Some(table.slots.into_iter().flatten().map(|(_, i)| i).collect())
}

/// `value` with every set and frozenset in the order Python gives a set
/// built from its items in the current order (what `ast.literal_eval`
/// makes of a set display): so `pyro call` sends a set literal in the order
/// a Python client would send it.
pub fn as_python_builds_it(value: Value) -> Value {
    let rebuild = |items: Vec<Value>| -> Vec<Value> {
        let items: Vec<Value> = items.into_iter().map(as_python_builds_it).collect();
        match set_order(&items) {
            Some(order) => {
                let mut slots: Vec<Option<Value>> = items.into_iter().map(Some).collect();
                order.into_iter().filter_map(|i| slots[i].take()).collect()
            }
            None => items,
        }
    };
    match value {
        Value::Set(items) => Value::Set(rebuild(items)),
        Value::FrozenSet(items) => Value::FrozenSet(rebuild(items)),
        Value::List(items) => Value::List(items.into_iter().map(as_python_builds_it).collect()),
        Value::Tuple(items) => Value::Tuple(items.into_iter().map(as_python_builds_it).collect()),
        Value::Dict(mut d) => {
            for (_, v) in d.0.iter_mut() {
                *v = as_python_builds_it(std::mem::replace(v, Value::None));
            }
            Value::Dict(d)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: Value) -> i64 {
        py_hash(&v).unwrap() as i64
    }

    #[test]
    fn hashes_match_cpython() {
        // Values printed by CPython 3.11's hash().
        assert_eq!(h(Value::Int(-1)), -2);
        assert_eq!(h(Value::Int(i64::MAX)), 3);
        assert_eq!(h(Value::Float(1.5)), 1_152_921_504_606_846_977);
        assert_eq!(h(Value::Float(-0.5)), -1_152_921_504_606_846_976);
        assert_eq!(h(Value::Float(f64::INFINITY)), 314_159);
        assert_eq!(h(Value::Float(2.0)), 2);
        assert_eq!(h(Value::tuple([1, 2])), -3_550_055_125_485_641_917);
        assert_eq!(h(Value::Tuple(vec![])), 5_740_354_900_026_072_187);
        assert_eq!(h(Value::Complex { re: 1.0, im: 2.0 }), 2_000_007);
        let big: BigInt = -(BigInt::from(1u128 << 70));
        assert_eq!(h(Value::BigInt(big)), -512);
        assert_eq!(h(Value::Float(1e300)), 1_224_995_262_755_759_164);
        assert_eq!(h(Value::Float(5e-324)), 16_777_216);
        assert_eq!(h(Value::Float(0.1)), 230_584_300_921_369_408);
        assert_eq!(
            h(Value::Complex { re: 0.5, im: -1.0 }),
            1_152_921_504_604_846_970
        );
        let nested = Value::tuple([Value::Float(1.5), Value::tuple([2])]);
        assert_eq!(h(nested), -8_923_588_197_413_097_357);
        assert!(py_hash(&Value::from("a")).is_none());
        assert!(py_hash(&Value::Float(f64::NAN)).is_none());
    }

    #[test]
    fn set_orders_match_cpython() {
        // {(1, 2), 3} built in this order prints as {3, (1, 2)}.
        let items = [Value::tuple([1, 2]), Value::Int(3)];
        assert_eq!(set_order(&items), Some(vec![1, 0]));
        // Small ints land in their own slots: sorted.
        let items: Vec<Value> = [5, 1, 3].into_iter().map(Value::Int).collect();
        assert_eq!(set_order(&items), Some(vec![1, 2, 0]));
        // 8 and 0 collide in the first table: set([8, 0, 1, 2]) is {8, 0, 2, 1};
        // the resize at 5 items re-sorts: set([8, 0, 1, 2, 3]) is {0, 1, 2, 3, 8}.
        let items: Vec<Value> = [8, 0, 1, 2].into_iter().map(Value::Int).collect();
        assert_eq!(set_order(&items), Some(vec![0, 1, 3, 2]));
        let items: Vec<Value> = [8, 0, 1, 2, 3].into_iter().map(Value::Int).collect();
        assert_eq!(set_order(&items), Some(vec![1, 2, 3, 4, 0]));
    }
}
