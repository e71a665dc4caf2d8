//! HMAC-SHA1 message signing exactly as Pyro4 4.82 does it (section 3).

use ::hmac::{Hmac, Mac};
use sha1::Sha1;

use super::annotations::{AnnotationId, Annotations};
use super::FrameError;

/// Length of an HMAC-SHA1 digest (the `HMAC` annotation value).
pub const HMAC_SIZE: usize = 20;

type HmacSha1 = Hmac<Sha1>;

/// An HMAC key, prepared once (the padded key blocks are hashed at
/// construction, so signing or verifying a message costs only the message).
///
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct HmacKey(HmacSha1);

impl core::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

impl HmacKey {
    /// A key from its bytes (a `str` key in Pyro4 is its UTF-8 bytes).
    /// `None` for an empty key: Pyro4 treats an empty key as no key.
    pub fn new(key: &[u8]) -> Option<HmacKey> {
        if key.is_empty() {
            return None;
        }
        // HMAC takes keys of any length, so this cannot fail.
        HmacSha1::new_from_slice(key).ok().map(HmacKey)
    }

    fn mac_over(&self, data: &[u8], annotations: &Annotations) -> HmacSha1 {
        let mut mac = self.0.clone();
        mac.update(data);
        // Sorted by id; a handful of entries, so a simple selection in place
        // of an allocation: repeatedly take the smallest id above the last.
        let mut last: Option<AnnotationId> = None;
        loop {
            let next = annotations
                .iter()
                .filter(|(id, _)| *id != AnnotationId::HMAC && last.is_none_or(|l| *id > l))
                .min_by_key(|(id, _)| *id);
            match next {
                Some((id, value)) => {
                    mac.update(value);
                    last = Some(id);
                }
                None => break,
            }
        }
        mac
    }

    /// The digest Pyro4 puts in the `HMAC` annotation: HMAC-SHA1 over the
    /// payload as on the wire (compressed if it is), then the values (not
    /// ids, not lengths) of every other annotation in ascending id order. The
    /// header is not covered.
    pub fn compute(&self, data: &[u8], annotations: &Annotations) -> [u8; HMAC_SIZE] {
        self.mac_over(data, annotations)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Constant-time check of `tag` against the digest of the message.
    pub fn verify_tag(
        &self,
        data: &[u8],
        annotations: &Annotations,
        tag: &[u8],
    ) -> Result<(), FrameError> {
        self.mac_over(data, annotations)
            .verify_slice(tag)
            .map_err(|_| FrameError::HmacMismatch)
    }

    /// Pyro4's receive-side check with this key: the message must carry an
    /// `HMAC` annotation ([`FrameError::HmacMissing`] otherwise) that matches
    /// ([`FrameError::HmacMismatch`] otherwise).
    pub fn verify(&self, data: &[u8], annotations: &Annotations) -> Result<(), FrameError> {
        match annotations.get(AnnotationId::HMAC) {
            Some(tag) => self.verify_tag(data, annotations, tag),
            None => Err(FrameError::HmacMissing),
        }
    }
}

/// The digest Pyro4 puts in the `HMAC` annotation (see [`HmacKey::compute`]);
/// for many messages, prepare an [`HmacKey`] once instead.
pub fn compute_hmac(key: &[u8], data: &[u8], annotations: &Annotations) -> [u8; HMAC_SIZE] {
    // An empty key is a valid HMAC key; only Pyro4's *configuration* treats
    // it as "no key".
    let mac = match HmacSha1::new_from_slice(key) {
        Ok(mac) => HmacKey(mac),
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.compute(data, annotations)
}

/// Pyro4's receive-side check: with a key and an `HMAC` annotation, compare in
/// constant time ([`FrameError::HmacMismatch`]); with exactly one of the two,
/// [`FrameError::HmacMissing`] / [`FrameError::HmacUnexpected`] (both "hmac key
/// config not symmetric"). No key and no annotation is fine. An empty key
/// counts as no key, as in Python.
pub fn verify_hmac(
    key: Option<&[u8]>,
    data: &[u8],
    annotations: &Annotations,
) -> Result<(), FrameError> {
    verify_with(key.and_then(HmacKey::new).as_ref(), data, annotations)
}

/// [`verify_hmac`] with a prepared key.
pub fn verify_with(
    key: Option<&HmacKey>,
    data: &[u8],
    annotations: &Annotations,
) -> Result<(), FrameError> {
    match key {
        Some(key) => key.verify(data, annotations),
        None if annotations.contains(AnnotationId::HMAC) => Err(FrameError::HmacUnexpected),
        None => Ok(()),
    }
}
