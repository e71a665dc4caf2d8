//! `pyro ns` and `pyro nsc`: the Rust twins of Pyro4's `pyro4-ns`
//! (`Pyro4.naming.main`) and `pyro4-nsc` (`Pyro4.nsc.main`).
//!
//! The console output copies the Python scripts' lines, so that scripts
//! parsing it keep working when the Rust tool replaces the Python one.

use std::io::{BufRead, Write};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyro_proto::daemon::Location;
use pyro_proto::naming::{nameserver_uri, NAMESERVER_NAME};
use pyro_proto::serialize::SerializerId;
use pyro_proto::value::repr::{py_repr_received, py_str};
use pyro_proto::value::{Dict, Value};
use pyro_proto::Uri;
use pyro_transport_std::naming::{locate_ns_with, NameServer, FAILED_TO_LOCATE};
use pyro_transport_std::{DaemonBuilder, DaemonHandle, Proxy, ProxyBuilder, ProxyError};

use crate::echoserver::truthy;

/// Why a name server could not run.
#[derive(Debug, thiserror::Error)]
pub enum NsError {
    /// Binding or serving failed.
    #[error(transparent)]
    Daemon(#[from] pyro_transport_std::Error),
    /// The signal handler could not be installed.
    #[error("cannot install the Ctrl-C/SIGTERM handler: {0}")]
    Signal(#[from] ctrlc::Error),
}

/// Settings of `pyro ns` (those of Pyro4's `startNSloop`).
#[derive(Debug, Clone)]
pub struct NsOptions {
    /// Host to bind on (Pyro4's `HOST`, `localhost`).
    pub host: String,
    /// Port to bind on (Pyro4's `NS_PORT`, 9090; 0: any free port).
    pub port: u16,
    /// Unix domain socket to bind on instead of TCP.
    pub unixsocket: Option<std::path::PathBuf>,
    /// Broadcast responder host (Pyro4's `NS_BCHOST`; `None`: all interfaces).
    pub bchost: Option<String>,
    /// Broadcast responder port (Pyro4's `NS_BCPORT`, 9091; 0: any free port).
    pub bcport: u16,
    /// External address put in URIs (Pyro4's `NATHOST`/`NATPORT`).
    pub nat: Option<(String, u16)>,
    /// Run the broadcast responder (unless the host is a loopback or IPv6 one).
    pub broadcast: bool,
    /// HMAC key, empty for none.
    pub hmac_key: Vec<u8>,
}

/// A bound name server and what Pyro4 prints about it.
pub struct Started {
    /// The name server, not yet serving.
    pub server: NameServer,
    /// Lines Pyro4's `startNSloop` prints before serving, in order.
    pub lines: Vec<String>,
    /// Where the broadcast responder listens (`host:port`), if it runs.
    pub broadcast: Option<String>,
}

/// The address a socket bound to `host` gets (Pyro4 prints
/// `sock.getsockname()[0]`): the address itself, or the first IPv4
/// address the name resolves to (Pyro4 prefers IPv4).
fn bound_ip(host: &str, port: u16) -> Option<IpAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    let addrs: Vec<_> = (host, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
}

fn location_str(location: &Location) -> String {
    match location {
        Location::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        Location::Tcp { host, port } => format!("{host}:{port}"),
        Location::Unix { path } => format!("./u:{path}"),
    }
}

/// Bind a name server as Pyro4's `startNSloop` does (without serving).
pub fn start_ns(options: &NsOptions) -> Result<Started, NsError> {
    let mut lines = Vec::new();
    let mut daemon = DaemonBuilder::default();
    if !options.hmac_key.is_empty() {
        daemon = daemon.hmac_key(options.hmac_key.clone());
    }
    if let Some((host, port)) = &options.nat {
        daemon = daemon.nat(host, *port);
    }
    let ip = match options.unixsocket {
        Some(_) => None,
        None => bound_ip(&options.host, options.port),
    };
    let mut broadcast = options.broadcast && options.unixsocket.is_none();
    match ip {
        Some(IpAddr::V6(ip)) if !ip.is_loopback() => {
            lines.push("Not starting broadcast server for IPv6.".to_string());
            broadcast = false;
        }
        Some(ip) if ip.is_loopback() => {
            lines.push("Not starting broadcast server for localhost.".to_string());
            broadcast = false;
        }
        _ => {}
    }
    let bchost = options.bchost.clone().unwrap_or_else(|| "0.0.0.0".into());
    let mut builder = NameServer::builder()
        .tcp(&options.host, options.port)
        .daemon(daemon);
    if let Some(path) = &options.unixsocket {
        builder = builder.unix(path.clone());
    }
    builder = if broadcast {
        builder.broadcast(&bchost, options.bcport)
    } else {
        builder.no_broadcast()
    };
    let server = builder.bind()?;
    let bc = server
        .broadcast_port()
        .map(|port| match bchost.contains(':') {
            true => format!("[{bchost}]:{port}"),
            false => format!("{bchost}:{port}"),
        });
    if let Some(bc) = &bc {
        lines.push(format!("Broadcast server running on {bc}"));
    }
    let location = server.handle().location();
    let hostip = match (&options.unixsocket, ip) {
        (Some(_), _) => "Unix domain socket".to_string(),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => options.host.clone(),
    };
    lines.push(format!(
        "NS running on {} ({hostip})",
        location_str(&location)
    ));
    if options.hmac_key.is_empty() {
        lines.push("Warning: HMAC key not set. Anyone can connect to this server!".into());
    }
    let uri = server.uri().to_string();
    match (&options.nat, &location) {
        (Some(_), Location::Tcp { host, port }) => {
            let internal =
                nameserver_uri(host, *port).map_or_else(|_| uri.clone(), |u| u.to_string());
            lines.push(format!("internal URI = {internal}"));
            lines.push(format!("external URI = {uri}"));
        }
        _ => lines.push(format!("URI = {uri}")),
    }
    Ok(Started {
        server,
        lines,
        broadcast: bc,
    })
}

/// `pyro ns`: bind, print Pyro4's startup lines, serve until Ctrl-C or
/// SIGTERM, then print `NS shut down.`.
pub fn run_ns(options: &NsOptions) -> Result<(), NsError> {
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
    let started = start_ns(options)?;
    let handle = started.server.handle();
    *stopper.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle.clone());
    if requested.load(Ordering::SeqCst) {
        handle.shutdown();
    }
    let mut out = std::io::stdout();
    for line in &started.lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    let result = started.server.request_loop();
    let _ = writeln!(out, "NS shut down.");
    let _ = out.flush();
    Ok(result?)
}

/// The commands of `pyro4-nsc` (and Pyro5's `yplookup_*` spellings of
/// `listmeta_*`).
pub const NSC_COMMANDS: &[&str] = &[
    "register",
    "remove",
    "removematching",
    "lookup",
    "list",
    "listmatching",
    "listmeta_all",
    "listmeta_any",
    "yplookup_all",
    "yplookup_any",
    "setmeta",
    "ping",
];

/// Where `pyro nsc` looks for the name server.
#[derive(Debug, Clone, Default)]
pub struct NscOptions {
    /// `-n`: the name server's host (else localhost, then broadcast).
    pub host: Option<String>,
    /// `-p`: its port (or the broadcast port when no host is given).
    pub port: Option<u16>,
    /// `-u`: its Unix domain socket.
    pub unixsocket: Option<String>,
    /// HMAC key, empty for none.
    pub hmac_key: Vec<u8>,
    /// `-v`: say what is going on.
    pub verbose: bool,
}

/// How an nsc run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum NscOutcome {
    /// The command worked.
    Ok,
    /// No name server found (Python prints `Error: <message>`).
    NotFound,
    /// The command failed (Python prints `Error: <class> - <message>`).
    Failed,
}

/// Python's `type(x).__name__` and `str(x)` for an error nsc catches.
fn error_parts(e: &ProxyError) -> (String, String) {
    if let Some(remote) = e.remote() {
        return (remote.short_name().to_string(), remote.message());
    }
    let class = match e {
        ProxyError::Naming { .. } => "NamingError",
        ProxyError::TimedOut { .. } => "TimeoutError",
        ProxyError::ConnectionClosed { .. } => "ConnectionClosedError",
        ProxyError::InvalidUri { .. } => "PyroError",
        _ => "CommunicationError",
    };
    (class.to_string(), e.to_string())
}

/// A command-line mistake nsc reports like Python's `SystemExit(text)`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NscUsage(pub String);

/// `pyro nsc`: locate the name server and run one command, printing what
/// Pyro4's nsc prints on `out` (`input` answers removematching's question).
pub fn run_nsc(
    options: &NscOptions,
    args: &[String],
    out: &mut dyn Write,
    input: &mut dyn BufRead,
) -> Result<NscOutcome, NscUsage> {
    let command = args.first().map(String::as_str).unwrap_or("");
    if !NSC_COMMANDS.contains(&command) {
        return Err(NscUsage("invalid or missing command".into()));
    }
    check_arguments(command, args)?;
    if options.verbose {
        let _ = writeln!(out, "Locating name server...");
    }
    let mut builder = ProxyBuilder::default();
    if !options.hmac_key.is_empty() {
        builder = builder.hmac_key(options.hmac_key.clone());
    }
    let located = match &options.unixsocket {
        Some(path) => locate_unix(&builder, path),
        None => locate_ns_with(&builder, options.host.as_deref(), options.port, true),
    };
    let ns = match located {
        Ok(ns) => ns,
        Err(e) => {
            let _ = writeln!(out, "Error: {e}");
            return Ok(NscOutcome::NotFound);
        }
    };
    if options.verbose {
        let _ = writeln!(out, "Name server found: {}", ns.uri());
    }
    let outcome = match command_result(&ns, args, out, input) {
        Ok(()) => NscOutcome::Ok,
        Err(e) => {
            let (class, message) = error_parts(&e);
            let _ = writeln!(out, "Error: {class} - {message}");
            NscOutcome::Failed
        }
    };
    ns.release();
    if options.verbose {
        let _ = writeln!(out, "Done.");
    }
    let _ = out.flush();
    Ok(outcome)
}

/// Pyro4's `locateNS("./u:path")`: connect to the name server's socket.
fn locate_unix(builder: &ProxyBuilder, path: &str) -> Result<Proxy, ProxyError> {
    let text = format!("PYRO:{NAMESERVER_NAME}@./u:{path}");
    let connect = || -> Result<Proxy, ProxyError> {
        let proxy = builder.build(text.as_str())?;
        proxy.bind()?;
        Ok(proxy)
    };
    connect().map_err(|e| ProxyError::Naming {
        message: FAILED_TO_LOCATE.to_string(),
        source: Some(Box::new(e)),
    })
}

/// The argument checks of Pyro4's nsc (done there after locating the
/// name server, with the same texts; here before, to fail fast).
fn check_arguments(command: &str, args: &[String]) -> Result<(), NscUsage> {
    let n = args.len();
    let problem = match command {
        "listmatching" | "removematching" if n != 2 => Some("requires one argument: pattern"),
        "lookup" | "remove" if n != 2 => Some("requires one argument: name"),
        "register" if n != 3 => Some("requires two arguments: name uri"),
        "setmeta" if n < 2 => Some("requires at least 2 arguments: uri and zero or more meta tags"),
        "listmeta_all" | "listmeta_any" | "yplookup_all" | "yplookup_any" if n < 2 => {
            Some("requires at least one metadata tag argument")
        }
        _ => None,
    };
    problem.map_or(Ok(()), |p| Err(NscUsage(p.into())))
}

fn str_set(items: &[String]) -> Value {
    let mut sorted: Vec<&String> = items.iter().collect();
    sorted.sort();
    sorted.dedup();
    Value::Set(
        sorted
            .into_iter()
            .map(|s| Value::Str(s.as_str().into()))
            .collect(),
    )
}

fn kwargs(items: Vec<(&str, Value)>) -> Dict {
    let mut d = Dict::new();
    for (k, v) in items {
        d.insert(k, v);
    }
    d
}

/// `print(x)` of a value as received.
fn show(v: &Value) -> String {
    match v {
        Value::Str(_) | Value::Int(_) | Value::BigInt(_) => py_str(v),
        Value::Class(_) | Value::Dict(_) => match Uri::from_value(v) {
            Ok(uri) => uri.to_string(),
            Err(_) => py_repr_received(v, SerializerId::Serpent),
        },
        other => py_repr_received(other, SerializerId::Serpent),
    }
}

fn command_result(
    ns: &Proxy,
    args: &[String],
    out: &mut dyn Write,
    input: &mut dyn BufRead,
) -> Result<(), ProxyError> {
    let arg = |i: usize| Value::Str(args[i].as_str().into());
    let list = |out: &mut dyn Write, kw: Vec<(&str, Value)>, title: &str| {
        let mut kw = kw;
        kw.push(("return_metadata", Value::Bool(true)));
        let result = ns.call_value("list", Vec::new(), kwargs(kw))?;
        print_list(out, &result, title);
        Ok(())
    };
    match args[0].as_str() {
        "ping" => {
            ns.call_value("ping", Vec::new(), Dict::new())?;
            let _ = writeln!(out, "Name server ping ok.");
            Ok(())
        }
        "list" if args.len() == 1 => list(out, vec![], ""),
        "list" => list(
            out,
            vec![("prefix", arg(1))],
            &format!("- prefix '{}'", args[1]),
        ),
        "listmatching" => list(
            out,
            vec![("regex", arg(1))],
            &format!("- regex '{}'", args[1]),
        ),
        "listmeta_all" | "yplookup_all" => list(
            out,
            vec![("metadata_all", str_set(&args[1..]))],
            " - searched by metadata",
        ),
        "listmeta_any" | "yplookup_any" => list(
            out,
            vec![("metadata_any", str_set(&args[1..]))],
            " - searched by metadata",
        ),
        "lookup" => {
            let reply = ns.call_value(
                "lookup",
                vec![arg(1)],
                kwargs(vec![("return_metadata", Value::Bool(true))]),
            )?;
            let (uri, metadata) = pair(&reply);
            let _ = writeln!(out, "{}", show(&uri));
            if truthy(&metadata) {
                let _ = writeln!(out, "metadata: {}", show(&metadata));
            }
            Ok(())
        }
        "register" => {
            ns.call_value(
                "register",
                vec![arg(1), arg(2)],
                kwargs(vec![("safe", Value::Bool(true))]),
            )?;
            let _ = writeln!(out, "Registered {}", args[1]);
            Ok(())
        }
        "remove" => {
            let count = ns.call_value("remove", vec![arg(1)], Dict::new())?;
            if matches!(count, Value::Int(n) if n > 0) {
                let _ = writeln!(out, "Removed {}", args[1]);
            } else {
                let _ = writeln!(out, "Nothing removed");
            }
            Ok(())
        }
        "removematching" => {
            let _ = write!(
                out,
                "Potentially removing lots of items from the Name server. Are you sure (y/n)?"
            );
            let _ = out.flush();
            let mut answer = String::new();
            if input.read_line(&mut answer).unwrap_or(0) == 0 {
                // Python's input() at end of file raises EOFError, which
                // nsc prints like any other error.
                return Err(ProxyError::Remote(pyro_proto::value::RemoteError::builtin(
                    "EOFError",
                    "EOF when reading a line",
                )));
            }
            if matches!(answer.trim(), "y" | "Y") {
                let count = ns.call_value("remove", Vec::new(), kwargs(vec![("regex", arg(1))]))?;
                let _ = writeln!(out, "{} items removed.", show(&count));
            }
            Ok(())
        }
        "setmeta" => {
            let metadata = str_set(&args[2..]);
            let empty = !truthy(&metadata);
            ns.call_value("set_metadata", vec![arg(1), metadata], Dict::new())?;
            let _ = writeln!(
                out,
                "{}",
                if empty {
                    "Metadata cleared"
                } else {
                    "Metadata updated"
                }
            );
            Ok(())
        }
        other => unreachable!("command {other} was checked"),
    }
}

/// The two items of a `(uri, metadata)` reply.
fn pair(v: &Value) -> (Value, Value) {
    match v {
        Value::Tuple(items) | Value::List(items) if items.len() == 2 => {
            (items[0].clone(), items[1].clone())
        }
        other => (other.clone(), Value::None),
    }
}

/// nsc's `printListResult`: the entries sorted by name.
fn print_list(out: &mut dyn Write, result: &Value, title: &str) {
    let _ = writeln!(out, "--------START LIST {title}");
    let mut entries: Vec<(String, Value, Value)> = match result {
        Value::Dict(d) => {
            d.0.iter()
                .map(|(k, v)| {
                    let (uri, meta) = pair(v);
                    (show(k), uri, meta)
                })
                .collect()
        }
        _ => Vec::new(),
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, uri, metadata) in entries {
        let _ = writeln!(out, "{name} --> {}", show(&uri));
        if truthy(&metadata) {
            let _ = writeln!(out, "    metadata: {}", show(&metadata));
        }
    }
    let _ = writeln!(out, "--------END LIST {title}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_checks_use_nscs_texts() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_arguments("lookup", &args(&["lookup"]))
                .unwrap_err()
                .to_string(),
            "requires one argument: name"
        );
        assert!(check_arguments("list", &args(&["list"])).is_ok());
        assert!(check_arguments("setmeta", &args(&["setmeta", "x"])).is_ok());
        let mut out = Vec::new();
        let err = run_nsc(
            &NscOptions::default(),
            &args(&["bogus"]),
            &mut out,
            &mut std::io::empty(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid or missing command");
    }

    #[test]
    fn list_output_is_sorted_with_metadata() {
        let mut d = Dict::new();
        d.insert(
            "b",
            Value::Tuple(vec!["PYRO:b@h:1".into(), Value::Set(vec!["m".into()])]),
        );
        d.insert(
            "a",
            Value::Tuple(vec!["PYRO:a@h:1".into(), Value::Set(vec![])]),
        );
        let mut out = Vec::new();
        print_list(&mut out, &Value::Dict(d), "- prefix 'x'");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "--------START LIST - prefix 'x'\na --> PYRO:a@h:1\nb --> PYRO:b@h:1\n    \
             metadata: {'m'}\n--------END LIST - prefix 'x'\n"
        );
    }
}
