//! The blocking daemon: one thread per connection around the Sans-IO core.
//!
//! Threads: the caller's thread accepts connections in
//! [`Daemon::request_loop`]; every connection gets its own thread (Pyro4's
//! thread pool server, without its pool); a oneway call runs in a thread of
//! its own (Pyro4's `ONEWAY_THREADED`); a housekeeper thread expires streams.
//! The [`pyro_proto::daemon::Daemon`] core sits behind one mutex, which is
//! never held while servant code runs: a request is prepared under the lock,
//! its job runs outside it, and the result is completed under the lock again.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use pyro_proto::daemon::{ConnId, Daemon as Core, DaemonError, Location, Prepared, Registration};
use pyro_proto::session::{Request, ServerConfig, ServerEvent, ServerSession};
use pyro_proto::value::Value;
use pyro_proto::Uri;
use pyro_transport_common::daemon::{
    bind_tcp, housekeeping_wait, panic_message, panicked, BindError, BindTo, DaemonSettings,
    DENY_TIMEOUT, NO_FREE_WORKERS,
};

use crate::entropy::os_seeded_entropy;
use crate::net::{Conn, Listener, Waker};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// Errors of binding and serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host name did not resolve to any address.
    #[error("cannot resolve host '{host}': {source}")]
    Resolve {
        /// The host as given.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The address (or Unix socket path) could not be bound: in use, no
    /// permission, no such interface...
    #[error("cannot bind {address}: {source}")]
    Bind {
        /// The address or path.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file is in the way of the Unix socket and cannot be removed.
    #[error("cannot remove the stale Unix socket file {}: {source}", path.display())]
    StaleSocket {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Unix sockets were asked for on a platform without them.
    #[error("Unix domain sockets are not available on this platform")]
    UnixUnsupported,
    /// A registry operation failed (id taken, reserved, not usable in a URI).
    #[error(transparent)]
    Registry(#[from] DaemonError),
    /// `request_loop` was already run on this daemon; bind a new one.
    #[error("the request loop of this daemon already ran; bind a new daemon")]
    NotListening,
}

/// Where and how a [`Daemon`] serves: Pyro4's daemon config items.
///
/// Defaults follow Pyro4: `localhost` port 0 (any free port), serializers
/// serpent, json and marshal (pickle only when asked for), no HMAC, no
/// compression, no message size limit, no comm timeout, stream linger 30 s,
/// no stream lifetime, oneway calls threaded, no connection limit.
#[derive(Default)]
pub struct DaemonBuilder {
    /// The options both adapters share (their setters come from
    /// [`pyro_transport_common::daemon_builder_options`]).
    settings: DaemonSettings,
}

impl DaemonBuilder {
    pyro_transport_common::daemon_builder_options!();

    /// Run oneway calls in their own thread (Pyro4's `ONEWAY_THREADED`,
    /// default on) so the client's next call is not held up.
    pub fn oneway_threaded(mut self, on: bool) -> Self {
        self.settings.oneway_threaded = on;
        self
    }

    /// Bind the socket. The daemon serves once [`Daemon::request_loop`] runs.
    pub fn bind(self) -> Result<Daemon, Error> {
        let (listener, location) = match &self.settings.bind {
            BindTo::Tcp { host, port } => bind_tcp(host, *port, |l| Ok(Listener::Tcp(l)))?,
            BindTo::Unix(path) => bind_unix(path)?,
        };
        let waker = listener.waker().map_err(|source| Error::Bind {
            address: describe(&location),
            source,
        })?;
        let settings = self.settings;
        let config = settings.daemon_config(location);
        let shared = Shared {
            core: Mutex::new(Core::new(config, Box::new(os_seeded_entropy()))),
            server: Arc::new(settings.server),
            start: Instant::now(),
            comm_timeout: settings.comm_timeout,
            max_connections: settings.max_connections,
            oneway_threaded: settings.oneway_threaded,
            stopping: AtomicBool::new(false),
            timer: (Mutex::new(()), Condvar::new()),
            conns: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            waker,
        };
        Ok(Daemon {
            handle: DaemonHandle {
                shared: Arc::new(shared),
            },
            listener: Mutex::new(Some(listener)),
        })
    }
}

impl From<BindError> for Error {
    fn from(e: BindError) -> Error {
        match e {
            BindError::Resolve { host, source } => Error::Resolve { host, source },
            BindError::Bind { address, source } => Error::Bind { address, source },
            BindError::StaleSocket { path, source } => Error::StaleSocket { path, source },
            BindError::UnixUnsupported => Error::UnixUnsupported,
        }
    }
}

fn describe(location: &Location) -> String {
    match location {
        Location::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        Location::Tcp { host, port } => format!("{host}:{port}"),
        Location::Unix { path } => format!("unix socket {path}"),
    }
}

#[cfg(unix)]
fn bind_unix(path: &Path) -> Result<(Listener, Location), BindError> {
    let adopt = |l| Ok(Listener::Unix(l, path.to_path_buf()));
    pyro_transport_common::daemon::bind_unix(path, adopt)
}

#[cfg(not(unix))]
fn bind_unix(_path: &Path) -> Result<(Listener, Location), BindError> {
    Err(BindError::UnixUnsupported)
}

/// What the accept loop, the connection threads and the handles share.
struct Shared {
    core: Mutex<Core>,
    server: Arc<ServerConfig>,
    start: Instant,
    comm_timeout: Option<Duration>,
    max_connections: Option<usize>,
    oneway_threaded: bool,
    stopping: AtomicBool,
    /// Wakes the housekeeper early at shutdown.
    timer: (Mutex<()>, Condvar),
    /// A clone of every open connection, to unblock its thread at shutdown.
    conns: Mutex<HashMap<u64, Conn>>,
    /// Connection and oneway threads, joined when the request loop ends.
    threads: Mutex<Vec<JoinHandle<()>>>,
    active: AtomicUsize,
    next_conn: AtomicU64,
    waker: Waker,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Servant code never runs under these locks, so poisoning only follows a
    // bug in this crate; the data is still consistent enough to shut down.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// The protocol core's clock: time since the daemon was bound.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Start a thread that the request loop joins at the end; `false` when
    /// the OS refuses a new thread (`f` is then dropped unrun).
    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> bool {
        match thread::Builder::new().name(name.to_string()).spawn(f) {
            Ok(handle) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
                true
            }
            Err(_) => false,
        }
    }
}

/// A cloneable, thread-safe handle on a [`Daemon`]: registry operations and
/// [`shutdown`](Self::shutdown) from any thread (also from servant code).
#[derive(Clone)]
pub struct DaemonHandle {
    shared: Arc<Shared>,
}

impl DaemonHandle {
    // register, unregister, uri_for, proxy_for, location, stream_count,
    // connection_count, with_core (see
    // [`pyro_transport_common::daemon_handle_registry`]).
    pyro_transport_common::daemon_handle_registry!();

    /// Stop serving: no more connections are accepted and open ones are
    /// closed once their current request is answered. Returns at once (so a
    /// servant may call it); [`Daemon::request_loop`] returns once every
    /// thread has finished (a running servant call is not interrupted).
    pub fn shutdown(&self) {
        let s = &self.shared;
        {
            let conns = lock(&s.conns);
            s.stopping.store(true, Ordering::SeqCst);
            for conn in conns.values() {
                conn.shutdown(Shutdown::Read);
            }
        }
        drop(lock(&s.timer.0));
        s.timer.1.notify_all();
        s.waker.wake();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }
}

/// A Pyro4 daemon on a blocking socket. Registry operations and shutdown
/// live on [`DaemonHandle`], which `Daemon` dereferences to.
pub struct Daemon {
    handle: DaemonHandle,
    listener: Mutex<Option<Listener>>,
}

impl Deref for Daemon {
    type Target = DaemonHandle;
    fn deref(&self) -> &DaemonHandle {
        &self.handle
    }
}

impl Daemon {
    /// Configure a daemon (bind address, HMAC key, serializers, ...).
    pub fn builder() -> DaemonBuilder {
        DaemonBuilder::default()
    }

    /// A handle to keep when the daemon moves into its serving thread.
    pub fn handle(&self) -> DaemonHandle {
        self.handle.clone()
    }

    /// Serve until [`DaemonHandle::shutdown`]; then close every connection,
    /// join every thread this daemon started, and close the listening socket
    /// (removing a Unix socket file). Runs once per daemon.
    pub fn request_loop(&self) -> Result<(), Error> {
        let listener = lock(&self.listener).take().ok_or(Error::NotListening)?;
        let shared = &self.handle.shared;
        let keeper = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("pyro-housekeeper".into())
                .spawn(move || housekeeper(&shared))
                .expect("cannot spawn the housekeeper thread")
        };
        while !self.is_shut_down() {
            match listener.accept() {
                Ok((conn, peer)) => self.admit(conn, peer),
                Err(_) if self.is_shut_down() => break,
                // Aborted handshakes, out of file descriptors...: keep serving.
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        drop(listener);
        self.shutdown();
        let _ = keeper.join();
        loop {
            let threads = std::mem::take(&mut *lock(&shared.threads));
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
        Ok(())
    }

    /// Register `objects` under their ids, print their URIs as Pyro4's
    /// `serveSimple` does, and serve until shutdown.
    pub fn serve_simple<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a str, Registration)>,
    ) -> Result<(), Error> {
        for (id, servant) in objects {
            let uri = self.register(servant, Some(id))?;
            println!("Object {id}:\n    uri = {uri}");
        }
        println!("Pyro daemon running.");
        self.request_loop()
    }

    /// Hand an accepted connection to a thread of its own (or refuse it).
    fn admit(&self, conn: Conn, peer: Option<String>) {
        let shared = &self.handle.shared;
        let full = shared
            .max_connections
            .is_some_and(|max| shared.active.load(Ordering::SeqCst) >= max);
        if full {
            let config = shared.server.clone();
            shared.spawn("pyro-deny", move || deny(config, conn, NO_FREE_WORKERS));
            return;
        }
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        {
            let mut conns = lock(&shared.conns);
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            match conn.try_clone() {
                Ok(clone) => conns.insert(id, clone),
                Err(_) => return,
            };
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let worker = shared.clone();
        let started = shared.spawn(&format!("pyro-conn-{id}"), move || {
            serve_connection(&worker, ConnId(id), conn, peer);
            lock(&worker.conns).remove(&id);
            worker.active.fetch_sub(1, Ordering::SeqCst);
        });
        if !started {
            // Out of threads: the connection was dropped (closed) with the closure.
            lock(&shared.conns).remove(&id);
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Expire streams every couple of seconds, or sooner when one is due.
fn housekeeper(shared: &Shared) {
    let mut guard = lock(&shared.timer.0);
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let wait = housekeeping_wait(shared.core().next_housekeeping(), shared.now());
        guard = shared
            .timer
            .1
            .wait_timeout(guard, wait)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if !shared.stopping.load(Ordering::SeqCst) {
            shared.core().housekeeping(shared.now());
        }
    }
}

/// Write everything the session has queued.
fn flush(session: &mut ServerSession, conn: &mut Conn) -> io::Result<()> {
    while let Some(chunk) = session.poll_transmit() {
        conn.write_all(&chunk)?;
    }
    Ok(())
}

/// Read into a shared buffer and hand the session zero-copy slices of it.
fn read_into(conn: &mut Conn, buf: &mut BytesMut, session: &mut ServerSession) -> io::Result<bool> {
    // `buf` holds initialised bytes that later reads overwrite; it is
    // zero-filled only when it has run low, not before every read.
    if buf.len() < READ_CHUNK / 4 {
        buf.clear();
        buf.reserve(READ_CHUNK);
        buf.resize(buf.capacity(), 0);
    }
    let n = loop {
        match conn.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    if n == 0 {
        session.end_of_input();
        return Ok(false);
    }
    let data = buf.split_to(n).freeze();
    session.receive_bytes(data);
    Ok(true)
}

/// One client connection, from handshake to close.
fn serve_connection(shared: &Arc<Shared>, id: ConnId, mut conn: Conn, peer: Option<String>) {
    let mut session = ServerSession::new(shared.server.clone(), Box::new(os_seeded_entropy()));
    shared.core().connection_opened(id, peer);
    let mut buf = BytesMut::new();
    let mut open = conn.set_timeout(shared.comm_timeout).is_ok();
    while open {
        while let Some(event) = session.poll_event() {
            match event {
                ServerEvent::Handshake(req) => {
                    let answer = shared.core().handshake(&req);
                    let _ = match answer {
                        Ok((response, meta)) => session.accept_handshake(req.id, response, meta),
                        Err(reason) => session.reject_handshake(req.id, &reason),
                    };
                }
                ServerEvent::Request(req) => dispatch(shared, id, &mut session, req),
                ServerEvent::Closed(_) => {}
            }
            flush(&mut session, &mut conn).ok();
        }
        // A read error is the peer gone, the comm timeout, or our shutdown.
        open = flush(&mut session, &mut conn).is_ok()
            && !session.is_closed()
            && read_into(&mut conn, &mut buf, &mut session).unwrap_or(false);
    }
    // Requests that arrived whole before the peer closed still count.
    while let Some(ServerEvent::Request(req)) = session.poll_event() {
        dispatch(shared, id, &mut session, req);
    }
    flush(&mut session, &mut conn).ok();
    conn.shutdown(Shutdown::Both);
    shared.core().connection_closed(id, shared.now());
}

/// Two-phase dispatch of one request; servant code runs unlocked.
fn dispatch(shared: &Arc<Shared>, conn: ConnId, session: &mut ServerSession, req: Request) {
    let id = req.id;
    let prepared = shared.core().prepare(conn, req, shared.now());
    let job = match prepared {
        Prepared::Done(outcome) => {
            let _ = session.reply(id, outcome);
            return;
        }
        Prepared::Run(job) => job,
    };
    let job = if shared.oneway_threaded && job.is_oneway_call() {
        // As Pyro4's _OnewayCallThread: the outcome (even a failure) is dropped.
        // Should no thread be available, the call runs inline after all.
        let slot = Arc::new(Mutex::new(Some(job)));
        let (worker, theirs) = (shared.clone(), slot.clone());
        let started = shared.spawn("pyro-oneway", move || {
            if let Some(job) = lock(&theirs).take() {
                if let Ok(done) = catch_unwind(AssertUnwindSafe(|| job.run())) {
                    worker.core().complete(done, worker.now());
                }
            }
        });
        if started {
            return;
        }
        let job = lock(&slot).take();
        match job {
            Some(job) => job,
            None => return,
        }
    } else {
        job
    };
    let outcome = match catch_unwind(AssertUnwindSafe(|| job.run())) {
        Ok(done) => shared.core().complete(done, shared.now()),
        Err(panic) => panicked(&panic_message(&*panic)),
    };
    let _ = session.reply(id, outcome);
}

/// Refuse a client as Pyro4 does when its pool is full: read the CONNECT,
/// answer CONNECTFAIL with `reason`, close.
fn deny(config: Arc<ServerConfig>, mut conn: Conn, reason: &str) {
    let mut session = ServerSession::new(config, Box::new(os_seeded_entropy()));
    let mut buf = BytesMut::new();
    if conn.set_timeout(Some(DENY_TIMEOUT)).is_err() {
        return;
    }
    loop {
        match session.poll_event() {
            Some(ServerEvent::Handshake(req)) => {
                let _ = session.reject_handshake(req.id, reason);
                break;
            }
            Some(_) => break,
            None if session.is_closed() => break,
            None => {
                if !read_into(&mut conn, &mut buf, &mut session).unwrap_or(false) {
                    break;
                }
            }
        }
    }
    flush(&mut session, &mut conn).ok();
    conn.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_a_real_port_into_uris() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        let Location::Tcp { host, port } = daemon.location() else {
            panic!("not TCP");
        };
        assert_eq!(host, "127.0.0.1");
        assert_ne!(port, 0);
        let uri = daemon.uri_for("thing").unwrap().to_string();
        assert_eq!(uri, format!("PYRO:thing@127.0.0.1:{port}"));
    }

    #[test]
    fn request_loop_runs_once_and_returns_after_shutdown() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        let handle = daemon.handle();
        let daemon = Arc::new(daemon);
        let runner = {
            let daemon = daemon.clone();
            thread::spawn(move || daemon.request_loop())
        };
        thread::sleep(Duration::from_millis(50));
        handle.shutdown();
        runner.join().unwrap().unwrap();
        assert!(handle.is_shut_down());
        assert!(matches!(daemon.request_loop(), Err(Error::NotListening)));
    }

    #[test]
    fn registry_errors_are_typed() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        let servant = pyro_proto::servant::ServantBuilder::new("X").build();
        daemon.register(servant.clone(), Some("x")).unwrap();
        let err = daemon.register(servant.clone(), Some("x")).unwrap_err();
        assert!(matches!(
            err,
            Error::Registry(DaemonError::AlreadyRegistered(_))
        ));
        daemon.unregister("x");
        daemon.register(servant, Some("x")).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn unix_socket_replaces_a_stale_file_and_removes_it_at_the_end() {
        let path = std::env::temp_dir().join(format!("pyro-rs-unit-{}.sock", std::process::id()));
        std::fs::write(&path, b"stale").unwrap();
        let daemon = Daemon::builder().unix(&path).bind().unwrap();
        assert_eq!(
            daemon.uri_for("o").unwrap().to_string(),
            format!("PYRO:o@./u:{}", path.display())
        );
        daemon.shutdown();
        daemon.request_loop().unwrap();
        assert!(!path.exists());
    }
}
