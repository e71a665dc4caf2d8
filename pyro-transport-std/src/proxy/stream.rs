//! Item streams: a remote iterator read one `get_next_stream_item` at a time.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use pyro_proto::session::Response;
use pyro_proto::value::Value;
use serde::de::DeserializeOwned;

use super::{convert, ProxyError, Shared};

enum State {
    /// Items come from the daemon's stream with this id.
    Remote(String),
    /// The method returned a list: its items, read locally.
    Local(std::vec::IntoIter<Value>),
    /// Ended (exhausted, failed, or closed).
    Done,
}

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
/// connection for its linger time).
pub struct RemoteStream<R> {
    shared: Option<Arc<Shared>>,
    method: String,
    state: State,
    _items: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for RemoteStream<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Remote(id) => format!("remote {id}"),
            State::Local(items) => format!("local, {} left", items.len()),
            State::Done => "done".to_string(),
        };
        f.debug_struct("RemoteStream")
            .field("method", &self.method)
            .field("state", &state)
            .finish()
    }
}

impl<R> RemoteStream<R> {
    pub(super) fn remote(shared: Arc<Shared>, method: &str, id: String) -> Self {
        RemoteStream {
            shared: Some(shared),
            method: method.to_string(),
            state: State::Remote(id),
            _items: PhantomData,
        }
    }

    pub(super) fn local(method: &str, items: Vec<Value>) -> Self {
        RemoteStream {
            shared: None,
            method: method.to_string(),
            state: State::Local(items.into_iter()),
            _items: PhantomData,
        }
    }

    /// The daemon's id of the stream, while it is open.
    pub fn id(&self) -> Option<&str> {
        match &self.state {
            State::Remote(id) => Some(id),
            _ => None,
        }
    }

    /// Stop reading and tell the daemon to discard the stream (what dropping
    /// it does).
    pub fn close(mut self) {
        self.close_now();
    }

    fn close_now(&mut self) {
        if let State::Remote(id) = std::mem::replace(&mut self.state, State::Done) {
            if let Some(shared) = &self.shared {
                shared.close_stream(&mut shared.lock(), &id);
            }
        }
    }
}

impl<R: DeserializeOwned> Iterator for RemoteStream<R> {
    type Item = Result<R, ProxyError>;

    fn next(&mut self) -> Option<Self::Item> {
        let id = match &mut self.state {
            State::Done => return None,
            State::Local(items) => {
                return items.next().map(|v| convert(&self.method, v));
            }
            State::Remote(id) => id.clone(),
        };
        let shared = self.shared.as_ref()?;
        let mut inner = shared.lock();
        if inner.conn.is_none() {
            self.state = State::Done;
            return Some(Err(ProxyError::StreamClosed));
        }
        let result = shared.transact(&mut inner, &|s, now| s.next_stream_item(&id, now));
        drop(inner);
        match result {
            Ok(Response::Value(v)) => Some(convert(&self.method, v)),
            Ok(Response::StreamEnd) => {
                self.state = State::Done;
                None
            }
            Ok(Response::Exception(e)) => {
                // The daemon dropped the stream when it raised.
                self.state = State::Done;
                Some(Err(ProxyError::Remote(e)))
            }
            Ok(other) => {
                self.close_now();
                Some(Err(ProxyError::UnexpectedReply {
                    method: self.method.clone(),
                    what: format!("{other:?}"),
                }))
            }
            Err(e) => {
                self.state = State::Done;
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
