//! An async echo daemon and async proxies on one smol executor.
//!
//! ```text
//! cargo run -p pyro-transport-smol --example async_echo            # self-test, then exit
//! cargo run -p pyro-transport-smol --example async_echo -- serve   # keep serving on port 9999
//! python -c "import Pyro4; print(Pyro4.Proxy('PYRO:test.echoserver@localhost:9999').echo([1, 'two']))"
//! ```
//!
//! The daemon's `run()` future and the client tasks share one executor;
//! servant code (here a blocking `sleep`) runs on smol's blocking pool, so
//! ten slow calls from ten proxies overlap. Calling `shutdown()` on the
//! object stops the daemon.

use std::time::{Duration, Instant};

use pyro_proto::servant::{Reply, ServantBuilder};
use pyro_proto::value::{RemoteError, Value};
use pyro_transport_smol::{smol, Daemon, Proxy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve_forever = std::env::args().nth(1).as_deref() == Some("serve");
    let port = if serve_forever { 9999 } else { 0 };
    let daemon = Daemon::builder().tcp("localhost", port).bind()?;
    let handle = daemon.handle();
    let echo = ServantBuilder::new("EchoServer")
        .raw_method("echo", |_ctx, args| {
            Ok(Reply::Value(
                args.vargs.into_iter().next().unwrap_or(Value::None),
            ))
        })
        .method("error", |()| -> Result<(), _> {
            Err(RemoteError::builtin(
                "ZeroDivisionError",
                "expected error from echoserver error() method",
            ))
        })
        .method("slow", |(ms,): (u64,)| {
            // Blocking is fine: servant code runs off the executor.
            std::thread::sleep(Duration::from_millis(ms));
            Ok(ms)
        })
        .generator("count", |(n,): (u64,)| Ok(0..n))
        .method("shutdown", move |()| {
            handle.shutdown();
            Ok(())
        })
        .build();
    let uri = daemon.register(echo, Some("test.echoserver"))?;
    println!("uri = {uri}");
    if serve_forever {
        smol::block_on(daemon.run())?;
        return Ok(());
    }

    let ex = smol::Executor::new();
    smol::block_on(ex.run(async {
        let server = ex.spawn(async { daemon.run().await });
        let proxy = Proxy::new(&uri)?;
        let echoed: Vec<Value> = proxy
            .call("echo", (vec![Value::Int(1), Value::Str("two".into())],))
            .await?;
        println!("echo -> {echoed:?}");
        assert_eq!(echoed.len(), 2);

        let err = proxy.call::<()>("error", ()).await.unwrap_err();
        println!("error -> {err}");
        assert!(err.remote().is_some());

        let mut items = proxy.stream::<u64>("count", (3,)).await?;
        while let Some(item) = items.next().await {
            println!("stream item {}", item?);
        }

        let started = Instant::now();
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let uri = uri.clone();
                ex.spawn(async move { Proxy::new(&uri)?.call::<u64>("slow", (200,)).await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await?, 200);
        }
        let took = started.elapsed();
        println!("10 concurrent 200 ms calls took {took:?}");
        assert!(took < Duration::from_secs(2), "calls did not overlap");

        proxy.call::<()>("shutdown", ()).await?;
        server.await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }))
}
