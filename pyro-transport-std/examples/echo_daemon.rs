//! An echo server like Pyro4's `Pyro4.test.echoserver`, to call from Python:
//!
//! ```text
//! cargo run -p pyro-transport-std --example echo_daemon -- [host] [port]
//! python -c "import Pyro4; p = Pyro4.Proxy('PYRO:test.echoserver@localhost:<port>'); print(p.echo([1, 'two']))"
//! ```
//! Calling `shutdown()` on the object stops the daemon.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::{RemoteError, Value};
use pyro_transport_std::{Daemon, Error};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "localhost".into());
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let daemon = Daemon::builder().tcp(&host, port).bind()?;
    let handle = daemon.handle();
    let verbose = Arc::new(AtomicBool::new(false));
    let (get_v, set_v) = (verbose.clone(), verbose.clone());
    let echo = ServantBuilder::new("EchoServer")
        .raw_method("echo", |_ctx, args| {
            Ok(Reply::Value(
                args.vargs.into_iter().next().unwrap_or(Value::None),
            ))
        })
        .method("error", |()| -> Result<(), _> {
            Err(RemoteError::builtin(
                "ValueError",
                "expected error from echoserver error() method",
            ))
        })
        .method("error_with_text", |()| -> Result<(), _> {
            Err(RemoteError::builtin(
                "ValueError",
                "the message of the error",
            ))
        })
        .oneway("oneway_echo", |_: (Value,)| Ok(()))
        .method("slow", |()| {
            std::thread::sleep(std::time::Duration::from_secs(5));
            Ok("Finally, an answer!")
        })
        .generator("generator", |()| Ok(["one", "two", "three"]))
        .method("nan", |()| Ok(f64::NAN))
        .method("inf", |()| Ok(f64::INFINITY))
        .method("shutdown", move |()| {
            handle.shutdown();
            Ok(())
        })
        .attr_rw(
            "verbose",
            move || get_v.load(Ordering::Relaxed),
            move |on: bool| {
                set_v.store(on, Ordering::Relaxed);
                Ok(())
            },
        )
        .build();
    daemon.serve_simple([("test.echoserver", echo.into())])
}
