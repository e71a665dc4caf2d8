use super::*;
use crate::daemon::{ConnId, Daemon, DaemonConfig, Location};
use crate::entropy::SeededEntropy;
use crate::message::FrameError;
use crate::servant::ServantBuilder;
use crate::session::{ServerConfig, ServerEvent, ServerSession};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;

const NOW: Duration = Duration::from_secs(1);
const CONN: ConnId = ConnId(7);

/// A client and a daemon joined in memory.
struct Pair {
    client: ClientSession,
    server: ServerSession,
    daemon: Daemon,
    /// Answer handshakes without metadata (an old daemon).
    no_meta: bool,
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn daemon() -> Daemon {
    let mut d = Daemon::new(
        DaemonConfig::new(Location::Tcp {
            host: "localhost".into(),
            port: 1,
        }),
        Box::new(SeededEntropy::new(5)),
    );
    let obj = ServantBuilder::new("Calc")
        .method("add", |(a, b): (i64, i64)| Ok(a + b))
        .method("echo", |(v,): (Value,)| Ok(v))
        .method("fail", |(): ()| -> Result<(), RemoteError> {
            Err(RemoteError::builtin("ValueError", "nope"))
        })
        .oneway("log", |(_m,): (String,)| Ok(()))
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .attr_rw("value", || 5, |_: i64| Ok(()))
        .build();
    d.register(obj, Some("calc"), false).unwrap();
    d.connection_opened(CONN, None);
    d
}

impl Pair {
    fn new(config: ClientConfig, server: ServerConfig) -> Pair {
        Pair {
            client: ClientSession::new(config, 0),
            server: ServerSession::new(Arc::new(server), Box::new(SeededEntropy::new(9))),
            daemon: daemon(),
            no_meta: false,
        }
    }

    /// Move bytes both ways and let the daemon answer until nothing moves.
    fn run(&mut self) -> Vec<ClientEvent> {
        loop {
            let mut moved = false;
            while let Some(b) = self.client.poll_transmit() {
                self.server.receive(&b);
                moved = true;
            }
            while let Some(ev) = self.server.poll_event() {
                moved = true;
                match ev {
                    ServerEvent::Handshake(h) => match self.daemon.handshake(&h) {
                        Ok((resp, meta)) => {
                            let meta = if self.no_meta { None } else { meta };
                            self.server.accept_handshake(h.id, resp, meta).unwrap()
                        }
                        Err(text) => self.server.reject_handshake(h.id, &text).unwrap(),
                    },
                    ServerEvent::Request(r) => {
                        let id = r.id;
                        let outcome = self.daemon.handle(CONN, r, NOW);
                        self.server.reply(id, outcome).unwrap();
                    }
                    ServerEvent::Closed(_) => {}
                }
            }
            while let Some(b) = self.server.poll_transmit() {
                self.client.receive(&b);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        core::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn connect(&mut self) -> Vec<ClientEvent> {
        self.client.connect(NOW).unwrap();
        self.run()
    }

    fn call(&mut self, method: &str, vargs: Vec<Value>) -> Response {
        let id = self
            .client
            .call(method, vargs, Dict::default(), &CallOptions::default(), NOW)
            .unwrap();
        self.response(id)
    }

    fn response(&mut self, id: CallId) -> Response {
        let events = self.run();
        match &events[..] {
            [ClientEvent::Reply { call, response, .. }] if *call == id => response.clone(),
            other => panic!("expected one reply, got {other:?}"),
        }
    }
}

fn connected(serializer: SerializerId) -> Pair {
    let mut config = ClientConfig::new("calc");
    config.serializer = serializer;
    let server = ServerConfig {
        accepted: SerializerId::ALL.to_vec(),
        ..Default::default()
    };
    let mut p = Pair::new(config, server);
    let ev = p.connect();
    assert!(
        matches!(
            &ev[..],
            [ClientEvent::Connected {
                metadata: Some(_),
                ..
            }]
        ),
        "{ev:?}"
    );
    p
}

#[test]
fn every_feature_round_trips_for_every_serializer() {
    for &ser in SerializerId::ALL {
        let mut p = connected(ser);
        let meta = p.client.metadata().unwrap().clone();
        assert_eq!(meta.oneway, ["log"]);
        assert_eq!(
            p.call("add", vec![Value::Int(2), Value::Int(40)]),
            Response::Value(Value::Int(42))
        );
        assert_eq!(
            p.call("echo", vec![s("héllo")]),
            Response::Value(s("héllo"))
        );
        let Response::Exception(e) = p.call("fail", vec![]) else {
            panic!("{ser:?}")
        };
        assert_eq!(
            (e.class_name.as_str(), e.message().as_str()),
            ("builtins.ValueError", "nope")
        );
        assert!(e.traceback.unwrap().contains("ValueError: nope"));

        // Oneway from metadata: done at once, nothing comes back.
        let id = p
            .client
            .call(
                "log",
                vec![s("x")],
                Dict::default(),
                &CallOptions::default(),
                NOW,
            )
            .unwrap();
        let ev = p.run();
        assert_eq!(
            ev,
            [ClientEvent::Reply {
                call: id,
                response: Response::Value(Value::None),
                annotations: Annotations::new()
            }]
        );
        assert!(p.client.is_ready());

        let id = p
            .client
            .get_attr("value", &CallOptions::default(), NOW)
            .unwrap();
        assert_eq!(p.response(id), Response::Value(Value::Int(5)));
        let id = p
            .client
            .set_attr("value", Value::Int(6), &CallOptions::default(), NOW)
            .unwrap();
        assert_eq!(p.response(id), Response::Value(Value::None));

        let calls = vec![
            BatchCall {
                method: "add".into(),
                vargs: vec![Value::Int(1), Value::Int(1)],
                kwargs: Dict::default(),
            },
            BatchCall {
                method: "fail".into(),
                vargs: vec![],
                kwargs: Dict::default(),
            },
            BatchCall {
                method: "add".into(),
                vargs: vec![Value::Int(2), Value::Int(2)],
                kwargs: Dict::default(),
            },
        ];
        let id = p
            .client
            .batch(calls, false, &CallOptions::default(), NOW)
            .unwrap();
        let Response::Batch(results) = p.response(id) else {
            panic!()
        };
        assert_eq!(results.len(), 2);
        assert_eq!(results[0], Ok(Value::Int(2)));
        assert_eq!(results[1].as_ref().unwrap_err().short_name(), "ValueError");

        let Response::Stream(stream) = p.call("count", vec![Value::Int(2)]) else {
            panic!()
        };
        for expected in [
            Response::Value(Value::Int(0)),
            Response::Value(Value::Int(1)),
            Response::StreamEnd,
        ] {
            let id = p.client.next_stream_item(&stream, NOW).unwrap();
            assert_eq!(p.response(id), expected, "{ser:?}");
        }
        let Response::Stream(stream) = p.call("count", vec![Value::Int(5)]) else {
            panic!()
        };
        p.client.close_stream(&stream, NOW).unwrap();
        p.run();
        assert_eq!(p.daemon.stream_count(), 0);

        let id = p.client.ping(NOW).unwrap();
        assert_eq!(p.response(id), Response::Pong);
    }
}

#[test]
fn metadata_is_fetched_by_a_call_when_the_daemon_does_not_send_it() {
    let mut p = Pair::new(ClientConfig::new("calc"), ServerConfig::default());
    p.no_meta = true;
    let ev = p.connect();
    let [ClientEvent::Connected {
        handshake,
        metadata: Some(meta),
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(handshake, &s("hello"));
    assert_eq!(meta.attrs, ["value"]);
    // CONNECT used seq 0, get_metadata seq 1: the next call is seq 2.
    assert_eq!(p.client.seq(), 1);
    assert_eq!(
        p.call("add", vec![Value::Int(1), Value::Int(2)]),
        Response::Value(Value::Int(3))
    );
    assert_eq!(p.client.seq(), 2);
}

#[test]
fn unknown_object_fails_the_handshake_with_the_daemons_text() {
    let mut p = Pair::new(ClientConfig::new("nope"), ServerConfig::default());
    let ev = p.connect();
    assert_eq!(
        ev,
        [ClientEvent::Closed(CloseReason::HandshakeFailed(
            "unknown object".into()
        ))]
    );
    assert!(p
        .client
        .call("x", vec![], Dict::default(), &CallOptions::default(), NOW)
        .is_err());
}

#[test]
fn without_metadata_nothing_is_oneway_and_no_object_is_named() {
    let mut config = ClientConfig::new("nope");
    config.metadata = false;
    let mut p = Pair::new(config, ServerConfig::default());
    let ev = p.connect();
    assert_eq!(
        ev,
        [ClientEvent::Connected {
            handshake: s("hello"),
            metadata: None
        }]
    );
    let Response::Exception(e) = p.call("log", vec![s("x")]) else {
        panic!()
    };
    assert_eq!(e.message(), "unknown object");
}

#[test]
fn seq_wraps_and_carries_over() {
    let mut p = Pair::new(ClientConfig::new("calc"), ServerConfig::default());
    p.client = ClientSession::new(ClientConfig::new("calc"), 65535);
    p.connect();
    assert_eq!(
        p.call("add", vec![Value::Int(1), Value::Int(1)]),
        Response::Value(Value::Int(2))
    );
    assert_eq!(p.client.seq(), 0);
}

fn result_frame(seq: u16, serializer: u16, payload: &[u8]) -> Vec<u8> {
    Message::new(MessageType::Result, serializer, payload.to_vec())
        .with_seq(seq)
        .encode(None)
        .unwrap()
}

fn ready_client(serializer: SerializerId) -> ClientSession {
    let mut config = ClientConfig::new("o");
    config.metadata = false;
    config.serializer = serializer;
    config.timeout = Some(Duration::from_secs(3));
    let mut c = ClientSession::new_without_handshake(config, 0);
    c.call("m", vec![], Dict::default(), &CallOptions::default(), NOW)
        .unwrap();
    c
}

#[test]
fn reply_checks_close_the_session_like_pyro4() {
    let mut c = ready_client(SerializerId::Json);
    c.receive(&result_frame(5, 2, b"1"));
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::Protocol(
            "invoke: reply sequence out of sync, got 5 expected 1".into()
        )))
    );
    let mut c = ready_client(SerializerId::Json);
    c.receive(&result_frame(1, 3, b"N"));
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::Protocol(
            "invalid serializer in response: 3".into()
        )))
    );
    let mut c = ready_client(SerializerId::Json);
    c.receive(&result_frame(1, 2, b"{broken"));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::Protocol(_)))
    ));
    let mut c = ready_client(SerializerId::Json);
    c.receive(&result_frame(1, 2, b"[1, 2]"));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Reply {
            response: Response::Value(Value::List(_)),
            ..
        })
    ));
}

#[test]
fn requests_over_the_max_message_size_are_refused_before_sending() {
    // Pyro4's Message() raises MessageTooLargeError while building the
    // request, so nothing reaches the daemon (test_server.py testMaxMsgSize).
    let mut config = ClientConfig::new("o");
    config.serializer = SerializerId::Json;
    config.max_message_size = Some(999);
    let mut c = ClientSession::new_without_handshake(config, 0);
    let big = Value::List(vec![Value::Int(42); 1000]);
    let err = c
        .call(
            "echo",
            vec![big],
            Dict::default(),
            &CallOptions::default(),
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Frame(FrameError::MessageTooLarge { max: 999, .. })
        ),
        "{err:?}"
    );
    assert_eq!(c.poll_transmit(), None);
    assert_eq!(c.seq(), 0);
    // The session is still usable for requests within the limit.
    c.call("m", vec![], Dict::default(), &CallOptions::default(), NOW)
        .unwrap();
    assert!(c.poll_transmit().is_some());
}

#[test]
fn timeouts_fail_the_request_and_close() {
    let mut c = ready_client(SerializerId::Json);
    assert_eq!(c.poll_timeout(), Some(NOW + Duration::from_secs(3)));
    c.handle_timeout(NOW + Duration::from_secs(2));
    assert!(c.poll_event().is_none());
    c.handle_timeout(NOW + Duration::from_secs(3));
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::TimedOut))
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn one_request_at_a_time() {
    let mut c = ready_client(SerializerId::Json);
    assert!(matches!(
        c.call(
            "again",
            vec![],
            Dict::default(),
            &CallOptions::default(),
            NOW
        ),
        Err(SessionError::InvalidState(_))
    ));
}

#[test]
fn hmac_mismatch_on_a_result_is_a_security_error_and_keeps_the_session() {
    let mut config = ClientConfig::new("o");
    config.metadata = false;
    config.serializer = SerializerId::Json;
    config.hmac_key = Some(b"k1".to_vec());
    let mut c = ClientSession::new_without_handshake(config, 0);
    c.call("m", vec![], Dict::default(), &CallOptions::default(), NOW)
        .unwrap();
    let frame = Message::new(MessageType::Result, 2, &b"1"[..])
        .with_seq(1)
        .encode(Some(b"k2"))
        .unwrap();
    c.receive(&frame);
    let ev = c.poll_event();
    let Some(ClientEvent::Reply {
        response: Response::Exception(e),
        ..
    }) = ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (e.class_name.as_str(), e.message().as_str()),
        ("Pyro4.errors.SecurityError", "message hmac mismatch")
    );
    assert!(c.is_ready());
}

#[test]
fn request_bytes_match_captured_pyro4_traffic() {
    // serpent_connect_nometa.txt: CONNECT then multiply(3, 4), no CORR (nothing random).
    let mut config = ClientConfig::new("test.obj");
    config.metadata = false;
    let mut c = ClientSession::new(config, 0);
    c.connect(NOW).unwrap();
    let connect = c.poll_transmit().unwrap();
    let mut expected = hex("5059524f0030000100000000000000 2f0001000000 00354a");
    expected.extend_from_slice(b"# serpent utf-8 python3.2\n{'handshake':'hello'}");
    assert_eq!(&connect[..], &expected[..]);
    let ok = Message::new(
        MessageType::ConnectOk,
        1,
        &b"# serpent utf-8 python3.2\n'hello'"[..],
    )
    .encode(None)
    .unwrap();
    c.receive(&ok);
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Connected { metadata: None, .. })
    ));
    c.call(
        "multiply",
        vec![Value::Int(3), Value::Int(4)],
        Dict::default(),
        &CallOptions::default(),
        NOW,
    )
    .unwrap();
    let invoke = c.poll_transmit().unwrap();
    let mut expected = hex("5059524f00300004000000010000003a0001000000003559");
    expected.extend_from_slice(b"# serpent utf-8 python3.2\n('test.obj','multiply',(3,4),{})");
    assert_eq!(&invoke[..], &expected[..]);
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[test]
fn only_a_connectfail_is_a_refusal_of_the_handshake() {
    // A CONNECTFAIL is the daemon's refusal, with its text.
    let mut c = ClientSession::new(ClientConfig::new("o"), 0);
    c.connect(NOW).unwrap();
    let fail = Message::new(MessageType::ConnectFail, 2, &b"\"go away\""[..])
        .encode(None)
        .unwrap();
    c.receive(&fail);
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::HandshakeFailed(
            "go away".into()
        )))
    );
    // An answer signed with another key is not the daemon's word: a framing
    // (HMAC) failure, as Pyro4's "cannot connect to ...: message hmac mismatch".
    let mut config = ClientConfig::new("o");
    config.hmac_key = Some(b"mine".to_vec());
    let mut c = ClientSession::new(config, 0);
    c.connect(NOW).unwrap();
    let fail = Message::new(MessageType::ConnectFail, 2, &b"\"go away\""[..])
        .encode(Some(b"theirs"))
        .unwrap();
    c.receive(&fail);
    let ev = c.poll_event();
    let Some(ClientEvent::Closed(CloseReason::Frame(e))) = &ev else {
        panic!("{ev:?}")
    };
    assert_eq!(e.to_string(), "message hmac mismatch");
    // An undecodable or incomplete CONNECTOK is a protocol error.
    for payload in [&b"{broken"[..], &b"{\"handshake\": \"hello\"}"[..]] {
        let mut c = ClientSession::new(ClientConfig::new("o"), 0);
        c.connect(NOW).unwrap();
        let ok = Message::new(MessageType::ConnectOk, 2, payload)
            .with_flags(Flags::META_ON_CONNECT)
            .encode(None)
            .unwrap();
        c.receive(&ok);
        let ev = c.poll_event();
        assert!(
            matches!(ev, Some(ClientEvent::Closed(CloseReason::Protocol(_)))),
            "{ev:?}"
        );
    }
}

#[test]
fn set_timeout_applies_from_the_next_request() {
    let mut c = ready_client(SerializerId::Json);
    c.set_timeout(Some(Duration::from_secs(10)));
    // The outstanding request keeps its 3 s deadline.
    assert_eq!(c.poll_timeout(), Some(NOW + Duration::from_secs(3)));
    c.receive(&result_frame(1, 2, b"1"));
    assert!(matches!(c.poll_event(), Some(ClientEvent::Reply { .. })));
    c.call("m", vec![], Dict::default(), &CallOptions::default(), NOW)
        .unwrap();
    assert_eq!(c.poll_timeout(), Some(NOW + Duration::from_secs(10)));
}

#[test]
fn connect_with_sends_the_correlation_id_and_annotations() {
    // serpent_correlation_id.txt: a proxy with a context correlation id sends
    // CORR on the CONNECT too, not only on its requests.
    let corr = [7u8; 16];
    let mut annotations = Annotations::new();
    annotations.insert(AnnotationId::new("XYZZ").unwrap(), b"x".to_vec());
    let opts = CallOptions {
        correlation_id: Some(corr),
        annotations,
        ..CallOptions::default()
    };
    let mut c = ClientSession::new(ClientConfig::new("test.obj"), 0);
    c.connect_with(&opts, Duration::ZERO).unwrap();
    let frame = c.poll_transmit().unwrap();
    let mut d = Decoder::new(ExpectedTypes::DAEMON);
    d.receive(&frame);
    let msg = d.next_message().unwrap().unwrap();
    assert_eq!(msg.msg_type, MessageType::Connect);
    assert_eq!(msg.annotations.get(AnnotationId::CORR).unwrap()[..], corr);
    assert_eq!(
        &msg.annotations
            .get(AnnotationId::new("XYZZ").unwrap())
            .unwrap()[..],
        b"x"
    );
    // connect() stays bare.
    let mut c = ClientSession::new(ClientConfig::new("test.obj"), 0);
    c.connect(Duration::ZERO).unwrap();
    let mut d = Decoder::new(ExpectedTypes::DAEMON);
    d.receive(&c.poll_transmit().unwrap());
    assert!(d.next_message().unwrap().unwrap().annotations.is_empty());
}

#[test]
fn registered_classes_are_accepted_in_replies() {
    let exception = br#"{"__class__": "app.CustomError", "__exception__": true, "args": ["bad"], "attributes": {"code": 42}}"#;
    let reply = Message::new(MessageType::Result, 2, &exception[..])
        .with_seq(1)
        .with_flags(Flags::EXCEPTION)
        .encode(None)
        .unwrap();
    // Unknown to Pyro4: refused like Python's "unsupported serialized class".
    let mut c = ready_client(SerializerId::Json);
    c.receive(&reply);
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Closed(CloseReason::Protocol(
            "unsupported serialized class: app.CustomError".into()
        )))
    );
    // Registered: a remote exception of that class.
    let mut registry = ClassRegistry::new();
    registry.register("app.CustomError");
    let mut config = ClientConfig::new("o");
    config.metadata = false;
    config.serializer = SerializerId::Json;
    config.classes = Some(Arc::new(registry));
    let mut c = ClientSession::new_without_handshake(config, 0);
    c.call("m", vec![], Dict::default(), &CallOptions::default(), NOW)
        .unwrap();
    c.receive(&reply);
    let ev = c.poll_event();
    let Some(ClientEvent::Reply {
        response: Response::Exception(e),
        ..
    }) = &ev
    else {
        panic!("{ev:?}")
    };
    assert_eq!(e.class_name, "app.CustomError");
    assert_eq!(e.message(), "bad");
    assert_eq!(e.attribute("code"), Some(&Value::Int(42)));
}

#[test]
fn a_serialized_blob_call_is_sent_as_pyro4_sends_it() {
    // serpent_serialized_blob.txt: SerializedBlob('blobinfo', [1, 2, 3])
    // as the only argument of blob(): flags KEEPSERIALIZED, BLBI =
    // marshal(('blobinfo', 'test.obj', 'blob')), vargs = the data as is.
    let mut config = ClientConfig::new("test.obj");
    config.metadata = false;
    let mut c = ClientSession::new_without_handshake(config, 0);
    let data = Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
    c.call_blob(
        "blob",
        s("blobinfo"),
        data.clone(),
        &CallOptions::default(),
        NOW,
    )
    .unwrap();
    let mut d = Decoder::new(ExpectedTypes::DAEMON);
    d.receive(&c.poll_transmit().unwrap());
    let msg = d.next_message().unwrap().unwrap();
    assert_eq!(msg.flags, Flags::KEEPSERIALIZED);
    assert_eq!(msg.seq, 1);
    assert_eq!(
        &msg.data[..],
        b"# serpent utf-8 python3.2\n('test.obj','blob',[1,2,3],{})"
    );
    let blbi = msg.annotations.get(AnnotationId::BLBI).unwrap();
    assert_eq!(
        SerializerId::Marshal.loads(blbi).unwrap(),
        Value::Tuple(vec![s("blobinfo"), s("test.obj"), s("blob")])
    );
    // The reply is an ordinary result.
    c.receive(&result_frame(
        1,
        1,
        b"# serpent utf-8 python3.2\n['blobinfo',[1,2,3]]",
    ));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Reply { response: Response::Value(Value::List(v)), .. }) if v[1] == data
    ));
}

/// Requests are serialized into one buffer the session reuses and framed
/// from there: the bytes are exactly those of the message built from
/// `dumps_call` (compressed, signed, large payloads as a chunk of their
/// own); small calls keep the buffer's room, a large one leaves at most
/// `PAYLOAD_BUFFER_KEEP` of it behind.
#[test]
fn requests_are_framed_from_a_reused_buffer_as_from_their_message() {
    use crate::session::{PAYLOAD_BUFFER_KEEP, SEPARATE_PAYLOAD_SIZE};
    let key = b"hmac key".to_vec();
    let big = "x".repeat(SEPARATE_PAYLOAD_SIZE + 10);
    let args = [
        ("medium", s(&"ab".repeat(300)), 1),
        ("small", s("small"), 1),
        ("again", Value::Int(3), 1),
        ("big", s(&big), 2),
        ("after", s("after the big one"), 1),
    ];
    for &serializer in SerializerId::ALL {
        for compression in [false, true] {
            for hmac_key in [None, Some(key.clone())] {
                let mut config = ClientConfig::new("o");
                config.metadata = false;
                config.serializer = serializer;
                config.compression = compression;
                config.hmac_key = hmac_key.clone();
                let mut c = ClientSession::new_without_handshake(config, 0);
                let opts = CallOptions {
                    oneway: Some(true),
                    correlation_id: Some([7; 16]),
                    ..Default::default()
                };
                let mut room = None;
                for (seq, (method, arg, chunks)) in (1..).zip(args.iter()) {
                    let case = (serializer, compression, hmac_key.is_some(), *method);
                    c.call(method, vec![arg.clone()], Dict::default(), &opts, NOW)
                        .unwrap();
                    let call = Call {
                        object: "o".into(),
                        method: (*method).into(),
                        vargs: Value::Tuple(vec![arg.clone()]),
                        kwargs: Some(Dict::default()),
                    };
                    let mut msg = Message::new(
                        MessageType::Invoke,
                        serializer.id(),
                        serializer.dumps_call(&call).unwrap(),
                    )
                    .with_flags(Flags::ONEWAY)
                    .with_seq(seq)
                    .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&[7; 16]));
                    if compression {
                        msg.compress();
                    }
                    let expected = msg.encode(hmac_key.as_deref()).unwrap();
                    let sent: Vec<Bytes> = core::iter::from_fn(|| c.poll_transmit()).collect();
                    assert_eq!(sent.concat(), expected, "{case:?}");
                    // Compressed, the big payload is small enough for one chunk.
                    let chunks = if compression { 1 } else { *chunks };
                    assert_eq!(sent.len(), chunks, "{case:?}");
                    assert!(c.payload.is_empty(), "{case:?}");
                    assert!(c.payload.capacity() <= PAYLOAD_BUFFER_KEEP, "{case:?}");
                    match *method {
                        "medium" => room = Some((c.payload.as_ptr(), c.payload.capacity())),
                        "small" | "again" => assert_eq!(
                            Some((c.payload.as_ptr(), c.payload.capacity())),
                            room,
                            "{case:?}"
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A call that cannot be serialized sends nothing, leaves the buffer
/// empty and the session usable.
#[test]
fn a_call_that_cannot_be_serialized_leaves_nothing_behind() {
    let mut c = ready_client(SerializerId::Json);
    // `ready_client` made one call; answer it.
    c.receive(&result_frame(1, SerializerId::Json.id(), b"null"));
    assert!(matches!(c.poll_event(), Some(ClientEvent::Reply { .. })));
    while c.poll_transmit().is_some() {}
    let err = c
        .call(
            "m",
            vec![s("first"), Value::Bytes(vec![1])],
            Dict::default(),
            &CallOptions::default(),
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, SessionError::Serialize(_)), "{err:?}");
    assert!(c.poll_transmit().is_none());
    assert!(c.payload.is_empty());
    c.call(
        "m",
        vec![s("ok")],
        Dict::default(),
        &CallOptions::default(),
        NOW,
    )
    .unwrap();
    let sent = c.poll_transmit().unwrap();
    assert!(sent.ends_with(br#"{"object": "o", "method": "m", "params": ["ok"], "kwargs": {}}"#));
}
