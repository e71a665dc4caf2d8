//! Annotation chunks: 4-character ids with opaque byte values.

use alloc::vec::Vec;
use bytes::Bytes;

use super::FrameError;

/// Bytes of a chunk header: 4-byte id + u16 length.
pub const CHUNK_HEADER_SIZE: usize = 6;

/// A 4-character ASCII annotation id such as `CORR` or `HMAC`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnnotationId([u8; 4]);

impl AnnotationId {
    /// Correlation id (16 raw uuid bytes).
    pub const CORR: AnnotationId = AnnotationId(*b"CORR");
    /// HMAC-SHA1 digest of payload and the other annotation values.
    pub const HMAC: AnnotationId = AnnotationId(*b"HMAC");
    /// Stream id of an ITEMSTREAMRESULT reply (ASCII uuid).
    pub const STRM: AnnotationId = AnnotationId(*b"STRM");
    /// SerializedBlob info of a KEEPSERIALIZED INVOKE.
    pub const BLBI: AnnotationId = AnnotationId(*b"BLBI");

    /// An id from 4 bytes; every byte must be ASCII (Pyro4 decodes ids as ASCII).
    pub const fn from_bytes(bytes: [u8; 4]) -> Result<AnnotationId, FrameError> {
        if bytes[0].is_ascii() && bytes[1].is_ascii() && bytes[2].is_ascii() && bytes[3].is_ascii()
        {
            Ok(AnnotationId(bytes))
        } else {
            Err(FrameError::AnnotationKeyNotAscii(bytes))
        }
    }

    /// An id from a string of exactly 4 ASCII characters (Pyro4 refuses other
    /// lengths with "annotation key must be of length 4").
    pub fn new(id: &str) -> Result<AnnotationId, FrameError> {
        if !id.is_ascii() {
            return Err(if id.chars().count() == 4 {
                let mut b = [0u8; 4];
                for (slot, byte) in b.iter_mut().zip(id.bytes()) {
                    *slot = byte;
                }
                FrameError::AnnotationKeyNotAscii(b)
            } else {
                FrameError::AnnotationKeyLength
            });
        }
        let bytes: [u8; 4] = id
            .as_bytes()
            .try_into()
            .map_err(|_| FrameError::AnnotationKeyLength)?;
        Ok(AnnotationId(bytes))
    }

    /// The 4 id bytes as on the wire.
    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// The id as text (always valid: ids are ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl core::fmt::Debug for AnnotationId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl core::fmt::Display for AnnotationId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for AnnotationId {
    type Error = FrameError;
    fn try_from(id: &str) -> Result<Self, FrameError> {
        AnnotationId::new(id)
    }
}

impl TryFrom<[u8; 4]> for AnnotationId {
    type Error = FrameError;
    fn try_from(id: [u8; 4]) -> Result<Self, FrameError> {
        AnnotationId::from_bytes(id)
    }
}

/// The annotations of a message, in insertion order (which is the order they
/// are written in, as Python's dict does), with at most one value per id.
///
/// Values are [`Bytes`]: for a received message they are slices of the
/// received frame, no copy.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    entries: Vec<(AnnotationId, Bytes)>,
}

impl Annotations {
    /// No annotations.
    pub const fn new() -> Annotations {
        Annotations {
            entries: Vec::new(),
        }
    }

    /// Set `id` to `value`. Like a Python dict, replacing an existing id keeps
    /// its original position; the old value is returned.
    pub fn insert(&mut self, id: AnnotationId, value: impl Into<Bytes>) -> Option<Bytes> {
        let value = value.into();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == id) {
            return Some(core::mem::replace(&mut slot.1, value));
        }
        self.entries.push((id, value));
        None
    }

    /// The value of `id`, if present.
    pub fn get(&self, id: AnnotationId) -> Option<&Bytes> {
        self.entries.iter().find(|(k, _)| *k == id).map(|(_, v)| v)
    }

    /// Whether `id` is present.
    pub fn contains(&self, id: AnnotationId) -> bool {
        self.entries.iter().any(|(k, _)| *k == id)
    }

    /// Remove `id`, returning its value.
    pub fn remove(&mut self, id: AnnotationId) -> Option<Bytes> {
        let pos = self.entries.iter().position(|(k, _)| *k == id)?;
        Some(self.entries.remove(pos).1)
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (AnnotationId, &Bytes)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes these annotations take on the wire (6 + value length each),
    /// without an HMAC the encoder may add.
    pub fn wire_size(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, v)| CHUNK_HEADER_SIZE + v.len())
            .sum()
    }

    /// Split the annotation area of a received frame into chunks, validating
    /// every bound: a chunk header cut short, a value running past the area,
    /// or a non-ASCII id is an error. A repeated id keeps its first position
    /// and takes the last value (Python dict semantics).
    ///
    /// `area` must be exactly the header's `annotations_length` bytes.
    pub fn parse(area: &Bytes) -> Result<Annotations, FrameError> {
        let total = area.len();
        let mut out = Annotations::new();
        let mut offset = 0;
        while offset < total {
            if total - offset < CHUNK_HEADER_SIZE {
                return Err(FrameError::AnnotationTruncated { offset, total });
            }
            let raw_id = [
                area[offset],
                area[offset + 1],
                area[offset + 2],
                area[offset + 3],
            ];
            let length = usize::from(u16::from_be_bytes([area[offset + 4], area[offset + 5]]));
            let start = offset + CHUNK_HEADER_SIZE;
            let available = total - start;
            if length > available {
                return Err(FrameError::AnnotationOverrun {
                    id: raw_id,
                    offset,
                    length,
                    available,
                });
            }
            let id = AnnotationId::from_bytes(raw_id)?;
            out.insert(id, area.slice(start..start + length));
            offset = start + length;
        }
        Ok(out)
    }
}

impl core::fmt::Debug for Annotations {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl FromIterator<(AnnotationId, Bytes)> for Annotations {
    fn from_iter<T: IntoIterator<Item = (AnnotationId, Bytes)>>(iter: T) -> Self {
        let mut out = Annotations::new();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out
    }
}
