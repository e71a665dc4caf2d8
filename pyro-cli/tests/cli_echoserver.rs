//! `pyro echoserver` against real Python Pyro4 4.82 clients.
//!
//! Each test starts the built `pyro` binary, reads the URI it prints, and
//! runs `tests/python/cli_echoserver_client.py` against it: the cases of
//! Pyro4's own `tests/PyroTests/test_echoserver.py` and more, with the
//! expected values computed by Python (a local `EchoServer` instance and the
//! serializer round trip). The same script also runs against Python's own
//! `python -m Pyro4.test.echoserver`, which proves its expectations. Pyro4's
//! `test_echoserver.py` module itself also runs, unmodified, against the
//! binary (`pyro4_test_echoserver_module_against_pyro_echoserver`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// A running echo server process and the lines it printed so far.
struct Server {
    child: Child,
    uri: String,
    banner: Vec<String>,
    lines: Receiver<String>,
}

impl Server {
    /// Start `cmd` (an echo server, Rust or Python) and wait for its URI line.
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the echo server");
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
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    banner.push(line.clone());
                    if line == "echoserver running." {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "no 'echoserver running.' line; got {banner:?}\nstderr: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        let uri = banner
            .iter()
            .find_map(|l| l.strip_prefix("echo uri: "))
            .expect("an 'echo uri:' line")
            .to_string();
        Server {
            child,
            uri,
            banner,
            lines,
        }
    }

    fn rust(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = pyro();
        cmd.arg("echoserver").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server::start(cmd)
    }

    fn python(args: &[&str]) -> Server {
        let mut cmd = Command::new(pyro_tests::python::python());
        cmd.args(["-u", "-m", "Pyro4.test.echoserver"])
            .args(args)
            .env_remove("PYRO_HMAC_KEY");
        Server::start(cmd)
    }

    /// Run the client script against this server; panics unless it passes.
    fn client(&self, serializer: &str, extra: &[&str]) -> String {
        let out = pyro_tests::python::script("cli_echoserver_client.py")
            .arg(&self.uri)
            .arg(serializer)
            .args(extra)
            .output()
            .expect("run cli_echoserver_client.py");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("client {serializer} {extra:?}:\n{stdout}");
        assert!(
            out.status.success() && stdout.ends_with("all ok\n"),
            "client {serializer} {extra:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Wait for the process to exit by itself (after shutdown() or a signal).
    fn wait_exit(mut self, within: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let rest: Vec<String> = self.lines.try_iter().collect();
                return (status, rest);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the echo server did not exit within {within:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn lines_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pyro() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyro"));
    cmd.env_remove("PYRO_HMAC_KEY")
        .env_remove("PYRO_SERIALIZERS_ACCEPTED");
    cmd
}

/// Banner lines with the port made neutral.
fn neutral(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l.rsplit_once(':') {
            Some((head, port)) if l.starts_with("echo uri: ") && port.parse::<u16>().is_ok() => {
                format!("{head}:PORT")
            }
            _ => l.clone(),
        })
        .collect()
}

#[test]
fn cli_echoserver_serpent() {
    let server = Server::rust(&[], &[]);
    server.client("serpent", &["--slow"]);
}

#[test]
fn cli_echoserver_json() {
    let server = Server::rust(&[], &[]);
    server.client("json", &[]);
}

#[test]
fn cli_echoserver_marshal() {
    let server = Server::rust(&[], &[]);
    server.client("marshal", &[]);
}

#[test]
fn cli_echoserver_pickle_when_accepted() {
    let server = Server::rust(
        &[],
        &[("PYRO_SERIALIZERS_ACCEPTED", "serpent,marshal,json,pickle")],
    );
    server.client("pickle", &[]);
    let plain = Server::rust(&["--serializers", "serpent,json"], &[]);
    let out = pyro_tests::python::script("cli_echoserver_client.py")
        .arg(&plain.uri)
        .arg("marshal")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "marshal was accepted although --serializers left it out"
    );
}

#[test]
fn cli_echoserver_expectations_hold_for_pythons_echoserver() {
    let server = Server::python(&["-H", "localhost"]);
    server.client("serpent", &[]);
    server.client("marshal", &["--shutdown"]);
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn cli_echoserver_banner_matches_pythons() {
    for args in [&[][..], &["-v"][..]] {
        let ours = Server::rust(args, &[]);
        let theirs = Server::python(args);
        assert_eq!(neutral(&ours.banner), neutral(&theirs.banner), "{args:?}");
        assert!(ours.uri.starts_with("PYRO:test.echoserver@localhost:"));
    }
}

#[test]
fn cli_echoserver_quiet_prints_nothing() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = pyro()
        .args([
            "echoserver",
            "-q",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the quiet server never listened");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out, "");
    assert!(status.success(), "{status}");
}

#[test]
fn cli_echoserver_shutdown_method_ends_the_process() {
    let server = Server::rust(&[], &[]);
    server.client("json", &["--shutdown"]);
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn cli_echoserver_sigterm_and_sigint_end_the_process() {
    for signal in ["-TERM", "-INT"] {
        let server = Server::rust(&[], &[]);
        let ok = Command::new("kill")
            .args([signal, &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let (status, _) = server.wait_exit(Duration::from_secs(5));
        assert!(status.success(), "{signal}: {status}");
    }
}

#[test]
fn cli_echoserver_verbose_prints_calls() {
    let server = Server::rust(&["-v"], &[]);
    server.client("serpent", &["--verbose"]);
    thread::sleep(Duration::from_millis(200));
    let lines = server.lines_so_far();
    // `Wed Nov 25 14:32:33 2026 - echo: 'hello'`, as Python's time.asctime() prints.
    let echo_hello = lines
        .iter()
        .find(|l| l.ends_with(" - echo: 'hello'"))
        .unwrap_or_else(|| panic!("no echo line in {lines:?}"));
    assert_eq!(
        echo_hello.len(),
        24 + " - echo: 'hello'".len(),
        "{echo_hello}"
    );
    for needle in [
        " - echo: [1, 2, 3]",
        " - error: generating exception",
        " - oneway_echo: 'o'",
        " - slow: waiting a bit...",
    ] {
        assert!(
            lines.iter().any(|l| l.ends_with(needle)),
            "no {needle:?} in {lines:?}"
        );
    }
}

#[test]
fn cli_echoserver_hmac_key_from_env_and_option() {
    let server = Server::rust(&[], &[("PYRO_HMAC_KEY", "s3cret")]);
    assert!(!server.banner.iter().any(|l| l.contains("HMAC key not set")));
    server.client("serpent", &["--hmac", "s3cret"]);
    let server = Server::rust(&["-k", "other"], &[]);
    server.client("marshal", &["--hmac", "other"]);
    // -k together with PYRO_HMAC_KEY is refused, as in Python.
    let out = pyro()
        .args(["echoserver", "-k", "a"])
        .env("PYRO_HMAC_KEY", "b")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("don't use -k and PYRO_HMAC_KEY at the same time"),
        "{stderr}"
    );
}

#[test]
fn cli_echoserver_unix_socket() {
    let dir = std::env::temp_dir().join(format!("pyro-cli-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let server = Server::rust(&["-u", path.to_str().unwrap()], &[]);
    assert_eq!(
        server.uri,
        format!("PYRO:test.echoserver@./u:{}", path.display())
    );
    server.client("serpent", &["--shutdown"]);
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_echoserver_port_in_use_is_a_communication_failure() {
    let first = Server::rust(&[], &[]);
    let port = first.uri.rsplit(':').next().unwrap().to_string();
    let out = pyro()
        .args(["echoserver", "-q", "-p", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot bind"));
}

/// Pyro4 4.82's own `tests/PyroTests/test_echoserver.py`, unmodified, against
/// `pyro echoserver`: `tests/python/pyro4_suite.py` replaces its setUp (which
/// would start Python's echo server in a thread) with one that starts this
/// binary, and runs `testEcho`, `testError` and `testGenerator`
/// (`testExposed` only inspects the Python class, and is listed as skipped).
#[test]
fn pyro4_test_echoserver_module_against_pyro_echoserver() {
    let suite = pyro_tests::python::pyro4_test_suite();
    let out = pyro_tests::python::script("pyro4_suite.py")
        .arg(&suite)
        .arg("echoserver")
        .arg(env!("CARGO_BIN_EXE_pyro"))
        .env_remove("PYRO_HMAC_KEY")
        .output()
        .expect("run pyro4_suite.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Pyro4's test_echoserver.py failed");
    assert!(
        stdout.contains("PYRO4-SUITE selected=3 ran=3 failures=0 errors=0 skipped=0"),
        "unexpected summary:\n{stdout}"
    );
}
