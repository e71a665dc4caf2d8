//! Round trips over TCP loopback for the four client/daemon pairings of
//! Python Pyro4 4.82 and pyro-rs, in one run, client and daemon pinned to the
//! same CPU, next to a raw 1-byte TCP ping-pong as the floor (issue 6).
//!
//!     cargo bench -p pyro-tests --bench loopback
//!
//! Pinning: the bench re-executes itself under `taskset -c $LOOPBACK_CPU`
//! (default 0), so every thread of the Rust client, the raw ping-pong and
//! every child (the daemons, the Python client) is confined to that one CPU.
//! Affinity is inherited over fork/exec and by new threads, so this needs no
//! unsafe `sched_setaffinity` and no extra crate; the children are launched
//! under `taskset` as well, to be explicit. The Rust daemon runs as a child
//! process too (this binary with `--serve-rust-daemon`), so each pairing is
//! one client process and one daemon process, as with Python.
//!
//! Measurements (each about `LOOPBACK_SECONDS`, default 1 s, after a warm-up,
//! reported as the best of five equal windows, the one least disturbed by
//! other processes on the CPU; `tests/python/loopback_client.py` does the
//! same on the Python side). The pairings run `LOOPBACK_ROUNDS` times
//! (default 3, interleaved) and each figure is the best of its rounds:
//! - sync: `small()`, no arguments, returns 42 (serpent);
//! - echo100: `echo(s)` with a 100-character str (serpent);
//! - echo1mib, echo1mib_pickle: `echo(b)` with 1 MiB of bytes, marshal
//!   and pickle; MB/s counts the payload once per call (10^6 bytes per MB);
//!   both daemons accept pickle for this;
//! - oneway: rounds of 1000 oneway `noop()` calls followed by one `small()`;
//! - batch100: batches of 100 `small()` calls, batches/s;
//! - stream: items/s of the generator `gen(1000)` (one round trip per item);
//! - connect: new proxy, handshake (with metadata), `small()`, close;
//! - clients8: 8 threads, each with its own proxy, calling `small()`; total.
//!
//! The targets are printed with a verdict per line; nothing is asserted
//! (the machine is shared and timings are noisy). Outside `cargo bench` (no
//! `--bench` argument, e.g. `cargo test --all-targets`) it does nothing.
//!
//! Knobs: `LOOPBACK_SECONDS` (per measurement), `LOOPBACK_ROUNDS`,
//! `LOOPBACK_CPU` (the CPU to pin to). For profiling one side: `loopback-<hash> --serve-rust-daemon`
//! prints the Rust daemon's URI and serves until stdin closes;
//! `loopback-<hash> --rust-client URI` runs only the Rust client (unpinned
//! unless started under taskset), `LOOPBACK_ONLY=sync,echo1mib` picks metrics.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use pyro_proto::serialize::SerializerId;
use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::Value;
use pyro_tests::python::{python, scripts_dir};
use pyro_transport_std::Daemon;
use serde_json::Value as Json;

/// Object id under which both daemons serve the bench object.
const OBJECT: &str = "loopback";
/// Role argument that makes this binary the Rust daemon.
const SERVE_ARG: &str = "--serve-rust-daemon";
/// Role argument (followed by a URI) that runs only the Rust client, unpinned.
const CLIENT_ARG: &str = "--rust-client";
/// Set in the re-executed, pinned bench process.
const PINNED_ENV: &str = "LOOPBACK_PINNED";
const ECHO_TEXT_LEN: usize = 100;
const MIB: usize = 1 << 20;
const ONEWAY_ROUND: u64 = 1000;
const BATCH_SIZE: usize = 100;
const STREAM_ITEMS: i64 = 1000;
const CLIENTS: usize = 8;
/// Each figure is the best of this many windows (loopback_client.py: same).
const WINDOWS: u32 = 5;

/// Metric key (shared with loopback_client.py) and row label.
const METRICS: [(&str, &str); 9] = [
    ("sync", "sync small() calls/s"),
    ("echo100", "echo 100 chars calls/s"),
    ("echo1mib", "echo 1 MiB marshal MB/s"),
    ("echo1mib_pickle", "echo 1 MiB pickle MB/s"),
    ("oneway", "oneway calls/s"),
    ("batch100", "batch of 100 batches/s"),
    ("stream", "stream items/s"),
    ("connect", "connects/s"),
    ("clients8", "8 clients calls/s"),
];

/// One pairing's figures: metric key -> rate, or why it could not be measured.
type Figures = BTreeMap<String, Result<f64, String>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == SERVE_ARG) {
        return match serve_rust_daemon() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rust daemon: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(uri) = args
        .iter()
        .position(|a| a == CLIENT_ARG)
        .and_then(|i| args.get(i + 1))
    {
        // Only the Rust client, printing its figures: for profiling one side.
        for (key, fig) in rust_client(uri, seconds()) {
            println!("{key}: {fig:?}");
        }
        return ExitCode::SUCCESS;
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` / `--all-targets` runs us without `--bench`:
        // the bench takes minutes and starts daemons, so only `cargo bench` runs it.
        println!("loopback: not run outside `cargo bench` (use `cargo bench -p pyro-tests --bench loopback`)");
        return ExitCode::SUCCESS;
    }
    let cpu = std::env::var("LOOPBACK_CPU").unwrap_or_else(|_| "0".into());
    if std::env::var_os(PINNED_ENV).is_none() {
        // Re-run this very binary on one CPU; fall back to unpinned (and say
        // so in the header) where taskset is missing.
        let exe = std::env::current_exe().expect("path of the bench binary");
        match Command::new("taskset")
            .args(["-c", &cpu])
            .arg(exe)
            .args(&args)
            .env(PINNED_ENV, "1")
            .status()
        {
            Ok(status) => {
                return if status.success() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("taskset unavailable ({e}): running UNPINNED");
                std::env::set_var(PINNED_ENV, "0");
            }
        }
    }
    let pinned = std::env::var(PINNED_ENV).as_deref() == Ok("1");
    run_bench(&cpu, pinned);
    ExitCode::SUCCESS
}

fn seconds() -> f64 {
    std::env::var("LOOPBACK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0)
}

/// The CPUs this process may run on, as the kernel reports them.
fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn run_bench(cpu: &str, pinned: bool) {
    let secs = seconds();
    // Online CPUs of the machine (available_parallelism would see the pinning).
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map_or_else(|_| "?".into(), |s| s.trim().to_string());
    let rounds = std::env::var("LOOPBACK_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&r: &u32| r > 0)
        .unwrap_or(3);
    println!(
        "loopback bench: {} (this process may run on CPUs {}; machine CPUs {online}); \
         ~{secs} s per measurement, best of {WINDOWS} windows; best of {rounds} rounds",
        if pinned {
            format!("client and daemon pinned to CPU {cpu} with taskset")
        } else {
            "UNPINNED".to_string()
        },
        allowed_cpus()
    );
    let ping_pong = |conns| {
        raw_ping_pong(secs, conns).unwrap_or_else(|e| {
            println!("raw ping-pong over {conns} connection(s) failed: {e}");
            f64::NAN
        })
    };
    let (mut ping, mut ping8) = (f64::NAN, f64::NAN);

    let mut columns: Vec<(&str, Figures)> = Vec::new();
    for round in 1..=rounds {
        // f64::max ignores a NaN (a failed run).
        ping = ping.max(ping_pong(1));
        ping8 = ping8.max(ping_pong(CLIENTS));
        for daemon in [DaemonKind::Python, DaemonKind::Rust] {
            eprintln!("round {round}/{rounds}: {} daemon", daemon.name());
            let (py, rs) = match Server::start(daemon, cpu) {
                Ok(server) => {
                    let py = python_client(&server.uri, cpu, secs);
                    let rs = rust_client(&server.uri, secs);
                    server.stop();
                    (py, rs)
                }
                Err(e) => {
                    let e = format!("{} daemon did not start: {e}", daemon.name());
                    let failed = || -> Figures {
                        METRICS
                            .iter()
                            .map(|(k, _)| (k.to_string(), Err(e.clone())))
                            .collect()
                    };
                    (failed(), failed())
                }
            };
            merge_best(&mut columns, daemon.column(true), py);
            merge_best(&mut columns, daemon.column(false), rs);
        }
    }
    // Column order: Py->Py, Py->Rust, Rust->Py, Rust->Rust.
    columns.sort_by_key(|(name, _)| {
        ["Py->Py", "Py->Rust", "Rust->Py", "Rust->Rust"]
            .iter()
            .position(|c| c == name)
    });
    print_table(&columns, ping, ping8);
}

/// Fold one round's figures into `columns`: per metric the best rate of
/// all rounds (an error only if no round measured it).
fn merge_best(columns: &mut Vec<(&'static str, Figures)>, name: &'static str, new: Figures) {
    let Some((_, old)) = columns.iter_mut().find(|(n, _)| *n == name) else {
        columns.push((name, new));
        return;
    };
    for (key, fig) in new {
        let keep = match (old.get(&key), &fig) {
            (Some(Ok(a)), Ok(b)) => b > a,
            (Some(Ok(_)), Err(_)) => false,
            _ => true,
        };
        if keep {
            old.insert(key, fig);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum DaemonKind {
    Python,
    Rust,
}

impl DaemonKind {
    fn name(self) -> &'static str {
        match self {
            DaemonKind::Python => "Python",
            DaemonKind::Rust => "Rust",
        }
    }

    fn column(self, python_client: bool) -> &'static str {
        match (python_client, self) {
            (true, DaemonKind::Python) => "Py->Py",
            (true, DaemonKind::Rust) => "Py->Rust",
            (false, DaemonKind::Python) => "Rust->Py",
            (false, DaemonKind::Rust) => "Rust->Rust",
        }
    }
}

/// `taskset -c cpu program`, or just `program` when not pinning.
fn pinned_command(cpu: &str, program: impl Into<PathBuf>) -> Command {
    if std::env::var(PINNED_ENV).as_deref() == Ok("1") {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", cpu]).arg(program.into());
        cmd
    } else {
        Command::new(program.into())
    }
}

fn python_command(cpu: &str, script: &str) -> Command {
    let mut cmd = pinned_command(cpu, python());
    cmd.arg(scripts_dir().join(script))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// A daemon child process: prints its URI first, serves until its stdin closes.
struct Server {
    child: Child,
    uri: String,
}

impl Server {
    fn start(kind: DaemonKind, cpu: &str) -> Result<Server, String> {
        let mut cmd = match kind {
            DaemonKind::Python => python_command(cpu, "loopback_server.py"),
            DaemonKind::Rust => {
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let mut cmd = pinned_command(cpu, exe);
                cmd.arg(SERVE_ARG);
                cmd
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let uri = line.trim().to_string();
        if !uri.starts_with("PYRO:") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("expected a URI, got {uri:?}"));
        }
        Ok(Server { child, uri })
    }

    /// Close its stdin and wait for it to end (killing it after 10 s).
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("daemon did not stop in 10 s; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Rust daemon role: the same object as `loopback_server.py`.
fn serve_rust_daemon() -> Result<(), String> {
    let daemon = Daemon::builder()
        .tcp("127.0.0.1", 0)
        .accept_pickle()
        .bind()
        .map_err(|e| e.to_string())?;
    let servant = ServantBuilder::new("Loopback")
        .method("small", |()| Ok(42i64))
        .raw_method("echo", |_ctx, args| {
            Ok(Reply::Value(
                args.vargs.into_iter().next().unwrap_or(Value::None),
            ))
        })
        .oneway("noop", |()| Ok(()))
        .generator("gen", |(n,): (i64,)| Ok(0..n))
        .build();
    let uri = daemon
        .register(servant, Some(OBJECT))
        .map_err(|e| e.to_string())?;
    println!("{uri}");
    io::stdout().flush().map_err(|e| e.to_string())?;
    let handle = daemon.handle();
    thread::spawn(move || {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        handle.shutdown();
    });
    daemon.request_loop().map_err(|e| e.to_string())
}

/// Units per second of `step` (which returns the units it did): the best of
/// `WINDOWS` consecutive windows of `secs / WINDOWS` each, after `warmup`
/// untimed steps. The best window is the one least disturbed by the other
/// processes sharing the CPU.
fn timed(
    secs: f64,
    warmup: usize,
    mut step: impl FnMut() -> Result<u64, String>,
) -> Result<f64, String> {
    for _ in 0..warmup {
        step()?;
    }
    let window = secs / WINDOWS as f64;
    let mut best = 0.0f64;
    for _ in 0..WINDOWS {
        let start = Instant::now();
        let mut units = 0u64;
        loop {
            units += step()?;
            let elapsed = start.elapsed().as_secs_f64();
            if elapsed >= window {
                best = best.max(units as f64 / elapsed);
                break;
            }
        }
    }
    Ok(best)
}

/// Round trips/s of one byte over `conns` loopback TCP connections (Nagle
/// off), each driven by its own client thread and served by its own thread,
/// all in this (pinned) process: the floor for the sync and 8-client figures.
fn raw_ping_pong(secs: f64, conns: usize) -> Result<f64, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let servers = thread::spawn(move || -> io::Result<()> {
        let mut echoers = Vec::new();
        for _ in 0..conns {
            let (mut s, _) = listener.accept()?;
            s.set_nodelay(true)?;
            echoers.push(thread::spawn(move || -> io::Result<()> {
                let mut b = [0u8; 1];
                while s.read(&mut b)? == 1 {
                    s.write_all(&b)?;
                }
                Ok(())
            }));
        }
        for e in echoers {
            let _ = e.join();
        }
        Ok(())
    });
    let clients = (0..conns)
        .map(|_| {
            let c = TcpStream::connect(addr)?;
            c.set_nodelay(true)?;
            Ok(c)
        })
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| e.to_string());
    let rate = clients.and_then(|clients| {
        run_clients(secs, clients, |c: &mut TcpStream| {
            let mut b = [7u8; 1];
            c.write_all(&b).map_err(|e| e.to_string())?;
            c.read_exact(&mut b).map_err(|e| e.to_string())
        })
    });
    let _ = servers.join();
    rate
}

/// Total steps/s of one thread per item of `clients`, each calling `step`
/// on its client in a loop (all start together): the best of `WINDOWS`
/// windows over `secs`. The clients are dropped (connections closed) at the end.
fn run_clients<C: Send>(
    secs: f64,
    clients: Vec<C>,
    step: impl Fn(&mut C) -> Result<(), String> + Sync,
) -> Result<f64, String> {
    let barrier = Barrier::new(clients.len() + 1);
    let stop = AtomicBool::new(false);
    let steps = AtomicU64::new(0);
    let failed = std::sync::Mutex::new(None::<String>);
    let best = thread::scope(|s| {
        for mut client in clients {
            let (barrier, stop, steps, failed, step) = (&barrier, &stop, &steps, &failed, &step);
            s.spawn(move || {
                barrier.wait();
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = step(&mut client) {
                        *failed.lock().unwrap() = Some(e);
                        break;
                    }
                    steps.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        barrier.wait();
        let mut best = 0.0f64;
        let window = Duration::from_secs_f64(secs / f64::from(WINDOWS));
        for _ in 0..WINDOWS {
            let (start, before) = (Instant::now(), steps.load(Ordering::Relaxed));
            thread::sleep(window);
            let done = steps.load(Ordering::Relaxed) - before;
            best = best.max(done as f64 / start.elapsed().as_secs_f64());
        }
        stop.store(true, Ordering::Relaxed);
        best
    });
    if let Some(e) = failed.into_inner().unwrap() {
        return Err(e);
    }
    Ok(best)
}

/// Runs loopback_client.py against `uri` and reads its JSON figures.
fn python_client(uri: &str, cpu: &str, secs: f64) -> Figures {
    let out = python_command(cpu, "loopback_client.py")
        .arg(uri)
        .arg(secs.to_string())
        .stderr(Stdio::inherit())
        .output();
    let parsed = out
        .map_err(|e| format!("cannot run loopback_client.py: {e}"))
        .and_then(|o| {
            if o.status.success() {
                serde_json::from_slice::<Json>(&o.stdout)
                    .map_err(|e| format!("loopback_client.py output: {e}"))
            } else {
                Err(format!("loopback_client.py failed: {}", o.status))
            }
        });
    METRICS
        .iter()
        .map(|(key, _)| {
            let fig = match &parsed {
                Err(e) => Err(e.clone()),
                Ok(json) => match &json[key] {
                    Json::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
                    other => Err(other["error"].as_str().unwrap_or("missing").to_string()),
                },
            };
            (key.to_string(), fig)
        })
        .collect()
}

/// The Rust client's figures against `uri`, metric by metric.
fn rust_client(uri: &str, secs: f64) -> Figures {
    let text = Value::Str("x".repeat(ECHO_TEXT_LEN).into());
    let mut out = Figures::new();
    let only = std::env::var("LOOPBACK_ONLY").ok();
    let wanted = |key: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|k| k == key))
    };
    let serpent = || client::Client::open(uri, SerializerId::Serpent);

    if wanted("sync") {
        out.insert(
            "sync".into(),
            serpent().and_then(|mut p| {
                timed(secs, 20, || {
                    p.small()?;
                    Ok(1)
                })
            }),
        );
    }
    if wanted("echo100") {
        out.insert(
            "echo100".into(),
            serpent().and_then(|mut p| {
                timed(secs, 20, || {
                    p.echo(text.clone())?;
                    Ok(1)
                })
            }),
        );
    }
    for (key, serializer) in [
        ("echo1mib", SerializerId::Marshal),
        ("echo1mib_pickle", SerializerId::Pickle),
    ] {
        if !wanted(key) {
            continue;
        }
        // Sent, then replaced by what came back: no 1 MiB clone per call
        // here (the Python client passes its bytes object by reference too).
        let mut blob = Value::Bytes((0..MIB).map(|i| i as u8).collect());
        let fig = client::Client::open(uri, serializer).and_then(|mut p| {
            timed(secs, 3, || {
                let back = p.echo(std::mem::replace(&mut blob, Value::None))?;
                match back {
                    Value::Bytes(ref b) if b.len() == MIB => {
                        blob = back;
                        Ok(MIB as u64)
                    }
                    other => Err(format!("echo of 1 MiB returned {}", describe(&other))),
                }
            })
            .map(|bytes_per_s| bytes_per_s / 1e6)
        });
        out.insert(key.into(), fig);
    }
    if wanted("oneway") {
        out.insert(
            "oneway".into(),
            serpent().and_then(|mut p| {
                timed(secs, 1, || {
                    for _ in 0..ONEWAY_ROUND {
                        p.noop()?;
                    }
                    p.small()?;
                    Ok(ONEWAY_ROUND)
                })
            }),
        );
    }
    if wanted("batch100") {
        out.insert(
            "batch100".into(),
            serpent().and_then(|mut p| {
                timed(secs, 2, || {
                    let n = p.batch_small(BATCH_SIZE)?;
                    if n != BATCH_SIZE {
                        return Err(format!("batch gave {n} results"));
                    }
                    Ok(1)
                })
            }),
        );
    }
    if wanted("stream") {
        out.insert(
            "stream".into(),
            serpent().and_then(|mut p| {
                timed(secs, 1, || {
                    let n = p.stream_count(STREAM_ITEMS)?;
                    if n != STREAM_ITEMS as u64 {
                        return Err(format!("stream gave {n} items"));
                    }
                    Ok(n)
                })
            }),
        );
    }
    if wanted("connect") {
        out.insert(
            "connect".into(),
            timed(secs, 5, || {
                let mut p = serpent()?;
                p.small()?;
                drop(p);
                Ok(1)
            }),
        );
    }
    if wanted("clients8") {
        out.insert("clients8".into(), concurrent(uri, secs));
    }
    out
}

/// Total calls/s of `CLIENTS` threads, each with its own proxy (connected
/// and called once before the clock starts).
fn concurrent(uri: &str, secs: f64) -> Result<f64, String> {
    let clients = (0..CLIENTS)
        .map(|_| {
            let mut p = client::Client::open(uri, SerializerId::Serpent)?;
            p.small()?;
            Ok(p)
        })
        .collect::<Result<Vec<_>, String>>()?;
    run_clients(secs, clients, |p| p.small().map(drop))
}

fn describe(v: &Value) -> String {
    let s = format!("{v:?}");
    if s.len() > 80 {
        format!("{}...", &s[..80])
    } else {
        s
    }
}

/// The Rust client: `pyro_transport_std::Proxy`, one per connection.
mod client {
    use pyro_proto::serialize::SerializerId;
    use pyro_proto::value::{Dict, Value};
    use pyro_transport_std::Proxy;

    /// A connected proxy of the bench object.
    pub struct Client(Proxy);

    fn text(e: impl std::fmt::Display) -> String {
        e.to_string()
    }

    impl Client {
        /// Connect and handshake now (with metadata, as Pyro4's default).
        pub fn open(uri: &str, serializer: SerializerId) -> Result<Client, String> {
            let proxy = Proxy::builder()
                .serializer(serializer)
                .build(uri)
                .map_err(text)?;
            proxy.bind().map_err(text)?;
            Ok(Client(proxy))
        }

        /// `small()`, expecting 42.
        pub fn small(&mut self) -> Result<i64, String> {
            self.0.call("small", ()).map_err(text)
        }

        /// `echo(value)`.
        pub fn echo(&mut self, value: Value) -> Result<Value, String> {
            self.0
                .call_value("echo", vec![value], Dict::default())
                .map_err(text)
        }

        /// `noop()`, oneway (as the metadata says).
        pub fn noop(&mut self) -> Result<(), String> {
            self.0.oneway("noop", ()).map_err(text)
        }

        /// A batch of `n` `small()` calls; the number of results.
        pub fn batch_small(&mut self, n: usize) -> Result<usize, String> {
            let mut batch = self.0.batch();
            for _ in 0..n {
                batch.call("small", ());
            }
            let mut results = 0;
            for r in batch.run().map_err(text)? {
                r.map_err(text)?;
                results += 1;
            }
            Ok(results)
        }

        /// Iterate `gen(n)` to its end; the number of items.
        pub fn stream_count(&mut self, n: i64) -> Result<u64, String> {
            let mut items = 0;
            for item in self.0.stream::<i64>("gen", (n,)).map_err(text)? {
                item.map_err(text)?;
                items += 1;
            }
            Ok(items)
        }
    }
}

fn fmt_rate(r: f64) -> String {
    if !r.is_finite() {
        return "-".into();
    }
    if r >= 1000.0 {
        let n = r.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else {
        format!("{r:.1}")
    }
}

fn print_table(columns: &[(&str, Figures)], ping: f64, ping8: f64) {
    let fig = |col: &str, key: &str| -> Option<f64> {
        columns
            .iter()
            .find(|(c, _)| *c == col)
            .and_then(|(_, f)| f.get(key))
            .and_then(|r| r.as_ref().ok().copied())
    };
    println!();
    println!(
        "raw 1-byte TCP ping-pong (Rust, same CPU): {} round trips/s; over {CLIENTS} connections at once: {} round trips/s",
        fmt_rate(ping),
        fmt_rate(ping8)
    );
    println!();
    print!("{:<26}", "client->daemon");
    for (name, _) in columns {
        print!("{name:>13}");
    }
    println!();
    let mut errors = Vec::new();
    for (key, label) in METRICS {
        print!("{label:<26}");
        for (name, figures) in columns {
            match figures.get(key) {
                Some(Ok(r)) => print!("{:>13}", fmt_rate(*r)),
                Some(Err(e)) => {
                    print!("{:>13}", "error");
                    errors.push(format!("{name} {key}: {e}"));
                }
                None => print!("{:>13}", "-"),
            }
        }
        println!();
    }
    for e in &errors {
        println!("  error: {e}");
    }

    println!();
    println!(
        "{:<48}{:>14}{:>16}  verdict",
        "target (not asserted)", "measured", "target"
    );
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let line = |what: &str, measured: Option<f64>, target: f64, show: &dyn Fn(f64) -> String| {
        let verdict = match measured {
            Some(m) if m >= target => "MET",
            Some(_) => "MISSED",
            None => "NOT MEASURED",
        };
        println!(
            "{what:<48}{:>14}{:>16}  {verdict}",
            measured.map_or("-".into(), show),
            format!(">= {}", show(target))
        );
    };
    let times = |x: f64| format!("{x:.2}x");
    let percent = |x: f64| format!("{:.0}%", x * 100.0);
    let mbs = |x: f64| format!("{} MB/s", fmt_rate(x));
    let per_s = |x: f64| format!("{}/s", fmt_rate(x));
    line(
        "Rust<->Rust sync vs Py<->Py sync",
        ratio(fig("Rust->Rust", "sync"), fig("Py->Py", "sync")),
        8.0,
        &times,
    );
    line(
        "Rust<->Rust sync vs raw ping-pong",
        ratio(
            fig("Rust->Rust", "sync"),
            Some(ping).filter(|p| p.is_finite()),
        ),
        0.6,
        &percent,
    );
    line(
        "Py client: Rust daemon vs Py daemon (sync)",
        ratio(fig("Py->Rust", "sync"), fig("Py->Py", "sync")),
        1.3,
        &times,
    );
    let marshal = fig("Rust->Rust", "echo1mib");
    let pickle = fig("Rust->Rust", "echo1mib_pickle");
    line(
        match (marshal, pickle) {
            (Some(m), Some(p)) if p > m => "Rust<->Rust echo 1 MiB (best: pickle)",
            (None, Some(_)) => "Rust<->Rust echo 1 MiB (best: pickle)",
            _ => "Rust<->Rust echo 1 MiB (best: marshal)",
        },
        marshal.into_iter().chain(pickle).reduce(f64::max),
        1000.0,
        &mbs,
    );
    line(
        "8 Rust clients -> Rust daemon (calls)",
        fig("Rust->Rust", "clients8"),
        100_000.0,
        &per_s,
    );
    println!(
        "(for scale, not targets: Rust<->Rust 8 clients vs raw ping-pong over {CLIENTS} connections: {}; Py->Rust vs Py->Py echo 100 chars: {})",
        ratio(fig("Rust->Rust", "clients8"), Some(ping8).filter(|p| p.is_finite()))
            .map_or("-".into(), percent),
        ratio(fig("Py->Rust", "echo100"), fig("Py->Py", "echo100")).map_or("-".into(), times),
    );
}
