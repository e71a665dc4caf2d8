//! Pyro4 4.82's OWN test suite against the Rust side.
//!
//! The suite's modules (`tests/PyroTests/*.py` of the Pyro4 4.82 sdist) are
//! fetched from the package registry on first use
//! ([`pyro_tests::python::pyro4_test_suite`]) and run, unmodified, by
//! `tests/python/pyro4_suite.py`, which replaces the `setUp`/`tearDown` of
//! the selected test classes so that their proxies talk to the Rust daemons
//! and name servers started here instead of Python ones:
//!
//! * `test_server.py` (`ServerTestsOnce`, `ServerTestsThreadNoTimeout`) and
//!   `test_server_timeout.py` (`ServerTestsThreadTimeout`) against
//!   [`pyro_tests::suite::server_test_object`] on std daemons;
//! * `test_socket.py`'s `testInvalidMessageCrash` (`TestServerDOS_multiplex`,
//!   `TestServerDOS_threading`; here their `ServerThread`, which would run a
//!   Python socket server, is what is replaced, by the default Rust daemon): a
//!   message with a bad protocol version ends its connection, and the daemon
//!   answers a PING on a new one;
//! * `test_naming.py` (`NameServerTests`, `NameServerTests0000`,
//!   `NameServerTestsHmac`) against Rust name servers, broadcast responders
//!   included (on ephemeral UDP ports, which the tests take from
//!   `config.NS_BCPORT` as their own setUp sets it);
//! * `test_naming2.py` (`OfflineNameServerTests`) against Rust name server
//!   objects with empty storage.
//!
//! The runner lists every test it skips with the reason. A test passes only
//! if every selected Pyro4 test passed and as many ran as were selected.
//! `test_message.py` is not run: it tests `Pyro4.message.Message` in-process
//! (no peer), which `framing_oracle.rs` covers against our framing.

use std::process::Output;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyro_proto::servant::Servant;
use pyro_tests::suite::{control, CONTROL};
use pyro_transport_std::naming::NameServer;
use pyro_transport_std::{Daemon, DaemonBuilder, DaemonHandle, Error, Proxy};

/// A Rust daemon (or name server) serving on a background thread, with the
/// suite's control object; shut down on drop.
struct Running {
    handle: DaemonHandle,
    control_uri: String,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl Running {
    fn serve(
        handle: DaemonHandle,
        loop_: impl FnOnce() -> Result<(), Error> + Send + 'static,
    ) -> Running {
        let (reg, unreg) = (handle.clone(), handle.clone());
        let servant = control(
            Box::new(move |servant: Arc<dyn Servant>, id: &str| {
                reg.register(servant, Some(id))
                    .map(|uri| uri.to_string())
                    .map_err(|e| e.to_string())
            }),
            Box::new(move |id: &str| unreg.unregister(id)),
        );
        let control_uri = handle
            .register(servant, Some(CONTROL))
            .expect("register the control object")
            .to_string();
        Running {
            handle,
            control_uri,
            thread: Some(thread::spawn(loop_)),
        }
    }

    fn daemon(builder: DaemonBuilder) -> Running {
        let daemon = builder.tcp("127.0.0.1", 0).bind().expect("bind the daemon");
        Running::serve(daemon.handle(), move || daemon.request_loop())
    }

    /// How many objects the runner asked this daemon's control for.
    fn fresh_count(&self) -> u64 {
        Proxy::new(self.control_uri.as_str())
            .unwrap()
            .call("fresh_count", ())
            .expect("ask the control object")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Rust name server with its broadcast responder on an ephemeral port.
struct RunningNs {
    _running: Running,
    uri: String,
    bcport: u16,
}

fn name_server(host: &str, hmac: Option<&str>) -> RunningNs {
    let mut daemon = Daemon::builder();
    if let Some(key) = hmac {
        daemon = daemon.hmac_key(key);
    }
    let ns = NameServer::builder()
        .daemon(daemon)
        .tcp(host, 0)
        .broadcast("0.0.0.0", 0)
        .bind()
        .expect("bind the name server");
    let uri = ns.uri().to_string();
    let bcport = ns.broadcast_port().expect("the broadcast responder runs");
    RunningNs {
        _running: Running::serve(ns.handle(), move || ns.request_loop()),
        uri,
        bcport,
    }
}

/// The address Pyro4's test setUp binds its name server to:
/// `Pyro4.socketutil.getIpAddress("", workaround127=True)`.
fn my_ip_address() -> String {
    let out = std::process::Command::new(pyro_tests::python::python())
        .args([
            "-c",
            "import Pyro4.socketutil; print(Pyro4.socketutil.getIpAddress('', workaround127=True))",
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Counts from the runner's summary line.
#[derive(Debug, PartialEq)]
struct Summary {
    selected: usize,
    ran: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

fn summary(stdout: &str) -> Summary {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PYRO4-SUITE "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    let field = |name: &str| -> usize {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    Summary {
        selected: field("selected"),
        ran: field("ran"),
        failures: field("failures"),
        errors: field("errors"),
        skipped: field("skipped"),
    }
}

/// Run `pyro4_suite.py <suite> <part> args...`; panics with its output
/// unless every selected test ran and passed. Returns the summary.
fn run_suite(part: &str, args: &[&str]) -> Summary {
    let suite = pyro_tests::python::pyro4_test_suite();
    let started = Instant::now();
    let out: Output = pyro_tests::python::script("pyro4_suite.py")
        .arg(&suite)
        .arg(part)
        .args(args)
        .output()
        .expect("run pyro4_suite.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "pyro4_suite.py {part} ({:.2?}):\n{stdout}{stderr}",
        started.elapsed()
    );
    let counts = summary(&stdout);
    assert!(
        out.status.success(),
        "Pyro4's own tests failed against the Rust side ({counts:?}):\n{stdout}\n{stderr}"
    );
    assert!(counts.selected > 0, "the runner selected nothing");
    assert_eq!(
        (counts.ran, counts.failures, counts.errors, counts.skipped),
        (counts.selected, 0, 0, 0),
        "{stdout}"
    );
    counts
}

#[test]
fn pyro4_test_server_against_the_rust_daemon() {
    // The daemons `pyro4_suite.py` puts each test's object on (its
    // SERVER_DAEMONS): the settings Python's same-process daemon would take
    // from the config the test sets.
    let timeout = Some(Duration::from_secs(2));
    let daemons: Vec<(&str, Running)> = [
        ("default", None, None),
        ("linger", None, Some(Duration::from_millis(500))),
        ("nolinger", None, Some(Duration::ZERO)),
        ("timeout", timeout, None),
        ("timeout-linger", timeout, Some(Duration::from_millis(500))),
        ("timeout-nolinger", timeout, Some(Duration::ZERO)),
    ]
    .into_iter()
    .map(|(name, comm_timeout, linger)| {
        let mut builder = Daemon::builder().comm_timeout(comm_timeout);
        if let Some(linger) = linger {
            builder = builder.stream_linger(linger);
        }
        (name, Running::daemon(builder))
    })
    .collect();
    let args: Vec<String> = daemons
        .iter()
        .map(|(name, d)| format!("{name}={}", d.control_uri))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let counts = run_suite("server", &args);
    // ServerTestsOnce 29 + ServerTestsThreadNoTimeout 14 +
    // ServerTestsThreadTimeout 11, and test_socket.py's testInvalidMessageCrash
    // in its two DOS classes, as the runner lists them.
    assert_eq!(counts.selected, 29 + 14 + 11 + 2);
    // Every test's setUp got its object from these daemons (one each, plus
    // the 'unexposed' object of testExposedRequired).
    let fresh: Vec<(&str, u64)> = daemons
        .iter()
        .map(|(name, d)| (*name, d.fresh_count()))
        .collect();
    assert_eq!(
        fresh,
        [
            ("default", 29 + 1 + 12),
            ("linger", 1),
            ("nolinger", 1),
            ("timeout", 9),
            ("timeout-linger", 1),
            ("timeout-nolinger", 1),
        ]
    );
}

#[test]
fn pyro4_test_naming_against_the_rust_name_server() {
    let offline = Running::daemon(Daemon::builder());
    let ns = name_server(&my_ip_address(), None);
    let ns0000 = name_server("0.0.0.0", None);
    let hmac = name_server(&my_ip_address(), Some("test_key"));
    let (bc, bc0000, bchmac) = (
        ns.bcport.to_string(),
        ns0000.bcport.to_string(),
        hmac.bcport.to_string(),
    );
    let counts = run_suite(
        "naming",
        &[
            &offline.control_uri,
            &ns.uri,
            &bc,
            &ns0000.uri,
            &bc0000,
            &hmac.uri,
            &bchmac,
        ],
    );
    // NameServerTests 6 + NameServerTests0000 1 + NameServerTestsHmac 5 +
    // OfflineNameServerTests 12.
    assert_eq!(counts.selected, 24);
    // Each offline test built at least one Rust name server object.
    assert!(offline.fresh_count() >= 12, "{}", offline.fresh_count());
    drop((ns, ns0000, hmac));
}
