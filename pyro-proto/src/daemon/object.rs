//! The `Pyro.Daemon` object every daemon serves (section 8 of the protocol
//! notes): `ping`, `registered`, `info`, `get_metadata`,
//! `get_next_stream_item` and `close_stream`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::{failed, ConnId, Daemon, Job, JobKind, Prepared, DAEMON_OBJECT_ID};
use crate::servant::{is_private_name, Args, CallContext};
use crate::session::{Metadata, Outcome};
use crate::value::{Dict, PyStr, RemoteError, Value};

const METHODS: [&str; 6] = [
    "close_stream",
    "get_metadata",
    "get_next_stream_item",
    "info",
    "ping",
    "registered",
];

/// What `Pyro.Daemon` exposes.
pub(super) fn metadata() -> Metadata {
    Metadata {
        methods: METHODS.iter().map(|m| m.to_string()).collect(),
        oneway: Vec::new(),
        attrs: Vec::new(),
    }
}

/// Argument `index` or keyword `name` of a call.
fn arg(args: &Args, index: usize, name: &str) -> Option<Value> {
    args.vargs.get(index).cloned().or_else(|| {
        args.kwargs
            .0
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
            .map(|(_, v)| v.clone())
    })
}

fn missing(method: &str, name: &str) -> RemoteError {
    RemoteError::builtin(
        "TypeError",
        format!("DaemonObject.{method}() missing 1 required positional argument: '{name}'"),
    )
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::None | Value::Bool(false) | Value::Int(0) => false,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
        Value::Dict(d) => !d.0.is_empty(),
        _ => true,
    }
}

impl Daemon {
    /// `Pyro.Daemon.info()`.
    pub fn info(&self) -> String {
        let nat = match &self.config.nat {
            Some(nat) => nat.text(),
            None => "None".to_string(),
        };
        format!(
            "{DAEMON_OBJECT_ID} bound on {}, NAT {nat}, {} objects registered. Servertype: {}",
            self.config.location.text(),
            self.objects.len() + 1,
            self.config.server_type
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn daemon_object(
        &mut self,
        conn: ConnId,
        ctx: CallContext,
        method: &str,
        vargs: Value,
        kwargs: Option<Dict>,
        oneway: bool,
        _now: Duration,
    ) -> Prepared {
        let done = |outcome: Outcome| {
            Prepared::Done(if oneway {
                Outcome::NoReply { close: false }
            } else {
                outcome
            })
        };
        if method == "__getattr__" || method == "__setattr__" {
            let name = match &vargs {
                Value::List(v) | Value::Tuple(v) => match v.first() {
                    Some(Value::Str(s)) => s.clone(),
                    _ => PyStr::default(),
                },
                _ => PyStr::default(),
            };
            return done(failed(
                RemoteError::attribute_error(format!(
                    "attempt to access unexposed or unknown remote attribute '{name}'"
                )),
                method,
                false,
            ));
        }
        if is_private_name(method) {
            return done(failed(
                RemoteError::attribute_error(format!(
                    "attempt to access private attribute '{method}'"
                )),
                method,
                false,
            ));
        }
        let args = match Args::from_call(vargs, kwargs) {
            Ok(a) => a,
            Err(e) => return done(failed(e, method, false)),
        };
        let ok = |v: Value| Outcome::value(v);
        match method {
            "ping" => done(ok(Value::None)),
            "registered" => done(ok(Value::List(
                self.registered().into_iter().map(Value::from).collect(),
            ))),
            "info" => done(ok(Value::from(self.info()))),
            "get_metadata" => {
                let Some(id) = arg(&args, 0, "objectId") else {
                    return done(failed(missing(method, "objectId"), method, false));
                };
                let as_lists = arg(&args, 1, "as_lists").is_some_and(|v| truthy(&v));
                let meta = match &id {
                    Value::Str(id) => self.metadata(id),
                    _ => None,
                };
                match meta {
                    Some(meta) => done(ok(meta.to_value(as_lists))),
                    None => done(failed(
                        RemoteError::daemon_error("unknown object"),
                        method,
                        false,
                    )),
                }
            }
            "get_next_stream_item" => {
                let Some(id) = arg(&args, 0, "streamId") else {
                    return done(failed(missing(method, "streamId"), method, false));
                };
                let id = match id {
                    Value::Str(s) => s,
                    _ => PyStr::default(),
                };
                let Some(stream) = self.streams.get_mut(id.as_str()) else {
                    return done(failed(
                        RemoteError::pyro_error("item stream terminated"),
                        method,
                        false,
                    ));
                };
                if stream.conn.is_none() {
                    stream.conn = Some(conn);
                    stream.detached_at = None;
                }
                match stream.iter.take() {
                    Some(iter) => Prepared::Run(Job {
                        conn,
                        ctx,
                        kind: JobKind::StreamNext {
                            id: id.into(),
                            iter,
                        },
                    }),
                    None => done(failed(
                        RemoteError::builtin("ValueError", "generator already executing"),
                        method,
                        false,
                    )),
                }
            }
            "close_stream" => {
                let Some(id) = arg(&args, 0, "streamId") else {
                    return done(failed(missing(method, "streamId"), method, false));
                };
                if let Value::Str(id) = id {
                    self.streams.remove(id.as_str());
                }
                done(ok(Value::None))
            }
            _ => done(failed(
                RemoteError::attribute_error(format!(
                    "'DaemonObject' object has no attribute '{method}'"
                )),
                method,
                false,
            )),
        }
    }
}
