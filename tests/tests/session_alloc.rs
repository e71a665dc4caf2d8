//! Sessions serialize outgoing payloads into a buffer they keep and frame
//! from there: in steady state a request or a reply allocates its frame
//! (the bytes handed to the transport) and small bookkeeping, never a
//! second buffer the size of the payload. Measured with a counting global
//! allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pyro_proto::entropy::SeededEntropy;
use pyro_proto::session::{
    CallOptions, ClientConfig, ClientSession, Outcome, ServerConfig, ServerEvent, ServerSession,
};
use pyro_proto::{Call, Dict, Message, MessageType, SerializerId, Value};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        COUNT.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::SeqCst);
        COUNT.fetch_add(1, Ordering::SeqCst);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes and number of allocations (reallocations included) made by `f`.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (bytes, count) = (
        ALLOCATED.load(Ordering::SeqCst),
        COUNT.load(Ordering::SeqCst),
    );
    let out = f();
    (
        out,
        ALLOCATED.load(Ordering::SeqCst) - bytes,
        COUNT.load(Ordering::SeqCst) - count,
    )
}

const NOW: Duration = Duration::from_secs(1);

/// A 3,000-byte payload: a copy of it would show in the byte count.
fn big_text() -> Value {
    Value::Str("p".repeat(3_000).into())
}

// One test function only: the counters are process-wide, and the test
// harness would run several tests on parallel threads.
#[test]
fn steady_state_messages_allocate_their_frame_not_a_payload_buffer() {
    for &serializer in SerializerId::ALL {
        // Client: oneway calls (no reply needed) on a session past its first call.
        let mut config = ClientConfig::new("obj");
        config.metadata = false;
        config.serializer = serializer;
        let mut client = ClientSession::new_without_handshake(config, 0);
        let opts = CallOptions {
            oneway: Some(true),
            ..Default::default()
        };
        for round in 0..3 {
            let vargs = vec![big_text(), Value::Int(round)];
            let ((), bytes, count) = allocated_by(|| {
                client
                    .call("m", vargs, Dict::default(), &opts, NOW)
                    .unwrap();
            });
            let frame = client.poll_transmit().unwrap();
            assert!(client.poll_transmit().is_none());
            assert!(frame.len() > 3_000, "{serializer:?}");
            if round > 0 {
                // The frame, and nothing else.
                assert!(
                    count == 1 && bytes == frame.len(),
                    "{serializer:?}: {bytes} bytes in {count} allocations for a {}-byte frame",
                    frame.len()
                );
            }
        }

        // Server: replies to two-way requests, each with the big value.
        let server_config = ServerConfig {
            accepted: SerializerId::ALL.to_vec(),
            ..Default::default()
        };
        let mut server = ServerSession::new_without_handshake(
            Arc::new(server_config),
            Box::new(SeededEntropy::new(3)),
        );
        for round in 0..3u16 {
            let call = Call {
                object: "obj".into(),
                method: "m".into(),
                vargs: Value::Tuple(vec![Value::Int(round.into())]),
                kwargs: Some(Dict::default()),
            };
            let request = Message::new(
                MessageType::Invoke,
                serializer.id(),
                serializer.dumps_call(&call).unwrap(),
            )
            .with_seq(round + 1)
            .encode(None)
            .unwrap();
            server.receive(&request);
            let id = match server.poll_event() {
                Some(ServerEvent::Request(r)) => r.id,
                other => panic!("{serializer:?}: expected a request, got {other:?}"),
            };
            let outcome = Outcome::value(big_text());
            let ((), bytes, count) = allocated_by(|| server.reply(id, outcome).unwrap());
            let frame = server.poll_transmit().unwrap();
            assert!(server.poll_transmit().is_none());
            assert!(frame.len() > 3_000, "{serializer:?}");
            if round > 0 {
                // The frame, plus a little: the CORR annotation the reply carries.
                assert!(
                    bytes < frame.len() + 512,
                    "{serializer:?}: {bytes} bytes in {count} allocations for a {}-byte frame",
                    frame.len()
                );
            }
        }
    }
}
