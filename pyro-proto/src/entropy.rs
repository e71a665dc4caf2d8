//! Randomness handed in by the caller, and the uuid4 values Pyro4 makes from it.
//!
//! Pyro4 takes a fresh `uuid.uuid4()` for every correlation id it generates,
//! every stream id and every generated object id. This crate never draws OS
//! randomness itself (it runs on hosts that have none), so the caller supplies
//! an [`Entropy`]; the adapters seed a [`SeededEntropy`] from the OS.

use alloc::string::String;

/// Source of the random bytes behind uuid4 values.
///
/// Stream ids are capabilities in Pyro4 (whoever knows one may pull its
/// items), so a daemon reachable by untrusted peers should be given a source
/// seeded from the operating system's randomness.
pub trait Entropy: Send {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A fast, seedable generator (SplitMix64 feeding xoshiro256**).
///
/// Not cryptographic; good for ids that must not collide, and unpredictable
/// enough when seeded from the OS. Deterministic seeds make tests repeatable.
#[derive(Debug, Clone)]
pub struct SeededEntropy {
    s: [u64; 4],
}

impl SeededEntropy {
    /// A generator whose whole output follows from `seed`.
    pub fn new(seed: u64) -> SeededEntropy {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        SeededEntropy {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// A random (version 4, RFC 4122 variant) uuid, as Python's `uuid.uuid4().bytes`.
pub fn uuid4(entropy: &mut dyn Entropy) -> [u8; 16] {
    let mut b = [0u8; 16];
    entropy.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// The canonical 36-character lower-case text of a uuid, as Python's `str(uuid)`.
pub fn uuid_string(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid4_has_version_and_variant_bits() {
        let mut e = SeededEntropy::new(7);
        for _ in 0..100 {
            let u = uuid4(&mut e);
            assert_eq!(u[6] >> 4, 4);
            assert_eq!(u[8] >> 6, 0b10);
        }
    }

    #[test]
    fn uuid_text_matches_python() {
        // str(uuid.UUID(bytes=bytes(range(16))))
        let u: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(uuid_string(&u), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }

    #[test]
    fn seeds_repeat_and_differ() {
        let (mut a, mut b, mut c) = (
            SeededEntropy::new(1),
            SeededEntropy::new(1),
            SeededEntropy::new(2),
        );
        let (x, y, z) = (uuid4(&mut a), uuid4(&mut b), uuid4(&mut c));
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(uuid4(&mut a), x);
    }
}
