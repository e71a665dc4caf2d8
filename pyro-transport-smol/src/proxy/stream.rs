//! Item streams: a remote iterator read one `get_next_stream_item` at a time.

use std::fmt;
use std::sync::Arc;

use pyro_proto::value::Value;
use pyro_transport_common::stream::{Fetched, Step, StreamCursor};
use serde::de::DeserializeOwned;

use super::{ProxyError, Shared};

/// The items of a remote iterator (Pyro4's `_StreamResultIterator`), each
/// converted into `R` and read with [`next`](Self::next)`.await`.
///
/// Every `next` is one request on the proxy's connection; the stream ends
/// after the last item or after an error (a remote exception ends it on the
/// daemon too). A conversion error of one item does not end it.
///
/// As in Pyro4, a stream is tied to its proxy's connection: while the proxy
/// has none, `next` fails with [`ProxyError::StreamClosed`] without sending
/// anything, and after a reconnect it continues (the daemon keeps a stream
/// of a dropped connection for its linger time). A loop that goes on after
/// errors should therefore stop at `StreamClosed` unless it reconnects.
///
/// Closing early: [`close`](Self::close)`.await` tells the daemon to discard
/// the stream at once. Dropping an unfinished stream cannot await, so it
/// spawns a small detached task on smol's global executor that sends the
/// same `close_stream` (oneway) once the proxy's lock is free; the task
/// keeps the connection alive until it is sent. When the proxy has no
/// connection any more nothing is sent, as in Pyro4: the daemon drops the
/// stream itself after its linger time.
pub struct RemoteStream<R> {
    shared: Option<Arc<Shared>>,
    cursor: StreamCursor<R>,
}

impl<R> fmt::Debug for RemoteStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStream")
            .field("method", &self.cursor.method())
            .field("state", &self.cursor.describe())
            .finish()
    }
}

impl<R> RemoteStream<R> {
    pub(super) fn remote(shared: Arc<Shared>, method: &str, id: String) -> Self {
        RemoteStream {
            shared: Some(shared),
            cursor: StreamCursor::remote(method, id),
        }
    }

    pub(super) fn local(method: &str, items: Vec<Value>) -> Self {
        RemoteStream {
            shared: None,
            cursor: StreamCursor::local(method, items),
        }
    }

    /// The daemon's id of the stream, while it is open.
    pub fn id(&self) -> Option<&str> {
        self.cursor.id()
    }

    /// Stop reading and tell the daemon to discard the stream now.
    pub async fn close(mut self) {
        if let Some(id) = self.cursor.finish() {
            if let Some(shared) = &self.shared {
                let mut inner = shared.lock().await;
                shared.close_stream(&mut inner, &id).await;
            }
        }
    }
}

impl<R: DeserializeOwned> RemoteStream<R> {
    /// The next item, `None` after the last one (and ever after).
    pub async fn next(&mut self) -> Option<Result<R, ProxyError>> {
        let id = match self.cursor.step() {
            Step::Ready(item) => return item,
            Step::Fetch(id) => id,
        };
        let shared = self.shared.clone()?;
        let mut inner = shared.lock().await;
        if inner.conn.is_none() {
            return self.cursor.connection_lost();
        }
        let result = shared
            .transact(&mut inner, &|s, now| s.next_stream_item(&id, now))
            .await;
        drop(inner);
        match self.cursor.settle(result) {
            Fetched::Item(item) => item,
            // Leave the stream open so drop closes it on the daemon.
            Fetched::Unexpected(e) => Some(Err(e)),
        }
    }

    /// Read the remaining items into a vector; the first error ends it.
    pub async fn collect_vec(mut self) -> Result<Vec<R>, ProxyError> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item?);
        }
        Ok(items)
    }
}

impl<R> Drop for RemoteStream<R> {
    fn drop(&mut self) {
        if let Some(id) = self.cursor.finish() {
            if let Some(shared) = self.shared.take() {
                smol::spawn(async move {
                    let mut inner = shared.lock().await;
                    shared.close_stream(&mut inner, &id).await;
                })
                .detach();
            }
        }
    }
}
