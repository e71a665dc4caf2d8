//! The async daemon: one task per connection around the Sans-IO core.
//!
//! Tasks: [`Daemon::run`] drives an executor of its own on which the accept
//! loop, every connection, every threaded oneway call and the housekeeper
//! run as tasks. Servant code may block, so every [`Job`] runs on smol's
//! blocking thread pool ([`smol::unblock`]) and the executor is never stalled.
//! The [`pyro_proto::daemon::Daemon`] core sits behind one mutex that is never
//! held across an `.await` nor while servant code runs: a request is prepared
//! under the lock, its job runs outside it, the result is completed under it.

use std::io;
use std::net::Shutdown;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use pyro_proto::daemon::{
    ConnId, Daemon as Core, DaemonError, Job, JobDone, Location, Prepared, Registration,
};
use pyro_proto::session::{Request, ServerConfig, ServerEvent, ServerSession};
use pyro_proto::value::Value;
use pyro_proto::Uri;
use pyro_transport_common::daemon::{
    bind_tcp, housekeeping_wait, panic_message, panicked, BindError, BindTo, DaemonSettings,
    DENY_TIMEOUT, NO_FREE_WORKERS,
};
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::{Executor, Task, Timer};

use crate::entropy::os_seeded_entropy;
use crate::net::{within, Conn};

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
    /// [`Daemon::run`] was already run on this daemon; bind a new one.
    #[error("this daemon already ran; bind a new daemon")]
    NotListening,
}

/// Where and how a [`Daemon`] serves: Pyro4's daemon config items.
///
/// Defaults follow Pyro4: `localhost` port 0 (any free port), serializers
/// serpent, json and marshal (pickle only when asked for), no HMAC, no
/// compression, no message size limit, no comm timeout, stream linger 30 s,
/// no stream lifetime, oneway calls in tasks of their own, no connection limit.
pub struct DaemonBuilder {
    /// The options both adapters share (their setters come from
    /// [`pyro_transport_common::daemon_builder_options`]).
    settings: DaemonSettings,
    servants_may_block: bool,
}

impl Default for DaemonBuilder {
    fn default() -> DaemonBuilder {
        DaemonBuilder {
            settings: DaemonSettings::default(),
            servants_may_block: true,
        }
    }
}

impl DaemonBuilder {
    pyro_transport_common::daemon_builder_options!();

    /// Run oneway calls in a task of their own (Pyro4's `ONEWAY_THREADED`,
    /// default on) so the client's next call is not held up.
    pub fn oneway_threaded(mut self, on: bool) -> Self {
        self.settings.oneway_threaded = on;
        self
    }

    /// Whether servant code may block (default: yes). Then every job runs
    /// on smol's blocking thread pool ([`smol::unblock`]), so a sleeping or
    /// computing servant never stalls the other connections. Only for
    /// servants that never block nor run long (pure computations on small
    /// data): `false` runs them on the executor itself, which saves the
    /// hand-off to the pool on every request. Threaded oneway calls still
    /// run in a task of their own.
    pub fn servants_may_block(mut self, may_block: bool) -> Self {
        self.servants_may_block = may_block;
        self
    }

    /// Bind the socket. The daemon serves once [`Daemon::run`] is awaited.
    /// Name resolution and binding are quick and done in place.
    pub fn bind(self) -> Result<Daemon, Error> {
        let (listener, location) = match &self.settings.bind {
            BindTo::Tcp { host, port } => bind_tcp(host, *port, |l| {
                Ok(Listener::Tcp(smol::net::TcpListener::try_from(l)?))
            })?,
            BindTo::Unix(path) => bind_unix(path)?,
        };
        let settings = self.settings;
        let config = settings.daemon_config(location);
        let (stop_tx, stop_rx) = smol::channel::bounded(1);
        let shared = Shared {
            core: Mutex::new(Core::new(config, Box::new(os_seeded_entropy()))),
            server: Arc::new(settings.server),
            start: Instant::now(),
            comm_timeout: settings.comm_timeout,
            max_connections: settings.max_connections,
            oneway_threaded: settings.oneway_threaded,
            servants_may_block: self.servants_may_block,
            stopping: AtomicBool::new(false),
            stop_tx,
            stop_rx,
            tasks: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
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

/// The listening socket; a Unix socket's file is removed when it is dropped.
enum Listener {
    Tcp(smol::net::TcpListener),
    #[cfg(unix)]
    Unix(smol::net::unix::UnixListener, PathBuf),
}

impl Listener {
    async fn accept(&self) -> io::Result<(Conn, Option<String>)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Replies are written whole; no Nagle delay (Pyro4's SOCK_NODELAY).
                let _ = stream.set_nodelay(true);
                Ok((Conn::Tcp(stream), Some(peer.to_string())))
            }
            #[cfg(unix)]
            Listener::Unix(l, _) => {
                let (stream, _) = l.accept().await?;
                Ok((Conn::Unix(stream), None))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(unix)]
fn bind_unix(path: &Path) -> Result<(Listener, Location), BindError> {
    pyro_transport_common::daemon::bind_unix(path, |l| {
        let l = smol::net::unix::UnixListener::try_from(l)?;
        Ok(Listener::Unix(l, path.to_path_buf()))
    })
}

#[cfg(not(unix))]
fn bind_unix(_path: &Path) -> Result<(Listener, Location), BindError> {
    Err(BindError::UnixUnsupported)
}

/// What the serving tasks and the handles share.
struct Shared {
    core: Mutex<Core>,
    server: Arc<ServerConfig>,
    start: Instant,
    comm_timeout: Option<Duration>,
    max_connections: Option<usize>,
    oneway_threaded: bool,
    servants_may_block: bool,
    stopping: AtomicBool,
    /// Closed at shutdown: every task waiting on `stop_rx` wakes up.
    stop_tx: Sender<()>,
    stop_rx: Receiver<()>,
    /// Oneway calls and refusals in flight, awaited when `run` ends.
    tasks: Mutex<Vec<Task<()>>>,
    active: AtomicUsize,
    next_conn: AtomicU64,
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

    /// Resolves once shutdown was asked for.
    async fn stopped(&self) {
        // Nothing is ever sent: `recv` fails when shutdown closes the channel.
        let _ = self.stop_rx.recv().await;
    }

    /// Keep `task` so `run` awaits it before returning.
    fn keep(&self, task: Task<()>) {
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

/// A cheap, cloneable handle to a [`Daemon`]: registry operations and
/// shutdown, usable from any thread or task (also from servant code).
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
    /// servant may call it); [`Daemon::run`] completes once every task has
    /// finished (a running servant call is not interrupted).
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.stop_tx.close();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }
}

/// A Pyro4 daemon on async sockets. Registry operations and shutdown live
/// on [`DaemonHandle`], which `Daemon` dereferences to.
///
/// ```no_run
/// use pyro_transport_smol::Daemon;
/// use pyro_proto::servant::ServantBuilder;
///
/// let echo = ServantBuilder::new("Echo")
///     .method("echo", |(text,): (String,)| Ok(text))
///     .build();
/// let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind()?;
/// println!("{}", daemon.register(echo, Some("example.echo"))?);
/// smol::block_on(daemon.run())?;
/// # Ok::<(), pyro_transport_smol::Error>(())
/// ```
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

    /// A handle to keep when the daemon moves into its serving task.
    pub fn handle(&self) -> DaemonHandle {
        self.handle.clone()
    }

    /// Serve until [`DaemonHandle::shutdown`]; then close every connection,
    /// await every task this daemon started and close the listening socket
    /// (removing a Unix socket file). Runs once per daemon.
    ///
    /// The future drives an executor of its own, on which every connection
    /// is a task: await it on any executor (or `smol::block_on`). Servant
    /// code runs on smol's blocking pool, many connections at once.
    /// Dropping the future instead of calling shutdown stops serving
    /// abruptly: every connection is cut and unfinished calls are abandoned.
    pub async fn run(&self) -> Result<(), Error> {
        let listener = lock(&self.listener).take().ok_or(Error::NotListening)?;
        let shared = self.handle.shared.clone();
        let ex = Arc::new(Executor::new());
        let serve = async {
            let keeper = ex.spawn(housekeeper(shared.clone()));
            let mut conns: Vec<Task<()>> = Vec::new();
            while !shared.stopping.load(Ordering::SeqCst) {
                let accepted = async { Some(listener.accept().await) }
                    .or(async {
                        shared.stopped().await;
                        None
                    })
                    .await;
                match accepted {
                    None => break,
                    Some(Ok((conn, peer))) => {
                        conns.retain(|t| !t.is_finished());
                        if let Some(task) = admit(&shared, &ex, conn, peer) {
                            conns.push(task);
                        }
                    }
                    // Aborted handshakes, out of file descriptors...: keep serving.
                    Some(Err(_)) => {
                        Timer::after(Duration::from_millis(10)).await;
                    }
                }
            }
            drop(listener);
            self.shutdown();
            keeper.await;
            for task in conns {
                task.await;
            }
            loop {
                let tasks = std::mem::take(&mut *lock(&shared.tasks));
                if tasks.is_empty() {
                    break;
                }
                for task in tasks {
                    task.await;
                }
            }
        };
        ex.run(serve).await;
        Ok(())
    }

    /// Register `objects` under their ids, print their URIs as Pyro4's
    /// `serveSimple` does, and serve until shutdown.
    pub async fn serve_simple<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a str, Registration)>,
    ) -> Result<(), Error> {
        for (id, servant) in objects {
            let uri = self.register(servant, Some(id))?;
            println!("Object {id}:\n    uri = {uri}");
        }
        println!("Pyro daemon running.");
        self.run().await
    }
}

/// Start a task for an accepted connection (or refuse it when full).
fn admit(
    shared: &Arc<Shared>,
    ex: &Arc<Executor<'static>>,
    conn: Conn,
    peer: Option<String>,
) -> Option<Task<()>> {
    let full = shared
        .max_connections
        .is_some_and(|max| shared.active.load(Ordering::SeqCst) >= max);
    if full {
        let config = shared.server.clone();
        shared.keep(ex.spawn(deny(config, conn, NO_FREE_WORKERS)));
        return None;
    }
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.active.fetch_add(1, Ordering::SeqCst);
    // Weak: the executor owns the task, so a strong reference would keep
    // both alive after `run` is dropped.
    let (worker, executor) = (shared.clone(), Arc::downgrade(ex));
    Some(ex.spawn(async move {
        serve_connection(&worker, &executor, ConnId(id), conn, peer).await;
        worker.active.fetch_sub(1, Ordering::SeqCst);
    }))
}

/// Expire streams every couple of seconds, or sooner when one is due.
async fn housekeeper(shared: Arc<Shared>) {
    loop {
        let wait = housekeeping_wait(shared.core().next_housekeeping(), shared.now());
        let stop = async {
            Timer::after(wait).await;
            false
        }
        .or(async {
            shared.stopped().await;
            true
        })
        .await;
        if stop || shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.core().housekeeping(shared.now());
    }
}

/// Write everything the session has queued (within the comm timeout).
async fn flush(
    session: &mut ServerSession,
    conn: &mut Conn,
    limit: Option<Duration>,
) -> io::Result<()> {
    while let Some(chunk) = session.poll_transmit() {
        within(limit, conn.write_all(&chunk)).await?;
    }
    Ok(())
}

/// Read once into the session; `false` when the connection is done (peer
/// closed, comm timeout, read error, or the daemon shutting down).
async fn read_into(
    shared: &Shared,
    conn: &mut Conn,
    buf: &mut [u8],
    session: &mut ServerSession,
    limit: Option<Duration>,
) -> bool {
    let read = async { Some(within(limit, conn.read(buf)).await) }
        .or(async {
            shared.stopped().await;
            None
        })
        .await;
    match read {
        Some(Ok(0)) => {
            session.end_of_input();
            false
        }
        Some(Ok(n)) => {
            session.receive(&buf[..n]);
            true
        }
        _ => false,
    }
}

/// One client connection, from handshake to close.
async fn serve_connection(
    shared: &Arc<Shared>,
    ex: &Weak<Executor<'static>>,
    id: ConnId,
    mut conn: Conn,
    peer: Option<String>,
) {
    let mut session = ServerSession::new(shared.server.clone(), Box::new(os_seeded_entropy()));
    shared.core().connection_opened(id, peer);
    let mut buf = vec![0u8; READ_CHUNK];
    let limit = shared.comm_timeout;
    let mut open = true;
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
                ServerEvent::Request(req) => dispatch(shared, ex, id, &mut session, req).await,
                ServerEvent::Closed(_) => {}
            }
            flush(&mut session, &mut conn, limit).await.ok();
        }
        open = flush(&mut session, &mut conn, limit).await.is_ok()
            && !session.is_closed()
            && read_into(shared, &mut conn, &mut buf, &mut session, limit).await;
    }
    // Requests that arrived whole before the peer closed still count.
    while let Some(ServerEvent::Request(req)) = session.poll_event() {
        dispatch(shared, ex, id, &mut session, req).await;
    }
    flush(&mut session, &mut conn, limit).await.ok();
    conn.shutdown(Shutdown::Both);
    shared.core().connection_closed(id, shared.now());
}

/// Run servant code (on the blocking pool when it may block); a panic
/// becomes its message.
async fn run_job(job: Job, may_block: bool) -> Result<JobDone, String> {
    let run = move || {
        catch_unwind(AssertUnwindSafe(|| job.run())).map_err(|panic| panic_message(&*panic))
    };
    if may_block {
        smol::unblock(run).await
    } else {
        run()
    }
}

/// Two-phase dispatch of one request; servant code runs unlocked, off the executor.
async fn dispatch(
    shared: &Arc<Shared>,
    ex: &Weak<Executor<'static>>,
    conn: ConnId,
    session: &mut ServerSession,
    req: Request,
) {
    let id = req.id;
    let prepared = shared.core().prepare(conn, req, shared.now());
    let job = match prepared {
        Prepared::Done(outcome) => {
            let _ = session.reply(id, outcome);
            return;
        }
        Prepared::Run(job) => job,
    };
    let executor = ex.upgrade().filter(|_| shared.oneway_threaded);
    if let Some(ex) = executor.filter(|_| job.is_oneway_call()) {
        // As Pyro4's _OnewayCallThread: the outcome (even a failure) is dropped.
        let worker = shared.clone();
        shared.keep(ex.spawn(async move {
            if let Ok(done) = run_job(job, worker.servants_may_block).await {
                worker.core().complete(done, worker.now());
            }
        }));
        return;
    }
    let outcome = match run_job(job, shared.servants_may_block).await {
        Ok(done) => shared.core().complete(done, shared.now()),
        Err(text) => panicked(&text),
    };
    let _ = session.reply(id, outcome);
}

/// Refuse a client as Pyro4 does when its pool is full: read the CONNECT,
/// answer CONNECTFAIL with `reason`, close.
async fn deny(config: Arc<ServerConfig>, mut conn: Conn, reason: &'static str) {
    let mut session = ServerSession::new(config, Box::new(os_seeded_entropy()));
    let mut buf = vec![0u8; 4096];
    let work = async {
        loop {
            match session.poll_event() {
                Some(ServerEvent::Handshake(req)) => {
                    let _ = session.reject_handshake(req.id, reason);
                    break;
                }
                Some(_) => break,
                None if session.is_closed() => break,
                None => match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => session.receive(&buf[..n]),
                },
            }
        }
        while let Some(chunk) = session.poll_transmit() {
            if conn.write_all(&chunk).await.is_err() {
                break;
            }
        }
    };
    work.or(async {
        Timer::after(DENY_TIMEOUT).await;
    })
    .await;
    conn.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Proxy;
    use pyro_proto::servant::ServantBuilder;

    fn adder() -> Registration {
        ServantBuilder::new("Adder")
            .method("add", |(a, b): (i64, i64)| Ok(a + b))
            .build()
            .into()
    }

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
        let nat = Daemon::builder()
            .tcp("127.0.0.1", 0)
            .nat("gateway.example", 0)
            .bind()
            .unwrap();
        let Location::Tcp { port, .. } = nat.location() else {
            panic!("not TCP");
        };
        assert_eq!(
            nat.uri_for("x").unwrap().to_string(),
            format!("PYRO:x@gateway.example:{port}")
        );
    }

    #[test]
    fn run_once_and_return_after_shutdown() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        let handle = daemon.handle();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            handle.shutdown();
        });
        smol::block_on(daemon.run()).unwrap();
        stopper.join().unwrap();
        assert!(daemon.is_shut_down());
        assert!(matches!(
            smol::block_on(daemon.run()),
            Err(Error::NotListening)
        ));
    }

    #[test]
    fn registry_and_bind_errors_are_typed() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        daemon.register(adder(), Some("x")).unwrap();
        let err = daemon.register(adder(), Some("x")).unwrap_err();
        assert!(matches!(
            err,
            Error::Registry(DaemonError::AlreadyRegistered(_))
        ));
        daemon.unregister("x");
        daemon.register(adder(), Some("x")).unwrap();
        let Location::Tcp { port, .. } = daemon.location() else {
            panic!("not TCP");
        };
        let err = Daemon::builder()
            .tcp("127.0.0.1", port)
            .bind()
            .err()
            .unwrap();
        assert!(matches!(err, Error::Bind { .. }), "{err:?}");
        let err = Daemon::builder()
            .tcp("no-such-host.invalid", 0)
            .bind()
            .err()
            .unwrap();
        assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
    }

    /// Serve `daemon` on the current thread while `client` runs on it too:
    /// the daemon's future and the client share one executor.
    fn serve_while<T>(daemon: Daemon, client: impl std::future::Future<Output = T>) -> T {
        smol::block_on(async {
            let out = async {
                let out = client.await;
                daemon.shutdown();
                Some(out)
            };
            let served = async {
                daemon.run().await.unwrap();
                None
            };
            let (a, b) = smol::future::zip(out, served).await;
            a.or(b).unwrap()
        })
    }

    #[cfg(unix)]
    #[test]
    fn unix_socket_replaces_a_stale_file_and_removes_it_at_the_end() {
        let path = std::env::temp_dir().join(format!("pyro-rs-smol-{}.sock", std::process::id()));
        std::fs::write(&path, b"stale").unwrap();
        let daemon = Daemon::builder().unix(&path).bind().unwrap();
        let uri = daemon.register(adder(), Some("o")).unwrap();
        assert_eq!(uri.to_string(), format!("PYRO:o@./u:{}", path.display()));
        let sum = serve_while(daemon, async {
            Proxy::new(&uri).unwrap().call::<i64>("add", (20, 22)).await
        });
        assert_eq!(sum.unwrap(), 42);
        assert!(!path.exists(), "socket file left behind");
    }

    #[test]
    fn ipv6_loopback() {
        let daemon = match Daemon::builder().tcp("[::1]", 0).bind() {
            Ok(d) => d,
            Err(e) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "no IPv6 loopback on a CI machine: {e}"
                );
                println!("SKIPPED: no IPv6 loopback here: {e}");
                return;
            }
        };
        let uri = daemon.register(adder(), Some("v6")).unwrap();
        assert!(uri.to_string().contains("@[::1]:"), "{uri}");
        let sum = serve_while(daemon, async {
            Proxy::new(&uri).unwrap().call::<i64>("add", (1, 2)).await
        });
        assert_eq!(sum.unwrap(), 3);
    }

    #[test]
    fn connection_limit_refuses_with_pyro4s_text() {
        let daemon = Daemon::builder()
            .tcp("127.0.0.1", 0)
            .max_connections(Some(1))
            .bind()
            .unwrap();
        let uri = daemon.register(adder(), Some("o")).unwrap();
        let (first, second) = serve_while(daemon, async {
            let a = Proxy::new(&uri).unwrap();
            a.bind().await.unwrap();
            let b = Proxy::new(&uri).unwrap();
            let refused = b.bind().await;
            (a.call::<i64>("add", (1, 1)).await, refused)
        });
        assert_eq!(first.unwrap(), 2);
        let err = second.unwrap_err();
        assert!(matches!(err, crate::ProxyError::Rejected { .. }), "{err:?}");
        assert!(err.to_string().contains(NO_FREE_WORKERS), "{err}");
    }

    #[test]
    fn comm_timeout_drops_a_silent_client() {
        let daemon = Daemon::builder()
            .tcp("127.0.0.1", 0)
            .comm_timeout(Some(Duration::from_millis(100)))
            .bind()
            .unwrap();
        let Location::Tcp { port, .. } = daemon.location() else {
            panic!("not TCP");
        };
        let handle = daemon.handle();
        let idle = serve_while(daemon, async {
            let mut s = smol::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let mut buf = [0u8; 16];
            // The daemon closes the connection: read gives end of file.
            let n = within(
                Some(Duration::from_secs(3)),
                smol::io::AsyncReadExt::read(&mut s, &mut buf),
            )
            .await;
            (n.ok(), handle.connection_count())
        });
        assert_eq!(idle, (Some(0), 0));
    }

    #[test]
    fn dropping_run_cuts_connections() {
        let daemon = Daemon::builder().tcp("127.0.0.1", 0).bind().unwrap();
        let uri = daemon.register(adder(), Some("o")).unwrap();
        let daemon = Arc::new(daemon);
        let ex = smol::Executor::new();
        smol::block_on(ex.run(async {
            let server = {
                let daemon = daemon.clone();
                ex.spawn(async move { daemon.run().await })
            };
            let p = Proxy::new(&uri).unwrap();
            assert_eq!(p.call::<i64>("add", (1, 2)).await.unwrap(), 3);
            // Cancel the run() task: its executor and every connection go.
            assert!(server.cancel().await.is_none());
            let err = p.call::<i64>("add", (1, 2)).await.unwrap_err();
            assert!(err.is_communication_error(), "{err:?}");
            let err = Proxy::new(&uri).unwrap().bind().await.unwrap_err();
            assert!(
                matches!(err, crate::ProxyError::ConnectionRefused { .. }),
                "{err:?}"
            );
        }));
    }
}
