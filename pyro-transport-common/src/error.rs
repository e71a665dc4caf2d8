//! What can go wrong with a proxy call (blocking or async), in terms a
//! caller can act on: which address, which phase, what the daemon said.

use std::fmt;
use std::io;
use std::time::Duration;

use pyro_proto::session::args::ArgsError;
use pyro_proto::session::{CloseReason, SessionError};
use pyro_proto::value::RemoteError;
use pyro_proto::{SerializeError, UriError};

/// The step of a request that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening the socket.
    Connecting,
    /// Writing a request.
    Sending,
    /// Waiting for the reply (or the handshake answer).
    Receiving,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connecting => "connecting",
            Phase::Sending => "sending",
            Phase::Receiving => "receiving",
        })
    }
}

/// Errors of a proxy (`pyro_transport_std::Proxy`, `pyro_transport_smol::Proxy`).
///
/// Addresses are printed as Pyro4 prints them (`('127.0.0.1', 9999)` for
/// TCP, the path for a Unix socket), so messages match a Python client's.
/// After [`TimedOut`](Self::TimedOut), [`ConnectionClosed`](Self::ConnectionClosed),
/// [`Protocol`](Self::Protocol) and a remote `Pyro4.errors.CommunicationError`
/// the proxy has dropped its connection; the next call connects again.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The text is not a Pyro URI.
    #[error("invalid Pyro URI '{uri}': {source}")]
    InvalidUri {
        /// The text given.
        uri: String,
        /// What is wrong with it.
        #[source]
        source: UriError,
    },
    /// A name-server failure on this side (Pyro4 raises `NamingError`):
    /// no name server found (`Failed to locate the nameserver`, with the
    /// last connection error as source), or no registration with the
    /// metadata a PYROMETA URI asks for. A name the name server does not
    /// know is its own remote `NamingError`, [`Remote`](Self::Remote).
    #[error("{message}")]
    Naming {
        /// Pyro4's `NamingError` text.
        message: String,
        /// What failed underneath, if anything.
        #[source]
        source: Option<Box<ProxyError>>,
    },
    /// The URI names no place to connect to (or a Unix socket on a platform without them).
    #[error("{uri}: no location to connect to (expected PYRO:object@host:port or PYRO:object@./u:socketpath)")]
    NoLocation {
        /// The URI.
        uri: String,
    },
    /// Nothing listens at the address.
    #[error("cannot connect to {address}: connection refused")]
    ConnectionRefused {
        /// The daemon's address.
        address: String,
    },
    /// The socket could not be opened (name resolution, unreachable network, missing socket file...).
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The daemon's address.
        address: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The daemon refused the connection (CONNECTFAIL); `reason` is its text,
    /// e.g. `hmac key config not symmetric` or `unknown object`.
    #[error("connection to {address} rejected: {reason}")]
    Rejected {
        /// The daemon's address.
        address: String,
        /// The daemon's reason.
        reason: String,
    },
    /// The handshake failed on our side: the answer did not pass the HMAC
    /// check, could not be decoded, or the object exposes nothing.
    #[error("cannot connect to {address}: {reason}")]
    Handshake {
        /// The daemon's address.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// The proxy's timeout expired (Pyro4's `TimeoutError`).
    #[error("{phase}: timeout ({timeout:?}) on the connection to {address}")]
    TimedOut {
        /// The daemon's address.
        address: String,
        /// What was being done.
        phase: Phase,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The connection broke (the daemon closed it, or a read/write failed).
    #[error("connection to {address} closed: {reason}")]
    ConnectionClosed {
        /// The daemon's address.
        address: String,
        /// What happened.
        reason: String,
    },
    /// The daemon's reply broke the protocol (wrong seq or serializer,
    /// undecodable data, bad framing or HMAC).
    #[error("protocol error on the connection to {address}: {reason}")]
    Protocol {
        /// The daemon's address.
        address: String,
        /// What was wrong.
        reason: String,
    },
    /// The remote method raised: Python class, message and remote traceback
    /// are in the [`RemoteError`].
    #[error("remote exception {0}")]
    Remote(RemoteError),
    /// Arguments or a value to send could not be serialized.
    #[error("cannot serialize the {what}: {source}")]
    Serialize {
        /// Which part of the request.
        what: &'static str,
        /// Why.
        #[source]
        source: SerializeError,
    },
    /// Call arguments were not given as a tuple (or keyword arguments not as a
    /// map or struct with string keys).
    #[error("{what} must be {expected}, found a Python {found}")]
    Arguments {
        /// `positional arguments` or `keyword arguments`.
        what: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// The Python type the Rust value became.
        found: String,
    },
    /// A reply could not be converted into the requested Rust type.
    #[error("cannot convert the result of {method} into {target}: {source}")]
    Deserialize {
        /// The method (or attribute) whose result it was.
        method: String,
        /// The Rust type asked for.
        target: &'static str,
        /// Why.
        #[source]
        source: SerializeError,
    },
    /// The object's metadata does not list the method or attribute
    /// (Pyro4's client-side `AttributeError`); nothing was sent.
    #[error("remote object '{uri}' has no exposed {kind} '{name}'")]
    NoSuchMember {
        /// The proxy's URI.
        uri: String,
        /// `attribute or method` or `attribute`.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A method returned a stream where a value was expected (the stream was
    /// closed again); call it with the proxy's `stream`.
    #[error("{method} returned a stream (an iterator); use Proxy::stream to read it")]
    UnexpectedStream {
        /// The method.
        method: String,
    },
    /// A reply of an unexpected kind (e.g. a batch result for a plain call).
    #[error("unexpected reply to {method}: {what}")]
    UnexpectedReply {
        /// The method.
        method: String,
        /// What came back.
        what: String,
    },
    /// The stream's connection was dropped (released, or after an error):
    /// as in Pyro4, a stream lives on the connection that opened it.
    #[error("the proxy for this stream result has been closed")]
    StreamClosed,
    /// The proxy's `reconnect` gave up.
    #[error("failed to reconnect after {tries} tries; last error: {last}")]
    ReconnectFailed {
        /// How many connection attempts were made.
        tries: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<ProxyError>,
    },
}

impl ProxyError {
    /// Why a session to `address` closed (`timeout`: the proxy's), as the
    /// error Pyro4's proxy raises for it.
    pub fn closed(reason: CloseReason, address: &str, timeout: Option<Duration>) -> ProxyError {
        let address = address.to_string();
        match reason {
            CloseReason::TimedOut => ProxyError::TimedOut {
                address,
                phase: Phase::Receiving,
                timeout: timeout.unwrap_or_default(),
            },
            CloseReason::PeerClosed | CloseReason::Local | CloseReason::AfterError(_) => {
                ProxyError::ConnectionClosed {
                    address,
                    reason: reason.to_string(),
                }
            }
            CloseReason::HandshakeFailed(reason) => ProxyError::Rejected { address, reason },
            CloseReason::Frame(e) => ProxyError::Protocol {
                address,
                reason: e.to_string(),
            },
            CloseReason::UnexpectedMessage(code) => ProxyError::Protocol {
                address,
                reason: format!("invalid msg type {code} received"),
            },
            CloseReason::Protocol(reason) => ProxyError::Protocol { address, reason },
        }
    }

    /// Why a session closed while connecting: failures on our side of the
    /// handshake are [`Handshake`](Self::Handshake), the rest as [`closed`](Self::closed).
    pub fn handshake_failed(
        reason: CloseReason,
        address: &str,
        timeout: Option<Duration>,
    ) -> ProxyError {
        let text = match reason {
            CloseReason::Frame(e) => e.to_string(),
            CloseReason::Protocol(text) => text,
            CloseReason::UnexpectedMessage(code) => format!("invalid msg type {code} received"),
            other => return ProxyError::closed(other, address, timeout),
        };
        ProxyError::Handshake {
            address: address.to_string(),
            reason: text,
        }
    }

    /// Why opening a socket to `address` failed: refused, timed out (only
    /// when the proxy has a `timeout`; a blocking socket reports that as
    /// `WouldBlock` or `TimedOut`), or anything else the OS said.
    pub fn connect_failed(
        source: io::Error,
        address: &str,
        timeout: Option<Duration>,
    ) -> ProxyError {
        let address = address.to_string();
        match (source.kind(), timeout) {
            (io::ErrorKind::ConnectionRefused, _) => ProxyError::ConnectionRefused { address },
            (io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock, Some(timeout)) => {
                ProxyError::TimedOut {
                    address,
                    phase: Phase::Connecting,
                    timeout,
                }
            }
            _ => ProxyError::Connect { address, source },
        }
    }

    /// A read or write on an open connection to `address` failed: the
    /// proxy's `timeout` passed, or the connection is gone.
    pub fn io_failed(
        e: io::Error,
        phase: Phase,
        address: &str,
        timeout: Option<Duration>,
    ) -> ProxyError {
        match (e.kind(), timeout) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(timeout)) => {
                ProxyError::TimedOut {
                    address: address.to_string(),
                    phase,
                    timeout,
                }
            }
            _ => ProxyError::ConnectionClosed {
                address: address.to_string(),
                reason: format!("{phase}: {e}"),
            },
        }
    }

    /// A command the session refused before anything was sent.
    pub fn refused(e: SessionError, address: &str, timeout: Option<Duration>) -> ProxyError {
        match e {
            SessionError::Serialize(source) => ProxyError::Serialize {
                what: "request",
                source,
            },
            SessionError::Closed(reason) => ProxyError::closed(reason, address, timeout),
            other => ProxyError::Protocol {
                address: address.to_string(),
                reason: other.to_string(),
            },
        }
    }

    /// The remote exception, when the call raised one.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            ProxyError::Remote(e) => Some(e),
            _ => None,
        }
    }

    /// Errors after which Pyro4's proxy retries a method call when
    /// `_pyroMaxRetries` allows it (`ConnectionClosedError`, `TimeoutError`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProxyError::ConnectionClosed { .. } | ProxyError::TimedOut { .. }
        )
    }

    /// Errors of the connection itself (Pyro4's `CommunicationError` family),
    /// the ones a proxy's `reconnect` keeps trying after.
    pub fn is_communication_error(&self) -> bool {
        match self {
            ProxyError::ConnectionRefused { .. }
            | ProxyError::Connect { .. }
            | ProxyError::Rejected { .. }
            | ProxyError::Handshake { .. }
            | ProxyError::TimedOut { .. }
            | ProxyError::ConnectionClosed { .. }
            | ProxyError::Protocol { .. }
            | ProxyError::StreamClosed => true,
            ProxyError::Remote(e) => e.is_communication_error(),
            _ => false,
        }
    }
}

impl From<ArgsError> for ProxyError {
    fn from(e: ArgsError) -> ProxyError {
        match e {
            ArgsError::Serialize { what, source } => ProxyError::Serialize { what, source },
            ArgsError::Shape {
                what,
                expected,
                found,
            } => ProxyError::Arguments {
                what,
                expected,
                found,
            },
        }
    }
}
