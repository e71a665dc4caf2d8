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
/// converted into `R` and read with [`next`](Self::next)`.await`.
///
/// Every `next` is one request on the proxy's connection; the stream ends
/// after the last item or after an error (a remote exception ends it on the
/// daemon too). A conversion error of one item does not end it.
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

    /// Stop reading and tell the daemon to discard the stream now.
    pub async fn close(mut self) {
        if let State::Remote(id) = std::mem::replace(&mut self.state, State::Done) {
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
        let id = match &mut self.state {
            State::Done => return None,
            State::Local(items) => {
                return items.next().map(|v| convert(&self.method, v));
            }
            State::Remote(id) => id.clone(),
        };
        let shared = self.shared.clone()?;
        let mut inner = shared.lock().await;
        if inner.conn.is_none() {
            self.state = State::Done;
            return Some(Err(ProxyError::StreamClosed));
        }
        let result = shared
            .transact(&mut inner, &|s, now| s.next_stream_item(&id, now))
            .await;
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
                // Leave the stream open so drop closes it on the daemon.
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
        if let State::Remote(id) = std::mem::replace(&mut self.state, State::Done) {
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
