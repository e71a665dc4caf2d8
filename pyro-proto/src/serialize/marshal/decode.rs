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
/// flags nearly every object, and a typical call registers about 20.
const HEAD_REFS: usize = 32;
/// Values (counting one per object, plus one per 16 string/bytes bytes) that
/// back-reference copies may produce per input byte...
const BUDGET_PER_BYTE: usize = 16;
/// ...plus this much for any payload, so small inputs with many references
/// to a moderately large object still load.
const BUDGET_BASE: usize = 1 << 16;

/// Read one marshal object from the start of `data`.
pub(super) fn read(data: &[u8]) -> Result<Value, SerializeError> {
    let mut r = Reader::new(data);
    r.object(0).map_err(|e| *e)?;
    // `object` pushes exactly one value on success.
    r.stack.pop().ok_or_else(|| SerializeError::Malformed {
        codec: CODEC,
        offset: 0,
        reason: "internal error: no object was read".into(),
    })
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
            // Values awaiting their container. Each takes at least one input
            // byte, so this never reserves more than what was received; 16
            // values (512 bytes) hold a typical call and stay within the
            // allocator's fast per-thread cache.
            stack: Vec::with_capacity(data.len().min(16)),
            replaying: 0,
            class_step: false,
            work: 0,
            budget: data
                .len()
                .saturating_mul(BUDGET_PER_BYTE)
                .saturating_add(BUDGET_BASE),
        }
    }

    /// A top-level tuple or list of exactly four items, read as
    /// [`object`](Self::object) reads it (same registration, depth and
    /// errors) and checked by [`call_from`](super::call_from); `None` with
    /// nothing consumed or registered for any other object.
    #[inline]
    fn four(&mut self) -> R<Option<Result<Call, SerializeError>>> {
        let d = self.data;
        let (flag, n) = match *d {
            [c, 4, ..] if c & !FLAG_REF == b')' => (c & FLAG_REF != 0, 2),
            [c, 4, 0, 0, 0, ..] if matches!(c & !FLAG_REF, b'(' | b'[') => (c & FLAG_REF != 0, 5),
            _ => return Ok(None),
        };
        let what = if d[0] & !FLAG_REF == b'[' {
            "list"
        } else {
            "tuple"
        };
        self.pos = n;
        let slot = self.reserve(flag, 0)?;
        self.enter(0)?;
        let object = self.item(what)?;
        let method = self.item(what)?;
        let vargs = self.item(what)?;
        let kwargs = self.item(what)?;
        self.done(slot, 0);
        Ok(Some(super::call_from(object, method, vargs, kwargs)))
    }

    /// One item of the top-level call sequence, read as [`seq`](Self::seq)
    /// reads it at depth 1 but returned. A container comes back without a
    /// trip through the stack, so the arguments list (read on the empty
    /// stack) takes over the stack's buffer and an empty kwargs dict needs
    /// no allocation at all.
    fn item(&mut self, what: &str) -> R<Value> {
        if !self.leaf()? {
            let start = self.pos;
            match self.data.get(start) {
                Some(&c) if matches!(c & !FLAG_REF, b')' | b'(' | b'[' | b'<' | b'>' | b'{') => {
                    self.pos += 1;
                    self.charge(1, start)?;
                    let slot = self.reserve(c & FLAG_REF != 0, start)?;
                    let v = self.container_value(c & !FLAG_REF, 1)?;
                    self.done(slot, start);
                    return Ok(v);
                }
                _ => {}
            }
            if self.at_null() {
                return Err(self.err(
                    self.pos,
                    alloc::format!("NULL object in marshal data for {what}"),
                ));
            }
            self.object(1)?;
        }
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => Err(self.err(self.pos, "internal error: a call item was not read")),
        }
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
    if let Some(call) = r.four().map_err(|e| *e)? {
        return call.map(|call| (call, r.class_step));
    }
    // Anything else is an error: read it as `read` does, for the message.
    r = Reader::new(data);
    r.object(0).map_err(|e| *e)?;
    match r.stack.pop() {
        Some(v) => Err(super::not_a_call(v)),
        None => Err(SerializeError::Malformed {
            codec: CODEC,
            offset: 0,
            reason: "internal error: no object was read".into(),
        }),
    }
}

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
    /// Objects read whose container is still being read.
    stack: Vec<Value>,
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

    #[inline]
    fn take(&mut self, n: usize, what: &str) -> R<&'a [u8]> {
        let data: &'a [u8] = self.data;
        // `pos <= len` always, so only a too large `n` (or one that wraps)
        // misses.
        match data.get(self.pos..self.pos.wrapping_add(n)) {
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

    fn i32(&mut self, what: &str) -> R<i32> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
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
        let b = self.take(8, "float")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
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
    #[inline(always)]
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
    #[inline(always)]
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
    #[inline(always)]
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

    #[inline(always)]
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

    /// Read one object (not NULL) and push it onto `self.stack`. `depth`
    /// counts the containers around it.
    ///
    /// Values are built in place on the shared stack (containers then move
    /// their items off it in one go) rather than returned through `Result`s:
    /// returning a `Value` enum up a recursive call chain costs piecewise
    /// copies that stall store forwarding, which made this reader twice as
    /// slow per instruction as the JSON one.
    fn object(&mut self, depth: usize) -> R<()> {
        let start = self.pos;
        let code = match self.data.get(start) {
            Some(&c) => c,
            None => return Err(self.err(start, "EOF read where object expected")),
        };
        self.pos += 1;
        self.charge(1, start)?;
        let flag = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        match ty {
            b'0' => return Err(self.err(start, "NULL object in marshal data for object")),
            b'N' => self.stack.push(Value::None),
            b'F' => self.stack.push(Value::Bool(false)),
            b'T' => self.stack.push(Value::Bool(true)),
            b'r' => return self.back_ref(start, depth),
            b'i' => {
                let slot = self.reserve(flag, start)?;
                let v = self.i32("int")?;
                self.stack.push(Value::Int(v as i64));
                self.done(slot, start);
            }
            b'z' | b'Z' => {
                let slot = self.reserve(flag, start)?;
                let n = self.byte("short string length")? as usize;
                self.latin1(n, start)?;
                self.done(slot, start);
            }
            b'a' | b'A' => {
                let slot = self.reserve(flag, start)?;
                let n = self.size("string")?;
                self.latin1(n, start)?;
                self.done(slot, start);
            }
            b'u' | b't' => {
                let slot = self.reserve(flag, start)?;
                self.utf8(start)?;
                self.done(slot, start);
            }
            b'g' => {
                let slot = self.reserve(flag, start)?;
                let v = self.f64_bin()?;
                self.stack.push(Value::Float(v));
                self.done(slot, start);
            }
            b')' | b'(' | b'[' | b'<' | b'>' | b'{' => {
                let slot = self.reserve(flag, start)?;
                self.container(ty, depth)?;
                self.done(slot, start);
            }
            _ => {
                let slot = self.reserve(flag, start)?;
                let v = self.scalar(ty, start)?;
                self.stack.push(v);
                self.done(slot, start);
            }
        }
        Ok(())
    }

    /// The common leaves (`i`, `z`/`Z`, `g`, `N`, `T`, `F`, with or without
    /// FLAG_REF), read without a call to [`object`](Self::object), exactly as
    /// it reads and registers them; false (nothing consumed) for anything
    /// else.
    #[inline(always)]
    fn leaf(&mut self) -> R<bool> {
        const I: u8 = b'i' | FLAG_REF;
        const Z_SHORT: u8 = b'z' | FLAG_REF;
        const Z_INTERNED: u8 = b'Z' | FLAG_REF;
        const G: u8 = b'g' | FLAG_REF;
        let start = self.pos;
        let Some(&code) = self.data.get(start) else {
            return Ok(false);
        };
        match code {
            // Unflagged (what we write): nothing to register.
            b'i' => {
                self.pos += 1;
                self.charge(1, start)?;
                let v = self.i32("int")?;
                self.stack.push(Value::Int(v as i64));
            }
            b'z' | b'Z' => {
                self.pos += 1;
                self.charge(1, start)?;
                let n = self.byte("short string length")? as usize;
                self.latin1(n, start)?;
            }
            b'g' => {
                self.pos += 1;
                self.charge(1, start)?;
                let v = self.f64_bin()?;
                self.stack.push(Value::Float(v));
            }
            // Singletons are never registered, flagged or not.
            b'N' | b'T' | b'F' => {
                self.pos += 1;
                self.charge(1, start)?;
                self.stack.push(match code {
                    b'N' => Value::None,
                    b'T' => Value::Bool(true),
                    _ => Value::Bool(false),
                });
            }
            // Flagged (what CPython writes for nearly everything).
            I | Z_SHORT | Z_INTERNED | G => {
                self.pos += 1;
                self.charge(1, start)?;
                if self.replaying == 0 {
                    self.register(start, start)?;
                }
                match code {
                    I => {
                        let v = self.i32("int")?;
                        self.stack.push(Value::Int(v as i64));
                    }
                    G => {
                        let v = self.f64_bin()?;
                        self.stack.push(Value::Float(v));
                    }
                    _ => {
                        let n = self.byte("short string length")? as usize;
                        self.latin1(n, start)?;
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn back_ref(&mut self, start: usize, depth: usize) -> R<()> {
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

    /// Tuples, lists, sets, frozensets and dicts (the recursive path: kept
    /// small so that deep nesting needs little stack).
    fn container(&mut self, code: u8, depth: usize) -> R<()> {
        let v = self.container_value(code, depth)?;
        self.stack.push(v);
        Ok(())
    }

    /// [`container`](Self::container), returning the value instead of
    /// pushing it.
    #[inline(always)]
    fn container_value(&mut self, code: u8, depth: usize) -> R<Value> {
        Ok(match code {
            b')' => {
                let n = self.byte("small tuple size")? as usize;
                Value::Tuple(self.items(n, depth, "tuple")?)
            }
            b'(' => {
                let n = self.size("tuple")?;
                Value::Tuple(self.items(n, depth, "tuple")?)
            }
            b'[' => {
                let n = self.size("list")?;
                Value::List(self.items(n, depth, "list")?)
            }
            b'<' | b'>' => {
                let n = self.size("set")?;
                let items = self.items(n, depth, "set")?;
                let items = keys::dedup_set(items);
                if code == b'<' {
                    Value::Set(items)
                } else {
                    Value::FrozenSet(items)
                }
            }
            _ => self.dict(depth)?,
        })
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

    /// A UTF-8 string (`u`, `t`), pushed onto the stack.
    fn utf8(&mut self, start: usize) -> R<()> {
        let n = self.size("string")?;
        let at = self.pos;
        let bytes = self.take(n, "string")?;
        self.charge(n / 16, start)?;
        match core::str::from_utf8(bytes) {
            Ok(s) => self.stack.push(Value::Str(s.into())),
            Err(e) => return Err(self.utf8_error(bytes, at, e.valid_up_to())),
        }
        Ok(())
    }

    /// A one-byte-per-character string, pushed onto the stack.
    fn latin1(&mut self, n: usize, start: usize) -> R<()> {
        let bytes = self.take(n, "string")?;
        self.charge(n / 16, start)?;
        // CPython builds these from one byte per code point without checking
        // that they are ASCII, so bytes >= 0x80 are Latin-1 characters. ASCII
        // (the usual names and keys) is also UTF-8 and goes straight into
        // the PyStr (inline up to 24 bytes); only the rest is transcoded.
        let s: PyStr = match bytes.utf8_chunks().next() {
            Some(c) if c.valid().len() == n && c.valid().is_ascii() => PyStr::from(c.valid()),
            None => PyStr::default(),
            _ => latin1_to_str(bytes),
        };
        self.stack.push(Value::Str(s));
        Ok(())
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

    /// `n` objects, read onto the stack and moved off it into a vector of
    /// exactly their number (allocated only once they have all arrived).
    fn items(&mut self, n: usize, depth: usize, what: &str) -> R<Vec<Value>> {
        let base = self.stack.len();
        self.seq(n, depth, what)?;
        if base == 0 {
            // The stack holds exactly these items (this is the top-level
            // container, or the first one read since the stack was last
            // taken): its buffer becomes the container's vector instead of
            // being copied.
            return Ok(core::mem::take(&mut self.stack));
        }
        // One exact-size allocation and a single memcpy.
        Ok(self.stack.split_off(base))
    }

    /// Read `n` objects onto the stack (the items of a container at `depth`).
    fn seq(&mut self, n: usize, depth: usize, what: &str) -> R<()> {
        self.enter(depth)?;
        for _ in 0..n {
            if self.leaf()? {
                continue;
            }
            if self.at_null() {
                return Err(self.err(
                    self.pos,
                    alloc::format!("NULL object in marshal data for {what}"),
                ));
            }
            self.object(depth + 1)?;
        }
        Ok(())
    }

    fn dict(&mut self, depth: usize) -> R<Value> {
        self.enter(depth)?;
        // Pairs move off the stack as soon as they are read; growth follows
        // what actually arrived (a dict declares no size), starting with
        // room for a few once there is one.
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
            if !self.leaf()? {
                self.object(depth + 1)?;
            }
            // CPython also ends the dict silently when a value is NULL
            // (dropping that key); we do the same.
            if self.at_null() {
                self.pos += 1;
                self.stack.pop();
                break;
            }
            if !self.leaf()? {
                self.object(depth + 1)?;
            }
            // Both pushed just now: the pops cannot miss.
            let (Some(value), Some(key)) = (self.stack.pop(), self.stack.pop()) else {
                return Err(self.err(at, "internal error: a dict item was not read"));
            };
            if matches!(&key, Value::Str(k) if k == "__class__") {
                self.class_step = true;
            }
            if let Some(kind) = keys::unhashable(&key) {
                return Err(self.err(at, alloc::format!("unhashable type: '{kind}' as dict key")));
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
