//! The Rust std `Proxy` against a real Python Pyro4 4.82 daemon.
//!
//! Each test starts `tests/python/std_proxy_daemon.py` (serpent, json,
//! marshal and pickle accepted) and talks to its test object. The daemon is
//! killed when its guard drops, also when a test panics, and it exits by
//! itself when its stdin closes, so no Python process outlives the tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pyro_proto::message::AnnotationId;
use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::ServantBuilder;
use pyro_proto::session::CallOptions;
use pyro_proto::value::{ClassRegistry, Dict, Value};
use pyro_transport_std::{Daemon, Phase, Proxy, ProxyError};

/// A running Python daemon; killed on drop.
struct PyDaemon {
    child: Child,
    /// Closing it makes the daemon exit (see `the_daemon_exits_when_its_stdin_closes`).
    stdin: Option<ChildStdin>,
    uri: String,
}

impl PyDaemon {
    fn start(args: &[&str]) -> PyDaemon {
        let mut child = pyro_tests::python::script("std_proxy_daemon.py")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start std_proxy_daemon.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        // From here on the guard owns the process.
        let mut guard = PyDaemon {
            child,
            stdin: Some(stdin),
            uri: String::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("std_proxy_daemon.py {args:?} exited before 'ready'"))
                .expect("read the daemon's stdout");
            if let Some(uri) = line.strip_prefix("uri ") {
                guard.uri = uri.to_string();
            } else if line == "ready" {
                break;
            }
        }
        assert!(!guard.uri.is_empty(), "the daemon printed no URI");
        guard
    }

    fn port(&self) -> u16 {
        self.uri.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn proxy(&self, ser: SerializerId) -> Proxy {
        Proxy::builder().serializer(ser).build(&self.uri).unwrap()
    }
}

impl Drop for PyDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

/// A value, the repr Python must see, and per-serializer exceptions to it.
type CorpusEntry = (Value, &'static str, Vec<(SerializerId, &'static str)>);

/// Values sent to `describe`, with the Python repr the daemon must see; a
/// serializer-specific repr where Pyro4's serializer changes the value
/// (json has no tuples, sets or int keys; serpent sends bytes as a base64
/// dict; json has no bytes at all).
fn corpus() -> Vec<CorpusEntry> {
    use SerializerId::*;
    vec![
        (Value::None, "None", vec![]),
        (Value::Bool(true), "True", vec![]),
        (Value::Int(-7), "-7", vec![]),
        (Value::Int(i64::MAX), "9223372036854775807", vec![]),
        (
            Value::from_bigint(num_bigint::BigInt::from(1u128 << 70)),
            "1180591620717411303424",
            vec![],
        ),
        (Value::Float(1.5), "1.5", vec![]),
        (Value::Float(-0.1), "-0.1", vec![]),
        (s("héllo ✓ \"q\" 'q'"), r#"'héllo ✓ "q" \'q\''"#, vec![]),
        (
            Value::List(vec![Value::Int(1), s("a"), Value::None]),
            "[1, 'a', None]",
            vec![],
        ),
        (
            Value::Tuple(vec![Value::Int(1), Value::Float(2.5)]),
            "(1, 2.5)",
            vec![(Json, "[1, 2.5]")],
        ),
        (
            Value::Dict(Dict(vec![
                (s("a"), Value::Int(1)),
                (s("b"), Value::List(vec![Value::Int(2), Value::Int(3)])),
            ])),
            "{'a': 1, 'b': [2, 3]}",
            vec![],
        ),
        (
            Value::Dict(Dict(vec![(Value::Int(1), s("x"))])),
            "{1: 'x'}",
            vec![(Json, "{'1': 'x'}")],
        ),
        (Value::Set(vec![Value::Int(3)]), "{3}", vec![(Json, "[3]")]),
        (
            Value::Bytes(vec![0, 255]),
            "b'\\x00\\xff'",
            vec![(Serpent, "{'data': 'AP8=', 'encoding': 'base64'}")],
        ),
    ]
}

fn remote_of(err: &ProxyError) -> &pyro_proto::value::RemoteError {
    err.remote()
        .unwrap_or_else(|| panic!("expected a remote exception, got {err}"))
}

#[test]
fn the_daemon_exits_when_its_stdin_closes() {
    // The safety net for a test process that dies without running drops.
    let mut d = PyDaemon::start(&[]);
    Proxy::new(&d.uri).unwrap().bind().unwrap();
    d.stdin = None;
    let start = Instant::now();
    while d.child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the daemon kept running after its stdin closed"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_serializer_calls_values_kwargs_exceptions_and_attributes() {
    let d = PyDaemon::start(&[]);
    for &ser in SerializerId::ALL {
        let p = d.proxy(ser);
        for (value, repr, special) in corpus() {
            if ser == SerializerId::Json && matches!(value, Value::Bytes(_)) {
                continue; // Pyro4's json serializer has no bytes
            }
            let want = special
                .iter()
                .find(|(s, _)| *s == ser)
                .map_or(repr, |(_, r)| *r);
            let got: (String, String) = p
                .call("describe", (value.clone(),))
                .unwrap_or_else(|e| panic!("{ser:?} describe({value:?}): {e}"));
            assert_eq!(got.1, want, "{ser:?}: Python received {value:?} as {got:?}");
            if special.is_empty() {
                let echoed: Value = p.call("echo", (value.clone(),)).unwrap();
                assert!(
                    echoed.py_eq(&value),
                    "{ser:?}: echo({value:?}) = {echoed:?}"
                );
            }
        }
        assert_eq!(p.call::<i64>("add", (40, 2)).unwrap(), 42);
        assert_eq!(p.call::<String>("add", ("a", "b")).unwrap(), "ab");

        let kwargs: BTreeMap<&str, Value> = [("x", Value::Int(1)), ("y", s("z"))].into();
        let (args, kw): (Vec<i64>, BTreeMap<String, Value>) =
            p.call_kw("kwargs", (1, 2), &kwargs).unwrap();
        assert_eq!(args, [1, 2], "{ser:?}");
        assert_eq!(kw.len(), 2);
        assert!(kw["y"].py_eq(&s("z")));
        let raw = p
            .call_value(
                "kwargs",
                vec![],
                [("only", Value::Bool(true))].into_iter().collect(),
            )
            .unwrap();
        assert!(raw.py_eq(&Value::List(vec![
            Value::List(vec![]),
            Value::Dict([("only", Value::Bool(true))].into_iter().collect()),
        ])));

        // Exceptions: Python class, message and the remote traceback.
        let err = p.call::<f64>("divide", (1, 0)).unwrap_err();
        let remote = remote_of(&err);
        assert_eq!(remote.class_name, "builtins.ZeroDivisionError", "{ser:?}");
        assert_eq!(remote.message(), "division by zero");
        let tb = remote.traceback.as_deref().unwrap_or_default();
        assert!(
            tb.contains("std_proxy_daemon.py") && tb.contains("ZeroDivisionError"),
            "{ser:?} traceback: {tb}"
        );
        assert!(p.is_connected(), "a remote exception keeps the connection");

        // A custom exception class: Pyro4 refuses classes it does not know
        // (a Python client gets the same SerializeError) and drops the
        // connection; pickle names a module we do not have.
        let err = p
            .call::<()>("fail_custom", ("custom failure",))
            .unwrap_err();
        assert!(
            matches!(&err, ProxyError::Protocol { reason, .. }
                if reason.contains("unsupported serialized class: proxytest.CustomError")),
            "{ser:?}: {err}"
        );
        assert!(!p.is_connected());
        assert_eq!(p.call::<i64>("add", (1, 1)).unwrap(), 2, "reconnects");
        // Registered (Python's register_dict_to_class), it arrives whole.
        if ser != SerializerId::Pickle {
            let mut classes = ClassRegistry::new();
            classes.register("proxytest.CustomError");
            let p = Proxy::builder()
                .serializer(ser)
                .classes(Arc::new(classes))
                .build(&d.uri)
                .unwrap();
            let err = p
                .call::<()>("fail_custom", ("custom failure",))
                .unwrap_err();
            let remote = remote_of(&err);
            assert_eq!(remote.class_name, "proxytest.CustomError");
            assert_eq!(remote.message(), "custom failure");
            assert_eq!(remote.attribute("code"), Some(&Value::Int(42)));
            assert!(remote
                .traceback
                .as_deref()
                .is_some_and(|t| t.contains("std_proxy_daemon.py") && t.contains("CustomError")));
        }
        assert_eq!(p.call::<i64>("add", (1, 1)).unwrap(), 2, "reconnects");

        // Attributes: read-write, read-only, unknown.
        assert_eq!(p.get_attr::<i64>("value").unwrap(), 5);
        p.set_attr("value", 9).unwrap();
        assert_eq!(p.get_attr::<i64>("value").unwrap(), 9);
        p.set_attr("value", 5).unwrap();
        assert_eq!(p.get_attr::<String>("readonly").unwrap(), "fixed");
        let err = p.set_attr("readonly", "x").unwrap_err();
        assert_eq!(remote_of(&err).short_name(), "AttributeError", "{ser:?}");
        assert!(matches!(
            p.get_attr::<i64>("nothing"),
            Err(ProxyError::NoSuchMember { .. })
        ));
        let err = p.call::<()>("nothing", ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "remote object '{}' has no exposed attribute or method 'nothing'",
                d.uri
            )
        );
        p.ping().unwrap();
    }
}

/// Wait until `records()` contains `value`.
fn wait_for_record(p: &Proxy, value: &str) {
    let start = Instant::now();
    loop {
        let records: Vec<String> = p.call("records", ()).unwrap();
        if records.iter().any(|r| r == value) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "oneway record({value}) never ran; records: {records:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_serializer_oneway_batches_and_streams() {
    let d = PyDaemon::start(&[]);
    for &ser in SerializerId::ALL {
        let p = d.proxy(ser);
        // Oneway from metadata: returns long before the method's 2 s sleep ends.
        p.bind().unwrap();
        let tag = format!("meta-{ser:?}");
        let start = Instant::now();
        p.call::<()>("record", (&tag, 2.0)).unwrap();
        assert!(start.elapsed() < Duration::from_millis(1500), "{ser:?}");
        wait_for_record(&p, &tag);
        let tag = format!("forced-{ser:?}");
        p.oneway("record", (&tag, 0.0)).unwrap();
        wait_for_record(&p, &tag);

        // A batch stops at the first failure.
        let mut batch = p.batch();
        batch
            .call("add", (1, 2))
            .call("echo", ("x",))
            .call("divide", (1, 0))
            .call("add", (5, 5));
        if ser == SerializerId::Marshal {
            // Pyro4 4.82's marshal serializer cannot write the
            // _ExceptionWrapper of a failed batch call: the daemon answers
            // the whole batch with that error.
            let err = batch.run().unwrap_err();
            assert_eq!(
                remote_of(&err).to_string(),
                "ValueError: unmarshallable object"
            );
            batch.call("add", (1, 2)).call("echo", ("x",));
        }
        let mut results = batch.run().unwrap();
        if ser != SerializerId::Marshal {
            assert_eq!(results.len(), 3, "{ser:?}");
        }
        assert_eq!(results.next_as::<i64>().unwrap().unwrap(), 3);
        assert_eq!(results.next_as::<String>().unwrap().unwrap(), "x");
        if ser != SerializerId::Marshal {
            let err = results.next().unwrap().unwrap_err();
            assert_eq!(remote_of(&err).short_name(), "ZeroDivisionError");
        }
        assert!(results.next().is_none());
        // A oneway batch.
        let tag = format!("batch-{ser:?}");
        batch.call("record", (&tag, 0.0)).run_oneway().unwrap();
        wait_for_record(&p, &tag);

        // Streams: to the end, dropped early, failing.
        let items: Vec<i64> = p
            .stream("generator", (5,))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items, [0, 1, 2, 3, 4], "{ser:?}");
        assert_eq!(p.call::<i64>("stream_count", ()).unwrap(), 0);
        let mut stream = p.stream::<i64>("generator", (1000,)).unwrap();
        assert_eq!(stream.next().unwrap().unwrap(), 0);
        assert_eq!(stream.next().unwrap().unwrap(), 1);
        assert_eq!(p.call::<i64>("stream_count", ()).unwrap(), 1);
        drop(stream);
        assert_eq!(
            p.call::<i64>("stream_count", ()).unwrap(),
            0,
            "{ser:?}: the dropped stream is still open on the daemon"
        );
        let mut stream = p.stream::<i64>("failing_generator", ()).unwrap();
        assert_eq!(stream.next().unwrap().unwrap(), 1);
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!(remote_of(&err).message(), "generator broke");
        assert!(stream.next().is_none());
        assert_eq!(p.call::<i64>("stream_count", ()).unwrap(), 0);
    }
}

#[test]
fn metadata_off_sends_oneway_methods_as_normal_calls() {
    let d = PyDaemon::start(&[]);
    let p = Proxy::builder().metadata(false).build(&d.uri).unwrap();
    let start = Instant::now();
    p.call::<()>("record", ("sync", 0.5)).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "without metadata the call waits for the reply"
    );
    assert!(p.metadata().is_none());
    // No local check: the daemon answers for an unknown name.
    let err = p.call::<()>("nothing", ()).unwrap_err();
    assert_eq!(remote_of(&err).short_name(), "AttributeError");
    // Forced oneway still works.
    p.oneway("record", ("async", 0.0)).unwrap();
    wait_for_record(&p, "async");

    let p = Proxy::new(&d.uri).unwrap();
    p.bind().unwrap();
    assert_eq!(p.handshake_response(), Some(s("hello")));
    let meta = p.metadata().unwrap();
    assert_eq!(meta.oneway, ["record"]);
    assert!(meta.attrs.contains(&"readonly".to_string()));
    assert!(meta.methods.contains(&"generator".to_string()));
}

fn uuid_text(b: [u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[test]
fn annotations_and_correlation_ids() {
    let d = PyDaemon::start(&[]);
    for &ser in SerializerId::ALL {
        let p = d.proxy(ser);
        let corr = [
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x81, 2, 3, 4, 5, 6, 7, 8,
        ];
        let mut opts = CallOptions {
            correlation_id: Some(corr),
            ..CallOptions::default()
        };
        opts.annotations
            .insert(AnnotationId::new("XREQ").unwrap(), &b"from rust"[..]);
        let (seen, annotations): (String, BTreeMap<String, String>) =
            p.call_with("context", (), (), &opts).unwrap();
        assert_eq!(seen, uuid_text(corr), "{ser:?}");
        assert_eq!(annotations["XREQ"], "from rust");
        let response = p.response_annotations();
        assert_eq!(
            response
                .get(AnnotationId::new("XRES").unwrap())
                .map(|b| &b[..]),
            Some(&b"from python"[..])
        );
        assert_eq!(p.response_correlation_id(), Some(corr));
        // Without one, the daemon makes a fresh id and sends it back.
        let (seen, annotations): (String, BTreeMap<String, String>) =
            p.call("context", ()).unwrap();
        assert_ne!(seen, uuid_text(corr));
        assert_eq!(seen.len(), 36, "{seen}");
        assert_eq!(p.response_correlation_id().map(uuid_text), Some(seen));
        assert!(annotations.is_empty(), "{annotations:?}");
    }
}

#[test]
fn hmac_right_wrong_and_missing_keys() {
    let d = PyDaemon::start(&["--hmac", "sesame"]);
    let port = d.port();
    let right = Proxy::builder().hmac_key("sesame").build(&d.uri).unwrap();
    assert_eq!(right.call::<i64>("add", (1, 2)).unwrap(), 3);
    // The daemon's refusal is signed with its key: without the same key, the
    // answer itself fails our check, as in a Pyro4 client.
    let wrong = Proxy::builder().hmac_key("wrong").build(&d.uri).unwrap();
    let err = wrong.bind().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to ('127.0.0.1', {port}): message hmac mismatch")
    );
    let missing = Proxy::new(&d.uri).unwrap();
    let err = missing.bind().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to ('127.0.0.1', {port}): hmac key config not symmetric")
    );
    // A refusal we can read: the right key, an unknown object.
    let unknown = Proxy::builder()
        .hmac_key("sesame")
        .build(format!("PYRO:nothing@127.0.0.1:{port}"))
        .unwrap();
    let err = unknown.bind().unwrap_err();
    assert!(matches!(err, ProxyError::Rejected { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("connection to ('127.0.0.1', {port}) rejected: unknown object")
    );
}

/// A one-connection TCP relay in front of `port` that counts the bytes
/// going each way, to see on the wire whether compression happened.
struct Relay {
    port: u16,
    up: Arc<AtomicUsize>,
    down: Arc<AtomicUsize>,
}

impl Relay {
    fn to(port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            up: Arc::default(),
            down: Arc::default(),
        };
        let (up, down) = (relay.up.clone(), relay.down.clone());
        thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let daemon = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let pipe = |mut from: TcpStream, mut to: TcpStream, count: Arc<AtomicUsize>| {
                thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        count.fetch_add(n, Ordering::SeqCst);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                })
            };
            pipe(client.try_clone().unwrap(), daemon.try_clone().unwrap(), up);
            pipe(daemon, client, down);
        });
        relay
    }
}

#[test]
fn compression_both_ways() {
    let big = "compressible ".repeat(500);
    for daemon_compresses in [false, true] {
        let d = if daemon_compresses {
            PyDaemon::start(&["--compression"])
        } else {
            PyDaemon::start(&[])
        };
        for proxy_compresses in [false, true] {
            for &ser in SerializerId::ALL {
                let relay = Relay::to(d.port());
                let p = Proxy::builder()
                    .serializer(ser)
                    .compression(proxy_compresses)
                    .build(format!("PYRO:test.object@127.0.0.1:{}", relay.port))
                    .unwrap();
                p.bind().unwrap();
                let (up, down) = (
                    relay.up.load(Ordering::SeqCst),
                    relay.down.load(Ordering::SeqCst),
                );
                let back: String = p.call("echo", (&big,)).unwrap();
                assert_eq!(back, big, "{ser:?} {daemon_compresses} {proxy_compresses}");
                let sent = relay.up.load(Ordering::SeqCst) - up;
                let received = relay.down.load(Ordering::SeqCst) - down;
                let what = format!(
                    "{ser:?}, daemon compresses: {daemon_compresses}, proxy compresses: \
                     {proxy_compresses}: {sent} bytes sent, {received} received for a \
                     {} character string",
                    big.len()
                );
                assert_eq!(sent < big.len(), proxy_compresses, "{what}");
                assert_eq!(received < big.len(), daemon_compresses, "{what}");
            }
        }
    }
}

#[test]
fn unix_socket() {
    let dir = std::env::temp_dir().join(format!("pyro-std-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("daemon.sock");
    let d = PyDaemon::start(&["--unix", path.to_str().unwrap()]);
    assert_eq!(d.uri, format!("PYRO:test.object@./u:{}", path.display()));
    let p = Proxy::new(&d.uri).unwrap();
    assert_eq!(p.call::<i64>("add", (2, 3)).unwrap(), 5);
    let items: Vec<i64> = p
        .stream("generator", (3,))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items, [0, 1, 2]);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ipv6_loopback() {
    let d = PyDaemon::start(&["--host", "::1"]);
    assert!(d.uri.contains("@[::1]:"), "{}", d.uri);
    let p = Proxy::new(&d.uri).unwrap();
    assert_eq!(p.call::<i64>("add", (2, 3)).unwrap(), 5);
    drop(d);
    // The address in errors is Pyro4's tuple form.
    let err = p.call::<i64>("add", (2, 3)).unwrap_err();
    assert!(err.to_string().contains("('::1', "), "{err}");
}

#[test]
fn timeout_on_a_slow_method() {
    let d = PyDaemon::start(&[]);
    let p = Proxy::builder()
        .timeout(Some(Duration::from_millis(300)))
        .build(&d.uri)
        .unwrap();
    assert_eq!(p.call::<f64>("slow", (0.0,)).unwrap(), 0.0);
    let start = Instant::now();
    let err = p.call::<f64>("slow", (2.0,)).unwrap_err();
    assert!(
        matches!(
            err,
            ProxyError::TimedOut {
                phase: Phase::Receiving,
                ..
            }
        ),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert!(!p.is_connected(), "a timeout drops the connection");
    // The next call reconnects; the late reply of the old call cannot confuse it.
    assert_eq!(p.call::<f64>("slow", (0.1,)).unwrap(), 0.1);
    // Retries: a timed-out call is repeated, then the error is reported.
    p.set_max_retries(1);
    let start = Instant::now();
    assert!(p.call::<f64>("slow", (2.0,)).is_err());
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "retried once"
    );
}

#[test]
fn reconnect_after_the_daemon_restarts() {
    let d = PyDaemon::start(&[]);
    let port = d.port();
    let p = Proxy::builder()
        .reconnect_interval(Duration::from_millis(200))
        .build(&d.uri)
        .unwrap();
    assert_eq!(p.call::<i64>("add", (1, 1)).unwrap(), 2);
    drop(d);
    let err = p.call::<i64>("add", (1, 1)).unwrap_err();
    assert!(err.is_communication_error(), "{err}");
    assert!(!p.is_connected());
    // The restarted daemon takes a moment; reconnect retries meanwhile.
    let port_arg = port.to_string();
    let restarter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        PyDaemon::start(&["--port", &port_arg])
    });
    p.reconnect(50).unwrap();
    let d2 = restarter.join().unwrap();
    assert_eq!(d2.port(), port);
    assert_eq!(p.call::<i64>("add", (2, 2)).unwrap(), 4);
    drop(d2);
    let err = p.reconnect(2).unwrap_err();
    assert!(
        matches!(&err, ProxyError::ReconnectFailed { tries: 2, last }
            if matches!(**last, ProxyError::ConnectionRefused { .. })),
        "{err}"
    );
}

#[test]
fn callback_into_a_rust_daemon() {
    let notified = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = notified.clone();
    let servant = ServantBuilder::new("Callback")
        .method("notify", move |(text,): (String,)| {
            seen.lock().unwrap().push(text.clone());
            Ok(format!("rust got {text}"))
        })
        .build();
    let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
    let handle = daemon.handle();
    let callback_uri = handle
        .register(servant, Some("callback"))
        .unwrap()
        .to_string();
    let server = thread::spawn(move || daemon.request_loop());
    struct Stop(pyro_transport_std::DaemonHandle);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }
    let stop = Stop(handle);

    let d = PyDaemon::start(&[]);
    for &ser in SerializerId::ALL {
        let p = d.proxy(ser);
        let text = format!("hello via {ser:?}");
        let reply: String = p.call("call_back", (&callback_uri, &text)).unwrap();
        assert_eq!(reply, format!("rust got {text}"));
    }
    assert_eq!(notified.lock().unwrap().len(), SerializerId::ALL.len());
    drop(stop);
    server.join().unwrap().unwrap();
}

/// A stream outlives a fetch that failed: as Pyro4's proxy does, ours drops
/// its connection when the fetch times out, `next` then reports
/// `StreamClosed` until the proxy reconnects, and after that the stream goes
/// on, since the daemon kept it (`ITER_STREAM_LINGER`). Item 1 was sent to
/// the dropped connection, so the next item is 2 (Python's client sees the
/// same sequence).
#[test]
fn a_stream_continues_after_a_timed_out_fetch_and_a_reconnect() {
    let d = PyDaemon::start(&[]);
    let p = Proxy::builder()
        .timeout(Some(Duration::from_millis(300)))
        .build(&d.uri)
        .unwrap();
    let mut items = p.stream::<i64>("slow_generator", (4, 1, 1.0)).unwrap();
    assert_eq!(items.next().unwrap().unwrap(), 0);
    let err = items.next().unwrap().unwrap_err();
    assert!(matches!(err, ProxyError::TimedOut { .. }), "{err}");
    assert!(matches!(items.next(), Some(Err(ProxyError::StreamClosed))));
    // Let the daemon finish the slow item first: a Python generator cannot
    // run in two threads at once.
    std::thread::sleep(Duration::from_millis(1300));
    p.reconnect(1).unwrap();
    assert_eq!(items.next().unwrap().unwrap(), 2);
    assert_eq!(items.next().unwrap().unwrap(), 3);
    assert!(items.next().is_none());
}
