//! Item streams: a remote iterator read one `get_next_stream_item` at a time.

use std::fmt;
use std::sync::Arc;

use pyro_proto::value::Value;
use pyro_transport_common::stream::{Fetched, Step, StreamCursor};
use serde::de::DeserializeOwned;

use super::{ProxyError, Shared};

/// The items of a remote iterator (Pyro4's `_StreamResultIterator`), each
/// converted into `R`.
///
/// Every [`next`](Iterator::next) is one request on the proxy's connection;
/// the stream ends after the last item, or after an error (a remote
/// exception ends the stream on the daemon too). Conversion errors of one
/// item do not end it.
///
/// Dropping the stream before its end sends `close_stream` (oneway) so the
/// daemon discards it at once. That goes over the proxy's own connection:
/// the proxy's lock guarantees no other request is in flight then, so the
/// sequence numbers stay in step (Pyro4 opens a temporary proxy for this
/// when its counter has moved on, because its garbage collector may close a
/// stream in the middle of another call; that cannot happen here). When the
/// proxy has no connection any more (released, or dropped after an error),
/// nothing is sent, as in Pyro4: the daemon discards the stream itself once
/// its linger time or lifetime passes.
///
/// As in Pyro4, a stream is tied to its proxy's connection: after the proxy
/// lost its connection, `next` fails with [`ProxyError::StreamClosed`]; after
/// a reconnect it continues (the daemon keeps a stream of a dropped
/// connection for its linger time). A loop that goes on after errors should
/// therefore stop at `StreamClosed` unless it reconnects.
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

    /// Stop reading and tell the daemon to discard the stream (what dropping
    /// it does).
    pub fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if let Some(id) = self.cursor.finish() {
            if let Some(shared) = &self.shared {
                shared.close_stream(&mut shared.lock(), &id);
            }
        }
    }
}

impl<R: DeserializeOwned> Iterator for RemoteStream<R> {
    type Item = Result<R, ProxyError>;

    fn next(&mut self) -> Option<Self::Item> {
        let id = match self.cursor.step() {
            Step::Ready(item) => return item,
            Step::Fetch(id) => id,
        };
        let shared = self.shared.as_ref()?;
        let mut inner = shared.lock();
        if inner.conn.is_none() {
            return self.cursor.connection_lost();
        }
        let result = shared.transact(&mut inner, &|s, now| s.next_stream_item(&id, now));
        drop(inner);
        match self.cursor.settle(result) {
            Fetched::Item(item) => item,
            Fetched::Unexpected(e) => {
                self.close_now();
                Some(Err(e))
            }
        }
    }
}

impl<R> std::iter::FusedIterator for RemoteStream<R> where R: DeserializeOwned {}

impl<R> Drop for RemoteStream<R> {
    fn drop(&mut self) {
        self.close_now();
    }
}
