//! OS-seeded randomness for correlation ids, stream ids and object ids.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use pyro_proto::entropy::SeededEntropy;

/// A [`SeededEntropy`] seeded from the operating system's randomness.
///
/// std has no public "random bytes" API, but every [`RandomState`] holds a
/// 128-bit SipHash key drawn from the OS (once per thread, then varied), so
/// hashing a counter and the time with it yields a seed an outsider cannot
/// predict, without adding a dependency. The generator itself is not
/// cryptographic; stream ids only need to be unguessable by other clients,
/// as Pyro4's uuid4 ids are.
pub fn os_seeded_entropy() -> SeededEntropy {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        hasher.write_u128(t.as_nanos());
    }
    SeededEntropy::new(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyro_proto::entropy::Entropy;

    #[test]
    fn seeds_differ_between_calls() {
        let draw = || {
            let mut buf = [0u8; 16];
            os_seeded_entropy().fill(&mut buf);
            buf
        };
        let (a, b) = (draw(), draw());
        assert_ne!(a, b);
        assert_ne!(a, [0; 16]);
    }
}
