//! The proxy against the in-process std [`Daemon`](crate::Daemon) (the
//! Python interop tests are in tests/tests/std_proxy_interop.rs).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::message::AnnotationId;
use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::RemoteError;

use super::*;
use crate::{Daemon, DaemonBuilder, DaemonHandle};

struct Running {
    handle: DaemonHandle,
    uri: String,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(builder: DaemonBuilder) -> Running {
    let daemon = builder.bind().unwrap();
    let handle = daemon.handle();
    let value = Arc::new(AtomicI64::new(7));
    let (v1, v2, v3) = (value.clone(), value.clone(), value);
    let servant = ServantBuilder::new("Calc")
        .method("add", |(a, b): (i64, i64)| Ok(a + b))
        .method("divide", |(a, b): (i64, i64)| {
            if b == 0 {
                Err(RemoteError::builtin(
                    "ZeroDivisionError",
                    "division by zero",
                ))
            } else {
                Ok(a / b)
            }
        })
        .raw_method("kwargs", |_ctx, args| {
            Ok(Reply::Value(Value::Tuple(vec![
                Value::Tuple(args.vargs),
                Value::Dict(args.kwargs),
            ])))
        })
        .method_with_context("context", |ctx, (): ()| {
            ctx.response_annotations
                .insert(AnnotationId::new("XRES").unwrap(), &b"back"[..]);
            let echo = ctx
                .annotations
                .get(AnnotationId::new("XREQ").unwrap())
                .map(|b| b.to_vec())
                .unwrap_or_default();
            Ok((ctx.correlation_id.to_vec(), echo))
        })
        .oneway("bump", move |(n,): (i64,)| {
            v1.fetch_add(n, Ordering::SeqCst);
            Ok(())
        })
        .method("sleep", |(ms,): (u64,)| {
            thread::sleep(Duration::from_millis(ms));
            Ok(ms)
        })
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .attr_rw(
            "value",
            move || v2.load(Ordering::SeqCst),
            move |v: i64| {
                v3.store(v, Ordering::SeqCst);
                Ok(())
            },
        )
        .build();
    handle.register(servant, Some("calc")).unwrap();
    let uri = handle.uri_for("calc").unwrap().to_string();
    let thread = thread::spawn(move || daemon.request_loop().unwrap());
    Running {
        handle,
        uri,
        thread: Some(thread),
    }
}

fn tcp() -> Running {
    serve(Daemon::builder().tcp("127.0.0.1", 0))
}

#[test]
fn calls_oneway_attributes_and_errors() {
    let d = tcp();
    let p = Proxy::new(&d.uri).unwrap();
    assert!(!p.is_connected(), "connects lazily");
    assert_eq!(p.call::<i64>("add", (2, 40)).unwrap(), 42);
    assert!(p.is_connected());
    let meta = p.metadata().unwrap();
    assert_eq!(meta.oneway, ["bump"]);

    let (args, kwargs): (Vec<i64>, std::collections::BTreeMap<String, String>) = p
        .call_kw(
            "kwargs",
            (1, 2),
            [("a", "x")]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap();
    assert_eq!(args, [1, 2]);
    assert_eq!(kwargs["a"], "x");
    assert_eq!(
        p.call_value("add", vec![Value::Int(1), Value::Int(1)], Dict::default())
            .unwrap(),
        Value::Int(2)
    );

    let err = p.call::<i64>("divide", (1, 0)).unwrap_err();
    let remote = err.remote().expect("a remote exception");
    assert_eq!(remote.class_name, "builtins.ZeroDivisionError");
    assert_eq!(remote.message(), "division by zero");
    assert_eq!(
        err.to_string(),
        "remote exception ZeroDivisionError: division by zero"
    );
    assert!(p.is_connected(), "a remote exception keeps the connection");

    // Oneway from metadata, then forced; both are done when the call returns.
    p.call::<()>("bump", (1,)).unwrap();
    p.oneway("bump", (2,)).unwrap();
    assert!(p.response_annotations().is_empty());
    let start = Instant::now();
    while p.get_attr::<i64>("value").unwrap() != 10 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "oneway calls not run"
        );
        thread::sleep(Duration::from_millis(10));
    }
    p.set_attr("value", 3).unwrap();
    assert_eq!(p.get_attr::<i64>("value").unwrap(), 3);

    // Pyro4's client-side checks with metadata.
    let err = p.call::<()>("nope", ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "remote object '{}' has no exposed attribute or method 'nope'",
            d.uri
        )
    );
    assert!(matches!(
        p.get_attr::<i64>("add"),
        Err(ProxyError::NoSuchMember { .. })
    ));
    // Bad arguments are refused before sending.
    assert!(matches!(
        p.call::<i64>("add", 5),
        Err(ProxyError::Arguments { .. })
    ));
    assert!(matches!(
        p.call::<String>("add", (1, 2)),
        Err(ProxyError::Deserialize { .. })
    ));
    p.ping().unwrap();
}

#[test]
fn annotations_and_correlation_id_per_call() {
    let d = tcp();
    let p = Proxy::new(d.uri.as_str()).unwrap();
    let mut opts = CallOptions {
        correlation_id: Some([7; 16]),
        ..CallOptions::default()
    };
    opts.annotations
        .insert(AnnotationId::new("XREQ").unwrap(), &b"hi"[..]);
    let (corr, echo): (Vec<u8>, Vec<u8>) = p.call_with("context", (), (), &opts).unwrap();
    assert_eq!(corr, [7; 16]);
    assert_eq!(echo, b"hi");
    let ann = p.response_annotations();
    assert_eq!(
        &ann.get(AnnotationId::new("XRES").unwrap()).unwrap()[..],
        b"back"
    );
    assert_eq!(p.response_correlation_id(), Some([7; 16]));
}

#[test]
fn batches_stop_at_the_first_failure() {
    let d = tcp();
    let p = Proxy::new(&d.uri).unwrap();
    let mut batch = p.batch();
    batch
        .call("add", (1, 1))
        .call("divide", (1, 0))
        .call("add", (2, 2));
    assert_eq!(batch.len(), 3);
    let mut results = batch.run().unwrap();
    assert!(batch.is_empty());
    assert_eq!(results.len(), 2);
    assert_eq!(results.next_as::<i64>().unwrap().unwrap(), 2);
    let err = results.next().unwrap().unwrap_err();
    assert_eq!(err.remote().unwrap().short_name(), "ZeroDivisionError");
    assert!(results.next().is_none());
    batch.call("bump", (5,)).run_oneway().unwrap();
}

#[test]
fn streams_end_or_are_closed_when_dropped() {
    let d = tcp();
    let p = Proxy::new(&d.uri).unwrap();
    let all: Vec<i64> = p
        .stream("count", (4,))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all, [0, 1, 2, 3]);
    assert_eq!(d.handle.stream_count(), 0);

    let mut s = p.stream::<i64>("count", (100,)).unwrap();
    assert!(s.id().is_some());
    assert_eq!(s.next().unwrap().unwrap(), 0);
    assert_eq!(d.handle.stream_count(), 1);
    // Other calls in between do not disturb the stream.
    assert_eq!(p.call::<i64>("add", (1, 1)).unwrap(), 2);
    assert_eq!(s.next().unwrap().unwrap(), 1);
    drop(s);
    // close_stream is oneway: wait for the daemon to have handled it.
    p.ping().unwrap();
    assert_eq!(d.handle.stream_count(), 0);

    // A generator called as a plain method is closed again and reported.
    assert!(matches!(
        p.call::<Value>("count", (3,)),
        Err(ProxyError::UnexpectedStream { .. })
    ));
    p.ping().unwrap();
    assert_eq!(d.handle.stream_count(), 0);

    // A stream whose connection was dropped fails like Pyro4's, for as
    // long as the proxy has no connection, and continues after a reconnect
    // (the daemon keeps it for its linger time).
    let mut s = p.stream::<i64>("count", (3,)).unwrap();
    assert_eq!(s.next().unwrap().unwrap(), 0);
    p.release();
    assert!(matches!(s.next(), Some(Err(ProxyError::StreamClosed))));
    assert!(matches!(s.next(), Some(Err(ProxyError::StreamClosed))));
    p.reconnect(1).unwrap();
    assert_eq!(s.next().unwrap().unwrap(), 1);
    drop(s);
    p.ping().unwrap();
    assert_eq!(d.handle.stream_count(), 0);
}

#[test]
fn timeouts_drop_the_connection_and_the_next_call_reconnects() {
    let d = tcp();
    let p = Proxy::builder()
        .timeout(Some(Duration::from_millis(200)))
        .build(&d.uri)
        .unwrap();
    let err = p.call::<u64>("sleep", (1000,)).unwrap_err();
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
    assert!(err.to_string().starts_with("receiving: timeout"), "{err}");
    assert!(!p.is_connected());
    assert_eq!(p.call::<u64>("sleep", (1,)).unwrap(), 1);
    p.set_timeout(None);
    assert_eq!(p.call::<u64>("sleep", (300,)).unwrap(), 300);
}

#[test]
fn connection_errors_say_what_happened() {
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let p = Proxy::new(format!("PYRO:x@127.0.0.1:{port}")).unwrap();
    let err = p.bind().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to ('127.0.0.1', {port}): connection refused")
    );
    let start = Instant::now();
    let p = Proxy::builder()
        .reconnect_interval(Duration::from_millis(50))
        .build(format!("PYRO:x@127.0.0.1:{port}"))
        .unwrap();
    let err = p.reconnect(3).unwrap_err();
    assert!(
        matches!(err, ProxyError::ReconnectFailed { tries: 3, .. }),
        "{err}"
    );
    assert!(start.elapsed() >= Duration::from_millis(100));

    // The daemon's refusal, with Pyro4's text.
    let d = serve(
        Daemon::builder()
            .tcp("127.0.0.1", 0)
            .hmac_key(b"secret".to_vec()),
    );
    let port = d.handle.uri_for("calc").unwrap().tcp_port().unwrap();
    // Without a key the (signed) refusal fails our HMAC check, as in Pyro4.
    let err = Proxy::new(&d.uri).unwrap().bind().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot connect to ('127.0.0.1', {port}): hmac key config not symmetric")
    );
    let wrong = Proxy::builder().hmac_key("other").build(&d.uri).unwrap();
    let err = wrong.bind().unwrap_err();
    assert!(matches!(err, ProxyError::Handshake { .. }), "{err}");
    assert!(err.to_string().ends_with("message hmac mismatch"), "{err}");
    let right = Proxy::builder().hmac_key("secret").build(&d.uri).unwrap();
    assert_eq!(right.call::<i64>("add", (1, 2)).unwrap(), 3);
    let unknown = Proxy::builder()
        .hmac_key("secret")
        .build(format!("PYRO:nothing@127.0.0.1:{port}"))
        .unwrap();
    let err = unknown.bind().unwrap_err();
    assert!(matches!(err, ProxyError::Rejected { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("connection to ('127.0.0.1', {port}) rejected: unknown object")
    );

    // Magic URIs are resolved on connect: no name server there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ns_port = free.local_addr().unwrap().port();
    drop(free);
    for uri in [
        format!("PYRONAME:calc@127.0.0.1:{ns_port}"),
        format!("PYROMETA:a,b@127.0.0.1:{ns_port}"),
    ] {
        let proxy = Proxy::new(uri.as_str()).unwrap();
        let err = proxy.bind().unwrap_err();
        assert!(matches!(err, ProxyError::Naming { .. }), "{err}");
        assert_eq!(err.to_string(), "Failed to locate the nameserver");
    }
    assert!(matches!(
        Proxy::new("PYRO:calc@:1"),
        Err(ProxyError::NoLocation { .. })
    ));
    assert!(matches!(
        Proxy::new("PYRO:calc"),
        Err(ProxyError::InvalidUri { .. })
    ));
    assert!(matches!(
        Proxy::new("http://x"),
        Err(ProxyError::InvalidUri { .. })
    ));
}

#[test]
fn clones_reconnects_and_seq_carry_over() {
    let d = tcp();
    let p = Proxy::builder()
        .serializer(SerializerId::Json)
        .build(&d.uri)
        .unwrap();
    assert_eq!(p.call::<i64>("add", (1, 2)).unwrap(), 3);
    let q = p.clone();
    assert!(!q.is_connected());
    assert_eq!(q.metadata(), p.metadata());
    assert_eq!(q.call::<i64>("add", (2, 2)).unwrap(), 4);
    assert_eq!(d.handle.connection_count(), 2);
    let seq = p.shared.lock().conn.as_ref().unwrap().seq();
    p.reconnect(1).unwrap();
    assert_eq!(p.shared.lock().conn.as_ref().unwrap().seq(), seq);
    assert_eq!(p.call::<i64>("add", (1, 2)).unwrap(), 3);
    assert_eq!(
        p.shared.lock().conn.as_ref().unwrap().seq(),
        seq.wrapping_add(1)
    );
    p.release();
    assert!(!p.is_connected());
    assert!(!p.bind().unwrap() || p.is_connected());
    assert!(!p.bind().unwrap(), "already bound");
}

#[cfg(unix)]
#[test]
fn unix_socket_and_every_serializer() {
    let dir = std::env::temp_dir().join(format!("pyro-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calc.sock");
    let d = serve(
        Daemon::builder()
            .unix(&path)
            .accept_pickle()
            .compression(true),
    );
    assert!(d.uri.contains("./u:"), "{}", d.uri);
    for &ser in SerializerId::ALL {
        let p = Proxy::builder()
            .serializer(ser)
            .compression(true)
            .build(&d.uri)
            .unwrap();
        let big = "x".repeat(1000);
        let (args, _): (Vec<String>, Value) = p.call("kwargs", (big.clone(),)).unwrap();
        assert_eq!(args, [big], "{ser:?}");
    }
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_metadata_nothing_is_checked_or_oneway() {
    let d = tcp();
    let p = Proxy::builder().metadata(false).build(&d.uri).unwrap();
    // "bump" is not known to be oneway: the daemon answers it with None.
    p.call::<()>("bump", (1,)).unwrap();
    assert!(p.metadata().is_none());
    let err = p.call::<()>("nope", ()).unwrap_err();
    assert_eq!(err.remote().unwrap().short_name(), "AttributeError");
}

#[test]
fn a_proxy_is_shared_between_threads_on_one_connection() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Proxy>();
    send_sync::<RemoteStream<i64>>();
    let d = tcp();
    let p = Arc::new(Proxy::new(&d.uri).unwrap());
    let workers: Vec<_> = (0..4i64)
        .map(|t| {
            let p = p.clone();
            thread::spawn(move || {
                for i in 0..25i64 {
                    assert_eq!(p.call::<i64>("add", (i, t * 1000)).unwrap(), i + t * 1000);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(d.handle.connection_count(), 1);
}

/// A listener that accepts one connection, reads the request, then either
/// stays silent for `silence` or closes.
fn mute_server(silence: Duration) -> (String, JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // Read the whole CONNECT, so that closing sends FIN and not RST.
        conn.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(1..) = std::io::Read::read(&mut conn, &mut buf) {}
        thread::sleep(silence);
    });
    (format!("PYRO:x@127.0.0.1:{port}"), t)
}

#[test]
fn a_silent_or_closing_daemon_is_reported_as_such() {
    let (uri, t) = mute_server(Duration::from_millis(800));
    let p = Proxy::builder()
        .timeout(Some(Duration::from_millis(200)))
        .build(&uri)
        .unwrap();
    let start = Instant::now();
    let err = p.bind().unwrap_err();
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
    assert!(start.elapsed() < Duration::from_millis(700));
    t.join().unwrap();

    let (uri, t) = mute_server(Duration::ZERO);
    let err = Proxy::new(&uri).unwrap().bind().unwrap_err();
    assert!(
        matches!(&err, ProxyError::ConnectionClosed { reason, .. } if reason == "connection closed by peer"),
        "{err}"
    );
    assert!(err.is_retryable());
    t.join().unwrap();
}

#[test]
fn handshake_answers_can_be_validated() {
    let server = tcp();
    let strict = Proxy::builder()
        .validate_handshake(|answer| match answer {
            Value::Str(s) if s == "welcome" => Ok(()),
            other => Err(format!("unexpected handshake answer {other:?}")),
        })
        .build(server.uri.as_str())
        .unwrap();
    let err = strict.call::<i64>("add", (1, 2)).unwrap_err();
    assert!(
        matches!(&err, ProxyError::Handshake { reason, .. } if reason.contains("unexpected handshake answer")),
        "{err}"
    );
    assert!(!strict.is_connected());
    let lenient = Proxy::builder()
        .validate_handshake(|answer| {
            (answer == &Value::Str("hello".into()))
                .then_some(())
                .ok_or_else(|| "no".into())
        })
        .build(server.uri.as_str())
        .unwrap();
    assert_eq!(lenient.call::<i64>("add", (1, 2)).unwrap(), 3);
}
