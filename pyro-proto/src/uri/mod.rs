//! Pyro URIs: `PYRO:obj@host:port`, `PYRO:obj@./u:path`, `PYRONAME:name[@host[:port]]`
//! and `PYROMETA:meta1,meta2[@host[:port]]`.
//!
//! Parsing follows `Pyro4.core.URI.__init__` of Pyro4 4.82 quirk for quirk,
//! because a URI is something users copy between Python and Rust programs:
//! whatever Pyro4 accepts is accepted here with the same fields, whatever it
//! rejects is rejected with the same message, and [`Uri`]'s `Display` is
//! Pyro4's `str(uri)`. The one deliberate difference: Python ports are
//! unbounded integers, ours are `i64`; a port beyond that range (which no
//! socket could use) is refused with [`UriError::PortOutOfRange`].
//!
//! The quirks kept on purpose (see the protocol notes, section 1):
//! * the protocol is case-insensitive on input (`pyro:`, `PyroName:`) and
//!   upper-case afterwards;
//! * the object part is the shortest run of non-whitespace before an `@` that
//!   is followed by a location, so the *first* usable `@` splits
//!   (`PYRO:a@b@h:1` is object `a` at host `b@h`) and `PYRONAME:name@` is the
//!   object `name@` without location;
//! * a single trailing `"\n"` is ignored, any other line break is invalid;
//! * the port goes through Python's `int()`: surrounding whitespace, a sign,
//!   underscores and non-ASCII decimal digits are fine, no range check is
//!   made (`-1`, `99999` parse);
//! * PYRONAME and PYROMETA locations without a port get the name server port
//!   ([`NS_PORT`]); a PYRO location needs one;
//! * an IPv6 location `[addr]:port` ignores anything after the port and
//!   takes a missing or non-numeric port as absent;
//! * host names are kept verbatim; an empty host (`PYRO:o@:1`) is accepted
//!   but does not show in the string form.

mod python;

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::value::{ClassDict, Dict, Value};

use python::{decimal_value, is_space, parse_int, IntError};

/// Pyro4's default name server port (`config.NS_PORT`), the port a PYRONAME or
/// PYROMETA location gets when it names only a host.
pub const NS_PORT: i64 = 9090;

/// The class name a URI object carries in serialized payloads
/// (`{'__class__': 'Pyro4.core.URI', 'state': (...)}`).
pub const CLASS_NAME: &str = "Pyro4.core.URI";

/// Why a string (or a serialized state) is not a Pyro URI.
///
/// The messages of the parse errors are exactly Pyro4's `PyroError` texts, so
/// a user sees the same complaint from a Rust and a Python program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The string does not have the shape `PROTOCOL:object[@location]`: no
    /// `pyro...:` prefix, an empty object, whitespace in the object, leading
    /// whitespace, a line break inside.
    #[error("invalid uri")]
    Syntax,
    /// A `PYRO:` URI without `@location`: a direct reference needs to say
    /// where the daemon is.
    #[error("invalid uri")]
    MissingLocation,
    /// The protocol starts with `PYRO` but is not one of `PYRO`, `PYRONAME`,
    /// `PYROMETA` (e.g. the Pyro3 `PYROLOC`).
    #[error("invalid uri (protocol)")]
    Protocol {
        /// The protocol as written, upper-cased.
        protocol: String,
    },
    /// A Unix socket location `./u:<path>` with an empty path or a `:` in it.
    #[error("invalid uri (location)")]
    Location,
    /// A location starting with `[[`: the IPv6 address is bracketed twice.
    #[error("invalid ipv6 address: enclosed in too many brackets")]
    Ipv6Brackets,
    /// A location starting with `[` whose bracketed part is not made of hex
    /// digits, `:` and `%` (zone ids like `%eth0` are therefore refused).
    #[error("invalid ipv6 address: the part between brackets must be a numeric ipv6 address")]
    Ipv6Address,
    /// The port is missing (for `PYRO`) or is not an integer in Python's sense.
    #[error("invalid port in uri, port={}", .port.as_deref().unwrap_or("None"))]
    Port {
        /// The port text as written; `None` when there was none.
        port: Option<String>,
    },
    /// The port is an integer Pyro4 would accept, but it does not fit an
    /// `i64` (deliberate difference with Python's unbounded ints).
    #[error("port out of range in uri, port={port} (it must fit a 64-bit signed integer)")]
    PortOutOfRange {
        /// The port text as written.
        port: String,
    },
    /// A serialized URI state is not a `(protocol, object, sockname, host,
    /// port)` sequence of the right types.
    #[error("invalid serialized Pyro4.core.URI state: {reason}")]
    State {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A constructor was given parts that do not survive the URI string form
    /// (whitespace or an `@` in the object id, a `:` in a socket path...),
    /// so a peer parsing the string would see a different URI.
    #[error("{part} {value:?} cannot be written in a Pyro uri")]
    Unrepresentable {
        /// Which constructor argument: `"object id"`, `"host"`, `"socket path"`.
        part: &'static str,
        /// The offending value.
        value: String,
    },
}

/// The kind of a URI: a direct object reference or one of the two "magic"
/// name-server lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `PYRO:`: an object in the daemon at the given location.
    Pyro,
    /// `PYRONAME:`: a name to look up in a name server.
    PyroName,
    /// `PYROMETA:`: a set of metadata strings to look up in a name server.
    PyroMeta,
}

impl Protocol {
    /// The canonical (upper-case) name, as written in URIs and URI states.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Pyro => "PYRO",
            Protocol::PyroName => "PYRONAME",
            Protocol::PyroMeta => "PYROMETA",
        }
    }

    /// The protocol named exactly (upper-case) `name`.
    fn from_canonical(name: &str) -> Option<Protocol> {
        match name {
            "PYRO" => Some(Protocol::Pyro),
            "PYRONAME" => Some(Protocol::PyroName),
            "PYROMETA" => Some(Protocol::PyroMeta),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Pyro URI, equal to another exactly when Pyro4 would say so: same
/// protocol, object (metadata set for PYROMETA), socket name, host and port.
/// (`Hash` agrees with equality; Pyro4's own hash of a PYROMETA URI depends
/// on set iteration order and may differ for equal URIs.)
///
/// Parse with [`Uri::parse`] / [`str::parse`]; print with `Display`, which is
/// Pyro4's `str(uri)`; move it inside payloads with [`Uri::to_value`] and
/// [`Uri::from_value`].
///
/// ```
/// use pyro_proto::uri::{Protocol, Uri};
///
/// let uri: Uri = "pyroname:printer@nshost".parse()?;
/// assert_eq!(uri.protocol(), Protocol::PyroName);
/// assert_eq!((uri.host(), uri.port()), (Some("nshost"), Some(9090)));
/// assert_eq!(uri.to_string(), "PYRONAME:printer@nshost:9090");
///
/// let daemon_side = Uri::pyro("obj_1", "::1", 4444)?;
/// assert_eq!(daemon_side.to_string(), "PYRO:obj_1@[::1]:4444");
/// assert_eq!(Uri::from_value(&daemon_side.to_value())?, daemon_side);
/// # Ok::<(), pyro_proto::uri::UriError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    protocol: Protocol,
    /// Object id or name; for PYROMETA the metadata as printed (`a,b`).
    object: String,
    /// The PYROMETA metadata (empty for the other protocols).
    metadata: BTreeSet<String>,
    sockname: Option<String>,
    host: Option<String>,
    port: Option<i64>,
}

/// Splits `PROTOCOL:object[@location]` the way Pyro4's regex
/// `(?P<protocol>[Pp][Yy][Rr][Oo][a-zA-Z]*):(?P<object>\S+?)(@(?P<location>.+))?$`
/// does with `re.match`: returns (protocol as written, object, location).
fn split(uri: &str) -> Result<(&str, &str, Option<&str>), UriError> {
    let bytes = uri.as_bytes();
    if bytes.len() < 4 || !bytes[..4].eq_ignore_ascii_case(b"pyro") {
        return Err(UriError::Syntax);
    }
    let proto_len = 4 + bytes[4..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if bytes.get(proto_len) != Some(&b':') {
        return Err(UriError::Syntax);
    }
    let protocol = &uri[..proto_len];
    // `$` also matches before one final newline; `.` never matches a newline.
    let rest = &uri[proto_len + 1..];
    let rest = rest.strip_suffix('\n').unwrap_or(rest);
    if rest.contains('\n') {
        return Err(UriError::Syntax);
    }
    // The object is the shortest non-empty run of non-whitespace after which
    // either `@` + at least one character follows, or the string ends.
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, c)) if !is_space(c) => {}
        _ => return Err(UriError::Syntax),
    }
    for (i, c) in chars {
        if c == '@' && i + 1 < rest.len() {
            return Ok((protocol, &rest[..i], Some(&rest[i + 1..])));
        }
        if is_space(c) {
            return Err(UriError::Syntax);
        }
    }
    Ok((protocol, rest, None))
}

/// A location as `_parseLocation` leaves it: (sockname, host, port).
type Location = (Option<String>, Option<String>, Option<i64>);

/// Pyro4's `URI._parseLocation(location, defaultPort)`.
fn parse_location(location: &str, default_port: Option<i64>) -> Result<Location, UriError> {
    if let Some(sockname) = location.strip_prefix("./u:") {
        if sockname.is_empty() || sockname.contains(':') {
            return Err(UriError::Location);
        }
        return Ok((Some(sockname.to_string()), None, None));
    }
    let (host, port_text) = if let Some(inner) = location.strip_prefix('[') {
        if inner.starts_with('[') {
            return Err(UriError::Ipv6Brackets);
        }
        // \[([0-9a-fA-F:%]+)](:(\d+))? matched at the start, the rest ignored.
        let addr_len = inner
            .bytes()
            .take_while(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'%')
            .count();
        if addr_len == 0 || inner.as_bytes().get(addr_len) != Some(&b']') {
            return Err(UriError::Ipv6Address);
        }
        let after = &inner[addr_len + 1..];
        let port = after.strip_prefix(':').and_then(|p| {
            let len: usize = p
                .chars()
                .take_while(|c| decimal_value(*c).is_some())
                .map(char::len_utf8)
                .sum();
            (len > 0).then(|| &p[..len])
        });
        (&inner[..addr_len], port)
    } else {
        match location.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (location, None),
        }
    };
    let port = match port_text.filter(|p| !p.is_empty()) {
        Some(text) => parse_int(text).map_err(|e| match e {
            IntError::Invalid => UriError::Port {
                port: Some(text.to_string()),
            },
            IntError::TooLarge => UriError::PortOutOfRange {
                port: text.to_string(),
            },
        })?,
        None => default_port.ok_or(UriError::Port { port: None })?,
    };
    Ok((None, Some(host.to_string()), Some(port)))
}

/// Whether `PYROMETA:<joined>[@location]` splits back at the right place: an
/// `@` past the first character must be part of a trailing run of `@`s, and
/// with a location there may be none at all (the first `@` followed by
/// anything starts the location).
fn metadata_reparses(joined: &str, has_location: bool) -> bool {
    match joined.char_indices().skip(1).find(|&(_, c)| c == '@') {
        None => true,
        Some((i, _)) => !has_location && joined[i..].bytes().all(|b| b == b'@'),
    }
}

/// The order PYROMETA metadata is printed in: sorted, except for items with
/// an `@`. A parsed PYROMETA object can hold an `@` only as its very first
/// character or in a trailing run (`PYROMETA:@a,b,c@`), so such items are put
/// first or last, whichever makes the string parse back to the same set.
/// (Pyro4 prints its arbitrary set order and may lose them.)
fn join_metadata(metadata: &BTreeSet<String>, has_location: bool) -> String {
    let (with_at, plain): (Vec<&str>, Vec<&str>) = metadata
        .iter()
        .map(String::as_str)
        .partition(|m| m.contains('@'));
    let join = |front: &[&str], back: &[&str]| {
        let mut items = front.to_vec();
        items.extend_from_slice(&plain);
        items.extend_from_slice(back);
        items.join(",")
    };
    let mut candidates = alloc::vec![join(&[], &with_at), join(&with_at, &[])];
    if let [a, b] = with_at[..] {
        candidates.push(join(&[a], &[b]));
        candidates.push(join(&[b], &[a]));
    }
    let fallback = candidates[0].clone();
    candidates
        .into_iter()
        .find(|j| metadata_reparses(j, has_location))
        .unwrap_or(fallback)
}

impl Uri {
    /// Parses a URI string exactly as `Pyro4.core.URI(string)` does, with the
    /// default name server port [`NS_PORT`] for PYRONAME/PYROMETA hosts.
    pub fn parse(uri: &str) -> Result<Uri, UriError> {
        Uri::parse_with_ns_port(uri, NS_PORT)
    }

    /// Parses like [`Uri::parse`], for a configuration whose `NS_PORT` is not
    /// the default: PYRONAME/PYROMETA locations without a port get `ns_port`.
    pub fn parse_with_ns_port(uri: &str, ns_port: i64) -> Result<Uri, UriError> {
        let (protocol, object, location) = split(uri)?;
        let protocol =
            Protocol::from_canonical(&protocol.to_ascii_uppercase()).ok_or_else(|| {
                UriError::Protocol {
                    protocol: protocol.to_ascii_uppercase(),
                }
            })?;
        let default_port = match protocol {
            Protocol::Pyro => None,
            Protocol::PyroName | Protocol::PyroMeta => Some(ns_port),
        };
        if protocol == Protocol::Pyro && location.is_none() {
            return Err(UriError::MissingLocation);
        }
        let (sockname, host, port) = match location {
            Some(location) => parse_location(location, default_port)?,
            None => (None, None, None),
        };
        let mut uri = Uri {
            protocol,
            object: object.to_string(),
            metadata: BTreeSet::new(),
            sockname,
            host,
            port,
        };
        if protocol == Protocol::PyroMeta {
            // Python strips each item, a no-op: the object has no whitespace.
            uri.set_metadata(object.split(',').map(str::to_string).collect());
        }
        Ok(uri)
    }

    /// Sets the PYROMETA metadata; call after the location fields are set.
    fn set_metadata(&mut self, metadata: BTreeSet<String>) {
        self.object = join_metadata(&metadata, self.location().is_some());
        self.metadata = metadata;
    }

    /// Parses the URI string `PYRO:<object>@<location>` and checks that it
    /// says what the parts say.
    fn checked(
        object: &str,
        location: &str,
        part: &'static str,
        value: &str,
    ) -> Result<Uri, UriError> {
        if object.is_empty() || object.contains(is_space) {
            return Err(UriError::Unrepresentable {
                part: "object id",
                value: object.to_string(),
            });
        }
        if value.contains('\n') {
            return Err(UriError::Unrepresentable {
                part,
                value: value.to_string(),
            });
        }
        let uri = Uri::parse(&format!("PYRO:{object}@{location}"))?;
        if uri.object != object {
            return Err(UriError::Unrepresentable {
                part: "object id",
                value: object.to_string(),
            });
        }
        if uri.host.as_deref().or(uri.sockname.as_deref()) != Some(value) {
            return Err(UriError::Unrepresentable {
                part,
                value: value.to_string(),
            });
        }
        Ok(uri)
    }

    /// The URI a daemon listening on TCP `host:port` hands out for `object`
    /// (Pyro4's `Daemon.uriFor`): `PYRO:object@host:port`, or
    /// `PYRO:object@[host]:port` when `host` is an IPv6 address.
    ///
    /// `host` is kept verbatim (a daemon on `localhost` says `localhost`).
    /// Fails when the result would not parse back to these parts: an empty
    /// object id or one with whitespace or `@`, an empty host, a host with
    /// `:` that is not a bare IPv6 address.
    pub fn pyro(object: &str, host: &str, port: u16) -> Result<Uri, UriError> {
        let location = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        if host.is_empty() {
            return Err(UriError::Unrepresentable {
                part: "host",
                value: String::new(),
            });
        }
        Uri::checked(object, &location, "host", host)
    }

    /// The URI a daemon on the Unix domain socket `path` hands out for
    /// `object`: `PYRO:object@./u:path`. A leading NUL in `path` names a Linux
    /// abstract socket. Fails for an empty path or one containing `:` or a
    /// line break, and for object ids [`Uri::pyro`] refuses.
    pub fn unix(object: &str, path: &str) -> Result<Uri, UriError> {
        if path.is_empty() || path.contains(':') {
            return Err(UriError::Unrepresentable {
                part: "socket path",
                value: path.to_string(),
            });
        }
        Uri::checked(object, &format!("./u:{path}"), "socket path", path)
    }

    /// Whether a daemon location string is a Unix socket one (`./u:...`), as
    /// Pyro4's `URI.isUnixsockLocation`.
    pub fn is_unix_socket_location(location: &str) -> bool {
        location.starts_with("./u:")
    }

    /// PYRO, PYRONAME or PYROMETA.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The object id (PYRO) or name (PYRONAME). For PYROMETA, the metadata
    /// joined with `,` as printed; see [`Uri::metadata`] for the set.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The metadata set of a PYROMETA URI (duplicates removed; may contain an
    /// empty string: `PYROMETA:a,,b`); `None` for the other protocols.
    pub fn metadata(&self) -> Option<&BTreeSet<String>> {
        (self.protocol == Protocol::PyroMeta).then_some(&self.metadata)
    }

    /// The Unix domain socket path of a `./u:` location.
    pub fn sockname(&self) -> Option<&str> {
        self.sockname.as_deref()
    }

    /// The host of a TCP location, verbatim, without IPv6 brackets. May be
    /// empty (`PYRO:o@:1`). `None` for socket and absent locations.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port of a TCP location (the name server port for a PYRONAME /
    /// PYROMETA host given without one). Not range-checked, like Pyro4: use
    /// [`Uri::tcp_port`] to connect.
    pub fn port(&self) -> Option<i64> {
        self.port
    }

    /// The port if it is a usable TCP port number (0..=65535).
    pub fn tcp_port(&self) -> Option<u16> {
        self.port.and_then(|p| u16::try_from(p).ok())
    }

    /// Pyro4's `uri.location`: `host:port`, `[host]:port` for IPv6, `./u:path`,
    /// or `None` when there is no location (or its host/path is empty).
    pub fn location(&self) -> Option<String> {
        match (&self.host, self.port, &self.sockname) {
            (Some(host), Some(port), _) if !host.is_empty() => Some(if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }),
            (_, _, Some(sockname)) if !sockname.is_empty() => Some(format!("./u:{sockname}")),
            _ => None,
        }
    }

    /// The state tuple Pyro4 pickles and serializes:
    /// `(protocol, object, sockname, host, port)` with `None` for absent
    /// parts; a PYROMETA object is a set of strings.
    pub fn state(&self) -> Value {
        let opt_str = |s: &Option<String>| s.as_deref().map_or(Value::None, Value::from);
        let object = match self.protocol {
            Protocol::PyroMeta => Value::Set(
                self.metadata
                    .iter()
                    .map(|m| Value::from(m.as_str()))
                    .collect(),
            ),
            _ => Value::from(self.object.as_str()),
        };
        Value::Tuple(alloc::vec![
            Value::Str(self.protocol.as_str().into()),
            object,
            opt_str(&self.sockname),
            opt_str(&self.host),
            self.port.map_or(Value::None, Value::Int),
        ])
    }

    /// The URI as a payload value:
    /// `{'__class__': 'Pyro4.core.URI', 'state': (protocol, object, sockname, host, port)}`,
    /// what Pyro4's serializers write for a URI object.
    pub fn to_value(&self) -> Value {
        Value::Class(Box::new(ClassDict {
            class_name: CLASS_NAME.to_string(),
            fields: Dict(alloc::vec![(Value::Str("state".into()), self.state())]),
        }))
    }

    /// Rebuilds a URI from its state (`URI.__setstate__`): a tuple, or a list
    /// as json delivers it, of `(protocol, object, sockname, host, port)`.
    /// A PYROMETA object may be a set, frozenset, list or tuple of strings.
    ///
    /// Stricter than Python, which accepts anything and fails later: the
    /// protocol must be canonical, host and port must come together, and a
    /// location is either a socket or a host.
    pub fn from_state(state: &Value) -> Result<Uri, UriError> {
        let bad = |reason| UriError::State { reason };
        let items = match state {
            Value::Tuple(items) | Value::List(items) => items,
            _ => return Err(bad("not a tuple or list")),
        };
        let [protocol, object, sockname, host, port] = items.as_slice() else {
            return Err(bad("not 5 items (protocol, object, sockname, host, port)"));
        };
        let protocol = match protocol {
            Value::Str(p) => Protocol::from_canonical(p).ok_or(bad("unknown protocol"))?,
            _ => return Err(bad("protocol is not a string")),
        };
        let opt_str = |v: &Value, reason| match v {
            Value::None => Ok(None),
            Value::Str(s) => Ok(Some(String::from(s.as_str()))),
            _ => Err(bad(reason)),
        };
        let sockname = opt_str(sockname, "sockname is not a string or None")?;
        let host = opt_str(host, "host is not a string or None")?;
        let port = match port {
            Value::None => None,
            Value::Int(p) => Some(*p),
            Value::BigInt(_) => return Err(bad("port does not fit a 64-bit signed integer")),
            _ => return Err(bad("port is not an int or None")),
        };
        if host.is_some() != port.is_some() {
            return Err(bad("host and port must be both set or both None"));
        }
        if host.is_some() && sockname.is_some() {
            return Err(bad("both a socket name and a host"));
        }
        let mut uri = Uri {
            protocol,
            object: String::new(),
            metadata: BTreeSet::new(),
            sockname,
            host,
            port,
        };
        match (protocol, object) {
            (Protocol::PyroMeta, Value::Set(items))
            | (Protocol::PyroMeta, Value::FrozenSet(items))
            | (Protocol::PyroMeta, Value::List(items))
            | (Protocol::PyroMeta, Value::Tuple(items)) => {
                let metadata = items
                    .iter()
                    .map(|m| match m {
                        Value::Str(s) => Ok(String::from(s.as_str())),
                        _ => Err(bad("metadata item is not a string")),
                    })
                    .collect::<Result<BTreeSet<String>, UriError>>()?;
                uri.set_metadata(metadata);
            }
            (Protocol::PyroMeta, _) => return Err(bad("PYROMETA object is not a collection")),
            (_, Value::Str(object)) => uri.object = object.to_string(),
            _ => return Err(bad("object is not a string")),
        }
        Ok(uri)
    }

    /// Rebuilds a URI from a payload value: the class form
    /// `Value::Class` named `Pyro4.core.URI` with a `state` field (what the
    /// class layer and pickle give), or the raw dict
    /// `{'__class__': 'Pyro4.core.URI', 'state': ...}` a codec decodes.
    pub fn from_value(value: &Value) -> Result<Uri, UriError> {
        let bad = |reason| UriError::State { reason };
        let (class_name, fields) = match value {
            Value::Class(c) => (Some(c.class_name.as_str()), &c.fields),
            Value::Dict(dict) => {
                let name = dict.0.iter().find_map(|(k, v)| match (k, v) {
                    (Value::Str(k), Value::Str(v)) if k == "__class__" => Some(v.as_str()),
                    _ => None,
                });
                (name, dict)
            }
            _ => return Err(bad("not a class dict")),
        };
        if class_name != Some(CLASS_NAME) {
            return Err(bad("not a Pyro4.core.URI"));
        }
        let state = fields
            .0
            .iter()
            .find_map(|(k, v)| matches!(k, Value::Str(k) if k == "state").then_some(v))
            .ok_or(bad("no 'state' entry"))?;
        Uri::from_state(state)
    }
}

impl fmt::Display for Uri {
    /// Pyro4's `str(uri)` (`asString`): `PROTOCOL:object[@location]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.protocol, self.object)?;
        if let Some(location) = self.location() {
            write!(f, "@{location}")?;
        }
        Ok(())
    }
}

impl FromStr for Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

impl TryFrom<&str> for Uri {
    type Error = UriError;

    fn try_from(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

impl TryFrom<&Value> for Uri {
    type Error = UriError;

    /// [`Uri::from_value`].
    fn try_from(value: &Value) -> Result<Uri, UriError> {
        Uri::from_value(value)
    }
}

impl From<&Uri> for Value {
    fn from(uri: &Uri) -> Value {
        uri.to_value()
    }
}

#[cfg(test)]
mod tests;
