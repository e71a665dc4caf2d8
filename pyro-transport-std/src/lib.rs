//! Blocking adapter for `pyro-proto`: moves bytes between std sockets and the
//! Sans-IO sessions, and owns what the protocol core leaves to its host:
//! threads, the clock and OS randomness. Protocol logic lives in `pyro-proto`.
//!
//! The daemon side is [`Daemon`]: bind with [`DaemonBuilder`], register
//! servants, then run [`Daemon::request_loop`] (or [`Daemon::serve_simple`])
//! until a [`DaemonHandle`] calls [`shutdown`](DaemonHandle::shutdown).
//!
//! ```no_run
//! use pyro_transport_std::Daemon;
//! use pyro_proto::servant::ServantBuilder;
//!
//! let echo = ServantBuilder::new("Echo")
//!     .method("echo", |(text,): (String,)| Ok(text))
//!     .build();
//! let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind()?;
//! daemon.serve_simple([("example.echo", echo.into())])?;
//! # Ok::<(), pyro_transport_std::Error>(())
//! ```
//!
//! The client side is [`Proxy`], Pyro4's proxy: one connection, made on first
//! use, with typed calls, oneway calls, batches, remote iterators and
//! attributes.
//!
//! ```no_run
//! use pyro_transport_std::Proxy;
//!
//! let proxy = Proxy::new("PYRO:test.echoserver@localhost:9999")?;
//! let answer: Vec<i64> = proxy.call("echo", (vec![1, 2, 3],))?;
//! assert_eq!(answer, [1, 2, 3]);
//! # Ok::<(), pyro_transport_std::ProxyError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod daemon;
mod entropy;
pub mod naming;
mod net;
mod proxy;

pub use daemon::{Daemon, DaemonBuilder, DaemonHandle, Error};
pub use entropy::os_seeded_entropy;
pub use proxy::{
    Batch, BatchResults, CallResult, HandshakeValidator, IntoUri, Phase, Proxy, ProxyBuilder,
    ProxyError, RemoteStream, DEFAULT_RECONNECT_INTERVAL,
};
pub use pyro_proto;
