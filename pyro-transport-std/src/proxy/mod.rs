//! The blocking [`Proxy`]: Pyro4's `Pyro4.Proxy` on a std socket.

mod batch;
mod conn;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use pyro_proto::message::Annotations;
use pyro_proto::session::{CallId, CallOptions, ClientSession, Metadata, Response, SessionError};
use pyro_proto::value::{to_value, Dict, Value};
use pyro_proto::Uri;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use batch::{Batch, BatchResults};
use conn::{Clock, Connection};
use pyro_transport_common::proxy::{
    check_member, convert, correlation_id, expect_value, keywords, positional, Member,
    ProxySettings, Target,
};
pub use pyro_transport_common::proxy::{HandshakeValidator, IntoUri, DEFAULT_RECONNECT_INTERVAL};
pub use pyro_transport_common::{Phase, ProxyError};
pub use stream::RemoteStream;

/// What [`Proxy::call_any`] got back.
#[derive(Debug)]
pub enum CallResult {
    /// A plain return value (`None` for a oneway call).
    Value(Value),
    /// An iterator result, read item by item.
    Stream(RemoteStream<Value>),
}

/// Settings for proxies (Pyro4's config items and `_pyro*` attributes);
/// one builder can make any number of proxies.
///
/// Defaults are Pyro4's: serpent, no HMAC key, metadata on, handshake
/// `'hello'`, no compression, no timeout, no retries, reconnect every 2 s.
#[derive(Clone, Default)]
pub struct ProxyBuilder {
    /// The settings both adapters share (their setters come from
    /// [`pyro_transport_common::proxy_builder_options`]).
    settings: ProxySettings,
}

impl fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.debug_as("ProxyBuilder", f)
    }
}

impl ProxyBuilder {
    pyro_transport_common::proxy_builder_options!();

    /// Timeout for connecting, sending and receiving (`_pyroTimeout`);
    /// `None` (the default) waits forever.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.config.timeout = timeout;
        self
    }

    /// A proxy for `uri` with these settings (nothing is connected yet).
    pub fn build(&self, uri: impl IntoUri) -> Result<Proxy, ProxyError> {
        let uri = uri.into_uri()?;
        let target = Target::from_uri(&uri)?;
        let settings = self.settings.for_object(uri.object());
        Ok(Proxy::from_parts(uri, target, settings, None))
    }
}

/// The mutable part of a proxy, behind its lock.
struct Inner {
    settings: ProxySettings,
    conn: Option<Connection>,
    /// The seq of the last request, carried into the next connection.
    seq: u16,
    metadata: Option<Metadata>,
    handshake: Option<Value>,
    response_annotations: Annotations,
}

impl Inner {
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.seq = conn.seq();
        }
    }
}

struct Shared {
    uri: Uri,
    target: Target,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in another thread cannot leave the state half-updated in a
        // way that matters: at worst a connection is dropped.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connect if not connected; `Ok(true)` when a connection was made.
    fn connect(&self, inner: &mut Inner) -> Result<bool, ProxyError> {
        if inner.conn.is_some() {
            return Ok(false);
        }
        // PYRONAME/PYROMETA: look the object up through the name server
        // first, on every connect (Pyro4's `__pyroCreateConnection`).
        let resolved = match &self.target {
            Target::Name(uri) => {
                let ns = ProxyBuilder {
                    settings: inner.settings.for_name_server(),
                };
                let direct = crate::naming::resolve(uri, &ns)?;
                let settings = inner.settings.for_object(direct.object());
                Some((Target::from_uri(&direct)?, settings.config))
            }
            _ => None,
        };
        let (target, config) = match &resolved {
            Some((target, config)) => (target, config),
            None => (&self.target, &inner.settings.config),
        };
        let (conn, connected) = Connection::open(target, config, &mut inner.seq, self.clock)?;
        if let Some(check) = &inner.settings.validator {
            // Dropping `conn` closes the socket.
            check(&connected.handshake).map_err(|reason| ProxyError::Handshake {
                address: target.describe(),
                reason,
            })?;
        }
        if connected.metadata.is_some() {
            inner.metadata = connected.metadata;
        }
        inner.handshake = Some(connected.handshake);
        inner.conn = Some(conn);
        Ok(true)
    }

    /// One request on the (possibly new) connection. Errors of the
    /// connection drop it, as do remote `CommunicationError`s (Pyro4's proxy
    /// releases its connection after any of them).
    fn transact(
        &self,
        inner: &mut Inner,
        start: &dyn Fn(&mut ClientSession, Duration) -> Result<CallId, SessionError>,
    ) -> Result<Response, ProxyError> {
        inner.response_annotations = Annotations::new();
        self.connect(inner)?;
        let conn = inner.conn.as_mut().expect("connected above");
        match conn.request(start) {
            Ok((response, annotations)) => {
                inner.response_annotations = annotations;
                if matches!(&response, Response::Exception(e) if e.is_communication_error()) {
                    inner.release();
                }
                Ok(response)
            }
            Err(e @ ProxyError::Serialize { .. }) => Err(e),
            Err(e) => {
                inner.release();
                Err(e)
            }
        }
    }

    /// Tell the daemon to drop a stream (oneway), on the current connection
    /// if there is one that is free; errors are not reported (Pyro4 ignores
    /// them too) but drop the connection.
    fn close_stream(&self, inner: &mut Inner, stream_id: &str) {
        let Some(conn) = inner.conn.as_mut() else {
            return;
        };
        if !conn.is_ready() {
            return;
        }
        if conn
            .request(&|s, now| s.close_stream(stream_id, now))
            .is_err()
        {
            inner.release();
        }
    }
}

/// A connection to one remote object, as Pyro4's `Proxy`.
///
/// A proxy is made from a `PYRO:` URI (TCP over IPv4 or IPv6, or a Unix
/// socket `PYRO:obj@./u:/path`) and connects lazily, on its first call or on
/// [`Proxy::bind`]. Each connection is a [`ClientSession`] driven over a
/// socket: requests are lock-step, one at a time, as in Pyro4, so a proxy
/// shared between threads serialises their calls (like Pyro4's connection lock).
///
/// Pyro4's behaviour is kept where it shows:
/// * after a timeout, a broken connection, a protocol error or a remote
///   `CommunicationError` the connection is dropped and the next call
///   connects again; the sequence number carries over (Pyro4's `_pyroSeq`);
/// * with metadata (the default), oneway methods are found in the object's
///   metadata and names the object does not expose are refused locally;
/// * a method call is retried `max_retries` times after a timeout or a closed
///   connection (`_pyroMaxRetries`, 0 by default);
/// * [`Proxy::reconnect`] retries every 2 seconds (configurable);
/// * [`Clone`] is Pyro4's `copy.copy(proxy)`: same URI and settings, its own
///   (not yet opened) connection.
///
/// ```no_run
/// use pyro_transport_std::Proxy;
///
/// let calc = Proxy::new("PYRO:example.calc@localhost:9999")?;
/// let sum: i64 = calc.call("add", (2, 40))?;
/// let squares: Vec<i64> = calc.stream("squares", (4,))?.collect::<Result<_, _>>()?;
/// let mut batch = calc.batch();
/// batch.call("add", (1, 1)).call("divide", (1, 0)).call("add", (2, 2));
/// let mut results = batch.run()?;
/// assert_eq!(results.next_as::<i64>().unwrap()?, 2);
/// assert!(results.next().unwrap().is_err()); // ZeroDivisionError; the batch stopped there
/// # Ok::<(), pyro_transport_std::ProxyError>(())
/// ```
///
/// Methods take `&self`: a proxy can be shared between threads, which then
/// take turns on its one connection.
pub struct Proxy {
    shared: Arc<Shared>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("uri", &self.shared.uri.to_string())
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Clone for Proxy {
    /// Pyro4's `copy.copy(proxy)`: same URI, settings and known metadata, a
    /// connection of its own (opened on first use) and seq starting at 0.
    fn clone(&self) -> Proxy {
        let inner = self.shared.lock();
        Proxy::from_parts(
            self.shared.uri.clone(),
            self.shared.target.clone(),
            inner.settings.clone(),
            inner.metadata.clone(),
        )
    }
}

impl Proxy {
    /// A proxy for `uri` with Pyro4's default settings; nothing is connected
    /// until the first call (or [`bind`](Self::bind)).
    ///
    /// A PYRONAME or PYROMETA URI is resolved through the name server on
    /// every connect, as Pyro4 does.
    pub fn new(uri: impl IntoUri) -> Result<Proxy, ProxyError> {
        ProxyBuilder::default().build(uri)
    }

    /// Settings for proxies: serializer, HMAC key, timeout, retries, ...
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder::default()
    }

    fn from_parts(
        uri: Uri,
        target: Target,
        settings: ProxySettings,
        metadata: Option<Metadata>,
    ) -> Proxy {
        Proxy {
            shared: Arc::new(Shared {
                uri,
                target,
                clock: Clock::new(),
                inner: Mutex::new(Inner {
                    settings,
                    conn: None,
                    seq: 0,
                    metadata,
                    handshake: None,
                    response_annotations: Annotations::new(),
                }),
            }),
        }
    }

    /// The URI this proxy talks to.
    pub fn uri(&self) -> &Uri {
        &self.shared.uri
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().conn.is_some()
    }

    /// Connect now rather than on the first call (Pyro4's `_pyroBind`).
    /// Returns `true` if a connection was made, `false` if one was open.
    pub fn bind(&self) -> Result<bool, ProxyError> {
        self.shared.connect(&mut self.shared.lock())
    }

    /// Close the connection (Pyro4's `_pyroRelease`); the next call opens a
    /// new one. Dropping the proxy does the same.
    pub fn release(&self) {
        self.shared.lock().release();
    }

    /// Drop the connection and connect again, trying up to `tries` times
    /// with the reconnect interval in between (Pyro4's `_pyroReconnect`).
    /// The new connection continues the sequence numbers of the old one.
    /// At least one attempt is made; only connection errors are retried
    /// (not, say, an invalid serializer).
    pub fn reconnect(&self, tries: u32) -> Result<(), ProxyError> {
        let mut inner = self.shared.lock();
        inner.release();
        let interval = inner.settings.reconnect_interval;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.shared.connect(&mut inner) {
                Ok(_) => return Ok(()),
                Err(e) if e.is_communication_error() && attempt < tries => {
                    drop(inner);
                    thread::sleep(interval);
                    inner = self.shared.lock();
                    if inner.conn.is_some() {
                        // Another thread connected meanwhile.
                        return Ok(());
                    }
                }
                Err(e) => {
                    return Err(ProxyError::ReconnectFailed {
                        tries: attempt,
                        last: Box::new(e),
                    })
                }
            }
        }
    }

    /// The proxy's timeout (connect, send, receive).
    pub fn timeout(&self) -> Option<Duration> {
        self.shared.lock().settings.config.timeout
    }

    /// Change the timeout (Pyro4's `_pyroTimeout` setter); it applies to the
    /// open connection from its next request on.
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        let mut inner = self.shared.lock();
        inner.settings.config.timeout = timeout;
        if let Some(conn) = inner.conn.as_mut() {
            conn.set_timeout(timeout);
        }
    }

    /// Change how often method calls are retried (`_pyroMaxRetries`).
    pub fn set_max_retries(&self, retries: u32) {
        self.shared.lock().settings.max_retries = retries;
    }

    /// The object's metadata (methods, oneway methods, attributes), once a
    /// connection with metadata on was made.
    pub fn metadata(&self) -> Option<Metadata> {
        self.shared.lock().metadata.clone()
    }

    /// The daemon's handshake answer on the current or last connection.
    pub fn handshake_response(&self) -> Option<Value> {
        self.shared.lock().handshake.clone()
    }

    /// The annotations of the last reply (Pyro4's
    /// `current_context.response_annotations`), e.g. `CORR` and the
    /// daemon's own; empty after a oneway call.
    pub fn response_annotations(&self) -> Annotations {
        self.shared.lock().response_annotations.clone()
    }

    /// The correlation id of the last reply (`CORR`), if it had one.
    pub fn response_correlation_id(&self) -> Option<[u8; 16]> {
        let inner = self.shared.lock();
        correlation_id(&inner.response_annotations)
    }

    /// Call `method` with positional `args` (a tuple: `(a, b)`, `(a,)`, `()`)
    /// and convert its result into `R`. A oneway method (per metadata)
    /// returns as soon as the request is sent, with `None` as its result.
    pub fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
    ) -> Result<R, ProxyError> {
        self.call_with(method, args, (), &CallOptions::default())
    }

    /// [`call`](Self::call) with keyword arguments (a map or a struct).
    pub fn call_kw<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<R, ProxyError> {
        self.call_with(method, args, kwargs, &CallOptions::default())
    }

    /// The general call: keyword arguments and per-call options (request
    /// annotations, correlation id, forced oneway).
    pub fn call_with<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        opts: &CallOptions,
    ) -> Result<R, ProxyError> {
        let value = self.call_value_with(method, positional(args)?, keywords(kwargs)?, opts)?;
        convert(method, value)
    }

    /// A call with [`Value`]s in and out, no conversion.
    pub fn call_value(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
    ) -> Result<Value, ProxyError> {
        self.call_value_with(method, vargs, kwargs, &CallOptions::default())
    }

    /// [`call_value`](Self::call_value) with per-call options.
    pub fn call_value_with(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<Value, ProxyError> {
        match self.invoke(method, vargs, kwargs, opts)? {
            Response::Stream(id) => {
                self.shared.close_stream(&mut self.shared.lock(), &id);
                Err(ProxyError::UnexpectedStream {
                    method: method.to_string(),
                })
            }
            other => expect_value(method, other),
        }
    }

    /// A call whose result may be a value or a stream, decided by the reply
    /// (what a Python caller sees: a generator method gives an iterator, any
    /// other a value). For tools that print whatever comes back.
    pub fn call_any(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<CallResult, ProxyError> {
        match self.invoke(method, vargs, kwargs, opts)? {
            Response::Stream(id) => Ok(CallResult::Stream(RemoteStream::remote(
                self.shared.clone(),
                method,
                id,
            ))),
            other => expect_value(method, other).map(CallResult::Value),
        }
    }

    /// Call `method` without waiting for a reply, whatever the metadata says
    /// (Pyro4's oneway; the remote side runs it in the background and errors
    /// are not reported).
    pub fn oneway(&self, method: &str, args: impl Serialize) -> Result<(), ProxyError> {
        let opts = CallOptions {
            oneway: Some(true),
            ..CallOptions::default()
        };
        self.call_value_with(method, positional(args)?, Dict::default(), &opts)
            .map(drop)
    }

    /// Call a method that returns an iterator (a Python generator) and read
    /// its items one request each, as Pyro4's item streaming does. A plain
    /// list or tuple result is iterated locally. Dropping the stream before
    /// its end tells the daemon to discard it.
    pub fn stream<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
    ) -> Result<RemoteStream<R>, ProxyError> {
        self.stream_with(method, args, (), &CallOptions::default())
    }

    /// [`stream`](Self::stream) with keyword arguments and per-call options.
    pub fn stream_with<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        opts: &CallOptions,
    ) -> Result<RemoteStream<R>, ProxyError> {
        match self.invoke(method, positional(args)?, keywords(kwargs)?, opts)? {
            Response::Stream(id) => Ok(RemoteStream::remote(self.shared.clone(), method, id)),
            Response::Value(Value::List(items) | Value::Tuple(items)) => {
                Ok(RemoteStream::local(method, items))
            }
            Response::Value(other) => Err(ProxyError::UnexpectedReply {
                method: method.to_string(),
                what: format!("a {} where a stream was expected", other.type_name()),
            }),
            Response::Exception(e) => Err(ProxyError::Remote(e)),
            other => Err(ProxyError::UnexpectedReply {
                method: method.to_string(),
                what: format!("{other:?}"),
            }),
        }
    }

    /// Read the remote attribute `name` (a Python property exposed with
    /// `@expose`).
    pub fn get_attr<R: DeserializeOwned>(&self, name: &str) -> Result<R, ProxyError> {
        let mut inner = self.shared.lock();
        self.check_attr(&mut inner, name, Member::Get)?;
        let response = self.shared.transact(&mut inner, &|s, now| {
            s.get_attr(name, &CallOptions::default(), now)
        })?;
        convert(name, expect_value(name, response)?)
    }

    /// Set the remote attribute `name` (a property with a setter).
    pub fn set_attr(&self, name: &str, value: impl Serialize) -> Result<(), ProxyError> {
        let value = to_value(&value).map_err(|source| ProxyError::Serialize {
            what: "attribute value",
            source,
        })?;
        let mut inner = self.shared.lock();
        self.check_attr(&mut inner, name, Member::Set)?;
        let response = self.shared.transact(&mut inner, &|s, now| {
            s.set_attr(name, value.clone(), &CallOptions::default(), now)
        })?;
        expect_value(name, response).map(drop)
    }

    /// Group calls into one request (Pyro4's `batch(proxy)`): add calls, then
    /// run them; the results come back in order, and the first call that
    /// raises ends the batch.
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Send a PING and wait for the answer (checks that the daemon is alive).
    pub fn ping(&self) -> Result<(), ProxyError> {
        let mut inner = self.shared.lock();
        match self.shared.transact(&mut inner, &|s, now| s.ping(now))? {
            Response::Pong => Ok(()),
            other => expect_value("<ping>", other).map(drop),
        }
    }

    /// Send a method call (with retries) and return the raw response.
    fn invoke(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<Response, ProxyError> {
        let mut inner = self.shared.lock();
        let mut attempt = 0;
        // The arguments are moved into the last attempt the retry setting
        // allows (the only one without retries: no copy of a large payload)
        // and cloned for the ones before it.
        let args = core::cell::RefCell::new(Some((vargs, kwargs)));
        loop {
            let last = attempt >= inner.settings.max_retries;
            let result = self.check_method(&mut inner, method).and_then(|()| {
                self.shared.transact(&mut inner, &|s, now| {
                    let (vargs, kwargs) = if last {
                        let taken = args.borrow_mut().take();
                        taken.expect("the last attempt starts its request once")
                    } else {
                        let kept = args.borrow().clone();
                        kept.expect("arguments are moved only by the last attempt")
                    };
                    s.call(method, vargs, kwargs, opts, now)
                })
            });
            match result {
                Err(e) if e.is_retryable() && attempt < inner.settings.max_retries => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Pyro4's client-side check: with metadata, a method the object does
    /// not expose is an AttributeError before anything is sent. Connects
    /// first when the metadata is not known yet.
    fn check_method(&self, inner: &mut Inner, method: &str) -> Result<(), ProxyError> {
        if !inner.settings.config.metadata {
            return Ok(());
        }
        self.shared.connect(inner)?;
        match &inner.metadata {
            Some(m) => check_member(m, &self.shared.uri, method, Member::Method),
            None => Ok(()),
        }
    }

    /// The same check for reading (`Member::Get`) or writing an attribute.
    fn check_attr(&self, inner: &mut Inner, name: &str, member: Member) -> Result<(), ProxyError> {
        if !inner.settings.config.metadata {
            return Ok(());
        }
        self.shared.connect(inner)?;
        match &inner.metadata {
            Some(m) => check_member(m, &self.shared.uri, name, member),
            None => Ok(()),
        }
    }
}
