//! Test servants shared by the interop tests of both adapters' daemons.

use std::process::Output;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pyro_proto::servant::{Reply, Servant, ServantBuilder};
use pyro_proto::value::{Dict, RemoteError, Value};

/// The id the interop tests register [`test_servant`] under.
pub const OBJECT: &str = "test.servant";

/// The servant `tests/python/std_daemon_client.py` exercises, the same for
/// every Rust daemon so that the blocking and async ones pass one
/// conformance script. `streams` reports the daemon's open stream count
/// (its `stream_count`), which the script checks after closing streams.
/// The blocking methods (`slow`, `record_slowly`) really sleep: the script
/// checks that two of them from different clients overlap.
pub fn test_servant(streams: impl Fn() -> usize + Send + Sync + 'static) -> Arc<dyn Servant> {
    let records = Arc::new(Mutex::new(Vec::<Value>::new()));
    let (r1, r2, r3, r4) = (
        records.clone(),
        records.clone(),
        records.clone(),
        records.clone(),
    );
    let value = Arc::new(AtomicI64::new(0));
    let (v1, v2) = (value.clone(), value.clone());
    ServantBuilder::new("TestServant")
        .raw_method("echo", |_ctx, args| {
            Ok(Reply::Value(
                args.vargs.into_iter().next().unwrap_or(Value::None),
            ))
        })
        .raw_method("kwargs", |_ctx, args| {
            Ok(Reply::Value(Value::List(vec![
                Value::Tuple(args.vargs),
                Value::Dict(args.kwargs),
            ])))
        })
        .method("add", |(a, b): (i64, i64)| Ok(a + b))
        .method("divide", |(a, b): (f64, f64)| {
            if b == 0.0 {
                Err(RemoteError::builtin(
                    "ZeroDivisionError",
                    "float division by zero",
                ))
            } else {
                Ok(a / b)
            }
        })
        .method("clear", move |()| {
            r1.lock().unwrap().clear();
            Ok(())
        })
        .oneway("record", move |(v,): (Value,)| {
            r2.lock().unwrap().push(v);
            Ok(())
        })
        .oneway("record_slowly", move |(v, secs): (Value, f64)| {
            thread::sleep(Duration::from_secs_f64(secs));
            r3.lock().unwrap().push(v);
            Ok(())
        })
        .method("recorded", move |()| Ok(r4.lock().unwrap().clone()))
        .generator("count", |(n,): (i64,)| Ok(0..n))
        .raw_method("count_then_fail", |_ctx, args| {
            let n = match args.vargs.first() {
                Some(Value::Int(n)) => *n,
                _ => return Err(RemoteError::builtin("TypeError", "count_then_fail(n)")),
            };
            let items = (0..n).map(|i| Ok(Value::Int(i))).chain(std::iter::once(Err(
                RemoteError::builtin("ValueError", "stream broke"),
            )));
            Ok(Reply::Stream(Box::new(items)))
        })
        .method("streams", move |()| Ok(streams()))
        .method("panics", |()| -> Result<(), RemoteError> {
            panic!("deliberate panic")
        })
        .callback("maybe_fail", |(fail,): (bool,)| {
            if fail {
                Err(RemoteError::builtin("ValueError", "callback failed"))
            } else {
                Ok("fine")
            }
        })
        .method("slow", |(secs,): (f64,)| {
            thread::sleep(Duration::from_secs_f64(secs));
            Ok(secs)
        })
        .method_with_context("context", |ctx, ()| {
            let client = ctx.client.clone().unwrap_or_else(|| "None".into());
            Ok(Value::Dict(Dict(vec![(
                Value::Str("client".into()),
                Value::Str(client.into()),
            )])))
        })
        .attr_rw(
            "value",
            move || v1.load(Ordering::SeqCst),
            move |v: i64| {
                v2.store(v, Ordering::SeqCst);
                Ok(())
            },
        )
        .attr("name", || "test servant")
        .build()
}

/// Run `tests/python/std_daemon_client.py` in `mode` against the daemon
/// at `uri` (`daemon` names it in the printed log) and return its output;
/// panics with that output unless the script succeeded.
pub fn daemon_client(daemon: &str, uri: &str, mode: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let out: Output = crate::python::script("std_daemon_client.py")
        .arg(mode)
        .arg(uri)
        .args(args)
        .output()
        .expect("run std_daemon_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "std_daemon_client.py {mode} {args:?} against the {daemon} daemon ({:.2?}):\n{stdout}{stderr}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "client {mode} {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}
