//! The name server as a [`Servant`] (needs `std` for its lock).

use std::sync::{Mutex, MutexGuard};

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{NameRegistry, CLASS, METHODS};
use crate::servant::{Args, CallContext, Reply, Servant};
use crate::session::Metadata;
use crate::uri::Uri;
use crate::value::RemoteError;

/// Pyro4's `Pyro4.naming.NameServer` object: register it in a daemon under
/// [`NAMESERVER_NAME`](super::NAMESERVER_NAME) and Python's `locateNS()`,
/// `PYRONAME:` and `PYROMETA:` work against it. Calls are serialised by a
/// lock, as Pyro4's.
#[derive(Debug, Default)]
pub struct NameServer {
    registry: Mutex<NameRegistry>,
}

impl NameServer {
    /// A name server holding its own registration (`ns_uri`, the URI of
    /// this object in its daemon), as `NameServerDaemon` starts.
    pub fn new(ns_uri: &Uri) -> NameServer {
        NameServer::with_registry(NameRegistry::with_self(ns_uri))
    }

    /// A name server over an existing registry (e.g. restored storage).
    pub fn with_registry(registry: NameRegistry) -> NameServer {
        NameServer {
            registry: Mutex::new(registry),
        }
    }

    /// The registry, for local use from Rust (register without a
    /// connection, inspect). A poisoned lock is taken over: the registry has
    /// no invariant a panic could break halfway.
    pub fn registry(&self) -> MutexGuard<'_, NameRegistry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Servant for NameServer {
    fn class_name(&self) -> &str {
        CLASS
    }

    fn metadata(&self) -> Metadata {
        Metadata {
            methods: METHODS
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<String>>(),
            oneway: Vec::new(),
            attrs: Vec::new(),
        }
    }

    fn invoke(
        &self,
        _ctx: &mut CallContext,
        method: &str,
        args: Args,
    ) -> Result<Reply, RemoteError> {
        self.registry().call(method, args).map(Reply::Value)
    }
}
