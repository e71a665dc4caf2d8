//! `pyro echoserver`: the Rust twin of Pyro4's `pyro4-test-echoserver`.
//!
//! The served object is `Pyro4.test.echoserver.EchoServer` method for method:
//! the same id (`test.echoserver`), names, oneway marks, return values,
//! exception classes and messages, the `verbose` property, a `_private`
//! method that stays private and a `__dunder__` method that is reachable,
//! and Python's own `TypeError` texts when a call's arguments do not fit the
//! signature. The console output copies the Python script's lines.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Args, CallContext, Reply, Servant};
use pyro_proto::session::Metadata;
use pyro_proto::value::Dict;
use pyro_proto::value::{RemoteError, Value};
use pyro_proto::Uri;
use pyro_transport_std::naming::locate_ns_with;
use pyro_transport_std::{Daemon, DaemonHandle, ProxyBuilder};

use pyro_proto::value::repr::py_repr_received;

/// The object id Pyro4's echo server registers.
pub const OBJECT_ID: &str = "test.echoserver";

/// How long `slow()` and `oneway_slow()` take, as in Python.
pub const SLOW: Duration = Duration::from_secs(5);

/// `(method, parameter names)` of every exposed method of Python's
/// `EchoServer` (`self` left out), in Python's `dir()` order.
const METHODS: &[(&str, &[&str])] = &[
    ("__dunder__", &[]),
    ("echo", &["message"]),
    ("error", &[]),
    ("error_with_text", &[]),
    ("generator", &[]),
    ("inf", &[]),
    ("nan", &[]),
    ("oneway_echo", &["message"]),
    ("oneway_slow", &[]),
    ("shutdown", &[]),
    ("slow", &[]),
];

/// What `oneway_echo` and `oneway_slow` return when called without the
/// oneway flag (Python's methods really return it).
const BOGUS: &str = "bogus return value";

/// Python's `EchoServer` object.
pub struct EchoServer {
    verbose: AtomicBool,
    shutdown: Box<dyn Fn() + Send + Sync>,
}

impl EchoServer {
    /// An echo server whose `shutdown()` method calls `shutdown` (normally
    /// [`DaemonHandle::shutdown`]).
    pub fn new(verbose: bool, shutdown: impl Fn() + Send + Sync + 'static) -> EchoServer {
        EchoServer {
            verbose: AtomicBool::new(verbose),
            shutdown: Box::new(shutdown),
        }
    }

    fn verbose(&self) -> bool {
        self.verbose.load(Ordering::Relaxed)
    }

    /// Python's `print("%s - ..." % time.asctime())` lines of verbose mode.
    fn say(&self, what: &str) {
        if self.verbose() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{} - {what}", asctime(SystemTime::now()));
            let _ = out.flush();
        }
    }
}

/// Python's binding of call arguments to a method's parameters, with
/// CPython 3.11's `TypeError` texts (checked in the same order: keyword
/// arguments, then surplus positional ones, then missing ones).
fn bind(method: &str, params: &[&str], args: Args) -> Result<Vec<Value>, RemoteError> {
    let qualname = format!("EchoServer.{method}");
    let type_error = |msg: String| RemoteError::builtin("TypeError", msg);
    let given = args.vargs.len();
    let mut slots: Vec<Option<Value>> = vec![None; params.len()];
    for (slot, v) in slots.iter_mut().zip(args.vargs) {
        *slot = Some(v);
    }
    for (k, v) in args.kwargs.0 {
        let Value::Str(name) = k else {
            return Err(type_error("keywords must be strings".into()));
        };
        match params.iter().position(|p| *p == name) {
            Some(i) if slots[i].is_some() => {
                return Err(type_error(format!(
                    "{qualname}() got multiple values for argument '{name}'"
                )))
            }
            Some(i) => slots[i] = Some(v),
            None => {
                return Err(type_error(format!(
                    "{qualname}() got an unexpected keyword argument '{name}'"
                )))
            }
        }
    }
    if given > params.len() {
        let takes = params.len() + 1; // `self` counts in Python's message
        let plural = if takes == 1 { "" } else { "s" };
        return Err(type_error(format!(
            "{qualname}() takes {takes} positional argument{plural} but {} were given",
            given + 1
        )));
    }
    let missing: Vec<&str> = params
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(p, _)| *p)
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        let list = match names.len() {
            1 => names[0].clone(),
            n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
        };
        let plural = if missing.len() == 1 { "" } else { "s" };
        return Err(type_error(format!(
            "{qualname}() missing {} required positional argument{plural}: {list}",
            missing.len()
        )));
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Python's truth value (`bool(x)`), for the `verbose` setter.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::BigInt(_) => true, // never zero: zero fits an i64
        Value::Float(f) => *f != 0.0,
        Value::Complex { re, im } => *re != 0.0 || *im != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(x) | Value::Tuple(x) | Value::Set(x) | Value::FrozenSet(x) => !x.is_empty(),
        Value::Dict(d) => !d.is_empty(),
        Value::Class(_) => true,
    }
}

impl Servant for EchoServer {
    fn class_name(&self) -> &str {
        "EchoServer"
    }

    fn metadata(&self) -> Metadata {
        Metadata {
            methods: METHODS.iter().map(|(m, _)| m.to_string()).collect(),
            oneway: vec!["oneway_echo".into(), "oneway_slow".into()],
            attrs: vec!["verbose".into()],
        }
    }

    fn invoke(
        &self,
        ctx: &mut CallContext,
        method: &str,
        args: Args,
    ) -> Result<Reply, RemoteError> {
        let Some((_, params)) = METHODS.iter().find(|(m, _)| *m == method) else {
            return Err(RemoteError::attribute_error(format!(
                "'EchoServer' object has no attribute '{method}'"
            )));
        };
        let mut args = bind(method, params, args)?.into_iter();
        let value = |v: &str| Ok(Reply::Value(Value::from(v)));
        match method {
            "echo" => {
                let message = args.next().unwrap_or(Value::None);
                self.say(&format!(
                    "echo: {}",
                    py_repr_received(&message, ctx.serializer)
                ));
                Ok(Reply::Value(message))
            }
            "error" | "error_with_text" => {
                self.say("error: generating exception");
                Err(RemoteError::builtin(
                    "ValueError",
                    if method == "error" {
                        "expected error from echoserver error() method"
                    } else {
                        "the message of the error"
                    },
                ))
            }
            "oneway_echo" => {
                let message = args.next().unwrap_or(Value::None);
                self.say(&format!(
                    "oneway_echo: {}",
                    py_repr_received(&message, ctx.serializer)
                ));
                value(BOGUS)
            }
            "slow" => {
                self.say("slow: waiting a bit...");
                std::thread::sleep(SLOW);
                self.say("slow: returning result");
                value("Finally, an answer!")
            }
            "oneway_slow" => {
                self.say("oneway_slow: waiting a bit...");
                std::thread::sleep(SLOW);
                self.say("oneway_slow: returning result");
                value(BOGUS)
            }
            "generator" => Ok(Reply::Stream(Box::new(
                ["one", "two", "three"].into_iter().map(|s| Ok(s.into())),
            ))),
            "nan" => Ok(Reply::Value(Value::Float(f64::NAN))),
            "inf" => Ok(Reply::Value(Value::Float(f64::INFINITY))),
            "__dunder__" => value("should be allowed (dunder)"),
            "shutdown" => {
                self.say("shutting down");
                (self.shutdown)();
                Ok(Reply::Value(Value::None))
            }
            _ => unreachable!("every name in METHODS is handled"),
        }
    }

    fn get_attr(&self, _ctx: &mut CallContext, name: &str) -> Result<Value, RemoteError> {
        match name {
            "verbose" => Ok(Value::Bool(self.verbose())),
            _ => Err(RemoteError::attribute_error(format!(
                "attempt to access unexposed or unknown remote attribute '{name}'"
            ))),
        }
    }

    fn set_attr(
        &self,
        _ctx: &mut CallContext,
        name: &str,
        value: Value,
    ) -> Result<(), RemoteError> {
        match name {
            "verbose" => {
                self.verbose.store(truthy(&value), Ordering::Relaxed);
                Ok(())
            }
            _ => Err(RemoteError::attribute_error(format!(
                "attempt to access unexposed or unknown remote attribute '{name}'"
            ))),
        }
    }
}

/// Python's `time.asctime()` (`Wed Nov 25 14:26:33 2026`), in UTC.
pub fn asctime(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        year
    )
}

/// Options of `pyro echoserver`, those of Python's echo server script.
#[derive(Debug, Clone)]
pub struct Options {
    /// Host to bind on.
    pub host: String,
    /// Port to bind on (0: any free port).
    pub port: u16,
    /// Unix domain socket to bind on instead of TCP.
    pub unixsocket: Option<PathBuf>,
    /// Print a line for each call.
    pub verbose: bool,
    /// Print nothing.
    pub quiet: bool,
    /// The HMAC key (from `-k` or `PYRO_HMAC_KEY`), empty for none.
    pub hmac_key: Vec<u8>,
    /// Serializers clients may use.
    pub serializers: Vec<SerializerId>,
    /// Register the object with a name server (`-n`).
    pub naming: bool,
    /// Start a name server in-process first (`-N`, implies `naming`).
    pub nameserver: bool,
    /// The name server port (Pyro4's `NS_PORT`, `PYRO_NS_PORT`): where
    /// `-N` starts it and where `-n` looks for it first.
    pub ns_port: u16,
    /// The broadcast port of the `-N` name server (Pyro4's `NS_BCPORT`).
    pub ns_bcport: u16,
}

/// Why the echo server could not run.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// Binding or serving failed.
    #[error(transparent)]
    Daemon(#[from] pyro_transport_std::Error),
    /// The signal handler could not be installed.
    #[error("cannot install the Ctrl-C/SIGTERM handler: {0}")]
    Signal(#[from] ctrlc::Error),
    /// The `-N` name server could not start.
    #[error("cannot start the name server: {0}")]
    NameServer(#[from] crate::naming::NsError),
    /// No name server found, or registering with it failed.
    #[error("name server: {0}")]
    Naming(#[from] pyro_transport_std::ProxyError),
}

/// Bind the daemon and register the echo server; returns the daemon (not
/// yet serving) and the object's URI.
pub fn start(options: &Options) -> Result<(Daemon, String), EchoError> {
    let mut builder = Daemon::builder().serializers(&options.serializers);
    builder = match &options.unixsocket {
        Some(path) => builder.unix(path.clone()),
        None => builder.tcp(&options.host, options.port),
    };
    if !options.hmac_key.is_empty() {
        builder = builder.hmac_key(options.hmac_key.clone());
    }
    let daemon = builder.bind()?;
    let handle: DaemonHandle = daemon.handle();
    let stopper = handle.clone();
    let echo: Arc<dyn Servant> =
        Arc::new(EchoServer::new(options.verbose, move || stopper.shutdown()));
    let uri = handle.register(echo, Some(OBJECT_ID))?;
    Ok((daemon, uri.to_string()))
}

/// Python's `startNameServer` for `-N`: a name server on the echo
/// server's host and the name server port, serving in a background thread
/// for the life of the process. Returns its URI and the broadcast
/// responder's `host:port`, if one runs.
fn start_nameserver(options: &Options) -> Result<(Uri, Option<String>), EchoError> {
    let started = crate::naming::start_ns(&crate::naming::NsOptions {
        host: options.host.clone(),
        port: options.ns_port,
        unixsocket: None,
        bchost: None,
        bcport: options.ns_bcport,
        nat: None,
        broadcast: true,
        hmac_key: options.hmac_key.clone(),
    })?;
    let uri = started.server.uri().clone();
    let server = started.server;
    std::thread::Builder::new()
        .name("pyro-nameserver".into())
        .spawn(move || server.request_loop())
        .map_err(|e| {
            EchoError::Daemon(pyro_transport_std::Error::Bind {
                address: "name server thread".into(),
                source: e,
            })
        })?;
    Ok((uri, started.broadcast))
}

/// Run the echo server as Python's script does: print its banner and URI,
/// serve until `shutdown()` is called or Ctrl-C / SIGTERM arrives.
///
/// Installs the process's Ctrl-C/SIGTERM handler, which a process can have
/// only once: a second call fails with [`EchoError::Signal`]. Embedders
/// that want several servers use [`start`] and their own shutdown logic.
pub fn run(options: &Options) -> Result<(), EchoError> {
    let quiet = options.quiet && !options.verbose;
    let mut out = std::io::stdout();
    if !quiet {
        let _ = writeln!(out, "Starting Pyro's built-in test echo server.");
        if options.hmac_key.is_empty() {
            let _ = writeln!(
                out,
                "Warning: HMAC key not set. Anyone can connect to this server!"
            );
        }
    }
    // The signal handler goes in before the socket is bound, so that no
    // signal can find the process without it; one that arrives before the
    // daemon exists is remembered and honoured right after binding.
    let stopper: Arc<Mutex<Option<DaemonHandle>>> = Arc::default();
    let requested = Arc::new(AtomicBool::new(false));
    {
        let (stopper, requested) = (stopper.clone(), requested.clone());
        ctrlc::set_handler(move || {
            requested.store(true, Ordering::SeqCst);
            if let Some(handle) = &*stopper.lock().unwrap_or_else(PoisonError::into_inner) {
                handle.shutdown();
            }
        })?;
    }
    // Python starts its name server thread before binding the echo daemon.
    let nameserver = if options.nameserver {
        Some(start_nameserver(options)?)
    } else {
        None
    };
    let (daemon, uri) = start(options)?;
    *stopper.lock().unwrap_or_else(PoisonError::into_inner) = Some(daemon.handle());
    if requested.load(Ordering::SeqCst) {
        daemon.shutdown();
    }
    if options.naming || options.nameserver {
        let (host, port) = match &nameserver {
            Some((ns_uri, _)) => (ns_uri.host().map(str::to_string), ns_uri.tcp_port()),
            None => (None, Some(options.ns_port)),
        };
        let mut builder = ProxyBuilder::default();
        if !options.hmac_key.is_empty() {
            builder = builder.hmac_key(options.hmac_key.clone());
        }
        let ns = locate_ns_with(&builder, host.as_deref(), port, true)?;
        ns.call_value(
            "register",
            vec![Value::from(OBJECT_ID), Value::Str(uri.as_str().into())],
            Dict::default(),
        )?;
        if options.verbose {
            let _ = writeln!(out, "using name server at {}", ns.uri());
            if let Some((_, bc)) = &nameserver {
                match bc {
                    Some(bc) => {
                        let _ = writeln!(out, "broadcast server running at {bc}");
                    }
                    None => {
                        let _ = writeln!(out, "not using a broadcast server");
                    }
                }
            }
        }
        ns.release();
    } else if options.verbose {
        let _ = writeln!(out, "not using a name server.");
    }
    if !quiet {
        let _ = writeln!(out, "object name: {OBJECT_ID}");
        let _ = writeln!(out, "echo uri: {uri}");
        let _ = writeln!(out, "echoserver running.");
    }
    let _ = out.flush();
    daemon.request_loop()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, vargs: Vec<Value>, kwargs: &[(&str, Value)]) -> Result<Value, String> {
        let echo = EchoServer::new(false, || {});
        let mut kw = Dict::default();
        for (k, v) in kwargs {
            kw.insert(*k, v.clone());
        }
        let mut ctx = CallContext {
            client: None,
            seq: 0,
            serializer: SerializerId::Serpent,
            flags: Default::default(),
            annotations: Default::default(),
            correlation_id: [0; 16],
            response_annotations: Default::default(),
        };
        match echo.invoke(&mut ctx, method, Args { vargs, kwargs: kw }) {
            Ok(Reply::Value(v)) => Ok(v),
            Ok(Reply::Stream(items)) => Ok(Value::List(items.map(|i| i.unwrap()).collect())),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn methods_answer_as_pythons_do() {
        assert_eq!(call("echo", vec![Value::Int(5)], &[]), Ok(Value::Int(5)));
        assert_eq!(
            call("echo", vec![], &[("message", "m".into())]),
            Ok("m".into())
        );
        assert_eq!(
            call("error", vec![], &[]),
            Err("ValueError: expected error from echoserver error() method".into())
        );
        assert_eq!(
            call("oneway_echo", vec![Value::None], &[]),
            Ok(BOGUS.into())
        );
        assert_eq!(
            call("generator", vec![], &[]),
            Ok(Value::list(["one", "two", "three"]))
        );
        assert_eq!(
            call("__dunder__", vec![], &[]),
            Ok("should be allowed (dunder)".into())
        );
    }

    #[test]
    fn signature_errors_use_cpython_texts() {
        type Case<'a> = (&'a str, Vec<Value>, &'a [(&'a str, Value)], &'a str);
        let cases: &[Case] = &[
            (
                "echo",
                vec![],
                &[],
                "TypeError: EchoServer.echo() missing 1 required positional argument: 'message'",
            ),
            (
                "echo",
                vec![Value::Int(1), Value::Int(2)],
                &[],
                "TypeError: EchoServer.echo() takes 2 positional arguments but 3 were given",
            ),
            (
                "error",
                vec![Value::Int(1)],
                &[],
                "TypeError: EchoServer.error() takes 1 positional argument but 2 were given",
            ),
            (
                "echo",
                vec![Value::Int(1)],
                &[("message", Value::Int(2))],
                "TypeError: EchoServer.echo() got multiple values for argument 'message'",
            ),
            (
                "echo",
                vec![],
                &[("x", Value::Int(2))],
                "TypeError: EchoServer.echo() got an unexpected keyword argument 'x'",
            ),
        ];
        for (method, vargs, kw, want) in cases {
            assert_eq!(call(method, vargs.clone(), kw), Err(want.to_string()));
        }
    }

    #[test]
    fn truthiness() {
        assert!(!truthy(&Value::Int(0)));
        assert!(truthy(&Value::from("x")));
        assert!(!truthy(&Value::List(vec![])));
        assert!(!truthy(&Value::Float(0.0)));
    }

    #[test]
    fn asctime_matches_python() {
        // python -c "import time; print(time.asctime(time.gmtime(1764081993)))"
        let t = UNIX_EPOCH + Duration::from_secs(1_764_081_993);
        assert_eq!(asctime(t), "Tue Nov 25 14:46:33 2025");
        assert_eq!(asctime(UNIX_EPOCH), "Thu Jan  1 00:00:00 1970");
    }
}
