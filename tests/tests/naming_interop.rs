//! The name server against real Python Pyro4 4.82, both ways.
//!
//! * Python clients (`tests/python/naming_client.py`) against the Rust
//!   [`NameServer`]: `locateNS`, every `NameServer` method with Pyro4's
//!   results and error texts, `PYRONAME:`/`PYROMETA:` proxies resolved
//!   through it, and `locateNS` by UDP broadcast.
//! * The Rust [`Proxy`] with `PYRONAME:`/`PYROMETA:` URIs, and
//!   [`locate_ns`], against Python's name server
//!   (`python -m Pyro4.naming`, killed when the test ends).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::naming::NAMESERVER_NAME;
use pyro_proto::servant::ServantBuilder;
use pyro_proto::value::{Dict, Value};
use pyro_proto::Uri;
use pyro_transport_std::naming::{locate_ns, NameServer};
use pyro_transport_std::{Daemon, DaemonHandle, Error, Proxy, ProxyError};

/// A Rust name server serving on a background thread; shut down on drop.
struct RustNs {
    handle: DaemonHandle,
    uri: Uri,
    broadcast_port: Option<u16>,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl RustNs {
    fn start(broadcast: bool) -> RustNs {
        RustNs::start_on("127.0.0.1", broadcast)
    }

    fn start_on(host: &str, broadcast: bool) -> RustNs {
        let builder = NameServer::builder().tcp(host, 0);
        let builder = if broadcast {
            builder.broadcast("0.0.0.0", 0)
        } else {
            builder.no_broadcast()
        };
        let ns = builder.bind().expect("bind the name server");
        let (handle, uri, broadcast_port) = (ns.handle(), ns.uri().clone(), ns.broadcast_port());
        let thread = thread::spawn(move || ns.request_loop());
        RustNs {
            handle,
            uri,
            broadcast_port,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.uri.tcp_port().unwrap()
    }
}

impl Drop for RustNs {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_client(args: &[&str]) -> String {
    let started = Instant::now();
    let out = pyro_tests::python::script("naming_client.py")
        .args(args)
        .output()
        .expect("run naming_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "naming_client.py {args:?} ({:.2?}):\n{stdout}{stderr}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "naming_client.py {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    stdout
}

#[test]
fn python_client_tour_against_the_rust_name_server() {
    let ns = RustNs::start(false);
    let port = ns.port().to_string();
    let out = run_client(&["tour", "127.0.0.1", &port]);
    // The script checked Pyro4's exact texts; make sure it got to them.
    for text in [
        "name already registered: example.one",
        "unknown name: nonexisting",
        "you can only filter on one thing at a time",
        "invalid regex: ",
        "no registrations available with desired metadata properties {'kind:none'}",
        "call through a PYRONAME proxy",
        "call through a PYROMETA proxy",
        "remove(regex) never removes the name server",
    ] {
        assert!(out.contains(text), "missing check {text:?}");
    }
    // The script leaves only the name server's own registration.
    let me = locate_ns(Some("127.0.0.1"), Some(ns.port()), false).unwrap();
    assert_eq!(me.call::<i64>("count", ()).unwrap(), 1);
}

#[test]
fn python_locate_ns_by_broadcast_finds_the_rust_name_server() {
    let ns = RustNs::start(true);
    let bc = ns.broadcast_port.expect("responder running").to_string();
    run_client(&["broadcast", &bc, &ns.port().to_string()]);
}

/// A name server on all interfaces registers itself as `0.0.0.0`; its
/// responder replies with the address of the interface that reaches the
/// requester instead, which Python then connects to.
#[test]
fn python_broadcast_gets_a_connectable_address_from_a_rust_name_server_on_all_interfaces() {
    let ns = RustNs::start_on("0.0.0.0", true);
    assert_eq!(ns.uri.host(), Some("0.0.0.0"));
    let bc = ns.broadcast_port.expect("responder running").to_string();
    run_client(&["broadcast", &bc, &ns.port().to_string()]);
}

/// `python -m Pyro4.naming`, killed on drop.
struct PyNs {
    child: Child,
    port: u16,
}

impl PyNs {
    fn start(host: &str, extra_env: &[(&str, String)], args: &[&str]) -> PyNs {
        let port = free_tcp_port();
        let mut cmd = Command::new(pyro_tests::python::python());
        cmd.args(["-m", "Pyro4.naming", "-n", host, "-p", &port.to_string()])
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start python -m Pyro4.naming");
        let ns = PyNs { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Python name server did not start"
            );
            thread::sleep(Duration::from_millis(50));
        }
        ns
    }
}

impl Drop for PyNs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A Rust daemon with an `echo` object, registered nowhere yet.
fn echo_daemon() -> (DaemonHandle, Uri, JoinHandle<Result<(), Error>>) {
    let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
    let handle = daemon.handle();
    let echo = ServantBuilder::new("Echo")
        .method("echo", |(x,): (String,)| Ok(format!("rust echo: {x}")))
        .build();
    let uri = handle.register(echo, Some("echo.obj")).unwrap();
    let thread = thread::spawn(move || daemon.request_loop());
    (handle, uri, thread)
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn rust_proxy_resolves_pyroname_and_pyrometa_through_the_python_name_server() {
    let py = PyNs::start("127.0.0.1", &[], &[]);
    let (handle, echo_uri, thread) = echo_daemon();
    let host_port = format!("127.0.0.1:{}", py.port);

    let ns = locate_ns(Some("127.0.0.1"), Some(py.port), false).unwrap();
    assert_eq!(
        ns.uri().to_string(),
        format!("PYRO:{NAMESERVER_NAME}@{host_port}")
    );
    let mut kwargs = Dict::new();
    kwargs.insert(
        "metadata",
        Value::List(vec![s("kind:echo"), s("lang:rust")]),
    );
    // The URI object (class dict) as Pyro4's register accepts it.
    let reply = ns
        .call_value(
            "register",
            vec![s("example.echo"), echo_uri.to_value()],
            kwargs,
        )
        .unwrap();
    assert_eq!(reply, Value::None);
    // lookup gives a URI object, list gives strings.
    let looked = ns
        .call_value("lookup", vec![s("example.echo")], Dict::new())
        .unwrap();
    assert_eq!(Uri::from_value(&looked).unwrap(), echo_uri);
    let listed = ns
        .call_value("list", vec![s("example.")], Dict::new())
        .unwrap();
    assert_eq!(
        listed,
        Value::Dict(Dict(vec![(s("example.echo"), s(&echo_uri.to_string()))]))
    );

    let by_name = Proxy::new(format!("PYRONAME:example.echo@{host_port}").as_str()).unwrap();
    assert_eq!(
        by_name.call::<String>("echo", ("hi",)).unwrap(),
        "rust echo: hi"
    );
    let by_meta = Proxy::new(format!("PYROMETA:kind:echo,lang:rust@{host_port}").as_str()).unwrap();
    assert_eq!(
        by_meta.call::<String>("echo", ("meta",)).unwrap(),
        "rust echo: meta"
    );

    // Python's own NamingError texts.
    let unknown = Proxy::new(format!("PYRONAME:nothing@{host_port}").as_str()).unwrap();
    let err = unknown.bind().unwrap_err();
    let remote = err.remote().expect("a remote NamingError");
    assert_eq!(remote.class_name, "Pyro4.errors.NamingError");
    assert_eq!(remote.message(), "unknown name: nothing");
    let nomatch = Proxy::new(format!("PYROMETA:kind:none@{host_port}").as_str()).unwrap();
    let err = nomatch.bind().unwrap_err();
    assert!(matches!(err, ProxyError::Naming { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "no registrations available with desired metadata properties {'kind:none'}"
    );
    let safe = ns.call_value(
        "register",
        vec![
            s("example.echo"),
            s(&echo_uri.to_string()),
            Value::Bool(true),
        ],
        Dict::new(),
    );
    let err = safe.unwrap_err();
    assert_eq!(
        err.remote().unwrap().message(),
        "name already registered: example.echo"
    );

    let removed = ns
        .call_value("remove", vec![s("example.echo")], Dict::new())
        .unwrap();
    assert_eq!(removed, Value::Int(1));
    drop((by_name, by_meta, ns));
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn rust_locate_ns_by_broadcast_finds_the_python_name_server() {
    // A Python name server on all interfaces answers broadcasts; its reply
    // puts the interface address in place of 0.0.0.0.
    let bc = free_udp_port();
    let py = PyNs::start("0.0.0.0", &[("PYRO_NS_BCPORT", bc.to_string())], &[]);
    let ns = locate_ns(None, Some(bc), true).expect("broadcast locate");
    assert_eq!(ns.uri().object(), NAMESERVER_NAME);
    assert_eq!(ns.uri().tcp_port(), Some(py.port));
    assert_ne!(ns.uri().host(), Some("0.0.0.0"));
    assert_eq!(ns.call::<i64>("count", ()).unwrap(), 1);
}

/// The captured locator datagrams (`nameserver_broadcast_udp.txt`, a
/// responder bound to 127.0.0.1:47191 for a name server on 47190): the
/// codec reads the request and writes the reply byte for byte, and a
/// running Rust responder answers the captured request with its own URI.
#[test]
fn broadcast_vector_datagrams() {
    use pyro_proto::naming::{is_locator_request, locator_reply, parse_locator_reply};
    let file = pyro_tests::vectors::named("nameserver_broadcast_udp.txt");
    let request = &file
        .lines
        .iter()
        .find(|l| l.tag == "UDP-C2S")
        .unwrap()
        .bytes;
    let reply = &file
        .lines
        .iter()
        .find(|l| l.tag == "UDP-S2C")
        .unwrap()
        .bytes;
    assert!(is_locator_request(request));
    let captured_ns = Uri::parse("PYRO:Pyro.NameServer@127.0.0.1:47190").unwrap();
    assert_eq!(locator_reply(&captured_ns, None).as_ref(), Some(reply));
    assert_eq!(parse_locator_reply(reply).unwrap(), captured_ns);

    let ns = NameServer::builder()
        .tcp("127.0.0.1", 0)
        .broadcast("127.0.0.1", 0)
        .bind()
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(request, ("127.0.0.1", ns.broadcast_port().unwrap()))
        .unwrap();
    let mut buf = [0u8; 200];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], ns.uri().to_string().as_bytes());
}
