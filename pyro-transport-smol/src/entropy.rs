//! OS-seeded randomness for correlation ids, stream ids and object ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use pyro_proto::entropy::SeededEntropy;

/// A [`SeededEntropy`] seeded from the OS: every [`RandomState`] carries a
/// SipHash key drawn from the operating system, so hashing a counter and the
/// time with it gives a seed other clients cannot predict (stream ids only
/// need that, as Pyro4's uuid4 ids), without another dependency.
pub(crate) fn os_seeded_entropy() -> SeededEntropy {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        hasher.write_u128(t.as_nanos());
    }
    SeededEntropy::new(hasher.finish())
}
