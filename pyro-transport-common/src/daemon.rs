//! What both daemons do alike around the protocol core: their options and
//! defaults, binding a listening socket, pacing the housekeeper, and turning
//! a servant's panic into the exception the client sees. The adapters keep
//! only their way of waiting (threads or tasks) and their socket types.

use std::any::Any;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pyro_proto::daemon::{DaemonConfig, Location};
use pyro_proto::session::{traced, Outcome, ServerConfig};
use pyro_proto::value::RemoteError;

/// Housekeeping runs at least this often (Pyro4's housekeeper wakes every
/// few seconds), so expired streams go even when nothing else happens.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(2);
/// What a refused client is told when the connection limit is reached
/// (Pyro4's thread pool server text, which Python clients show as is).
pub const NO_FREE_WORKERS: &str = "no free workers, increase server threadpool size";
/// How long a refused client may take to send its CONNECT before the
/// daemon gives up on telling it why (a silent client must not hold a slot).
pub const DENY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a daemon listens, as the builder was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindTo {
    /// A TCP host (brackets already removed) and port (0: any free port).
    Tcp {
        /// Name, IPv4 or IPv6 address.
        host: String,
        /// The port; 0 lets the OS choose.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

/// The options of a daemon builder, identical for the blocking and the
/// async daemon (Pyro4's daemon config items), so that both take the same
/// settings with the same defaults.
///
/// Defaults follow Pyro4: `localhost` port 0 (any free port), serializers
/// serpent, json and marshal (pickle only when asked for), no HMAC, no
/// compression, no message size limit, no comm timeout, stream linger 30 s,
/// no stream lifetime, oneway calls run apart, no connection limit.
#[derive(Clone)]
pub struct DaemonSettings {
    /// Where to listen.
    pub bind: BindTo,
    /// What every connection's session is configured with (HMAC key,
    /// serializers, compression, size limits).
    pub server: ServerConfig,
    /// The address to put in URIs instead of the bound one (port 0: the
    /// bound port).
    pub nat: Option<(String, u16)>,
    /// How long a disconnected client's streams are kept (`ITER_STREAM_LINGER`).
    pub stream_linger: Duration,
    /// Streams older than this are closed (`ITER_STREAM_LIFETIME`).
    pub stream_lifetime: Option<Duration>,
    /// A connection whose read or write takes longer is closed (`COMMTIMEOUT`).
    pub comm_timeout: Option<Duration>,
    /// Connections beyond this many are refused (`THREADPOOL_SIZE`).
    pub max_connections: Option<usize>,
    /// Whether oneway calls run apart from their connection (`ONEWAY_THREADED`).
    pub oneway_threaded: bool,
}

impl Default for DaemonSettings {
    fn default() -> DaemonSettings {
        DaemonSettings {
            bind: BindTo::Tcp {
                host: "localhost".into(),
                port: 0,
            },
            server: ServerConfig::default(),
            nat: None,
            stream_linger: Duration::from_secs(30),
            stream_lifetime: None,
            comm_timeout: None,
            max_connections: None,
            oneway_threaded: true,
        }
    }
}

impl DaemonSettings {
    /// The protocol core's configuration once the socket is bound at
    /// `location`: a NAT port of 0 becomes the bound port, as in Pyro4.
    pub fn daemon_config(&self, location: Location) -> DaemonConfig {
        let nat = self.nat.clone().map(|(host, port)| {
            let port = match (port, &location) {
                (0, Location::Tcp { port, .. }) => *port,
                (p, _) => p,
            };
            Location::Tcp { host, port }
        });
        let mut config = DaemonConfig::new(location);
        config.nat = nat;
        config.stream_linger = self.stream_linger;
        config.stream_lifetime = self.stream_lifetime;
        config
    }
}

/// A host as a user may write it, `[::1]` included, without the brackets
/// (sockets and URIs want the bare address).
pub fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The registry methods both daemons' `DaemonHandle`s offer, written once.
/// Expands inside `impl DaemonHandle` of a type with a field `shared` whose
/// `core()` locks the daemon's `Core` and whose `active: AtomicUsize` counts
/// connections; `Error`, `Uri`, `Value`, `Location`, `Core` and
/// `Registration` are the adapter's own imports. Stopping the daemon works
/// differently per adapter and stays there.
#[doc(hidden)]
#[macro_export]
macro_rules! daemon_handle_registry {
    () => {
        /// Serve `servant` under `id` (or a generated `obj_<hex>` id); returns
        /// its URI. An id already in use is refused.
        pub fn register(
            &self,
            servant: impl Into<Registration>,
            id: Option<&str>,
        ) -> Result<Uri, Error> {
            Ok(self.shared.core().register(servant, id, false)?)
        }

        /// Stop serving object `id`.
        pub fn unregister(&self, id: &str) {
            self.shared.core().unregister(id);
        }

        /// The URI of object `id` (with the NAT address when one is set).
        pub fn uri_for(&self, id: &str) -> Result<Uri, Error> {
            Ok(self.shared.core().uri_for(id)?)
        }

        /// A `Pyro4.core.Proxy` value for object `id`, to return to clients.
        pub fn proxy_for(&self, id: &str) -> Option<Value> {
            self.shared.core().proxy_for(id)
        }

        /// Where the daemon listens (the real port after binding port 0).
        pub fn location(&self) -> Location {
            self.shared.core().config().location.clone()
        }

        /// Number of open streams (iterators clients have not finished).
        pub fn stream_count(&self) -> usize {
            self.shared.core().stream_count()
        }

        /// Number of client connections being served.
        pub fn connection_count(&self) -> usize {
            self.shared
                .active
                .load(::core::sync::atomic::Ordering::SeqCst)
        }

        /// Work on the core directly (briefly: every connection waits meanwhile).
        pub fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
            f(&mut self.shared.core())
        }
    };
}

/// The builder methods both daemons' `DaemonBuilder`s offer, written once.
/// Expands inside `impl DaemonBuilder` of a type with a field
/// `settings: DaemonSettings`. Options whose meaning differs per adapter
/// (`oneway_threaded`: a thread or a task) stay in the adapter.
#[doc(hidden)]
#[macro_export]
macro_rules! daemon_builder_options {
    () => {
        /// Listen on TCP `host` (name, IPv4 or IPv6 address, brackets allowed)
        /// and `port` (0: any free port; URIs carry the real one).
        pub fn tcp(mut self, host: &str, port: u16) -> Self {
            self.settings.bind = $crate::daemon::BindTo::Tcp {
                host: $crate::daemon::unbracket(host).to_string(),
                port,
            };
            self
        }

        /// Listen on a Unix domain socket at `path` (a stale socket file there is
        /// removed first, as Pyro4 does).
        pub fn unix(mut self, path: impl Into<::std::path::PathBuf>) -> Self {
            self.settings.bind = $crate::daemon::BindTo::Unix(path.into());
            self
        }

        /// Sign and check every message with this key (Pyro4's `_pyroHmacKey`).
        pub fn hmac_key(mut self, key: impl Into<Vec<u8>>) -> Self {
            self.settings.server.hmac_key = Some(key.into());
            self
        }

        /// The serializers clients may use (Pyro4's `SERIALIZERS_ACCEPTED`).
        pub fn serializers(mut self, accepted: &[$crate::SerializerId]) -> Self {
            self.settings.server.accepted = accepted.to_vec();
            self
        }

        /// Also accept pickle. Only for trusted networks: a pickle payload
        /// makes a Python peer run arbitrary code.
        pub fn accept_pickle(mut self) -> Self {
            let accepted = &mut self.settings.server.accepted;
            if !accepted.contains(&$crate::SerializerId::Pickle) {
                accepted.push($crate::SerializerId::Pickle);
            }
            self
        }

        /// Compress replies (Pyro4's `COMPRESSION`); compressed requests are
        /// always understood.
        pub fn compression(mut self, on: bool) -> Self {
            self.settings.server.compression = on;
            self
        }

        /// Drop connections that send a larger message (Pyro4's `MAX_MESSAGE_SIZE`).
        pub fn max_message_size(mut self, limit: Option<usize>) -> Self {
            self.settings.server.max_message_size = limit;
            self
        }

        /// Refuse compressed requests that inflate beyond `limit` bytes.
        pub fn max_decompressed_size(mut self, limit: usize) -> Self {
            self.settings.server.max_decompressed_size = limit;
            self
        }

        /// Put this address in URIs instead of the bound one (Pyro4's
        /// `nathost`/`natport`; port 0 means the bound port).
        pub fn nat(mut self, host: &str, port: u16) -> Self {
            self.settings.nat = Some(($crate::daemon::unbracket(host).to_string(), port));
            self
        }

        /// How long a disconnected client's streams are kept (`ITER_STREAM_LINGER`).
        pub fn stream_linger(mut self, linger: ::std::time::Duration) -> Self {
            self.settings.stream_linger = linger;
            self
        }

        /// Streams older than this are closed (`ITER_STREAM_LIFETIME`; `None`: never).
        pub fn stream_lifetime(mut self, lifetime: Option<::std::time::Duration>) -> Self {
            self.settings.stream_lifetime = lifetime;
            self
        }

        /// Close a connection whose read or write takes longer (`COMMTIMEOUT`).
        pub fn comm_timeout(mut self, timeout: Option<::std::time::Duration>) -> Self {
            self.settings.comm_timeout = timeout;
            self
        }

        /// Refuse connections beyond `max` open ones with Pyro4's CONNECTFAIL
        /// "no free workers" (Pyro4's `THREADPOOL_SIZE`; default: no limit).
        pub fn max_connections(mut self, max: Option<usize>) -> Self {
            self.settings.max_connections = max;
            self
        }
    };
}

/// Why a daemon could not bind; each adapter's `Error` has a variant for
/// each (with the same texts) and converts from this.
#[derive(Debug)]
pub enum BindError {
    /// The host name did not resolve to any address.
    Resolve {
        /// The host as given.
        host: String,
        /// Why.
        source: io::Error,
    },
    /// The address or Unix socket path could not be bound.
    Bind {
        /// The address or path.
        address: String,
        /// Why.
        source: io::Error,
    },
    /// A file is in the way of the Unix socket and cannot be removed.
    StaleSocket {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Unix sockets were asked for on a platform without them.
    UnixUnsupported,
}

/// Bind TCP `host`:`port`, trying every address the host resolves to, and
/// hand the listener to `adopt` (an async adapter registers it with its
/// reactor). The location names the host as the user gave it (the bound IP
/// when empty) with the real port, as Pyro4's URIs do.
pub fn bind_tcp<L>(
    host: &str,
    port: u16,
    adopt: impl Fn(TcpListener) -> io::Result<L>,
) -> Result<(L, Location), BindError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| BindError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        let bound = TcpListener::bind(addr).and_then(|l| {
            let local = l.local_addr()?;
            Ok((adopt(l)?, local))
        });
        match bound {
            Ok((listener, local)) => {
                let host = if host.is_empty() {
                    local.ip().to_string()
                } else {
                    host.to_string()
                };
                let location = Location::Tcp {
                    host,
                    port: local.port(),
                };
                return Ok((listener, location));
            }
            Err(e) => last = e,
        }
    }
    Err(BindError::Bind {
        address: format!("{host}:{port}"),
        source: last,
    })
}

/// Bind a Unix domain socket at `path` after removing a stale file there
/// (as Pyro4 does), and hand the listener to `adopt`.
#[cfg(unix)]
pub fn bind_unix<L>(
    path: &Path,
    adopt: impl FnOnce(std::os::unix::net::UnixListener) -> io::Result<L>,
) -> Result<(L, Location), BindError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BindError::StaleSocket {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path)
        .and_then(adopt)
        .map_err(|source| BindError::Bind {
            address: path.display().to_string(),
            source,
        })?;
    let location = Location::Unix {
        path: path.display().to_string(),
    };
    Ok((listener, location))
}

/// How long the housekeeper may sleep: until the next stream expires
/// (`next`, on the core's clock at `now`), at most
/// [`HOUSEKEEPING_INTERVAL`], and at least 10 ms so it never spins.
pub fn housekeeping_wait(next: Option<Duration>, now: Duration) -> Duration {
    next.map_or(HOUSEKEEPING_INTERVAL, |due| {
        due.saturating_sub(now).min(HOUSEKEEPING_INTERVAL)
    })
    .max(Duration::from_millis(10))
}

/// The text of a servant's panic payload (a `&str` or `String` message).
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "servant panicked".into())
}

/// What the client gets when servant code panicked: a `RuntimeError`, as
/// a Python servant's uncaught exception would be, and the connection stays.
pub fn panicked(message: &str) -> Outcome {
    Outcome::Exception {
        error: traced(
            RemoteError::builtin("RuntimeError", format!("servant panicked: {message}")),
            "handleRequest",
        ),
        close: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_port_zero_takes_the_bound_port() {
        let settings = DaemonSettings {
            nat: Some(("gateway.example".into(), 0)),
            ..DaemonSettings::default()
        };
        let bound = Location::Tcp {
            host: "127.0.0.1".into(),
            port: 4321,
        };
        let config = settings.daemon_config(bound.clone());
        assert_eq!(config.location, bound);
        assert_eq!(
            config.nat,
            Some(Location::Tcp {
                host: "gateway.example".into(),
                port: 4321
            })
        );
        assert_eq!(config.stream_linger, Duration::from_secs(30));
    }

    #[test]
    fn housekeeper_waits_for_the_next_expiry_within_bounds() {
        let now = Duration::from_secs(10);
        assert_eq!(housekeeping_wait(None, now), HOUSEKEEPING_INTERVAL);
        assert_eq!(
            housekeeping_wait(Some(Duration::from_millis(10_500)), now),
            Duration::from_millis(500)
        );
        assert_eq!(
            housekeeping_wait(Some(Duration::from_secs(1)), now),
            Duration::from_millis(10)
        );
        assert_eq!(
            housekeeping_wait(Some(Duration::from_secs(60)), now),
            HOUSEKEEPING_INTERVAL
        );
    }

    #[test]
    fn panic_payloads_become_runtime_errors() {
        let text: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(panic_message(&*text), "boom");
        let owned: Box<dyn Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(&*owned), "bang");
        let other: Box<dyn Any + Send> = Box::new(42);
        assert_eq!(panic_message(&*other), "servant panicked");
        let Outcome::Exception { error, close } = panicked("boom") else {
            panic!("not an exception");
        };
        assert!(!close);
        assert!(
            error.class_name.ends_with("RuntimeError"),
            "{}",
            error.class_name
        );
    }

    #[test]
    fn tcp_binds_port_zero_to_a_real_port_and_keeps_the_host() {
        let (listener, location) = bind_tcp("127.0.0.1", 0, Ok).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            location,
            Location::Tcp {
                host: "127.0.0.1".into(),
                port
            }
        );
        let taken = bind_tcp("127.0.0.1", port, Ok).err().unwrap();
        assert!(matches!(taken, BindError::Bind { .. }), "{taken:?}");
        let unknown = bind_tcp("no-such-host.invalid", 0, Ok).err().unwrap();
        assert!(matches!(unknown, BindError::Resolve { .. }), "{unknown:?}");
    }
}
