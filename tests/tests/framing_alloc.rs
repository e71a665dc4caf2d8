//! The decoder never allocates on the strength of a declared length: a header
//! announcing ~2 GiB of body costs memory only for the bytes that arrive.
//! Measured with a counting global allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyro_proto::message::{
    Bytes, Decoder, ExpectedTypes, Flags, FrameError, Header, Message, MessageType,
};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated (above what was live before) while running `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

fn huge_header() -> [u8; 24] {
    Header {
        msg_type: MessageType::Invoke.code(),
        flags: Flags::NONE,
        seq: 1,
        data_length: 0x7fff_ffff,
        serializer_id: 1,
        annotations_length: 0xffff,
    }
    .to_bytes()
}

// One test function only: the counters are process-wide, and the test
// harness would run several tests on parallel threads.
#[test]
fn memory_follows_arrived_bytes_not_declared_lengths() {
    let header = huge_header();
    let arrived = vec![0u8; 10_000];

    // Copying path, fed in small pieces.
    let peak = peak_during(|| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON);
        d.receive(&header);
        for piece in arrived.chunks(100) {
            d.receive(piece);
        }
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.buffered_len(), 24 + 10_000);
    });
    assert!(peak < 64 * 1024, "peak {peak} bytes for 10 kB arrived");

    // Zero-copy entry point with a partial frame: copied, bounded the same way.
    let mut chunk = header.to_vec();
    chunk.extend_from_slice(&arrived);
    let chunk = Bytes::from(chunk);
    let peak = peak_during(|| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON);
        d.receive_bytes(chunk.clone());
        assert_eq!(d.next_message(), Ok(None));
    });
    assert!(peak < 64 * 1024, "peak {peak} bytes for 10 kB arrived");

    // With a max_message_size the header alone is refused; nothing is buffered.
    let peak = peak_during(|| {
        let mut d = Decoder::new(ExpectedTypes::DAEMON).with_max_message_size(Some(1 << 20));
        d.receive(&header);
        d.receive(&arrived);
        assert!(matches!(
            d.next_message(),
            Err(FrameError::MessageTooLarge { .. })
        ));
        assert_eq!(d.buffered_len(), 0);
    });
    assert!(peak < 4 * 1024, "peak {peak}");

    // A zip bomb (8 MiB of zeros in 8 kB) against a 1 MiB cap.
    let bomb = Message::new(
        MessageType::Invoke,
        1,
        miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 8 << 20], 9),
    )
    .with_flags(Flags::COMPRESSED);
    let peak = peak_during(|| {
        let mut m = bomb.clone();
        assert_eq!(
            m.decompress(1 << 20),
            Err(FrameError::DecompressedTooLarge { limit: 1 << 20 })
        );
    });
    // miniz_oxide grows its output Vec by doubling (a realloc keeps old and
    // new alive), so the peak is a small multiple of the cap, never more.
    assert!(peak < 4 << 20, "peak {peak}");
}
