//! Fast path for the common case: plain data and no memo lookups.
//!
//! Pyro's call tuples and most results are plain data (strings, numbers,
//! tuples, dicts). Python's pickler memoizes them but only fetches memo
//! entries again for objects that occur more than once. Without a GET, the
//! memo is irrelevant, and the value can be built directly, without the
//! general machine's memo slots and final resolution pass.
//!
//! This decoder gives up (returns `None`) on anything else: a memo fetch, a
//! class reference, malformed or unusual input. The caller then runs the
//! general machine from the start, which produces the value or the precise
//! error, so the fast path never decides an error on its own.

use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::read::hashable;
use crate::serialize::MAX_DEPTH;
use crate::value::{Dict, Value};

/// A stack entry: the value and how deep it nests (containers: 1 + items).
type Entry = (Value, usize);

struct Fast<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Entry>,
    /// Open MARKs (stack heights); more than this many nested ones make us
    /// give up, which keeps the common case free of another allocation.
    marks: [usize; MAX_MARKS],
    nmarks: usize,
}

const MAX_MARKS: usize = 16;

impl<'a> Fast<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        if n > data.len() - self.pos {
            return None;
        }
        let s = &data[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }

    #[inline]
    fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    fn u64(&mut self) -> Option<usize> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        usize::try_from(u64::from_le_bytes(a)).ok()
    }

    #[inline]
    fn fence(&self) -> usize {
        if self.nmarks == 0 {
            0
        } else {
            self.marks[self.nmarks - 1]
        }
    }

    #[inline]
    fn push(&mut self, v: Value) {
        self.stack.push((v, 0));
    }

    #[inline]
    fn pop(&mut self) -> Option<Entry> {
        if self.stack.len() <= self.fence() {
            return None;
        }
        self.stack.pop()
    }

    #[inline]
    fn pop_mark(&mut self) -> Option<usize> {
        if self.nmarks == 0 {
            return None;
        }
        self.nmarks -= 1;
        Some(self.marks[self.nmarks])
    }

    fn mark(&mut self) -> Option<()> {
        if self.nmarks == MAX_MARKS {
            return None;
        }
        self.marks[self.nmarks] = self.stack.len();
        self.nmarks += 1;
        Some(())
    }

    fn str(&mut self, n: usize) -> Option<()> {
        let b = self.take(n)?;
        let s = core::str::from_utf8(b).ok()?;
        self.push(Value::Str(s.into()));
        Some(())
    }

    fn bytes(&mut self, n: usize) -> Option<()> {
        let b = self.take(n)?;
        self.push(Value::Bytes(b.to_vec()));
        Some(())
    }

    fn int(&mut self, b: &[u8]) {
        let v = BigInt::from_signed_bytes_le(b);
        self.push(match v.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(v),
        });
    }

    /// A container of the stack items from `start` on, or `None` when it
    /// would nest too deep.
    fn container(&mut self, start: usize, make: impl FnOnce(Vec<Value>) -> Value) -> Option<()> {
        let mut depth = 1;
        let mut values = Vec::with_capacity(self.stack.len() - start);
        for (v, d) in self.stack.drain(start..) {
            depth = depth.max(d + 1);
            values.push(v);
        }
        if depth > MAX_DEPTH {
            return None;
        }
        self.stack.push((make(values), depth));
        Some(())
    }

    /// The stack items from `start` on, appended to the container below them.
    fn extend(&mut self, start: usize, kind: Kind) -> Option<()> {
        if start == 0 || start <= self.fence() || start > self.stack.len() {
            return None;
        }
        let (head, tail) = self.stack.split_at_mut(start);
        let (_, depth) = head.last_mut()?;
        for (_, d) in tail.iter() {
            *depth = (*depth).max(d + 1);
        }
        if *depth > MAX_DEPTH {
            return None;
        }
        let ok = match (&head[start - 1].0, kind) {
            (Value::List(_), Kind::List) => true,
            (Value::Set(_), Kind::Set) => tail.iter().all(|(v, _)| hashable(v)),
            (Value::Dict(_), Kind::Dict) => {
                tail.len() % 2 == 0 && tail.iter().step_by(2).all(|(k, _)| hashable(k))
            }
            _ => false,
        };
        if !ok {
            return None;
        }
        // Move the target out so that the items can be drained into it (one
        // move each, nothing left behind to drop).
        let mut target = core::mem::replace(&mut self.stack[start - 1].0, Value::None);
        let items = self.stack.drain(start..).map(|(v, _)| v);
        match &mut target {
            Value::List(l) | Value::Set(l) => l.extend(items),
            Value::Dict(d) => {
                d.0.reserve(items.len() / 2);
                let mut items = items;
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    d.0.push((k, v));
                }
            }
            _ => return None,
        }
        self.stack[start - 1].0 = target;
        Some(())
    }

    fn run(&mut self) -> Option<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    if self.u8()? > 5 {
                        return None;
                    }
                }
                0x95 => {
                    let n = self.u64()?;
                    if n > self.data.len() - self.pos {
                        return None;
                    }
                }
                b'.' => return self.pop().map(|(v, _)| v),
                b'(' => self.mark()?,
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v as i64));
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    self.int(b);
                }
                0x8b => {
                    let n = self.u32()?;
                    if n > i32::MAX as u32 {
                        return None;
                    }
                    let b = self.take(n as usize)?;
                    self.int(b);
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    self.str(n)?;
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    self.str(n)?;
                }
                0x8d => {
                    let n = self.u64()?;
                    self.str(n)?;
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.bytes(n)?;
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.bytes(n)?;
                }
                0x8e | 0x96 => {
                    let n = self.u64()?;
                    self.bytes(n)?;
                }
                b')' => self.push(Value::Tuple(Vec::new())),
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < self.fence() + n {
                        return None;
                    }
                    self.container(self.stack.len() - n, Value::Tuple)?;
                }
                b't' => {
                    let m = self.pop_mark()?;
                    self.container(m, Value::Tuple)?;
                }
                b']' => self.push(Value::List(Vec::new())),
                b'l' => {
                    let m = self.pop_mark()?;
                    self.container(m, Value::List)?;
                }
                b'}' => self.push(Value::Dict(Dict(Vec::new()))),
                0x8f => self.push(Value::Set(Vec::new())),
                0x91 => {
                    let m = self.pop_mark()?;
                    if !self.stack[m..].iter().all(|(v, _)| hashable(v)) {
                        return None;
                    }
                    self.container(m, Value::FrozenSet)?;
                }
                b'a' => self.extend(self.stack.len().checked_sub(1)?, Kind::List)?,
                b'e' => {
                    let m = self.pop_mark()?;
                    self.extend(m, Kind::List)?;
                }
                b's' => self.extend(self.stack.len().checked_sub(2)?, Kind::Dict)?,
                b'u' => {
                    let m = self.pop_mark()?;
                    self.extend(m, Kind::Dict)?;
                }
                0x90 => {
                    let m = self.pop_mark()?;
                    self.extend(m, Kind::Set)?;
                }
                // Memoizing is irrelevant without fetches (checked: no GET
                // reaches this point, since GET makes us give up).
                0x94 => {
                    if self.stack.len() <= self.fence() {
                        return None;
                    }
                }
                b'q' => {
                    self.u8()?;
                    if self.stack.len() <= self.fence() {
                        return None;
                    }
                }
                b'r' => {
                    self.u32()?;
                    if self.stack.len() <= self.fence() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    List,
    Set,
    Dict,
}

/// Decode plain data directly, or `None` to leave the input to the general
/// machine (which then reports any error).
pub(crate) fn loads(data: &[u8]) -> Option<Value> {
    let mut f = Fast {
        data,
        pos: 0,
        // Every stack entry took at least one input byte: sized by what was
        // received, enough for a typical call without regrowing, and small
        // enough (1 KiB) for the allocator's fast per-thread cache.
        stack: Vec::with_capacity(data.len().min(16)),
        marks: [0; MAX_MARKS],
        nmarks: 0,
    };
    f.run()
}
