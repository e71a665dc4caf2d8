//! One proxy connection: a socket driven by a [`ClientSession`]. Only socket
//! and clock concerns live here; what goes on the wire is the session's.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pyro_proto::message::Annotations;
use pyro_proto::session::{
    CallId, ClientConfig, ClientEvent, ClientSession, CloseReason, Metadata, Response, SessionError,
};
use pyro_proto::value::Value;

use crate::net::Conn;
use pyro_transport_common::proxy::Target;
use pyro_transport_common::{Phase, ProxyError};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;
/// Socket timeouts of zero are refused by std; wait at least this long.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Open the socket to `target` (within `timeout` for TCP, trying every
/// resolved address).
fn open_socket(target: &Target, timeout: Option<Duration>) -> Result<Conn, ProxyError> {
    let address = target.describe();
    let connect_error = |source: io::Error| ProxyError::connect_failed(source, &address, timeout);
    match target {
        Target::Tcp { host, port } => {
            let addrs = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(connect_error)?;
            let mut last = io::Error::new(
                ErrorKind::NotFound,
                format!("host '{host}' resolved to no address"),
            );
            for addr in addrs {
                let attempt = match timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t.max(MIN_WAIT)),
                    None => TcpStream::connect(addr),
                };
                match attempt {
                    Ok(stream) => {
                        // Requests are written whole; no Nagle delay (Pyro4's SOCK_NODELAY).
                        let _ = stream.set_nodelay(true);
                        return Ok(Conn::Tcp(stream));
                    }
                    Err(e) => last = e,
                }
            }
            Err(connect_error(last))
        }
        // Resolved before opening (Shared::connect); never opened as is.
        Target::Name(uri) => Err(ProxyError::NoLocation {
            uri: uri.to_string(),
        }),
        #[cfg(unix)]
        Target::Unix(path) => UnixStream::connect(path)
            .map(Conn::Unix)
            .map_err(connect_error),
        #[cfg(not(unix))]
        Target::Unix(_) => Err(ProxyError::Connect {
            address,
            source: io::Error::new(ErrorKind::Unsupported, "no Unix domain sockets"),
        }),
    }
}

/// The clock a proxy hands its sessions (time since the proxy was made).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock(Instant::now())
    }

    fn now(&self) -> Duration {
        self.0.elapsed()
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
    clock: Clock,
    buf: Vec<u8>,
    /// The socket timeout last set, so unchanged ones cost no system call.
    socket_timeout: Option<Option<Duration>>,
}

impl Connection {
    /// Connect to `target` and do the handshake; the session starts at `seq`.
    /// On failure, `seq` is updated with what the attempt used.
    pub(crate) fn open(
        target: &Target,
        config: &ClientConfig,
        seq: &mut u16,
        clock: Clock,
    ) -> Result<(Connection, Connected), ProxyError> {
        let conn = open_socket(target, config.timeout)?;
        let mut c = Connection {
            conn,
            session: ClientSession::new(config.clone(), *seq),
            address: target.describe(),
            timeout: config.timeout,
            clock,
            buf: vec![0; READ_CHUNK],
            socket_timeout: None,
        };
        let result = c.handshake();
        *seq = c.session.seq();
        result.map(|connected| (c, connected))
    }

    fn handshake(&mut self) -> Result<Connected, ProxyError> {
        let now = self.clock.now();
        self.session.connect(now).map_err(|e| self.local_error(e))?;
        self.flush()?;
        loop {
            match self.next_event()? {
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

    /// The last seq used (to carry over into the next connection).
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
        self.session.is_ready()
    }

    /// Start a request with `start`, send it and wait for its reply (a
    /// oneway request is done once written). Any error leaves the
    /// connection unusable: the caller drops it.
    pub(crate) fn request(
        &mut self,
        start: &dyn Fn(&mut ClientSession, Duration) -> Result<CallId, SessionError>,
    ) -> Result<(Response, Annotations), ProxyError> {
        let now = self.clock.now();
        let id = start(&mut self.session, now).map_err(|e| self.local_error(e))?;
        self.flush()?;
        loop {
            match self.next_event()? {
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
    fn flush(&mut self) -> Result<(), ProxyError> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.socket_timeout(self.timeout.map(|t| t.max(MIN_WAIT)))
                .and_then(|()| self.conn.write_all(&bytes))
                .map_err(|e| self.io_error(e, Phase::Sending))?;
        }
        Ok(())
    }

    /// Set the socket's timeout unless it already is `timeout`.
    fn socket_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        if self.socket_timeout != Some(timeout) {
            self.conn.set_timeout(timeout)?;
            self.socket_timeout = Some(timeout);
        }
        Ok(())
    }

    /// Read until the session reports something (or the deadline passes).
    fn next_event(&mut self) -> Result<ClientEvent, ProxyError> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            let now = self.clock.now();
            let wait = match self.session.poll_timeout() {
                Some(deadline) if deadline <= now => {
                    self.session.handle_timeout(now);
                    continue;
                }
                Some(deadline) => Some((deadline - now).max(MIN_WAIT)),
                None => None,
            };
            self.socket_timeout(wait)
                .map_err(|e| self.io_error(e, Phase::Receiving))?;
            match self.conn.read(&mut self.buf) {
                Ok(0) => self.session.end_of_input(),
                Ok(n) => self.session.receive(&self.buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.session.handle_timeout(self.clock.now())
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
