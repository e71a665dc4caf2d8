//! A proxy and a daemon in memory only (no sockets, threads or clocks): the whole Sans-IO
//! API. `cargo run -p pyro-proto --example in_memory`; `cargo test` runs it (harness = false).
use pyro_proto::{daemon::*, entropy::SeededEntropy, servant::*, session::*, value::*};

const NOW: std::time::Duration = std::time::Duration::ZERO; // the caller's clock, not read here
const CONN: ConnId = ConnId(1);
type Sent = Result<CallId, SessionError>;

/// Both ends of one connection, and the daemon behind the server end.
struct Wire(ClientSession, ServerSession, Daemon);

impl Wire {
    /// Deliver what the client sent, let the daemon answer, deliver the
    /// answer (Pyro is lock-step: one pass carries a request and its reply).
    fn pump(&mut self) -> Vec<ClientEvent> {
        let Wire(client, server, daemon) = self;
        while let Some(bytes) = client.poll_transmit() {
            server.receive(&bytes);
        }
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Handshake(h) => match daemon.handshake(&h) {
                    Ok((answer, meta)) => server.accept_handshake(h.id, answer, meta).unwrap(),
                    Err(why) => server.reject_handshake(h.id, &why).unwrap(),
                },
                ServerEvent::Request(r) => server.reply(r.id, daemon.handle(CONN, r, NOW)).unwrap(),
                ServerEvent::Closed(_) => {}
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            client.receive(&bytes);
        }
        std::iter::from_fn(|| client.poll_event()).collect()
    }

    /// Start a request with `send`, deliver it, return its response.
    fn ask(&mut self, send: impl FnOnce(&mut ClientSession) -> Sent) -> Response {
        send(&mut self.0).unwrap();
        match self.pump().as_slice() {
            [ClientEvent::Reply { response, .. }] => response.clone(),
            other => panic!("expected one reply, got {other:?}"),
        }
    }

    fn call(&mut self, method: &str, vargs: Vec<Value>) -> Response {
        self.ask(|c| c.call(method, vargs, Dict::default(), &CallOptions::default(), NOW))
    }
}

fn main() {
    let zero_div = || RemoteError::builtin("ZeroDivisionError", "division by zero");
    let calc = ServantBuilder::new("Calc") // typed closures: serde in and out
        .method("add", |(a, b): (i64, i64)| Ok(a + b))
        .method("div", move |(a, b): (i64, i64)| {
            a.checked_div(b).ok_or_else(zero_div)
        })
        .oneway("log", |(_line,): (String,)| Ok(()))
        .attr("version", || "1.0")
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .build();
    let (host, port) = ("localhost".into(), 9090); // what URIs name; nothing listens
    let config = DaemonConfig::new(Location::Tcp { host, port });
    let mut daemon = Daemon::new(config, Box::new(SeededEntropy::new(1)));
    let uri = daemon.register(calc, Some("calc"), false).unwrap();
    daemon.connection_opened(CONN, Some("in-memory".into()));
    let server = ServerSession::new(Default::default(), Box::new(SeededEntropy::new(2)));
    let client = ClientSession::new(ClientConfig::new(uri.object()), 0);
    let mut w = Wire(client, server, daemon);
    let int = Value::Int;
    w.0.connect(NOW).unwrap(); // the handshake brings the metadata: `log` is oneway
    assert!(matches!(&w.pump()[..], [ClientEvent::Connected { .. }]));
    assert_eq!(w.0.metadata().unwrap().oneway, ["log"]);
    let Response::Value(sum) = w.call("add", vec![int(2), int(40)]) else {
        panic!()
    };
    assert_eq!(from_value::<i64>(sum).unwrap(), 42); // typed
    let error = w.call("div", vec![int(1), int(0)]);
    assert!(matches!(error, Response::Exception(e) if e.short_name() == "ZeroDivisionError"));
    let oneway = w.call("log", vec![Value::from("hi")]); // done as soon as it is sent
    assert_eq!(oneway, Response::Value(Value::None));
    let version = w.ask(|c| c.get_attr("version", &CallOptions::default(), NOW));
    assert_eq!(version, Response::Value("1.0".into()));
    let calls = ["add", "div"].map(|m| BatchCall {
        method: m.into(),
        vargs: vec![int(6), int(3)],
        kwargs: Dict::default(),
    });
    let batch = w.ask(|c| c.batch(calls.to_vec(), false, &CallOptions::default(), NOW));
    assert_eq!(batch, Response::Batch(vec![Ok(int(9)), Ok(int(2))]));
    let Response::Stream(id) = w.call("count", vec![int(3)]) else {
        panic!("no stream")
    };
    let mut items = Vec::new();
    while let Response::Value(item) = w.ask(|c| c.next_stream_item(&id, NOW)) {
        items.push(item); // until Response::StreamEnd
    }
    assert_eq!(items, [0, 1, 2].map(int));
    println!("in-memory session OK, stream of {}", items.len());
}
