//! The async [`Proxy`]: Pyro4's `Pyro4.Proxy` on async-io sockets.

mod batch;
mod conn;
mod stream;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyro_proto::message::Annotations;
use pyro_proto::session::{CallOptions, Metadata, Response};
use pyro_proto::value::{to_value, Dict, Value};
use pyro_proto::Uri;
use serde::de::DeserializeOwned;
use serde::Serialize;
use smol::lock::{Mutex, MutexGuard};
use smol::Timer;

pub use batch::{Batch, BatchResults};
use conn::{Connection, Start};
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

/// Settings for async proxies (Pyro4's config items and `_pyro*`
/// attributes); one builder can make any number of proxies.
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

    /// Timeout for connecting, sending and receiving (`_pyroTimeout`),
    /// enforced with async-io timers; `None` (the default) waits forever.
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

/// The mutable part of a proxy, behind its async lock.
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
    clock: Instant,
    inner: Mutex<Inner>,
}

impl Shared {
    async fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().await
    }

    /// Connect if not connected; `Ok(true)` when a connection was made.
    async fn connect(&self, inner: &mut Inner) -> Result<bool, ProxyError> {
        if inner.conn.as_ref().is_some_and(Connection::is_interrupted) {
            // A cancelled request left it out of step; start afresh.
            inner.release();
        }
        if inner.conn.is_some() {
            return Ok(false);
        }
        // PYRONAME/PYROMETA: look the object up through the name server
        // first, on every connect (Pyro4's `__pyroCreateConnection`), with
        // this proxy's HMAC key and timeout.
        let resolved = match &self.target {
            Target::Name(uri) => {
                let ns = ProxyBuilder {
                    settings: inner.settings.for_name_server(),
                };
                let direct = crate::naming::resolve(uri, &ns).await?;
                let settings = inner.settings.for_object(direct.object());
                Some((Target::from_uri(&direct)?, settings.config))
            }
            _ => None,
        };
        let (target, config) = match &resolved {
            Some((target, config)) => (target, config),
            None => (&self.target, &inner.settings.config),
        };
        let (conn, connected) =
            Connection::open(target, config, &mut inner.seq, self.clock).await?;
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
    async fn transact(&self, inner: &mut Inner, start: Start<'_>) -> Result<Response, ProxyError> {
        inner.response_annotations = Annotations::new();
        self.connect(inner).await?;
        let Some(conn) = inner.conn.as_mut() else {
            return Err(ProxyError::StreamClosed);
        };
        match conn.request(start).await {
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

    /// Tell the daemon to drop a stream (oneway) on the current connection
    /// if there is one that is free; errors are not reported (Pyro4 ignores
    /// them too) but drop the connection.
    async fn close_stream(&self, inner: &mut Inner, stream_id: &str) {
        let Some(conn) = inner.conn.as_mut() else {
            return;
        };
        if !conn.is_ready() {
            return;
        }
        if conn
            .request(&|s, now| s.close_stream(stream_id, now))
            .await
            .is_err()
        {
            inner.release();
        }
    }
}

/// An async connection to one remote object, as Pyro4's `Proxy`.
///
/// Made from a `PYRO:` URI (TCP over IPv4 or IPv6, or a Unix socket
/// `PYRO:obj@./u:/path`); connects lazily, on the first call or on
/// [`bind`](Self::bind). Requests are lock-step on one connection, as in
/// Pyro4: tasks sharing a proxy (`&Proxy` or an `Arc`) take turns on its
/// async lock; for parallel calls give each task a
/// [`fresh_copy`](Self::fresh_copy) (its own connection). Behaviour matches the blocking proxy of
/// `pyro-transport-std`: the connection is dropped after a timeout, a broken
/// connection, a protocol error or a remote `CommunicationError`, and the
/// sequence number carries over to the next one; with metadata (the
/// default) oneway methods are known and unknown names refused locally.
///
/// Cancellation: dropping a call's future before it completes (a `select`,
/// a timeout of the caller's own) abandons that request; the connection is
/// then out of step, so the proxy drops it and the next call connects anew
/// (the abandoned call may still have run on the daemon).
///
/// ```no_run
/// use pyro_transport_smol::Proxy;
///
/// smol::block_on(async {
///     let calc = Proxy::new("PYRO:example.calc@localhost:9999")?;
///     let sum: i64 = calc.call("add", (2, 40)).await?;
///     let mut squares = calc.stream::<i64>("squares", (4,)).await?;
///     while let Some(item) = squares.next().await {
///         println!("{}", item?);
///     }
///     Ok::<(), pyro_transport_smol::ProxyError>(())
/// })?;
/// # Ok::<(), pyro_transport_smol::ProxyError>(())
/// ```
pub struct Proxy {
    shared: Arc<Shared>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("uri", &self.shared.uri.to_string())
            .finish()
    }
}

impl Proxy {
    /// A proxy for `uri` with Pyro4's default settings; nothing is connected
    /// until the first call (or [`bind`](Self::bind)).
    ///
    /// A PYRONAME or PYROMETA URI is resolved through the name server on
    /// every connect, as Pyro4 does (see [`crate::naming`]), with this
    /// proxy's HMAC key and timeout.
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
                clock: Instant::now(),
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

    /// Pyro4's `copy.copy(proxy)`: a new proxy with the same URI, settings
    /// and known metadata, and a connection of its own (opened on first
    /// use), for calls in parallel with this one.
    pub async fn fresh_copy(&self) -> Proxy {
        let inner = self.shared.lock().await;
        Proxy::from_parts(
            self.shared.uri.clone(),
            self.shared.target.clone(),
            inner.settings.clone(),
            inner.metadata.clone(),
        )
    }

    /// The URI this proxy talks to.
    pub fn uri(&self) -> &Uri {
        &self.shared.uri
    }

    /// Whether a connection is open.
    pub async fn is_connected(&self) -> bool {
        self.shared.lock().await.conn.is_some()
    }

    /// Connect now rather than on the first call (Pyro4's `_pyroBind`).
    /// Returns `true` if a connection was made, `false` if one was open.
    pub async fn bind(&self) -> Result<bool, ProxyError> {
        let mut inner = self.shared.lock().await;
        self.shared.connect(&mut inner).await
    }

    /// Close the connection (Pyro4's `_pyroRelease`); the next call opens a
    /// new one. Dropping the proxy does the same.
    pub async fn release(&self) {
        self.shared.lock().await.release();
    }

    /// Drop the connection and connect again, trying up to `tries` times
    /// with the reconnect interval (an async timer) in between (Pyro4's
    /// `_pyroReconnect`). At least one attempt is made; only connection
    /// errors are retried.
    pub async fn reconnect(&self, tries: u32) -> Result<(), ProxyError> {
        let mut inner = self.shared.lock().await;
        inner.release();
        let interval = inner.settings.reconnect_interval;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.shared.connect(&mut inner).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_communication_error() && attempt < tries => {
                    drop(inner);
                    Timer::after(interval).await;
                    inner = self.shared.lock().await;
                    if inner.conn.is_some() {
                        // Another task connected meanwhile.
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
    pub async fn timeout(&self) -> Option<Duration> {
        self.shared.lock().await.settings.config.timeout
    }

    /// Change the timeout (Pyro4's `_pyroTimeout` setter); it applies to the
    /// open connection from its next request on.
    pub async fn set_timeout(&self, timeout: Option<Duration>) {
        let mut inner = self.shared.lock().await;
        inner.settings.config.timeout = timeout;
        if let Some(conn) = inner.conn.as_mut() {
            conn.set_timeout(timeout);
        }
    }

    /// The object's metadata (methods, oneway methods, attributes), once a
    /// connection with metadata on was made.
    pub async fn metadata(&self) -> Option<Metadata> {
        self.shared.lock().await.metadata.clone()
    }

    /// The daemon's handshake answer on the current or last connection.
    pub async fn handshake_response(&self) -> Option<Value> {
        self.shared.lock().await.handshake.clone()
    }

    /// The annotations of the last reply (e.g. `CORR`); empty after a oneway call.
    pub async fn response_annotations(&self) -> Annotations {
        self.shared.lock().await.response_annotations.clone()
    }

    /// The correlation id of the last reply (`CORR`), if it had one.
    pub async fn response_correlation_id(&self) -> Option<[u8; 16]> {
        let inner = self.shared.lock().await;
        correlation_id(&inner.response_annotations)
    }

    /// Call `method` with positional `args` (a tuple: `(a, b)`, `(a,)`, `()`)
    /// and convert its result into `R`. A oneway method (per metadata)
    /// returns as soon as the request is sent, with `None` as its result.
    pub async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
    ) -> Result<R, ProxyError> {
        self.call_with(method, args, (), &CallOptions::default())
            .await
    }

    /// [`call`](Self::call) with keyword arguments (a map or a struct).
    pub async fn call_kw<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<R, ProxyError> {
        self.call_with(method, args, kwargs, &CallOptions::default())
            .await
    }

    /// The general call: keyword arguments and per-call options (request
    /// annotations, correlation id, forced oneway).
    pub async fn call_with<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        opts: &CallOptions,
    ) -> Result<R, ProxyError> {
        let (vargs, kwargs) = (positional(args)?, keywords(kwargs)?);
        let value = self.call_value_with(method, vargs, kwargs, opts).await?;
        convert(method, value)
    }

    /// A call with [`Value`]s in and out, no conversion.
    pub async fn call_value(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
    ) -> Result<Value, ProxyError> {
        self.call_value_with(method, vargs, kwargs, &CallOptions::default())
            .await
    }

    /// [`call_value`](Self::call_value) with per-call options.
    pub async fn call_value_with(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<Value, ProxyError> {
        match self.invoke(method, vargs, kwargs, opts).await? {
            Response::Stream(id) => {
                let mut inner = self.shared.lock().await;
                self.shared.close_stream(&mut inner, &id).await;
                Err(ProxyError::UnexpectedStream {
                    method: method.to_string(),
                })
            }
            other => expect_value(method, other),
        }
    }

    /// A call with [`Value`]s that takes whatever the method returns: a
    /// plain value, or (for a Python generator) the remote stream to read,
    /// as Pyro4's proxy does when it does not know the result's kind in
    /// advance (a dynamic client such as a CLI). Same as the blocking
    /// proxy's `call_any`.
    pub async fn call_any(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<CallResult, ProxyError> {
        match self.invoke(method, vargs, kwargs, opts).await? {
            Response::Stream(id) => Ok(CallResult::Stream(RemoteStream::remote(
                self.shared.clone(),
                method,
                id,
            ))),
            other => expect_value(method, other).map(CallResult::Value),
        }
    }

    /// Call `method` without waiting for a reply, whatever the metadata says
    /// (Pyro4's oneway; the daemon runs it in the background and errors are
    /// not reported).
    pub async fn oneway(&self, method: &str, args: impl Serialize) -> Result<(), ProxyError> {
        let opts = CallOptions {
            oneway: Some(true),
            ..CallOptions::default()
        };
        self.call_value_with(method, positional(args)?, Dict::default(), &opts)
            .await
            .map(drop)
    }

    /// Call a method that returns an iterator (a Python generator) and read
    /// its items one request each with [`RemoteStream::next`]. A plain list
    /// or tuple result is iterated locally. Dropping the stream early
    /// closes it on the daemon (see [`RemoteStream`]).
    pub async fn stream<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
    ) -> Result<RemoteStream<R>, ProxyError> {
        self.stream_with(method, args, (), &CallOptions::default())
            .await
    }

    /// [`stream`](Self::stream) with keyword arguments and per-call options.
    pub async fn stream_with<R: DeserializeOwned>(
        &self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        opts: &CallOptions,
    ) -> Result<RemoteStream<R>, ProxyError> {
        let (vargs, kwargs) = (positional(args)?, keywords(kwargs)?);
        match self.invoke(method, vargs, kwargs, opts).await? {
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

    /// Read the remote attribute `name` (a Python property exposed with `@expose`).
    pub async fn get_attr<R: DeserializeOwned>(&self, name: &str) -> Result<R, ProxyError> {
        let mut inner = self.shared.lock().await;
        self.check_member(&mut inner, name, Member::Get).await?;
        let response = self
            .shared
            .transact(&mut inner, &|s, now| {
                s.get_attr(name, &CallOptions::default(), now)
            })
            .await?;
        convert(name, expect_value(name, response)?)
    }

    /// Set the remote attribute `name` (a property with a setter).
    pub async fn set_attr(&self, name: &str, value: impl Serialize) -> Result<(), ProxyError> {
        let value = to_value(&value).map_err(|source| ProxyError::Serialize {
            what: "attribute value",
            source,
        })?;
        let mut inner = self.shared.lock().await;
        self.check_member(&mut inner, name, Member::Set).await?;
        let response = self
            .shared
            .transact(&mut inner, &|s, now| {
                s.set_attr(name, value.clone(), &CallOptions::default(), now)
            })
            .await?;
        expect_value(name, response).map(drop)
    }

    /// Group calls into one request (Pyro4's `batch(proxy)`): add calls, then
    /// run them; results come back in order, and the first call that raises
    /// ends the batch.
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Send a PING and wait for the answer (checks that the daemon is alive).
    pub async fn ping(&self) -> Result<(), ProxyError> {
        let mut inner = self.shared.lock().await;
        match self
            .shared
            .transact(&mut inner, &|s, now| s.ping(now))
            .await?
        {
            Response::Pong => Ok(()),
            other => expect_value("<ping>", other).map(drop),
        }
    }

    /// Send a method call (with retries) and return the raw response.
    async fn invoke(
        &self,
        method: &str,
        vargs: Vec<Value>,
        kwargs: Dict,
        opts: &CallOptions,
    ) -> Result<Response, ProxyError> {
        let mut inner = self.shared.lock().await;
        let mut attempt = 0;
        let start = |s: &mut pyro_proto::session::ClientSession, now| {
            s.call(method, vargs.clone(), kwargs.clone(), opts, now)
        };
        loop {
            let result = match self.check_member(&mut inner, method, Member::Method).await {
                Ok(()) => self.shared.transact(&mut inner, &start).await,
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_retryable() && attempt < inner.settings.max_retries => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Pyro4's client-side check: with metadata, a method (or attribute)
    /// the object does not expose is an AttributeError before anything is
    /// sent. Connects first when the metadata is not known yet.
    async fn check_member(
        &self,
        inner: &mut Inner,
        name: &str,
        member: Member,
    ) -> Result<(), ProxyError> {
        if !inner.settings.config.metadata {
            return Ok(());
        }
        self.shared.connect(inner).await?;
        match &inner.metadata {
            Some(m) => check_member(m, &self.shared.uri, name, member),
            None => Ok(()),
        }
    }
}
