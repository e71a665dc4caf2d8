//! The marshal writer: `w_object` of CPython 3.11 at version 4, without
//! `FLAG_REF`/`r` sharing and without the interned-string codes.

use alloc::string::ToString;
use alloc::vec::Vec;

use num_bigint::{BigInt, Sign};

use super::CODEC;
use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{Dict, Value};

/// A str or bytes this long gets room reserved for itself (see
/// [`Writer::room_for_leaf`]); shorter ones are written as they come.
const LARGE_LEAF: usize = 256;

/// Room reserved beyond a large leaf, for the records after it.
pub(super) const HEADROOM: usize = 256;

/// Appends marshal records to a byte vector.
pub(super) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn code_len(&mut self, code: u8, len: usize) -> Result<(), SerializeError> {
        // marshal sizes are signed 32-bit; Python refuses longer objects.
        let n = i32::try_from(len).map_err(|_| SerializeError::Unsupported {
            codec: CODEC,
            what: "an object with more than 2**31-1 items or bytes".to_string(),
        })?;
        let [a, b, c, d] = n.to_le_bytes();
        self.out.extend_from_slice(&[code, a, b, c, d]);
        Ok(())
    }

    /// Before a str or bytes of `n` bytes: when it is large, make room for
    /// all of it and some records after it, so that it is copied once into
    /// an output that need not grow again for the rest (growing by doubling
    /// past a large leaf would copy it again), without sizing the output by
    /// a walk over the value beforehand.
    #[inline(always)]
    fn room_for_leaf(&mut self, n: usize) {
        if n >= LARGE_LEAF {
            self.reserve_large(n);
        }
    }

    #[cold]
    fn reserve_large(&mut self, n: usize) {
        self.out.reserve(n.saturating_add(HEADROOM));
    }

    /// A `str`: `z`/`a` when ASCII (Latin-1 one byte per char), else `u`.
    pub(super) fn str(&mut self, s: &str) {
        let len = s.len();
        if s.is_ascii() && len < 256 {
            self.out.extend_from_slice(&[b'z', len as u8]);
        } else {
            let code = if s.is_ascii() { b'a' } else { b'u' };
            // A Rust str longer than i32::MAX cannot occur in a Pyro payload;
            // saturate rather than fail so this stays infallible for the call
            // header strings (Python would refuse the same input).
            let n = i32::try_from(len).unwrap_or(i32::MAX);
            self.room_for_leaf(len);
            self.out.push(code);
            self.out.extend_from_slice(&n.to_le_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, i: i64) {
        match i32::try_from(i) {
            Ok(small) => {
                let [a, b, c, d] = small.to_le_bytes();
                self.out.extend_from_slice(&[b'i', a, b, c, d]);
            }
            Err(_) => {
                let neg = i < 0;
                self.long_digits(neg, i.unsigned_abs());
            }
        }
    }

    /// `l` for an `i64` outside the `i32` range (3 to 5 digits).
    fn long_digits(&mut self, neg: bool, mut mag: u64) {
        let start = self.out.len();
        self.out.push(b'l');
        self.out.extend_from_slice(&[0; 4]);
        let mut n: i32 = 0;
        while mag != 0 {
            self.out
                .extend_from_slice(&((mag & 0x7fff) as u16).to_le_bytes());
            mag >>= 15;
            n += 1;
        }
        let n = if neg { -n } else { n };
        self.out[start + 1..start + 5].copy_from_slice(&n.to_le_bytes());
    }

    fn bigint(&mut self, b: &BigInt) -> Result<(), SerializeError> {
        let (sign, bytes) = b.to_bytes_le();
        let start = self.out.len();
        self.out.push(b'l');
        self.out.extend_from_slice(&[0; 4]);
        // Repack little-endian bytes into 15-bit digits.
        let mut acc: u32 = 0;
        let mut acc_bits = 0u32;
        let mut n: usize = 0;
        for &byte in &bytes {
            acc |= (byte as u32) << acc_bits;
            acc_bits += 8;
            while acc_bits >= 15 {
                self.out
                    .extend_from_slice(&((acc & 0x7fff) as u16).to_le_bytes());
                acc >>= 15;
                acc_bits -= 15;
                n += 1;
            }
        }
        if acc != 0 {
            self.out.extend_from_slice(&(acc as u16).to_le_bytes());
            n += 1;
        }
        // Drop high zero digits (to_bytes_le has no high zero bytes, but the
        // last full 15-bit group can still be zero).
        while n > 0 {
            let end = self.out.len();
            if self.out[end - 2..] == [0, 0] {
                self.out.truncate(end - 2);
                n -= 1;
            } else {
                break;
            }
        }
        let n = i32::try_from(n).map_err(|_| SerializeError::Unsupported {
            codec: CODEC,
            what: "an int with more than 2**31-1 marshal digits".to_string(),
        })?;
        let n = if sign == Sign::Minus { -n } else { n };
        self.out[start + 1..start + 5].copy_from_slice(&n.to_le_bytes());
        Ok(())
    }

    /// Any value; `depth` is the container nesting level of `v`.
    pub(super) fn value(&mut self, v: &Value, depth: usize) -> Result<(), SerializeError> {
        match v {
            Value::None => self.out.push(b'N'),
            Value::Bool(false) => self.out.push(b'F'),
            Value::Bool(true) => self.out.push(b'T'),
            Value::Int(i) => self.int(*i),
            Value::BigInt(b) => self.bigint(b)?,
            Value::Float(f) => {
                let [a, b, c, d, e, f, g, h] = f.to_bits().to_le_bytes();
                self.out.extend_from_slice(&[b'g', a, b, c, d, e, f, g, h]);
            }
            Value::Complex { re, im } => {
                self.out.push(b'y');
                self.out.extend_from_slice(&re.to_bits().to_le_bytes());
                self.out.extend_from_slice(&im.to_bits().to_le_bytes());
            }
            Value::Str(s) => {
                if s.len() > i32::MAX as usize {
                    return Err(SerializeError::Unsupported {
                        codec: CODEC,
                        what: "a str longer than 2**31-1 bytes".to_string(),
                    });
                }
                self.str(s)
            }
            Value::Bytes(b) => {
                self.room_for_leaf(b.len());
                self.code_len(b's', b.len())?;
                self.out.extend_from_slice(b);
            }
            Value::Tuple(items) => {
                if items.len() < 256 {
                    self.enter(depth)?;
                    self.out.extend_from_slice(&[b')', items.len() as u8]);
                    for item in items {
                        self.value(item, depth + 1)?;
                    }
                } else {
                    self.seq(b'(', items, depth)?;
                }
            }
            Value::List(items) => self.seq(b'[', items, depth)?,
            Value::Set(items) => self.seq(b'<', items, depth)?,
            Value::FrozenSet(items) => self.seq(b'>', items, depth)?,
            Value::Dict(d) => self.dict(None, d, depth)?,
            Value::Class(c) => self.dict(Some(&c.class_name), &c.fields, depth)?,
        }
        Ok(())
    }

    fn enter(&mut self, depth: usize) -> Result<(), SerializeError> {
        if depth >= MAX_DEPTH {
            Err(SerializeError::TooDeep { limit: MAX_DEPTH })
        } else {
            Ok(())
        }
    }

    /// A counted container: `code`, int32 count, items.
    pub(super) fn seq(
        &mut self,
        code: u8,
        items: &[Value],
        depth: usize,
    ) -> Result<(), SerializeError> {
        self.enter(depth)?;
        self.code_len(code, items.len())?;
        for item in items {
            self.value(item, depth + 1)?;
        }
        Ok(())
    }

    /// A dict, optionally with a leading `'__class__': class_name` entry.
    pub(super) fn dict(
        &mut self,
        class_name: Option<&str>,
        d: &Dict,
        depth: usize,
    ) -> Result<(), SerializeError> {
        self.enter(depth)?;
        self.out.push(b'{');
        if let Some(name) = class_name {
            self.str("__class__");
            self.str(name);
        }
        for (k, v) in &d.0 {
            self.value(k, depth + 1)?;
            self.value(v, depth + 1)?;
        }
        self.out.push(b'0');
        Ok(())
    }
}
