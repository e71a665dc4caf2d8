//! Fuzz the proxy-side session with whatever a daemon could send.
//!
//! Setup (fixed): a serpent `ClientSession` for `test.obj`, HMAC key chosen by
//! input byte 0 bit 0, handshake answered by a valid CONNECTOK carrying
//! metadata, then one outstanding call (`multiply(6, 7)`, seq 1) or, by bit 1,
//! a stream item request. Then input byte 1 = split size (1..=256) and the
//! rest is fed as the daemon's bytes, in pieces, alternating `receive` and
//! `receive_bytes`, then `end_of_input` when bit 2 is set.
//!
//! Checks: no panic; the session either ended closed (with a `Closed` event
//! reported once, nothing sent afterwards) or still works: when it is ready,
//! another call is accepted and produces a frame.
#![no_main]
use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use pyro_proto::message::{Bytes, Encoder, Flags, Message, MessageType};
use pyro_proto::session::{CallOptions, ClientConfig, ClientEvent, ClientSession};
use pyro_proto::{Dict, Value};

const KEY: &[u8] = b"secret-key";

fn connect_ok(hmac: bool) -> Vec<u8> {
    let payload = b"# serpent utf-8 python3.2\n{'handshake':'hello','meta':{'methods':['multiply','gen'],'oneway':[],'attrs':['value']}}";
    let msg = Message::new(MessageType::ConnectOk, 1, Bytes::from_static(payload))
        .with_flags(Flags::META_ON_CONNECT);
    let enc = if hmac {
        Encoder::new().with_hmac_key(KEY)
    } else {
        Encoder::new()
    };
    enc.encode(&msg).expect("the CONNECTOK encodes")
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let options = input[0];
    let split = usize::from(input[1]) + 1;
    let data = &input[2..];
    let hmac = options & 1 != 0;

    let mut config = ClientConfig::new("test.obj");
    if hmac {
        config.hmac_key = Some(KEY.to_vec());
    }
    config.timeout = Some(Duration::from_secs(5));
    let mut s = ClientSession::new(config, 0);
    s.connect(Duration::ZERO).expect("connect on a new session");
    while s.poll_transmit().is_some() {}
    s.receive(&connect_ok(hmac));
    assert!(matches!(s.poll_event(), Some(ClientEvent::Connected { .. })));
    assert!(s.is_ready());
    if options & 2 != 0 {
        s.next_stream_item("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", Duration::ZERO)
            .expect("a request on a ready session");
    } else {
        s.call(
            "multiply",
            vec![Value::Int(6), Value::Int(7)],
            Dict::default(),
            &CallOptions::default(),
            Duration::ZERO,
        )
        .expect("a call on a ready session");
    }
    while s.poll_transmit().is_some() {}

    for (i, piece) in data.chunks(split).enumerate() {
        if i % 2 == 0 {
            s.receive(piece);
        } else {
            s.receive_bytes(Bytes::copy_from_slice(piece));
        }
    }
    if options & 4 != 0 {
        s.end_of_input();
    }
    s.handle_timeout(Duration::from_secs(1));

    let mut closed_events = 0;
    while let Some(ev) = s.poll_event() {
        if matches!(ev, ClientEvent::Closed(_)) {
            closed_events += 1;
        }
    }
    assert!(closed_events <= 1, "Closed reported more than once");
    if s.is_closed() {
        assert_eq!(closed_events, 1, "a closed session reports why");
        assert!(s.close_reason().is_some());
        assert!(s.poll_transmit().is_none(), "nothing sent after closing");
        assert!(s.ping(Duration::ZERO).is_err());
    } else {
        assert_eq!(closed_events, 0);
        while s.poll_transmit().is_some() {}
        if s.is_ready() {
            s.call(
                "multiply",
                vec![Value::Int(1), Value::Int(2)],
                Dict::default(),
                &CallOptions::default(),
                Duration::from_secs(2),
            )
            .expect("a ready session accepts a call");
            assert!(s.poll_transmit().is_some(), "the call was queued");
        }
    }
});
