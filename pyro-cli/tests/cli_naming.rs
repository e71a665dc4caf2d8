//! `pyro ns`, `pyro nsc` and `pyro echoserver -n/-N` against Python Pyro4
//! 4.82: `pyro nsc` must print what `python -m Pyro4.nsc` prints for the
//! same commands (against Python's name server), `pyro ns` must print
//! Python's startup lines and serve Python's nsc and clients, and the echo
//! server registered by `-N` must be reachable as
//! `PYRONAME:test.echoserver` from Python. Every process started here is
//! killed by a Drop guard.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pyro() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyro"));
    cmd.env_remove("PYRO_HMAC_KEY")
        .env_remove("PYRO_NS_PORT")
        .env_remove("PYRO_NS_BCPORT")
        .env_remove("PYRO_HOST");
    cmd
}

fn python() -> Command {
    let mut cmd = Command::new(pyro_tests::python::python());
    cmd.arg("-u")
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYRO_HMAC_KEY")
        .env_remove("PYRO_NS_PORT")
        .env_remove("PYRO_NS_BCPORT")
        .env_remove("PYRO_HOST");
    cmd
}

/// A server process (killed on drop) and its stdout lines.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    /// Start `cmd` and wait until it prints a line starting with `ready`.
    fn start(mut cmd: Command, ready: &str) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Proc {
            child,
            lines,
            seen: Vec::new(),
        };
        p.wait_line(ready);
        p
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    panic!(
                        "no line starting with {prefix:?}; got {:?}\nstderr: {err}",
                        self.seen
                    );
                }
            }
        }
    }

    /// SIGTERM, then wait for the exit; the exit status and the rest of stdout.
    fn terminate(mut self) -> (bool, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(50));
                let rest: Vec<String> = self.lines.try_iter().collect();
                return (status.success(), rest);
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Python's name server (`python -m Pyro4.naming`) on 127.0.0.1:`port`.
fn python_ns(port: u16) -> Proc {
    let mut cmd = python();
    cmd.args([
        "-m",
        "Pyro4.naming",
        "-n",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    Proc::start(cmd, "URI = ")
}

/// `pyro ns` on 127.0.0.1:`port`.
fn rust_ns(port: u16) -> Proc {
    let mut cmd = pyro();
    cmd.args(["ns", "-n", "127.0.0.1", "-p", &port.to_string()]);
    Proc::start(cmd, "URI = ")
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn python_nsc(port: u16, args: &[&str], stdin: &str) -> Output {
    let mut cmd = python();
    cmd.args([
        "-m",
        "Pyro4.nsc",
        "-n",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ])
    .args(args);
    run(cmd, stdin)
}

fn rust_nsc(port: u16, args: &[&str], stdin: &str) -> Output {
    let mut cmd = pyro();
    cmd.args(["nsc", "-n", "127.0.0.1", "-p", &port.to_string()])
        .args(args);
    run(cmd, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Output with the given ports replaced by `PORT`.
fn normalise(s: &str, ports: &[u16]) -> String {
    let mut s = s.to_string();
    for p in ports {
        s = s.replace(&format!(":{p}"), ":PORT");
    }
    s
}

/// The nsc session both tools run: (arguments, stdin).
const SESSION: &[(&[&str], &str)] = &[
    (&["ping"], ""),
    (&["-v", "ping"], ""),
    (&["list"], ""),
    (&["register", "a.one", "PYRO:one@example.com:1111"], ""),
    (&["register", "a.two", "PYRO:two@example.com:2222"], ""),
    (&["register", "b.three", "PYRO:three@example.com:3333"], ""),
    (&["register", "a.one", "PYRO:other@h:1"], ""),
    (&["register", "bad", "not-a-uri"], ""),
    (&["setmeta", "a.one", "colour:red"], ""),
    (&["setmeta", "a.two", "colour:red", "size:big"], ""),
    (&["list"], ""),
    (&["list", "a."], ""),
    (&["listmatching", r"a\.t.*"], ""),
    (&["listmeta_all", "colour:red"], ""),
    (&["listmeta_any", "size:big", "nothing"], ""),
    (&["lookup", "a.one"], ""),
    (&["lookup", "b.three"], ""),
    (&["lookup", "nope"], ""),
    (&["remove", "nope"], ""),
    (&["setmeta", "a.one"], ""),
    (&["lookup", "a.one"], ""),
    (&["setmeta", "nope", "x"], ""),
    (&["remove", "a.one"], ""),
    (&["removematching", r"b\..*"], "n\n"),
    (&["removematching", r"b\..*"], ""),
    (&["removematching", r"[ab]\..*"], "y\n"),
    (&["list"], ""),
];

/// The exit code `pyro nsc` gives for what it printed (Python's is always 0).
fn expected_code(stdout: &str) -> i32 {
    if stdout.contains("Error: ") {
        1
    } else {
        0
    }
}

#[test]
fn cli_nsc_prints_what_python_nsc_prints() {
    // Two identical Python name servers: Python's nsc drives one, `pyro nsc`
    // the other, so both see the same state at every step.
    let (pa, pb) = (free_port(), free_port());
    let _a = python_ns(pa);
    let _b = python_ns(pb);
    for (args, stdin) in SESSION {
        let py = python_nsc(pa, args, stdin);
        let rs = rust_nsc(pb, args, stdin);
        let (py_out, rs_out) = (text(&py.stdout), text(&rs.stdout));
        assert!(!py_out.is_empty(), "{args:?}: Python printed nothing");
        assert_eq!(
            normalise(&rs_out, &[pb]),
            normalise(&py_out, &[pa]),
            "{args:?}; pyro nsc stderr: {}",
            text(&rs.stderr)
        );
        assert_eq!(rs.status.code(), Some(expected_code(&rs_out)), "{args:?}");
        // Read-only commands: `pyro nsc` against Python's nsc's server
        // prints the very same bytes.
        if matches!(args[0], "list" | "lookup" | "listmatching" | "ping") {
            let same = rust_nsc(pa, args, stdin);
            assert_eq!(
                text(&same.stdout),
                py_out,
                "{args:?} against the same server"
            );
        }
    }
}

#[test]
fn cli_nsc_failures_match_python() {
    let nothing = free_port();
    let py = python_nsc(nothing, &["-v", "list"], "");
    let rs = rust_nsc(nothing, &["-v", "list"], "");
    assert_eq!(
        text(&py.stdout),
        "Locating name server...\nError: Failed to locate the nameserver\n"
    );
    assert_eq!(text(&rs.stdout), text(&py.stdout));
    assert_eq!(rs.status.code(), Some(4));
    // Options may follow the command, as optparse allows.
    let py = python_nsc(nothing, &["list", "-v"], "");
    let rs = rust_nsc(nothing, &["list", "-v"], "");
    assert_eq!(text(&rs.stdout), text(&py.stdout));
    // Wrong argument counts: Python's SystemExit texts, on stderr.
    let port = free_port();
    let _ns = python_ns(port);
    for (args, want) in [
        (&["lookup"][..], "requires one argument: name"),
        (&["register", "x"][..], "requires two arguments: name uri"),
        (
            &["listmeta_any"][..],
            "requires at least one metadata tag argument",
        ),
    ] {
        let py = python_nsc(port, args, "");
        let rs = rust_nsc(port, args, "");
        assert!(
            text(&py.stderr).contains(want),
            "{args:?}: {}",
            text(&py.stderr)
        );
        assert!(
            text(&rs.stderr).contains(want),
            "{args:?}: {}",
            text(&rs.stderr)
        );
        assert_eq!(rs.status.code(), Some(2));
    }
    let rs = rust_nsc(port, &["frobnicate"], "");
    assert_eq!(rs.status.code(), Some(2));
    assert!(text(&rs.stderr).contains("invalid or missing command"));
}

#[test]
fn cli_ns_prints_pythons_lines_and_serves_python_clients() {
    let (pr, pp) = (free_port(), free_port());
    let rs = rust_ns(pr);
    let py = python_ns(pp);
    assert_eq!(
        normalise(&rs.seen.join("\n"), &[pr]),
        normalise(&py.seen.join("\n"), &[pp])
    );
    assert_eq!(
        rs.seen,
        [
            "Not starting broadcast server for localhost.".to_string(),
            format!("NS running on 127.0.0.1:{pr} (127.0.0.1)"),
            "Warning: HMAC key not set. Anyone can connect to this server!".into(),
            format!("URI = PYRO:Pyro.NameServer@127.0.0.1:{pr}"),
        ]
    );
    // Pyro4's locateNS, register, lookup, list, remove, PYRONAME.
    let out = pyro_tests::python::script("cli_naming_client.py")
        .args(["ns", "127.0.0.1", &pr.to_string()])
        .env_remove("PYRO_HMAC_KEY")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("all ok\n"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // Python's nsc prints the same against both name servers (single-tag
    // metadata: Python's own set order is hash order).
    for (args, stdin) in SESSION
        .iter()
        .filter(|(a, _)| !a.contains(&"size:big") && !a.contains(&"-v"))
    {
        let on_py = python_nsc(pp, args, stdin);
        let on_rs = python_nsc(pr, args, stdin);
        assert_eq!(
            normalise(&text(&on_rs.stdout), &[pr]),
            normalise(&text(&on_py.stdout), &[pp]),
            "{args:?}"
        );
    }
    let (ok, rest) = rs.terminate();
    assert!(ok, "pyro ns exit status after SIGTERM");
    assert_eq!(rest, ["NS shut down."]);
}

#[test]
fn cli_ns_with_hmac_key() {
    let port = free_port();
    let mut cmd = pyro();
    cmd.args(["ns", "-n", "127.0.0.1", "-p", &port.to_string(), "-x"])
        .env("PYRO_HMAC_KEY", "ns-secret");
    let ns = Proc::start(cmd, "URI = ");
    assert!(
        !ns.seen.iter().any(|l| l.contains("HMAC key not set")),
        "{:?}",
        ns.seen
    );
    let mut keyed = python();
    keyed
        .args([
            "-m",
            "Pyro4.nsc",
            "-n",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "ping",
        ])
        .env("PYRO_HMAC_KEY", "ns-secret");
    assert_eq!(text(&run(keyed, "").stdout), "Name server ping ok.\n");
    let mut rs_keyed = pyro();
    rs_keyed
        .args(["nsc", "-n", "127.0.0.1", "-p", &port.to_string(), "ping"])
        .env("PYRO_HMAC_KEY", "ns-secret");
    assert_eq!(text(&run(rs_keyed, "").stdout), "Name server ping ok.\n");
    // Without the key both tools fail to locate it, with the same words.
    let py = python_nsc(port, &["ping"], "");
    let rs = rust_nsc(port, &["ping"], "");
    assert_eq!(text(&py.stdout), "Error: Failed to locate the nameserver\n");
    assert_eq!(text(&rs.stdout), text(&py.stdout));
    assert_eq!(rs.status.code(), Some(4));
}

/// Start an echo server with `-N` (Rust or Python) with the name server on `ns_port`.
fn echoserver_dash_n(rust: bool, flag: &str, ns_port: u16) -> Proc {
    let mut cmd = if rust {
        let mut c = pyro();
        c.arg("echoserver");
        c
    } else {
        let mut c = python();
        c.args(["-m", "Pyro4.test.echoserver"]);
        c
    };
    cmd.args([flag, "-v", "-H", "127.0.0.1"])
        .env("PYRO_NS_PORT", ns_port.to_string());
    Proc::start(cmd, "echoserver running.")
}

fn echo_port(lines: &[String]) -> u16 {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("echo uri: "))
        .and_then(|u| u.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("an echo uri line")
}

#[test]
fn cli_echoserver_dash_capital_n_serves_pyroname() {
    let (nr, np) = (free_port(), free_port());
    let rs = echoserver_dash_n(true, "-N", nr);
    let py = echoserver_dash_n(false, "-N", np);
    let (er, ep) = (echo_port(&rs.seen), echo_port(&py.seen));
    assert_eq!(
        normalise(&rs.seen.join("\n"), &[nr, er]),
        normalise(&py.seen.join("\n"), &[np, ep])
    );
    assert!(rs.seen.contains(&format!(
        "using name server at PYRO:Pyro.NameServer@127.0.0.1:{nr}"
    )));
    // Python resolves PYRONAME:test.echoserver through the in-process name server.
    let out = pyro_tests::python::script("cli_naming_client.py")
        .args(["echo", "hello via the name server"])
        .env("PYRO_NS_PORT", nr.to_string())
        .env_remove("PYRO_HMAC_KEY")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("'hello via the name server'\nall ok\n"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // `pyro nsc` and Python's nsc see the registration alike.
    let py_lookup = python_nsc(nr, &["lookup", "test.echoserver"], "");
    let rs_lookup = rust_nsc(nr, &["lookup", "test.echoserver"], "");
    assert_eq!(
        text(&py_lookup.stdout),
        format!("PYRO:test.echoserver@127.0.0.1:{er}\n")
    );
    assert_eq!(text(&rs_lookup.stdout), text(&py_lookup.stdout));
}

#[test]
fn cli_echoserver_dash_n_registers_with_pyro_ns() {
    let port = free_port();
    let _ns = rust_ns(port);
    let echo = echoserver_dash_n(true, "-n", port);
    assert!(echo.seen.contains(&format!(
        "using name server at PYRO:Pyro.NameServer@localhost:{port}"
    )));
    let out = pyro_tests::python::script("cli_naming_client.py")
        .args(["echo", "42"])
        .env("PYRO_NS_PORT", port.to_string())
        .env_remove("PYRO_HMAC_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success() && text(&out.stdout).ends_with("all ok\n"),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn cli_echoserver_dash_n_without_name_server_fails() {
    let nothing = free_port();
    let out = pyro()
        .args(["echoserver", "-n", "-q", "-H", "127.0.0.1"])
        .env("PYRO_NS_PORT", nothing.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Failed to locate the nameserver"),
        "{stderr}"
    );
}

#[test]
fn cli_ns_and_nsc_on_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("pyro-cli-naming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ns.sock");
    let path = path.to_str().unwrap();
    let mut cmd = pyro();
    cmd.args(["ns", "-u", path]);
    let ns = Proc::start(cmd, "URI = ");
    // Python's startNSloop lines for a Unix socket.
    assert_eq!(
        ns.seen,
        [
            format!("NS running on ./u:{path} (Unix domain socket)"),
            "Warning: HMAC key not set. Anyone can connect to this server!".into(),
            format!("URI = PYRO:Pyro.NameServer@./u:{path}"),
        ]
    );
    for args in [
        &["register", "u.one", "PYRO:one@./u:/tmp/x"][..],
        &["list"][..],
    ] {
        let mut py = python();
        py.args(["-m", "Pyro4.nsc", "-u", path]).args(args);
        let py = run(py, "");
        let mut rs = pyro();
        rs.args(["nsc", "-u", path]).args(args);
        let rs = run(rs, "");
        let (py_out, rs_out) = (text(&py.stdout), text(&rs.stdout));
        if args[0] == "register" {
            // Python registered it first: `pyro nsc` is refused.
            assert_eq!(py_out, "Registered u.one\n");
            assert_eq!(
                rs_out,
                "Error: NamingError - name already registered: u.one\n"
            );
        } else {
            assert!(
                py_out.contains("u.one --> PYRO:one@./u:/tmp/x\n"),
                "{py_out}"
            );
            assert_eq!(rs_out, py_out);
        }
    }
    let (ok, rest) = ns.terminate();
    assert!(ok);
    assert_eq!(rest, ["NS shut down."]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On all interfaces the broadcast responder runs, and Python's nsc
/// finds the name server by broadcast (no host given, `-p` is then the
/// broadcast port).
#[test]
fn cli_ns_broadcast_responder_serves_pythons_locate() {
    let (port, bcport) = (free_port(), free_port());
    let mut cmd = pyro();
    cmd.args([
        "ns",
        "-n",
        "0.0.0.0",
        "-p",
        &port.to_string(),
        "--bcport",
        &bcport.to_string(),
    ]);
    let ns = Proc::start(cmd, "URI = ");
    assert_eq!(
        ns.seen,
        [
            format!("Broadcast server running on 0.0.0.0:{bcport}"),
            format!("NS running on 0.0.0.0:{port} (0.0.0.0)"),
            "Warning: HMAC key not set. Anyone can connect to this server!".into(),
            format!("URI = PYRO:Pyro.NameServer@0.0.0.0:{port}"),
        ]
    );
    let mut py = python();
    py.args(["-m", "Pyro4.nsc", "-v", "-p", &bcport.to_string(), "ping"]);
    let out = text(&run(py, "").stdout);
    assert!(
        out.starts_with("Locating name server...\nName server found: PYRO:Pyro.NameServer@"),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(":{port}\nName server ping ok.\nDone.\n")),
        "{out}"
    );
    let mut rs = pyro();
    rs.args(["nsc", "-p", &bcport.to_string(), "ping"]);
    assert_eq!(text(&run(rs, "").stdout), "Name server ping ok.\n");
}
