//! A small, safe pickle virtual machine (protocols 0 to 5 opcodes, as CPython
//! 3.11 reads them), that builds [`Value`]s instead of Python objects.
//!
//! Safety properties, because pickle input is untrusted:
//! * globals are resolved against a fixed whitelist ([`super::names`]) and
//!   nothing is ever "called": REDUCE / NEWOBJ / BUILD are interpreted for the
//!   few known classes only;
//! * no allocation is sized by a length the input declares before those bytes
//!   are present;
//! * nesting is bounded by [`MAX_DEPTH`] while building (so dropping the tree
//!   cannot overflow the stack) and while resolving memo references;
//! * memo references are resolved by copying, and the total amount copied is
//!   bounded by a budget proportional to the input size, so a small pickle
//!   cannot expand into an exponentially large value.
//!
//! Memo semantics follow Python: PUT memoizes the object itself (not a copy),
//! so an object mutated after it was memoized (as Python's pickler always does
//! for containers) is seen in its final state by every GET.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::names::{self, Global};
use super::CODEC;
use crate::serialize::{SerializeError, MAX_DEPTH};
use crate::value::{ClassDict, Dict, Value};

/// Python refuses to convert decimal text longer than this into an int
/// (`sys.int_info.default_max_str_digits`); it also keeps parsing linear.
const MAX_INT_DIGITS: usize = 4300;

/// Copy budget: how many value units (one per node, one per 16 bytes of text)
/// memo references may expand to, per input byte. A value node costs about
/// 64 bytes, so this bounds memory at roughly a kilobyte per input byte plus
/// the base; Python's own pickles only fetch shared objects, which stay far
/// below it.
const BUDGET_PER_INPUT_BYTE: usize = 16;
/// Copy budget every input gets, however small (about 4 MiB of values).
const BUDGET_BASE: usize = 1 << 16;

/// A container under construction: its items and how deep it nests.
#[derive(Debug, Clone, Default)]
struct Node {
    items: Vec<Obj>,
    depth: usize,
}

/// The container an opcode adds items to.
#[derive(Debug, Clone, Copy)]
enum Container {
    List,
    Dict,
    Set,
}

/// What kind of object an instance is (the class it was created from).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Exception(&'static str, &'static str),
    Uri,
    Proxy,
    Daemon,
    ExceptionWrapper,
    Uuid,
}

/// An instance of a whitelisted class: constructor arguments and BUILD state.
#[derive(Debug, Clone)]
struct Inst {
    kind: Kind,
    /// Exception args (a tuple, or a reference to one).
    args: Option<Obj>,
    /// The BUILD state (at most one; a Vec for uniform traversal).
    state: Vec<Obj>,
    depth: usize,
}

/// The VM's object model: [`Value`] plus memo references, globals and
/// instances under construction.
#[derive(Debug, Clone)]
enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Big(BigInt),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Node),
    Tuple(Node),
    Set(Node),
    FrozenSet(Node),
    /// Keys and values alternate.
    Dict(Node),
    Global(Global),
    Inst(Box<Inst>),
    /// A memoized object: index into the slot arena.
    Ref(u32),
}

impl Obj {
    fn depth(&self) -> usize {
        match self {
            Obj::List(n) | Obj::Tuple(n) | Obj::Set(n) | Obj::FrozenSet(n) | Obj::Dict(n) => {
                n.depth
            }
            Obj::Inst(i) => i.depth,
            _ => 0,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Obj::None => "None",
            Obj::Bool(_) => "bool",
            Obj::Int(_) | Obj::Big(_) => "int",
            Obj::Float(_) => "float",
            Obj::Complex(..) => "complex",
            Obj::Str(_) => "str",
            Obj::Bytes(_) => "bytes",
            Obj::List(_) => "list",
            Obj::Tuple(_) => "tuple",
            Obj::Set(_) => "set",
            Obj::FrozenSet(_) => "frozenset",
            Obj::Dict(_) => "dict",
            Obj::Global(_) => "class",
            Obj::Inst(_) => "instance",
            Obj::Ref(_) => "reference",
        }
    }
}

fn too_deep() -> SerializeError {
    SerializeError::TooDeep { limit: MAX_DEPTH }
}

impl Node {
    fn new() -> Node {
        Node::default()
    }

    fn from_items(items: Vec<Obj>) -> Result<Node, SerializeError> {
        let mut depth = 1;
        for it in &items {
            depth = depth.max(it.depth() + 1);
        }
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(Node { items, depth })
    }

    fn extend(&mut self, items: Vec<Obj>) -> Result<(), SerializeError> {
        let mut d = self.depth.max(1);
        for it in &items {
            d = d.max(it.depth() + 1);
        }
        if d > MAX_DEPTH {
            return Err(too_deep());
        }
        self.depth = d;
        if self.items.is_empty() {
            self.items = items;
        } else {
            self.items.extend(items);
        }
        Ok(())
    }
}

/// One memoized object, and how many references to it exist (so that the
/// last one can take the object instead of copying it).
#[derive(Debug)]
struct Slot {
    obj: Option<Obj>,
    refs: Cell<u32>,
}

/// The unpickler state.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Obj>,
    marks: Vec<usize>,
    slots: Vec<Slot>,
    /// memo key -> slot index + 1 (0: unset), for keys 0..len.
    memo: Vec<u32>,
    /// memo keys beyond the dense range.
    memo_sparse: BTreeMap<u32, u32>,
    memo_len: usize,
    proto: u8,
    budget: Cell<usize>,
}

// Opcodes (names as in CPython's pickle.py).
const MARK: u8 = b'(';
const STOP: u8 = b'.';
const POP: u8 = b'0';
const POP_MARK: u8 = b'1';
const DUP: u8 = b'2';
const FLOAT: u8 = b'F';
const INT: u8 = b'I';
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const LONG: u8 = b'L';
const BININT2: u8 = b'M';
const NONE: u8 = b'N';
const PERSID: u8 = b'P';
const BINPERSID: u8 = b'Q';
const REDUCE: u8 = b'R';
const STRING: u8 = b'S';
const BINSTRING: u8 = b'T';
const SHORT_BINSTRING: u8 = b'U';
const UNICODE: u8 = b'V';
const BINUNICODE: u8 = b'X';
const APPEND: u8 = b'a';
const BUILD: u8 = b'b';
const GLOBAL: u8 = b'c';
const DICT: u8 = b'd';
const EMPTY_DICT: u8 = b'}';
const APPENDS: u8 = b'e';
const GET: u8 = b'g';
const BINGET: u8 = b'h';
const INST: u8 = b'i';
const LONG_BINGET: u8 = b'j';
const LIST: u8 = b'l';
const EMPTY_LIST: u8 = b']';
const OBJ: u8 = b'o';
const PUT: u8 = b'p';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const SETITEM: u8 = b's';
const TUPLE: u8 = b't';
const EMPTY_TUPLE: u8 = b')';
const SETITEMS: u8 = b'u';
const BINFLOAT: u8 = b'G';
const PROTO: u8 = 0x80;
const NEWOBJ: u8 = 0x81;
const EXT1: u8 = 0x82;
const EXT2: u8 = 0x83;
const EXT4: u8 = 0x84;
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const LONG1: u8 = 0x8a;
const LONG4: u8 = 0x8b;
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const BINBYTES8: u8 = 0x8e;
const EMPTY_SET: u8 = 0x8f;
const ADDITEMS: u8 = 0x90;
const FROZENSET: u8 = 0x91;
const NEWOBJ_EX: u8 = 0x92;
const STACK_GLOBAL: u8 = 0x93;
const MEMOIZE: u8 = 0x94;
const FRAME: u8 = 0x95;
const BYTEARRAY8: u8 = 0x96;
const NEXT_BUFFER: u8 = 0x97;
const READONLY_BUFFER: u8 = 0x98;

/// The highest protocol we (and CPython 3.11) know.
const HIGHEST_PROTOCOL: u8 = 5;

type R<T> = Result<T, SerializeError>;

fn int_obj(b: BigInt) -> Obj {
    match b.to_i64() {
        Some(i) => Obj::Int(i),
        None => Obj::Big(b),
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            stack: Vec::with_capacity(16),
            marks: Vec::with_capacity(4),
            slots: Vec::new(),
            memo: Vec::new(),
            memo_sparse: BTreeMap::new(),
            memo_len: 0,
            proto: 0,
            budget: Cell::new(
                data.len()
                    .saturating_mul(BUDGET_PER_INPUT_BYTE)
                    .saturating_add(BUDGET_BASE),
            ),
        }
    }

    fn err(&self, offset: usize, reason: impl Into<String>) -> SerializeError {
        SerializeError::Malformed {
            codec: CODEC,
            offset,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let data: &'a [u8] = self.data;
        if n > data.len() - self.pos {
            return Err(self.err(
                self.pos,
                format!(
                    "pickle data was truncated (needs {n} bytes, {} left)",
                    data.len() - self.pos
                ),
            ));
        }
        let s = &data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> R<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> R<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> R<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length from a 64-bit field, checked against the remaining input.
    fn len64(&mut self) -> R<usize> {
        let at = self.pos;
        let n = self.u64()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.data.len() - self.pos => Ok(n),
            _ => Err(self.err(at, format!("pickle data was truncated (length {n})"))),
        }
    }

    /// A text line (protocol 0 argument), without its `\n`.
    fn line(&mut self) -> R<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let rest = &data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(self.err(self.pos, "pickle data was truncated (no end of line)")),
        }
    }

    fn utf8(&self, at: usize, b: &[u8]) -> R<String> {
        match core::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => Err(self.err(
                at,
                format!(
                    "string is not valid UTF-8 at byte {} (lone surrogates cannot be represented)",
                    e.valid_up_to()
                ),
            )),
        }
    }

    fn ascii(&self, at: usize, b: &[u8]) -> R<String> {
        if b.is_ascii() {
            Ok(b.iter().map(|&c| c as char).collect())
        } else {
            Err(self.err(
                at,
                "Python 2 str is not ASCII (Python decodes it with encoding 'ASCII')",
            ))
        }
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: usize) -> R<Obj> {
        if self.stack.len() <= self.fence() {
            return Err(self.err(at, "unpickling stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.err(at, "unpickling stack underflow"))
    }

    fn pop_mark(&mut self, at: usize) -> R<Vec<Obj>> {
        match self.marks.pop() {
            Some(m) => Ok(self.stack.split_off(m)),
            None => Err(self.err(at, "could not find MARK")),
        }
    }

    /// Follow a reference to the memoized object.
    fn deref<'s>(&'s self, o: &'s Obj) -> &'s Obj {
        match o {
            Obj::Ref(s) => self.slots[*s as usize].obj.as_ref().unwrap_or(&Obj::None),
            other => other,
        }
    }

    /// Add `items` to the container on top of the stack (the list of an
    /// APPEND(S), the dict of a SETITEM(S) as key, value, ..., the set of an
    /// ADDITEMS); anything else there is an error naming `opcode`.
    fn add_to_top(&mut self, at: usize, items: Vec<Obj>, want: Container, opcode: &str) -> R<()> {
        if let (Obj::List(n), Container::List)
        | (Obj::Dict(n), Container::Dict)
        | (Obj::Set(n), Container::Set) = (self.top_mut(at)?, want)
        {
            return n.extend(items);
        }
        let what = match want {
            Container::List => "to an object that is not a list",
            Container::Dict => "on an object that is not a dict",
            Container::Set => "on an object that is not a set",
        };
        Err(self.err(at, format!("{opcode} {what}")))
    }

    /// The object on top of the stack, through a reference, for mutation.
    fn top_mut(&mut self, at: usize) -> R<&mut Obj> {
        if self.stack.len() <= self.fence() {
            return Err(self.err(at, "unpickling stack underflow"));
        }
        let Reader { stack, slots, .. } = self;
        let top = stack.last_mut().expect("checked above");
        match top {
            Obj::Ref(s) => Ok(slots[*s as usize]
                .obj
                .as_mut()
                .expect("memo slots are only emptied after STOP")),
            other => Ok(other),
        }
    }

    fn memo_get(&self, at: usize, key: u64) -> R<u32> {
        let slot = u32::try_from(key)
            .ok()
            .and_then(|k| match self.memo.get(k as usize) {
                Some(&s) if s != 0 => Some(s - 1),
                Some(_) => None,
                None => self.memo_sparse.get(&k).copied(),
            });
        slot.ok_or_else(|| self.err(at, format!("memo key {key} not found")))
    }

    fn memo_put(&mut self, at: usize, key: u64) -> R<()> {
        let key = u32::try_from(key).map_err(|_| self.err(at, "memo key out of range"))?;
        if self.stack.len() <= self.fence() {
            return Err(self.err(at, "empty stack when memoizing"));
        }
        let top = self.stack.last_mut().expect("checked above");
        let slot = match top {
            Obj::Ref(s) => *s,
            other => {
                let obj = core::mem::replace(other, Obj::None);
                let s = u32::try_from(self.slots.len()).map_err(|_| SerializeError::Malformed {
                    codec: CODEC,
                    offset: at,
                    reason: "too many memo entries".into(),
                })?;
                self.slots.push(Slot {
                    obj: Some(obj),
                    refs: Cell::new(1),
                });
                *other = Obj::Ref(s);
                s
            }
        };
        let k = key as usize;
        let prev = if k < self.memo.len() {
            core::mem::replace(&mut self.memo[k], slot + 1) != 0
        } else if k == self.memo.len() {
            self.memo.push(slot + 1);
            false
        } else {
            self.memo_sparse.insert(key, slot).is_some()
        };
        if !prev {
            self.memo_len += 1;
        }
        Ok(())
    }

    /// Copy an object, charging the copy budget; references stay references.
    fn clone_counted(&self, at: usize, o: &Obj) -> R<Obj> {
        let cost = cost_of(o);
        let left = self.budget.get();
        if cost > left {
            return Err(self.err(at, "memo references expand beyond the size limit"));
        }
        self.budget.set(left - cost);
        bump_refs(&self.slots, o);
        Ok(o.clone())
    }

    /// Run the machine to STOP and return the resolved value.
    pub(crate) fn run(mut self) -> R<Value> {
        let top = self.execute()?;
        // Problems found while resolving (unhashable keys, recursion, the
        // copy budget) are reported at the STOP opcode.
        let stop_at = self.pos.saturating_sub(1);
        let Reader {
            mut slots, budget, ..
        } = self;
        let mut res = Resolver {
            slots: &mut slots,
            budget: budget.get(),
        };
        res.owned(top, 0).map_err(|e| match e {
            SerializeError::Malformed { codec, reason, .. } => SerializeError::Malformed {
                codec,
                offset: stop_at,
                reason,
            },
            other => other,
        })
    }

    fn execute(&mut self) -> R<Obj> {
        loop {
            let at = self.pos;
            let op = match self.data.get(self.pos) {
                Some(&b) => b,
                None => return Err(self.err(at, "pickle data was truncated (no STOP opcode)")),
            };
            self.pos += 1;
            match op {
                PROTO => {
                    let p = self.u8()?;
                    if p > HIGHEST_PROTOCOL {
                        return Err(self.err(at, format!("unsupported pickle protocol: {p}")));
                    }
                    self.proto = p;
                }
                FRAME => {
                    // Only a read-ahead hint; the frame must be fully present.
                    self.len64()?;
                }
                STOP => return self.pop(at),
                MARK => self.marks.push(self.stack.len()),
                POP => {
                    if self.stack.len() > self.fence() {
                        self.stack.pop();
                    } else {
                        self.pop_mark(at)?;
                    }
                }
                POP_MARK => {
                    self.pop_mark(at)?;
                }
                DUP => {
                    if self.stack.len() <= self.fence() {
                        return Err(self.err(at, "unpickling stack underflow"));
                    }
                    // Python duplicates the reference; we copy (references
                    // inside stay shared), charging the copy budget.
                    let last = self.stack.last().expect("checked above");
                    let copy = self.clone_counted(at, last)?;
                    self.stack.push(copy);
                }
                NONE => self.stack.push(Obj::None),
                NEWTRUE => self.stack.push(Obj::Bool(true)),
                NEWFALSE => self.stack.push(Obj::Bool(false)),
                INT => {
                    let l = self.line()?;
                    let o = match l {
                        b"00" => Obj::Bool(false),
                        b"01" => Obj::Bool(true),
                        _ => self.parse_int(at, l)?,
                    };
                    self.stack.push(o);
                }
                LONG => {
                    let l = self.line()?;
                    let l = l.strip_suffix(b"L").unwrap_or(l);
                    let o = self.parse_int(at, l)?;
                    self.stack.push(o);
                }
                BININT => {
                    let v = self.u32()? as i32;
                    self.stack.push(Obj::Int(v as i64));
                }
                BININT1 => {
                    let v = self.u8()?;
                    self.stack.push(Obj::Int(v as i64));
                }
                BININT2 => {
                    let v = self.u16()?;
                    self.stack.push(Obj::Int(v as i64));
                }
                LONG1 => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    self.stack.push(int_obj(BigInt::from_signed_bytes_le(b)));
                }
                LONG4 => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.err(at, "LONG pickle has negative byte count"));
                    }
                    let b = self.take(n as usize)?;
                    self.stack.push(int_obj(BigInt::from_signed_bytes_le(b)));
                }
                FLOAT => {
                    let l = self.line()?;
                    let f = core::str::from_utf8(l)
                        .ok()
                        .and_then(|s| parse_py_float(s.trim()))
                        .ok_or_else(|| self.err(at, "could not convert string to float"))?;
                    self.stack.push(Obj::Float(f));
                }
                BINFLOAT => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.stack.push(Obj::Float(f64::from_be_bytes(a)));
                }
                STRING => {
                    let l = self.line()?;
                    let inner = match l {
                        [q, inner @ .., q2] if (*q == b'\'' || *q == b'"') && q == q2 => inner,
                        _ => return Err(self.err(at, "the STRING opcode argument must be quoted")),
                    };
                    let raw = unescape_bytes(inner);
                    let s = self.ascii(at, &raw)?;
                    self.stack.push(Obj::Str(s));
                }
                BINSTRING => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.err(at, "BINSTRING pickle has negative byte count"));
                    }
                    let b = self.take(n as usize)?;
                    let s = self.ascii(at, b)?;
                    self.stack.push(Obj::Str(s));
                }
                SHORT_BINSTRING => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let s = self.ascii(at, b)?;
                    self.stack.push(Obj::Str(s));
                }
                UNICODE => {
                    let l = self.line()?;
                    let s = raw_unicode_escape(l).ok_or_else(|| {
                        self.err(at, "invalid raw-unicode-escape text in UNICODE opcode")
                    })?;
                    self.stack.push(Obj::Str(s));
                }
                SHORT_BINUNICODE => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let s = self.utf8(at, b)?;
                    self.stack.push(Obj::Str(s));
                }
                BINUNICODE => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    let s = self.utf8(at, b)?;
                    self.stack.push(Obj::Str(s));
                }
                BINUNICODE8 => {
                    let n = self.len64()?;
                    let b = self.take(n)?;
                    let s = self.utf8(at, b)?;
                    self.stack.push(Obj::Str(s));
                }
                SHORT_BINBYTES => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    self.stack.push(Obj::Bytes(b.to_vec()));
                }
                BINBYTES => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?;
                    self.stack.push(Obj::Bytes(b.to_vec()));
                }
                BINBYTES8 | BYTEARRAY8 => {
                    let n = self.len64()?;
                    let b = self.take(n)?;
                    self.stack.push(Obj::Bytes(b.to_vec()));
                }
                EMPTY_TUPLE => self.stack.push(Obj::Tuple(Node::new())),
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = (op - TUPLE1 + 1) as usize;
                    if self.stack.len() < self.fence() + n {
                        return Err(self.err(at, "unpickling stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Obj::Tuple(Node::from_items(items)?));
                }
                TUPLE => {
                    let items = self.pop_mark(at)?;
                    self.stack.push(Obj::Tuple(Node::from_items(items)?));
                }
                EMPTY_LIST => self.stack.push(Obj::List(Node::new())),
                LIST => {
                    let items = self.pop_mark(at)?;
                    self.stack.push(Obj::List(Node::from_items(items)?));
                }
                EMPTY_DICT => self.stack.push(Obj::Dict(Node::new())),
                DICT => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(self.err(at, "odd number of items for DICT"));
                    }
                    self.stack.push(Obj::Dict(Node::from_items(items)?));
                }
                EMPTY_SET => self.stack.push(Obj::Set(Node::new())),
                FROZENSET => {
                    let items = self.pop_mark(at)?;
                    self.stack.push(Obj::FrozenSet(Node::from_items(items)?));
                }
                APPEND => {
                    let item = self.pop(at)?;
                    self.add_to_top(at, vec![item], Container::List, "APPEND")?;
                }
                APPENDS => {
                    let items = self.pop_mark(at)?;
                    self.add_to_top(at, items, Container::List, "APPENDS")?;
                }
                SETITEM => {
                    let v = self.pop(at)?;
                    let k = self.pop(at)?;
                    self.add_to_top(at, vec![k, v], Container::Dict, "SETITEM")?;
                }
                SETITEMS => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(self.err(at, "odd number of items for SETITEMS"));
                    }
                    self.add_to_top(at, items, Container::Dict, "SETITEMS")?;
                }
                ADDITEMS => {
                    let items = self.pop_mark(at)?;
                    self.add_to_top(at, items, Container::Set, "ADDITEMS")?;
                }
                GLOBAL => {
                    let m = self.line()?;
                    let n = self.line()?;
                    let m = self.utf8(at, m)?;
                    let n = self.utf8(at, n)?;
                    let g = names::resolve(&m, &n, self.proto)?;
                    self.stack.push(Obj::Global(g));
                }
                STACK_GLOBAL => {
                    let n = self.pop(at)?;
                    let m = self.pop(at)?;
                    let g = match (self.deref(&m), self.deref(&n)) {
                        (Obj::Str(m), Obj::Str(n)) => names::resolve(m, n, self.proto)?,
                        _ => return Err(self.err(at, "STACK_GLOBAL requires str")),
                    };
                    self.stack.push(Obj::Global(g));
                }
                REDUCE => {
                    let args = self.pop(at)?;
                    let f = self.pop(at)?;
                    let o = self.reduce(at, f, args)?;
                    self.stack.push(o);
                }
                NEWOBJ => {
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let o = self.newobj(at, cls, args)?;
                    self.stack.push(o);
                }
                NEWOBJ_EX => {
                    let kwargs = self.pop(at)?;
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    match self.deref(&kwargs) {
                        Obj::Dict(n) if n.items.is_empty() => {}
                        _ => {
                            return Err(
                                self.err(at, "NEWOBJ_EX with keyword arguments is not supported")
                            )
                        }
                    }
                    let o = self.newobj(at, cls, args)?;
                    self.stack.push(o);
                }
                BUILD => {
                    let state = self.pop(at)?;
                    self.build(at, state)?;
                }
                PUT => {
                    let l = self.line()?;
                    let k = parse_memo_key(l).ok_or_else(|| self.err(at, "invalid PUT key"))?;
                    self.memo_put(at, k)?;
                }
                BINPUT => {
                    let k = self.u8()?;
                    self.memo_put(at, k as u64)?;
                }
                LONG_BINPUT => {
                    let k = self.u32()?;
                    self.memo_put(at, k as u64)?;
                }
                MEMOIZE => {
                    let k = self.memo_len as u64;
                    self.memo_put(at, k)?;
                }
                GET | BINGET | LONG_BINGET => {
                    let k = match op {
                        GET => {
                            let l = self.line()?;
                            parse_memo_key(l).ok_or_else(|| self.err(at, "invalid GET key"))?
                        }
                        BINGET => self.u8()? as u64,
                        _ => self.u32()? as u64,
                    };
                    let s = self.memo_get(at, k)?;
                    let slot = &self.slots[s as usize];
                    slot.refs.set(slot.refs.get().saturating_add(1));
                    self.stack.push(Obj::Ref(s));
                }
                PERSID | BINPERSID => {
                    return Err(self.err(
                        at,
                        "persistent IDs are not supported (Python needs persistent_load for them)",
                    ))
                }
                EXT1 | EXT2 | EXT4 => {
                    return Err(self.err(
                        at,
                        "copyreg extension codes are not supported (none are registered)",
                    ))
                }
                INST | OBJ => {
                    return Err(self.err(
                        at,
                        "protocol 0/1 class instances (INST/OBJ) are not supported",
                    ))
                }
                NEXT_BUFFER | READONLY_BUFFER => {
                    return Err(self.err(
                        at,
                        "out-of-band buffers are not supported (Python needs buffers= for them)",
                    ))
                }
                other => {
                    return Err(self.err(at, format!("invalid load key, 0x{other:02x}")));
                }
            }
        }
    }

    fn parse_int(&self, at: usize, l: &[u8]) -> R<Obj> {
        let s = core::str::from_utf8(l)
            .ok()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(at, "invalid literal for int()"))?;
        let (neg, digits) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let digits = digits.replace('_', "");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(at, format!("invalid literal for int(): {s:?}")));
        }
        if digits.len() > MAX_INT_DIGITS {
            return Err(self.err(
                at,
                format!("integer text longer than Python's limit of {MAX_INT_DIGITS} digits"),
            ));
        }
        let mut b: BigInt = digits
            .parse()
            .map_err(|_| self.err(at, "invalid literal for int()"))?;
        if neg {
            b = -b;
        }
        Ok(int_obj(b))
    }

    /// Items of a tuple argument (through a reference).
    fn tuple_items<'s>(&'s self, at: usize, args: &'s Obj, what: &str) -> R<&'s [Obj]> {
        match self.deref(args) {
            Obj::Tuple(n) => Ok(&n.items),
            other => Err(self.err(
                at,
                format!(
                    "{what} arguments must be a tuple, not {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn global_of(&self, at: usize, f: &Obj, op: &str) -> R<Global> {
        match self.deref(f) {
            Obj::Global(g) => Ok(*g),
            other => Err(self.err(
                at,
                format!("{op} on a {} (only whitelisted classes)", other.type_name()),
            )),
        }
    }

    fn number(&self, at: usize, o: &Obj) -> R<f64> {
        match self.deref(o) {
            Obj::Int(i) => Ok(*i as f64),
            Obj::Bool(b) => Ok(*b as i64 as f64),
            Obj::Big(b) => b
                .to_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| self.err(at, "int too large to convert to float")),
            Obj::Float(f) => Ok(*f),
            other => Err(self.err(
                at,
                format!(
                    "complex() argument must be a number, not {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn latin1(&self, at: usize, s: &str) -> R<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        for c in s.chars() {
            let c = c as u32;
            if c > 0xff {
                return Err(self.err(at, "'latin-1' codec can't encode a character above U+00FF"));
            }
            out.push(c as u8);
        }
        Ok(out)
    }

    /// `bytes`-like argument: bytes, or (str, encoding).
    fn bytes_arg(&self, at: usize, items: &[Obj], what: &str) -> R<Vec<u8>> {
        match items {
            [] => Ok(Vec::new()),
            [b] => match self.deref(b) {
                Obj::Bytes(b) => Ok(b.clone()),
                other => Err(self.err(
                    at,
                    format!("{what}() argument must be bytes, not {}", other.type_name()),
                )),
            },
            [s, enc] => match (self.deref(s), self.deref(enc)) {
                (Obj::Str(s), Obj::Str(enc)) => self.encode(at, s, enc),
                _ => Err(self.err(at, format!("{what}() arguments must be (str, encoding)"))),
            },
            _ => Err(self.err(at, format!("{what}() takes at most 2 arguments"))),
        }
    }

    fn encode(&self, at: usize, s: &str, enc: &str) -> R<Vec<u8>> {
        let e = enc.to_ascii_lowercase().replace('_', "-");
        match e.as_str() {
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => self.latin1(at, s),
            "utf-8" | "utf8" => Ok(s.as_bytes().to_vec()),
            "ascii" if s.is_ascii() => Ok(s.as_bytes().to_vec()),
            _ => Err(self.err(
                at,
                format!("unsupported encoding {enc:?} in _codecs.encode"),
            )),
        }
    }

    fn reduce(&self, at: usize, f: Obj, args: Obj) -> R<Obj> {
        let g = self.global_of(at, &f, "REDUCE")?;
        let name = g.name();
        let items = self.tuple_items(at, &args, &name)?;
        let o = match g {
            Global::Complex => {
                let (re, im) = match items {
                    [] => (0.0, 0.0),
                    [re] => (self.number(at, re)?, 0.0),
                    [re, im] => (self.number(at, re)?, self.number(at, im)?),
                    _ => return Err(self.err(at, "complex() takes at most 2 arguments")),
                };
                Obj::Complex(re, im)
            }
            Global::Set | Global::FrozenSet => {
                let src: Option<&Node> = match items {
                    [] => None,
                    [it] => match self.deref(it) {
                        Obj::List(n) | Obj::Tuple(n) | Obj::Set(n) | Obj::FrozenSet(n) => Some(n),
                        _ => {
                            return Err(self.err(
                                at,
                                format!("{name}() argument must be a list, tuple or set"),
                            ))
                        }
                    },
                    _ => return Err(self.err(at, format!("{name}() takes at most 1 argument"))),
                };
                let node = match src {
                    None => Node::new(),
                    Some(n) => {
                        // A copy (the items may be shared references): charged.
                        let mut items = Vec::with_capacity(n.items.len());
                        for it in &n.items {
                            items.push(self.clone_counted(at, it)?);
                        }
                        Node {
                            items,
                            depth: n.depth,
                        }
                    }
                };
                if g == Global::Set {
                    Obj::Set(node)
                } else {
                    Obj::FrozenSet(node)
                }
            }
            Global::Bytes | Global::Bytearray => {
                let what = if g == Global::Bytes {
                    "bytes"
                } else {
                    "bytearray"
                };
                Obj::Bytes(self.bytes_arg(at, items, what)?)
            }
            Global::CodecsEncode => match items {
                [s] => match self.deref(s) {
                    Obj::Str(s) => Obj::Bytes(s.as_bytes().to_vec()),
                    _ => return Err(self.err(at, "_codecs.encode() argument must be str")),
                },
                [_, _] => Obj::Bytes(self.bytes_arg(at, items, "_codecs.encode")?),
                _ => return Err(self.err(at, "_codecs.encode() takes 1 or 2 arguments")),
            },
            Global::Exception(m, n) => {
                let depth = args.depth() + 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep());
                }
                return Ok(Obj::Inst(Box::new(Inst {
                    kind: Kind::Exception(m, n),
                    args: Some(args),
                    state: Vec::new(),
                    depth,
                })));
            }
            Global::Decimal => match items {
                [s] => match self.deref(s) {
                    Obj::Str(s) => Obj::Str(s.clone()),
                    Obj::Int(i) => Obj::Str(i.to_string()),
                    Obj::Big(b) => Obj::Str(b.to_string()),
                    _ => return Err(self.err(at, "decimal.Decimal() argument must be str")),
                },
                _ => return Err(self.err(at, "decimal.Decimal() takes 1 argument")),
            },
            Global::DateTime | Global::Date => {
                let want = if g == Global::DateTime { 10 } else { 4 };
                let state = match items {
                    [s] => self.deref(s),
                    [s, tz] if matches!(self.deref(tz), Obj::None) => self.deref(s),
                    _ => {
                        return Err(
                            self.err(at, format!("{name} with a time zone or in an unknown form"))
                        )
                    }
                };
                let b: &[u8] = match state {
                    Obj::Bytes(b) => b,
                    _ => return Err(self.err(at, format!("{name} state must be bytes"))),
                };
                if b.len() != want {
                    return Err(self.err(at, format!("{name} state must be {want} bytes")));
                }
                Obj::Str(iso_datetime(b))
            }
            Global::Reconstructor => {
                // copyreg._reconstructor(cls, object, None) is object.__new__(cls).
                match items {
                    [cls, base, st]
                        if matches!(self.deref(base), Obj::Global(Global::Object))
                            && matches!(self.deref(st), Obj::None) =>
                    {
                        let cls = self.clone_counted(at, cls)?;
                        return self.newobj(at, cls, Obj::Tuple(Node::new()));
                    }
                    _ => {
                        return Err(self.err(
                            at,
                            "copyreg._reconstructor is only supported as (cls, object, None)",
                        ))
                    }
                }
            }
            Global::Object => {
                return Err(self.err(at, "builtins.object() instances are not supported"))
            }
            Global::Uri
            | Global::Proxy
            | Global::Daemon
            | Global::ExceptionWrapper
            | Global::Uuid => {
                return Err(self.err(
                    at,
                    format!("{name} is only read in the form Python pickles it (NEWOBJ + BUILD)"),
                ))
            }
        };
        Ok(o)
    }

    fn newobj(&self, at: usize, cls: Obj, args: Obj) -> R<Obj> {
        let g = self.global_of(at, &cls, "NEWOBJ")?;
        let name = g.name();
        let empty = self.tuple_items(at, &args, &name)?.is_empty();
        let kind = match g {
            Global::Exception(m, n) => {
                // cls.__new__(cls, *args) stores args, as BaseException.__new__ does.
                let depth = args.depth() + 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep());
                }
                return Ok(Obj::Inst(Box::new(Inst {
                    kind: Kind::Exception(m, n),
                    args: Some(args),
                    state: Vec::new(),
                    depth,
                })));
            }
            Global::Uri => Kind::Uri,
            Global::Proxy => Kind::Proxy,
            Global::Daemon => Kind::Daemon,
            Global::ExceptionWrapper => Kind::ExceptionWrapper,
            Global::Uuid => Kind::Uuid,
            _ => {
                return Err(self.err(at, format!("NEWOBJ of {name} is not supported")));
            }
        };
        if !empty {
            return Err(self.err(at, format!("NEWOBJ of {name} takes no arguments")));
        }
        Ok(Obj::Inst(Box::new(Inst {
            kind,
            args: None,
            state: Vec::new(),
            depth: 1,
        })))
    }

    fn build(&mut self, at: usize, state: Obj) -> R<()> {
        let state_kind = self.deref(&state).type_name();
        let is_dict_or_none = matches!(self.deref(&state), Obj::Dict(_) | Obj::None);
        let problem: Option<String> = match self.top_mut(at)? {
            Obj::Inst(inst) => {
                if !inst.state.is_empty() {
                    Some("second BUILD on one instance (Python's pickler never writes that)".into())
                } else if matches!(inst.kind, Kind::Exception(..)) && !is_dict_or_none {
                    Some(format!(
                        "exception state must be a dict or None, not {state_kind}"
                    ))
                } else {
                    let depth = (state.depth() + 1).max(inst.depth);
                    if depth > MAX_DEPTH {
                        return Err(too_deep());
                    }
                    inst.depth = depth;
                    inst.state.push(state);
                    None
                }
            }
            _ => Some("BUILD on an object that is not a Pyro class or exception".into()),
        };
        match problem {
            Some(reason) => Err(self.err(at, reason)),
            None => Ok(()),
        }
    }
}

/// Budget units an object costs to copy (references count as one unit: the
/// resolver charges for what they expand to).
fn cost_of(o: &Obj) -> usize {
    let mut total = 0usize;
    let mut todo: Vec<&Obj> = vec![o];
    while let Some(o) = todo.pop() {
        total = total.saturating_add(1);
        match o {
            Obj::Str(s) => total = total.saturating_add(s.len() / 16),
            Obj::Bytes(b) => total = total.saturating_add(b.len() / 16),
            Obj::List(n) | Obj::Tuple(n) | Obj::Set(n) | Obj::FrozenSet(n) | Obj::Dict(n) => {
                todo.extend(n.items.iter())
            }
            Obj::Inst(i) => {
                todo.extend(i.args.iter());
                todo.extend(i.state.iter());
            }
            _ => {}
        }
    }
    total
}

/// A copy of `o` duplicates the references inside it: count them.
fn bump_refs(slots: &[Slot], o: &Obj) {
    let mut todo: Vec<&Obj> = vec![o];
    while let Some(o) = todo.pop() {
        match o {
            Obj::Ref(s) => {
                let c = &slots[*s as usize].refs;
                c.set(c.get().saturating_add(1));
            }
            Obj::List(n) | Obj::Tuple(n) | Obj::Set(n) | Obj::FrozenSet(n) | Obj::Dict(n) => {
                todo.extend(n.items.iter())
            }
            Obj::Inst(i) => {
                todo.extend(i.args.iter());
                todo.extend(i.state.iter());
            }
            _ => {}
        }
    }
}

fn parse_memo_key(l: &[u8]) -> Option<u64> {
    let s = core::str::from_utf8(l).ok()?.trim();
    s.parse::<u64>().ok()
}

/// Python's `float()` of the FLOAT opcode's text.
fn parse_py_float(s: &str) -> Option<f64> {
    let l = s.to_ascii_lowercase();
    let (neg, body) = match l.as_bytes().first() {
        Some(b'-') => (true, &l[1..]),
        Some(b'+') => (false, &l[1..]),
        _ => (false, l.as_str()),
    };
    let v = match body {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            if body.is_empty()
                || !body
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b".e+-_".contains(&b))
            {
                return None;
            }
            body.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// The escapes Python's `codecs.escape_decode` understands (STRING opcode).
fn unescape_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' || i >= s.len() {
            out.push(c);
            continue;
        }
        let e = s[i];
        i += 1;
        match e {
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\n' => {}
            b'x' if i + 2 <= s.len() => {
                match core::str::from_utf8(&s[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => {
                        out.push(b'\\');
                        out.push(b'x');
                    }
                }
            }
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut k = 0;
                while k < 2 && i < s.len() && (b'0'..=b'7').contains(&s[i]) {
                    v = v * 8 + (s[i] - b'0') as u32;
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    out
}

/// Python's `raw-unicode-escape` decoding (UNICODE opcode): Latin-1 bytes,
/// except `\uXXXX` and `\UXXXXXXXX` after an odd run of backslashes.
fn raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i] as char);
            i += 1;
            continue;
        }
        let run = s[i..].iter().take_while(|&&c| c == b'\\').count();
        let next = s.get(i + run).copied();
        if run % 2 == 1 && (next == Some(b'u') || next == Some(b'U')) {
            for _ in 0..run - 1 {
                out.push('\\');
            }
            let n = if next == Some(b'u') { 4 } else { 8 };
            let start = i + run + 1;
            let hex = s.get(start..start + n)?;
            let v = u32::from_str_radix(core::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(char::from_u32(v)?);
            i = start + n;
        } else {
            for _ in 0..run {
                out.push('\\');
            }
            i += run;
        }
    }
    Some(out)
}

/// `datetime.isoformat()` of a pickled (naive) datetime / date state.
fn iso_datetime(b: &[u8]) -> String {
    let year = (b[0] as u32) * 256 + b[1] as u32;
    let mut s = format!("{year:04}-{:02}-{:02}", b[2], b[3]);
    if b.len() == 10 {
        let us = ((b[7] as u32) << 16) | ((b[8] as u32) << 8) | b[9] as u32;
        s.push_str(&format!("T{:02}:{:02}:{:02}", b[4], b[5], b[6]));
        if us != 0 {
            s.push_str(&format!(".{us:06}"));
        }
    }
    s
}

/// Turns the VM's objects into [`Value`]s, expanding memo references.
struct Resolver<'s> {
    slots: &'s mut Vec<Slot>,
    budget: usize,
}

fn recursive() -> SerializeError {
    SerializeError::Malformed {
        codec: CODEC,
        offset: 0,
        reason: "recursive (self-referencing) structure cannot be represented".into(),
    }
}

fn over_budget() -> SerializeError {
    SerializeError::Malformed {
        codec: CODEC,
        offset: 0,
        reason: "memo references expand beyond the size limit".into(),
    }
}

/// Whether Python could use this value as a dict key or set element.
pub(crate) fn hashable(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) | Value::Set(_) => false,
        Value::Tuple(items) => items.iter().all(hashable),
        _ => true,
    }
}

fn check_key(v: &Value) -> R<()> {
    if hashable(v) {
        Ok(())
    } else {
        Err(SerializeError::Malformed {
            codec: CODEC,
            offset: 0,
            reason: "unhashable type as dict key or set element".into(),
        })
    }
}

fn charge(budget: &mut usize, units: usize) -> R<()> {
    if units > *budget {
        return Err(over_budget());
    }
    *budget -= units;
    Ok(())
}

/// Borrowed conversion: copies everything (used for shared memo entries).
///
/// Recursive, so the frame is kept small: everything but the recursion itself
/// lives in helpers that are not inlined.
fn conv_borrowed(slots: &[Slot], budget: &mut usize, o: &Obj, depth: usize) -> R<Value> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    charge(budget, 1)?;
    match o {
        Obj::Ref(s) => {
            let target = slots[*s as usize].obj.as_ref().ok_or_else(recursive)?;
            conv_borrowed(slots, budget, target, depth)
        }
        Obj::List(n) => Ok(Value::List(borrowed_seq(slots, budget, n, depth)?)),
        Obj::Tuple(n) => Ok(Value::Tuple(borrowed_seq(slots, budget, n, depth)?)),
        Obj::Set(n) => Ok(Value::Set(keys(borrowed_seq(slots, budget, n, depth)?)?)),
        Obj::FrozenSet(n) => Ok(Value::FrozenSet(keys(borrowed_seq(
            slots, budget, n, depth,
        )?)?)),
        Obj::Dict(n) => Ok(Value::Dict(pairs(borrowed_seq(slots, budget, n, depth)?)?)),
        Obj::Inst(i) => borrowed_inst(slots, budget, i, depth),
        leaf => borrowed_leaf(budget, leaf),
    }
}

fn borrowed_seq(slots: &[Slot], budget: &mut usize, n: &Node, depth: usize) -> R<Vec<Value>> {
    let mut out = Vec::with_capacity(n.items.len());
    for it in &n.items {
        out.push(conv_borrowed(slots, budget, it, depth + 1)?);
    }
    Ok(out)
}

#[inline(never)]
fn borrowed_inst(slots: &[Slot], budget: &mut usize, i: &Inst, depth: usize) -> R<Value> {
    let args = match &i.args {
        Some(a) => Some(conv_borrowed(slots, budget, a, depth + 1)?),
        None => None,
    };
    let mut states = Vec::with_capacity(i.state.len());
    for s in &i.state {
        states.push(conv_borrowed(slots, budget, s, depth + 1)?);
    }
    instance(i.kind, args, states)
}

#[inline(never)]
fn borrowed_leaf(budget: &mut usize, o: &Obj) -> R<Value> {
    match o {
        Obj::Str(s) => {
            charge(budget, s.len() / 16)?;
            Ok(Value::Str(s.as_str().into()))
        }
        Obj::Bytes(b) => {
            charge(budget, b.len() / 16)?;
            Ok(Value::Bytes(b.clone()))
        }
        other => scalar_value(other),
    }
}

/// Set elements as Python's set keeps them: the first of equal ones.
fn keys(v: Vec<Value>) -> R<Vec<Value>> {
    v.iter().try_for_each(check_key)?;
    Ok(crate::serialize::keys::dedup_set(v))
}

#[inline(never)]
fn scalar_value(o: &Obj) -> R<Value> {
    Ok(match o {
        Obj::None => Value::None,
        Obj::Bool(b) => Value::Bool(*b),
        Obj::Int(i) => Value::Int(*i),
        Obj::Big(b) => Value::BigInt(b.clone()),
        Obj::Float(f) => Value::Float(*f),
        Obj::Complex(re, im) => Value::Complex { re: *re, im: *im },
        Obj::Global(g) => {
            return Err(SerializeError::Unsupported {
                codec: CODEC,
                what: format!("the class object {} as a value", g.name()),
            })
        }
        other => {
            return Err(SerializeError::Malformed {
                codec: CODEC,
                offset: 0,
                reason: format!("internal: {} is not a scalar", other.type_name()),
            })
        }
    })
}

fn pairs(flat: Vec<Value>) -> R<Dict> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        check_key(&k)?;
        out.push((k, v));
    }
    Ok(Dict(crate::serialize::keys::dedup_dict(out)))
}

fn field(name: &str, v: Value) -> (Value, Value) {
    (Value::Str(name.into()), v)
}

fn bad_instance(reason: String) -> SerializeError {
    SerializeError::Malformed {
        codec: CODEC,
        offset: 0,
        reason,
    }
}

/// The class-dict form of an instance (see the module documentation).
fn instance(kind: Kind, args: Option<Value>, states: Vec<Value>) -> R<Value> {
    let (class_name, fields) = match kind {
        Kind::Exception(m, n) => {
            let args = match args {
                Some(Value::Tuple(t)) => Value::Tuple(t),
                _ => return Err(bad_instance(format!("{m}.{n}: args is not a tuple"))),
            };
            // BUILD runs at most once per instance (see Reader::build).
            let attrs = match states.into_iter().next() {
                Some(Value::Dict(d)) => d.0,
                None | Some(Value::None) => Vec::new(),
                Some(_) => return Err(bad_instance(format!("{m}.{n}: state is not a dict"))),
            };
            (
                format!("{m}.{n}"),
                vec![
                    field("__exception__", Value::Bool(true)),
                    field("args", args),
                    field("attributes", Value::Dict(Dict(attrs))),
                ],
            )
        }
        Kind::Uri => match states.into_iter().last() {
            Some(Value::Tuple(t)) if t.len() == 5 => (
                "Pyro4.core.URI".to_string(),
                vec![field("state", Value::Tuple(t))],
            ),
            _ => {
                return Err(bad_instance(
                    "Pyro4.core.URI needs a 5-tuple state".to_string(),
                ))
            }
        },
        Kind::Proxy => match states.into_iter().last() {
            Some(Value::Tuple(t)) if t.len() >= 7 => (
                "Pyro4.core.Proxy".to_string(),
                vec![field("state", Value::Tuple(t))],
            ),
            _ => {
                return Err(bad_instance(
                    "Pyro4.core.Proxy needs a state tuple".to_string(),
                ))
            }
        },
        Kind::Daemon => (
            "Pyro4.core.Daemon".to_string(),
            vec![field("state", Value::Tuple(Vec::new()))],
        ),
        Kind::ExceptionWrapper => {
            let exc = states.into_iter().rev().find_map(|s| match s {
                Value::Dict(d) => {
                    d.0.into_iter()
                        .find(|(k, _)| matches!(k, Value::Str(s) if s == "exception"))
                        .map(|(_, v)| v)
                }
                _ => None,
            });
            match exc {
                Some(e) => (
                    "Pyro4.futures._ExceptionWrapper".to_string(),
                    vec![field("exception", e)],
                ),
                None => {
                    return Err(bad_instance(
                        "Pyro4.futures._ExceptionWrapper without its exception".to_string(),
                    ))
                }
            }
        }
        Kind::Uuid => {
            let int = states.into_iter().rev().find_map(|s| match s {
                Value::Dict(d) => {
                    d.0.into_iter()
                        .find(|(k, _)| matches!(k, Value::Str(s) if s == "int"))
                        .map(|(_, v)| v)
                }
                _ => None,
            });
            let n: Option<u128> = match int {
                Some(Value::Int(i)) => u128::try_from(i).ok(),
                Some(Value::BigInt(b)) => b.to_u128(),
                _ => None,
            };
            let Some(n) = n else {
                return Err(bad_instance("uuid.UUID without a 128-bit int".to_string()));
            };
            // Python's str(uuid): the 128-bit int as 8-4-4-4-12 hex digits.
            return Ok(Value::Str(
                crate::entropy::uuid_string(&n.to_be_bytes()).into(),
            ));
        }
    };
    Ok(Value::Class(Box::new(ClassDict {
        class_name,
        fields: Dict(fields),
    })))
}

impl Resolver<'_> {
    /// Owned conversion: moves strings and containers where possible.
    fn owned(&mut self, o: Obj, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        match o {
            Obj::Ref(s) => {
                let slot = &self.slots[s as usize];
                let left = slot.refs.get().saturating_sub(1);
                slot.refs.set(left);
                if left == 0 {
                    let target = self.slots[s as usize].obj.take().ok_or_else(recursive)?;
                    return self.owned(target, depth);
                }
                let target = slot.obj.as_ref().ok_or_else(recursive)?;
                conv_borrowed(self.slots, &mut self.budget, target, depth)
            }
            Obj::Str(s) => Ok(Value::Str(s.into())),
            Obj::Bytes(b) => Ok(Value::Bytes(b)),
            Obj::List(n) => Ok(Value::List(self.seq(n, depth)?)),
            Obj::Tuple(n) => Ok(Value::Tuple(self.seq(n, depth)?)),
            Obj::Set(n) => Ok(Value::Set(keys(self.seq(n, depth)?)?)),
            Obj::FrozenSet(n) => Ok(Value::FrozenSet(keys(self.seq(n, depth)?)?)),
            Obj::Dict(n) => Ok(Value::Dict(pairs(self.seq(n, depth)?)?)),
            Obj::Inst(i) => self.owned_inst(*i, depth),
            scalar => scalar_value(&scalar),
        }
    }

    #[inline(never)]
    fn owned_inst(&mut self, i: Inst, depth: usize) -> R<Value> {
        let Inst {
            kind, args, state, ..
        } = i;
        let args = match args {
            Some(a) => Some(self.owned(a, depth + 1)?),
            None => None,
        };
        let mut states = Vec::with_capacity(state.len());
        for s in state {
            states.push(self.owned(s, depth + 1)?);
        }
        instance(kind, args, states)
    }

    fn seq(&mut self, n: Node, depth: usize) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(n.items.len());
        for it in n.items {
            out.push(self.owned(it, depth + 1)?);
        }
        Ok(out)
    }
}
