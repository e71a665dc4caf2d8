//! The Rust std daemon against real Python Pyro4 4.82 clients.
//!
//! Each test starts a `pyro_transport_std::Daemon` in-process with a test
//! servant, runs `tests/python/std_daemon_client.py` against its URI, and
//! asserts the script's exit status (the script checks every value it gets
//! against what a Python daemon would give and exits 1 on any mismatch). The
//! daemon is then shut down, which must return promptly with no stream left.

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::Value;
use pyro_tests::servants::{daemon_client, test_servant, OBJECT};
use pyro_transport_std::{Daemon, DaemonBuilder, DaemonHandle, Error};

/// A daemon serving the test servant on a background thread.
struct Running {
    handle: DaemonHandle,
    uri: String,
    thread: JoinHandle<Result<(), Error>>,
}

impl Running {
    fn start(builder: DaemonBuilder) -> Running {
        let daemon = builder.bind().expect("bind the daemon");
        let handle = daemon.handle();
        let streams = handle.clone();
        let servant = test_servant(move || streams.stream_count());
        handle
            .register(servant, Some(OBJECT))
            .expect("register the test servant");
        let uri = handle.uri_for(OBJECT).unwrap().to_string();
        let thread = thread::spawn(move || daemon.request_loop());
        Running {
            handle,
            uri,
            thread,
        }
    }

    /// Run the client script in `mode`; panics with its output unless it succeeded.
    fn client(&self, mode: &str, args: &[&str]) -> String {
        daemon_client("std", &self.uri, mode, args)
    }

    /// Shut down; `request_loop` must return promptly, streams must be gone.
    fn stop(self) {
        let started = Instant::now();
        self.handle.shutdown();
        self.thread
            .join()
            .expect("request loop panicked")
            .expect("request loop failed");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "shutdown took {:?}",
            started.elapsed()
        );
        assert_eq!(self.handle.connection_count(), 0, "connections left");
        assert_eq!(self.handle.stream_count(), 0, "streams left");
    }
}

fn localhost() -> DaemonBuilder {
    Daemon::builder().tcp("127.0.0.1", 0)
}

#[test]
fn std_daemon_calls_serpent() {
    let d = Running::start(localhost());
    d.client("calls", &["serpent"]);
    d.stop();
}

#[test]
fn std_daemon_calls_json() {
    let d = Running::start(localhost());
    d.client("calls", &["json"]);
    d.stop();
}

#[test]
fn std_daemon_calls_marshal() {
    let d = Running::start(localhost());
    d.client("calls", &["marshal"]);
    d.stop();
}

#[test]
fn std_daemon_calls_pickle_when_enabled() {
    let d = Running::start(localhost().accept_pickle());
    d.client("calls", &["pickle"]);
    d.stop();
}

#[test]
fn std_daemon_refuses_pickle_by_default() {
    let d = Running::start(localhost());
    let out = pyro_tests::python::script("std_daemon_client.py")
        .args(["calls", &d.uri, "pickle"])
        .output()
        .expect("run std_daemon_client.py");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(!out.status.success(), "pickle was accepted:\n{text}");
    assert!(
        text.contains("serializer that is not accepted"),
        "refusal text missing:\n{text}"
    );
    d.stop();
}

/// A request in a serializer we cannot write (msgpack) gets no reply; its
/// connection closes and the daemon goes on serving.
#[test]
fn std_daemon_drops_a_request_in_a_serializer_it_cannot_write() {
    let d = Running::start(localhost());
    let out = d.client("foreign", &["serpent"]);
    assert!(out.contains("OK foreign"), "{out}");
    d.stop();
}

#[test]
fn std_daemon_calls_without_metadata() {
    let d = Running::start(localhost());
    d.client("calls", &["serpent", "--nometa"]);
    d.client("calls", &["json", "--nometa"]);
    d.stop();
}

#[test]
fn std_daemon_compression_both_ways() {
    let d = Running::start(localhost().compression(true));
    d.client("calls", &["serpent", "--compression"]);
    d.client("calls", &["marshal", "--compression"]);
    d.stop();
}

#[test]
fn std_daemon_hmac() {
    let d = Running::start(localhost().hmac_key("s3cr3t"));
    let out = d.client("hmac", &["serpent", "s3cr3t"]);
    assert_eq!(out.matches("refused with key").count(), 2, "{out}");
    d.client("hmac", &["json", "s3cr3t"]);
    d.stop();
}

#[cfg(unix)]
#[test]
fn std_daemon_unix_socket() {
    let path = std::env::temp_dir().join(format!("pyro-rs-std-{}.sock", std::process::id()));
    // A stale file in the way is removed, as Pyro4 does.
    std::fs::write(&path, b"stale").unwrap();
    let d = Running::start(Daemon::builder().unix(&path));
    assert!(d.uri.starts_with("PYRO:test.servant@./u:"), "{}", d.uri);
    d.client("calls", &["serpent"]);
    d.stop();
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn std_daemon_ipv6_loopback() {
    let daemon = match Daemon::builder().tcp("::1", 0).bind() {
        Ok(d) => d,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no IPv6 loopback on a CI machine: {e}"
            );
            println!("SKIPPED: no IPv6 loopback here: {e}");
            return;
        }
    };
    drop(daemon);
    let d = Running::start(Daemon::builder().tcp("[::1]", 0));
    assert!(d.uri.contains("@[::1]:"), "{}", d.uri);
    d.client("calls", &["marshal"]);
    d.stop();
}

#[test]
fn std_daemon_connection_limit() {
    let d = Running::start(localhost().max_connections(Some(3)));
    d.client("limit", &["serpent", "3"]);
    d.stop();
}

#[test]
fn std_daemon_100_clients() {
    let d = Running::start(localhost());
    let started = Instant::now();
    let out = d.client("many", &["serpent", "100"]);
    println!(
        "100 Python clients against the std daemon: {:.2?} (client's own figure: {})",
        started.elapsed(),
        out.trim()
    );
    d.stop();
}

#[test]
fn std_daemon_nat_and_real_port_in_uris() {
    let daemon = Daemon::builder()
        .tcp("127.0.0.1", 0)
        .nat("gateway.example", 0)
        .bind()
        .unwrap();
    let pyro_proto::daemon::Location::Tcp { port, .. } = daemon.location() else {
        panic!("not TCP")
    };
    assert_ne!(port, 0);
    let uri = daemon.uri_for("x").unwrap().to_string();
    assert_eq!(uri, format!("PYRO:x@gateway.example:{port}"));
    let daemon = Daemon::builder()
        .tcp("127.0.0.1", 0)
        .nat("gateway.example", 9999)
        .bind()
        .unwrap();
    assert_eq!(
        daemon.uri_for("x").unwrap().to_string(),
        "PYRO:x@gateway.example:9999"
    );
}

#[test]
fn std_daemon_shutdown_closes_idle_connections() {
    let d = Running::start(localhost());
    let addr = d.uri.rsplit('@').next().unwrap().to_string();
    let idle: Vec<_> = (0..5)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.handle.connection_count() < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(d.handle.connection_count(), 5);
    d.stop();
    drop(idle);
}

#[test]
fn std_daemon_bind_errors_are_typed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Daemon::builder()
        .tcp("127.0.0.1", port)
        .bind()
        .err()
        .unwrap();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    let err = Daemon::builder()
        .tcp("no-such-host.invalid", 0)
        .bind()
        .err()
        .unwrap();
    assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
}

/// The script must fail on a wrong value: run it against a daemon whose echo lies.
#[test]
fn std_daemon_client_script_detects_mismatches() {
    let daemon = localhost().bind().unwrap();
    let handle = daemon.handle();
    let liar = ServantBuilder::new("Liar")
        .raw_method("echo", |_ctx, _args| Ok(Reply::Value(Value::Int(42))))
        .build();
    handle.register(liar, Some(OBJECT)).unwrap();
    let uri = handle.uri_for(OBJECT).unwrap().to_string();
    let thread = thread::spawn(move || daemon.request_loop());
    let out = pyro_tests::python::script("std_daemon_client.py")
        .args(["calls", &uri, "serpent"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("FAIL: serpent echo"),
        "{text}"
    );
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn std_daemon_abandoned_stream_lingers_then_expires() {
    let d = Running::start(localhost().stream_linger(Duration::from_millis(1500)));
    d.client("abandon", &["serpent"]);
    // The client is gone; its stream waits for a reconnect, then housekeeping drops it.
    assert_eq!(
        d.handle.stream_count(),
        1,
        "stream dropped before its linger"
    );
    let started = Instant::now();
    while d.handle.stream_count() > 0 && started.elapsed() < Duration::from_secs(6) {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.handle.stream_count(), 0, "lingering stream never expired");
    println!("abandoned stream expired after {:.2?}", started.elapsed());
    d.stop();
}

#[test]
fn std_daemon_stream_lifetime() {
    let d = Running::start(
        localhost()
            .stream_linger(Duration::from_secs(60))
            .stream_lifetime(Some(Duration::from_millis(500))),
    );
    d.client("abandon", &["json"]);
    let started = Instant::now();
    while d.handle.stream_count() > 0 && started.elapsed() < Duration::from_secs(6) {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.handle.stream_count(), 0, "stream outlived its lifetime");
    d.stop();
}

#[test]
fn std_daemon_comm_timeout_closes_idle_connections() {
    let d = Running::start(localhost().comm_timeout(Some(Duration::from_millis(300))));
    let addr = d.uri.rsplit('@').next().unwrap().to_string();
    let idle = std::net::TcpStream::connect(&addr).unwrap();
    let started = Instant::now();
    while d.handle.connection_count() == 0 && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(d.handle.connection_count(), 1);
    while d.handle.connection_count() > 0 && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        d.handle.connection_count(),
        0,
        "idle connection outlived the timeout"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(idle);
    d.stop();
}
