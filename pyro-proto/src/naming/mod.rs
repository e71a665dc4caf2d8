//! The Pyro4 name server, without I/O: the `Pyro.NameServer` object and the
//! UDP broadcast locator's datagrams.
//!
//! A Pyro4 name server is an ordinary daemon with one more object, registered
//! under the fixed id [`NAMESERVER_NAME`], that maps logical names to URI
//! strings plus a set of metadata strings. Python programs find it with
//! `Pyro4.locateNS()` and resolve `PYRONAME:`/`PYROMETA:` URIs through it, so
//! the method names, argument handling, return shapes and error texts here
//! follow `Pyro4.naming.NameServer` (4.82) exactly:
//!
//! * `lookup` returns a URI **object**, `list` returns URI **strings**;
//! * `lookup(name, return_metadata=True)` returns `(uri, [metadata])`;
//! * `remove` never removes the name server's own registration;
//! * `list` takes at most one filter.
//!
//! [`NameRegistry`] is the storage with typed methods (usable from Rust
//! directly); [`NameRegistry::call`] is the Pyro-facing dispatch on raw
//! [`Args`]. With the `std` feature, [`NameServer`] wraps a registry in a
//! lock and implements [`Servant`](crate::servant::Servant), ready to be
//! registered in a daemon. The locator functions ([`is_locator_request`],
//! [`locator_reply`], [`parse_locator_reply`]) are the datagram codec of the
//! UDP responder that answers `locateNS()` broadcasts.
//!
//! Deliberate differences with Python, none visible to a well-behaved client:
//! metadata lists come out sorted (Python gives its hash-randomised set
//! order); metadata items must be strings (Python would store any hashable);
//! regular expressions use the Rust `regex` syntax (with the `std` feature;
//! lookaround and backreferences are refused as invalid regexes), anchored at
//! the start as Python's `re.match`.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::servant::Args;
use crate::uri::{Protocol, Uri};
use crate::value::repr::str_repr;
use crate::value::{Dict, RemoteError, Value};

#[cfg(feature = "std")]
mod servant;
#[cfg(feature = "std")]
pub use servant::NameServer;

/// The object id of the name server inside its daemon, and the name it
/// registers itself under (Pyro4's `constants.NAMESERVER_NAME`).
pub const NAMESERVER_NAME: &str = "Pyro.NameServer";

/// The metadata the name server gives its own registration, by which a
/// `PYROMETA:class:Pyro4.naming.NameServer` finds it.
pub const NAMESERVER_CLASS_METADATA: &str = "class:Pyro4.naming.NameServer";

/// Default TCP port of a name server (Pyro4's `NS_PORT`).
pub const NS_PORT: u16 = 9090;

/// Default UDP port of the broadcast responder (Pyro4's `NS_BCPORT`).
pub const NS_BCPORT: u16 = 9091;

/// The one datagram the broadcast responder answers.
pub const LOCATOR_REQUEST: &[u8] = b"GET_NSURI";

/// Both sides read at most this many bytes of a locator datagram (a longer
/// reply is truncated, as in Pyro4).
pub const LOCATOR_MAX_DATAGRAM: usize = 100;

/// The Python class name used in argument error texts.
const CLASS: &str = "NameServer";

/// A name-server failure, with Pyro4's `NamingError` texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamingError {
    /// `lookup` or `set_metadata` of a name nobody registered.
    #[error("unknown name: {0}")]
    UnknownName(String),
    /// `register(..., safe=True)` of a name that exists.
    #[error("name already registered: {0}")]
    AlreadyRegistered(String),
    /// A `regex` filter that does not compile (or, without the `std`
    /// feature, any regex filter).
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// A `PYROMETA` resolution found no registration carrying all the
    /// wanted metadata.
    #[error("no registrations available with desired metadata properties {}", set_repr(.0))]
    NoMetadataMatch(BTreeSet<String>),
}

impl From<NamingError> for RemoteError {
    fn from(e: NamingError) -> RemoteError {
        RemoteError::naming_error(e.to_string())
    }
}

/// Python's `repr` of a set of strings (`{'a', 'b'}`, `set()` when empty),
/// in sorted order.
pub fn set_repr(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        return "set()".to_string();
    }
    let items: Vec<String> = set.iter().map(|s| str_repr(s)).collect();
    format!("{{{}}}", items.join(", "))
}

/// One registration: the URI as registered (a string) and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The URI text, verbatim as registered (a URI object is stored as its
    /// string form).
    pub uri: String,
    /// Metadata strings (empty when none were given).
    pub metadata: BTreeSet<String>,
}

/// Which registrations `list` (and `remove`) select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Everything.
    All,
    /// Names starting with this text (`str.startswith`).
    Prefix(String),
    /// Names a regular expression matches at their start (`re.match`).
    Regex(String),
    /// Registrations whose metadata contains all of these.
    MetadataAll(BTreeSet<String>),
    /// Registrations whose metadata contains at least one of these.
    MetadataAny(BTreeSet<String>),
}

/// The name server's storage (Pyro4's `MemoryStorage` plus the
/// `NameServer` logic). Listing order is registration order, as a Python
/// dict keeps it: re-registering a name keeps its place.
#[derive(Debug, Clone, Default)]
pub struct NameRegistry {
    entries: BTreeMap<String, (u64, Entry)>,
    next_seq: u64,
}

impl NameRegistry {
    /// An empty registry (not even the name server itself).
    pub fn new() -> NameRegistry {
        NameRegistry::default()
    }

    /// A registry holding the name server's own registration, as
    /// `NameServerDaemon` makes at startup: [`NAMESERVER_NAME`] -> `ns_uri`
    /// with metadata `{'class:Pyro4.naming.NameServer'}`.
    pub fn with_self(ns_uri: &Uri) -> NameRegistry {
        let mut r = NameRegistry::new();
        let meta = BTreeSet::from([NAMESERVER_CLASS_METADATA.to_string()]);
        r.insert(NAMESERVER_NAME, ns_uri.to_string(), meta);
        r
    }

    fn insert(&mut self, name: &str, uri: String, metadata: BTreeSet<String>) {
        let entry = Entry { uri, metadata };
        match self.entries.get_mut(name) {
            Some((_, old)) => *old = entry,
            None => {
                self.entries
                    .insert(name.to_string(), (self.next_seq, entry));
                self.next_seq += 1;
            }
        }
    }

    /// Number of registrations, the name server's own included.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Register `name` -> `uri` (overwriting, unless `safe`).
    pub fn register(
        &mut self,
        name: &str,
        uri: &Uri,
        safe: bool,
        metadata: BTreeSet<String>,
    ) -> Result<(), NamingError> {
        self.register_text(name, uri.to_string(), safe, metadata)
    }

    fn register_text(
        &mut self,
        name: &str,
        uri: String,
        safe: bool,
        metadata: BTreeSet<String>,
    ) -> Result<(), NamingError> {
        if safe && self.entries.contains_key(name) {
            return Err(NamingError::AlreadyRegistered(name.to_string()));
        }
        self.insert(name, uri, metadata);
        Ok(())
    }

    /// The registration of `name`.
    pub fn lookup(&self, name: &str) -> Result<&Entry, NamingError> {
        self.entries
            .get(name)
            .map(|(_, e)| e)
            .ok_or_else(|| NamingError::UnknownName(name.to_string()))
    }

    /// Replace the metadata of an existing registration.
    pub fn set_metadata(
        &mut self,
        name: &str,
        metadata: BTreeSet<String>,
    ) -> Result<(), NamingError> {
        match self.entries.get_mut(name) {
            Some((_, e)) => {
                e.metadata = metadata;
                Ok(())
            }
            None => Err(NamingError::UnknownName(name.to_string())),
        }
    }

    /// The registrations `filter` selects, in registration order.
    pub fn list(&self, filter: &Filter) -> Result<Vec<(&str, &Entry)>, NamingError> {
        let matcher = match filter {
            Filter::Regex(pattern) => Some(Matcher::new(pattern)?),
            _ => None,
        };
        let mut out: Vec<(u64, &str, &Entry)> = self
            .entries
            .iter()
            .filter(|(name, (_, e))| match filter {
                Filter::All => true,
                Filter::Prefix(p) => name.starts_with(p.as_str()),
                Filter::Regex(_) => matcher.as_ref().is_some_and(|m| m.matches(name)),
                Filter::MetadataAll(m) => m.is_subset(&e.metadata),
                Filter::MetadataAny(m) => !m.is_disjoint(&e.metadata),
            })
            .map(|(name, (seq, e))| (*seq, name.as_str(), e))
            .collect();
        out.sort_by_key(|(seq, _, _)| *seq);
        Ok(out.into_iter().map(|(_, n, e)| (n, e)).collect())
    }

    /// Pyro4's `remove(name, prefix, regex)`: the named registration if it
    /// exists (returns 1), else everything the prefix, else the regex,
    /// selects. [`NAMESERVER_NAME`] is never removed. Returns how many
    /// registrations went.
    pub fn remove(
        &mut self,
        name: Option<&str>,
        prefix: Option<&str>,
        regex: Option<&str>,
    ) -> Result<usize, NamingError> {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            if name != NAMESERVER_NAME && self.entries.remove(name).is_some() {
                return Ok(1);
            }
        }
        let filter = match (prefix.filter(|p| !p.is_empty()), regex) {
            (Some(p), _) => Filter::Prefix(p.to_string()),
            (None, Some(r)) if !r.is_empty() => Filter::Regex(r.to_string()),
            _ => return Ok(0),
        };
        let doomed: Vec<String> = self
            .list(&filter)?
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| *n != NAMESERVER_NAME)
            .map(String::from)
            .collect();
        for n in &doomed {
            self.entries.remove(n);
        }
        Ok(doomed.len())
    }

    /// Answer a Pyro call of `method` on the name server object, with the
    /// argument binding, type checks, results and error texts of Pyro4's
    /// `NameServer`.
    pub fn call(&mut self, method: &str, args: Args) -> Result<Value, RemoteError> {
        match method {
            "ping" => {
                bind::<0>(method, &[], &[], args)?;
                Ok(Value::None)
            }
            "count" => {
                bind::<0>(method, &[], &[], args)?;
                Ok(Value::Int(self.count() as i64))
            }
            "lookup" => {
                let [name, return_metadata] = bind(method, &["name"], &["return_metadata"], args)?;
                let name = name_arg(&name, "lookup")?;
                let entry = self.lookup(name)?;
                let uri =
                    Uri::parse(&entry.uri).map_err(|e| RemoteError::pyro_error(e.to_string()))?;
                if truthy(&return_metadata) {
                    Ok(Value::Tuple(alloc::vec![
                        uri.to_value(),
                        meta_list(&entry.metadata)
                    ]))
                } else {
                    Ok(uri.to_value())
                }
            }
            "register" => {
                let [name, uri, safe, metadata] =
                    bind(method, &["name", "uri"], &["safe", "metadata"], args)?;
                let uri = match &uri {
                    Value::Str(s) => {
                        Uri::parse(s).map_err(|e| RemoteError::pyro_error(e.to_string()))?;
                        String::from(s.as_str())
                    }
                    v if is_uri_object(v) => Uri::from_value(v)
                        .map_err(|e| RemoteError::pyro_error(e.to_string()))?
                        .to_string(),
                    _ => {
                        return Err(RemoteError::builtin(
                            "TypeError",
                            "only URIs or strings can be registered",
                        ))
                    }
                };
                let Value::Str(name) = name else {
                    return Err(RemoteError::builtin("TypeError", "name must be a str"));
                };
                let metadata = metadata_arg(&metadata, "metadata")?;
                self.register_text(&name, uri, truthy(&safe), metadata)?;
                Ok(Value::None)
            }
            "set_metadata" => {
                let [name, metadata] = bind(method, &["name", "metadata"], &[], args)?;
                let Value::Str(name) = name else {
                    return Err(RemoteError::builtin("TypeError", "name must be a str"));
                };
                let metadata = metadata_arg(&metadata, "metadata")?;
                self.set_metadata(&name, metadata)?;
                Ok(Value::None)
            }
            "remove" => {
                let [name, prefix, regex] = bind(method, &[], &["name", "prefix", "regex"], args)?;
                // A name that is not a string is simply not registered.
                let name = name.as_str().filter(|n| !n.is_empty());
                let prefix = opt_str_arg(&prefix, PREFIX_TYPE)?;
                let regex = opt_str_arg(&regex, REGEX_TYPE)?;
                let n = self.remove(name, prefix, regex)?;
                Ok(Value::Int(n as i64))
            }
            "list" => {
                let [prefix, regex, metadata_all, metadata_any, return_metadata] = bind(
                    method,
                    &[],
                    &[
                        "prefix",
                        "regex",
                        "metadata_all",
                        "metadata_any",
                        "return_metadata",
                    ],
                    args,
                )?;
                let given = [&prefix, &regex, &metadata_all, &metadata_any]
                    .iter()
                    .filter(|v| !v.is_none())
                    .count();
                if given > 1 {
                    return Err(RemoteError::builtin(
                        "ValueError",
                        "you can only filter on one thing at a time",
                    ));
                }
                let filter = if truthy(&prefix) {
                    Filter::Prefix(str_arg(&prefix, PREFIX_TYPE)?.to_string())
                } else if truthy(&regex) {
                    Filter::Regex(str_arg(&regex, REGEX_TYPE)?.to_string())
                } else if truthy(&metadata_all) {
                    Filter::MetadataAll(metadata_arg(&metadata_all, "metadata_all")?)
                } else if truthy(&metadata_any) {
                    Filter::MetadataAny(metadata_arg(&metadata_any, "metadata_any")?)
                } else {
                    Filter::All
                };
                let with_meta = truthy(&return_metadata);
                let mut out = Dict::new();
                for (name, e) in self.list(&filter)? {
                    let v = if with_meta {
                        Value::Tuple(alloc::vec![
                            Value::Str(e.uri.as_str().into()),
                            meta_list(&e.metadata)
                        ])
                    } else {
                        Value::Str(e.uri.as_str().into())
                    };
                    out.0.push((Value::Str(name.into()), v));
                }
                Ok(Value::Dict(out))
            }
            _ => Err(RemoteError::attribute_error(format!(
                "'{CLASS}' object has no attribute '{method}'"
            ))),
        }
    }
}

/// The methods the name server object exposes (its Pyro metadata).
pub const METHODS: [&str; 7] = [
    "count",
    "list",
    "lookup",
    "ping",
    "register",
    "remove",
    "set_metadata",
];

fn meta_list(m: &BTreeSet<String>) -> Value {
    Value::List(m.iter().map(|s| Value::from(s.as_str())).collect())
}

fn is_uri_object(v: &Value) -> bool {
    match v {
        Value::Class(c) => c.class_name == crate::uri::CLASS_NAME,
        Value::Dict(d) => {
            matches!(d.get_str("__class__"), Some(Value::Str(c)) if c == crate::uri::CLASS_NAME)
        }
        _ => false,
    }
}

/// Python truthiness of an argument value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Complex { re, im } => *re != 0.0 || *im != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
        Value::Dict(d) => !d.is_empty(),
        _ => true,
    }
}

fn type_error(msg: String) -> RemoteError {
    RemoteError::builtin("TypeError", msg)
}

fn name_arg<'a>(v: &'a Value, _method: &str) -> Result<&'a str, RemoteError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(type_error(format!(
            "can only concatenate str (not \"{}\") to str",
            other.type_name()
        ))),
    }
}

/// Python's complaint about a non-str prefix (`str.startswith`); `{}` is the type.
const PREFIX_TYPE: &str = "startswith first arg must be str or a tuple of str, not {}";
/// Python's complaint about a non-str regex (`re.compile`).
const REGEX_TYPE: &str = "first argument must be string or compiled pattern";

/// A string argument; otherwise a `TypeError` with Python's text
/// (`complaint`, its `{}` replaced by the Python type name).
fn str_arg<'a>(v: &'a Value, complaint: &str) -> Result<&'a str, RemoteError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(type_error(complaint.replace("{}", other.type_name()))),
    }
}

fn opt_str_arg<'a>(v: &'a Value, complaint: &str) -> Result<Option<&'a str>, RemoteError> {
    if !truthy(v) {
        return Ok(None);
    }
    str_arg(v, complaint).map(Some)
}

/// A metadata argument: None (or anything falsy) for none, else a non-str
/// iterable of strings.
fn metadata_arg(v: &Value, what: &str) -> Result<BTreeSet<String>, RemoteError> {
    if let Value::Str(_) = v {
        return Err(type_error(format!(
            "{what} should not be a str, but another iterable (set, list, etc)"
        )));
    }
    if !truthy(v) {
        return Ok(BTreeSet::new());
    }
    let items: Vec<&Value> = match v {
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
            v.iter().collect()
        }
        Value::Dict(d) => d.keys().collect(),
        other => {
            return Err(type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::Str(s) => Ok(String::from(s.as_str())),
            other => Err(type_error(format!(
                "{what} items must be str, not {}",
                other.type_name()
            ))),
        })
        .collect()
}

/// Binds positional and keyword arguments to the parameters `required` then
/// `optional` (defaults: None), with CPython's error texts for a method of
/// `NameServer`. Returns the values in parameter order.
fn bind<const N: usize>(
    method: &str,
    required: &[&str],
    optional: &[&str],
    args: Args,
) -> Result<[Value; N], RemoteError> {
    let params: Vec<&str> = required.iter().chain(optional).copied().collect();
    debug_assert_eq!(params.len(), N);
    let mut slots: Vec<Option<Value>> = (0..N).map(|_| None).collect();
    let given = args.vargs.len();
    if given > N {
        // CPython counts `self`.
        let takes = if optional.is_empty() {
            let n = required.len() + 1;
            format!("{n} positional argument{}", if n == 1 { "" } else { "s" })
        } else {
            format!(
                "from {} to {} positional arguments",
                required.len() + 1,
                N + 1
            )
        };
        let were = if given + 1 == 1 { "was" } else { "were" };
        return Err(type_error(format!(
            "{CLASS}.{method}() takes {takes} but {} {were} given",
            given + 1
        )));
    }
    for (slot, v) in slots.iter_mut().zip(args.vargs) {
        *slot = Some(v);
    }
    for (k, v) in args.kwargs.0 {
        let key = match &k {
            Value::Str(s) => s.as_str(),
            _ => return Err(type_error("keywords must be strings".to_string())),
        };
        let Some(i) = params.iter().position(|p| *p == key) else {
            return Err(type_error(format!(
                "{CLASS}.{method}() got an unexpected keyword argument '{key}'"
            )));
        };
        if slots[i].is_some() {
            return Err(type_error(format!(
                "{CLASS}.{method}() got multiple values for argument '{key}'"
            )));
        }
        slots[i] = Some(v);
    }
    let missing: Vec<String> = required
        .iter()
        .enumerate()
        .filter(|(i, _)| slots[*i].is_none())
        .map(|(_, p)| format!("'{p}'"))
        .collect();
    if !missing.is_empty() {
        let list = match missing.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        };
        let n = missing.len();
        return Err(type_error(format!(
            "{CLASS}.{method}() missing {n} required positional argument{}: {list}",
            if n == 1 { "" } else { "s" }
        )));
    }
    let values: Vec<Value> = slots
        .into_iter()
        .map(|s| s.unwrap_or(Value::None))
        .collect();
    values
        .try_into()
        .map_err(|_| RemoteError::pyro_error("internal: argument count"))
}

/// A compiled `regex` filter, anchored at the start like `re.match`.
struct Matcher {
    #[cfg(feature = "std")]
    re: regex::Regex,
}

impl Matcher {
    #[cfg(feature = "std")]
    fn new(pattern: &str) -> Result<Matcher, NamingError> {
        // Compile the pattern alone first, so that an unbalanced `)` is not
        // repaired by the anchoring group.
        regex::Regex::new(pattern).map_err(|e| NamingError::InvalidRegex(e.to_string()))?;
        let re = regex::Regex::new(&format!("^(?:{pattern})"))
            .map_err(|e| NamingError::InvalidRegex(e.to_string()))?;
        Ok(Matcher { re })
    }

    #[cfg(not(feature = "std"))]
    fn new(pattern: &str) -> Result<Matcher, NamingError> {
        let _ = pattern;
        Err(NamingError::InvalidRegex(
            "regex filters need pyro-proto's std feature".to_string(),
        ))
    }

    #[cfg(feature = "std")]
    fn matches(&self, name: &str) -> bool {
        self.re.is_match(name)
    }

    #[cfg(not(feature = "std"))]
    fn matches(&self, _name: &str) -> bool {
        false
    }
}

/// Whether a received datagram (at most [`LOCATOR_MAX_DATAGRAM`] bytes of
/// it) asks for the name server's URI: exactly `GET_NSURI`, nothing else.
pub fn is_locator_request(datagram: &[u8]) -> bool {
    datagram == LOCATOR_REQUEST
}

/// The reply datagram of the broadcast responder: the name server's
/// internal URI as ISO-8859-1 text. A name server bound to `0.0.0.0` puts
/// the address of the interface that routes to the requester in its place
/// (`interface_ip`, when the caller could find it). `None` when the URI has a
/// character ISO-8859-1 cannot encode (Pyro4's responder fails on it too).
pub fn locator_reply(ns_uri: &Uri, interface_ip: Option<&str>) -> Option<Vec<u8>> {
    let mut uri = ns_uri.clone();
    if let (Some("0.0.0.0"), Some(ip), Some(port)) = (uri.host(), interface_ip, uri.tcp_port()) {
        if let Ok(u) = Uri::pyro(uri.object(), ip, port) {
            uri = u;
        }
    }
    uri.to_string()
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Reads a locator reply (ISO-8859-1 URI text) into the name server's URI.
pub fn parse_locator_reply(datagram: &[u8]) -> Result<Uri, crate::uri::UriError> {
    let text: String = datagram.iter().map(|b| char::from(*b)).collect();
    Uri::parse(&text)
}

/// The name-server URI `locateNS(host, port)` connects to:
/// `PYRO:Pyro.NameServer@host:port`, or `PYRO:Pyro.NameServer@./u:path`
/// when `host` is a Unix socket location `./u:path` (port unused).
pub fn nameserver_uri(host: &str, port: u16) -> Result<Uri, crate::uri::UriError> {
    match host.strip_prefix("./u:") {
        Some(path) => Uri::unix(NAMESERVER_NAME, path),
        None => Uri::pyro(NAMESERVER_NAME, host, port),
    }
}

/// What a client must do to resolve a magic URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A `PYRO` URI: use it as is.
    Direct(Uri),
    /// Call `lookup(name)` on the name server at `host:port` (`host` None:
    /// locate it).
    Lookup {
        /// The registered name.
        name: String,
        /// Name-server host, if the URI names one.
        host: Option<String>,
        /// Name-server port, if the URI names one.
        port: Option<u16>,
    },
    /// Call `list(metadata_all=metadata)` on the name server and pick one
    /// of the URIs at random.
    Meta {
        /// The wanted metadata.
        metadata: BTreeSet<String>,
        /// Name-server host, if the URI names one.
        host: Option<String>,
        /// Name-server port, if the URI names one.
        port: Option<u16>,
    },
}

/// How to resolve `uri` (Pyro4's `_resolve`).
pub fn resolution(uri: &Uri) -> Resolution {
    let host = uri.host().map(str::to_string);
    let port = uri.tcp_port();
    match uri.protocol() {
        Protocol::Pyro => Resolution::Direct(uri.clone()),
        Protocol::PyroName => Resolution::Lookup {
            name: uri.object().to_string(),
            host,
            port,
        },
        Protocol::PyroMeta => Resolution::Meta {
            metadata: uri.metadata().cloned().unwrap_or_default(),
            host,
            port,
        },
    }
}

/// The `list(metadata_all=...)` reply of a PYROMETA resolution turned into
/// the candidate URIs (in reply order); none is
/// [`NamingError::NoMetadataMatch`].
pub fn meta_candidates(
    reply: &Value,
    metadata: &BTreeSet<String>,
) -> Result<Vec<Uri>, RemoteError> {
    let dict = reply
        .as_dict()
        .ok_or_else(|| RemoteError::pyro_error("name server list() did not return a dict"))?;
    let mut out = Vec::new();
    for v in dict.values() {
        let text = match v {
            Value::Str(s) => s.as_str(),
            Value::Tuple(t) | Value::List(t) => t.first().and_then(Value::as_str).unwrap_or(""),
            _ => "",
        };
        out.push(Uri::parse(text).map_err(|e| RemoteError::pyro_error(e.to_string()))?);
    }
    if out.is_empty() {
        return Err(NamingError::NoMetadataMatch(metadata.clone()).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
