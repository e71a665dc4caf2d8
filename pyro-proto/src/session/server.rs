//! The daemon side of one connection.
//!
//! [`ServerSession`] enforces what Pyro4's `Daemon._handshake` and
//! `Daemon.handleRequest` enforce on the wire (sections 4.2-4.3 and 5.1-5.7
//! of the protocol notes): the first message must be a CONNECT; handshake
//! failures are answered with a CONNECTFAIL (marshal and seq 0 when the
//! CONNECT itself could not be read) and close the connection; afterwards only
//! INVOKE and PING are accepted; framing, type and HMAC errors close the
//! connection silently; serialization and security errors are answered and
//! then close it; replies carry the request's serializer and seq, and a
//! correlation id (echoed or fresh) on every normal reply but never on an
//! exception reply.
//!
//! Requests are reported one at a time, as Pyro4's daemon reads one request,
//! answers it, then reads the next; a oneway request does not hold the
//! connection (its reply, if any, is only a decision to close).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use bytes::Bytes;

use super::{traced, CloseReason, Metadata, Outcome, RequestId, SessionError};
use crate::entropy::{uuid4, Entropy};
use crate::message::{
    AnnotationId, Annotations, Decoder, Encoder, ExpectedTypes, Flags, FrameError, Message,
    MessageType,
};
use crate::serialize::{Call, SerializeError, SerializerId};
use crate::value::{Dict, RemoteError, Value};

/// Default cap on a decompressed payload (a zip bomb is refused beyond it).
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 256 << 20;

/// How a daemon's connections behave; shared by all its sessions.
#[derive(Clone)]
pub struct ServerConfig {
    /// Serializers a client may use (Pyro4's `SERIALIZERS_ACCEPTED`; default
    /// serpent, json and marshal: pickle runs arbitrary code in Python peers'
    /// eyes and is only accepted when added here).
    pub accepted: Vec<SerializerId>,
    /// HMAC key; every message in both directions is signed and checked.
    pub hmac_key: Option<Vec<u8>>,
    /// Limit on data + annotations of a received message (Pyro4's
    /// `MAX_MESSAGE_SIZE`); a larger message closes the connection.
    pub max_message_size: Option<usize>,
    /// Compress replies of 200 bytes or more when that makes them smaller.
    pub compression: bool,
    /// Cap on what a COMPRESSED request may inflate to.
    pub max_decompressed_size: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            accepted: alloc::vec![
                SerializerId::Serpent,
                SerializerId::Json,
                SerializerId::Marshal
            ],
            hmac_key: None,
            max_message_size: None,
            compression: false,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}

impl core::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("accepted", &self.accepted)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<redacted>"))
            .field("max_message_size", &self.max_message_size)
            .field("compression", &self.compression)
            .field("max_decompressed_size", &self.max_decompressed_size)
            .finish()
    }
}

/// A CONNECT that passed framing, HMAC and serializer checks. The daemon
/// validates it and answers with [`ServerSession::accept_handshake`] or
/// [`ServerSession::reject_handshake`].
#[derive(Debug, Clone, PartialEq)]
pub struct HandshakeRequest {
    /// Pass this back with the answer.
    pub id: RequestId,
    /// The CONNECT's seq (echoed in the reply).
    pub seq: u16,
    /// The client's serializer.
    pub serializer: SerializerId,
    /// The client's handshake data (`'hello'` from a default Python proxy).
    pub handshake: Value,
    /// The object whose metadata the client wants (present when it asked).
    pub object: Option<String>,
    /// Whether the client set META_ON_CONNECT: the CONNECTOK should then
    /// carry the object's metadata.
    pub wants_metadata: bool,
    /// The CONNECT's annotations.
    pub annotations: Annotations,
    /// The client's correlation id, or a fresh one.
    pub correlation_id: [u8; 16],
}

/// A decoded INVOKE for the daemon to dispatch; answer it with
/// [`ServerSession::reply`].
#[derive(Debug, Clone)]
pub struct Request {
    /// Pass this back with the reply.
    pub id: RequestId,
    /// The request's seq (echoed in the reply).
    pub seq: u16,
    /// The serializer of the request (and of its reply).
    pub serializer: SerializerId,
    /// The request's flags (ONEWAY, BATCH, ...).
    pub flags: Flags,
    /// The call: object id, method, arguments.
    pub call: Call,
    /// The request's annotations (HMAC included if the message was signed).
    pub annotations: Annotations,
    /// The client's correlation id, or a fresh one for this request.
    pub correlation_id: [u8; 16],
}

impl Request {
    /// The client expects no reply.
    pub fn is_oneway(&self) -> bool {
        self.flags.contains(Flags::ONEWAY)
    }

    /// The call is a `<batch>` of calls.
    pub fn is_batch(&self) -> bool {
        self.flags.contains(Flags::BATCH)
    }
}

/// What a server session reports.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// A client wants to connect: validate the handshake, then call
    /// [`ServerSession::accept_handshake`] or [`ServerSession::reject_handshake`].
    Handshake(HandshakeRequest),
    /// A call to dispatch: call [`ServerSession::reply`] with its outcome
    /// (for a oneway request only to close the connection: nothing is sent).
    Request(Request),
    /// The session ended; drop the connection after sending what
    /// `poll_transmit` still holds.
    Closed(CloseReason),
}

#[derive(Debug)]
enum State {
    AwaitConnect,
    Handshaking {
        id: RequestId,
        seq: u16,
        serializer: SerializerId,
        wants_metadata: bool,
        corr: [u8; 16],
    },
    Ready,
    Busy {
        id: RequestId,
        seq: u16,
        serializer: SerializerId,
        corr: [u8; 16],
    },
    Closed,
}

/// One daemon-side connection as a Sans-IO state machine.
pub struct ServerSession {
    config: Arc<ServerConfig>,
    decoder: Decoder,
    encoder: Encoder,
    entropy: Box<dyn Entropy>,
    state: State,
    next_id: u64,
    transmit: VecDeque<Bytes>,
    /// Reply payloads are serialized here, then framed from here: one
    /// buffer reused for every reply (see [`super::queue_serialized`]).
    payload: Vec<u8>,
    events: VecDeque<ServerEvent>,
    close_reason: Option<CloseReason>,
    eof: bool,
}

impl core::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerSession")
            .field("state", &self.state)
            .field("pending_transmit", &self.transmit.len())
            .field("close_reason", &self.close_reason)
            .finish()
    }
}

/// Pyro4's marshal serializer, used for CONNECTFAIL when the CONNECT could
/// not be read.
const EARLY_FAIL_SERIALIZER: SerializerId = SerializerId::Marshal;

impl ServerSession {
    /// A session for a freshly accepted connection: the first message must be
    /// a CONNECT. `entropy` supplies the correlation ids this session makes up.
    pub fn new(config: Arc<ServerConfig>, entropy: Box<dyn Entropy>) -> ServerSession {
        let mut decoder =
            Decoder::new(ExpectedTypes::DAEMON).with_max_message_size(config.max_message_size);
        let mut encoder = Encoder::new();
        if let Some(key) = &config.hmac_key {
            decoder = decoder.with_hmac_key(key.clone());
            encoder = encoder.with_hmac_key(key.clone());
        }
        ServerSession {
            config,
            decoder,
            encoder,
            entropy,
            state: State::AwaitConnect,
            next_id: 0,
            transmit: VecDeque::new(),
            payload: Vec::new(),
            events: VecDeque::new(),
            close_reason: None,
            eof: false,
        }
    }

    /// A session on a connection that skips the handshake, as Pyro4's
    /// `Daemon(connected_socket=...)` does (section 4.5): the first message
    /// may already be an INVOKE.
    pub fn new_without_handshake(
        config: Arc<ServerConfig>,
        entropy: Box<dyn Entropy>,
    ) -> ServerSession {
        let mut session = ServerSession::new(config, entropy);
        session.state = State::Ready;
        session
    }

    /// Bytes that arrived from the client (any split).
    pub fn receive(&mut self, data: &[u8]) {
        if !self.is_closed() {
            self.decoder.receive(data);
            self.pump();
        }
    }

    /// Like [`receive`](Self::receive), without copying a frame that
    /// arrives whole in `data`.
    pub fn receive_bytes(&mut self, data: Bytes) {
        if !self.is_closed() {
            self.decoder.receive_bytes(data);
            self.pump();
        }
    }

    /// The client closed its side. Requests that arrived whole are still
    /// reported; then the session closes.
    pub fn end_of_input(&mut self) {
        self.eof = true;
        self.pump();
    }

    /// Close the session now (nothing more is sent).
    pub fn close(&mut self) {
        self.shut(CloseReason::Local);
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// The next thing that happened, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.pump();
        self.events.pop_front()
    }

    /// The next bytes to write to the client, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// Accept the handshake `id` with the daemon's `response` (Pyro4's
    /// `validateHandshake` result, `'hello'` by default). Pass the object's
    /// metadata when the client [wants it](HandshakeRequest::wants_metadata);
    /// without it the CONNECTOK carries no metadata and a Python client asks
    /// for it with a `get_metadata` call instead.
    pub fn accept_handshake(
        &mut self,
        id: RequestId,
        response: Value,
        metadata: Option<Metadata>,
    ) -> Result<(), SessionError> {
        let (seq, serializer, wants_metadata, corr) = match self.state {
            State::Handshaking {
                id: pending,
                seq,
                serializer,
                wants_metadata,
                corr,
            } if pending == id => (seq, serializer, wants_metadata, corr),
            State::Closed => return Err(self.closed_error()),
            _ => return Err(SessionError::UnknownId),
        };
        let (payload, flags) = match (wants_metadata, metadata) {
            (true, Some(meta)) => (
                Value::Dict(Dict(alloc::vec![
                    (Value::Str("handshake".into()), response),
                    (Value::Str("meta".into()), meta.to_value(true)),
                ])),
                Flags::META_ON_CONNECT,
            ),
            _ => (response, Flags::NONE),
        };
        if let Err(e) = serializer.dumps_into(&payload, &mut self.payload) {
            self.connect_fail(serializer, seq, Some(corr), &e.to_string());
            return Ok(());
        }
        let head = Message::new(MessageType::ConnectOk, serializer.id(), Bytes::new())
            .with_flags(flags)
            .with_seq(seq)
            .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
        self.state = State::Ready;
        self.send_serialized(head);
        self.pump();
        Ok(())
    }

    /// Refuse the handshake `id`: a CONNECTFAIL carrying `reason` (the text a
    /// Python client shows), then the session closes.
    pub fn reject_handshake(&mut self, id: RequestId, reason: &str) -> Result<(), SessionError> {
        match self.state {
            State::Handshaking {
                id: pending,
                seq,
                serializer,
                corr,
                ..
            } if pending == id => {
                self.connect_fail(serializer, seq, Some(corr), reason);
                Ok(())
            }
            State::Closed => Err(self.closed_error()),
            _ => Err(SessionError::UnknownId),
        }
    }

    /// Answer request `id`. For a oneway request nothing is sent; only
    /// `Outcome::NoReply { close: true }` has an effect (the connection closes).
    pub fn reply(&mut self, id: RequestId, outcome: Outcome) -> Result<(), SessionError> {
        let (seq, serializer, corr) = match self.state {
            State::Busy {
                id: pending,
                seq,
                serializer,
                corr,
            } if pending == id => (seq, serializer, corr),
            State::Closed => return Err(self.closed_error()),
            _ => {
                // A oneway request does not hold the connection; its outcome
                // can only ask for the connection to be closed.
                if let Outcome::NoReply { close } = outcome {
                    if id.0 < self.next_id {
                        if close {
                            self.shut(CloseReason::AfterError("oneway call failed".into()));
                        }
                        return Ok(());
                    }
                }
                return Err(SessionError::UnknownId);
            }
        };
        self.state = State::Ready;
        self.answer(seq, serializer, corr, outcome);
        self.pump();
        Ok(())
    }

    fn closed_error(&self) -> SessionError {
        SessionError::Closed(self.close_reason.clone().unwrap_or(CloseReason::Local))
    }

    fn fresh_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id - 1)
    }

    /// Handle buffered messages while the session may take the next one.
    fn pump(&mut self) {
        while matches!(self.state, State::AwaitConnect | State::Ready) {
            match self.decoder.next_message() {
                Ok(Some(msg)) => {
                    if matches!(self.state, State::AwaitConnect) {
                        self.on_connect(msg);
                    } else {
                        self.on_request(msg);
                    }
                }
                Ok(None) => {
                    if self.eof {
                        match self.decoder.end_of_stream() {
                            Ok(()) => self.shut(CloseReason::PeerClosed),
                            Err(e) => self.on_frame_error(e),
                        }
                    }
                    return;
                }
                Err(e) => {
                    self.on_frame_error(e);
                    return;
                }
            }
        }
    }

    fn on_frame_error(&mut self, e: FrameError) {
        let handshake = matches!(self.state, State::AwaitConnect);
        match e {
            // The peer went away or sent more than we take: Pyro4 closes (its
            // CONNECTFAIL attempt on a closed socket never arrives).
            FrameError::Truncated { .. } | FrameError::MessageTooLarge { .. } => {
                self.shut(CloseReason::Frame(e))
            }
            _ if handshake => {
                self.connect_fail(EARLY_FAIL_SERIALIZER, 0, None, &e.to_string());
                self.close_reason = Some(CloseReason::Frame(e));
            }
            _ => self.shut(CloseReason::Frame(e)),
        }
    }

    fn on_connect(&mut self, mut msg: Message) {
        if msg.msg_type != MessageType::Connect {
            let text = format!("invalid msg type {} received", msg.msg_type.code());
            self.connect_fail(EARLY_FAIL_SERIALIZER, 0, None, &text);
            return;
        }
        let seq = msg.seq;
        let Some(serializer) = self.accepted(msg.serializer_id) else {
            let text = format!(
                "message used serializer that is not accepted: {}",
                msg.serializer_id
            );
            self.connect_fail(EARLY_FAIL_SERIALIZER, seq, None, &text);
            return;
        };
        let corr = match self.correlation_id(&msg.annotations) {
            Ok(corr) => corr,
            Err(text) => {
                self.connect_fail(EARLY_FAIL_SERIALIZER, seq, None, text);
                return;
            }
        };
        let wants_metadata = msg.flags.contains(Flags::META_ON_CONNECT);
        let parsed = msg
            .decompress(self.config.max_decompressed_size)
            .map_err(|e| e.to_string())
            .and_then(|()| serializer.loads(&msg.data).map_err(|e| e.to_string()))
            .and_then(|data| handshake_fields(&data, wants_metadata));
        match parsed {
            Ok((handshake, object)) => {
                let id = self.fresh_id();
                self.state = State::Handshaking {
                    id,
                    seq,
                    serializer,
                    wants_metadata,
                    corr,
                };
                self.events
                    .push_back(ServerEvent::Handshake(HandshakeRequest {
                        id,
                        seq,
                        serializer,
                        handshake,
                        object,
                        wants_metadata,
                        annotations: msg.annotations,
                        correlation_id: corr,
                    }));
            }
            Err(text) => self.connect_fail(serializer, seq, Some(corr), &text),
        }
    }

    fn on_request(&mut self, mut msg: Message) {
        match msg.msg_type {
            MessageType::Ping => {
                let corr = self
                    .correlation_id(&msg.annotations)
                    .unwrap_or_else(|_| uuid4(&mut *self.entropy));
                let pong = Message::new(MessageType::Ping, msg.serializer_id, &b"pong"[..])
                    .with_seq(msg.seq)
                    .with_annotation(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
                self.send(&pong);
                return;
            }
            MessageType::Invoke => {}
            other => {
                self.shut(CloseReason::UnexpectedMessage(other.code()));
                return;
            }
        }
        let seq = msg.seq;
        let oneway = msg.flags.contains(Flags::ONEWAY);
        // The reply goes out in the request's serializer even when it is not
        // accepted, as Pyro4 does; an id we cannot speak gets no reply.
        let reply_serializer = SerializerId::from_id(msg.serializer_id).ok();
        let fail = |session: &mut ServerSession, error: RemoteError, close: bool| {
            if let (Some(serializer), false) = (reply_serializer, oneway) {
                session.answer(
                    seq,
                    serializer,
                    [0; 16],
                    Outcome::Exception { error, close },
                );
            }
            if close {
                session.shut(CloseReason::AfterError("request refused".into()));
            }
        };
        let corr = match self.correlation_id(&msg.annotations) {
            Ok(corr) => corr,
            Err(text) => {
                fail(
                    self,
                    err("builtins.ValueError", text, "handleRequest"),
                    false,
                );
                return;
            }
        };
        let Some(serializer) = self.accepted(msg.serializer_id) else {
            let text = format!(
                "message used serializer that is not accepted: {}",
                msg.serializer_id
            );
            fail(
                self,
                err("Pyro4.errors.SerializeError", &text, "handleRequest"),
                true,
            );
            return;
        };
        if let Err(e) = msg.decompress(self.config.max_decompressed_size) {
            fail(
                self,
                err("builtins.ValueError", &e.to_string(), "handleRequest"),
                false,
            );
            return;
        }
        let call = if msg.flags.contains(Flags::KEEPSERIALIZED) {
            blob_call(serializer, &msg)
        } else {
            serializer
                .loads_call(&msg.data)
                .map_err(|e| deserialize_error(&e))
        };
        let call = match call {
            Ok(call) => call,
            Err((error, close)) => {
                fail(self, error, close);
                return;
            }
        };
        let id = self.fresh_id();
        if !oneway {
            self.state = State::Busy {
                id,
                seq,
                serializer,
                corr,
            };
        }
        self.events.push_back(ServerEvent::Request(Request {
            id,
            seq,
            serializer,
            flags: msg.flags,
            call,
            annotations: msg.annotations,
            correlation_id: corr,
        }));
    }

    /// The serializer for `id` if this daemon accepts it.
    fn accepted(&self, id: u16) -> Option<SerializerId> {
        SerializerId::from_id(id)
            .ok()
            .filter(|s| self.config.accepted.contains(s))
    }

    /// The request's CORR (Python's `uuid.UUID(bytes=...)` insists on 16
    /// bytes), or a fresh uuid4.
    fn correlation_id(&mut self, annotations: &Annotations) -> Result<[u8; 16], &'static str> {
        match annotations.get(AnnotationId::CORR) {
            Some(corr) => corr[..]
                .try_into()
                .map_err(|_| "bytes is not a 16-char string"),
            None => Ok(uuid4(&mut *self.entropy)),
        }
    }

    /// Send a reply for a request (seq, serializer) with `outcome`.
    fn answer(&mut self, seq: u16, serializer: SerializerId, corr: [u8; 16], outcome: Outcome) {
        // `raised` names the exception being sent, for error texts.
        let (payload, flags, mut annotations, close, raised) = match outcome {
            Outcome::NoReply { close } => {
                if close {
                    self.shut(CloseReason::AfterError("oneway call failed".into()));
                }
                return;
            }
            Outcome::Value {
                value,
                response_annotations,
            } => (value, Flags::NONE, response_annotations, false, None),
            Outcome::Batch {
                results,
                response_annotations,
            } => (
                Value::List(results),
                Flags::BATCH,
                response_annotations,
                false,
                None,
            ),
            Outcome::Exception { error, close } => (
                error.to_value(),
                Flags::EXCEPTION,
                Annotations::new(),
                close,
                Some(error.to_string()),
            ),
            Outcome::Stream { stream_id } => {
                // An empty id means the daemon does not stream (ITER_STREAMING
                // off): Pyro4 then sends the marker without a STRM annotation.
                let mut annotations = Annotations::new();
                if !stream_id.is_empty() {
                    annotations.insert(AnnotationId::STRM, Bytes::from(stream_id.into_bytes()));
                }
                let marker = RemoteError::protocol_error("result of call is an iterator");
                (
                    marker.to_value(),
                    Flags::EXCEPTION.with(Flags::ITEMSTREAMRESULT),
                    annotations,
                    false,
                    Some(marker.to_string()),
                )
            }
        };
        if raised.is_none() {
            annotations.insert(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
        }
        match serializer.dumps_into(&payload, &mut self.payload) {
            Ok(()) => {}
            Err(e) if raised.is_some() => {
                // Pyro4 replaces an exception it cannot serialize by a PyroError.
                let text = format!(
                    "Error serializing exception: {e}. Original exception: {}",
                    raised.as_deref().unwrap_or_default()
                );
                let fallback = err("Pyro4.errors.PyroError", &text, "handleRequest");
                match serializer.dumps_into(&fallback.to_value(), &mut self.payload) {
                    Ok(()) => {}
                    Err(_) => {
                        self.shut(CloseReason::AfterError(text));
                        return;
                    }
                }
            }
            Err(e) => {
                // The return value cannot be sent: tell the caller why, as an
                // exception reply (closing after a SerializeError, as Pyro4).
                let (error, close) = serialize_error(&e);
                self.answer(seq, serializer, corr, Outcome::Exception { error, close });
                return;
            }
        };
        let mut head = Message::new(MessageType::Result, serializer.id(), Bytes::new())
            .with_flags(flags)
            .with_seq(seq);
        head.annotations = annotations;
        self.send_serialized(head);
        if close {
            self.shut(CloseReason::AfterError(raised.unwrap_or_default()));
        }
    }

    /// Send a CONNECTFAIL with `text` and close.
    fn connect_fail(
        &mut self,
        serializer: SerializerId,
        seq: u16,
        corr: Option<[u8; 16]>,
        text: &str,
    ) {
        // A string always serializes; were it ever to fail, closing without
        // a reply is all that is left.
        if serializer
            .dumps_into(&Value::Str(text.into()), &mut self.payload)
            .is_ok()
        {
            let mut head =
                Message::new(MessageType::ConnectFail, serializer.id(), Bytes::new()).with_seq(seq);
            if let Some(corr) = corr {
                head.annotations
                    .insert(AnnotationId::CORR, Bytes::copy_from_slice(&corr));
            }
            self.send_serialized(head);
        }
        self.shut(CloseReason::HandshakeFailed(text.to_string()));
    }

    fn send(&mut self, msg: &Message) {
        // Pyro4's Message constructor raises (e.g. a reply over
        // MAX_MESSAGE_SIZE): nothing is sent and the connection drops.
        if let Err(e) = super::queue_frame(&self.encoder, msg, &mut self.transmit) {
            self.shut(CloseReason::Frame(e));
        }
    }

    /// Send `head` (its `data` unused) with the payload just serialized
    /// into `self.payload`, which is left empty for the next one.
    fn send_serialized(&mut self, mut head: Message) {
        let compress = self.config.compression;
        // As in `send`: a frame that cannot be built drops the connection.
        if let Err(e) = super::queue_serialized(
            &self.encoder,
            &mut head,
            &mut self.payload,
            compress,
            &mut self.transmit,
        ) {
            self.shut(CloseReason::Frame(e));
        }
    }

    fn shut(&mut self, reason: CloseReason) {
        if !matches!(self.state, State::Closed) {
            self.state = State::Closed;
            self.close_reason = Some(reason.clone());
            self.events.push_back(ServerEvent::Closed(reason));
        }
    }
}

/// A Pyro4-style exception with one message argument and a traceback naming `location`.
fn err(class_name: &str, message: &str, location: &str) -> RemoteError {
    traced(
        RemoteError::new(class_name, alloc::vec![Value::Str(message.into())]),
        location,
    )
}

/// `(handshake, object)` from a CONNECT payload, with Python's error texts for
/// a payload that is not the expected dict.
fn handshake_fields(data: &Value, wants_metadata: bool) -> Result<(Value, Option<String>), String> {
    let dict = match data {
        Value::Dict(d) => d,
        Value::Class(c) => &c.fields,
        other => {
            return Err(format!(
                "'{}' object is not subscriptable",
                other.type_name()
            ))
        }
    };
    let get = |key: &str| {
        dict.0
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    let handshake = get("handshake")
        .cloned()
        .ok_or_else(|| "'handshake'".to_string())?;
    let object = match get("object") {
        Some(Value::Str(s)) => Some(String::from(s.as_str())),
        Some(other) if wants_metadata => {
            return Err(format!("invalid object id type: {}", other.type_name()))
        }
        Some(_) => None,
        None if wants_metadata => return Err("'object'".to_string()),
        None => None,
    };
    Ok((handshake, object))
}

/// The class name a SerializedBlob argument carries (Pyro4's `core.SerializedBlob`).
pub const SERIALIZED_BLOB_CLASS: &str = "Pyro4.core.SerializedBlob";

/// The call of a KEEPSERIALIZED request (Pyro4's `__deserializeBlobArgs`):
/// object, method and blob info come from the marshal tuple in the `BLBI`
/// annotation; the payload is not decoded but handed to the method as its
/// only argument, a [`SERIALIZED_BLOB_CLASS`] value with fields `info`,
/// `serializer` (the payload's serializer id) and `data` (the call payload,
/// decompressed: `loads_call` on it gives the blob's data in `vargs`, which is
/// what Python's `blob.deserialized()` returns). A gateway can forward
/// `data` unchanged.
fn blob_call(serializer: SerializerId, msg: &Message) -> Result<Call, (RemoteError, bool)> {
    let fail = |class: &str, text: String| Err((err(class, &text, "handleRequest"), false));
    let Some(blbi) = msg.annotations.get(AnnotationId::BLBI) else {
        // Python: KeyError('BLBI') from msg.annotations["BLBI"]
        return fail("builtins.KeyError", "BLBI".to_string());
    };
    let info = match SerializerId::Marshal.loads_raw(blbi) {
        Ok(v) => v,
        Err(e) => return fail("builtins.ValueError", e.to_string()),
    };
    let (info, object, method) = match info {
        Value::Tuple(items) | Value::List(items) if items.len() == 3 => {
            let mut items = items.into_iter();
            match (items.next(), items.next(), items.next()) {
                (Some(info), Some(Value::Str(object)), Some(Value::Str(method))) => {
                    (info, object, method)
                }
                _ => {
                    return fail(
                        "builtins.TypeError",
                        "BLBI must hold (info, object id, method name) strings".to_string(),
                    )
                }
            }
        }
        other => {
            return fail(
                "builtins.ValueError",
                format!(
                    "BLBI must hold a 3-tuple (info, object id, method), not {}",
                    other.type_name()
                ),
            )
        }
    };
    let blob = Value::Class(Box::new(crate::value::ClassDict {
        class_name: SERIALIZED_BLOB_CLASS.to_string(),
        fields: Dict(alloc::vec![
            (Value::Str("info".into()), info),
            (
                Value::Str("serializer".into()),
                Value::Int(i64::from(serializer.id()))
            ),
            (Value::Str("data".into()), Value::Bytes(msg.data.to_vec())),
        ]),
    }));
    Ok(Call {
        object,
        method,
        vargs: Value::Tuple(alloc::vec![blob]),
        kwargs: Some(Dict::default()),
    })
}

/// The exception Pyro4 sends when a call payload cannot be read, and whether
/// the connection closes after it (SerializeError and SecurityError do).
fn deserialize_error(e: &SerializeError) -> (RemoteError, bool) {
    match e {
        SerializeError::UnknownClass(_) => (
            err(
                "Pyro4.errors.SerializeError",
                &e.to_string(),
                "deserializeCall",
            ),
            true,
        ),
        SerializeError::DunderClass(_) => (
            err(
                "Pyro4.errors.SecurityError",
                &e.to_string(),
                "deserializeCall",
            ),
            true,
        ),
        _ => (
            err("builtins.ValueError", &e.to_string(), "deserializeCall"),
            false,
        ),
    }
}

/// The exception for a reply value the serializer cannot write.
fn serialize_error(e: &SerializeError) -> (RemoteError, bool) {
    match e {
        SerializeError::Unsupported { .. } | SerializeError::Refused { .. } => (
            err(
                "Pyro4.errors.SerializeError",
                &e.to_string(),
                "serializeData",
            ),
            true,
        ),
        _ => (
            err("builtins.ValueError", &e.to_string(), "serializeData"),
            false,
        ),
    }
}

#[cfg(test)]
mod tests;
