//! The one error type of the framing layer.

use alloc::string::String;

/// Everything that can go wrong while framing or unframing a Pyro4 message.
///
/// Where Pyro4 4.82 raises an error for the same condition, the `Display`
/// text is Pyro4's own (so a daemon can send it back in a CONNECTFAIL exactly
/// as Python would). Any error reported by a [`Decoder`](super::Decoder) is
/// fatal for the connection: the byte stream can no longer be trusted to be
/// in sync, so the decoder stays failed and the connection should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The header does not start with `PYRO` or names another protocol
    /// version than 48 (Pyro4's `ProtocolError`).
    #[error("invalid data or unsupported protocol version")]
    InvalidHeader {
        /// The 4-byte tag found (should be `PYRO`).
        tag: [u8; 4],
        /// The protocol version found (should be 48).
        version: u16,
    },
    /// The header checksum does not match its fields (Pyro4's `ProtocolError`).
    #[error("header checksum mismatch")]
    ChecksumMismatch {
        /// The checksum in the header.
        found: u16,
        /// The checksum computed from the header fields.
        expected: u16,
    },
    /// The header declares a negative data length (receiving), or a payload
    /// longer than 0x7fffffff bytes was to be sent (Pyro4's `ValueError`).
    #[error("invalid message size (outside range 0..2Gb)")]
    InvalidDataLength {
        /// The offending length.
        length: i64,
    },
    /// `data length + annotations length` exceeds the configured maximum
    /// (Pyro4's `MessageTooLargeError`). On receipt the connection must be
    /// closed: no reply can be sent.
    #[error("max message size exceeded ({size} where max={max})")]
    MessageTooLarge {
        /// Declared (or, when sending, actual) data + annotations size.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A message type that is not acceptable for this role / state
    /// (Pyro4's `ProtocolError`).
    #[error("invalid msg type {0} received")]
    InvalidMessageType(u16),
    /// An annotation id that is not 4 characters long (Pyro4's `ProtocolError`).
    #[error("annotation key must be of length 4")]
    AnnotationKeyLength,
    /// An annotation id with a byte outside ASCII (Pyro4 fails to decode it).
    #[error("annotation key must be 4 ASCII characters, got {0:02x?}")]
    AnnotationKeyNotAscii([u8; 4]),
    /// The annotations to send add up to more than 65535 bytes, which the
    /// header's u16 `annotations length` cannot express.
    #[error("annotations too large: {size} bytes in chunks, at most 65535 fit in a message")]
    AnnotationsTooLarge {
        /// Total size of all annotation chunks (6 bytes + value each).
        size: usize,
    },
    /// The annotation area ends in the middle of a chunk header.
    #[error("annotation chunk header truncated at offset {offset} of {total} annotation bytes")]
    AnnotationTruncated {
        /// Offset of the chunk inside the annotation area.
        offset: usize,
        /// The header's annotations length.
        total: usize,
    },
    /// An annotation chunk's value runs past the header's annotations length.
    #[error(
        "annotation '{}' at offset {offset} declares {length} bytes but only {available} remain",
        AsciiId(.id)
    )]
    AnnotationOverrun {
        /// The chunk's id.
        id: [u8; 4],
        /// Offset of the chunk inside the annotation area.
        offset: usize,
        /// The chunk's declared value length.
        length: usize,
        /// Bytes left in the annotation area after the chunk header.
        available: usize,
    },
    /// The message carries an HMAC that does not match our key (Pyro4's `SecurityError`).
    #[error("message hmac mismatch")]
    HmacMismatch,
    /// We have an HMAC key but the message carries no HMAC (Pyro4's `SecurityError`).
    #[error("hmac key config not symmetric")]
    HmacMissing,
    /// The message carries an HMAC but we have no key (Pyro4's `SecurityError`).
    #[error("hmac key config not symmetric")]
    HmacUnexpected,
    /// The COMPRESSED payload is not a valid zlib stream.
    #[error("invalid compressed payload: {0}")]
    Decompress(String),
    /// The COMPRESSED payload inflates to more than the caller's limit
    /// (a zip bomb, or a limit set too low).
    #[error("decompressed payload exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The caller-given cap on the decompressed size.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a message
    /// (Pyro4's `ConnectionClosedError`).
    #[error("receiving: not enough data")]
    Truncated {
        /// Bytes of the unfinished message that had arrived.
        buffered: usize,
    },
}

/// Displays a 4-byte id as text when it is printable ASCII, else as hex.
struct AsciiId<'a>(&'a [u8; 4]);

impl core::fmt::Display for AsciiId<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            for b in self.0 {
                write!(f, "{}", *b as char)?;
            }
            Ok(())
        } else {
            write!(f, "{:02x?}", self.0)
        }
    }
}
