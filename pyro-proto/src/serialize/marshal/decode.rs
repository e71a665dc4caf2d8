//! The marshal reader: `r_object` of CPython 3.11 for the types a Pyro peer
//! can send, into [`Value`].
//!
//! | code | read as |
//! |---|---|
//! | `N` `F` `T` | `None`, `Bool` |
//! | `i` (int32), `I` (int64, old writers), `l` (base 2^15 digits) | `Int`, or `BigInt` outside `i64` |
//! | `g` / `f` (binary / text float), `y` / `x` (complex) | `Float`, `Complex`, bit-exact |
//! | `s` | `Bytes` (also what a `bytearray` was) |
//! | `u` `t` (UTF-8, surrogatepass), `a` `A` `z` `Z` (one byte per char) | `Str` |
//! | `)` `(` / `[` / `{`..`0` / `<` / `>` | `Tuple` / `List` / `Dict` / `Set` / `FrozenSet` |
//! | `r` | a copy of the referenced earlier object |
//!
//! `FLAG_REF` (bit `0x80`) on any code registers the object in the reference
//! table exactly when CPython does (containers before their items, frozensets
//! reserved before their items, singletons never). A back-reference is
//! resolved by reading the referenced object's bytes again, so nothing is
//! cloned or stored per reference; the amount of values the copies build is
//! limited to a budget proportional to the input size (a first read builds at
//! most one per input byte anyway), which stops reference bombs (a DAG whose
//! expansion is exponential).
//!
//! Refused, with a `Malformed` error naming the reason:
//! * a back-reference to a container that is still being read (a recursive
//!   structure: CPython builds a cycle, a [`Value`] tree cannot hold one);
//! * `S` (StopIteration), `.` (Ellipsis), `c` (code objects), `:` (slices,
//!   version 5), which have no [`Value`] form (and code must never be loaded
//!   from the network);
//! * strings with lone surrogates (valid with CPython's `surrogatepass`, but a
//!   Rust `String` cannot hold one);
//! * unhashable dict keys or set elements (CPython raises `TypeError`).
//!
//! Duplicate dict keys and set elements collapse with Python's equality
//! (`1 == 1.0 == True`), as CPython's dict/set insertion does. Nesting deeper
//! than [`MAX_DEPTH`] containers is [`SerializeError::TooDeep`]. Bytes after
//! the first object are ignored, like `marshal.loads` does.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use num_bigint::{BigInt, BigUint, Sign};

use super::CODEC;
use crate::serialize::keys;
use crate::serialize::{Call, SerializeError, MAX_DEPTH};
use crate::value::{Dict, PyStr, Value};

const FLAG_REF: u8 = 0x80;

/// Errors travel boxed inside the reader so that the recursive path moves
/// small results; `read` unboxes at the end.
type R<T> = Result<T, Box<SerializeError>>;
/// Reference slot of a container that is still being read.
const PENDING: usize = usize::MAX;
/// Reference offsets the reader holds inline, without an allocation: CPython
/// flags nearly every object, and a typical call registers about 20. 24
/// offsets (192 bytes) are cleared with a few inline stores per decode; 32
/// took a call to memset.
const HEAD_REFS: usize = 24;
/// Values (counting one per object, plus one per 16 string/bytes bytes) that
/// back-reference copies may produce per input byte...
const BUDGET_PER_BYTE: usize = 16;
/// ...plus this much for any payload, so small inputs with many references
/// to a moderately large object still load.
const BUDGET_BASE: usize = 1 << 16;

/// Read one marshal object from the start of `data`.
pub(super) fn read(data: &[u8]) -> Result<Value, SerializeError> {
    Reader::new(data).object(0).map_err(|e| *e)
}

/// The name of a container kind (its type code without FLAG_REF), for a
/// NULL item error.
#[cold]
fn kind_name(code: u8) -> &'static str {
    match code {
        b'[' => "list",
        b'<' | b'>' => "set",
        b'{' => "dict",
        _ => "tuple",
    }
}

/// Whether `b` is ASCII: for up to 24 bytes (the strings a PyStr holds
/// inline) with two or three overlapping word loads instead of a call.
#[cfg_attr(not(debug_assertions), inline(always))]
fn is_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |w: Option<&[u8; 8]>| w.map_or(0, |w| u64::from_le_bytes(*w));
    let half = |w: Option<&[u8; 4]>| w.map_or(0, |w| u32::from_le_bytes(*w) as u64);
    match b.len() {
        8..=16 => (word(b.first_chunk()) | word(b.last_chunk())) & HIGH == 0,
        17..=24 => {
            (word(b.first_chunk())
                | word(b.get(8..).and_then(|m| m.first_chunk()))
                | word(b.last_chunk()))
                & HIGH
                == 0
        }
        4..=7 => (half(b.first_chunk()) | half(b.last_chunk())) & HIGH == 0,
        0..=3 => b.iter().fold(0, |acc, &x| acc | x) < 0x80,
        _ => b.is_ascii(),
    }
}

/// Latin-1 bytes (each one code point) as a string: the rare non-ASCII case
/// of the one-byte-per-char codes, kept out of the hot path.
#[cold]
#[inline(never)]
fn latin1_to_str(bytes: &[u8]) -> PyStr {
    bytes.iter().map(|&b| b as char).collect()
}

/// Read a call: one marshal object from the start of `data` that must be a
/// 4-item tuple or list, unpacked (without building its vector) and checked
/// by [`call_from`](super::call_from).
///
/// Also says whether the class step could do anything to the call (see
/// [`loads_call_noting_classes`](super::loads_call_noting_classes)).
#[inline]
pub(super) fn read_call(data: &[u8]) -> Result<(Call, bool), SerializeError> {
    let mut r = Reader::new(data);
    match r.four() {
        Ok(Some([object, method, vargs, kwargs])) => {
            super::call_from(object, method, vargs, kwargs).map(|call| (call, r.class_step))
        }
        Err(e) => Err(*e),
        // Anything else is an error: read it as `read` does, for the message.
        Ok(None) => Err(super::not_a_call(read(data)?)),
    }
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            nrefs: 0,
            head: [0; HEAD_REFS],
            // Allocated past the first HEAD_REFS registrations only.
            tail: Vec::new(),
            replaying: 0,
            class_step: false,
            work: 0,
            budget: data
                .len()
                .saturating_mul(BUDGET_PER_BYTE)
                .saturating_add(BUDGET_BASE),
        }
    }

    /// The items of a top-level tuple or list of exactly four items, read
    /// as [`object`](Self::object) reads it (same registration, depth and
    /// errors); `None` with nothing consumed or registered for any other
    /// object.
    #[inline]
    fn four(&mut self) -> R<Option<[Value; 4]>> {
        let d = self.data;
        let (flag, n) = match *d {
            [c, 4, ..] if c & !FLAG_REF == b')' => (c & FLAG_REF != 0, 2),
            [c, 4, 0, 0, 0, ..] if matches!(c & !FLAG_REF, b'(' | b'[') => (c & FLAG_REF != 0, 5),
            _ => return Ok(None),
        };
        let what = d[0] & !FLAG_REF;
        self.pos = n;
        let slot = self.reserve(flag, 0)?;
        self.enter(0)?;
        let object = self.item(0, what)?;
        let method = self.item(0, what)?;
        let vargs = self.item(0, what)?;
        let kwargs = self.item(0, what)?;
        self.done(slot, 0);
        Ok(Some([object, method, vargs, kwargs]))
    }
}

/// The reader. Its hot helpers are `inline(always)` in optimized builds only:
/// in a debug build, forcing them inline made each nesting level of the
/// recursive reader take over 10 KB of stack (a dict level about 10.7 KB),
/// so [`MAX_DEPTH`] nested dicts overflowed a 2 MiB thread stack.
/// `depth_is_limited` nests tuples, lists and dicts past the limit.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// How many objects are registered.
    nrefs: usize,
    /// Start offset of each registered object, or [`PENDING`]: the first
    /// [`HEAD_REFS`] here...
    head: [usize; HEAD_REFS],
    /// ...and the rest here.
    tail: Vec<usize>,
    /// > 0 while re-reading a referenced object: registrations already exist.
    replaying: u32,
    /// Whether the class step could change or refuse the result: some dict
    /// has a `__class__` key, or containers nest close to [`MAX_DEPTH`].
    class_step: bool,
    work: usize,
    budget: usize,
}

impl<'a> Reader<'a> {
    #[cold]
    fn err(&self, offset: usize, reason: impl Into<String>) -> Box<SerializeError> {
        Box::new(SerializeError::Malformed {
            codec: CODEC,
            offset,
            reason: reason.into(),
        })
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn take(&mut self, n: usize, what: &str) -> R<&'a [u8]> {
        let data: &'a [u8] = self.data;
        // `pos <= len` always, so only a too large `n` misses.
        match data.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(n, what)),
        }
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, n: usize, what: &str) -> Box<SerializeError> {
        let rest = self.data.len() - self.pos;
        self.err(
            self.pos,
            alloc::format!(
                "truncated data: {what} needs {n} bytes, only {rest} left (marshal data too short)"
            ),
        )
    }

    fn byte(&mut self, what: &str) -> R<u8> {
        Ok(self.take(1, what)?[0])
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn i32(&mut self, what: &str) -> R<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// The next `N` bytes ([`take`](Self::take) for a fixed size).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn array<const N: usize>(&mut self, what: &str) -> R<[u8; N]> {
        match self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(b) => {
                self.pos += N;
                Ok(*b)
            }
            None => Err(self.truncated(N, what)),
        }
    }

    /// A non-negative int32 size, as CPython checks it.
    fn size(&mut self, what: &str) -> R<usize> {
        let at = self.pos;
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| {
            self.err(
                at,
                alloc::format!("bad marshal data ({what} size out of range)"),
            )
        })
    }

    fn f64_bin(&mut self) -> R<f64> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array("float")?)))
    }

    fn f64_text(&mut self) -> R<f64> {
        let n = self.byte("float text length")? as usize;
        let at = self.pos;
        let text = self.take(n, "float text")?;
        core::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .ok_or_else(|| self.err(at, "bad marshal data (invalid float text)"))
    }

    /// Count `units` of work done while re-reading a referenced object.
    ///
    /// A first read builds at most one value and one string byte per input
    /// byte, so it needs no counting; only back-reference copies can outgrow
    /// the input, and those are what the budget limits.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn charge(&mut self, units: usize, at: usize) -> R<()> {
        if self.replaying == 0 {
            return Ok(());
        }
        self.charge_copy(units, at)
    }

    #[inline(never)]
    fn charge_copy(&mut self, units: usize, at: usize) -> R<()> {
        self.work = self.work.saturating_add(units);
        if self.work > self.budget {
            return Err(self.err(
                at,
                alloc::format!(
                    "back-references expand to more than {} values for a {}-byte input (reference bomb?)",
                    self.budget,
                    self.data.len()
                ),
            ));
        }
        Ok(())
    }

    /// Reserve a reference slot if `flag` is set (and this is a first read).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn reserve(&mut self, flag: bool, at: usize) -> R<Option<usize>> {
        if !flag || self.replaying > 0 {
            return Ok(None);
        }
        self.register(PENDING, at).map(Some)
    }

    /// Register the object at `at` (a first read of a flagged code) with
    /// `offset` ([`PENDING`] for a container, set by [`done`](Self::done)).
    /// A leaf cannot be referenced while it is read, so it registers its
    /// offset straight away.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn register(&mut self, offset: usize, at: usize) -> R<usize> {
        let idx = self.nrefs;
        if idx < HEAD_REFS {
            self.head[idx] = offset;
        } else {
            self.register_tail(offset, at)?;
        }
        self.nrefs = idx + 1;
        Ok(idx)
    }

    #[inline(never)]
    fn register_tail(&mut self, offset: usize, at: usize) -> R<()> {
        if self.nrefs >= 0x7fff_fffe {
            return Err(self.err(at, "bad marshal data (index list too large)"));
        }
        if self.tail.capacity() == 0 {
            // CPython flags nearly every object; a registered object takes
            // at least two bytes, so this stays within what was received.
            self.tail.reserve((self.data.len() / 4).min(1024));
        }
        self.tail.push(offset);
        Ok(())
    }

    /// The registered offset of reference `idx`, if there is one.
    fn ref_at(&self, idx: usize) -> Option<usize> {
        if idx >= self.nrefs {
            None
        } else if idx < HEAD_REFS {
            Some(self.head[idx])
        } else {
            self.tail.get(idx - HEAD_REFS).copied()
        }
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn done(&mut self, slot: Option<usize>, start: usize) {
        if let Some(i) = slot {
            if i < HEAD_REFS {
                self.head[i] = start;
            } else if let Some(r) = self.tail.get_mut(i - HEAD_REFS) {
                *r = start;
            }
        }
    }

    /// Whether the next code is NULL (`0`, with or without FLAG_REF), which
    /// ends a dict and is an error anywhere else.
    fn at_null(&self) -> bool {
        matches!(self.data.get(self.pos), Some(c) if c & !FLAG_REF == b'0')
    }

    /// Read one object (not NULL). `depth` counts the containers around it.
    fn object(&mut self, depth: usize) -> R<Value> {
        let start = self.pos;
        let code = match self.data.get(start) {
            Some(&c) => c,
            None => return Err(self.err(start, "EOF read where object expected")),
        };
        self.pos += 1;
        self.charge(1, start)?;
        let flag = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        let slot = match ty {
            b'0' => return Err(self.err(start, "NULL object in marshal data for object")),
            b'N' => return Ok(Value::None),
            b'F' => return Ok(Value::Bool(false)),
            b'T' => return Ok(Value::Bool(true)),
            b'r' => return self.back_ref(start, depth),
            b')' | b'(' | b'[' | b'<' | b'>' | b'{' => {
                return self.container(ty, flag, start, depth)
            }
            _ => self.reserve(flag, start)?,
        };
        let v = match ty {
            b'z' | b'Z' => {
                let n = self.byte("short string length")? as usize;
                self.latin1(n, start)?
            }
            b'a' | b'A' => {
                let n = self.size("string")?;
                self.latin1(n, start)?
            }
            b'u' | b't' => self.utf8(start)?,
            // What a back-reference most often points at.
            b'i' => Value::Int(self.i32("int")? as i64),
            _ => self.scalar(ty, start)?,
        };
        self.done(slot, start);
        Ok(v)
    }

    /// One item of a container at `depth` (`what` names the container for a
    /// NULL error), returned.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn item(&mut self, depth: usize, what: u8) -> R<Value> {
        self.item_with(depth, what, |v| v)
    }

    /// One item of a container at `depth`, handed to `put`. The common
    /// leaves (`i`, `z`/`Z`, `g`, with or without FLAG_REF, and `N`, `T`,
    /// `F`) are read here exactly as [`object`](Self::object) reads and
    /// registers them; lists go straight to [`items`](Self::items), dicts to
    /// [`dict`](Self::dict), other containers to
    /// [`container`](Self::container) (each registered as `container` does),
    /// back-references to [`back_ref`](Self::back_ref), the rest to `object`.
    /// Each arm hands its value over itself, so a list's items go straight
    /// into its vector.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn item_with<T>(&mut self, depth: usize, what: u8, put: impl FnOnce(Value) -> T) -> R<T> {
        let start = self.pos;
        let Some(&code) = self.data.get(start) else {
            // EOF: `object` reports it.
            return Ok(put(self.object(depth + 1)?));
        };
        let ty = code & !FLAG_REF;
        Ok(match ty {
            b'i' => {
                self.leaf_ref(code, start)?;
                let v = self.i32("int")?;
                put(Value::Int(v as i64))
            }
            b'z' | b'Z' => {
                self.leaf_ref(code, start)?;
                let n = self.byte("short string length")? as usize;
                let v = self.latin1(n, start)?;
                put(v)
            }
            b'g' => {
                self.leaf_ref(code, start)?;
                let v = self.f64_bin()?;
                put(Value::Float(v))
            }
            // Singletons are never registered, flagged or not.
            b'N' | b'T' | b'F' => {
                self.pos += 1;
                self.charge(1, start)?;
                put(match ty {
                    b'N' => Value::None,
                    b'T' => Value::Bool(true),
                    _ => Value::Bool(false),
                })
            }
            // A list (the usual nested container) goes straight to `items`,
            // registered as `container` registers it.
            b'[' => {
                self.pos += 1;
                self.charge(1, start)?;
                let slot = self.reserve(code & FLAG_REF != 0, start)?;
                let n = self.size("list")?;
                let v = Value::List(self.items(n, depth + 1, b'[')?);
                self.done(slot, start);
                put(v)
            }
            b'{' => {
                self.pos += 1;
                self.charge(1, start)?;
                let slot = self.reserve(code & FLAG_REF != 0, start)?;
                let v = if self.at_null() {
                    // `{}` (what Pyro sends for no keyword arguments): what
                    // `dict` does for it, without the call.
                    self.enter(depth + 1)?;
                    self.pos += 1;
                    Value::Dict(Dict::new())
                } else {
                    self.dict(depth + 1)?
                };
                self.done(slot, start);
                put(v)
            }
            b')' | b'(' | b'<' | b'>' => {
                self.pos += 1;
                self.charge(1, start)?;
                let v = self.container(ty, code & FLAG_REF != 0, start, depth + 1)?;
                put(v)
            }
            b'r' => {
                self.pos += 1;
                self.charge(1, start)?;
                let v = self.back_ref(start, depth + 1)?;
                put(v)
            }
            b'0' => {
                return Err(self.err(
                    start,
                    alloc::format!("NULL object in marshal data for {}", kind_name(what)),
                ))
            }
            _ => put(self.object(depth + 1)?),
        })
    }

    /// Consume the code of a leaf at `start`: register it if `code` is
    /// flagged and this is a first read (a leaf cannot be referred to while
    /// it is read, so its offset goes in at once), charge it if this is a
    /// replay; what `object` does, with one test of `replaying`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn leaf_ref(&mut self, code: u8, start: usize) -> R<()> {
        self.pos += 1;
        if self.replaying == 0 {
            if code & FLAG_REF != 0 {
                self.register(start, start)?;
            }
            Ok(())
        } else {
            self.charge_copy(1, start)
        }
    }

    #[inline(never)]
    fn back_ref(&mut self, start: usize, depth: usize) -> R<Value> {
        let n = self.i32("reference index")?;
        let target = usize::try_from(n)
            .ok()
            .and_then(|i| self.ref_at(i))
            .ok_or_else(|| {
                self.err(
                    start,
                    alloc::format!(
                        "bad marshal data (invalid reference {n}: {} objects registered)",
                        self.nrefs
                    ),
                )
            })?;
        if target == PENDING {
            return Err(self.err(
                start,
                alloc::format!(
                    "reference {n} points to a container still being read (recursive data cannot be a Value)"
                ),
            ));
        }
        // An int (what a back-reference most often points at): what the
        // replayed `object` does for it (charge one copy, no registration),
        // without the replay.
        if let Some(&[c, b0, b1, b2, b3, ..]) = self.data.get(target..) {
            if c & !FLAG_REF == b'i' {
                self.charge_copy(1, target)?;
                return Ok(Value::Int(i32::from_le_bytes([b0, b1, b2, b3]) as i64));
            }
        }
        let resume = self.pos;
        self.pos = target;
        self.replaying += 1;
        // Registered objects are never NULL, so this reads a whole object.
        let v = self.object(depth);
        self.replaying -= 1;
        self.pos = resume;
        v
    }

    fn enter(&mut self, depth: usize) -> R<()> {
        if crate::serialize::near_depth_limit(depth) {
            self.class_step = true;
            if depth >= MAX_DEPTH {
                return Err(Box::new(SerializeError::TooDeep { limit: MAX_DEPTH }));
            }
        }
        Ok(())
    }

    /// Tuples, lists, sets, frozensets and dicts (code `code` without
    /// FLAG_REF, `flag` whether it had it, already consumed from `start`),
    /// registered as CPython does: before their items, frozensets after.
    #[inline(never)]
    fn container(&mut self, code: u8, flag: bool, start: usize, depth: usize) -> R<Value> {
        let slot = self.reserve(flag, start)?;
        let v = match code {
            b')' => {
                let n = self.byte("small tuple size")? as usize;
                Value::Tuple(self.items(n, depth, b')')?)
            }
            b'(' => {
                let n = self.size("tuple")?;
                Value::Tuple(self.items(n, depth, b')')?)
            }
            b'[' => {
                let n = self.size("list")?;
                Value::List(self.items(n, depth, b'[')?)
            }
            b'<' | b'>' => {
                let n = self.size("set")?;
                let items = self.items(n, depth, b'<')?;
                let items = keys::dedup_set(items);
                if code == b'<' {
                    Value::Set(items)
                } else {
                    Value::FrozenSet(items)
                }
            }
            _ => self.dict(depth)?,
        };
        self.done(slot, start);
        Ok(v)
    }

    /// Scalars, and the codes with no Value form (errors).
    #[inline(never)]
    fn scalar(&mut self, code: u8, start: usize) -> R<Value> {
        Ok(match code {
            b'i' => Value::Int(self.i32("int")? as i64),
            b'I' => {
                let b = self.take(8, "int64")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Int(i64::from_le_bytes(a))
            }
            b'l' => self.long(start)?,
            b'g' => Value::Float(self.f64_bin()?),
            b'f' => Value::Float(self.f64_text()?),
            b'y' => {
                let re = self.f64_bin()?;
                let im = self.f64_bin()?;
                Value::Complex { re, im }
            }
            b'x' => {
                let re = self.f64_text()?;
                let im = self.f64_text()?;
                Value::Complex { re, im }
            }
            b's' => {
                let n = self.size("bytes object")?;
                let bytes = self.take(n, "bytes object")?;
                self.charge(n / 16, start)?;
                Value::Bytes(bytes.to_vec())
            }
            b'S' | b'.' => {
                return Err(self.err(
                    start,
                    alloc::format!(
                        "{} has no Value representation",
                        if code == b'S' {
                            "StopIteration"
                        } else {
                            "Ellipsis"
                        }
                    ),
                ))
            }
            b'c' => {
                return Err(self.err(
                    start,
                    "code objects are refused (executable code has no place in Pyro data)",
                ))
            }
            b':' => {
                return Err(self.err(
                    start,
                    "slice objects (marshal version 5) have no Value representation",
                ))
            }
            other => {
                return Err(self.err(
                    start,
                    alloc::format!(
                        "bad marshal data (unknown type code 0x{:02x} {:?})",
                        other,
                        other as char
                    ),
                ))
            }
        })
    }

    /// A UTF-8 string (`u`, `t`).
    fn utf8(&mut self, start: usize) -> R<Value> {
        let n = self.size("string")?;
        let at = self.pos;
        let bytes = self.take(n, "string")?;
        self.charge(n / 16, start)?;
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(s.into())),
            Err(e) => Err(self.utf8_error(bytes, at, e.valid_up_to())),
        }
    }

    /// A one-byte-per-character string.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn latin1(&mut self, n: usize, start: usize) -> R<Value> {
        let bytes = self.take(n, "string")?;
        self.charge(n / 16, start)?;
        // CPython builds these from one byte per code point without checking
        // that they are ASCII, so bytes >= 0x80 are Latin-1 characters. ASCII
        // (the usual names and keys) is also UTF-8 and goes straight into
        // the PyStr (inline up to 24 bytes); only the rest is transcoded.
        let s: PyStr = match *bytes {
            // One character (short dict keys): no validation loop needed.
            [b] => PyStr::from(&*char::from(b).encode_utf8(&mut [0; 4])),
            _ => match bytes.utf8_chunks().next() {
                Some(c) if c.valid().len() == n && is_ascii(c.valid().as_bytes()) => {
                    PyStr::from(c.valid())
                }
                None => PyStr::default(),
                _ => latin1_to_str(bytes),
            },
        };
        Ok(Value::Str(s))
    }

    fn utf8_error(&self, bytes: &[u8], at: usize, valid: usize) -> Box<SerializeError> {
        let rest = &bytes[valid..];
        if let [0xed, b1 @ 0xa0..=0xbf, b2 @ 0x80..=0xbf, ..] = rest {
            let cp = 0xd000 | ((*b1 as u32 & 0x3f) << 6) | (*b2 as u32 & 0x3f);
            return self.err(
                at + valid,
                alloc::format!(
                    "str contains the lone surrogate U+{cp:04X} (Python allows it via surrogatepass, a Rust String cannot hold it)"
                ),
            );
        }
        self.err(
            at + valid,
            "bad marshal data (invalid UTF-8 in str, 'utf-8' codec can't decode)",
        )
    }

    /// The `n` items of a container at `depth`, read into a vector of their
    /// own.
    fn items(&mut self, n: usize, depth: usize, what: u8) -> R<Vec<Value>> {
        self.enter(depth)?;
        // Each item takes at least one input byte, so the room reserved
        // never exceeds what was received; the shift keeps the room that
        // nested containers (each declaring more than arrived) hold at
        // once within about three items per remaining byte.
        let rest = (self.data.len() - self.pos) >> depth.min(8);
        let mut out = Vec::with_capacity(n.min(rest));
        let mut left = n;
        while left > 0 {
            // A run of ints (flagged or not) on a first read, the usual list
            // items: registered as `item_with` registers them, then moved
            // into the vector in one go (no capacity check per item).
            let data = self.data;
            let start = self.pos;
            if matches!(data.get(start), Some(c) if c & !FLAG_REF == b'i') && self.replaying == 0 {
                let rest = data.get(start..).unwrap_or_default();
                let mut k = 0;
                for c in rest.chunks_exact(5).take(left) {
                    let code = c[0];
                    if code & !FLAG_REF != b'i' {
                        break;
                    }
                    if code & FLAG_REF != 0 {
                        let at = start + 5 * k;
                        self.register(at, at)?;
                    }
                    k += 1;
                }
                if k > 0 {
                    let run = rest.get(..5 * k).unwrap_or_default();
                    out.extend(run.chunks_exact(5).map(|c| match *c {
                        [_, b0, b1, b2, b3] => {
                            Value::Int(i32::from_le_bytes([b0, b1, b2, b3]) as i64)
                        }
                        // `chunks_exact(5)` yields 5-byte chunks only.
                        _ => Value::None,
                    }));
                    self.pos = start + 5 * k;
                    left -= k;
                    if left == 0 {
                        break;
                    }
                }
            }
            self.item_with(depth, what, |v| out.push(v))?;
            left -= 1;
        }
        Ok(out)
    }

    #[inline(never)]
    fn dict(&mut self, depth: usize) -> R<Value> {
        self.enter(depth)?;
        // Growth follows what actually arrived (a dict declares no size),
        // starting with room for a few once there is one.
        let mut pairs: Vec<(Value, Value)> = if self.at_null() {
            Vec::new()
        } else {
            Vec::with_capacity(4)
        };
        loop {
            let at = self.pos;
            if self.at_null() {
                self.pos += 1;
                break;
            }
            let key = self.item(depth, b'{')?;
            // CPython also ends the dict silently when a value is NULL
            // (dropping that key); we do the same.
            if self.at_null() {
                self.pos += 1;
                break;
            }
            let value = self.item(depth, b'{')?;
            match &key {
                Value::Str(k) => {
                    if k.as_bytes() == b"__class__" {
                        self.class_step = true;
                    }
                }
                key => {
                    if let Some(kind) = keys::unhashable(key) {
                        return Err(
                            self.err(at, alloc::format!("unhashable type: '{kind}' as dict key"))
                        );
                    }
                }
            }
            pairs.push((key, value));
        }
        Ok(Value::Dict(Dict(keys::dedup_dict(pairs))))
    }

    /// `l`: int32 signed digit count, then |count| base-2^15 digits, least
    /// significant first; normalised to `Int` when it fits `i64`.
    fn long(&mut self, start: usize) -> R<Value> {
        let n = self.i32("long size")?;
        if n == i32::MIN {
            return Err(self.err(start, "bad marshal data (long size out of range)"));
        }
        let count = n.unsigned_abs() as usize;
        let neg = n < 0;
        if count == 0 {
            return Ok(Value::Int(0));
        }
        let at = self.pos;
        let digits = self.take(count * 2, "long digits")?;
        self.charge(count / 8, start)?;
        let digit = |i: usize| u16::from_le_bytes([digits[2 * i], digits[2 * i + 1]]);
        if let Some(i) = (0..count).find(|&i| digit(i) > 0x7fff) {
            return Err(self.err(at + 2 * i, "bad marshal data (digit out of range in long)"));
        }
        if digit(count - 1) == 0 {
            return Err(self.err(
                at + 2 * (count - 1),
                "bad marshal data (unnormalized long data)",
            ));
        }
        if count <= 8 {
            // At most 120 bits: exact in a u128.
            let mag = (0..count)
                .rev()
                .fold(0u128, |acc, i| (acc << 15) | digit(i) as u128);
            let fits = if neg {
                mag <= 1u128 << 63
            } else {
                mag < 1u128 << 63
            };
            if fits {
                let v = if neg {
                    (mag as i128).wrapping_neg() as i64
                } else {
                    mag as i64
                };
                return Ok(Value::Int(v));
            }
            let big = BigInt::from(mag);
            return Ok(Value::BigInt(if neg { -big } else { big }));
        }
        // Repack 15-bit digits into 32-bit ones.
        let mut words: Vec<u32> = Vec::with_capacity(count * 15 / 32 + 1);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for i in 0..count {
            acc |= (digit(i) as u64) << bits;
            bits += 15;
            if bits >= 32 {
                words.push(acc as u32);
                acc >>= 32;
                bits -= 32;
            }
        }
        if bits > 0 {
            words.push(acc as u32);
        }
        let sign = if neg { Sign::Minus } else { Sign::Plus };
        Ok(Value::BigInt(BigInt::from_biguint(
            sign,
            BigUint::new(words),
        )))
    }
}
