//! Batched calls: several calls in one request (Pyro4's `batch(proxy)`).

use pyro_proto::session::{BatchCall, CallOptions, Response};
use pyro_proto::value::{Dict, RemoteError, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{convert, keywords, positional, Proxy, ProxyError};

/// Calls collected for one batch request. Add calls with
/// [`call`](Self::call) (chainable), then [`run`](Self::run)`.await` them;
/// the builder is empty again afterwards and can be reused. An argument
/// that cannot be serialized is reported by `run`, and nothing is sent.
#[derive(Debug)]
pub struct Batch<'p> {
    proxy: &'p Proxy,
    calls: Vec<BatchCall>,
    error: Option<ProxyError>,
}

impl<'p> Batch<'p> {
    pub(super) fn new(proxy: &'p Proxy) -> Self {
        Batch {
            proxy,
            calls: Vec::new(),
            error: None,
        }
    }

    /// Add a call of `method` with positional `args` (a tuple).
    pub fn call(&mut self, method: &str, args: impl Serialize) -> &mut Self {
        self.call_kw(method, args, ())
    }

    /// Add a call with keyword arguments too.
    pub fn call_kw(
        &mut self,
        method: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> &mut Self {
        match positional(args).and_then(|a| keywords(kwargs).map(|k| (a, k))) {
            Ok((vargs, kwargs)) => self.call_value(method, vargs, kwargs),
            Err(e) => {
                self.error.get_or_insert(e);
                self
            }
        }
    }

    /// Add a call with [`Value`] arguments.
    pub fn call_value(&mut self, method: &str, vargs: Vec<Value>, kwargs: Dict) -> &mut Self {
        self.calls.push(BatchCall {
            method: method.to_string(),
            vargs,
            kwargs,
        });
        self
    }

    /// Number of calls collected.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call was added.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Send the calls and wait for their results.
    pub async fn run(&mut self) -> Result<BatchResults, ProxyError> {
        match self.send(false).await? {
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

    /// Send the calls as a oneway batch: no results, no waiting.
    pub async fn run_oneway(&mut self) -> Result<(), ProxyError> {
        self.send(true).await.map(drop)
    }

    async fn send(&mut self, oneway: bool) -> Result<Response, ProxyError> {
        let calls = std::mem::take(&mut self.calls);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let shared = &self.proxy.shared;
        let mut inner = shared.lock().await;
        let opts = CallOptions::default();
        shared
            .transact(&mut inner, &|s, now| {
                s.batch(calls.clone(), oneway, &opts, now)
            })
            .await
    }
}

/// The results of a batch, in call order. A call that raised is the last
/// entry (the daemon stops the batch there), as an `Err`.
#[derive(Debug)]
pub struct BatchResults {
    items: std::vec::IntoIter<Result<Value, RemoteError>>,
}

impl BatchResults {
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
