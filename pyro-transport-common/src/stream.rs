//! What a batch and a remote iterator are on both proxies, apart from how
//! they wait: the calls collected, the results handed out, and the state
//! of a stream as replies move it along.

use std::marker::PhantomData;

use pyro_proto::session::{BatchCall, Response};
use pyro_proto::value::{Dict, RemoteError, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::proxy::{convert, keywords, positional};
use crate::ProxyError;

/// The calls a batch has collected. An argument that could not be
/// serialized is kept as the error `take` reports, so nothing is sent.
#[derive(Debug, Default)]
pub struct BatchCalls {
    calls: Vec<BatchCall>,
    error: Option<ProxyError>,
}

impl BatchCalls {
    /// Add a call with positional and keyword arguments (shaped as every
    /// call's are); a serialization error is kept for [`take`](Self::take).
    pub fn add(&mut self, method: &str, args: impl Serialize, kwargs: impl Serialize) {
        match positional(args).and_then(|a| keywords(kwargs).map(|k| (a, k))) {
            Ok((vargs, kwargs)) => self.add_value(method, vargs, kwargs),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Add a call with [`Value`] arguments.
    pub fn add_value(&mut self, method: &str, vargs: Vec<Value>, kwargs: Dict) {
        self.calls.push(BatchCall {
            method: method.to_string(),
            vargs,
            kwargs,
        });
    }

    /// Number of calls collected.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call was added.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls to send, leaving the batch empty for reuse; the first
    /// argument error instead, if there was one.
    pub fn take(&mut self) -> Result<Vec<BatchCall>, ProxyError> {
        let calls = std::mem::take(&mut self.calls);
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(calls),
        }
    }
}

/// The results of a batch, in call order. A call that raised is the last
/// entry (the daemon stops the batch there), as an `Err`.
#[derive(Debug)]
pub struct BatchResults {
    items: std::vec::IntoIter<Result<Value, RemoteError>>,
}

impl BatchResults {
    /// The results a batch request's reply carries, or the error it stands for.
    pub fn from_response(response: Response) -> Result<BatchResults, ProxyError> {
        match response {
            Response::Batch(results) => Ok(BatchResults {
                items: results.into_iter(),
            }),
            Response::Exception(e) => Err(ProxyError::Remote(e)),
            other => Err(ProxyError::UnexpectedReply {
                method: "<batch>".into(),
                what: format!("{other:?}"),
            }),
        }
    }

    /// The next result converted into `R` (`None` after the last one).
    pub fn next_as<R: DeserializeOwned>(&mut self) -> Option<Result<R, ProxyError>> {
        self.next().map(|r| r.and_then(|v| convert("<batch>", v)))
    }
}

impl Iterator for BatchResults {
    type Item = Result<Value, ProxyError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next().map(|r| r.map_err(ProxyError::Remote))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for BatchResults {}

enum State {
    /// Items come from the daemon's stream with this id.
    Remote(String),
    /// The method returned a list: its items, read locally.
    Local(std::vec::IntoIter<Value>),
    /// Ended (exhausted, failed, or closed).
    Done,
}

/// Where a remote iterator stands, items converted into `R`: the part of
/// both proxies' `RemoteStream` that does not wait.
pub struct StreamCursor<R> {
    method: String,
    state: State,
    _items: PhantomData<fn() -> R>,
}

/// What [`StreamCursor::step`] says to do next.
pub enum Step<R> {
    /// This is the answer (an item, or `None` at the end): nothing to send.
    Ready(Option<Result<R, ProxyError>>),
    /// Ask the daemon for the next item of the stream with this id.
    Fetch(String),
}

/// What a reply to a fetch gave.
pub enum Fetched<R> {
    /// An item, or `None` at the end; the cursor has moved on.
    Item(Option<Result<R, ProxyError>>),
    /// A reply that is no stream item: the stream is still open on the
    /// daemon and the caller decides when to close it.
    Unexpected(ProxyError),
}

impl<R> StreamCursor<R> {
    /// A stream the daemon holds under `id`, for a call of `method`.
    pub fn remote(method: &str, id: String) -> Self {
        Self::with(method, State::Remote(id))
    }

    /// A list result of `method`, iterated locally.
    pub fn local(method: &str, items: Vec<Value>) -> Self {
        Self::with(method, State::Local(items.into_iter()))
    }

    fn with(method: &str, state: State) -> Self {
        StreamCursor {
            method: method.to_string(),
            state,
            _items: PhantomData,
        }
    }

    /// The method whose result this is.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The daemon's id of the stream, while it is open.
    pub fn id(&self) -> Option<&str> {
        match &self.state {
            State::Remote(id) => Some(id),
            _ => None,
        }
    }

    /// End the stream; the id to close on the daemon if it was still open there.
    pub fn finish(&mut self) -> Option<String> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Remote(id) => Some(id),
            _ => None,
        }
    }

    /// The proxy has no connection: this `next` fails with
    /// [`ProxyError::StreamClosed`], but the stream stays open, as Pyro4's
    /// `_StreamResultIterator` does (it raises `ConnectionClosedError`
    /// while `proxy._pyroConnection is None` and fetches again after a
    /// `_pyroReconnect`, which the daemon's `ITER_STREAM_LINGER` allows).
    pub fn connection_lost(&mut self) -> Option<Result<R, ProxyError>> {
        Some(Err(ProxyError::StreamClosed))
    }

    /// The state for `Debug` output: `remote <id>`, `local, <n> left` or `done`.
    pub fn describe(&self) -> String {
        match &self.state {
            State::Remote(id) => format!("remote {id}"),
            State::Local(items) => format!("local, {} left", items.len()),
            State::Done => "done".to_string(),
        }
    }
}

impl<R: DeserializeOwned> StreamCursor<R> {
    /// The next item when it is at hand (a local list, or the end), else
    /// the stream to fetch it from.
    pub fn step(&mut self) -> Step<R> {
        match &mut self.state {
            State::Done => Step::Ready(None),
            State::Local(items) => Step::Ready(items.next().map(|v| convert(&self.method, v))),
            State::Remote(id) => Step::Fetch(id.clone()),
        }
    }

    /// Move on with the reply to a fetch (or the error getting it): the end
    /// or a remote exception (which ended the stream on the daemon too) end
    /// the stream here. A failed request does not: as in Pyro4, the stream
    /// lives on with the daemon for its linger time, and the proxy (which
    /// dropped its connection) continues it after a reconnect.
    pub fn settle(&mut self, result: Result<Response, ProxyError>) -> Fetched<R> {
        let item = match result {
            Ok(Response::Value(v)) => return Fetched::Item(Some(convert(&self.method, v))),
            Ok(Response::StreamEnd) => None,
            // The daemon dropped the stream when it raised.
            Ok(Response::Exception(e)) => Some(Err(ProxyError::Remote(e))),
            Ok(other) => {
                return Fetched::Unexpected(ProxyError::UnexpectedReply {
                    method: self.method.clone(),
                    what: format!("{other:?}"),
                })
            }
            Err(e) => return Fetched::Item(Some(Err(e))),
        };
        self.state = State::Done;
        Fetched::Item(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_calls_report_the_first_argument_error_and_empty_out() {
        let mut calls = BatchCalls::default();
        calls.add("add", (1, 2), ());
        calls.add("bad", 5, ());
        assert_eq!(calls.len(), 1);
        assert!(matches!(calls.take(), Err(ProxyError::Arguments { .. })));
        assert!(calls.is_empty());
        calls.add("add", (1, 2), ());
        assert_eq!(calls.take().unwrap().len(), 1);
    }

    #[test]
    fn batch_results_stop_at_the_exception() {
        let err = RemoteError::builtin("ZeroDivisionError", "division by zero");
        let response = Response::Batch(vec![Ok(Value::Int(2)), Err(err)]);
        let mut results = BatchResults::from_response(response).unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results.next_as::<i64>().unwrap().unwrap(), 2);
        assert!(matches!(results.next(), Some(Err(ProxyError::Remote(_)))));
        assert!(results.next().is_none());
        assert!(matches!(
            BatchResults::from_response(Response::StreamEnd),
            Err(ProxyError::UnexpectedReply { .. })
        ));
    }

    #[test]
    fn stream_cursor_ends_on_end_or_exception_but_not_on_failures_or_odd_replies() {
        let mut local = StreamCursor::<i64>::local("m", vec![Value::Int(1)]);
        assert!(matches!(local.step(), Step::Ready(Some(Ok(1)))));
        assert!(matches!(local.step(), Step::Ready(None)));

        let mut remote = StreamCursor::<i64>::remote("m", "s1".into());
        assert!(matches!(remote.step(), Step::Fetch(id) if id == "s1"));
        let item = remote.settle(Ok(Response::Value(Value::Int(7))));
        assert!(matches!(item, Fetched::Item(Some(Ok(7)))));
        let odd = remote.settle(Ok(Response::StreamEnd));
        assert!(matches!(odd, Fetched::Item(None)));
        assert_eq!(remote.id(), None);
        assert_eq!(remote.describe(), "done");

        // Without a connection the stream fails but stays open, to be
        // continued after a reconnect (Pyro4's testGeneratorLinger).
        let mut lost = StreamCursor::<i64>::remote("m", "s3".into());
        assert!(matches!(
            lost.connection_lost(),
            Some(Err(ProxyError::StreamClosed))
        ));
        assert!(matches!(lost.step(), Step::Fetch(id) if id == "s3"));
        assert_eq!(lost.id(), Some("s3"));
        // So does a fetch that failed on the way (Pyro4 ends its iterator
        // only at StopIteration).
        let failed = lost.settle(Err(ProxyError::StreamClosed));
        assert!(matches!(
            failed,
            Fetched::Item(Some(Err(ProxyError::StreamClosed)))
        ));
        assert_eq!(lost.id(), Some("s3"));
        let item = lost.settle(Ok(Response::Value(Value::Int(8))));
        assert!(matches!(item, Fetched::Item(Some(Ok(8)))));

        let mut open = StreamCursor::<i64>::remote("m", "s2".into());
        let odd = open.settle(Ok(Response::Batch(Vec::new())));
        assert!(matches!(odd, Fetched::Unexpected(_)));
        assert_eq!(open.id(), Some("s2"));
        assert_eq!(open.finish().as_deref(), Some("s2"));
        assert!(open.finish().is_none());
    }
}
