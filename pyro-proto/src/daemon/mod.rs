//! The daemon core: what a Pyro4 daemon holds across connections.
//!
//! [`Daemon`] keeps the object registry (with the fixed `Pyro.Daemon` object),
//! instance modes, the stream table and its housekeeping, and decides what
//! each request does, with Pyro4's rules for private names, attributes,
//! oneway calls, batches and streams (sections 5-8 and 12 of the protocol
//! notes). It is plain data with `&mut self` methods and no I/O: the
//! transport owns the sockets and hands requests in.
//!
//! Dispatch has two phases so that user code never runs while the daemon is
//! borrowed (a threaded adapter keeps the daemon in a mutex and runs jobs
//! outside it): [`Daemon::prepare`] resolves a request into either a finished
//! [`Outcome`] or a [`Job`]; [`Job::run`] calls the servant; and
//! [`Daemon::complete`] turns the result into an [`Outcome`] (registering a
//! stream if the call returned one). [`Daemon::handle`] does all three for
//! single-threaded hosts.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use crate::entropy::{uuid4, uuid_string, Entropy};
use crate::message::Annotations;
use crate::servant::{is_private_name, Args, CallContext, ItemIter, Reply, Servant};
use crate::session::{traced, HandshakeRequest, Metadata, Outcome, Request};
use crate::uri::Uri;
use crate::value::{Dict, ExceptionWrapper, RemoteError, Value};

mod object;

/// The fixed id of the daemon's own object.
pub const DAEMON_OBJECT_ID: &str = "Pyro.Daemon";

/// Identifies one client connection to the daemon (chosen by the transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where the daemon listens, for the URIs it hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A TCP host (name or address, IPv6 without brackets) and port.
    Tcp {
        /// Host as given to clients.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix {
        /// Socket path.
        path: String,
    },
}

impl Location {
    fn uri_for(&self, object: &str) -> Result<Uri, DaemonError> {
        match self {
            Location::Tcp { host, port } => Uri::pyro(object, host, *port),
            Location::Unix { path } => Uri::unix(object, path),
        }
        .map_err(|e| DaemonError::InvalidId(object.to_owned(), e.to_string()))
    }

    fn text(&self) -> String {
        match self {
            Location::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Location::Tcp { host, port } => format!("{host}:{port}"),
            Location::Unix { path } => format!("./u:{path}"),
        }
    }
}

/// How a daemon behaves (the Pyro4 config items that matter to the core).
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Where the daemon listens.
    pub location: Location,
    /// The address clients should use instead, behind NAT (Pyro4's `nathost`/`natport`).
    pub nat: Option<Location>,
    /// Whether iterator results become streams (Pyro4's `ITER_STREAMING`).
    pub iter_streaming: bool,
    /// Streams older than this are dropped by housekeeping (`ITER_STREAM_LIFETIME`; `None` = never).
    pub stream_lifetime: Option<Duration>,
    /// How long a disconnected client's streams are kept for a reconnect
    /// (`ITER_STREAM_LINGER`, default 30 s; zero drops them at once).
    pub stream_linger: Duration,
    /// How the server describes itself in `Pyro.Daemon.info()`.
    pub server_type: String,
}

impl DaemonConfig {
    /// Defaults as Pyro4's, for a daemon at `location`.
    pub fn new(location: Location) -> DaemonConfig {
        DaemonConfig {
            location,
            nat: None,
            iter_streaming: true,
            stream_lifetime: None,
            stream_linger: Duration::from_secs(30),
            server_type: "pyro-rs".to_string(),
        }
    }
}

/// How instances of a registered servant factory are made (Pyro4's
/// `@behavior(instance_mode=...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceMode {
    /// One instance for the whole daemon, made on first use.
    Single,
    /// One instance per client connection, dropped when it closes (Pyro4's default for classes).
    Session,
    /// A fresh instance for every call (one per batch).
    PerCall,
}

/// Makes servant instances for a registration with an instance mode.
pub type Factory = Arc<dyn Fn() -> Arc<dyn Servant> + Send + Sync>;

/// What is registered under an object id.
#[derive(Clone)]
pub enum Registration {
    /// One shared instance (Pyro4's registered object).
    Instance(Arc<dyn Servant>),
    /// A factory, instantiated per the mode (Pyro4's registered class).
    Factory {
        /// When to make instances.
        mode: InstanceMode,
        /// Makes an instance.
        create: Factory,
        /// What instances expose (taken from one instance at registration).
        metadata: Metadata,
        /// Class name for error texts.
        class_name: String,
    },
}

impl Registration {
    /// A factory registration; one instance is made now to learn the metadata.
    pub fn factory(mode: InstanceMode, create: Factory) -> Registration {
        let probe = create();
        Registration::Factory {
            mode,
            metadata: probe.metadata(),
            class_name: probe.class_name().to_string(),
            create,
        }
    }

    fn metadata(&self) -> Metadata {
        match self {
            Registration::Instance(s) => s.metadata(),
            Registration::Factory { metadata, .. } => metadata.clone(),
        }
    }
}

impl From<Arc<dyn Servant>> for Registration {
    fn from(s: Arc<dyn Servant>) -> Registration {
        Registration::Instance(s)
    }
}

/// Errors of registry operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaemonError {
    /// The id is taken (Pyro4: "object or class already has a Pyro id").
    #[error("an object is already registered under id '{0}'")]
    AlreadyRegistered(String),
    /// `Pyro.Daemon` cannot be replaced or removed.
    #[error("'{0}' is reserved for the daemon's own object")]
    Reserved(String),
    /// The id (or the daemon's location) cannot be written into a URI.
    #[error("object id '{0}' cannot be used in a URI: {1}")]
    InvalidId(String, String),
}

struct Stream {
    conn: Option<ConnId>,
    created: Duration,
    detached_at: Option<Duration>,
    /// `None` while a job is pulling the next item.
    iter: Option<ItemIter>,
}

/// Decides whether a client may connect, as an override of Pyro4's
/// `Daemon.validateHandshake` does: return the handshake answer, or the
/// reason for refusing (sent in the CONNECTFAIL, e.g. `"wrong handshake"`).
pub type HandshakeValidator = Box<dyn Fn(&HandshakeRequest) -> Result<Value, String> + Send>;

/// The daemon's shared state.
pub struct Daemon {
    config: DaemonConfig,
    entropy: Box<dyn Entropy>,
    validator: Option<HandshakeValidator>,
    objects: BTreeMap<String, Registration>,
    singles: BTreeMap<String, Arc<dyn Servant>>,
    sessions: BTreeMap<(ConnId, String), Arc<dyn Servant>>,
    clients: BTreeMap<ConnId, Option<String>>,
    streams: BTreeMap<String, Stream>,
}

impl core::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Daemon")
            .field("config", &self.config)
            .field("objects", &self.objects.keys().collect::<Vec<_>>())
            .field("connections", &self.clients.len())
            .field("streams", &self.streams.len())
            .finish()
    }
}

/// The result of [`Daemon::prepare`].
pub enum Prepared {
    /// The answer is known without running user code.
    Done(Outcome),
    /// Run this (outside any lock), then hand the result to [`Daemon::complete`].
    Run(Job),
}

/// Servant code to run for one request.
pub struct Job {
    conn: ConnId,
    ctx: CallContext,
    kind: JobKind,
}

enum JobKind {
    Call {
        servant: Arc<dyn Servant>,
        method: String,
        args: Args,
        oneway: bool,
    },
    GetAttr {
        servant: Arc<dyn Servant>,
        name: String,
    },
    SetAttr {
        servant: Arc<dyn Servant>,
        name: String,
        value: Value,
    },
    Batch {
        servant: Arc<dyn Servant>,
        calls: Vec<(String, Args)>,
        oneway: bool,
    },
    StreamNext {
        id: String,
        iter: ItemIter,
    },
}

/// What a [`Job`] produced, for [`Daemon::complete`].
pub struct JobDone {
    conn: ConnId,
    ctx: CallContext,
    result: Done,
}

enum Done {
    Value(Value),
    Error {
        error: RemoteError,
        close: bool,
    },
    Stream(ItemIter),
    Batch(Vec<Value>),
    NoReply {
        close: bool,
    },
    StreamItem {
        id: String,
        iter: ItemIter,
        item: Option<Result<Value, RemoteError>>,
    },
}

fn failed(error: RemoteError, location: &str, close: bool) -> Outcome {
    Outcome::Exception {
        error: traced(error, location),
        close,
    }
}

impl Job {
    /// Whether this is a oneway method call, which Pyro4 runs in a thread of
    /// its own (`ONEWAY_THREADED`); oneway batches and attribute access run
    /// inline.
    pub fn is_oneway_call(&self) -> bool {
        matches!(self.kind, JobKind::Call { oneway: true, .. })
    }

    /// Call the servant. Runs user code: keep the daemon unlocked meanwhile.
    pub fn run(self) -> JobDone {
        let Job {
            conn,
            mut ctx,
            kind,
        } = self;
        let result = match kind {
            JobKind::Call {
                servant,
                method,
                args,
                oneway,
            } => match servant.invoke(&mut ctx, &method, args) {
                Ok(_) if oneway => Done::NoReply { close: false },
                Ok(Reply::Value(v)) => Done::Value(v),
                Ok(Reply::Stream(iter)) => Done::Stream(iter),
                Err(e) if oneway => Done::NoReply {
                    close: servant.is_callback(&method) || e.is_communication_error(),
                },
                Err(e) => {
                    let close = servant.is_callback(&method)
                        || e.is_communication_error()
                        || e.class_name == "Pyro4.errors.SecurityError";
                    Done::Error {
                        error: traced(e, &method),
                        close,
                    }
                }
            },
            JobKind::GetAttr { servant, name } => match servant.get_attr(&mut ctx, &name) {
                Ok(v) => Done::Value(v),
                Err(e) => Done::Error {
                    error: traced(e, "__getattr__"),
                    close: false,
                },
            },
            JobKind::SetAttr {
                servant,
                name,
                value,
            } => match servant.set_attr(&mut ctx, &name, value) {
                Ok(()) => Done::Value(Value::None),
                Err(e) => Done::Error {
                    error: traced(e, "__setattr__"),
                    close: false,
                },
            },
            JobKind::Batch {
                servant,
                calls,
                oneway,
            } => run_batch(&servant, &mut ctx, calls, oneway),
            JobKind::StreamNext { id, mut iter } => {
                let item = iter.next();
                Done::StreamItem { id, iter, item }
            }
        };
        JobDone { conn, ctx, result }
    }
}

/// Pyro4's batch semantics: a name that does not resolve fails the whole
/// batch (an exception reply); the first call that raises ends it, its error
/// wrapped in `_ExceptionWrapper` as the last result.
fn run_batch(
    servant: &Arc<dyn Servant>,
    ctx: &mut CallContext,
    calls: Vec<(String, Args)>,
    oneway: bool,
) -> Done {
    let meta = servant.metadata();
    let mut results = Vec::with_capacity(calls.len());
    for (method, args) in calls {
        if let Err(e) = resolve(servant.class_name(), &meta, &method) {
            return if oneway {
                Done::NoReply { close: false }
            } else {
                Done::Error {
                    error: traced(e, "<batch>"),
                    close: false,
                }
            };
        }
        match servant.invoke(ctx, &method, args) {
            Ok(Reply::Value(v)) => results.push(v),
            Ok(Reply::Stream(_)) => {
                // Pyro4 cannot serialize a generator inside a batch result.
                let e = RemoteError::pyro(
                    "SerializeError",
                    format!("cannot return a stream from {method}() inside a batch"),
                );
                results.push(wrap(traced(e, &method)));
                break;
            }
            Err(e) => {
                results.push(wrap(traced(e, &method)));
                break;
            }
        }
    }
    if oneway {
        Done::NoReply { close: false }
    } else {
        Done::Batch(results)
    }
}

fn wrap(exception: RemoteError) -> Value {
    ExceptionWrapper { exception }.to_value()
}

/// Pyro4's method lookup rules: private names are refused, dotted names are
/// not traversed (they simply do not exist), unknown names are missing.
fn resolve(class_name: &str, meta: &Metadata, method: &str) -> Result<(), RemoteError> {
    if is_private_name(method) {
        return Err(RemoteError::attribute_error(format!(
            "attempt to access private attribute '{method}'"
        )));
    }
    if meta.methods.iter().any(|m| m == method) {
        Ok(())
    } else {
        Err(RemoteError::attribute_error(format!(
            "'{class_name}' object has no attribute '{method}'"
        )))
    }
}

impl Daemon {
    /// A daemon with only its `Pyro.Daemon` object. `entropy` supplies stream
    /// ids and generated object ids.
    pub fn new(config: DaemonConfig, entropy: Box<dyn Entropy>) -> Daemon {
        Daemon {
            config,
            entropy,
            validator: None,
            objects: BTreeMap::new(),
            singles: BTreeMap::new(),
            sessions: BTreeMap::new(),
            clients: BTreeMap::new(),
            streams: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    /// Change where the daemon says it listens (e.g. once a port 0 bind knows its port).
    pub fn set_location(&mut self, location: Location) {
        self.config.location = location;
    }

    /// Register `servant` under `id` (or a generated `obj_<hex>` id) and
    /// return its URI. An id is registered once, unless `force`.
    pub fn register(
        &mut self,
        servant: impl Into<Registration>,
        id: Option<&str>,
        force: bool,
    ) -> Result<Uri, DaemonError> {
        let id = match id {
            Some(DAEMON_OBJECT_ID) => return Err(DaemonError::Reserved(DAEMON_OBJECT_ID.into())),
            Some(id) => id.to_owned(),
            None => {
                let u = uuid4(&mut *self.entropy);
                format!("obj_{}", uuid_string(&u).replace('-', ""))
            }
        };
        if self.objects.contains_key(&id) && !force {
            return Err(DaemonError::AlreadyRegistered(id));
        }
        let uri = self.uri_for(&id)?;
        self.singles.remove(&id);
        self.sessions.retain(|(_, o), _| o != &id);
        self.objects.insert(id, servant.into());
        Ok(uri)
    }

    /// Remove the object `id`; `Pyro.Daemon` stays (a no-op, as in Pyro4).
    pub fn unregister(&mut self, id: &str) {
        self.objects.remove(id);
        self.singles.remove(id);
        self.sessions.retain(|(_, o), _| o != id);
    }

    /// Ids of all registered objects, `Pyro.Daemon` included.
    pub fn registered(&self) -> Vec<String> {
        core::iter::once(DAEMON_OBJECT_ID.to_owned())
            .chain(self.objects.keys().cloned())
            .collect()
    }

    /// The URI clients use for object `id` (the NAT address if one is set).
    pub fn uri_for(&self, id: &str) -> Result<Uri, DaemonError> {
        self.config
            .nat
            .as_ref()
            .unwrap_or(&self.config.location)
            .uri_for(id)
    }

    /// A Pyro4 `Pyro4.core.Proxy` value for object `id`, as Pyro4's
    /// `proxyFor` gives a servant to pass to clients (metadata filled in).
    pub fn proxy_for(&self, id: &str) -> Option<Value> {
        let meta = self.metadata(id)?;
        let names =
            |v: &[String]| Value::Tuple(v.iter().map(|s| Value::from(s.as_str())).collect());
        let state = Value::Tuple(alloc::vec![
            Value::from(self.uri_for(id).ok()?.to_string()),
            names(&meta.oneway),
            names(&meta.methods),
            names(&meta.attrs),
            Value::Float(0.0),
            Value::None,
            Value::Str("hello".into()),
            Value::Int(0),
            Value::None,
        ]);
        Some(Value::Class(Box::new(crate::value::ClassDict {
            class_name: "Pyro4.core.Proxy".into(),
            fields: Dict(alloc::vec![(Value::Str("state".into()), state)]),
        })))
    }

    /// What object `id` exposes; `None` if there is no such object.
    pub fn metadata(&self, id: &str) -> Option<Metadata> {
        if id == DAEMON_OBJECT_ID {
            return Some(object::metadata());
        }
        self.objects.get(id).map(Registration::metadata)
    }

    /// A client connected (`client` is its address, for `CallContext::client`).
    pub fn connection_opened(&mut self, conn: ConnId, client: Option<String>) {
        self.clients.insert(conn, client);
    }

    /// A client went away: its session instances are dropped, its streams
    /// linger for a reconnect (or are dropped when linger is zero).
    pub fn connection_closed(&mut self, conn: ConnId, now: Duration) {
        self.clients.remove(&conn);
        self.sessions.retain(|(c, _), _| *c != conn);
        let linger = !self.config.stream_linger.is_zero();
        self.streams.retain(|_, s| {
            if s.conn != Some(conn) {
                return true;
            }
            s.conn = None;
            s.detached_at = Some(now);
            linger
        });
    }

    /// Drop expired streams (lifetime since creation, linger since detach).
    /// Call it every few seconds; [`next_housekeeping`](Self::next_housekeeping)
    /// says when it next matters.
    pub fn housekeeping(&mut self, now: Duration) {
        let lifetime = self.config.stream_lifetime;
        let linger = self.config.stream_linger;
        self.streams.retain(|_, s| {
            let too_old = lifetime.is_some_and(|l| now.saturating_sub(s.created) > l);
            let gone = s
                .detached_at
                .is_some_and(|d| now.saturating_sub(d) > linger);
            !(too_old || gone)
        });
    }

    /// When housekeeping next has something to drop, if ever.
    pub fn next_housekeeping(&self) -> Option<Duration> {
        self.streams
            .values()
            .filter_map(|s| {
                let by_life = self.config.stream_lifetime.map(|l| s.created + l);
                let by_linger = s.detached_at.map(|d| d + self.config.stream_linger);
                match (by_life, by_linger) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }

    /// Number of open streams.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Check handshakes with `validator` instead of accepting every client.
    pub fn set_handshake_validator(&mut self, validator: HandshakeValidator) {
        self.validator = Some(validator);
    }

    /// Answer a handshake: the validator decides (Pyro4's default
    /// `validateHandshake` accepts any data and answers `'hello'`); metadata
    /// is included when asked for (an unknown object is then refused with
    /// `'unknown object'`).
    pub fn handshake(&self, req: &HandshakeRequest) -> Result<(Value, Option<Metadata>), String> {
        let response = match &self.validator {
            Some(validate) => validate(req)?,
            None => Value::Str("hello".into()),
        };
        let meta = match (&req.object, req.wants_metadata) {
            (Some(object), true) => Some(
                self.metadata(object)
                    .ok_or_else(|| "unknown object".to_string())?,
            ),
            _ => None,
        };
        Ok((response, meta))
    }

    /// Resolve a request (phase one of dispatch).
    pub fn prepare(&mut self, conn: ConnId, req: Request, now: Duration) -> Prepared {
        let oneway = req.is_oneway();
        let batch = req.is_batch();
        let ctx = CallContext {
            client: self.clients.get(&conn).cloned().flatten(),
            seq: req.seq,
            serializer: req.serializer,
            flags: req.flags,
            annotations: req.annotations,
            correlation_id: req.correlation_id,
            response_annotations: Annotations::new(),
        };
        let call = req.call;
        let quiet = |outcome: Outcome| {
            if oneway {
                Prepared::Done(Outcome::NoReply { close: false })
            } else {
                Prepared::Done(outcome)
            }
        };
        if call.object == DAEMON_OBJECT_ID {
            return self.daemon_object(
                conn,
                ctx,
                &call.method,
                call.vargs,
                call.kwargs,
                oneway,
                now,
            );
        }
        let Some(servant) = self.instance(conn, &call.object) else {
            return quiet(failed(
                RemoteError::daemon_error("unknown object"),
                "handleRequest",
                false,
            ));
        };
        let kind = if batch {
            match batch_calls(call.vargs) {
                Ok(calls) => JobKind::Batch {
                    servant,
                    calls,
                    oneway,
                },
                Err(e) => return quiet(failed(e, "<batch>", false)),
            }
        } else if call.method == "__getattr__" || call.method == "__setattr__" {
            let args = match Args::from_call(call.vargs, None) {
                Ok(a) => a.vargs,
                Err(e) => return quiet(failed(e, &call.method, false)),
            };
            let mut args = args.into_iter();
            let name = match args.next() {
                Some(Value::Str(name)) => name,
                _ => {
                    return quiet(failed(
                        RemoteError::builtin("TypeError", "attribute name must be string"),
                        &call.method,
                        false,
                    ))
                }
            };
            if !servant.metadata().attrs.iter().any(|a| *a == name) {
                return quiet(failed(
                    RemoteError::attribute_error(format!(
                        "attempt to access unexposed or unknown remote attribute '{name}'"
                    )),
                    &call.method,
                    false,
                ));
            }
            if call.method == "__getattr__" {
                JobKind::GetAttr {
                    servant,
                    name: name.into(),
                }
            } else {
                JobKind::SetAttr {
                    servant,
                    name: name.into(),
                    value: args.next().unwrap_or(Value::None),
                }
            }
        } else {
            if let Err(e) = resolve(servant.class_name(), &servant.metadata(), &call.method) {
                return quiet(failed(e, &call.method, false));
            }
            let args = match call.kwargs {
                Some(kwargs) => Args::from_call(call.vargs, Some(kwargs)),
                None => Err(RemoteError::builtin(
                    "TypeError",
                    format!(
                        "{}.{}() argument after ** must be a mapping, not NoneType",
                        servant.class_name(),
                        call.method
                    ),
                )),
            };
            match args {
                Ok(args) => JobKind::Call {
                    servant,
                    method: call.method.into(),
                    args,
                    oneway,
                },
                Err(e) => return quiet(failed(e, &call.method, false)),
            }
        };
        Prepared::Run(Job { conn, ctx, kind })
    }

    /// Turn a job's result into the reply (phase three of dispatch).
    pub fn complete(&mut self, done: JobDone, now: Duration) -> Outcome {
        let JobDone { conn, ctx, result } = done;
        match result {
            Done::Value(value) => Outcome::Value {
                value,
                response_annotations: ctx.response_annotations,
            },
            Done::Batch(results) => Outcome::Batch {
                results,
                response_annotations: ctx.response_annotations,
            },
            Done::Error { error, close } => Outcome::Exception { error, close },
            Done::NoReply { close } => Outcome::NoReply { close },
            Done::Stream(iter) => {
                if !self.config.iter_streaming {
                    return Outcome::Stream {
                        stream_id: String::new(),
                    };
                }
                let id = uuid_string(&uuid4(&mut *self.entropy));
                self.streams.insert(
                    id.clone(),
                    Stream {
                        conn: Some(conn),
                        created: now,
                        detached_at: None,
                        iter: Some(iter),
                    },
                );
                Outcome::Stream { stream_id: id }
            }
            Done::StreamItem { id, iter, item } => match item {
                Some(Ok(value)) => {
                    if let Some(s) = self.streams.get_mut(&id) {
                        s.iter = Some(iter);
                    }
                    Outcome::Value {
                        value,
                        response_annotations: ctx.response_annotations,
                    }
                }
                Some(Err(e)) => {
                    self.streams.remove(&id);
                    failed(e, "get_next_stream_item", false)
                }
                None => {
                    self.streams.remove(&id);
                    failed(
                        RemoteError::new("builtins.StopIteration", Vec::new()),
                        "get_next_stream_item",
                        false,
                    )
                }
            },
        }
    }

    /// Dispatch a request completely, running servant code inline.
    pub fn handle(&mut self, conn: ConnId, req: Request, now: Duration) -> Outcome {
        match self.prepare(conn, req, now) {
            Prepared::Done(outcome) => outcome,
            Prepared::Run(job) => {
                let done = job.run();
                self.complete(done, now)
            }
        }
    }

    /// The servant instance for `id` on `conn`, made per the instance mode.
    fn instance(&mut self, conn: ConnId, id: &str) -> Option<Arc<dyn Servant>> {
        match self.objects.get(id)? {
            Registration::Instance(s) => Some(s.clone()),
            Registration::Factory { mode, create, .. } => match mode {
                InstanceMode::PerCall => Some(create()),
                InstanceMode::Single => Some(
                    self.singles
                        .entry(id.to_owned())
                        .or_insert_with(|| create())
                        .clone(),
                ),
                InstanceMode::Session => Some(
                    self.sessions
                        .entry((conn, id.to_owned()))
                        .or_insert_with(|| create())
                        .clone(),
                ),
            },
        }
    }
}

/// The `(method, vargs, kwargs)` triples of a `<batch>` call.
fn batch_calls(vargs: Value) -> Result<Vec<(String, Args)>, RemoteError> {
    let items = match vargs {
        Value::List(v) | Value::Tuple(v) => v,
        other => {
            return Err(RemoteError::builtin(
                "TypeError",
                format!("batch calls must be a list, not {}", other.type_name()),
            ))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let parts = match item {
                Value::List(p) | Value::Tuple(p) if p.len() == 3 => p,
                _ => {
                    return Err(RemoteError::builtin(
                        "ValueError",
                        "a batch entry must be (method, vargs, kwargs)",
                    ))
                }
            };
            let mut parts = parts.into_iter();
            let (method, vargs, kwargs) = (parts.next(), parts.next(), parts.next());
            let method = match method {
                Some(Value::Str(m)) => m,
                _ => {
                    return Err(RemoteError::builtin(
                        "TypeError",
                        "batch method name must be a string",
                    ))
                }
            };
            let kwargs = match kwargs {
                Some(Value::Dict(d)) => Some(d),
                Some(Value::None) | None => None,
                Some(other) => {
                    return Err(RemoteError::builtin(
                        "TypeError",
                        format!(
                            "argument after ** must be a mapping, not {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            Ok((
                method.into(),
                Args::from_call(vargs.unwrap_or(Value::None), kwargs)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
