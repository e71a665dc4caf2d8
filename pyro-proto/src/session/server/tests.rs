use super::*;
use crate::entropy::SeededEntropy;

const JSON: SerializerId = SerializerId::Json;

fn session(config: ServerConfig) -> ServerSession {
    ServerSession::new(Arc::new(config), Box::new(SeededEntropy::new(1)))
}

fn frame(msg: &Message, key: Option<&[u8]>) -> Vec<u8> {
    msg.encode(key).unwrap()
}

fn connect(serializer: SerializerId, payload: &Value, flags: Flags, seq: u16) -> Message {
    Message::new(
        MessageType::Connect,
        serializer.id(),
        serializer.dumps(payload).unwrap(),
    )
    .with_flags(flags)
    .with_seq(seq)
}

fn invoke(serializer: SerializerId, call: &Call, flags: Flags, seq: u16) -> Message {
    Message::new(
        MessageType::Invoke,
        serializer.id(),
        serializer.dumps_call(call).unwrap(),
    )
    .with_flags(flags)
    .with_seq(seq)
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn dict(pairs: &[(&str, Value)]) -> Value {
    Value::Dict(Dict(pairs.iter().map(|(k, v)| (s(k), v.clone())).collect()))
}

fn call(method: &str, args: Vec<Value>) -> Call {
    Call {
        object: "test.obj".into(),
        method: method.into(),
        vargs: Value::Tuple(args),
        kwargs: Some(Dict::default()),
    }
}

/// Everything the session wants to send, decoded as a client would.
fn sent(session: &mut ServerSession) -> Vec<Message> {
    let mut decoder = Decoder::new(ExpectedTypes::CLIENT);
    while let Some(bytes) = session.poll_transmit() {
        decoder.receive(&bytes);
    }
    let mut out = Vec::new();
    while let Some(msg) = decoder.next_message().unwrap() {
        out.push(msg);
    }
    out
}

fn events(session: &mut ServerSession) -> Vec<ServerEvent> {
    core::iter::from_fn(|| session.poll_event()).collect()
}

/// A session past a plain (no metadata) json handshake.
fn ready() -> ServerSession {
    let mut srv = session(ServerConfig::default());
    srv.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("hello"))]), Flags::NONE, 0),
        None,
    ));
    let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
        panic!("no handshake")
    };
    srv.accept_handshake(h.id, s("hello"), None).unwrap();
    assert_eq!(sent(&mut srv)[0].msg_type, MessageType::ConnectOk);
    srv
}

fn next_request(srv: &mut ServerSession) -> Request {
    match srv.poll_event() {
        Some(ServerEvent::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn handshake_without_metadata_echoes_seq_and_sends_corr() {
    let mut srv = session(ServerConfig::default());
    srv.receive(&frame(
        &connect(
            JSON,
            &dict(&[("handshake", s("hi there"))]),
            Flags::NONE,
            777,
        ),
        None,
    ));
    let ev = events(&mut srv);
    let [ServerEvent::Handshake(h)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (h.seq, h.serializer, &h.handshake),
        (777, JSON, &s("hi there"))
    );
    assert!(!h.wants_metadata);
    assert_eq!(h.object, None);
    srv.accept_handshake(h.id, s("hello"), None).unwrap();
    let out = sent(&mut srv);
    assert_eq!(out.len(), 1);
    let ok = &out[0];
    assert_eq!(
        (ok.msg_type, ok.seq, ok.serializer_id),
        (MessageType::ConnectOk, 777, 2)
    );
    assert_eq!(ok.flags, Flags::NONE);
    assert_eq!(&ok.data[..], b"\"hello\"");
    assert_eq!(
        ok.annotations.get(AnnotationId::CORR).map(|c| c.len()),
        Some(16)
    );
}

#[test]
fn handshake_with_metadata_sends_lists_and_the_flag() {
    let mut srv = session(ServerConfig::default());
    let payload = dict(&[("handshake", s("hello")), ("object", s("test.obj"))]);
    srv.receive(&frame(
        &connect(JSON, &payload, Flags::META_ON_CONNECT, 0),
        None,
    ));
    let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
        panic!()
    };
    assert!(h.wants_metadata);
    assert_eq!(h.object.as_deref(), Some("test.obj"));
    let meta = Metadata {
        methods: alloc::vec!["echo".into()],
        oneway: alloc::vec![],
        attrs: alloc::vec!["value".into()],
    };
    srv.accept_handshake(h.id, s("hello"), Some(meta)).unwrap();
    let ok = &sent(&mut srv)[0];
    assert_eq!(ok.flags, Flags::META_ON_CONNECT);
    assert_eq!(
        core::str::from_utf8(&ok.data).unwrap(),
        r#"{"handshake": "hello", "meta": {"methods": ["echo"], "oneway": [], "attrs": ["value"]}}"#
    );
}

#[test]
fn rejected_handshake_sends_connectfail_in_the_clients_serializer_and_closes() {
    let mut srv = session(ServerConfig::default());
    srv.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("bad"))]), Flags::NONE, 5),
        None,
    ));
    let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
        panic!()
    };
    srv.reject_handshake(h.id, "wrong handshake: 'bad'")
        .unwrap();
    let out = sent(&mut srv);
    assert_eq!(
        (out[0].msg_type, out[0].seq, out[0].serializer_id),
        (MessageType::ConnectFail, 5, 2)
    );
    assert_eq!(&out[0].data[..], b"\"wrong handshake: 'bad'\"");
    assert!(srv.is_closed());
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::HandshakeFailed(_)))
    ));
}

#[test]
fn handshake_payload_without_handshake_key_fails_like_python() {
    let mut srv = session(ServerConfig::default());
    srv.receive(&frame(
        &connect(JSON, &dict(&[("x", s("y"))]), Flags::NONE, 3),
        None,
    ));
    let out = sent(&mut srv);
    assert_eq!(out[0].msg_type, MessageType::ConnectFail);
    assert_eq!(&out[0].data[..], b"\"'handshake'\"");
    assert!(srv.is_closed());
}

#[test]
fn invoke_reply_echoes_seq_and_serializer_with_corr() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(
            JSON,
            &call("multiply", alloc::vec![Value::Int(6), Value::Int(7)]),
            Flags::NONE,
            1,
        ),
        None,
    ));
    let req = next_request(&mut srv);
    assert_eq!(
        (req.seq, req.serializer, req.call.method.as_str()),
        (1, JSON, "multiply")
    );
    srv.reply(req.id, Outcome::value(Value::Int(42))).unwrap();
    let out = sent(&mut srv);
    assert_eq!(
        (out[0].msg_type, out[0].seq, out[0].serializer_id),
        (MessageType::Result, 1, 2)
    );
    assert_eq!(&out[0].data[..], b"42");
    assert_eq!(out[0].flags, Flags::NONE);
    assert!(out[0].annotations.get(AnnotationId::CORR).is_some());
}

#[test]
fn client_correlation_id_is_echoed_and_missing_one_is_fresh_per_request() {
    let mut srv = ready();
    let corr = [7u8; 16];
    let msg = invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1)
        .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
    srv.receive(&frame(&msg, None));
    let req = next_request(&mut srv);
    assert_eq!(req.correlation_id, corr);
    srv.reply(req.id, Outcome::value(Value::None)).unwrap();
    assert_eq!(
        &sent(&mut srv)[0]
            .annotations
            .get(AnnotationId::CORR)
            .unwrap()[..],
        &corr
    );

    let mut seen = Vec::new();
    for seq in 2..4 {
        srv.receive(&frame(
            &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, seq),
            None,
        ));
        let req = next_request(&mut srv);
        srv.reply(req.id, Outcome::value(Value::None)).unwrap();
        let out = sent(&mut srv);
        seen.push(out[0].annotations.get(AnnotationId::CORR).unwrap().clone());
    }
    assert_ne!(seen[0], seen[1]);
}

#[test]
fn exception_reply_has_flag_and_no_corr_and_keeps_the_connection() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("divide", alloc::vec![]), Flags::NONE, 9),
        None,
    ));
    let req = next_request(&mut srv);
    let error = crate::session::traced(
        RemoteError::builtin("ZeroDivisionError", "division by zero"),
        "divide",
    );
    srv.reply(
        req.id,
        Outcome::Exception {
            error,
            close: false,
        },
    )
    .unwrap();
    let out = sent(&mut srv);
    assert_eq!(out[0].flags, Flags::EXCEPTION);
    assert!(out[0].annotations.is_empty());
    let text = core::str::from_utf8(&out[0].data).unwrap();
    assert!(text.starts_with(r#"{"__class__": "builtins.ZeroDivisionError", "__exception__": true, "args": ["division by zero"], "attributes": {"_pyroTraceback": ["Traceback (most recent call last):\n""#), "{text}");
    assert!(!srv.is_closed());
}

#[test]
fn stream_reply_is_exception_plus_itemstream_with_strm() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("gen", alloc::vec![]), Flags::NONE, 2),
        None,
    ));
    let req = next_request(&mut srv);
    let id = "47d471c7-5f8e-42f9-be8b-25c71d2ad582";
    srv.reply(
        req.id,
        Outcome::Stream {
            stream_id: id.into(),
        },
    )
    .unwrap();
    let out = sent(&mut srv);
    assert_eq!(out[0].flags, Flags(0x21));
    assert_eq!(
        &out[0].annotations.get(AnnotationId::STRM).unwrap()[..],
        id.as_bytes()
    );
    assert_eq!(
        core::str::from_utf8(&out[0].data).unwrap(),
        r#"{"__class__": "Pyro4.errors.ProtocolError", "__exception__": true, "args": ["result of call is an iterator"], "attributes": {"_pyroTraceback": null}}"#
    );
}

#[test]
fn batch_reply_sets_batch_flag() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("<batch>", alloc::vec![]), Flags::BATCH, 4),
        None,
    ));
    let req = next_request(&mut srv);
    assert!(req.is_batch());
    srv.reply(
        req.id,
        Outcome::Batch {
            results: alloc::vec![Value::Int(1), s("hi")],
            response_annotations: Annotations::new(),
        },
    )
    .unwrap();
    let out = sent(&mut srv);
    assert_eq!(out[0].flags, Flags::BATCH);
    assert_eq!(&out[0].data[..], b"[1, \"hi\"]");
}

#[test]
fn requests_are_reported_one_at_a_time_but_oneway_does_not_block() {
    let mut srv = ready();
    let mut bytes = frame(
        &invoke(JSON, &call("log", alloc::vec![]), Flags::ONEWAY, 1),
        None,
    );
    bytes.extend(frame(
        &invoke(JSON, &call("a", alloc::vec![]), Flags::NONE, 2),
        None,
    ));
    bytes.extend(frame(
        &invoke(JSON, &call("b", alloc::vec![]), Flags::NONE, 3),
        None,
    ));
    srv.receive(&bytes);
    let oneway = next_request(&mut srv);
    assert!(oneway.is_oneway());
    let a = next_request(&mut srv);
    assert_eq!(a.call.method, "a");
    assert!(srv.poll_event().is_none(), "b must wait for a's reply");
    srv.reply(a.id, Outcome::value(Value::None)).unwrap();
    let b = next_request(&mut srv);
    assert_eq!(b.call.method, "b");
    // The oneway request's outcome sends nothing; closing is still possible.
    srv.reply(oneway.id, Outcome::NoReply { close: false })
        .unwrap();
    assert_eq!(sent(&mut srv).len(), 1);
}

#[test]
fn ping_is_answered_with_pong_same_seq_and_serializer() {
    let mut srv = ready();
    srv.receive(&frame(&Message::ping().with_seq(12), None));
    assert!(srv.poll_event().is_none());
    let out = sent(&mut srv);
    assert_eq!(
        (out[0].msg_type, out[0].seq, out[0].serializer_id),
        (MessageType::Ping, 12, 42)
    );
    assert_eq!(&out[0].data[..], b"pong");
    assert!(out[0].annotations.get(AnnotationId::CORR).is_some());
}

#[test]
fn second_connect_closes_silently() {
    let mut srv = ready();
    srv.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("hello"))]), Flags::NONE, 1),
        None,
    ));
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::UnexpectedMessage(1)))
    ));
    assert!(sent(&mut srv).is_empty());
}

#[test]
fn bad_checksum_after_handshake_closes_silently() {
    let mut srv = ready();
    let mut bytes = frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1),
        None,
    );
    bytes[23] ^= 1;
    srv.receive(&bytes);
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::Frame(
            FrameError::ChecksumMismatch { .. }
        )))
    ));
    assert!(sent(&mut srv).is_empty());
}

#[test]
fn undecodable_call_is_answered_and_the_connection_stays_open() {
    let mut srv = ready();
    let msg = Message::new(MessageType::Invoke, 2, &b"{not json"[..]).with_seq(3);
    srv.receive(&frame(&msg, None));
    assert!(srv.poll_event().is_none());
    let out = sent(&mut srv);
    assert_eq!((out[0].seq, out[0].flags), (3, Flags::EXCEPTION));
    assert!(core::str::from_utf8(&out[0].data)
        .unwrap()
        .contains("builtins.ValueError"));
    assert!(!srv.is_closed());
}

#[test]
fn oneway_errors_are_never_answered() {
    let mut srv = ready();
    let msg = Message::new(MessageType::Invoke, 2, &b"{not json"[..])
        .with_seq(3)
        .with_flags(Flags::ONEWAY);
    srv.receive(&frame(&msg, None));
    assert!(sent(&mut srv).is_empty());
    assert!(!srv.is_closed());
}

#[test]
fn serializer_not_accepted_after_handshake_replies_in_that_serializer_and_closes() {
    let mut srv = ready();
    let msg = invoke(
        SerializerId::Serpent,
        &call("m", alloc::vec![]),
        Flags::NONE,
        8,
    );
    let config = ServerConfig {
        accepted: alloc::vec![JSON],
        ..Default::default()
    };
    let mut srv2 = session(config);
    srv2.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("hello"))]), Flags::NONE, 0),
        None,
    ));
    let Some(ServerEvent::Handshake(h)) = srv2.poll_event() else {
        panic!()
    };
    srv2.accept_handshake(h.id, s("hello"), None).unwrap();
    sent(&mut srv2);
    srv2.receive(&frame(&msg, None));
    let out = sent(&mut srv2);
    assert_eq!(
        (out[0].serializer_id, out[0].flags, out[0].seq),
        (1, Flags::EXCEPTION, 8)
    );
    assert!(srv2.is_closed());
    // The default configuration accepts serpent.
    srv.receive(&frame(&msg, None));
    assert!(matches!(srv.poll_event(), Some(ServerEvent::Request(_))));
}

#[test]
fn message_too_large_closes_without_reply() {
    let config = ServerConfig {
        max_message_size: Some(100),
        ..Default::default()
    };
    let mut srv = session(config);
    let big = dict(&[("handshake", Value::Str("x".repeat(200).into()))]);
    srv.receive(&frame(&connect(JSON, &big, Flags::NONE, 0), None));
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::Frame(
            FrameError::MessageTooLarge { .. }
        )))
    ));
    assert!(sent(&mut srv).is_empty());
}

#[test]
fn peer_close_between_messages_and_inside_one() {
    let mut srv = ready();
    srv.end_of_input();
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::PeerClosed))
    ));

    let mut srv = ready();
    let bytes = frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1),
        None,
    );
    srv.receive(&bytes[..30]);
    srv.end_of_input();
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::Frame(
            FrameError::Truncated { .. }
        )))
    ));
}

#[test]
fn requests_split_byte_by_byte_give_the_same_events() {
    let mut srv = ready();
    let bytes = frame(
        &invoke(JSON, &call("echo", alloc::vec![s("hi")]), Flags::NONE, 1),
        None,
    );
    for b in &bytes {
        srv.receive(core::slice::from_ref(b));
    }
    let req = next_request(&mut srv);
    assert_eq!(req.call.vargs, Value::List(alloc::vec![s("hi")]));
}

#[test]
fn compression_applies_to_large_replies_only() {
    let config = ServerConfig {
        compression: true,
        ..Default::default()
    };
    let mut srv = session(config);
    srv.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("hello"))]), Flags::NONE, 0),
        None,
    ));
    let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
        panic!()
    };
    srv.accept_handshake(h.id, s("hello"), None).unwrap();
    sent(&mut srv);
    for (seq, len, compressed) in [(1, 10, false), (2, 1000, true)] {
        srv.receive(&frame(
            &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, seq),
            None,
        ));
        let req = next_request(&mut srv);
        srv.reply(req.id, Outcome::value(Value::Str("a".repeat(len).into())))
            .unwrap();
        let mut out = sent(&mut srv);
        assert_eq!(out[0].flags.contains(Flags::COMPRESSED), compressed);
        out[0].decompress(1 << 20).unwrap();
        assert_eq!(out[0].data.len(), len + 2);
    }
}

#[test]
fn hmac_signed_session_signs_replies_and_drops_unsigned_requests() {
    let key = b"secret-key".to_vec();
    let config = ServerConfig {
        hmac_key: Some(key.clone()),
        ..Default::default()
    };
    let mut srv = session(config);
    srv.receive(&frame(
        &connect(JSON, &dict(&[("handshake", s("hello"))]), Flags::NONE, 0),
        Some(&key),
    ));
    let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
        panic!()
    };
    srv.accept_handshake(h.id, s("hello"), None).unwrap();
    let mut decoder = Decoder::new(ExpectedTypes::CLIENT).with_hmac_key(key.clone());
    decoder.receive(&srv.poll_transmit().unwrap());
    assert_eq!(
        decoder.next_message().unwrap().unwrap().msg_type,
        MessageType::ConnectOk
    );
    // An unsigned INVOKE after the handshake: closed without a reply.
    srv.receive(&frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1),
        None,
    ));
    assert!(matches!(
        srv.poll_event(),
        Some(ServerEvent::Closed(CloseReason::Frame(
            FrameError::HmacMissing
        )))
    ));
    assert!(srv.poll_transmit().is_none());
}

#[test]
fn replies_to_unknown_ids_are_refused() {
    let mut srv = ready();
    assert_eq!(
        srv.reply(RequestId(99), Outcome::value(Value::None)),
        Err(SessionError::UnknownId)
    );
}

#[test]
fn stream_reply_without_streaming_has_no_strm() {
    // serpent_stream_disabled.txt: ITER_STREAMING off -> EXCEPTION|ITEMSTREAMRESULT, no STRM.
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("gen", alloc::vec![]), Flags::NONE, 1),
        None,
    ));
    let req = next_request(&mut srv);
    srv.reply(
        req.id,
        Outcome::Stream {
            stream_id: String::new(),
        },
    )
    .unwrap();
    let out = sent(&mut srv);
    assert_eq!(out[0].flags, Flags(0x21));
    assert!(out[0].annotations.is_empty(), "{:?}", out[0].annotations);
}

#[test]
fn keepserialized_request_passes_the_blob_undecoded() {
    // serpent_serialized_blob.txt: BLBI = marshal ('blobinfo', 'test.obj', 'blob'),
    // payload = the call tuple whose vargs slot holds the blob's data.
    let mut srv = ready();
    let blbi = crate::message::Bytes::from(
        SerializerId::Marshal
            .dumps(&Value::Tuple(alloc::vec![
                s("blobinfo"),
                s("test.obj"),
                s("blob")
            ]))
            .unwrap(),
    );
    let data_call = Call {
        object: "test.obj".into(),
        method: "blob".into(),
        vargs: Value::List(alloc::vec![Value::Int(1), Value::Int(2)]),
        kwargs: Some(Dict::default()),
    };
    let payload = JSON.dumps_call(&data_call).unwrap();
    let msg = Message::new(MessageType::Invoke, JSON.id(), payload.clone())
        .with_flags(Flags::KEEPSERIALIZED)
        .with_seq(1)
        .with_annotation(AnnotationId::BLBI, blbi);
    srv.receive(&frame(&msg, None));
    let req = next_request(&mut srv);
    assert_eq!(req.call.object, "test.obj");
    assert_eq!(req.call.method, "blob");
    let Value::Tuple(args) = &req.call.vargs else {
        panic!("{:?}", req.call.vargs)
    };
    let Value::Class(blob) = &args[0] else {
        panic!("{args:?}")
    };
    assert_eq!(blob.class_name, SERIALIZED_BLOB_CLASS);
    assert_eq!(blob.fields.get_str("info"), Some(&s("blobinfo")));
    assert_eq!(blob.fields.get_str("serializer"), Some(&Value::Int(2)));
    let Some(Value::Bytes(data)) = blob.fields.get_str("data") else {
        panic!("{blob:?}")
    };
    assert_eq!(data, &payload);
    // Python's blob.deserialized(): the vargs slot of the call tuple.
    assert!(JSON
        .loads_call(data)
        .unwrap()
        .vargs
        .bits_eq(&data_call.vargs));

    // Without BLBI: KeyError reply, connection kept.
    srv.reply(req.id, Outcome::value(Value::None)).unwrap();
    sent(&mut srv);
    let bare = Message::new(MessageType::Invoke, JSON.id(), payload)
        .with_flags(Flags::KEEPSERIALIZED)
        .with_seq(2);
    srv.receive(&frame(&bare, None));
    let out = sent(&mut srv);
    assert_eq!(out[0].flags, Flags::EXCEPTION);
    let e = RemoteError::from_value(&JSON.loads_raw(&out[0].data).unwrap()).unwrap();
    assert_eq!(e.class_name, "builtins.KeyError");
    assert!(!srv.is_closed());
}

#[test]
fn large_payloads_are_queued_after_their_header_without_a_copy() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1),
        None,
    ));
    let req = next_request(&mut srv);
    let big = Value::Str("x".repeat(crate::session::SEPARATE_PAYLOAD_SIZE).into());
    srv.reply(req.id, Outcome::value(big.clone())).unwrap();
    let head = srv.poll_transmit().unwrap();
    let payload = srv.poll_transmit().unwrap();
    assert!(srv.poll_transmit().is_none());
    assert_eq!(payload, Bytes::from(JSON.dumps(&big).unwrap()));
    let mut whole = head.to_vec();
    whole.extend_from_slice(&payload);
    let mut decoder = Decoder::new(ExpectedTypes::CLIENT);
    decoder.receive(&whole);
    let msg = decoder.next_message().unwrap().unwrap();
    assert_eq!((msg.seq, JSON.loads(&msg.data).unwrap()), (1, big));
    // Small replies stay one buffer.
    srv.receive(&frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 2),
        None,
    ));
    let req = next_request(&mut srv);
    srv.reply(req.id, Outcome::value(Value::Int(1))).unwrap();
    assert!(srv.poll_transmit().is_some() && srv.poll_transmit().is_none());
}

/// Replies are serialized into one buffer the session reuses and framed
/// from there: the bytes are exactly those of the message built from
/// `dumps` (compressed, signed, large payloads as a chunk of their own),
/// and the buffer keeps at most `PAYLOAD_BUFFER_KEEP` of room.
#[test]
fn replies_are_framed_from_a_reused_buffer_as_from_their_message() {
    use crate::session::{PAYLOAD_BUFFER_KEEP, SEPARATE_PAYLOAD_SIZE};
    let key = b"hmac key".to_vec();
    let corr = [3u8; 16];
    let big = "y".repeat(SEPARATE_PAYLOAD_SIZE + 10);
    let replies = [
        ("medium", Outcome::value(s(&"ab".repeat(300))), 1),
        ("small", Outcome::value(Value::Int(1)), 1),
        (
            "error",
            Outcome::Exception {
                error: RemoteError::builtin("ValueError", "bad"),
                close: false,
            },
            1,
        ),
        ("big", Outcome::value(s(&big)), 2),
        ("after", Outcome::value(s("after the big one")), 1),
    ];
    for &serializer in SerializerId::ALL {
        for compression in [false, true] {
            for hmac_key in [None, Some(key.clone())] {
                let mut srv = session(ServerConfig {
                    accepted: SerializerId::ALL.to_vec(),
                    compression,
                    hmac_key: hmac_key.clone(),
                    ..Default::default()
                });
                let hello = connect(serializer, &dict(&[("handshake", s("hi"))]), Flags::NONE, 0)
                    .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
                srv.receive(&frame(&hello, hmac_key.as_deref()));
                let Some(ServerEvent::Handshake(h)) = srv.poll_event() else {
                    panic!("no handshake")
                };
                srv.accept_handshake(h.id, s("hello"), None).unwrap();
                assert_eq!(core::iter::from_fn(|| srv.poll_transmit()).count(), 1);
                let mut room = None;
                for (seq, (what, outcome, chunks)) in (1..).zip(replies.iter()) {
                    let case = (serializer, compression, hmac_key.is_some(), *what);
                    let request = invoke(serializer, &call("m", alloc::vec![]), Flags::NONE, seq)
                        .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
                    srv.receive(&frame(&request, hmac_key.as_deref()));
                    let req = next_request(&mut srv);
                    srv.reply(req.id, outcome.clone()).unwrap();
                    let (value, flags) = match outcome {
                        Outcome::Value { value, .. } => (value.clone(), Flags::NONE),
                        Outcome::Exception { error, .. } => (error.to_value(), Flags::EXCEPTION),
                        _ => unreachable!(),
                    };
                    let mut msg = Message::new(
                        MessageType::Result,
                        serializer.id(),
                        serializer.dumps(&value).unwrap(),
                    )
                    .with_seq(seq);
                    if flags.is_empty() {
                        msg.annotations
                            .insert(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
                    }
                    if compression {
                        msg.compress();
                    }
                    msg.flags.insert(flags);
                    let expected = frame(&msg, hmac_key.as_deref());
                    let out: Vec<Bytes> = core::iter::from_fn(|| srv.poll_transmit()).collect();
                    assert_eq!(out.concat(), expected, "{case:?}");
                    let chunks = if compression { 1 } else { *chunks };
                    assert_eq!(out.len(), chunks, "{case:?}");
                    assert!(srv.payload.is_empty(), "{case:?}");
                    assert!(srv.payload.capacity() <= PAYLOAD_BUFFER_KEEP, "{case:?}");
                    match *what {
                        "medium" => room = Some((srv.payload.as_ptr(), srv.payload.capacity())),
                        "small" | "error" => assert_eq!(
                            Some((srv.payload.as_ptr(), srv.payload.capacity())),
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

/// A reply value the codec refuses becomes the SerializeError reply, built
/// in the same buffer (nothing of the refused value is left in it).
#[test]
fn an_unserializable_reply_leaves_no_bytes_in_the_buffer() {
    let mut srv = ready();
    srv.receive(&frame(
        &invoke(JSON, &call("m", alloc::vec![]), Flags::NONE, 1),
        None,
    ));
    let req = next_request(&mut srv);
    let refused = Value::List(alloc::vec![
        s("written first"),
        Value::Bytes(alloc::vec![1])
    ]);
    srv.reply(req.id, Outcome::value(refused)).unwrap();
    let out = sent(&mut srv);
    assert_eq!(out.len(), 1);
    assert!(out[0].flags.contains(Flags::EXCEPTION));
    // The payload is the exception alone, a complete json document.
    let error = JSON.loads_raw(&out[0].data).unwrap();
    assert!(matches!(error, Value::Dict(_)), "{error:?}");
    assert!(!out[0].data.windows(13).any(|w| w == b"written first"));
    assert!(srv.payload.is_empty());
}

/// An INVOKE in a serializer we cannot write (msgpack, id 6) gets no reply
/// and the connection closes, as with a Pyro4 daemon that does not have
/// msgpack installed (checked against Python by `std_daemon_interop`).
#[test]
fn a_request_in_a_serializer_we_cannot_write_closes_without_a_reply() {
    let mut srv = ready();
    let msg = Message::new(MessageType::Invoke, 6, alloc::vec![0x94, 0xa1, 0x61]).with_seq(1);
    srv.receive(&frame(&msg, None));
    assert!(
        sent(&mut srv).is_empty(),
        "no reply in a serializer we lack"
    );
    let ev = events(&mut srv);
    assert!(
        matches!(ev.last(), Some(ServerEvent::Closed(_))),
        "the connection closes: {ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, ServerEvent::Request(_))));
}
