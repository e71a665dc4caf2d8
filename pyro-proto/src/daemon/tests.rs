use super::*;
use crate::entropy::SeededEntropy;
use crate::message::Flags;
use crate::serialize::{Call, SerializerId};
use crate::servant::ServantBuilder;
use crate::session::RequestId;
use alloc::vec;
use core::sync::atomic::{AtomicUsize, Ordering};

const C1: ConnId = ConnId(1);
const C2: ConnId = ConnId(2);
const T0: Duration = Duration::from_secs(100);

fn daemon() -> Daemon {
    let mut d = Daemon::new(
        DaemonConfig::new(Location::Tcp {
            host: "localhost".into(),
            port: 9999,
        }),
        Box::new(SeededEntropy::new(3)),
    );
    d.connection_opened(C1, Some("127.0.0.1:5000".into()));
    d.connection_opened(C2, None);
    d
}

fn calc() -> Arc<dyn Servant> {
    ServantBuilder::new("Calc")
        .method("add", |(a, b): (i64, i64)| Ok(a + b))
        .method("fail", |(): ()| -> Result<(), RemoteError> {
            Err(RemoteError::builtin("ValueError", "bad value"))
        })
        .callback("cb_fail", |(): ()| -> Result<(), RemoteError> {
            Err(RemoteError::builtin("RuntimeError", "callback broke"))
        })
        .oneway("log", |(_msg,): (String,)| Ok(()))
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .attr("readonly", || 7)
        .method("__special__", |(): ()| Ok("dunder"))
        .build()
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn request(
    object: &str,
    method: &str,
    vargs: Vec<Value>,
    kwargs: Option<Dict>,
    flags: Flags,
) -> Request {
    Request {
        id: RequestId(0),
        seq: 1,
        serializer: SerializerId::Serpent,
        flags,
        call: Call {
            object: object.into(),
            method: method.into(),
            vargs: Value::Tuple(vargs),
            kwargs,
        },
        annotations: Annotations::new(),
        correlation_id: [0; 16],
    }
}

fn call(d: &mut Daemon, conn: ConnId, object: &str, method: &str, vargs: Vec<Value>) -> Outcome {
    d.handle(
        conn,
        request(object, method, vargs, Some(Dict::default()), Flags::NONE),
        T0,
    )
}

fn value(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Value { value, .. } => value,
        other => panic!("expected a value, got {other:?}"),
    }
}

fn error(outcome: Outcome) -> (RemoteError, bool) {
    match outcome {
        Outcome::Exception { error, close } => (error, close),
        other => panic!("expected an exception, got {other:?}"),
    }
}

fn stream_id(outcome: Outcome) -> String {
    match outcome {
        Outcome::Stream { stream_id } => stream_id,
        other => panic!("expected a stream, got {other:?}"),
    }
}

#[test]
fn registration_ids_uris_and_the_daemon_object() {
    let mut d = daemon();
    let uri = d.register(calc(), Some("calc"), false).unwrap();
    assert_eq!(uri.to_string(), "PYRO:calc@localhost:9999");
    assert_eq!(
        d.register(calc(), Some("calc"), false),
        Err(DaemonError::AlreadyRegistered("calc".into()))
    );
    assert!(d.register(calc(), Some("calc"), true).is_ok());
    assert!(matches!(
        d.register(calc(), Some(DAEMON_OBJECT_ID), true),
        Err(DaemonError::Reserved(_))
    ));
    let generated = d.register(calc(), None, false).unwrap();
    assert!(generated.object().starts_with("obj_") && generated.object().len() == 36);
    let mut ids = d.registered();
    ids.sort();
    assert_eq!(ids, [DAEMON_OBJECT_ID, "calc", generated.object()]);
    d.unregister("calc");
    d.unregister(DAEMON_OBJECT_ID);
    assert_eq!(d.registered().len(), 2);
}

#[test]
fn uris_for_ipv6_unix_and_nat() {
    let mut d = daemon();
    d.set_location(Location::Tcp {
        host: "::1".into(),
        port: 5,
    });
    assert_eq!(d.uri_for("o").unwrap().to_string(), "PYRO:o@[::1]:5");
    d.set_location(Location::Unix {
        path: "/tmp/sock".into(),
    });
    assert_eq!(d.uri_for("o").unwrap().to_string(), "PYRO:o@./u:/tmp/sock");
    let mut config = DaemonConfig::new(Location::Tcp {
        host: "0.0.0.0".into(),
        port: 1,
    });
    config.nat = Some(Location::Tcp {
        host: "example.org".into(),
        port: 80,
    });
    let d = Daemon::new(config, Box::new(SeededEntropy::new(1)));
    assert_eq!(d.uri_for("o").unwrap().to_string(), "PYRO:o@example.org:80");
    assert_eq!(
        d.info(),
        "Pyro.Daemon bound on 0.0.0.0:1, NAT example.org:80, 1 objects registered. Servertype: pyro-rs"
    );
    assert!(d.uri_for("has space").is_err());
}

#[test]
fn calls_and_python_error_texts() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    assert_eq!(
        value(call(
            &mut d,
            C1,
            "calc",
            "add",
            vec![Value::Int(2), Value::Int(3)]
        )),
        Value::Int(5)
    );

    let (e, close) = error(call(&mut d, C1, "calc", "fail", vec![]));
    assert_eq!(
        (e.class_name.as_str(), e.message(), close),
        ("builtins.ValueError", "bad value".into(), false)
    );
    let tb = e.traceback.unwrap();
    assert!(
        tb.starts_with("Traceback (most recent call last):\n")
            && tb.ends_with("ValueError: bad value\n"),
        "{tb}"
    );

    let (e, _) = error(call(&mut d, C1, "nope", "add", vec![]));
    assert_eq!(
        (e.class_name.as_str(), e.message()),
        ("Pyro4.errors.DaemonError", "unknown object".into())
    );

    let (e, _) = error(call(&mut d, C1, "calc", "_hidden", vec![]));
    assert_eq!(e.message(), "attempt to access private attribute '_hidden'");
    let (e, _) = error(call(&mut d, C1, "calc", "__init__", vec![]));
    assert_eq!(
        e.message(),
        "attempt to access private attribute '__init__'"
    );
    assert_eq!(
        value(call(&mut d, C1, "calc", "__special__", vec![])),
        s("dunder")
    );
    let (e, _) = error(call(&mut d, C1, "calc", "add.real", vec![]));
    assert_eq!(
        (e.class_name.as_str(), e.message()),
        (
            "builtins.AttributeError",
            "'Calc' object has no attribute 'add.real'".into()
        )
    );

    let (e, _) = error(call(&mut d, C1, "calc", "add", vec![s("x")]));
    assert_eq!(e.class_name, "builtins.TypeError");
    let (e, _) = error(d.handle(
        C1,
        request(
            "calc",
            "add",
            vec![Value::Int(1), Value::Int(2)],
            None,
            Flags::NONE,
        ),
        T0,
    ));
    assert!(
        e.message().contains("argument after ** must be a mapping"),
        "{}",
        e.message()
    );
}

#[test]
fn callback_failures_close_and_oneway_never_replies() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let (e, close) = error(call(&mut d, C1, "calc", "cb_fail", vec![]));
    assert_eq!(
        (e.class_name.as_str(), close),
        ("builtins.RuntimeError", true)
    );
    let out = d.handle(
        C1,
        request("calc", "fail", vec![], Some(Dict::default()), Flags::ONEWAY),
        T0,
    );
    assert_eq!(out, Outcome::NoReply { close: false });
    let out = d.handle(
        C1,
        request("nope", "x", vec![], Some(Dict::default()), Flags::ONEWAY),
        T0,
    );
    assert_eq!(out, Outcome::NoReply { close: false });
    // A oneway method called without the flag is answered normally.
    assert_eq!(
        value(call(&mut d, C1, "calc", "log", vec![s("hi")])),
        Value::None
    );
}

#[test]
fn attributes_read_write_and_refusals() {
    let mut d = daemon();
    let state = Arc::new(AtomicUsize::new(1));
    let (g, st) = (state.clone(), state.clone());
    let obj = ServantBuilder::new("Thing")
        .attr_rw(
            "value",
            move || g.load(Ordering::SeqCst) as i64,
            move |v: i64| {
                st.store(v as usize, Ordering::SeqCst);
                Ok(())
            },
        )
        .attr("readonly", || "fixed")
        .build();
    d.register(obj, Some("thing"), false).unwrap();
    let get = |d: &mut Daemon, name: &str| {
        d.handle(
            C1,
            request("thing", "__getattr__", vec![s(name)], None, Flags::NONE),
            T0,
        )
    };
    assert_eq!(value(get(&mut d, "value")), Value::Int(1));
    let set = d.handle(
        C1,
        request(
            "thing",
            "__setattr__",
            vec![s("value"), Value::Int(42)],
            None,
            Flags::NONE,
        ),
        T0,
    );
    assert_eq!(value(set), Value::None);
    assert_eq!(state.load(Ordering::SeqCst), 42);
    let (e, _) = error(d.handle(
        C1,
        request(
            "thing",
            "__setattr__",
            vec![s("readonly"), Value::Int(1)],
            None,
            Flags::NONE,
        ),
        T0,
    ));
    assert_eq!(
        e.message(),
        "attempt to access unexposed or unknown remote attribute 'readonly'"
    );
    let (e, _) = error(get(&mut d, "missing"));
    assert_eq!(
        e.message(),
        "attempt to access unexposed or unknown remote attribute 'missing'"
    );
}

fn batch(calls: Vec<(&str, Vec<Value>)>) -> Request {
    let items = calls
        .into_iter()
        .map(|(m, a)| Value::Tuple(vec![s(m), Value::Tuple(a), Value::Dict(Dict::default())]))
        .collect();
    let mut r = request("calc", "<batch>", vec![], None, Flags::BATCH);
    r.call.vargs = Value::List(items);
    r
}

#[test]
fn batches_stop_at_the_first_error_and_fail_whole_on_resolution_errors() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let out = d.handle(
        C1,
        batch(vec![
            ("add", vec![Value::Int(1), Value::Int(2)]),
            ("fail", vec![]),
            ("add", vec![Value::Int(0), Value::Int(0)]),
        ]),
        T0,
    );
    let Outcome::Batch { results, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(results.len(), 2);
    assert_eq!(results[0], Value::Int(3));
    let unwrapped = ExceptionWrapper::unwrap_batch(Value::List(results)).unwrap();
    assert_eq!(
        unwrapped[1].as_ref().unwrap_err().class_name,
        "builtins.ValueError"
    );

    let (e, _) = error(d.handle(
        C1,
        batch(vec![
            ("add", vec![Value::Int(1), Value::Int(2)]),
            ("nosuch", vec![]),
        ]),
        T0,
    ));
    assert_eq!(e.message(), "'Calc' object has no attribute 'nosuch'");

    let mut oneway = batch(vec![("add", vec![Value::Int(1), Value::Int(2)])]);
    oneway.flags = Flags::BATCH.with(Flags::ONEWAY);
    assert_eq!(d.handle(C1, oneway, T0), Outcome::NoReply { close: false });
}

fn next_item(d: &mut Daemon, conn: ConnId, id: &str) -> Outcome {
    d.handle(
        conn,
        {
            let mut r = request(
                DAEMON_OBJECT_ID,
                "get_next_stream_item",
                vec![],
                Some(Dict::default()),
                Flags::NONE,
            );
            r.call.vargs = Value::List(vec![s(id)]);
            r
        },
        T0,
    )
}

#[test]
fn streams_yield_items_then_stop_iteration_and_are_removed() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let id = stream_id(call(&mut d, C1, "calc", "count", vec![Value::Int(2)]));
    assert_eq!(id.len(), 36);
    assert_eq!(value(next_item(&mut d, C1, &id)), Value::Int(0));
    assert_eq!(value(next_item(&mut d, C1, &id)), Value::Int(1));
    let (e, _) = error(next_item(&mut d, C1, &id));
    assert_eq!(
        (e.class_name.as_str(), e.args.len()),
        ("builtins.StopIteration", 0)
    );
    assert_eq!(d.stream_count(), 0);
    let (e, _) = error(next_item(&mut d, C1, &id));
    assert_eq!(
        (e.class_name.as_str(), e.message()),
        ("Pyro4.errors.PyroError", "item stream terminated".into())
    );
}

#[test]
fn close_stream_and_streaming_disabled() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let id = stream_id(call(&mut d, C1, "calc", "count", vec![Value::Int(5)]));
    let mut close = request(
        DAEMON_OBJECT_ID,
        "close_stream",
        vec![s(&id)],
        Some(Dict::default()),
        Flags::ONEWAY,
    );
    close.call.vargs = Value::List(vec![s(&id)]);
    assert_eq!(d.handle(C1, close, T0), Outcome::NoReply { close: false });
    assert_eq!(d.stream_count(), 0);

    let mut config = d.config().clone();
    config.iter_streaming = false;
    let mut d = Daemon::new(config, Box::new(SeededEntropy::new(1)));
    d.register(calc(), Some("calc"), false).unwrap();
    assert_eq!(
        stream_id(call(&mut d, C1, "calc", "count", vec![Value::Int(5)])),
        ""
    );
}

#[test]
fn streams_linger_after_disconnect_and_expire() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let id = stream_id(call(&mut d, C1, "calc", "count", vec![Value::Int(9)]));
    d.connection_closed(C1, T0);
    assert_eq!(d.stream_count(), 1);
    assert_eq!(d.next_housekeeping(), Some(T0 + Duration::from_secs(30)));
    d.housekeeping(T0 + Duration::from_secs(10));
    // Another connection picks it up again within the linger time.
    assert_eq!(value(next_item(&mut d, C2, &id)), Value::Int(0));
    assert_eq!(d.next_housekeeping(), None);
    d.connection_closed(C2, T0 + Duration::from_secs(20));
    d.housekeeping(T0 + Duration::from_secs(51));
    assert_eq!(d.stream_count(), 0);

    let mut config = d.config().clone();
    config.stream_linger = Duration::ZERO;
    config.stream_lifetime = Some(Duration::from_secs(5));
    let mut d = Daemon::new(config, Box::new(SeededEntropy::new(1)));
    d.register(calc(), Some("calc"), false).unwrap();
    stream_id(call(&mut d, C1, "calc", "count", vec![Value::Int(9)]));
    stream_id(call(&mut d, C2, "calc", "count", vec![Value::Int(9)]));
    d.connection_closed(C1, T0);
    assert_eq!(d.stream_count(), 1);
    d.housekeeping(T0 + Duration::from_secs(6));
    assert_eq!(d.stream_count(), 0);
}

#[test]
fn instance_modes() {
    fn counting(mode: InstanceMode) -> (Daemon, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let m = made.clone();
        let mut d = daemon();
        let factory: Factory = Arc::new(move || {
            let n = m.fetch_add(1, Ordering::SeqCst);
            ServantBuilder::new("Counter")
                .method("id", move |(): ()| Ok(n))
                .build()
        });
        d.register(Registration::factory(mode, factory), Some("c"), false)
            .unwrap();
        (d, made)
    }
    // Instance 0 is the probe made at registration to learn the metadata.
    let (mut d, made) = counting(InstanceMode::PerCall);
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(1));
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(2));
    assert_eq!(made.load(Ordering::SeqCst), 3);

    let (mut d, _) = counting(InstanceMode::Session);
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(1));
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(1));
    assert_eq!(value(call(&mut d, C2, "c", "id", vec![])), Value::Int(2));
    d.connection_closed(C1, T0);
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(3));

    let (mut d, _) = counting(InstanceMode::Single);
    assert_eq!(value(call(&mut d, C1, "c", "id", vec![])), Value::Int(1));
    assert_eq!(value(call(&mut d, C2, "c", "id", vec![])), Value::Int(1));
}

#[test]
fn daemon_object_methods() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    assert_eq!(
        value(call(&mut d, C1, DAEMON_OBJECT_ID, "ping", vec![])),
        Value::None
    );
    let Value::List(ids) = value(call(&mut d, C1, DAEMON_OBJECT_ID, "registered", vec![])) else {
        panic!()
    };
    assert_eq!(ids.len(), 2);
    assert_eq!(
        value(call(&mut d, C1, DAEMON_OBJECT_ID, "info", vec![])),
        s("Pyro.Daemon bound on localhost:9999, NAT None, 2 objects registered. Servertype: pyro-rs")
    );
    let meta = value(call(
        &mut d,
        C1,
        DAEMON_OBJECT_ID,
        "get_metadata",
        vec![s("calc")],
    ));
    let Value::Dict(m) = &meta else { panic!() };
    assert!(
        matches!(&m.0[0].1, Value::Set(v) if v.len() == 6),
        "{meta:?}"
    );
    let as_lists = value(call(
        &mut d,
        C1,
        DAEMON_OBJECT_ID,
        "get_metadata",
        vec![s("calc"), Value::Bool(true)],
    ));
    let parsed = Metadata::from_value(&as_lists).unwrap();
    assert_eq!(parsed.oneway, ["log"]);
    assert_eq!(parsed.attrs, ["readonly"]);
    let (e, _) = error(call(
        &mut d,
        C1,
        DAEMON_OBJECT_ID,
        "get_metadata",
        vec![s("nope")],
    ));
    assert_eq!(e.class_name, "Pyro4.errors.DaemonError");
    let daemon_meta = Metadata::from_value(&value(call(
        &mut d,
        C1,
        DAEMON_OBJECT_ID,
        "get_metadata",
        vec![s(DAEMON_OBJECT_ID), Value::Bool(true)],
    )))
    .unwrap();
    assert_eq!(daemon_meta.methods.len(), 6);
    let (e, _) = error(call(&mut d, C1, DAEMON_OBJECT_ID, "shutdown", vec![]));
    assert_eq!(
        e.message(),
        "'DaemonObject' object has no attribute 'shutdown'"
    );
}

#[test]
fn handshake_answers_and_metadata() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let mut req = HandshakeRequest {
        id: RequestId(0),
        seq: 0,
        serializer: SerializerId::Serpent,
        handshake: s("hello"),
        object: Some("calc".into()),
        wants_metadata: true,
        annotations: Annotations::new(),
        correlation_id: [0; 16],
    };
    let (resp, meta) = d.handshake(&req).unwrap();
    assert_eq!(resp, s("hello"));
    assert_eq!(meta.unwrap().methods.len(), 6);
    req.object = Some("nope".into());
    assert_eq!(d.handshake(&req), Err("unknown object".to_string()));
    req.wants_metadata = false;
    assert_eq!(d.handshake(&req).unwrap().1, None);

    // A validator decides first, as an overridden validateHandshake does.
    d.set_handshake_validator(Box::new(|h| match &h.handshake {
        Value::Str(s) if s == "secret" => Ok(Value::Str("welcome".into())),
        other => Err(format!("wrong handshake: {other:?}")),
    }));
    req.object = Some("nope".into());
    req.wants_metadata = true;
    assert_eq!(
        d.handshake(&req),
        Err("wrong handshake: Str(\"hello\")".to_string())
    );
    req.handshake = s("secret");
    assert_eq!(d.handshake(&req), Err("unknown object".to_string()));
    req.object = Some("calc".into());
    assert_eq!(d.handshake(&req).unwrap().0, s("welcome"));
}

#[test]
fn only_plain_oneway_calls_are_threaded() {
    let mut d = daemon();
    d.register(calc(), Some("calc"), false).unwrap();
    let mut kinds = Vec::new();
    for (method, flags) in [("log", Flags::ONEWAY), ("add", Flags::NONE)] {
        let req = request("calc", method, vec![s("x")], Some(Dict::default()), flags);
        let Prepared::Run(job) = d.prepare(C1, req, T0) else {
            panic!()
        };
        kinds.push(job.is_oneway_call());
    }
    let mut b = batch(vec![("add", vec![Value::Int(1), Value::Int(1)])]);
    b.flags = Flags::BATCH.with(Flags::ONEWAY);
    let Prepared::Run(job) = d.prepare(C1, b, T0) else {
        panic!()
    };
    kinds.push(job.is_oneway_call());
    assert_eq!(kinds, [true, false, false]);
}

#[test]
fn context_carries_client_and_response_annotations() {
    let mut d = daemon();
    let obj = ServantBuilder::new("Ctx")
        .method_with_context("who", |ctx: &mut CallContext, (): ()| {
            ctx.response_annotations.insert(
                crate::message::AnnotationId::new("XTRA").unwrap(),
                &b"1"[..],
            );
            Ok(ctx.client.clone())
        })
        .build();
    d.register(obj, Some("ctx"), false).unwrap();
    match call(&mut d, C1, "ctx", "who", vec![]) {
        Outcome::Value {
            value,
            response_annotations,
        } => {
            assert_eq!(value, s("127.0.0.1:5000"));
            assert_eq!(response_annotations.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}
