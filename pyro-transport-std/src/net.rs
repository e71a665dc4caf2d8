//! TCP and Unix sockets behind one type each, so the daemon loop is written once.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// A bound listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener, PathBuf),
}

/// An accepted (or wake-up) connection.
pub(crate) enum Conn {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Listener {
    /// Wait for the next client; returns the connection and the peer's address text.
    pub(crate) fn accept(&self) -> io::Result<(Conn, Option<String>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                // Replies are written whole; do not let Nagle delay the last segment.
                s.set_nodelay(true)?;
                Ok((Conn::Tcp(s), Some(peer.to_string())))
            }
            #[cfg(unix)]
            Listener::Unix(l, _) => {
                let (s, peer) = l.accept()?;
                let peer = peer.as_pathname().map(|p| p.display().to_string());
                Ok((Conn::Unix(s), peer))
            }
        }
    }

    /// How to reach this listener to wake a blocked `accept` (shutdown).
    pub(crate) fn waker(&self) -> io::Result<Waker> {
        match self {
            Listener::Tcp(l) => {
                let mut addr = l.local_addr()?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr {
                        SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                        SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
                    });
                }
                Ok(Waker::Tcp(addr))
            }
            #[cfg(unix)]
            Listener::Unix(_, path) => Ok(Waker::Unix(path.clone())),
        }
    }
}

/// The address of a listener, to connect to it once so that `accept` returns.
#[derive(Debug, Clone)]
pub(crate) enum Waker {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Waker {
    pub(crate) fn wake(&self) {
        let _ = match self {
            Waker::Tcp(addr) => TcpStream::connect_timeout(addr, Duration::from_secs(1)).map(drop),
            #[cfg(unix)]
            Waker::Unix(path) => UnixStream::connect(path).map(drop),
        };
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Pyro4 removes its Unix socket file when the daemon closes.
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Conn {
    pub(crate) fn try_clone(&self) -> io::Result<Conn> {
        match self {
            Conn::Tcp(s) => s.try_clone().map(Conn::Tcp),
            #[cfg(unix)]
            Conn::Unix(s) => s.try_clone().map(Conn::Unix),
        }
    }

    /// Shut down one or both directions: shutting the read side wakes a
    /// thread blocked reading (it sees end of input) while a reply that is
    /// being computed can still be written.
    pub(crate) fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Conn::Unix(s) => s.shutdown(how),
        };
    }

    /// Pyro4's COMMTIMEOUT: reads and writes give up after `timeout`.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            #[cfg(unix)]
            Conn::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
