//! One proxy connection: an async socket driven by a [`ClientSession`]. Only
//! socket and timer concerns live here; what goes on the wire is the session's.

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use pyro_proto::message::Annotations;
use pyro_proto::session::{
    CallId, ClientConfig, ClientEvent, ClientSession, CloseReason, Metadata, Response, SessionError,
};
use pyro_proto::value::Value;

use crate::net::{within, Conn};
use pyro_transport_common::proxy::Target;
use pyro_transport_common::{Phase, ProxyError};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// Starts one request on a session (the closure differs per kind of request).
pub(crate) type Start<'a> =
    &'a (dyn Fn(&mut ClientSession, Duration) -> Result<CallId, SessionError> + Sync);

/// Open the socket to `target` within `timeout` (an async-io timer).
async fn open_socket(target: &Target, timeout: Option<Duration>) -> Result<Conn, ProxyError> {
    let address = target.describe();
    let connect_error = |source: io::Error| ProxyError::connect_failed(source, &address, timeout);
    match target {
        // Resolved before opening (Shared::connect); never opened as is.
        Target::Name(uri) => Err(ProxyError::NoLocation {
            uri: uri.to_string(),
        }),
        Target::Tcp { host, port } => {
            let stream = within(
                timeout,
                smol::net::TcpStream::connect((host.as_str(), *port)),
            )
            .await
            .map_err(connect_error)?;
            // Requests are written whole; no Nagle delay (Pyro4's SOCK_NODELAY).
            let _ = stream.set_nodelay(true);
            Ok(Conn::Tcp(stream))
        }
        #[cfg(unix)]
        Target::Unix(path) => within(timeout, smol::net::unix::UnixStream::connect(path))
            .await
            .map(Conn::Unix)
            .map_err(connect_error),
        #[cfg(not(unix))]
        Target::Unix(_) => Err(ProxyError::Connect {
            address,
            source: io::Error::new(ErrorKind::Unsupported, "no Unix domain sockets"),
        }),
    }
}

/// What a finished handshake gave.
pub(crate) struct Connected {
    pub(crate) handshake: Value,
    pub(crate) metadata: Option<Metadata>,
}

/// An open, handshaken connection.
pub(crate) struct Connection {
    conn: Conn,
    session: ClientSession,
    address: String,
    timeout: Option<Duration>,
    clock: Instant,
    buf: Vec<u8>,
    /// A request was started and its future dropped before the reply was
    /// read (the caller cancelled it): the connection is out of step.
    interrupted: bool,
}

impl Connection {
    /// Connect to `target` and do the handshake; the session starts at
    /// `seq`, which is updated with what the attempt used.
    pub(crate) async fn open(
        target: &Target,
        config: &ClientConfig,
        seq: &mut u16,
        clock: Instant,
    ) -> Result<(Connection, Connected), ProxyError> {
        let conn = open_socket(target, config.timeout).await?;
        let mut c = Connection {
            conn,
            session: ClientSession::new(config.clone(), *seq),
            address: target.describe(),
            timeout: config.timeout,
            clock,
            buf: vec![0; READ_CHUNK],
            interrupted: false,
        };
        let result = c.handshake().await;
        *seq = c.session.seq();
        result.map(|connected| (c, connected))
    }

    fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    async fn handshake(&mut self) -> Result<Connected, ProxyError> {
        let now = self.now();
        self.session.connect(now).map_err(|e| self.local_error(e))?;
        self.flush().await?;
        loop {
            match self.next_event().await? {
                ClientEvent::Connected {
                    handshake,
                    metadata,
                } => {
                    return Ok(Connected {
                        handshake,
                        metadata,
                    })
                }
                ClientEvent::Closed(reason) => return Err(self.handshake_error(reason)),
                ClientEvent::Reply { .. } => {}
            }
        }
    }

    /// The last seq used (carried into the next connection).
    pub(crate) fn seq(&self) -> u16 {
        self.session.seq()
    }

    /// Change the timeout for the next requests.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
        self.session.set_timeout(timeout);
    }

    /// Whether a new request can be sent now.
    pub(crate) fn is_ready(&self) -> bool {
        !self.interrupted && self.session.is_ready()
    }

    /// Whether a request's future was dropped half-way (see [`request`](Self::request)).
    pub(crate) fn is_interrupted(&self) -> bool {
        self.interrupted
    }

    /// Start a request, send it and wait for its reply (a oneway request is
    /// done once written). Any error leaves the connection unusable.
    pub(crate) async fn request(
        &mut self,
        start: Start<'_>,
    ) -> Result<(Response, Annotations), ProxyError> {
        let now = self.now();
        let id = start(&mut self.session, now).map_err(|e| self.local_error(e))?;
        // Cleared only when this future runs to the end: a caller that drops
        // it mid-way (a timeout of its own, a select) leaves it set, and the
        // proxy then drops this connection instead of reading a stale reply.
        self.interrupted = true;
        let result = self.finish(id).await;
        self.interrupted = false;
        result
    }

    async fn finish(&mut self, id: CallId) -> Result<(Response, Annotations), ProxyError> {
        self.flush().await?;
        loop {
            match self.next_event().await? {
                ClientEvent::Reply {
                    call,
                    response,
                    annotations,
                } if call == id => return Ok((response, annotations)),
                ClientEvent::Closed(reason) => return Err(self.closed_error(reason)),
                _ => {}
            }
        }
    }

    /// Write everything the session queued, within the timeout.
    async fn flush(&mut self) -> Result<(), ProxyError> {
        while let Some(bytes) = self.session.poll_transmit() {
            if let Err(e) = within(self.timeout, self.conn.write_all(&bytes)).await {
                return Err(self.io_error(e, Phase::Sending));
            }
        }
        Ok(())
    }

    /// Read until the session reports something; the session's deadline is
    /// an async-io timer raced against the read.
    async fn next_event(&mut self) -> Result<ClientEvent, ProxyError> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            let now = self.now();
            let wait = match self.session.poll_timeout() {
                Some(deadline) if deadline <= now => {
                    self.session.handle_timeout(now);
                    continue;
                }
                Some(deadline) => Some(deadline - now),
                None => None,
            };
            match within(wait, self.conn.read(&mut self.buf)).await {
                Ok(0) => self.session.end_of_input(),
                Ok(n) => self.session.receive(&self.buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    let now = self.now();
                    self.session.handle_timeout(now)
                }
                Err(e) => return Err(self.io_error(e, Phase::Receiving)),
            }
        }
    }

    fn io_error(&self, e: io::Error, phase: Phase) -> ProxyError {
        ProxyError::io_failed(e, phase, &self.address, self.timeout)
    }

    /// A command the session refused before anything was sent.
    fn local_error(&self, e: SessionError) -> ProxyError {
        ProxyError::refused(e, &self.address, self.timeout)
    }

    fn closed_error(&self, reason: CloseReason) -> ProxyError {
        ProxyError::closed(reason, &self.address, self.timeout)
    }

    fn handshake_error(&self, reason: CloseReason) -> ProxyError {
        ProxyError::handshake_failed(reason, &self.address, self.timeout)
    }
}
