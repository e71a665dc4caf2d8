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
//!
//! Nesting depth: without a memo fetch every container is built once and
//! sits in at most one place, so a value can nest no deeper than the number
//! of containers made so far. The first pass only counts them; an input that
//! makes more than [`MAX_DEPTH`] containers is decoded again by a second pass
//! that tracks the depth of every stack entry (as the general machine does),
//! so large inputs of many small containers stay on the fast path.

use alloc::vec::Vec;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::read::hashable;
use crate::serialize::keys::{dedup_dict, dedup_set};
use crate::serialize::MAX_DEPTH;
use crate::value::{Dict, Value};

/// What the fast path read.
pub(crate) enum Top {
    /// The value at STOP.
    Value(Value),
    /// The four items of a top-level `MARK ... TUPLE` right before STOP, as
    /// Pyro's call tuple is written, handed out without building the tuple.
    Call([Value; 4]),
}

/// The read position in the input, kept apart from [`Fast`] so that the
/// opcode loop holds it in a local (a register) rather than behind `&mut self`.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        if n > data.len() - self.pos {
            return None;
        }
        let s = data.get(self.pos..self.pos + n)?;
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
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.take(N)?;
        <[u8; N]>::try_from(b).ok()
    }

    #[inline]
    fn u64(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.array::<8>()?)).ok()
    }

    /// Skips a MEMOIZE right after an opcode that pushed a value above the
    /// innermost MARK (what Python's pickler writes after every string and
    /// container): it has an object to memoize, and without fetches the
    /// memo is irrelevant, so there is nothing else to check.
    #[inline]
    fn skip_memoize(&mut self) {
        if self.data.get(self.pos) == Some(&0x94) {
            self.pos += 1;
        }
    }

    /// Whether STOP comes next (after any MEMOIZE, which changes nothing
    /// for the value on top); consumes them if so.
    fn stop_follows(&mut self) -> bool {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b != 0x94) {
            Some(i) if rest[i] == b'.' => {
                self.pos += i + 1;
                true
            }
            _ => false,
        }
    }
}

/// The decoder state; `TRACK` selects exact depth tracking (second pass).
struct Fast<const TRACK: bool> {
    stack: Vec<Value>,
    /// `TRACK` only: how deep each stack entry nests (containers: 1 + items),
    /// parallel to `stack`.
    depths: Vec<u16>,
    /// Containers made so far (bounds every depth when not tracking).
    made: usize,
    /// Set when the counting pass gave up because of `made` (then the
    /// tracking pass may still succeed).
    too_many: bool,
    /// Open MARKs (stack heights); more than this many nested ones make us
    /// give up, which keeps the common case free of another allocation.
    marks: [usize; MAX_MARKS],
    nmarks: usize,
    /// The innermost open MARK's stack height (0 without one): the stack
    /// entries an opcode may consume start here.
    fence: usize,
    /// Hand out a top-level 4-tuple as [`Top::Call`].
    call: bool,
    /// Items were added to a dict or set that already had some (Python's
    /// pickler splits large ones into batches of 1,000): repeated keys are
    /// then collapsed once, in the finished value, not again per batch.
    collapse_later: bool,
}

const MAX_MARKS: usize = 16;

impl<const TRACK: bool> Fast<TRACK> {
    fn new(len: usize, call: bool) -> Self {
        // Every stack entry took at least one input byte: sized by what was
        // received, enough for a typical call without regrowing.
        let cap = len.min(16);
        Fast {
            stack: Vec::with_capacity(cap),
            depths: if TRACK {
                Vec::with_capacity(cap)
            } else {
                Vec::new()
            },
            made: 0,
            too_many: false,
            marks: [0; MAX_MARKS],
            nmarks: 0,
            fence: 0,
            call,
            collapse_later: false,
        }
    }

    #[inline]
    fn push(&mut self, v: Value) {
        self.stack.push(v);
        if TRACK {
            self.depths.push(0);
        }
    }

    #[inline]
    fn pop_mark(&mut self) -> Option<usize> {
        if self.nmarks == 0 {
            return None;
        }
        let m = self.fence;
        self.nmarks -= 1;
        self.fence = match self.nmarks {
            0 => 0,
            n => self.marks[n - 1],
        };
        Some(m)
    }

    #[inline]
    fn mark(&mut self) -> Option<()> {
        if self.nmarks == MAX_MARKS {
            return None;
        }
        self.fence = self.stack.len();
        self.marks[self.nmarks] = self.fence;
        self.nmarks += 1;
        Some(())
    }

    /// Account for one more container; `None` when the count may exceed
    /// the depth limit (not tracking).
    #[inline]
    fn made(&mut self) -> Option<()> {
        if !TRACK {
            self.made += 1;
            if self.made > MAX_DEPTH {
                self.too_many = true;
                return None;
            }
        }
        Some(())
    }

    /// An empty container.
    #[inline]
    fn empty(&mut self, v: Value) -> Option<()> {
        self.made()?;
        self.push(v);
        Some(())
    }

    #[inline(always)]
    fn str(&mut self, b: &[u8]) -> Option<()> {
        let s = core::str::from_utf8(b).ok()?;
        self.push(Value::Str(s.into()));
        Some(())
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.push(Value::Bytes(b.to_vec()));
        Some(())
    }

    #[cold]
    fn int(&mut self, b: &[u8]) {
        let v = BigInt::from_signed_bytes_le(b);
        self.push(match v.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(v),
        });
    }

    /// Checks that the stack items from `start` on may become one new
    /// container (depth, count); `TRACK`: drops their depths and returns
    /// the container's.
    #[inline]
    fn gather(&mut self, start: usize) -> Option<u16> {
        self.made()?;
        if !TRACK {
            return Some(0);
        }
        let depth = self.depths[start..].iter().fold(1, |d, &x| d.max(x + 1));
        if usize::from(depth) > MAX_DEPTH {
            return None;
        }
        self.depths.truncate(start);
        Some(depth)
    }

    /// A container of the stack items from `start` on.
    #[inline(always)]
    fn container(&mut self, start: usize, make: impl FnOnce(Vec<Value>) -> Value) -> Option<()> {
        let depth = self.gather(start)?;
        // One allocation of the exact size and one block copy.
        let values = self.stack.split_off(start);
        self.stack.push(make(values));
        if TRACK {
            self.depths.push(depth);
        }
        Some(())
    }

    /// The stack items from `start` on, appended to the container below them.
    fn extend(&mut self, start: usize, kind: Kind) -> Option<()> {
        if start == 0 || start <= self.fence || start > self.stack.len() {
            return None;
        }
        if TRACK {
            let (head, tail) = self.depths.split_at_mut(start);
            let depth = head.last_mut()?;
            for d in tail.iter() {
                *depth = (*depth).max(d + 1);
            }
            if usize::from(*depth) > MAX_DEPTH {
                return None;
            }
            self.depths.truncate(start);
        }
        let n = self.stack.len() - start;
        let tail = &self.stack[start..];
        match (&self.stack[start - 1], kind) {
            (Value::List(_), Kind::List) => {}
            (Value::Set(_), Kind::Set) if tail.iter().all(hashable) => {}
            (Value::Dict(_), Kind::Dict)
                if n % 2 == 0 && tail.chunks_exact(2).all(|kv| hashable(&kv[0])) => {}
            _ => return None,
        }
        if kind != Kind::Dict {
            // One exact allocation and one block copy.
            let items = self.stack.split_off(start);
            match self.stack.last_mut() {
                Some(Value::List(l)) => put(l, items),
                Some(Value::Set(l)) if l.is_empty() => *l = dedup_set(items),
                Some(Value::Set(l)) => {
                    l.extend(items);
                    self.collapse_later = true;
                }
                _ => {}
            }
        } else {
            // `n` is even (checked above): the items pair up exactly.
            let mut pairs = Vec::with_capacity(n / 2);
            let mut items = self.stack.drain(start..);
            while let Some(k) = items.next() {
                let Some(v) = items.next() else { break };
                pairs.push((k, v));
            }
            drop(items);
            match self.stack.last_mut() {
                Some(Value::Dict(d)) if d.0.is_empty() => d.0 = dedup_dict(pairs),
                Some(Value::Dict(d)) => {
                    d.0.extend(pairs);
                    self.collapse_later = true;
                }
                _ => {}
            }
        }
        Some(())
    }

    /// The MEMOIZE family: irrelevant without fetches (checked: no GET
    /// reaches this point, since GET makes us give up), but it needs an
    /// object to memoize.
    #[inline]
    fn memoize(&self) -> Option<()> {
        if self.stack.len() <= self.fence {
            return None;
        }
        Some(())
    }

    fn run(&mut self, data: &[u8]) -> Option<Top> {
        let mut c = Cursor { data, pos: 0 };
        loop {
            let op = c.u8()?;
            match op {
                0x80 => {
                    if c.u8()? > 5 {
                        return None;
                    }
                }
                0x95 => {
                    let n = c.u64()?;
                    if n > c.data.len() - c.pos {
                        return None;
                    }
                }
                b'.' => {
                    if self.stack.len() <= self.fence {
                        return None;
                    }
                    let mut top = self.stack.pop()?;
                    if self.collapse_later {
                        collapse_keys(&mut top);
                    }
                    return Some(Top::Value(top));
                }
                b'(' => self.mark()?,
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'K' => {
                    let v = c.u8()?;
                    self.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(c.array()?);
                    self.push(Value::Int(v.into()));
                }
                b'J' => {
                    let v = i32::from_le_bytes(c.array()?);
                    self.push(Value::Int(v.into()));
                }
                0x8a => {
                    let n = c.u8()? as usize;
                    let b = c.take(n)?;
                    self.int(b);
                }
                0x8b => {
                    let n = u32::from_le_bytes(c.array()?);
                    if n > i32::MAX as u32 {
                        return None;
                    }
                    let b = c.take(n as usize)?;
                    self.int(b);
                }
                b'G' => {
                    let v = f64::from_be_bytes(c.array()?);
                    self.push(Value::Float(v));
                }
                0x8c => {
                    let n = c.u8()? as usize;
                    self.str(c.take(n)?)?;
                    c.skip_memoize();
                }
                b'X' => {
                    let n = u32::from_le_bytes(c.array()?) as usize;
                    self.str(c.take(n)?)?;
                }
                0x8d => {
                    let n = c.u64()?;
                    self.str(c.take(n)?)?;
                }
                b'C' => {
                    let n = c.u8()? as usize;
                    self.bytes(c.take(n)?)?;
                }
                b'B' => {
                    let n = u32::from_le_bytes(c.array()?) as usize;
                    self.bytes(c.take(n)?)?;
                }
                0x8e | 0x96 => {
                    let n = c.u64()?;
                    self.bytes(c.take(n)?)?;
                }
                b')' => self.empty(Value::Tuple(Vec::new()))?,
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let start = self.stack.len().checked_sub(n)?;
                    if start < self.fence {
                        return None;
                    }
                    self.container(start, Value::Tuple)?;
                }
                b't' => {
                    let m = self.pop_mark()?;
                    // Pyro's call tuple: handed out as its items.
                    if self.call && m == 0 && self.stack.len() == 4 && c.stop_follows() {
                        self.gather(0)?;
                        let mut items = core::mem::take(&mut self.stack);
                        if self.collapse_later {
                            items.iter_mut().for_each(collapse_keys);
                        }
                        return <[Value; 4]>::try_from(items).ok().map(Top::Call);
                    }
                    self.container(m, Value::Tuple)?;
                }
                b']' => self.empty(Value::List(Vec::new()))?,
                b'l' => {
                    let m = self.pop_mark()?;
                    self.container(m, Value::List)?;
                }
                b'}' => self.empty(Value::Dict(Dict(Vec::new())))?,
                0x8f => self.empty(Value::Set(Vec::new()))?,
                0x91 => {
                    let m = self.pop_mark()?;
                    if !self.stack[m..].iter().all(hashable) {
                        return None;
                    }
                    self.container(m, |items| Value::FrozenSet(dedup_set(items)))?;
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
                0x94 => self.memoize()?,
                b'q' => {
                    c.u8()?;
                    self.memoize()?;
                }
                b'r' => {
                    c.array::<4>()?;
                    self.memoize()?;
                }
                _ => return None,
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    Dict,
}

/// Collapse repeated dict keys and set elements everywhere in `v`, as
/// Python's dict and set would hold them (depth already checked).
fn collapse_keys(v: &mut Value) {
    match v {
        Value::List(items) | Value::Tuple(items) => items.iter_mut().for_each(collapse_keys),
        Value::Set(items) | Value::FrozenSet(items) => {
            *items = dedup_set(core::mem::take(items));
        }
        Value::Dict(d) => {
            d.0 = dedup_dict(core::mem::take(&mut d.0));
            d.0.iter_mut().for_each(|(_, v)| collapse_keys(v));
        }
        _ => {}
    }
}

/// Appends `items` to a container's `into`: the usual target was just made
/// empty (no allocation yet) and simply takes `items` over.
#[inline]
fn put<T>(into: &mut Vec<T>, items: Vec<T>) {
    if into.capacity() == 0 {
        // Nothing to drop in a Vec without an allocation: skip the drop call.
        core::mem::forget(core::mem::replace(into, items));
    } else {
        into.extend(items);
    }
}

/// Decode plain data directly, or `None` to leave the input to the general
/// machine (which then reports any error). With `call`, a top-level 4-tuple
/// comes out as its items.
pub(crate) fn read(data: &[u8], call: bool) -> Option<Top> {
    let mut f = Fast::<false>::new(data.len(), call);
    match f.run(data) {
        Some(top) => Some(top),
        None if f.too_many => Fast::<true>::new(data.len(), call).run(data),
        None => None,
    }
}

/// Decode plain data directly, or `None` to leave the input to the general
/// machine (which then reports any error).
pub(crate) fn loads(data: &[u8]) -> Option<Value> {
    match read(data, false)? {
        Top::Value(v) => Some(v),
        Top::Call(items) => Some(Value::Tuple(items.into())),
    }
}
