//! The async sockets both sides use: TCP or a Unix domain socket, behind one type.

use std::io;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(unix)]
use smol::net::unix::UnixStream;
use smol::net::TcpStream;
use smol::Timer;

/// A connected socket.
#[derive(Clone)]
pub(crate) enum Conn {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Conn {
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf).await,
            #[cfg(unix)]
            Conn::Unix(s) => s.read(buf).await,
        }
    }

    pub(crate) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(buf).await,
            #[cfg(unix)]
            Conn::Unix(s) => s.write_all(buf).await,
        }
    }

    pub(crate) fn shutdown(&self, how: std::net::Shutdown) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Conn::Unix(s) => s.shutdown(how),
        };
    }
}

/// `fut`, or `TimedOut` once `limit` has passed (`None`: no limit).
pub(crate) async fn within<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match limit {
        None => fut.await,
        Some(limit) => {
            fut.or(async {
                Timer::after(limit).await;
                Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
            })
            .await
        }
    }
}
