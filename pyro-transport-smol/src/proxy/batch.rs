//! Batched calls: several calls in one request (Pyro4's `batch(proxy)`).

use pyro_proto::session::{CallOptions, Response};
use pyro_proto::value::{Dict, Value};
use pyro_transport_common::stream::BatchCalls;
pub use pyro_transport_common::stream::BatchResults;
use serde::Serialize;

use super::{Proxy, ProxyError};

/// Calls collected for one batch request. Add calls with
/// [`call`](Self::call) (chainable), then [`run`](Self::run)`.await` them;
/// the builder is empty again afterwards and can be reused. An argument
/// that cannot be serialized is reported by `run`, and nothing is sent.
#[derive(Debug)]
pub struct Batch<'p> {
    proxy: &'p Proxy,
    calls: BatchCalls,
}

impl<'p> Batch<'p> {
    pub(super) fn new(proxy: &'p Proxy) -> Self {
        Batch {
            proxy,
            calls: BatchCalls::default(),
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
        self.calls.add(method, args, kwargs);
        self
    }

    /// Add a call with [`Value`] arguments.
    pub fn call_value(&mut self, method: &str, vargs: Vec<Value>, kwargs: Dict) -> &mut Self {
        self.calls.add_value(method, vargs, kwargs);
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
        BatchResults::from_response(self.send(false).await?)
    }

    /// Send the calls as a oneway batch: no results, no waiting.
    pub async fn run_oneway(&mut self) -> Result<(), ProxyError> {
        self.send(true).await.map(drop)
    }

    async fn send(&mut self, oneway: bool) -> Result<Response, ProxyError> {
        let calls = self.calls.take()?;
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
