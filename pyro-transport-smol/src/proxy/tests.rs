//! The async proxy against the in-process async [`Daemon`](crate::Daemon)
//! (the Python interop tests are in tests/tests/smol_interop.rs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::RemoteError;

use super::*;
use crate::{Daemon, DaemonBuilder, DaemonHandle};

/// A daemon running on a thread of its own (`smol::block_on(run())`),
/// shut down and joined on drop.
struct Running {
    handle: DaemonHandle,
    uri: String,
    thread: Option<JoinHandle<Result<(), crate::Error>>>,
}

impl Running {
    fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.handle.shutdown();
        self.thread.take().unwrap().join().unwrap().unwrap();
        started.elapsed()
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

fn serve(builder: DaemonBuilder) -> Running {
    let daemon = builder.bind().unwrap();
    let handle = daemon.handle();
    let value = Arc::new(AtomicI64::new(7));
    let (v1, v2, v3, v4) = (value.clone(), value.clone(), value.clone(), value);
    let servant = ServantBuilder::new("Calc")
        .raw_method("echo", |_ctx, args| {
            Ok(Reply::Value(
                args.vargs.into_iter().next().unwrap_or(Value::None),
            ))
        })
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
        .oneway("bump_slowly", move |(n, ms): (i64, u64)| {
            thread::sleep(Duration::from_millis(ms));
            v1.fetch_add(n, Ordering::SeqCst);
            Ok(())
        })
        .method("total", move |()| Ok(v4.load(Ordering::SeqCst)))
        .method("sleep", |(ms,): (u64,)| {
            thread::sleep(Duration::from_millis(ms));
            Ok(ms)
        })
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .method("listed", |(n,): (i64,)| Ok((0..n).collect::<Vec<_>>()))
        .attr_rw(
            "value",
            move || v2.load(Ordering::SeqCst),
            move |v: i64| {
                v3.store(v, Ordering::SeqCst);
                Ok(())
            },
        )
        .attr("name", || "calc")
        .method("panics", |()| -> Result<(), RemoteError> {
            panic!("on purpose")
        })
        .build();
    handle.register(servant, Some("calc")).unwrap();
    let uri = handle.uri_for("calc").unwrap().to_string();
    let thread = thread::spawn(move || smol::block_on(daemon.run()));
    Running {
        handle,
        uri,
        thread: Some(thread),
    }
}

fn local() -> DaemonBuilder {
    Daemon::builder().tcp("127.0.0.1", 0)
}

/// Wait (polling) until `cond` holds, at most 5 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        Timer::after(Duration::from_millis(10)).await;
    }
}

#[test]
fn calls_with_all_four_serializers() {
    let d = serve(local().accept_pickle());
    smol::block_on(async {
        for ser in [
            SerializerId::Serpent,
            SerializerId::Json,
            SerializerId::Marshal,
            SerializerId::Pickle,
        ] {
            let p = Proxy::builder().serializer(ser).build(&d.uri).unwrap();
            assert_eq!(p.call::<i64>("add", (2, 40)).await.unwrap(), 42, "{ser:?}");
            let text: String = p.call("echo", ("h\u{e9}llo \u{2603}",)).await.unwrap();
            assert_eq!(text, "h\u{e9}llo \u{2603}", "{ser:?}");
            let list: Vec<f64> = p.call("echo", (vec![1.5, -2.0],)).await.unwrap();
            assert_eq!(list, [1.5, -2.0], "{ser:?}");
            let mut kw = BTreeMap::new();
            kw.insert("k", 3);
            let (args, kwargs): (Vec<i64>, BTreeMap<String, i64>) =
                p.call_kw("kwargs", (1, 2), &kw).await.unwrap();
            assert_eq!(args, [1, 2], "{ser:?}");
            assert_eq!(kwargs.get("k"), Some(&3), "{ser:?}");
            assert!(p.is_connected().await);
        }
    });
    d.stop();
}

#[test]
fn pickle_is_refused_unless_enabled() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::builder()
            .serializer(SerializerId::Pickle)
            .build(&d.uri)
            .unwrap();
        let err = p.call::<i64>("add", (1, 2)).await.unwrap_err();
        assert!(
            err.to_string().contains("serializer that is not accepted"),
            "{err}"
        );
    });
}

#[test]
fn remote_exceptions_are_typed_and_the_connection_survives() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        let err = p.call::<i64>("divide", (1, 0)).await.unwrap_err();
        let remote = err.remote().expect("a remote error");
        assert!(
            remote.class_name.ends_with("ZeroDivisionError"),
            "{remote:?}"
        );
        assert_eq!(remote.args, [Value::Str("division by zero".into())]);
        assert!(remote.traceback.as_deref().unwrap_or("").contains("divide"));
        let err = p.call::<()>("panics", ()).await.unwrap_err();
        assert!(
            err.to_string().contains("servant panicked: on purpose"),
            "{err}"
        );
        assert_eq!(p.call::<i64>("divide", (9, 3)).await.unwrap(), 3);
        let err = p.call::<i64>("nope", ()).await.unwrap_err();
        assert!(matches!(err, ProxyError::NoSuchMember { .. }), "{err:?}");
        let err = p.call::<String>("add", (1, 2)).await.unwrap_err();
        assert!(matches!(err, ProxyError::Deserialize { .. }), "{err:?}");
    });
}

#[test]
fn oneway_calls_return_at_once_and_run_in_the_background() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        let before: i64 = p.call("total", ()).await.unwrap();
        let started = Instant::now();
        // Oneway per metadata, and forced oneway.
        let none: Option<i64> = p.call("bump_slowly", (10, 400)).await.unwrap();
        assert_eq!(none, None);
        p.oneway("bump_slowly", (5, 400)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "oneway waited"
        );
        // The connection is free for normal calls meanwhile.
        assert_eq!(p.call::<i64>("add", (1, 1)).await.unwrap(), 2);
        let total = || smol::block_on(p.call::<i64>("total", ())).unwrap();
        eventually("both oneway calls", || total() == before + 15).await;
    });
}

#[test]
fn batches_stop_at_the_first_failure() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        let mut batch = p.batch();
        batch
            .call("add", (1, 1))
            .call("divide", (1, 0))
            .call("add", (2, 2));
        assert_eq!(batch.len(), 3);
        let mut results = batch.run().await.unwrap();
        assert!(batch.is_empty());
        assert_eq!(results.next_as::<i64>().unwrap().unwrap(), 2);
        let err = results.next().unwrap().unwrap_err();
        assert!(err
            .remote()
            .unwrap()
            .class_name
            .ends_with("ZeroDivisionError"));
        assert!(results.next().is_none());
        let before: i64 = p.call("total", ()).await.unwrap();
        batch
            .call("bump_slowly", (1, 0))
            .call("bump_slowly", (2, 0));
        batch.run_oneway().await.unwrap();
        let total = || smol::block_on(p.call::<i64>("total", ())).unwrap();
        eventually("the oneway batch", || total() == before + 3).await;
        // Arguments that are not a tuple are reported by run, nothing sent.
        batch.call("add", 5);
        let err = batch.run().await.unwrap_err();
        assert!(matches!(err, ProxyError::Arguments { .. }), "{err:?}");
    });
}

#[test]
fn streams_read_to_the_end_and_close_when_dropped_early() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        let items = p.stream::<i64>("count", (5,)).await.unwrap();
        assert!(items.id().is_some());
        assert_eq!(items.collect_vec().await.unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(d.handle.stream_count(), 0);
        // A list result is iterated locally.
        let listed = p.stream::<i64>("listed", (3,)).await.unwrap();
        assert!(listed.id().is_none());
        assert_eq!(listed.collect_vec().await.unwrap(), [0, 1, 2]);

        // Explicit close.
        let mut s = p.stream::<i64>("count", (1000,)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(d.handle.stream_count(), 1);
        s.close().await;
        let h = d.handle.clone();
        eventually("close() to close the stream", || h.stream_count() == 0).await;

        // Dropped early: a detached task sends close_stream.
        let mut s = p.stream::<i64>("count", (1000,)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        assert_eq!(d.handle.stream_count(), 1);
        drop(s);
        eventually("the dropped stream to close", || h.stream_count() == 0).await;
        // The proxy stays usable after the close task ran.
        assert_eq!(p.call::<i64>("add", (3, 4)).await.unwrap(), 7);
        // A stream called as a plain value is refused and closed.
        let err = p.call::<Value>("count", (3,)).await.unwrap_err();
        assert!(
            matches!(err, ProxyError::UnexpectedStream { .. }),
            "{err:?}"
        );
        eventually("the refused stream to close", || h.stream_count() == 0).await;
    });
}

#[test]
fn call_any_returns_a_value_or_a_stream() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        let opts = CallOptions::default();
        let add = vec![Value::Int(3), Value::Int(4)];
        match p
            .call_any("add", add, Dict::default(), &opts)
            .await
            .unwrap()
        {
            CallResult::Value(v) => assert_eq!(v, Value::Int(7)),
            other => panic!("expected a value, got {other:?}"),
        }
        // A list is a value here (only a generator is a stream).
        let listed = vec![Value::Int(2)];
        match p
            .call_any("listed", listed, Dict::default(), &opts)
            .await
            .unwrap()
        {
            CallResult::Value(v) => assert_eq!(v, Value::List(vec![Value::Int(0), Value::Int(1)])),
            other => panic!("expected a value, got {other:?}"),
        }
        let count = vec![Value::Int(3)];
        match p
            .call_any("count", count, Dict::default(), &opts)
            .await
            .unwrap()
        {
            CallResult::Stream(s) => {
                assert!(s.id().is_some());
                let items = s.collect_vec().await.unwrap();
                assert_eq!(items, [Value::Int(0), Value::Int(1), Value::Int(2)]);
            }
            other => panic!("expected a stream, got {other:?}"),
        }
        assert_eq!(d.handle.stream_count(), 0);
        // A remote exception is an error, as with call_value.
        let div = vec![Value::Int(1), Value::Int(0)];
        let err = p
            .call_any("divide", div, Dict::default(), &opts)
            .await
            .unwrap_err();
        assert!(err.remote().is_some(), "{err:?}");
    });
}

#[test]
fn attributes_get_and_set() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        assert_eq!(p.get_attr::<i64>("value").await.unwrap(), 7);
        p.set_attr("value", 99).await.unwrap();
        assert_eq!(p.get_attr::<i64>("value").await.unwrap(), 99);
        assert_eq!(p.get_attr::<String>("name").await.unwrap(), "calc");
        assert!(p.set_attr("name", "other").await.is_err());
        let err = p.get_attr::<i64>("missing").await.unwrap_err();
        assert!(matches!(err, ProxyError::NoSuchMember { .. }), "{err:?}");
    });
}

#[test]
fn timeout_fires_then_the_next_call_reconnects() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::builder()
            .timeout(Some(Duration::from_millis(200)))
            .build(&d.uri)
            .unwrap();
        assert_eq!(p.call::<u64>("sleep", (10,)).await.unwrap(), 10);
        let started = Instant::now();
        let err = p.call::<u64>("sleep", (1500,)).await.unwrap_err();
        let took = started.elapsed();
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
        assert!(took < Duration::from_millis(1000), "timeout took {took:?}");
        assert!(!p.is_connected().await, "a timed-out connection was kept");
        assert_eq!(p.call::<i64>("add", (1, 2)).await.unwrap(), 3);
        p.set_timeout(None).await;
        assert_eq!(p.timeout().await, None);
        assert_eq!(p.call::<u64>("sleep", (300,)).await.unwrap(), 300);
    });
}

#[test]
fn hmac_keys_must_match() {
    let d = serve(local().hmac_key("secret"));
    smol::block_on(async {
        let good = Proxy::builder().hmac_key("secret").build(&d.uri).unwrap();
        assert_eq!(good.call::<i64>("add", (1, 2)).await.unwrap(), 3);
        for bad in [Proxy::builder().hmac_key("wrong"), Proxy::builder()] {
            let p = bad.build(&d.uri).unwrap();
            let err = p.bind().await.unwrap_err();
            assert!(err.is_communication_error(), "{err:?}");
        }
    });
}

#[test]
fn metadata_off_and_reconnect_and_ping() {
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::builder().metadata(false).build(&d.uri).unwrap();
        assert!(p.bind().await.unwrap());
        assert!(!p.bind().await.unwrap());
        assert!(p.metadata().await.is_none());
        // Without metadata an unknown method goes to the daemon, which refuses it.
        let err = p.call::<i64>("nope", ()).await.unwrap_err();
        assert!(err.remote().is_some(), "{err:?}");
        p.ping().await.unwrap();
        p.reconnect(1).await.unwrap();
        assert_eq!(p.call::<i64>("add", (2, 2)).await.unwrap(), 4);
        p.release().await;
        assert!(!p.is_connected().await);
        let copy = p.fresh_copy().await;
        assert_eq!(copy.call::<i64>("add", (3, 3)).await.unwrap(), 6);
    });
}

#[test]
fn connection_errors_are_typed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    smol::block_on(async {
        let p = Proxy::builder()
            .reconnect_interval(Duration::from_millis(20))
            .build(format!("PYRO:x@127.0.0.1:{port}"))
            .unwrap();
        let err = p.call::<i64>("add", (1, 2)).await.unwrap_err();
        assert!(
            matches!(err, ProxyError::ConnectionRefused { .. }),
            "{err:?}"
        );
        let err = p.reconnect(3).await.unwrap_err();
        assert!(
            matches!(err, ProxyError::ReconnectFailed { tries: 3, .. }),
            "{err:?}"
        );
    });
    assert!(matches!(
        Proxy::new("nonsense").unwrap_err(),
        ProxyError::InvalidUri { .. }
    ));
    // Magic URIs are resolved on connect: no name server there.
    let named = Proxy::new(format!("PYRONAME:some.name@127.0.0.1:{port}")).unwrap();
    let err = smol::block_on(named.ping()).unwrap_err();
    assert_eq!(err.to_string(), crate::naming::FAILED_TO_LOCATE);
    assert!(matches!(err, ProxyError::Naming { .. }), "{err:?}");
}

#[test]
fn many_concurrent_clients_on_one_executor() {
    const CLIENTS: u64 = 60;
    let d = serve(local());
    let ex = smol::LocalExecutor::new();
    let started = Instant::now();
    let results: Vec<u64> = smol::block_on(ex.run(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let uri = d.uri.clone();
                ex.spawn(async move {
                    let p = Proxy::new(uri).unwrap();
                    let slept: u64 = p.call("sleep", (300,)).await.unwrap();
                    let sum: u64 = p.call("add", (i, slept)).await.unwrap();
                    let items = p.stream::<u64>("count", (3,)).await.unwrap();
                    assert_eq!(items.collect_vec().await.unwrap(), [0, 1, 2]);
                    sum
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    }));
    let took = started.elapsed();
    assert_eq!(results, (0..CLIENTS).map(|i| i + 300).collect::<Vec<_>>());
    // 60 sleeps of 300 ms, one after the other, would take 18 s: the client
    // tasks and the daemon's connections (servants on the blocking pool) overlap.
    assert!(
        took < Duration::from_secs(6),
        "{CLIENTS} clients took {took:?}"
    );
    println!("{CLIENTS} concurrent async clients: {took:?}");
    assert!(d.stop() < Duration::from_secs(2));
}

#[test]
fn shutdown_closes_idle_connections_and_run_returns() {
    let d = serve(local());
    let proxies: Vec<Proxy> = (0..5).map(|_| Proxy::new(&d.uri).unwrap()).collect();
    smol::block_on(async {
        for p in &proxies {
            p.bind().await.unwrap();
        }
    });
    let h = d.handle.clone();
    smol::block_on(eventually("5 connections", || h.connection_count() == 5));
    let took = d.stop();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_eq!(h.connection_count(), 0);
    smol::block_on(async {
        let err = proxies[0].call::<i64>("add", (1, 1)).await.unwrap_err();
        assert!(err.is_communication_error(), "{err:?}");
    });
}

/// Futures of the daemon and the proxy can be spawned on multi-threaded
/// executors (`smol::spawn` needs `Send + 'static`).
#[test]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let daemon = Arc::new(local().bind().unwrap());
    let run = {
        let daemon = daemon.clone();
        async move { daemon.run().await }
    };
    send(&run);
    let p = Proxy::new(format!("PYRO:x@127.0.0.1:{}", 1)).unwrap();
    send(&p.call::<i64>("add", (1, 2)));
    send(&p.stream::<i64>("count", (1,)));
    send(&p.get_attr::<i64>("value"));
    let task = smol::spawn(run);
    daemon.shutdown();
    smol::block_on(task).unwrap();
}

#[test]
fn handshake_validator_can_refuse() {
    let d = serve(local());
    smol::block_on(async {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let keep = seen.clone();
        let ok = Proxy::builder()
            .validate_handshake(move |answer| {
                *keep.lock().unwrap() = Some(answer.clone());
                Ok(())
            })
            .build(&d.uri)
            .unwrap();
        assert_eq!(ok.call::<i64>("add", (1, 2)).await.unwrap(), 3);
        assert_eq!(ok.handshake_response().await, seen.lock().unwrap().clone());
        assert!(seen.lock().unwrap().is_some());
        let refusing = Proxy::builder()
            .validate_handshake(|_| Err("not my daemon".into()))
            .build(&d.uri)
            .unwrap();
        let err = refusing.call::<i64>("add", (1, 2)).await.unwrap_err();
        assert!(
            matches!(&err, ProxyError::Handshake { reason, .. } if reason == "not my daemon"),
            "{err:?}"
        );
        assert!(!refusing.is_connected().await);
    });
}

#[test]
fn servants_on_the_executor_when_they_never_block() {
    let d = serve(local().servants_may_block(false));
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        assert_eq!(p.call::<i64>("add", (20, 22)).await.unwrap(), 42);
        let items = p.stream::<i64>("count", (3,)).await.unwrap();
        assert_eq!(items.collect_vec().await.unwrap(), [0, 1, 2]);
        let err = p.call::<()>("panics", ()).await.unwrap_err();
        assert!(err.to_string().contains("servant panicked"), "{err}");
        let before: i64 = p.call("total", ()).await.unwrap();
        p.oneway("bump_slowly", (4, 0)).await.unwrap();
        let total = || smol::block_on(p.call::<i64>("total", ())).unwrap();
        eventually("the oneway call", || total() == before + 4).await;
    });
}

/// Dropping a call's future half-way (cancellation) must not leave the
/// proxy reading the abandoned reply: the next call gets its own answer on
/// a fresh connection.
#[test]
fn a_cancelled_call_does_not_confuse_the_next_one() {
    use smol::future::FutureExt;
    let d = serve(local());
    smol::block_on(async {
        let p = Proxy::new(&d.uri).unwrap();
        assert_eq!(p.call::<i64>("add", (1, 1)).await.unwrap(), 2);
        let raced = async { Some(p.call::<u64>("sleep", (300,)).await) }
            .or(async {
                Timer::after(Duration::from_millis(50)).await;
                None
            })
            .await;
        assert!(raced.is_none(), "the sleep call was not cancelled");
        // The stale reply (300) must not be taken for this call's result.
        assert_eq!(p.call::<i64>("add", (20, 22)).await.unwrap(), 42);
        assert_eq!(p.call::<u64>("sleep", (5,)).await.unwrap(), 5);
        // The same for a stream whose next() was cancelled.
        let mut s = p.stream::<i64>("count", (10,)).await.unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        drop(s);
        assert_eq!(p.call::<i64>("add", (1, 2)).await.unwrap(), 3);
    });
}
