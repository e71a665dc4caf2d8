//! Async adapter for `pyro-proto` on smol / async-io: moves bytes between
//! async sockets and the Sans-IO sessions, and owns the timers, the tasks and
//! OS randomness. Protocol logic lives in `pyro-proto`; the API mirrors the
//! blocking `pyro-transport-std` with `async fn`s.
//!
//! The daemon side is [`Daemon`]: bind with [`DaemonBuilder`], register
//! servants, then await [`Daemon::run`] until a [`DaemonHandle`] calls
//! [`shutdown`](DaemonHandle::shutdown). Each connection is a task; servant
//! code runs on smol's blocking pool so a slow servant never stalls others.
//!
//! The client side is [`Proxy`], Pyro4's proxy with `async` calls, oneway
//! calls, batches, remote iterators and attributes; timeouts are async-io
//! timers. `PYRONAME:`/`PYROMETA:` URIs are resolved through a name server
//! on connect; [`naming`] has `locate_ns` and `resolve`.
//!
//! ```no_run
//! use pyro_transport_smol::Proxy;
//!
//! smol::block_on(async {
//!     let proxy = Proxy::new("PYRO:test.echoserver@localhost:9999")?;
//!     let answer: Vec<i64> = proxy.call("echo", (vec![1, 2, 3],)).await?;
//!     assert_eq!(answer, [1, 2, 3]);
//!     Ok::<(), pyro_transport_smol::ProxyError>(())
//! })?;
//! # Ok::<(), pyro_transport_smol::ProxyError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod daemon;
mod entropy;
pub mod naming;
mod net;
mod proxy;

pub use daemon::{Daemon, DaemonBuilder, DaemonHandle, Error};
pub use proxy::{
    Batch, BatchResults, CallResult, HandshakeValidator, IntoUri, Phase, Proxy, ProxyBuilder,
    ProxyError, RemoteStream, DEFAULT_RECONNECT_INTERVAL,
};
pub use pyro_proto;
pub use smol;
