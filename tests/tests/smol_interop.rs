//! The async (smol) adapter against real Python Pyro4 4.82, both ways.
//!
//! Daemon side: `pyro_transport_smol::Daemon` runs in-process (its `run()`
//! future on a thread of its own) with a test servant, and the Pyro4 client
//! script `tests/python/std_daemon_client.py` (a transport-neutral daemon
//! conformance client: it checks every value against what a Python daemon
//! would give and exits 1 on any mismatch) is run against its URI; the
//! servant below offers the methods that script expects.
//!
//! Proxy side: `tests/python/std_proxy_daemon.py` (a Pyro4 daemon serving
//! "test.object", all four serializers accepted) is started per test and
//! talked to with the async `pyro_transport_smol::Proxy`; a Drop guard kills
//! it, and it exits by itself when its stdin closes.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::serialize::SerializerId;
use pyro_proto::value::{Dict, Value};
use pyro_tests::servants::{daemon_client, test_servant, OBJECT};
use pyro_transport_smol::smol;
use pyro_transport_smol::{Daemon, DaemonBuilder, DaemonHandle, Error, Phase, Proxy, ProxyError};

// ---------------------------------------------------------------------------
// Python clients against the async Rust daemon.
// ---------------------------------------------------------------------------

/// An async daemon serving the test servant, its `run()` on a background thread.
struct Running {
    handle: DaemonHandle,
    uri: String,
    thread: Option<JoinHandle<Result<(), Error>>>,
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
        let thread = thread::spawn(move || smol::block_on(daemon.run()));
        Running {
            handle,
            uri,
            thread: Some(thread),
        }
    }

    /// Run the client script in `mode`; panics with its output unless it succeeded.
    fn client(&self, mode: &str, args: &[&str]) -> String {
        daemon_client("smol", &self.uri, mode, args)
    }

    /// Shut down; `run()` must complete promptly with nothing left open.
    fn stop(mut self) {
        let started = Instant::now();
        self.handle.shutdown();
        self.thread
            .take()
            .unwrap()
            .join()
            .expect("run() panicked")
            .expect("run() failed");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "shutdown took {:?}",
            started.elapsed()
        );
        assert_eq!(self.handle.connection_count(), 0, "connections left");
        assert_eq!(self.handle.stream_count(), 0, "streams left");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn localhost() -> DaemonBuilder {
    Daemon::builder().tcp("127.0.0.1", 0)
}

#[test]
fn smol_daemon_python_calls_serpent() {
    let d = Running::start(localhost());
    d.client("calls", &["serpent"]);
    d.stop();
}

#[test]
fn smol_daemon_python_calls_json() {
    let d = Running::start(localhost());
    d.client("calls", &["json"]);
    d.stop();
}

#[test]
fn smol_daemon_python_calls_marshal() {
    let d = Running::start(localhost());
    d.client("calls", &["marshal"]);
    d.stop();
}

#[test]
fn smol_daemon_python_calls_pickle_when_enabled() {
    let d = Running::start(localhost().accept_pickle());
    d.client("calls", &["pickle"]);
    d.stop();
}

#[test]
fn smol_daemon_python_without_metadata_and_compressed() {
    let d = Running::start(localhost().compression(true));
    d.client("calls", &["json", "--nometa", "--compression"]);
    d.stop();
}

#[test]
fn smol_daemon_python_hmac() {
    let d = Running::start(localhost().hmac_key("s3cr3t"));
    let out = d.client("hmac", &["serpent", "s3cr3t"]);
    assert_eq!(out.matches("refused with key").count(), 2, "{out}");
    d.stop();
}

#[test]
fn smol_daemon_python_connection_limit() {
    let d = Running::start(localhost().max_connections(Some(3)));
    d.client("limit", &["serpent", "3"]);
    d.stop();
}

#[test]
fn smol_daemon_50_concurrent_python_client_threads() {
    let d = Running::start(localhost());
    let started = Instant::now();
    let out = d.client("many", &["serpent", "50"]);
    println!(
        "50 Python client threads against the smol daemon: {:.2?} (client's own figure: {})",
        started.elapsed(),
        out.trim()
    );
    d.stop();
}

#[cfg(unix)]
#[test]
fn smol_daemon_python_unix_socket() {
    let path =
        std::env::temp_dir().join(format!("pyro-rs-smol-interop-{}.sock", std::process::id()));
    let d = Running::start(Daemon::builder().unix(&path));
    assert!(d.uri.starts_with("PYRO:test.servant@./u:"), "{}", d.uri);
    d.client("calls", &["marshal"]);
    d.stop();
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn smol_daemon_python_abandoned_stream_lingers_then_expires() {
    let d = Running::start(localhost().stream_linger(Duration::from_millis(1500)));
    d.client("abandon", &["serpent"]);
    assert_eq!(
        d.handle.stream_count(),
        1,
        "stream dropped before its linger"
    );
    let started = Instant::now();
    while d.handle.stream_count() > 0 && started.elapsed() < Duration::from_secs(6) {
        thread::sleep(Duration::from_millis(50));
    }
    let gone = started.elapsed();
    assert_eq!(
        d.handle.stream_count(),
        0,
        "the async housekeeper never expired it"
    );
    assert!(
        gone > Duration::from_millis(1000),
        "expired after {gone:?}, before its linger"
    );
    d.stop();
}

/// Run smol_daemon_stall.py (a slow servant call, quick calls from 20 other
/// clients meanwhile) against `d`; returns its success and output.
fn stall_check(d: &Running) -> (bool, String) {
    let out = pyro_tests::python::script("smol_daemon_stall.py")
        .args([&d.uri, "2.0", "20"])
        .output()
        .expect("run smol_daemon_stall.py");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    (out.status.success(), text)
}

#[test]
fn smol_daemon_blocking_servant_does_not_stall_python_clients() {
    let d = Running::start(localhost());
    let (ok, text) = stall_check(&d);
    assert!(ok, "{text}");
    d.stop();
}

/// The stall check must catch a stalled daemon: with servants on the
/// executor (servants_may_block(false)) the sleeping servant holds up every
/// connection, and the script reports it.
#[test]
fn smol_daemon_stall_check_detects_servants_on_the_executor() {
    let d = Running::start(localhost().servants_may_block(false));
    let (ok, text) = stall_check(&d);
    assert!(!ok && text.contains("the daemon stalled"), "{text}");
    d.stop();
}

// ---------------------------------------------------------------------------
// The async Rust proxy against a Python Pyro4 daemon.
// ---------------------------------------------------------------------------

/// A running Python daemon; killed on drop.
struct PyDaemon {
    child: Child,
    /// Held open: the daemon exits by itself when it closes.
    _stdin: ChildStdin,
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
        let mut guard = PyDaemon {
            child,
            _stdin: stdin,
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

const SERIALIZERS: [SerializerId; 4] = [
    SerializerId::Serpent,
    SerializerId::Json,
    SerializerId::Marshal,
    SerializerId::Pickle,
];

async fn wait_for_record(p: &Proxy, tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records: Vec<String> = p.call("records", ()).await.unwrap();
        if records.iter().any(|r| r == tag) {
            return;
        }
        assert!(Instant::now() < deadline, "record {tag} never arrived");
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}

#[test]
fn smol_proxy_python_calls_exceptions_and_attributes() {
    let d = PyDaemon::start(&[]);
    smol::block_on(async {
        for ser in SERIALIZERS {
            let p = d.proxy(ser);
            assert_eq!(p.call::<i64>("add", (2, 40)).await.unwrap(), 42, "{ser:?}");
            let (ty, repr): (String, String) = p.call("describe", ("h\u{e9}llo",)).await.unwrap();
            assert_eq!(
                (ty.as_str(), repr.as_str()),
                ("str", "'h\u{e9}llo'"),
                "{ser:?}"
            );
            let (ty, repr): (String, String) =
                p.call("describe", (Value::Int(i64::MAX),)).await.unwrap();
            assert_eq!((ty.as_str(), repr.as_str()), ("int", "9223372036854775807"));
            let echoed: Vec<f64> = p.call("echo", (vec![1.5, -0.25],)).await.unwrap();
            assert_eq!(echoed, [1.5, -0.25]);
            let kw: Value = p
                .call_kw(
                    "kwargs",
                    (1,),
                    [("k", "v")]
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>(),
                )
                .await
                .unwrap();
            let Value::List(parts) = kw else {
                panic!("{ser:?}: kwargs gave {kw:?}")
            };
            assert_eq!(parts[0], Value::List(vec![Value::Int(1)]));
            // A Python exception: class, message, remote traceback.
            let err = p.call::<f64>("divide", (1, 0)).await.unwrap_err();
            let remote = err.remote().unwrap_or_else(|| panic!("{ser:?}: {err:?}"));
            assert_eq!(remote.short_name(), "ZeroDivisionError");
            assert_eq!(remote.message(), "division by zero");
            assert!(
                remote.traceback.as_deref().unwrap_or("").contains("divide"),
                "{ser:?}: {remote:?}"
            );
            // Attributes.
            p.set_attr("value", 17).await.unwrap();
            assert_eq!(p.get_attr::<i64>("value").await.unwrap(), 17, "{ser:?}");
            assert_eq!(p.get_attr::<String>("readonly").await.unwrap(), "fixed");
            assert!(p.set_attr("readonly", "x").await.is_err(), "{ser:?}");
            let err = p.call::<()>("no_such_method", ()).await.unwrap_err();
            assert!(matches!(err, ProxyError::NoSuchMember { .. }), "{err:?}");
        }
    });
}

#[test]
fn smol_proxy_python_oneway_batches_and_streams() {
    let d = PyDaemon::start(&[]);
    smol::block_on(async {
        for ser in SERIALIZERS {
            let p = d.proxy(ser);
            p.bind().await.unwrap();
            // Oneway from metadata: returns long before the method's 2 s sleep.
            let tag = format!("meta-{ser:?}");
            let started = Instant::now();
            p.call::<()>("record", (&tag, 2.0)).await.unwrap();
            assert!(started.elapsed() < Duration::from_millis(1500), "{ser:?}");
            wait_for_record(&p, &tag).await;
            let tag = format!("forced-{ser:?}");
            p.oneway("record", (&tag, 0.0)).await.unwrap();
            wait_for_record(&p, &tag).await;

            // A batch stops at the first failure (not with marshal: Pyro4
            // 4.82's marshal cannot write a failed batch call's wrapper).
            let mut batch = p.batch();
            batch.call("add", (1, 2)).call("echo", ("x",));
            if ser != SerializerId::Marshal {
                batch.call("divide", (1, 0)).call("add", (5, 5));
            }
            let mut results = batch.run().await.unwrap();
            assert_eq!(results.next_as::<i64>().unwrap().unwrap(), 3);
            assert_eq!(results.next_as::<String>().unwrap().unwrap(), "x");
            if ser != SerializerId::Marshal {
                let err = results.next().unwrap().unwrap_err();
                assert_eq!(err.remote().unwrap().short_name(), "ZeroDivisionError");
            }
            assert!(results.next().is_none(), "{ser:?}");
            let tag = format!("batch-{ser:?}");
            batch
                .call("record", (&tag, 0.0))
                .run_oneway()
                .await
                .unwrap();
            wait_for_record(&p, &tag).await;

            // Streams: to the end, dropped early, failing.
            let items = p.stream::<i64>("generator", (5,)).await.unwrap();
            assert_eq!(
                items.collect_vec().await.unwrap(),
                [0, 1, 2, 3, 4],
                "{ser:?}"
            );
            let mut stream = p.stream::<i64>("generator", (1000,)).await.unwrap();
            assert_eq!(stream.next().await.unwrap().unwrap(), 0);
            assert_eq!(stream.next().await.unwrap().unwrap(), 1);
            assert_eq!(p.call::<i64>("stream_count", ()).await.unwrap(), 1);
            drop(stream);
            // The close task sent close_stream (oneway) on the proxy's connection.
            let deadline = Instant::now() + Duration::from_secs(5);
            while p.call::<i64>("stream_count", ()).await.unwrap() != 0 {
                assert!(
                    Instant::now() < deadline,
                    "{ser:?}: dropped stream still open"
                );
                smol::Timer::after(Duration::from_millis(20)).await;
            }
            let mut stream = p.stream::<i64>("failing_generator", ()).await.unwrap();
            assert_eq!(stream.next().await.unwrap().unwrap(), 1);
            let err = stream.next().await.unwrap().unwrap_err();
            assert_eq!(err.remote().unwrap().message(), "generator broke");
            assert!(stream.next().await.is_none());
            assert_eq!(p.call::<i64>("stream_count", ()).await.unwrap(), 0);
        }
    });
}

#[test]
fn smol_proxy_python_timeout_then_reconnect() {
    let d = PyDaemon::start(&[]);
    smol::block_on(async {
        let p = Proxy::builder()
            .timeout(Some(Duration::from_millis(300)))
            .build(&d.uri)
            .unwrap();
        assert_eq!(p.call::<f64>("slow", (0.01,)).await.unwrap(), 0.01);
        let started = Instant::now();
        let err = p.call::<f64>("slow", (2.0,)).await.unwrap_err();
        assert!(
            matches!(
                err,
                ProxyError::TimedOut {
                    phase: Phase::Receiving,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1500));
        assert_eq!(p.call::<i64>("add", (1, 2)).await.unwrap(), 3);
    });
}

#[test]
fn smol_proxy_python_hmac() {
    let d = PyDaemon::start(&["--hmac", "k3y"]);
    smol::block_on(async {
        let good = Proxy::builder().hmac_key("k3y").build(&d.uri).unwrap();
        assert_eq!(good.call::<i64>("add", (1, 1)).await.unwrap(), 2);
        let bad = Proxy::builder().hmac_key("nope").build(&d.uri).unwrap();
        let err = bad.bind().await.unwrap_err();
        assert!(err.is_communication_error(), "{err:?}");
    });
}

#[test]
fn smol_proxy_python_concurrent_tasks() {
    const TASKS: usize = 20;
    let d = PyDaemon::start(&[]);
    let ex = smol::LocalExecutor::new();
    let started = Instant::now();
    let out: Vec<f64> = smol::block_on(ex.run(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let p = Proxy::new(&d.uri).unwrap();
                ex.spawn(async move { p.call::<f64>("slow", (0.5,)).await.unwrap() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    }));
    let took = started.elapsed();
    assert_eq!(out, vec![0.5; TASKS]);
    assert!(
        took < Duration::from_secs(5),
        "{TASKS} tasks took {took:?}: not concurrent"
    );
    println!("{TASKS} async proxies against the Python daemon: {took:?}");
}

// ---------------------------------------------------------------------------
// The async proxy resolving names through Python's name server.
// ---------------------------------------------------------------------------

/// `python -m Pyro4.naming -n 127.0.0.1 -p <free port> -x -k <key>` (no
/// broadcast responder), killed on drop.
struct PyNameServer {
    child: Child,
    port: u16,
}

impl PyNameServer {
    fn start(key: &str) -> PyNameServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(pyro_tests::python::python())
            // -k is deprecated (a warning on stderr), still the simplest way here.
            .args(["-W", "ignore::UserWarning", "-m", "Pyro4.naming"])
            .args(["-n", "127.0.0.1", "-x", "-k", key])
            .args(["-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python -m Pyro4.naming");
        let ns = PyNameServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Python name server did not start"
            );
            thread::sleep(Duration::from_millis(50));
        }
        ns
    }
}

impl Drop for PyNameServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python daemon registered in a Python name server (both with an HMAC
/// key), reached by the async proxy through `PYRONAME:` and `PYROMETA:`
/// URIs: the lookup goes out with the proxy's key, Python's `NamingError`
/// texts come back, and `call_any` gives a generator's stream.
#[test]
fn smol_proxy_pyroname_through_the_python_name_server() {
    use pyro_transport_smol::naming::locate_ns_with;
    use pyro_transport_smol::CallResult;
    const KEY: &str = "ns-k3y";
    let py_ns = PyNameServer::start(KEY);
    let d = PyDaemon::start(&["--hmac", KEY]);
    let at = format!("127.0.0.1:{}", py_ns.port);
    smol::block_on(async {
        let keyed = Proxy::builder().hmac_key(KEY);
        let ns = locate_ns_with(&keyed, Some("127.0.0.1"), Some(py_ns.port), false)
            .await
            .unwrap();
        assert_eq!(ns.uri().to_string(), format!("PYRO:Pyro.NameServer@{at}"));
        let mut kwargs = Dict::new();
        kwargs.insert(
            "metadata",
            Value::List(vec![Value::Str("kind:py-test".into())]),
        );
        let reply = ns
            .call_value(
                "register",
                vec![
                    Value::Str("py.test".into()),
                    Value::Str(d.uri.clone().into()),
                ],
                kwargs,
            )
            .await
            .unwrap();
        assert_eq!(reply, Value::None);

        let name = format!("PYRONAME:py.test@{at}");
        let by_name = keyed.build(name.as_str()).unwrap();
        assert_eq!(by_name.call::<i64>("add", (2, 40)).await.unwrap(), 42);
        assert_eq!(by_name.uri().to_string(), name);
        let by_meta = keyed
            .build(format!("PYROMETA:kind:py-test@{at}").as_str())
            .unwrap();
        assert_eq!(by_meta.call::<i64>("add", (1, 2)).await.unwrap(), 3);
        // call_any: a generator is a stream, a plain result a value.
        let opts = Default::default();
        match by_name
            .call_any("generator", vec![Value::Int(3)], Dict::new(), &opts)
            .await
            .unwrap()
        {
            CallResult::Stream(s) => assert_eq!(
                s.collect_vec().await.unwrap(),
                [Value::Int(0), Value::Int(1), Value::Int(2)]
            ),
            other => panic!("expected a stream, got {other:?}"),
        }
        match by_name
            .call_any(
                "add",
                vec![Value::Int(5), Value::Int(6)],
                Dict::new(),
                &opts,
            )
            .await
            .unwrap()
        {
            CallResult::Value(v) => assert_eq!(v, Value::Int(11)),
            other => panic!("expected a value, got {other:?}"),
        }

        // Python's own NamingError texts.
        let unknown = keyed
            .build(format!("PYRONAME:nothing@{at}").as_str())
            .unwrap();
        let err = unknown.bind().await.unwrap_err();
        let remote = err.remote().expect("a remote NamingError");
        assert_eq!(remote.class_name, "Pyro4.errors.NamingError");
        assert_eq!(remote.message(), "unknown name: nothing");
        let nomatch = keyed
            .build(format!("PYROMETA:kind:none@{at}").as_str())
            .unwrap();
        let err = nomatch.bind().await.unwrap_err();
        assert!(matches!(err, ProxyError::Naming { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no registrations available with desired metadata properties {'kind:none'}"
        );
        // Without the key the name server cannot be reached.
        let keyless = Proxy::new(name.as_str()).unwrap();
        let err = keyless.bind().await.unwrap_err();
        assert!(matches!(err, ProxyError::Naming { .. }), "{err:?}");
    });
}

/// The async twin of `std_proxy_interop`'s
/// `a_stream_continues_after_a_timed_out_fetch_and_a_reconnect`: a stream
/// outlives a timed-out fetch and goes on after a reconnect, as with
/// Pyro4's own proxy (0, timeout, closed, then 2 and 3).
#[test]
fn smol_stream_continues_after_a_timed_out_fetch_and_a_reconnect() {
    let d = PyDaemon::start(&[]);
    smol::block_on(async {
        let p = Proxy::builder()
            .timeout(Some(Duration::from_millis(300)))
            .build(&d.uri)
            .unwrap();
        let mut items = p
            .stream::<i64>("slow_generator", (4, 1, 1.0))
            .await
            .unwrap();
        assert_eq!(items.next().await.unwrap().unwrap(), 0);
        let err = items.next().await.unwrap().unwrap_err();
        assert!(matches!(err, ProxyError::TimedOut { .. }), "{err}");
        assert!(matches!(
            items.next().await,
            Some(Err(ProxyError::StreamClosed))
        ));
        // The daemon's generator must finish the slow item first.
        smol::Timer::after(Duration::from_millis(1300)).await;
        p.reconnect(1).await.unwrap();
        assert_eq!(items.next().await.unwrap().unwrap(), 2);
        assert_eq!(items.next().await.unwrap().unwrap(), 3);
        assert!(items.next().await.is_none());
    });
}
