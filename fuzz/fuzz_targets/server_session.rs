//! Fuzz a daemon connection: arbitrary client bytes into a `ServerSession`
//! in front of a `Daemon` hosting an echo servant.
//!
//! Input layout, two forms:
//! * starting with `PYRO` (the seed corpus: captured client streams, CONNECT
//!   first): the whole input is the client's byte stream from the start of
//!   the connection; the split sizes come from an FNV-1a hash of the input;
//! * otherwise: byte 0 = options (bits 0-1: serializer of the handshake the
//!   target performs first, bit 2: reply compression, bit 3: HMAC key
//!   `secret-key` on both sides, bit 4: feed byte by byte), then records
//!   `[type][flags][seq u16][serializer][len u16][payload]`, each framed into
//!   a valid message (checksum right, signed when HMAC is on) so that the
//!   fuzzer reaches dispatch; serializer bit 7 compresses the payload, bit 6
//!   adds a CORR annotation, bit 5 a BLBI annotation for test.obj.echo.
//!
//! Checks: no panic; everything the session sends decodes as whole, allowed
//! messages (CONNECTOK/CONNECTFAIL/RESULT/PING) whose payload decodes with its
//! serializer; a closed session sends nothing more; after the end of input
//! the session is closed.
#![no_main]
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pyro_proto::daemon::{ConnId, Daemon, DaemonConfig, Location};
use pyro_proto::entropy::SeededEntropy;
use pyro_proto::message::{
    AnnotationId, Bytes, Decoder, Encoder, ExpectedTypes, Flags, Message, MessageType,
};
use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Reply, Servant, ServantBuilder};
use pyro_proto::session::{ServerConfig, ServerEvent, ServerSession, SessionError};
use pyro_proto::value::{Dict, RemoteError, Value};

const KEY: &[u8] = b"secret-key";
const CONN: ConnId = ConnId(1);
const NOW: Duration = Duration::from_secs(10);
const SERIALIZERS: [SerializerId; 4] = [
    SerializerId::Serpent,
    SerializerId::Json,
    SerializerId::Marshal,
    SerializerId::Pickle,
];

fn echo_servant() -> Arc<dyn Servant> {
    let value = Arc::new(Mutex::new(Value::Int(42)));
    let (get, set) = (value.clone(), value);
    ServantBuilder::new("Echo")
        .raw_method("echo", |_, args| {
            Ok(Reply::Value(Value::List(vec![
                Value::List(args.vargs),
                Value::Dict(args.kwargs),
            ])))
        })
        .raw_method("blob", |_, args| Ok(Reply::Value(Value::List(args.vargs))))
        .generator("gen", |(n,): (i64,)| Ok((0..n.clamp(0, 50)).map(Value::Int)))
        .method("fail", |(): ()| -> Result<(), RemoteError> {
            Err(RemoteError::builtin("ValueError", "bad value"))
        })
        .callback("cb_fail", |(): ()| -> Result<(), RemoteError> {
            Err(RemoteError::builtin("RuntimeError", "callback failed"))
        })
        .oneway("note", |(_x,): (Value,)| Ok(()))
        .attr_rw(
            "value",
            move || get.lock().unwrap().clone(),
            move |v: Value| {
                *set.lock().unwrap() = v;
                Ok(())
            },
        )
        .attr("readonly", || "ro")
        .build()
}

struct Host {
    daemon: Daemon,
    session: ServerSession,
    hmac: bool,
    client: Decoder,
}

impl Host {
    fn new(options: u8) -> Host {
        let hmac = options & 8 != 0;
        let mut daemon = Daemon::new(
            DaemonConfig::new(Location::Tcp {
                host: "127.0.0.1".into(),
                port: 9999,
            }),
            Box::new(SeededEntropy::new(1)),
        );
        for id in ["test.obj", "echo"] {
            daemon.register(echo_servant(), Some(id), false).unwrap();
        }
        daemon.connection_opened(CONN, Some("127.0.0.1:5000".into()));
        let config = ServerConfig {
            accepted: SERIALIZERS.to_vec(),
            hmac_key: hmac.then(|| KEY.to_vec()),
            max_message_size: Some(1 << 20),
            compression: options & 4 != 0,
            max_decompressed_size: 1 << 20,
        };
        let mut client = Decoder::new(ExpectedTypes::CLIENT);
        if hmac {
            client = client.with_hmac_key(KEY);
        }
        Host {
            daemon,
            session: ServerSession::new(Arc::new(config), Box::new(SeededEntropy::new(2))),
            hmac,
            client,
        }
    }

    /// Handle events until the session waits for input; check what it sent.
    fn serve(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                ServerEvent::Handshake(req) => match self.daemon.handshake(&req) {
                    Ok((response, meta)) => {
                        self.session.accept_handshake(req.id, response, meta).unwrap()
                    }
                    Err(reason) => self.session.reject_handshake(req.id, &reason).unwrap(),
                },
                ServerEvent::Request(req) => {
                    let id = req.id;
                    let outcome = self.daemon.handle(CONN, req, NOW);
                    // A oneway request does not hold the connection: the
                    // session may have closed on a later message meanwhile.
                    match self.session.reply(id, outcome) {
                        Ok(()) | Err(SessionError::Closed(_)) => {}
                        Err(e) => panic!("reply refused: {e}"),
                    }
                }
                ServerEvent::Closed(_) => {}
            }
        }
        while let Some(bytes) = self.session.poll_transmit() {
            self.client.receive(&bytes);
        }
        loop {
            match self.client.next_message() {
                Ok(Some(mut msg)) => check_reply(&mut msg),
                Ok(None) => break,
                Err(e) => panic!("the session sent a broken frame: {e}"),
            }
        }
    }

    fn feed(&mut self, data: &[u8], splits: &[usize]) {
        let mut rest = data;
        let mut i = 0;
        while !rest.is_empty() {
            let n = splits
                .get(i % splits.len().max(1))
                .copied()
                .unwrap_or(rest.len())
                .clamp(1, rest.len());
            let closed = self.session.is_closed();
            if i % 2 == 0 {
                self.session.receive(&rest[..n]);
            } else {
                self.session
                    .receive_bytes(Bytes::copy_from_slice(&rest[..n]));
            }
            if closed {
                assert!(
                    self.session.poll_transmit().is_none() && self.session.poll_event().is_none(),
                    "a closed session reacted to input"
                );
            }
            self.serve();
            rest = &rest[n..];
            i += 1;
        }
    }

    fn finish(&mut self) {
        self.session.end_of_input();
        self.serve();
        assert!(
            self.session.is_closed(),
            "session open after end of input: {:?}",
            self.session
        );
        assert_eq!(self.client.buffered_len(), 0, "half a reply was sent");
        self.daemon.connection_closed(CONN, NOW);
        self.daemon.housekeeping(NOW + Duration::from_secs(3600));
    }

    fn frame(&self, msg: &Message) -> Vec<u8> {
        let mut encoder = Encoder::new();
        if self.hmac {
            encoder = encoder.with_hmac_key(KEY);
        }
        encoder.encode(msg).unwrap_or_default()
    }
}

fn check_reply(msg: &mut Message) {
    assert!(
        matches!(
            msg.msg_type,
            MessageType::ConnectOk | MessageType::ConnectFail | MessageType::Result | MessageType::Ping
        ),
        "the daemon sent a {:?}",
        msg.msg_type
    );
    if msg.msg_type == MessageType::Ping {
        assert_eq!(&msg.data[..], b"pong");
        return;
    }
    msg.decompress(1 << 24).expect("a reply the session compressed inflates");
    let serializer = SerializerId::from_id(msg.serializer_id).expect("replies use a real serializer");
    if let Err(e) = serializer.loads_raw(&msg.data) {
        panic!("the session sent a {serializer:?} payload its own codec cannot read: {e}");
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn handshake(host: &mut Host, serializer: SerializerId) {
    let payload = Value::Dict(Dict(vec![
        (Value::Str("handshake".into()), Value::Str("hello".into())),
        (Value::Str("object".into()), Value::Str("echo".into())),
    ]));
    let msg = Message::new(
        MessageType::Connect,
        serializer.id(),
        serializer.dumps(&payload).unwrap(),
    )
    .with_flags(Flags::META_ON_CONNECT);
    let bytes = host.frame(&msg);
    host.feed(&bytes, &[bytes.len()]);
    assert!(!host.session.is_closed(), "the handshake failed");
}

fn blbi() -> Bytes {
    let info = Value::Tuple(vec![
        Value::Str("info".into()),
        Value::Str("test.obj".into()),
        Value::Str("blob".into()),
    ]);
    Bytes::from(SerializerId::Marshal.dumps(&info).unwrap())
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"PYRO") {
        let h = fnv(data);
        let mut host = Host::new((h & 0x7) as u8);
        let splits: Vec<usize> = (0..4).map(|i| 1 + ((h >> (8 + i * 12)) & 0x3ff) as usize).collect();
        host.feed(data, &splits);
        host.finish();
        return;
    }
    let Some((&options, mut rest)) = data.split_first() else {
        return;
    };
    let mut host = Host::new(options);
    handshake(&mut host, SERIALIZERS[usize::from(options & 3)]);
    let mut stream = Vec::new();
    while rest.len() >= 7 {
        let (head, tail) = rest.split_at(7);
        let len = usize::from(u16::from_be_bytes([head[5], head[6]])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let ser = head[4];
        let mut msg = Message::new(
            MessageType::from_code(u16::from(head[0] % 8)),
            u16::from(ser & 0x1f),
            Bytes::copy_from_slice(payload),
        )
        .with_flags(Flags(u16::from(head[1])))
        .with_seq(u16::from_be_bytes([head[2], head[3]]));
        if ser & 0x80 != 0 {
            msg.compress();
        }
        if ser & 0x40 != 0 {
            let mut corr = [0u8; 16];
            for (c, b) in corr.iter_mut().zip(payload) {
                *c = *b;
            }
            msg.annotations.insert(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
        }
        if ser & 0x20 != 0 {
            msg.annotations.insert(AnnotationId::BLBI, blbi());
        }
        stream.extend_from_slice(&host.frame(&msg));
    }
    stream.extend_from_slice(rest);
    let splits = if options & 16 != 0 { vec![1] } else { vec![stream.len().max(1)] };
    host.feed(&stream, &splits);
    host.finish();
});
