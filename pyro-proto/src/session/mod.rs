//! Per-connection protocol state machines: the daemon's [`ServerSession`] and
//! the proxy's client session.
//!
//! A session owns one connection's framing, handshake, sequence numbers,
//! serialization, compression and HMAC. It is Sans-IO: bytes go in with
//! `receive`, bytes to send come out of `poll_transmit`, and what happened
//! comes out of `poll_event`. It knows nothing about registered objects: the
//! daemon core answers the requests a server session reports.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::message::{Annotations, FrameError};
use crate::serialize::SerializeError;
use crate::value::{Dict, RemoteError, Value};

pub mod args;
pub mod client;
pub mod server;

pub use client::{
    BatchCall, CallId, CallOptions, ClientConfig, ClientEvent, ClientSession, Response,
};
pub use server::{
    HandshakeRequest, Request, ServerConfig, ServerEvent, ServerSession,
    DEFAULT_MAX_DECOMPRESSED_SIZE,
};

/// Payloads at least this large are queued as a chunk of their own after
/// the header instead of being copied into one frame buffer: a transport
/// writes them as they are (for small messages one buffer, one write, is
/// cheaper).
pub const SEPARATE_PAYLOAD_SIZE: usize = 64 * 1024;

/// Queue `msg`, whose payload it holds itself, as one frame. Only PING and
/// its `pong` (a few bytes) go this way; serialized payloads go through
/// [`queue_serialized`].
fn queue_frame(
    encoder: &crate::message::Encoder,
    msg: &crate::message::Message,
    out: &mut alloc::collections::VecDeque<bytes::Bytes>,
) -> Result<(), FrameError> {
    out.push_back(bytes::Bytes::from(encoder.encode(msg)?));
    Ok(())
}

/// A session keeps the buffer it serializes outgoing payloads into from
/// message to message; one that grew beyond this for a large payload is
/// given back to the allocator down to this size once the frame is queued.
pub const PAYLOAD_BUFFER_KEEP: usize = 64 * 1024;

/// Queue a message whose payload a session serialized into `payload`, its
/// reusable buffer (`head.data` is not used): compressed first if
/// `compress` (Pyro4's rule, see [`Message::compress`](crate::message::Message::compress)),
/// then framed and signed from the buffer as
/// [`Encoder::encode`](crate::message::Encoder::encode) frames a message
/// holding that payload. A large payload (see [`SEPARATE_PAYLOAD_SIZE`])
/// is handed over as it is, buffer and all, instead of being copied. Either
/// way `payload` is left empty, with at most [`PAYLOAD_BUFFER_KEEP`] bytes
/// of room kept.
fn queue_serialized(
    encoder: &crate::message::Encoder,
    head: &mut crate::message::Message,
    payload: &mut Vec<u8>,
    compress: bool,
    out: &mut alloc::collections::VecDeque<bytes::Bytes>,
) -> Result<(), FrameError> {
    use crate::message::Flags;
    let compressed = if compress && !head.flags.contains(Flags::COMPRESSED) {
        crate::message::compress_payload(payload)
    } else {
        None
    };
    if compressed.is_some() {
        head.flags.insert(Flags::COMPRESSED);
    }
    let data: &[u8] = compressed.as_deref().unwrap_or(payload);
    let result = if data.len() >= SEPARATE_PAYLOAD_SIZE {
        encoder.encode_head_with(head, data).map(|frame_head| {
            out.push_back(bytes::Bytes::from(frame_head));
            // The payload goes as it is: the zlib stream, or the session's
            // buffer itself (a fresh one is grown for the next message).
            let data = compressed.unwrap_or_else(|| core::mem::take(payload));
            out.push_back(bytes::Bytes::from(data));
        })
    } else {
        let mut frame = Vec::new();
        encoder
            .encode_with_into(head, data, &mut frame)
            .map(|()| out.push_back(bytes::Bytes::from(frame)))
    };
    payload.clear();
    payload.shrink_to(PAYLOAD_BUFFER_KEEP);
    result
}

/// What a remote object offers, as Pyro4's `get_metadata` reports it: the
/// proxy uses it to decide which calls are oneway and which names are
/// attributes rather than methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Exposed method names (oneway ones included).
    pub methods: Vec<String>,
    /// Methods the client should call without waiting for a reply.
    pub oneway: Vec<String>,
    /// Exposed attribute (property) names.
    pub attrs: Vec<String>,
}

impl Metadata {
    /// The dict Pyro4 sends: `{'methods': .., 'oneway': .., 'attrs': ..}` with
    /// sets, or lists when `as_lists` (the handshake uses lists).
    pub fn to_value(&self, as_lists: bool) -> Value {
        let seq = |names: &[String]| {
            let items = names
                .iter()
                .map(|n| Value::Str(n.as_str().into()))
                .collect();
            if as_lists {
                Value::List(items)
            } else {
                Value::Set(items)
            }
        };
        Value::Dict(Dict(alloc::vec![
            (Value::Str("methods".into()), seq(&self.methods)),
            (Value::Str("oneway".into()), seq(&self.oneway)),
            (Value::Str("attrs".into()), seq(&self.attrs)),
        ]))
    }

    /// Read the metadata dict from any serializer (sets, lists or tuples).
    pub fn from_value(value: &Value) -> Result<Metadata, SessionError> {
        let Value::Dict(dict) = value else {
            return Err(SessionError::BadReply("metadata is not a dict".into()));
        };
        let names = |key: &str| -> Result<Vec<String>, SessionError> {
            let found = dict
                .0
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v);
            match found {
                None => Ok(Vec::new()),
                Some(Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v)) => v
                    .iter()
                    .map(|n| match n {
                        Value::Str(s) => Ok(String::from(s.as_str())),
                        _ => Err(SessionError::BadReply(alloc::format!(
                            "metadata '{key}' holds a non-string name"
                        ))),
                    })
                    .collect(),
                Some(_) => Err(SessionError::BadReply(alloc::format!(
                    "metadata '{key}' is not a collection"
                ))),
            }
        };
        Ok(Metadata {
            methods: names("methods")?,
            oneway: names("oneway")?,
            attrs: names("attrs")?,
        })
    }
}

/// Why a session ended. A closed session sends and reports nothing more.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloseReason {
    /// The peer closed the connection (between messages).
    #[error("connection closed by peer")]
    PeerClosed,
    /// The byte stream broke the framing rules (or the peer closed mid-message).
    #[error("protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The daemon refused the connection: a CONNECTFAIL was sent (server) or
    /// received (client; also when the `get_metadata` call that stands in
    /// for metadata in the handshake raised). The text is the daemon's reason.
    #[error("handshake failed: {0}")]
    HandshakeFailed(String),
    /// A message type that is not allowed in this state (e.g. a second CONNECT).
    #[error("unexpected message of type {0}")]
    UnexpectedMessage(u16),
    /// An error reply was sent after which Pyro4 drops the connection
    /// (serialization and security errors, `@callback` failures).
    #[error("closed after an error reply: {0}")]
    AfterError(String),
    /// The local side asked for it.
    #[error("closed by the local side")]
    Local,
    /// No reply arrived in time (Pyro4's `TimeoutError`, after which the
    /// proxy drops its connection).
    #[error("receiving: timeout")]
    TimedOut,
    /// The peer's reply broke the protocol (wrong seq or serializer, an
    /// undecodable payload): Pyro4 raises a ProtocolError or SerializeError
    /// and drops the connection.
    #[error("{0}")]
    Protocol(String),
}

/// Errors of a session command or of a reply that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    /// The session is closed; start a new one (a reconnect).
    #[error("the connection is closed: {0}")]
    Closed(CloseReason),
    /// The command is not valid in the session's current state.
    #[error("not allowed now: {0}")]
    InvalidState(&'static str),
    /// The given id does not name a pending handshake or request.
    #[error("no pending request or handshake with that id")]
    UnknownId,
    /// A payload could not be (de)serialized.
    #[error(transparent)]
    Serialize(#[from] SerializeError),
    /// Framing failed (e.g. annotations too large to send).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer's reply does not have the shape Pyro4 gives it.
    #[error("malformed reply: {0}")]
    BadReply(String),
}

/// Identifies one reported request (or handshake) of a session, so the
/// answer goes to the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// How the daemon answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A normal RESULT: the value, plus the servant's response annotations
    /// (sent with the correlation id).
    Value {
        /// The return value.
        value: Value,
        /// Annotations the servant set for the reply.
        response_annotations: Annotations,
    },
    /// The results of a batch, in order; a failure is the last entry, as a
    /// `Pyro4.futures._ExceptionWrapper` class value.
    Batch {
        /// One entry per executed call.
        results: Vec<Value>,
        /// Annotations the servants set for the reply.
        response_annotations: Annotations,
    },
    /// An exception RESULT; `close` drops the connection after sending, as
    /// Pyro4 does after serialization and security errors and `@callback`
    /// failures.
    Exception {
        /// The exception.
        error: RemoteError,
        /// Whether to close the connection after the reply.
        close: bool,
    },
    /// The call returned an iterator, now registered under `stream_id`.
    Stream {
        /// The 36-character uuid text the client uses to pull items.
        stream_id: String,
    },
    /// No reply (a oneway call); `close` drops the connection.
    NoReply {
        /// Whether to close the connection.
        close: bool,
    },
}

impl Outcome {
    /// A plain value reply with no response annotations.
    pub fn value(value: Value) -> Outcome {
        Outcome::Value {
            value,
            response_annotations: Annotations::new(),
        }
    }
}

/// `error` with a traceback Python clients can print, if it has none: the
/// lines Python would show for an exception raised at `location` (a Python
/// client prints `_pyroTraceback` verbatim as the remote traceback).
pub fn traced(mut error: RemoteError, location: &str) -> RemoteError {
    if error.traceback.is_none() {
        let message = error.message();
        let short = error.short_name().to_string();
        let last = if message.is_empty() {
            alloc::format!("{short}\n")
        } else {
            alloc::format!("{short}: {message}\n")
        };
        error.traceback = Some(alloc::format!(
            "Traceback (most recent call last):\n  File \"<rust>\", line 0, in {location}\n{last}"
        ));
    }
    error
}
