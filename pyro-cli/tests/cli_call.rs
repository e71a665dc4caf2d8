//! `pyro call` and `pyro ping` against Python's own `pyro4-test-echoserver`.
//!
//! For every case and serializer, `tests/python/cli_call_expect.py` makes the
//! same call with a real Pyro4 4.82 proxy and reports what a Python user sees
//! (`print(repr(result))`, an iterator's items one per line, a remote
//! exception as `getPyroTraceback()` shows it); `pyro call` must print
//! exactly that, on the same streams, with the same exit status.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// Python's echo server, stopped when dropped.
struct PyServer {
    child: Child,
    uri: String,
}

impl PyServer {
    fn start(args: &[&str], env: &[(&str, &str)]) -> PyServer {
        let mut cmd = Command::new(pyro_tests::python::python());
        cmd.args(["-u", "-m", "Pyro4.test.echoserver"])
            .args(args)
            .env_remove("PYRO_HMAC_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start Python's echoserver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let uri = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(uri) = line.strip_prefix("echo uri: ") {
                        break uri.to_string();
                    }
                }
                _ => panic!("Python's echoserver printed no URI"),
            }
        };
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        PyServer { child, uri }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pyro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pyro"))
        .args(args)
        .env_remove("PYRO_HMAC_KEY")
        .env_remove("PYRO_SERIALIZER")
        .output()
        .expect("run pyro")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A call: method, positional literals, keyword literals.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const CASES: &[Case] = &[
    ("echo", &["42"], &[]),
    ("echo", &["'text'"], &[]),
    ("echo", &["[1, (2, 3)]"], &[]),
    ("echo", &["{'a': b'x'}"], &[]),
    ("echo", &["None"], &[]),
    ("echo", &["1180591620717411303424"], &[]),
    ("echo", &["-1180591620717411303424"], &[]),
    ("echo", &["1+2j"], &[]),
    ("echo", &["{1, 2, 3}"], &[]),
    ("echo", &["{3, (1, 2)}"], &[]),
    ("echo", &["(1,)"], &[]),
    ("echo", &["()"], &[]),
    (
        "echo",
        &["{'k': [None, True, False, -0.0, 1e300, 0.1], 2: 'two'}"],
        &[],
    ),
    ("echo", &["\"it's\""], &[]),
    ("echo", &["'snow \u{2603} \\x00 \\u2028 \\U0001f600'"], &[]),
    ("echo", &["b'\\x00\\xff'"], &[]),
    ("echo", &["frozenset"], &[]),
    ("echo", &[], &[("message", "[1.5, 'kw']")]),
    ("echo", &[], &[]),
    ("echo", &["1", "2"], &[]),
    ("echo", &[], &[("nope", "1")]),
    ("generator", &[], &[]),
    ("nan", &[], &[]),
    ("inf", &[], &[]),
    ("error", &[], &[]),
    ("error_with_text", &[], &[]),
    ("__dunder__", &[], &[]),
    ("oneway_echo", &["'x'"], &[]),
    ("nosuch", &[], &[]),
    ("_private", &[], &[]),
];

/// Python's expected output for each case (None where Python cannot send it).
fn expected(uri: &str, serializer: &str, hmac: Option<&str>, cases: &[Case]) -> Vec<Json> {
    let job = json!({
        "uri": uri,
        "serializer": serializer,
        "hmac": hmac,
        "cases": cases.iter().map(|(m, a, k)| json!({
            "method": m,
            "args": a,
            "kwargs": k.iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    let mut child = pyro_tests::python::script("cli_call_expect.py")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "cli_call_expect.py failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice::<Vec<Json>>(&out.stdout).expect("JSON from cli_call_expect.py")
}

/// Run every case through `pyro call` and compare with Python.
fn compare(uri: &str, serializer: &str, hmac: Option<&str>) {
    let want = expected(uri, serializer, hmac, CASES);
    let mut compared = 0;
    let mut failures = Vec::new();
    for ((method, args, kwargs), want) in CASES.iter().zip(&want) {
        let expect = match (&want["stdout"], &want["stderr"], &want["code"]) {
            (Json::String(o), Json::String(e), Json::Number(c)) => {
                Some((o.clone(), e.clone(), c.as_i64().unwrap() as i32))
            }
            // A literal Python cannot parse is ours to refuse too (exit 3).
            _ if want["bad_literal"] == Json::Bool(true) => None,
            _ => {
                println!("{serializer} {method} {args:?}: skipped ({})", want["skip"]);
                continue;
            }
        };
        let mut argv = vec!["call", "--serializer", serializer];
        if let Some(key) = hmac {
            argv.extend(["--hmac-key", key]);
        }
        for (name, literal) in kwargs.iter() {
            argv.push("--kw");
            argv.push(Box::leak(format!("{name}={literal}").into_boxed_str()));
        }
        argv.push(uri);
        argv.push(method);
        argv.push("--");
        argv.extend(args.iter());
        let out = pyro(&argv);
        let got = (text(&out.stdout), text(&out.stderr), out.status.code());
        let Some((stdout, stderr, code)) = expect else {
            if got.2 != Some(3) || !got.1.contains("not a Python literal") {
                failures.push(format!("{method} {args:?}: bad literal accepted: {got:?}"));
            }
            compared += 1;
            continue;
        };
        if got != (stdout.clone(), stderr.clone(), Some(code)) {
            failures.push(format!(
                "{serializer} {method} {args:?} {kwargs:?}:\n  Python: {stdout:?} {stderr:?} {code}\n  pyro:   {:?} {:?} {:?}",
                got.0, got.1, got.2
            ));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 20,
        "only {compared} cases compared for {serializer}"
    );
    println!("{serializer}: {compared} calls print exactly what Python prints");
}

#[test]
fn cli_call_serpent_prints_what_python_prints() {
    let server = PyServer::start(&[], &[]);
    compare(&server.uri, "serpent", None);
}

#[test]
fn cli_call_json_prints_what_python_prints() {
    let server = PyServer::start(&[], &[]);
    compare(&server.uri, "json", None);
}

#[test]
fn cli_call_marshal_prints_what_python_prints() {
    let server = PyServer::start(&[], &[]);
    compare(&server.uri, "marshal", None);
}

#[test]
fn cli_call_pickle_prints_what_python_prints() {
    let server = PyServer::start(
        &[],
        &[("PYRO_SERIALIZERS_ACCEPTED", "serpent,json,marshal,pickle")],
    );
    compare(&server.uri, "pickle", None);
}

#[test]
fn cli_call_with_hmac_key() {
    let server = PyServer::start(&[], &[("PYRO_HMAC_KEY", "s3cret")]);
    compare(&server.uri, "serpent", Some("s3cret"));
    // The key from the environment works too.
    let out = Command::new(env!("CARGO_BIN_EXE_pyro"))
        .args(["call", &server.uri, "echo", "1"])
        .env("PYRO_HMAC_KEY", "s3cret")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "1\n", "{}", text(&out.stderr));
    // Without it: a one-line communication error, exit 4.
    let out = pyro(&["call", &server.uri, "echo", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cli_call_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("pyro-cli-call-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let server = PyServer::start(&["-u", path.to_str().unwrap()], &[]);
    let out = pyro(&["call", &server.uri, "echo", "[1, 'u']"]);
    assert_eq!(text(&out.stdout), "[1, 'u']\n", "{}", text(&out.stderr));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_call_oneway_and_timeout() {
    let server = PyServer::start(&[], &[]);
    // --oneway: sent, not waited for, nothing printed.
    let start = Instant::now();
    let out = pyro(&["call", "--oneway", &server.uri, "echo", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(start.elapsed() < Duration::from_secs(3));
    // --timeout: slow() takes 5 s.
    let start = Instant::now();
    let out = pyro(&["call", "--timeout", "0.5", &server.uri, "slow"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("timeout"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(start.elapsed() < Duration::from_secs(4));
    let out = pyro(&["call", "--timeout=-1", &server.uri, "echo", "1"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn cli_call_bad_input_and_connection_failures_have_distinct_exit_codes() {
    let server = PyServer::start(&[], &[]);
    for (argv, code, needle) in [
        (
            vec!["call", &server.uri, "echo", "text"],
            3,
            "not a Python literal",
        ),
        (
            vec!["call", &server.uri, "echo", "2**70"],
            3,
            "not a Python literal",
        ),
        (
            vec!["call", &server.uri, "echo", "[1, 2"],
            3,
            "not a Python literal",
        ),
        (
            vec!["call", "--kw", "novalue", &server.uri, "echo"],
            3,
            "name=literal",
        ),
        (
            vec!["call", "not-a-uri", "echo", "1"],
            3,
            "invalid Pyro URI",
        ),
        (
            // No name server runs: locating it fails like a connection does.
            vec!["call", "PYRONAME:test.echoserver", "echo", "1"],
            4,
            "Failed to locate the nameserver",
        ),
        (
            vec!["call", "--serializer", "yaml", &server.uri, "echo", "1"],
            3,
            "unknown serializer",
        ),
        (
            vec!["call", "PYRO:x@127.0.0.1:1", "echo", "1"],
            4,
            "connection refused",
        ),
        (vec!["ping", "PYRO:x@127.0.0.1:1"], 4, "connection refused"),
        (vec!["call"], 2, "Usage"),
    ] {
        let out = pyro(&argv);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{argv:?}: {err}");
        assert!(err.contains(needle), "{argv:?}: {err}");
        if code != 2 {
            assert_eq!(err.lines().count(), 1, "{argv:?}: {err}");
        }
        assert_eq!(text(&out.stdout), "", "{argv:?}");
    }
}

fn check_ping(uri: &str) {
    let out = pyro(&["ping", uri]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let location = uri.split_once('@').unwrap().1;
    let prefix = format!("PYRO:Pyro.Daemon@{location}: ping() round trip ");
    assert!(stdout.starts_with(&prefix), "{stdout}");
    let ms: f64 = stdout[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 0.0 && ms < 5000.0, "{stdout}");
    assert!(stdout.contains("ms (connect and handshake "), "{stdout}");
}

#[test]
fn cli_ping_python_and_rust_daemons() {
    let server = PyServer::start(&[], &[]);
    check_ping(&server.uri);
    for ser in ["json", "marshal"] {
        let out = pyro(&["ping", "--serializer", ser, &server.uri]);
        assert_eq!(out.status.code(), Some(0), "{ser}: {}", text(&out.stderr));
    }
    // Against `pyro echoserver` (Rust to Rust), then stop it with a call.
    let mut ours = RustServer(
        Command::new(env!("CARGO_BIN_EXE_pyro"))
            .args(["echoserver", "-p", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(ours.0.stdout.take().unwrap()).lines();
    let uri = lines
        .find_map(|l| l.ok()?.strip_prefix("echo uri: ").map(str::to_string))
        .expect("pyro echoserver printed its URI");
    check_ping(&uri);
    // What the serpent case above gets from Python's server, too.
    let out = pyro(&["call", &uri, "echo", "{3, (1, 2)}"]);
    assert_eq!(text(&out.stdout), "{(1, 2), 3}\n");
    let out = pyro(&["call", &uri, "generator"]);
    assert_eq!(text(&out.stdout), "'one'\n'two'\n'three'\n");
    let out = pyro(&["call", &uri, "error"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .ends_with("\nValueError: expected error from echoserver error() method\n"));
    let out = pyro(&["call", &uri, "shutdown"]);
    assert_eq!(text(&out.stdout), "None\n");
    assert!(ours.0.wait().unwrap().success());
}

/// `pyro echoserver`, killed if the test fails before it shuts down.
struct RustServer(Child);

impl Drop for RustServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cli_help_speaks_pyro4() {
    for (cmd, needles) in [
        (
            vec!["--help"],
            &["echoserver", "call", "ping", "ns", "nsc", "Exit codes"][..],
        ),
        (
            vec!["echoserver", "--help"],
            &[
                "--host",
                "--unixsocket",
                "--naming",
                "PYRO_HMAC_KEY",
                "test.echoserver",
            ][..],
        ),
        (
            vec!["call", "--help"],
            &[
                "Python literal",
                "--kw",
                "--serializer",
                "--hmac-key",
                "--oneway",
                "--timeout",
                "getPyroTraceback",
                "Exit codes",
            ][..],
        ),
        (vec!["ping", "--help"], &["Pyro.Daemon", "round-trip"][..]),
        (
            vec!["ns", "--help"],
            &[
                "pyro4-ns",
                "--bchost",
                "--nobc",
                "--nathost",
                "PYRO_NS_PORT",
            ][..],
        ),
        (
            vec!["nsc", "--help"],
            &[
                "pyro4-nsc",
                "listmatching",
                "removematching",
                "setmeta",
                "--unixsocket",
            ][..],
        ),
    ] {
        let out = pyro(&cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        let help = text(&out.stdout);
        for needle in needles {
            assert!(help.contains(needle), "{cmd:?} lacks {needle:?}:\n{help}");
        }
    }
}
