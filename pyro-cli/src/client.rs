//! `pyro call` and `pyro ping`: a Pyro4 proxy driven from the shell.
//!
//! Output follows what a Python user sees: a result is printed as
//! `print(repr(result))` would print it, a generator's items one per line,
//! and a remote exception as Pyro4's `getPyroTraceback()` shows it (the
//! remote traceback block, then `Class: message`) on stderr.

use std::io::Write;
use std::time::{Duration, Instant};

use pyro_proto::serialize::SerializerId;
use pyro_proto::session::CallOptions;
use pyro_proto::value::{RemoteError, Value};
use pyro_proto::Uri;
use pyro_transport_std::{CallResult, Proxy, ProxyError};

use crate::cli::{
    parse_serializers, CallArgs, ConnArgs, Failure, PingArgs, EXIT_BAD_ARGUMENT,
    EXIT_COMMUNICATION, EXIT_REMOTE_ERROR,
};
use crate::literal::{parse_kwargs, parse_literal};
use pyro_proto::value::repr::{py_repr, py_repr_received, py_str};

/// The object id of every daemon's own object (Pyro4's `Pyro.Daemon`).
pub const DAEMON_OBJECT: &str = "Pyro.Daemon";

/// Pyro4's `getPyroTraceback()` text for a remote exception, without the
/// local part: the remote traceback block (when the daemon sent one), then
/// the exception's last line, `Class: message`, as Python's traceback ends.
pub fn format_remote_error(e: &RemoteError) -> String {
    let mut out = String::new();
    if let Some(tb) = e.traceback.as_deref().filter(|t| !t.is_empty()) {
        out.push_str(" +--- This exception occured remotely (Pyro) - Remote traceback:");
        for line in tb.strip_suffix('\n').unwrap_or(tb).split('\n') {
            out.push_str("\n | ");
            out.push_str(line);
        }
        out.push_str("\n +--- End of remote traceback\n");
    }
    out.push_str(&exception_line(e));
    out.push('\n');
    out
}

/// The last line of a Python traceback (`traceback.format_exception_only`):
/// the class (builtins without their module), then `: str(exc)` unless that
/// is empty. `str(exc)` is computed with [`py_repr`] (exact for complex
/// numbers and sets, unlike the approximation in `RemoteError`'s Display).
pub fn exception_line(e: &RemoteError) -> String {
    let name = e
        .class_name
        .strip_prefix("builtins.")
        .unwrap_or(&e.class_name);
    let message = match e.args.as_slice() {
        [] => String::new(),
        [one] if e.short_name() == "KeyError" => py_repr(one),
        [one] => py_str(one),
        many => py_repr(&Value::Tuple(many.to_vec())),
    };
    if message.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {message}")
    }
}

/// Map a proxy error to the exit code and message of the tool.
fn failure(e: ProxyError) -> Failure {
    match e {
        ProxyError::Remote(remote) => {
            eprint!("{}", format_remote_error(&remote));
            Failure::new(EXIT_REMOTE_ERROR, "")
        }
        // Python raises AttributeError locally for a name the metadata lacks.
        ProxyError::NoSuchMember { .. } => {
            eprintln!("AttributeError: {e}");
            Failure::new(EXIT_REMOTE_ERROR, "")
        }
        ProxyError::InvalidUri { .. }
        | ProxyError::NoLocation { .. }
        | ProxyError::Serialize { .. }
        | ProxyError::Arguments { .. } => Failure::new(EXIT_BAD_ARGUMENT, e.to_string()),
        other => Failure::new(EXIT_COMMUNICATION, other.to_string()),
    }
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::new(EXIT_BAD_ARGUMENT, e.to_string())
}

/// A proxy for `uri` with the connection options.
fn proxy(uri: Uri, conn: &ConnArgs) -> Result<(Proxy, SerializerId), Failure> {
    let serializer = match parse_serializers(&conn.serializer)?.as_slice() {
        [one] => *one,
        _ => return Err(bad("--serializer takes exactly one serializer name")),
    };
    let mut builder = Proxy::builder().serializer(serializer);
    if let Some(key) = conn.hmac_key.as_deref().filter(|k| !k.is_empty()) {
        builder = builder.hmac_key(key.as_bytes().to_vec());
    }
    if let Some(secs) = conn.timeout {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(bad(format!(
                "--timeout must be a positive number of seconds, not {secs}"
            )));
        }
        builder = builder.timeout(Some(Duration::from_secs_f64(secs)));
    }
    Ok((builder.build(uri).map_err(failure)?, serializer))
}

fn parse_uri(text: &str) -> Result<Uri, Failure> {
    Uri::parse(text).map_err(|e| bad(format!("invalid Pyro URI '{text}': {e}")))
}

/// `pyro call`.
pub fn call(args: CallArgs) -> Result<(), Failure> {
    // Everything given on the command line is checked before connecting.
    let uri = parse_uri(&args.uri)?;
    let vargs = args
        .args
        .iter()
        .map(|a| parse_literal(a))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(bad)?;
    let kwargs = parse_kwargs(&args.kwargs).map_err(bad)?;
    let (proxy, serializer) = proxy(uri, &args.conn)?;
    let opts = CallOptions {
        oneway: args.oneway.then_some(true),
        ..CallOptions::default()
    };
    let result = proxy
        .call_any(&args.method, vargs, kwargs, &opts)
        .map_err(failure)?;
    let mut out = std::io::stdout().lock();
    match result {
        CallResult::Value(_) if args.oneway => {}
        CallResult::Value(v) => {
            let _ = writeln!(out, "{}", py_repr_received(&v, serializer));
        }
        CallResult::Stream(items) => {
            for item in items {
                let item = item.map_err(failure)?;
                let _ = writeln!(out, "{}", py_repr_received(&item, serializer));
                let _ = out.flush();
            }
        }
    }
    let _ = out.flush();
    proxy.release();
    Ok(())
}

/// `pyro ping`: connect to the URI's daemon object (handshake), call its
/// `ping()`, print both times.
pub fn ping(args: PingArgs) -> Result<(), Failure> {
    let uri = parse_uri(&args.uri)?;
    let daemon_uri = match (uri.host(), uri.tcp_port(), uri.sockname()) {
        (_, _, Some(path)) => Uri::unix(DAEMON_OBJECT, path),
        (Some(host), Some(port), None) => Uri::pyro(DAEMON_OBJECT, host, port),
        _ => {
            return Err(bad(format!(
                "{}: no location to ping (expected PYRO:object@host:port or PYRO:object@./u:socketpath)",
                args.uri
            )))
        }
    }
    .map_err(bad)?;
    let shown = daemon_uri.to_string();
    let (proxy, _) = proxy(daemon_uri, &args.conn)?;
    let start = Instant::now();
    proxy.bind().map_err(failure)?;
    let connected = start.elapsed();
    let start = Instant::now();
    proxy
        .call_value("ping", Vec::new(), Default::default())
        .map_err(failure)?;
    let round_trip = start.elapsed();
    proxy.release();
    println!(
        "{shown}: ping() round trip {:.3} ms (connect and handshake {:.3} ms)",
        round_trip.as_secs_f64() * 1e3,
        connected.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The serializers `pyro call` can use, for help texts and tests.
pub fn serializer_names() -> Vec<&'static str> {
    SerializerId::ALL.iter().map(|s| s.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_errors_print_like_get_pyro_traceback() {
        let e = RemoteError::builtin("ValueError", "bad").with_traceback(
            "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nValueError: bad\n",
        );
        assert_eq!(
            format_remote_error(&e),
            " +--- This exception occured remotely (Pyro) - Remote traceback:\n \
             | Traceback (most recent call last):\n \
             |   File \"x.py\", line 1, in f\n \
             | ValueError: bad\n \
             +--- End of remote traceback\nValueError: bad\n"
        );
        let bare = RemoteError::pyro("NamingError", "unknown name: x");
        assert_eq!(
            format_remote_error(&bare),
            "Pyro4.errors.NamingError: unknown name: x\n"
        );
    }

    #[test]
    fn exception_lines_as_python_formats_them() {
        // traceback.format_exception_only() of the same exceptions in Python 3.11.
        let cases = [
            (RemoteError::builtin("ValueError", "bad"), "ValueError: bad"),
            (
                RemoteError::new("builtins.ValueError", vec![]),
                "ValueError",
            ),
            (
                RemoteError::new("builtins.KeyError", vec![Value::from("k")]),
                "KeyError: 'k'",
            ),
            (
                RemoteError::new(
                    "builtins.ValueError",
                    vec![Value::from("a"), Value::Complex { re: 1.0, im: 2.0 }],
                ),
                "ValueError: ('a', (1+2j))",
            ),
            (
                RemoteError::new("builtins.ValueError", vec![Value::Int(3)]),
                "ValueError: 3",
            ),
            (
                RemoteError::pyro("NamingError", "unknown name: x"),
                "Pyro4.errors.NamingError: unknown name: x",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(exception_line(&e), want);
        }
    }

    #[test]
    fn all_serializers_named() {
        assert_eq!(serializer_names(), ["serpent", "json", "marshal", "pickle"]);
    }
}
