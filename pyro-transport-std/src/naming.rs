//! The name server on blocking sockets: a daemon hosting
//! [`pyro_proto::naming::NameServer`], the UDP broadcast responder, and the
//! client side (`locateNS`, resolving `PYRONAME:`/`PYROMETA:` URIs).
//!
//! ```no_run
//! use pyro_transport_std::naming::{locate_ns, NameServer};
//!
//! let ns = NameServer::builder().tcp("127.0.0.1", 9090).bind()?;
//! let handle = ns.handle();
//! std::thread::spawn(move || ns.request_loop());
//! let proxy = locate_ns(Some("127.0.0.1"), Some(9090), false)?;
//! let count: i64 = proxy.call("count", ())?;
//! assert_eq!(count, 1);
//! handle.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pyro_proto::daemon::{Location, Registration};
use pyro_proto::naming::{
    self as core, is_locator_request, locator_reply, meta_candidates, nameserver_uri,
    parse_locator_reply, NameRegistry, Resolution, LOCATOR_MAX_DATAGRAM, LOCATOR_REQUEST,
    NAMESERVER_NAME, NS_BCPORT, NS_PORT,
};
use pyro_proto::servant::Servant;
use pyro_proto::value::{Dict, Value};
use pyro_proto::Uri;

use crate::{Daemon, DaemonBuilder, DaemonHandle, Error, Proxy, ProxyBuilder, ProxyError};

/// Text of Pyro4's `NamingError` when no name server answers.
pub const FAILED_TO_LOCATE: &str = "Failed to locate the nameserver";

/// How long a broadcast locate waits for a reply per round (Pyro4: 0.7 s).
const BROADCAST_WAIT: Duration = Duration::from_millis(700);
/// Broadcast rounds (Pyro4: 3).
const BROADCAST_ROUNDS: usize = 3;
/// How often the responder thread checks whether it should stop.
const RESPONDER_POLL: Duration = Duration::from_millis(200);

/// Settings of a [`NameServer`]: where its daemon listens (default
/// `localhost:9090`, as Pyro4's `HOST`/`NS_PORT`), daemon options, and the
/// broadcast responder.
pub struct NameServerBuilder {
    daemon: DaemonBuilder,
    host: String,
    port: u16,
    unix: Option<std::path::PathBuf>,
    broadcast: Option<Option<(String, u16)>>,
}

impl Default for NameServerBuilder {
    fn default() -> Self {
        NameServerBuilder {
            daemon: DaemonBuilder::default(),
            host: "localhost".to_string(),
            port: NS_PORT,
            unix: None,
            broadcast: None,
        }
    }
}

impl NameServerBuilder {
    /// Listen on `host:port` (port 0: any free port).
    pub fn tcp(mut self, host: &str, port: u16) -> Self {
        self.host = host.to_string();
        self.port = port;
        self
    }

    /// Listen on a Unix domain socket instead of TCP (Pyro4's
    /// `--unixsocket`); no broadcast responder runs then.
    pub fn unix(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.unix = Some(path.into());
        self
    }

    /// Other daemon options (HMAC key, serializers, timeouts, ...); its
    /// bind address is replaced by [`tcp`](Self::tcp)'s or
    /// [`unix`](Self::unix)'s.
    pub fn daemon(mut self, daemon: DaemonBuilder) -> Self {
        self.daemon = daemon;
        self
    }

    /// Answer `GET_NSURI` datagrams on `host:port` (Pyro4's `NS_BCHOST`
    /// and `NS_BCPORT`, port 0: any free port). Without this call the
    /// responder runs on all interfaces, port 9091, unless the name server
    /// listens on a loopback address (Pyro4's rule).
    pub fn broadcast(mut self, host: &str, port: u16) -> Self {
        self.broadcast = Some(Some((host.to_string(), port)));
        self
    }

    /// No broadcast responder (Pyro4's `--nobc`).
    pub fn no_broadcast(mut self) -> Self {
        self.broadcast = Some(None);
        self
    }

    /// Bind the daemon (and the responder), register the name server
    /// object and its own name.
    pub fn bind(self) -> Result<NameServer, Error> {
        let daemon = match &self.unix {
            Some(path) => self.daemon.unix(path.clone()).bind()?,
            None => self.daemon.tcp(&self.host, self.port).bind()?,
        };
        let uri = daemon.uri_for(NAMESERVER_NAME)?;
        let servant = Arc::new(core::NameServer::new(&uri));
        let registration: Arc<dyn Servant> = servant.clone();
        daemon.register(Registration::from(registration), Some(NAMESERVER_NAME))?;
        let bc = match self.broadcast {
            _ if self.unix.is_some() => None,
            Some(explicit) => explicit,
            None if is_loopback(&self.host) => None,
            None => Some(("0.0.0.0".to_string(), NS_BCPORT)),
        };
        // The reply carries the internal (non-NAT) URI.
        let internal = match daemon.location() {
            Location::Tcp { host, port } => nameserver_uri(&host, port).unwrap_or(uri.clone()),
            Location::Unix { .. } => uri.clone(),
        };
        let responder = match bc {
            Some((host, port)) => Some(Responder::start(&host, port, internal).map_err(
                |source| Error::Bind {
                    address: format!("udp {host}:{port}"),
                    source,
                },
            )?),
            None => None,
        };
        Ok(NameServer {
            daemon,
            servant,
            uri,
            responder,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// A running Pyro4-compatible name server: a daemon with the
/// `Pyro.NameServer` object, plus the optional UDP broadcast responder
/// (stopped when this value is dropped).
pub struct NameServer {
    daemon: Daemon,
    servant: Arc<core::NameServer>,
    uri: Uri,
    responder: Option<Responder>,
}

impl NameServer {
    /// Settings: address, daemon options, broadcast responder.
    pub fn builder() -> NameServerBuilder {
        NameServerBuilder::default()
    }

    /// The name server's URI (`PYRO:Pyro.NameServer@host:port`).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The UDP port the broadcast responder listens on, if it runs.
    pub fn broadcast_port(&self) -> Option<u16> {
        self.responder.as_ref().map(|r| r.port)
    }

    /// The registrations, for use from Rust without a connection.
    pub fn registry(&self) -> MutexGuard<'_, NameRegistry> {
        self.servant.registry()
    }

    /// The daemon's handle (shutdown, more objects).
    pub fn handle(&self) -> DaemonHandle {
        self.daemon.handle()
    }

    /// Serve until [`DaemonHandle::shutdown`]; the responder stops too.
    pub fn request_loop(mut self) -> Result<(), Error> {
        let r = self.daemon.request_loop();
        self.responder.take();
        r
    }
}

/// The UDP responder thread.
struct Responder {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    fn start(host: &str, port: u16, ns_uri: Uri) -> std::io::Result<Responder> {
        let sock = UdpSocket::bind((host, port))?;
        if sock.local_addr()?.is_ipv4() {
            sock.set_broadcast(true)?;
        }
        sock.set_read_timeout(Some(RESPONDER_POLL))?;
        let port = sock.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name("pyro-ns-broadcast".into())
            .spawn(move || respond(&sock, &ns_uri, &flag))?;
        Ok(Responder {
            port,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(sock: &UdpSocket, ns_uri: &Uri, stop: &AtomicBool) {
    let mut buf = [0u8; LOCATOR_MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        let (n, peer) = match sock.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => {
                thread::sleep(RESPONDER_POLL);
                continue;
            }
        };
        if !is_locator_request(&buf[..n]) {
            continue;
        }
        let interface = interface_address(peer.ip()).map(|ip| ip.to_string());
        if let Some(reply) = locator_reply(ns_uri, interface.as_deref()) {
            let _ = sock.send_to(&reply, peer);
        }
    }
}

/// The local address that routes to `peer` (Pyro4's `getInterfaceAddress`).
fn interface_address(peer: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match peer {
        IpAddr::V4(_) => "0.0.0.0:0".parse().ok()?,
        IpAddr::V6(_) => "[::]:0".parse().ok()?,
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect((peer, 53)).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// Find a name server (Pyro4's `locateNS` with default settings); a bound
/// proxy for it. See [`locate_ns_with`].
pub fn locate_ns(
    host: Option<&str>,
    port: Option<u16>,
    broadcast: bool,
) -> Result<Proxy, ProxyError> {
    locate_ns_with(&ProxyBuilder::default(), host, port, broadcast)
}

/// Find a name server as Pyro4's `locateNS(host, port, broadcast)` does,
/// with the proxy settings of `builder` (HMAC key, serializer, timeout):
///
/// * `host` given: connect to `PYRO:Pyro.NameServer@host:<port or 9090>`;
/// * else try `localhost:<port or 9090>`, then (if `broadcast`) send
///   `GET_NSURI` to `255.255.255.255` and `0.0.0.0` on `<port or 9091>`,
///   3 rounds of 0.7 s, then `localhost:9090`.
///
/// Failure is [`ProxyError::Naming`] with Pyro4's text
/// `Failed to locate the nameserver`, the last connection error as source.
pub fn locate_ns_with(
    builder: &ProxyBuilder,
    host: Option<&str>,
    port: Option<u16>,
    broadcast: bool,
) -> Result<Proxy, ProxyError> {
    let connect = |host: &str, port: u16| -> Result<Proxy, ProxyError> {
        let uri = nameserver_uri(host, port).map_err(|source| ProxyError::InvalidUri {
            uri: format!("PYRO:{NAMESERVER_NAME}@{host}:{port}"),
            source,
        })?;
        let proxy = builder.build(uri)?;
        proxy.bind()?;
        Ok(proxy)
    };
    let failed = |last: ProxyError| ProxyError::Naming {
        message: FAILED_TO_LOCATE.to_string(),
        source: Some(Box::new(last)),
    };
    if let Some(host) = host {
        return connect(host, port.unwrap_or(NS_PORT)).map_err(failed);
    }
    if let Ok(proxy) = connect("localhost", port.unwrap_or(NS_PORT)) {
        return Ok(proxy);
    }
    if broadcast {
        if let Some(uri) = broadcast_locate(port.unwrap_or(NS_BCPORT)) {
            return builder.build(uri);
        }
    }
    connect("localhost", NS_PORT).map_err(failed)
}

/// Ask for the name server's URI by UDP broadcast; the first reply wins.
fn broadcast_locate(port: u16) -> Option<Uri> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.set_broadcast(true).ok()?;
    sock.set_read_timeout(Some(BROADCAST_WAIT)).ok()?;
    let mut buf = [0u8; LOCATOR_MAX_DATAGRAM];
    for _ in 0..BROADCAST_ROUNDS {
        let mut sent = false;
        for addr in ["255.255.255.255", "0.0.0.0"] {
            // Unreachable broadcast networks are skipped, as Pyro4 skips
            // unavailable addresses.
            sent |= sock.send_to(LOCATOR_REQUEST, (addr, port)).is_ok();
        }
        if !sent {
            return None;
        }
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if let Ok(uri) = parse_locator_reply(&buf[..n]) {
                return Some(uri);
            }
        }
    }
    None
}

/// Turn a `PYRONAME:`/`PYROMETA:` URI into the object's `PYRO:` URI
/// through the name server (Pyro4's `resolve`); a `PYRO:` URI comes back
/// as is. `builder` gives the settings of the name-server proxy (Pyro4
/// passes the HMAC key).
pub fn resolve(uri: &Uri, builder: &ProxyBuilder) -> Result<Uri, ProxyError> {
    let bad_reply = |method: &str, e: String| ProxyError::UnexpectedReply {
        method: method.to_string(),
        what: e,
    };
    match core::resolution(uri) {
        Resolution::Direct(uri) => Ok(uri),
        Resolution::Lookup { name, host, port } => {
            let ns = locate_ns_with(builder, host.as_deref(), port, true)?;
            let reply = ns.call_value("lookup", vec![Value::Str(name.into())], Dict::default())?;
            Uri::from_value(&reply).map_err(|e| bad_reply("lookup", e.to_string()))
        }
        Resolution::Meta {
            metadata,
            host,
            port,
        } => {
            let ns = locate_ns_with(builder, host.as_deref(), port, true)?;
            let wanted = Value::Set(metadata.iter().map(|m| Value::from(m.as_str())).collect());
            let mut kwargs = Dict::new();
            kwargs.insert("metadata_all", wanted);
            let reply = ns.call_value("list", Vec::new(), kwargs)?;
            let candidates = meta_candidates(&reply, &metadata).map_err(|e| {
                if e.class_name == "Pyro4.errors.NamingError" {
                    ProxyError::Naming {
                        message: e.message(),
                        source: None,
                    }
                } else {
                    bad_reply("list", e.message())
                }
            })?;
            let pick = random_index(candidates.len());
            Ok(candidates.into_iter().nth(pick).expect("index in range"))
        }
    }
}

/// A random index below `n` (Pyro4 picks a PYROMETA candidate with
/// `random.choice`).
fn random_index(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    let mut e = crate::os_seeded_entropy();
    pyro_proto::entropy::Entropy::fill(&mut e, &mut bytes);
    (u64::from_le_bytes(bytes) % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(bc: bool) -> (NameServer, Uri) {
        let b = NameServer::builder().tcp("127.0.0.1", 0);
        let b = if bc {
            b.broadcast("127.0.0.1", 0)
        } else {
            b.no_broadcast()
        };
        let ns = b.bind().unwrap();
        let uri = ns.uri().clone();
        (ns, uri)
    }

    #[test]
    fn locate_register_and_resolve() {
        let (ns, uri) = start(false);
        let handle = ns.handle();
        ns.registry()
            .register(
                "thing",
                &Uri::parse("PYRO:obj@127.0.0.1:1234").unwrap(),
                false,
                ["colour:blue".to_string()].into(),
            )
            .unwrap();
        let t = thread::spawn(move || ns.request_loop());
        let port = uri.tcp_port().unwrap();
        let proxy = locate_ns(Some("127.0.0.1"), Some(port), false).unwrap();
        assert_eq!(proxy.call::<i64>("count", ()).unwrap(), 2);
        let b = ProxyBuilder::default();
        let pyroname = Uri::parse(&format!("PYRONAME:thing@127.0.0.1:{port}")).unwrap();
        assert_eq!(
            resolve(&pyroname, &b).unwrap().to_string(),
            "PYRO:obj@127.0.0.1:1234"
        );
        let meta = Uri::parse(&format!("PYROMETA:colour:blue@127.0.0.1:{port}")).unwrap();
        assert_eq!(
            resolve(&meta, &b).unwrap().to_string(),
            "PYRO:obj@127.0.0.1:1234"
        );
        let none = Uri::parse(&format!("PYROMETA:colour:red@127.0.0.1:{port}")).unwrap();
        assert_eq!(
            resolve(&none, &b).unwrap_err().to_string(),
            "no registrations available with desired metadata properties {'colour:red'}"
        );
        let unknown = Uri::parse(&format!("PYRONAME:nope@127.0.0.1:{port}")).unwrap();
        let err = resolve(&unknown, &b).unwrap_err();
        assert_eq!(err.remote().unwrap().message(), "unknown name: nope");
        handle.shutdown();
        t.join().unwrap().unwrap();
    }

    /// The proxy's HMAC key is used for the name server too (Pyro4 passes
    /// `_pyroHmacKey` to `locateNS`), and the handshake names the resolved
    /// object, not the logical name.
    #[test]
    fn pyroname_proxy_with_hmac_key() {
        let key = b"ns-secret".to_vec();
        let ns = NameServer::builder()
            .tcp("127.0.0.1", 0)
            .no_broadcast()
            .daemon(DaemonBuilder::default().hmac_key(key.clone()))
            .bind()
            .unwrap();
        let handle = ns.handle();
        let port = ns.uri().tcp_port().unwrap();
        // The name server registered as an ordinary object under another name.
        ns.registry()
            .register("alias", &ns.uri().clone(), false, Default::default())
            .unwrap();
        let t = thread::spawn(move || ns.request_loop());
        let uri = format!("PYRONAME:alias@127.0.0.1:{port}");
        let keyed = Proxy::builder().hmac_key(key).build(uri.as_str()).unwrap();
        assert_eq!(keyed.call::<i64>("count", ()).unwrap(), 2);
        assert_eq!(keyed.uri().to_string(), uri);
        let keyless = Proxy::new(uri.as_str()).unwrap();
        let err = keyless.bind().unwrap_err();
        assert!(matches!(err, ProxyError::Naming { .. }), "{err}");
        handle.shutdown();
        t.join().unwrap().unwrap();
    }

    #[test]
    fn locate_fails_with_pyro4s_text() {
        // A port nothing listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = locate_ns(Some("127.0.0.1"), Some(port), false).unwrap_err();
        assert_eq!(err.to_string(), FAILED_TO_LOCATE);
    }

    #[test]
    fn responder_answers_get_nsuri_only() {
        let (ns, uri) = start(true);
        let bc = ns.broadcast_port().unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        sock.send_to(b"GET_NSURI?", ("127.0.0.1", bc)).unwrap();
        let mut buf = [0u8; 200];
        assert!(
            sock.recv_from(&mut buf).is_err(),
            "answered a wrong request"
        );
        sock.send_to(b"GET_NSURI", ("127.0.0.1", bc)).unwrap();
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], uri.to_string().as_bytes());
        drop(ns);
    }
}
