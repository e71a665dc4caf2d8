//! HMAC-SHA1 message signing exactly as Pyro4 4.82 does it (section 3).

use ::hmac::{Hmac, Mac};
use alloc::vec::Vec;
use sha1::Sha1;

use super::annotations::{AnnotationId, Annotations};
use super::FrameError;

/// Length of an HMAC-SHA1 digest (the `HMAC` annotation value).
pub const HMAC_SIZE: usize = 20;

type HmacSha1 = Hmac<Sha1>;

fn mac_over(key: &[u8], data: &[u8], annotations: &Annotations) -> HmacSha1 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha1::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    let mut others: Vec<(AnnotationId, &[u8])> = annotations
        .iter()
        .filter(|(id, _)| *id != AnnotationId::HMAC)
        .map(|(id, v)| (id, v.as_ref()))
        .collect();
    others.sort_unstable_by_key(|(id, _)| *id);
    for (_, value) in others {
        mac.update(value);
    }
    mac
}

/// The digest Pyro4 puts in the `HMAC` annotation: HMAC-SHA1 over the payload
/// as on the wire (compressed if it is), followed by the values (not ids, not
/// lengths) of every other annotation in ascending id order. The header is
/// not covered.
pub fn compute_hmac(key: &[u8], data: &[u8], annotations: &Annotations) -> [u8; HMAC_SIZE] {
    mac_over(key, data, annotations)
        .finalize()
        .into_bytes()
        .into()
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
    let key = key.filter(|k| !k.is_empty());
    match (key, annotations.get(AnnotationId::HMAC)) {
        (Some(key), Some(tag)) => mac_over(key, data, annotations)
            .verify_slice(tag)
            .map_err(|_| FrameError::HmacMismatch),
        (Some(_), None) => Err(FrameError::HmacMissing),
        (None, Some(_)) => Err(FrameError::HmacUnexpected),
        (None, None) => Ok(()),
    }
}
