//! The client side of the name server, async: `locateNS` and the resolution
//! of `PYRONAME:`/`PYROMETA:` URIs (the async [`Proxy`] resolves them on
//! connect). Only the sockets live here: the locator datagrams, the URI
//! rules and the PYROMETA filtering are `pyro_proto::naming`'s. The name
//! server itself is `pyro_transport_std::naming::NameServer` (or Pyro4's).
//!
//! ```no_run
//! use pyro_transport_smol::naming::locate_ns;
//!
//! smol::block_on(async {
//!     let ns = locate_ns(Some("127.0.0.1"), Some(9090), false).await?;
//!     let count: i64 = ns.call("count", ()).await?;
//!     assert!(count >= 1);
//!     Ok::<(), pyro_transport_smol::ProxyError>(())
//! })?;
//! # Ok::<(), pyro_transport_smol::ProxyError>(())
//! ```

use std::future::Future;
use std::net::UdpSocket;
use std::pin::Pin;
use std::time::Duration;

use async_io::{Async, Timer};
use pyro_proto::naming::{
    self as core, meta_candidates, nameserver_uri, parse_locator_reply, Resolution,
    LOCATOR_MAX_DATAGRAM, LOCATOR_REQUEST, NAMESERVER_NAME, NS_BCPORT, NS_PORT,
};
use pyro_proto::value::{Dict, Value};
use pyro_proto::Uri;
use smol::future::FutureExt;

use crate::{Proxy, ProxyBuilder, ProxyError};

/// Text of Pyro4's `NamingError` when no name server answers.
pub const FAILED_TO_LOCATE: &str = "Failed to locate the nameserver";

/// How long a broadcast locate waits for a reply per round (Pyro4: 0.7 s).
const BROADCAST_WAIT: Duration = Duration::from_millis(700);
/// Broadcast rounds (Pyro4: 3).
const BROADCAST_ROUNDS: usize = 3;

/// Find a name server (Pyro4's `locateNS` with default settings); a bound
/// proxy for it. See [`locate_ns_with`].
pub async fn locate_ns(
    host: Option<&str>,
    port: Option<u16>,
    broadcast: bool,
) -> Result<Proxy, ProxyError> {
    locate_ns_with(&ProxyBuilder::default(), host, port, broadcast).await
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
pub async fn locate_ns_with(
    builder: &ProxyBuilder,
    host: Option<&str>,
    port: Option<u16>,
    broadcast: bool,
) -> Result<Proxy, ProxyError> {
    let failed = |last: ProxyError| ProxyError::Naming {
        message: FAILED_TO_LOCATE.to_string(),
        source: Some(Box::new(last)),
    };
    if let Some(host) = host {
        return connect(builder, host, port.unwrap_or(NS_PORT))
            .await
            .map_err(failed);
    }
    if let Ok(proxy) = connect(builder, "localhost", port.unwrap_or(NS_PORT)).await {
        return Ok(proxy);
    }
    if broadcast {
        if let Some(uri) = broadcast_locate(port.unwrap_or(NS_BCPORT)).await {
            return builder.build(uri);
        }
    }
    connect(builder, "localhost", NS_PORT).await.map_err(failed)
}

/// A bound proxy for the name server at `host:port`.
async fn connect(builder: &ProxyBuilder, host: &str, port: u16) -> Result<Proxy, ProxyError> {
    let uri = nameserver_uri(host, port).map_err(|source| ProxyError::InvalidUri {
        uri: format!("PYRO:{NAMESERVER_NAME}@{host}:{port}"),
        source,
    })?;
    let proxy = builder.build(uri)?;
    proxy.bind().await?;
    Ok(proxy)
}

/// Ask for the name server's URI by UDP broadcast; the first valid reply
/// wins (Pyro4's `locateNS` broadcast part).
async fn broadcast_locate(port: u16) -> Option<Uri> {
    let sock = Async::<UdpSocket>::bind(([0, 0, 0, 0], 0)).ok()?;
    sock.get_ref().set_broadcast(true).ok()?;
    let mut buf = [0u8; LOCATOR_MAX_DATAGRAM];
    for _ in 0..BROADCAST_ROUNDS {
        let mut sent = false;
        for addr in ["255.255.255.255", "0.0.0.0"] {
            // Unreachable broadcast networks are skipped, as Pyro4 skips
            // unavailable addresses.
            if let Ok(addr) = format!("{addr}:{port}").parse::<std::net::SocketAddr>() {
                sent |= sock.send_to(LOCATOR_REQUEST, addr).await.is_ok();
            }
        }
        if !sent {
            return None;
        }
        let reply = async { sock.recv_from(&mut buf).await.ok() }
            .or(async {
                Timer::after(BROADCAST_WAIT).await;
                None
            })
            .await;
        if let Some((n, _)) = reply {
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
///
/// A boxed future (await it as an `async fn`): a proxy's connect awaits
/// this, and this connects a proxy, so the future type is recursive.
pub fn resolve<'a>(
    uri: &'a Uri,
    builder: &'a ProxyBuilder,
) -> Pin<Box<dyn Future<Output = Result<Uri, ProxyError>> + Send + 'a>> {
    Box::pin(resolve_inner(uri, builder))
}

async fn resolve_inner(uri: &Uri, builder: &ProxyBuilder) -> Result<Uri, ProxyError> {
    let bad_reply = |method: &str, e: String| ProxyError::UnexpectedReply {
        method: method.to_string(),
        what: e,
    };
    match core::resolution(uri) {
        Resolution::Direct(uri) => Ok(uri),
        Resolution::Lookup { name, host, port } => {
            let ns = locate_ns_with(builder, host.as_deref(), port, true).await?;
            let reply = ns
                .call_value("lookup", vec![Value::Str(name.into())], Dict::default())
                .await?;
            Uri::from_value(&reply).map_err(|e| bad_reply("lookup", e.to_string()))
        }
        Resolution::Meta {
            metadata,
            host,
            port,
        } => {
            let ns = locate_ns_with(builder, host.as_deref(), port, true).await?;
            let wanted = Value::Set(metadata.iter().map(|m| Value::from(m.as_str())).collect());
            let mut kwargs = Dict::new();
            kwargs.insert("metadata_all", wanted);
            let reply = ns.call_value("list", Vec::new(), kwargs).await?;
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
            candidates
                .into_iter()
                .nth(pick)
                .ok_or_else(|| bad_reply("list", "no candidates".to_string()))
        }
    }
}

/// A random index below `n` (Pyro4 picks a PYROMETA candidate with
/// `random.choice`).
fn random_index(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    let mut e = crate::entropy::os_seeded_entropy();
    pyro_proto::entropy::Entropy::fill(&mut e, &mut bytes);
    (u64::from_le_bytes(bytes) % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use std::thread::{self, JoinHandle};

    use pyro_transport_std::naming::NameServer;
    use pyro_transport_std::{DaemonBuilder, DaemonHandle};

    use super::*;
    use crate::Daemon;

    /// A std name server on its own thread, shut down and joined on drop.
    struct Ns {
        handle: DaemonHandle,
        port: u16,
        uri: Uri,
        thread: Option<JoinHandle<()>>,
    }

    impl Drop for Ns {
        fn drop(&mut self) {
            self.handle.shutdown();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn start_ns(daemon: DaemonBuilder, register: &[(&str, &Uri, &[&str])]) -> Ns {
        let ns = NameServer::builder()
            .tcp("127.0.0.1", 0)
            .no_broadcast()
            .daemon(daemon)
            .bind()
            .unwrap();
        for (name, uri, meta) in register {
            let meta = meta.iter().map(|m| m.to_string()).collect();
            ns.registry().register(name, uri, false, meta).unwrap();
        }
        let uri = ns.uri().clone();
        let port = uri.tcp_port().unwrap();
        let handle = ns.handle();
        let thread = thread::spawn(move || {
            let _ = ns.request_loop();
        });
        Ns {
            handle,
            port,
            uri,
            thread: Some(thread),
        }
    }

    #[test]
    fn locate_and_resolve_against_the_std_name_server() {
        let obj = Uri::parse("PYRO:obj@127.0.0.1:1234").unwrap();
        let ns = start_ns(
            DaemonBuilder::default(),
            &[("thing", &obj, &["colour:blue"])],
        );
        let port = ns.port;
        smol::block_on(async {
            let proxy = locate_ns(Some("127.0.0.1"), Some(port), false)
                .await
                .unwrap();
            assert_eq!(proxy.uri(), &ns.uri);
            assert_eq!(proxy.call::<i64>("count", ()).await.unwrap(), 2);
            let b = ProxyBuilder::default();
            let pyroname = Uri::parse(&format!("PYRONAME:thing@127.0.0.1:{port}")).unwrap();
            assert_eq!(resolve(&pyroname, &b).await.unwrap(), obj);
            let meta = Uri::parse(&format!("PYROMETA:colour:blue@127.0.0.1:{port}")).unwrap();
            assert_eq!(resolve(&meta, &b).await.unwrap(), obj);
            let direct = resolve(&obj, &b).await.unwrap();
            assert_eq!(direct, obj);
            let none = Uri::parse(&format!("PYROMETA:colour:red@127.0.0.1:{port}")).unwrap();
            let err = resolve(&none, &b).await.unwrap_err();
            assert!(matches!(err, ProxyError::Naming { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "no registrations available with desired metadata properties {'colour:red'}"
            );
            let unknown = Uri::parse(&format!("PYRONAME:nope@127.0.0.1:{port}")).unwrap();
            let err = resolve(&unknown, &b).await.unwrap_err();
            assert_eq!(err.remote().unwrap().message(), "unknown name: nope");
        });
    }

    #[test]
    fn locate_fails_with_pyro4s_text() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = smol::block_on(locate_ns(Some("127.0.0.1"), Some(port), false)).unwrap_err();
        assert_eq!(err.to_string(), FAILED_TO_LOCATE);
        assert!(
            matches!(&err, ProxyError::Naming { source: Some(s), .. }
                if matches!(**s, ProxyError::ConnectionRefused { .. })),
            "{err:?}"
        );
    }

    /// Broadcast locate against the std responder on a loopback port: the
    /// request goes to 255.255.255.255 and 0.0.0.0 as in Pyro4, and on
    /// Linux a datagram to 0.0.0.0 reaches a socket bound on 127.0.0.1.
    #[test]
    fn broadcast_finds_the_responder() {
        let ns = NameServer::builder()
            .tcp("127.0.0.1", 0)
            .broadcast("0.0.0.0", 0)
            .bind()
            .unwrap();
        let bc = ns.broadcast_port().unwrap();
        let uri = ns.uri().clone();
        let found = smol::block_on(broadcast_locate(bc));
        drop(ns);
        assert_eq!(found, Some(uri));
    }

    /// An async proxy for a PYRONAME/PYROMETA URI resolves on connect with
    /// its own HMAC key, keeps the logical URI, and reaches the object.
    #[test]
    fn pyroname_proxy_resolves_on_connect_with_its_hmac_key() {
        let key = b"ns-secret".to_vec();
        // The object: an async daemon with the same key.
        let daemon = Daemon::builder()
            .tcp("127.0.0.1", 0)
            .hmac_key(key.clone())
            .bind()
            .unwrap();
        let servant = pyro_proto::servant::ServantBuilder::new("Adder")
            .method("add", |(a, b): (i64, i64)| Ok(a + b))
            .build();
        let dh = daemon.handle();
        let obj = dh.register(servant, Some("adder")).unwrap();
        let dthread = thread::spawn(move || smol::block_on(daemon.run()));
        let ns = start_ns(
            DaemonBuilder::default().hmac_key(key.clone()),
            &[("adder", &obj, &["kind:adder"])],
        );
        let port = ns.port;
        smol::block_on(async {
            let name = format!("PYRONAME:adder@127.0.0.1:{port}");
            let p = Proxy::builder()
                .hmac_key(key.clone())
                .build(name.as_str())
                .unwrap();
            assert_eq!(p.call::<i64>("add", (2, 3)).await.unwrap(), 5);
            assert_eq!(p.uri().to_string(), name);
            let meta = format!("PYROMETA:kind:adder@127.0.0.1:{port}");
            let p = Proxy::builder()
                .hmac_key(key.clone())
                .build(meta.as_str())
                .unwrap();
            assert_eq!(p.call::<i64>("add", (4, 5)).await.unwrap(), 9);
            // Without the key the name server refuses the lookup.
            let keyless = Proxy::new(name.as_str()).unwrap();
            let err = keyless.bind().await.unwrap_err();
            assert!(matches!(err, ProxyError::Naming { .. }), "{err:?}");
        });
        dh.shutdown();
        let _ = dthread.join();
    }
}
