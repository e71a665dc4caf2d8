//! The proxy side of one connection.
//!
//! [`ClientSession`] does what a Pyro4 `Proxy` does on the wire (sections 2.9,
//! 4.1, 4.4, 5, 6 and 7 of the protocol notes): the CONNECT with the current
//! seq and the handshake data, metadata from the CONNECTOK or, when the daemon
//! did not send it, from a `Pyro.Daemon.get_metadata` call; then one request
//! at a time, each with the next seq, its reply checked for type, seq and
//! serializer. Oneway requests complete as soon as their bytes are queued.
//!
//! After a protocol, HMAC (during the handshake) or serialization error the
//! session closes with the reason; reconnecting means a new session started
//! with [`ClientSession::seq`] of the old one, as Pyro4 carries its counter over.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::{CloseReason, Metadata, SessionError, DEFAULT_MAX_DECOMPRESSED_SIZE};
use crate::daemon::DAEMON_OBJECT_ID;
use crate::message::{
    AnnotationId, Annotations, Decoder, Encoder, ExpectedTypes, Flags, Message, MessageType,
};
use crate::serialize::{Call, SerializerId};
use crate::value::{ClassRegistry, Dict, ExceptionWrapper, RemoteError, Value};

/// How a proxy talks to its object.
#[derive(Clone)]
pub struct ClientConfig {
    /// The object the proxy calls (its URI's object id).
    pub object: String,
    /// Serializer for requests (Pyro4's default: serpent).
    pub serializer: SerializerId,
    /// HMAC key; the daemon must use the same one.
    pub hmac_key: Option<Vec<u8>>,
    /// Ask for the object's metadata in the handshake (Pyro4's `METADATA`),
    /// so oneway methods and attributes are known.
    pub metadata: bool,
    /// The handshake data (Pyro4's `_pyroHandshake`, `'hello'` by default).
    pub handshake: Value,
    /// Compress requests of 200 bytes or more when that makes them smaller.
    pub compression: bool,
    /// Limit on data + annotations of a message, sent or received (Pyro4's
    /// `MAX_MESSAGE_SIZE`): a larger request is refused before anything is
    /// sent, a larger reply closes the session.
    pub max_message_size: Option<usize>,
    /// Cap on what a COMPRESSED reply may inflate to.
    pub max_decompressed_size: usize,
    /// How long to wait for a reply (Pyro4's `_pyroTimeout`); `None` waits forever.
    pub timeout: Option<Duration>,
    /// Application classes accepted in replies on top of Pyro4's built-in
    /// ones (Python's `register_dict_to_class`; a Python pickle client takes
    /// any importable class, Rust only registered ones). `None`: built-ins only.
    pub classes: Option<Arc<ClassRegistry>>,
}

impl ClientConfig {
    /// Pyro4's defaults for a proxy of `object`.
    pub fn new(object: impl Into<String>) -> ClientConfig {
        ClientConfig {
            object: object.into(),
            serializer: SerializerId::Serpent,
            hmac_key: None,
            metadata: true,
            handshake: Value::Str("hello".into()),
            compression: false,
            max_message_size: None,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            timeout: None,
            classes: None,
        }
    }
}

impl core::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("object", &self.object)
            .field("serializer", &self.serializer)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<redacted>"))
            .field("metadata", &self.metadata)
            .field("handshake", &self.handshake)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("classes", &self.classes)
            .finish()
    }
}

/// Per-request extras (Pyro4's `current_context.annotations` and `correlation_id`).
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Force oneway (`Some(true)`), force a reply (`Some(false)`), or decide
    /// from the metadata's `oneway` list as Pyro4 does (`None`).
    pub oneway: Option<bool>,
    /// Annotations to send with the request.
    pub annotations: Annotations,
    /// Correlation id to send as `CORR`.
    pub correlation_id: Option<[u8; 16]>,
}

/// Identifies one request of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// One call of a batch: method, positional and keyword arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCall {
    /// Method name.
    pub method: String,
    /// Positional arguments.
    pub vargs: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
}

/// What a request came back with.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A return value (None for oneway requests, which get no reply).
    Value(Value),
    /// The remote side raised.
    Exception(RemoteError),
    /// The call returned an iterator; pull its items with
    /// [`ClientSession::next_stream_item`] using this stream id.
    Stream(String),
    /// The results of a batch, in order; a failure ends the list.
    Batch(Vec<Result<Value, RemoteError>>),
    /// A stream has no more items (the daemon raised StopIteration and dropped it).
    StreamEnd,
    /// The answer to a PING.
    Pong,
}

/// What a client session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The handshake succeeded: the daemon's answer (check it here if the
    /// application validates handshakes) and the object's metadata when it
    /// was asked for.
    Connected {
        /// The daemon's handshake response (`'hello'` by default).
        handshake: Value,
        /// The object's metadata (when `ClientConfig::metadata` is on).
        metadata: Option<Metadata>,
    },
    /// A request finished.
    Reply {
        /// The request.
        call: CallId,
        /// Its result.
        response: Response,
        /// The reply's annotations (Pyro4's `response_annotations`), `HMAC` excluded.
        annotations: Annotations,
    },
    /// The session ended; a pending request failed with it.
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Call,
    Batch,
    StreamItem,
    Ping,
    Metadata,
}

#[derive(Debug)]
enum State {
    Idle,
    Connecting,
    Ready,
    Waiting {
        id: CallId,
        seq: u16,
        expect: Expect,
    },
    Closed,
}

/// One proxy-side connection as a Sans-IO state machine.
pub struct ClientSession {
    config: ClientConfig,
    decoder: Decoder,
    encoder: Encoder,
    seq: u16,
    state: State,
    next_id: u64,
    metadata: Option<Metadata>,
    handshake_reply: Option<Value>,
    deadline: Option<Duration>,
    transmit: VecDeque<Bytes>,
    /// Outgoing payloads are serialized here, then framed from here: one
    /// buffer reused for every request (see [`super::queue_serialized`]).
    payload: Vec<u8>,
    events: VecDeque<ClientEvent>,
    close_reason: Option<CloseReason>,
}

impl core::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientSession")
            .field("object", &self.config.object)
            .field("seq", &self.seq)
            .field("state", &self.state)
            .finish()
    }
}

impl ClientSession {
    /// A session that starts counting at `seq` (0 for a new proxy; the old
    /// session's [`seq`](Self::seq) after a reconnect, as Pyro4 does).
    pub fn new(config: ClientConfig, seq: u16) -> ClientSession {
        let decoder = Decoder::new(ExpectedTypes::CLIENT)
            .with_max_message_size(config.max_message_size)
            .without_hmac_check();
        // Pyro4 checks MAX_MESSAGE_SIZE when it builds a message too.
        let mut encoder = Encoder::new().with_max_message_size(config.max_message_size);
        if let Some(key) = &config.hmac_key {
            encoder = encoder.with_hmac_key(key.clone());
        }
        ClientSession {
            config,
            decoder,
            encoder,
            seq,
            state: State::Idle,
            next_id: 0,
            metadata: None,
            handshake_reply: None,
            deadline: None,
            transmit: VecDeque::new(),
            payload: Vec::new(),
            events: VecDeque::new(),
            close_reason: None,
        }
    }

    /// A session on a connection without handshake (Pyro4's
    /// `Proxy(connected_socket=...)`): calls can be made at once; metadata is
    /// not fetched.
    pub fn new_without_handshake(config: ClientConfig, seq: u16) -> ClientSession {
        let mut s = ClientSession::new(config, seq);
        s.state = State::Ready;
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Change the reply timeout (Pyro4's `_pyroTimeout` setter): it applies
    /// from the next request on; a request already waiting keeps its deadline.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.config.timeout = timeout;
    }

    /// The last seq used; start the next session with it after a reconnect.
    pub fn seq(&self) -> u16 {
        self.seq
    }

    /// The object's metadata, once known.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Whether the handshake is done and no request is outstanding.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// Queue the CONNECT (call once, right after the transport connected).
    pub fn connect(&mut self, now: Duration) -> Result<(), SessionError> {
        self.connect_with(&CallOptions::default(), now)
    }

    /// [`connect`](Self::connect) with the annotations and correlation id
    /// the application has set: Pyro4's proxy sends the context's `CORR` and
    /// annotations with the CONNECT too, not only with requests.
    pub fn connect_with(&mut self, opts: &CallOptions, now: Duration) -> Result<(), SessionError> {
        if !matches!(self.state, State::Idle) {
            return Err(SessionError::InvalidState(
                "connect() is called once, first",
            ));
        }
        let mut data = Dict(alloc::vec![(
            Value::Str("handshake".into()),
            self.config.handshake.clone()
        )]);
        let mut flags = Flags::NONE;
        if self.config.metadata {
            data.0.push((
                Value::Str("object".into()),
                Value::Str(self.config.object.as_str().into()),
            ));
            flags = Flags::META_ON_CONNECT;
        }
        self.config
            .serializer
            .dumps_into(&Value::Dict(data), &mut self.payload)?;
        let head = Message::new(
            MessageType::Connect,
            self.config.serializer.id(),
            Bytes::new(),
        )
        .with_flags(flags)
        .with_seq(self.seq);
        self.send(head, opts)?;
        self.state = State::Connecting;
        self.arm(now);
        Ok(())
    }

    /// Call `method` with positional `vargs` and keyword `kwargs`. A oneway
    /// call (forced, or listed as oneway in the metadata) is finished when
    /// this returns: its `Reply` event carries `None` at once.
    pub fn call(
        &mut self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let oneway = opts.oneway.unwrap_or_else(|| {
            self.metadata
                .as_ref()
                .is_some_and(|m| m.oneway.iter().any(|o| o == method))
        });
        let call = Call {
            object: self.config.object.as_str().into(),
            method: method.into(),
            vargs: Value::Tuple(vargs),
            kwargs: Some(kwargs),
        };
        let flags = if oneway { Flags::ONEWAY } else { Flags::NONE };
        self.invoke(call, flags, Expect::Call, opts, now)
    }

    /// Call `method` with a `SerializedBlob(info, data)` as its only
    /// argument, as Pyro4's proxy sends it: `data` becomes the call's vargs
    /// as it is (a list stays a list), `(info, object, method)` goes
    /// marshalled into the `BLBI` annotation and the request carries
    /// `FLAGS_KEEPSERIALIZED`, so a gateway daemon can route the payload
    /// without decoding it. `info` must be marshallable.
    pub fn call_blob(
        &mut self,
        method: &str,
        info: Value,
        data: Value,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let blob_info = Value::Tuple(alloc::vec![
            info,
            Value::Str(self.config.object.as_str().into()),
            Value::Str(method.into()),
        ]);
        let mut opts = opts.clone();
        opts.annotations
            .insert(AnnotationId::BLBI, SerializerId::Marshal.dumps(&blob_info)?);
        let oneway = opts.oneway.unwrap_or_else(|| {
            self.metadata
                .as_ref()
                .is_some_and(|m| m.oneway.iter().any(|o| o == method))
        });
        let call = Call {
            object: self.config.object.as_str().into(),
            method: method.into(),
            vargs: data,
            kwargs: Some(Dict::default()),
        };
        let mut flags = Flags::KEEPSERIALIZED;
        if oneway {
            flags = flags.with(Flags::ONEWAY);
        }
        self.invoke(call, flags, Expect::Call, &opts, now)
    }

    /// Read the remote attribute `name` (`__getattr__`).
    pub fn get_attr(
        &mut self,
        name: &str,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let call = Call {
            object: self.config.object.as_str().into(),
            method: "__getattr__".into(),
            vargs: Value::Tuple(alloc::vec![Value::Str(name.into())]),
            kwargs: None,
        };
        self.invoke(call, Flags::NONE, Expect::Call, opts, now)
    }

    /// Set the remote attribute `name` (`__setattr__`).
    pub fn set_attr(
        &mut self,
        name: &str,
        value: Value,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let call = Call {
            object: self.config.object.as_str().into(),
            method: "__setattr__".into(),
            vargs: Value::Tuple(alloc::vec![Value::Str(name.into()), value]),
            kwargs: None,
        };
        self.invoke(call, Flags::NONE, Expect::Call, opts, now)
    }

    /// Send `calls` as one batch (Pyro4's `batch(proxy)`); `oneway` asks for
    /// no reply at all.
    pub fn batch(
        &mut self,
        calls: Vec<BatchCall>,
        oneway: bool,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let items = calls
            .into_iter()
            .map(|c| {
                Value::Tuple(alloc::vec![
                    Value::Str(c.method.into()),
                    Value::Tuple(c.vargs),
                    Value::Dict(c.kwargs),
                ])
            })
            .collect();
        let call = Call {
            object: self.config.object.as_str().into(),
            method: "<batch>".into(),
            vargs: Value::List(items),
            kwargs: None,
        };
        let flags = if oneway {
            Flags::BATCH.with(Flags::ONEWAY)
        } else {
            Flags::BATCH
        };
        self.invoke(call, flags, Expect::Batch, opts, now)
    }

    /// Ask for the next item of stream `stream_id`; the reply is
    /// `Response::Value` with the item or `Response::StreamEnd`.
    pub fn next_stream_item(
        &mut self,
        stream_id: &str,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        let call = daemon_call("get_next_stream_item", stream_id);
        self.invoke(
            call,
            Flags::NONE,
            Expect::StreamItem,
            &CallOptions::default(),
            now,
        )
    }

    /// Tell the daemon to drop stream `stream_id` (oneway, as Pyro4 does when
    /// an iterator is closed early).
    pub fn close_stream(&mut self, stream_id: &str, now: Duration) -> Result<CallId, SessionError> {
        let call = daemon_call("close_stream", stream_id);
        self.invoke(
            call,
            Flags::ONEWAY,
            Expect::Call,
            &CallOptions::default(),
            now,
        )
    }

    /// Send a PING (serializer id 42, payload `ping`); the reply is `Response::Pong`.
    pub fn ping(&mut self, now: Duration) -> Result<CallId, SessionError> {
        self.ready()?;
        let id = self.fresh_id();
        // No options, no compression (4 bytes): the message as it is.
        super::queue_frame(&self.encoder, &Message::ping(), &mut self.transmit)?;
        self.state = State::Waiting {
            id,
            seq: 0,
            expect: Expect::Ping,
        };
        self.arm(now);
        Ok(id)
    }

    /// Bytes that arrived from the daemon (any split).
    pub fn receive(&mut self, data: &[u8]) {
        if !self.is_closed() {
            self.decoder.receive(data);
            self.pump();
        }
    }

    /// Like [`receive`](Self::receive), without copying a frame that arrives whole.
    pub fn receive_bytes(&mut self, data: Bytes) {
        if !self.is_closed() {
            self.decoder.receive_bytes(data);
            self.pump();
        }
    }

    /// The daemon closed the connection.
    pub fn end_of_input(&mut self) {
        if self.is_closed() {
            return;
        }
        self.pump();
        if !self.is_closed() {
            let reason = match self.decoder.end_of_stream() {
                Err(e) => CloseReason::Frame(e),
                Ok(()) => CloseReason::PeerClosed,
            };
            self.shut(reason);
        }
    }

    /// Close the session (for example when the application rejects the
    /// daemon's handshake answer).
    pub fn close(&mut self) {
        self.shut(CloseReason::Local);
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The next bytes to write, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called, if a
    /// reply is awaited and a timeout is configured.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.deadline
    }

    /// Time passed: past the deadline the outstanding request fails and the
    /// session closes (Pyro4's `TimeoutError` drops the connection).
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.shut(CloseReason::TimedOut);
        }
    }

    fn arm(&mut self, now: Duration) {
        self.deadline = self.config.timeout.map(|t| now + t);
    }

    fn fresh_id(&mut self) -> CallId {
        self.next_id += 1;
        CallId(self.next_id - 1)
    }

    fn ready(&self) -> Result<(), SessionError> {
        match self.state {
            State::Ready => Ok(()),
            State::Closed => Err(SessionError::Closed(
                self.close_reason.clone().unwrap_or(CloseReason::Local),
            )),
            State::Idle => Err(SessionError::InvalidState("connect() first")),
            State::Connecting => Err(SessionError::InvalidState("the handshake is not finished")),
            State::Waiting { .. } => Err(SessionError::InvalidState(
                "a request is outstanding (Pyro allows one at a time per connection)",
            )),
        }
    }

    fn invoke(
        &mut self,
        call: Call,
        flags: Flags,
        expect: Expect,
        opts: &CallOptions,
        now: Duration,
    ) -> Result<CallId, SessionError> {
        self.ready()?;
        self.config
            .serializer
            .dumps_call_into(&call, &mut self.payload)?;
        let seq = self.seq.wrapping_add(1);
        let head = Message::new(
            MessageType::Invoke,
            self.config.serializer.id(),
            Bytes::new(),
        )
        .with_flags(flags)
        .with_seq(seq);
        self.send(head, opts)?;
        self.seq = seq;
        let id = self.fresh_id();
        if flags.contains(Flags::ONEWAY) {
            self.events.push_back(ClientEvent::Reply {
                call: id,
                response: Response::Value(Value::None),
                annotations: Annotations::new(),
            });
        } else {
            self.state = State::Waiting { id, seq, expect };
            self.arm(now);
        }
        Ok(id)
    }

    /// Send `head` (its `data` unused) with the payload just serialized
    /// into `self.payload`, which is left empty for the next one.
    fn send(&mut self, mut head: Message, opts: &CallOptions) -> Result<(), SessionError> {
        if let Some(corr) = opts.correlation_id {
            head.annotations
                .insert(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
        }
        for (id, value) in opts.annotations.iter() {
            head.annotations.insert(id, value.clone());
        }
        super::queue_serialized(
            &self.encoder,
            &mut head,
            &mut self.payload,
            self.config.compression,
            &mut self.transmit,
        )?;
        Ok(())
    }

    fn pump(&mut self) {
        loop {
            if self.is_closed() {
                return;
            }
            match self.decoder.next_message() {
                Ok(Some(msg)) => self.on_message(msg),
                Ok(None) => return,
                Err(e) => {
                    self.shut(CloseReason::Frame(e));
                    return;
                }
            }
        }
    }

    fn on_message(&mut self, mut msg: Message) {
        let hmac = msg.verify_hmac(self.config.hmac_key.as_deref());
        match self.state {
            State::Connecting => {
                if let Err(e) = hmac {
                    // Not the daemon's refusal: its answer cannot be trusted
                    // (Pyro4: "cannot connect to ...: message hmac mismatch").
                    return self.shut(CloseReason::Frame(e));
                }
                self.on_handshake_reply(msg)
            }
            State::Waiting { id, seq, expect } => {
                let wanted = if expect == Expect::Ping {
                    MessageType::Ping
                } else {
                    MessageType::Result
                };
                if msg.msg_type != wanted {
                    return self.shut(CloseReason::UnexpectedMessage(msg.msg_type.code()));
                }
                if msg.seq != seq {
                    return self.protocol_error(format!(
                        "invoke: reply sequence out of sync, got {} expected {seq}",
                        msg.seq
                    ));
                }
                self.state = State::Ready;
                self.deadline = None;
                let mut annotations = msg.annotations.clone();
                annotations.remove(AnnotationId::HMAC);
                if let Err(e) = hmac {
                    // The message was read whole; Pyro4 raises SecurityError and
                    // keeps the connection.
                    let error = RemoteError::security_error(e.to_string());
                    return self.reply(id, Response::Exception(error), annotations);
                }
                if expect == Expect::Ping {
                    return self.reply(id, Response::Pong, annotations);
                }
                if msg.serializer_id != self.config.serializer.id() {
                    return self.protocol_error(format!(
                        "invalid serializer in response: {}",
                        msg.serializer_id
                    ));
                }
                match self.decode(&mut msg) {
                    Ok(value) => {
                        let response = self.interpret(&msg, expect, value);
                        match response {
                            Ok(Response::Value(v)) if expect == Expect::Metadata => {
                                self.on_metadata(&v)
                            }
                            Ok(other) if expect == Expect::Metadata => {
                                let reason = match other {
                                    Response::Exception(e) => e.to_string(),
                                    other => format!("unexpected metadata reply {other:?}"),
                                };
                                self.shut(CloseReason::HandshakeFailed(reason))
                            }
                            Ok(response) => self.reply(id, response, annotations),
                            Err(reason) => self.protocol_error(reason),
                        }
                    }
                    Err(reason) => self.protocol_error(reason),
                }
            }
            _ => self.shut(CloseReason::UnexpectedMessage(msg.msg_type.code())),
        }
    }

    fn decode(&self, msg: &mut Message) -> Result<Value, String> {
        msg.decompress(self.config.max_decompressed_size)
            .map_err(|e| e.to_string())?;
        let serializer = SerializerId::from_id(msg.serializer_id).map_err(|e| e.to_string())?;
        serializer
            .loads_with(&msg.data, self.config.classes.as_deref())
            .map_err(|e| e.to_string())
    }

    /// What a RESULT means (section 5.5: ITEMSTREAMRESULT before EXCEPTION).
    fn interpret(&self, msg: &Message, expect: Expect, value: Value) -> Result<Response, String> {
        if msg.flags.contains(Flags::ITEMSTREAMRESULT) {
            return match msg.annotations.get(AnnotationId::STRM) {
                Some(id) if !id.is_empty() => core::str::from_utf8(id)
                    .map(|s| Response::Stream(s.to_string()))
                    .map_err(|_| "stream id is not ASCII".to_string()),
                _ => Ok(Response::Exception(RemoteError::protocol_error(
                    "result of call is an iterator, but the server is not configured to allow streaming",
                ))),
            };
        }
        if msg.flags.contains(Flags::EXCEPTION) {
            let error = RemoteError::from_value(&value).unwrap_or_else(|_| {
                RemoteError::builtin("TypeError", "exceptions must derive from BaseException")
            });
            if expect == Expect::StreamItem && error.short_name() == "StopIteration" {
                return Ok(Response::StreamEnd);
            }
            return Ok(Response::Exception(error));
        }
        if expect == Expect::Batch || msg.flags.contains(Flags::BATCH) {
            return ExceptionWrapper::unwrap_batch(value)
                .map(Response::Batch)
                .map_err(|e| e.to_string());
        }
        Ok(Response::Value(value))
    }

    fn on_handshake_reply(&mut self, mut msg: Message) {
        let value = match self.decode(&mut msg) {
            Ok(v) => v,
            Err(reason) => return self.protocol_error(reason),
        };
        match msg.msg_type {
            MessageType::ConnectFail => {
                let text = match value {
                    Value::Str(s) => s.into(),
                    other => format!("{other:?}"),
                };
                self.shut(CloseReason::HandshakeFailed(text));
            }
            MessageType::ConnectOk if msg.flags.contains(Flags::META_ON_CONNECT) => {
                let fields = match &value {
                    Value::Dict(d) => Some(d),
                    _ => None,
                };
                let get = |k: &str| fields.and_then(|d| d.get_str(k)).cloned();
                let (Some(handshake), Some(meta)) = (get("handshake"), get("meta")) else {
                    return self.protocol_error(
                        "CONNECTOK with metadata lacks 'handshake' or 'meta'".into(),
                    );
                };
                self.handshake_reply = Some(handshake);
                self.on_metadata(&meta);
            }
            MessageType::ConnectOk if self.config.metadata => {
                // The daemon did not send metadata: ask for it, as Pyro4 does.
                self.handshake_reply = Some(value);
                self.state = State::Ready;
                let mut call = daemon_call("get_metadata", &self.config.object);
                call.vargs =
                    Value::List(alloc::vec![Value::Str(self.config.object.as_str().into())]);
                let deadline = self.deadline;
                if let Err(e) = self.invoke(
                    call,
                    Flags::NONE,
                    Expect::Metadata,
                    &CallOptions::default(),
                    Duration::ZERO,
                ) {
                    return self.protocol_error(e.to_string());
                }
                self.deadline = deadline;
            }
            MessageType::ConnectOk => {
                self.state = State::Ready;
                self.deadline = None;
                self.events.push_back(ClientEvent::Connected {
                    handshake: value,
                    metadata: None,
                });
            }
            other => self.shut(CloseReason::UnexpectedMessage(other.code())),
        }
    }

    fn on_metadata(&mut self, meta: &Value) {
        match Metadata::from_value(meta) {
            Ok(m) if m.methods.is_empty() && m.attrs.is_empty() => self.protocol_error(
                "remote object doesn't expose any methods or attributes. Did you forget setting @expose on them?".into(),
            ),
            Ok(m) => {
                self.metadata = Some(m.clone());
                self.state = State::Ready;
                self.deadline = None;
                self.events.push_back(ClientEvent::Connected {
                    handshake: self.handshake_reply.take().unwrap_or(Value::None),
                    metadata: Some(m),
                });
            }
            Err(e) => self.protocol_error(e.to_string()),
        }
    }

    fn reply(&mut self, call: CallId, response: Response, annotations: Annotations) {
        self.events.push_back(ClientEvent::Reply {
            call,
            response,
            annotations,
        });
    }

    fn protocol_error(&mut self, reason: String) {
        self.shut(CloseReason::Protocol(reason));
    }

    fn shut(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.state = State::Closed;
            self.deadline = None;
            self.close_reason = Some(reason.clone());
            self.events.push_back(ClientEvent::Closed(reason));
        }
    }
}

/// A call to the daemon's own object with the one-element list argument
/// Pyro4's proxy sends (`get_next_stream_item([id])`, `close_stream([id])`).
fn daemon_call(method: &str, arg: &str) -> Call {
    Call {
        object: DAEMON_OBJECT_ID.into(),
        method: method.into(),
        vargs: Value::List(alloc::vec![Value::Str(arg.into())]),
        kwargs: Some(Dict::default()),
    }
}

#[cfg(test)]
mod tests;
