//! zlib compression of payloads (section 2.7), via `miniz_oxide` (no_std).

use alloc::format;
use alloc::vec::Vec;
use miniz_oxide::inflate::TINFLStatus;

use super::FrameError;

/// Payloads shorter than this are never compressed (Pyro4's rule).
pub const COMPRESSION_THRESHOLD: usize = 200;

/// zlib level Pyro4 gets from `zlib.compress` (the default, 6).
pub const COMPRESSION_LEVEL: u8 = 6;

/// Pyro4's sender rule: compress a payload of at least 200 bytes with zlib and
/// use the result only if it is strictly smaller. Returns `None` when the
/// payload is to be sent as it is.
///
/// The zlib stream is well-formed (header `78 9c`, adler32 trailer) and any
/// zlib reader accepts it; the deflate body from miniz_oxide may differ from
/// CPython's zlib at the same level for some inputs (the receiver does not
/// care; see the unit tests for what is byte-identical).
pub fn compress_payload(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < COMPRESSION_THRESHOLD {
        return None;
    }
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(data, COMPRESSION_LEVEL);
    (compressed.len() < data.len()).then_some(compressed)
}

/// Inflate a COMPRESSED payload, refusing to produce more than `limit` bytes
/// ([`FrameError::DecompressedTooLarge`]): a zip bomb costs at most `limit`
/// bytes of output (miniz_oxide grows its buffer by doubling, so the memory
/// peak stays below about 3 x `limit`). A damaged stream is
/// [`FrameError::Decompress`].
pub fn decompress_payload(data: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, limit).map_err(|e| {
        if e.status == TINFLStatus::HasMoreOutput {
            FrameError::DecompressedTooLarge { limit }
        } else {
            FrameError::Decompress(format!("{e}"))
        }
    })
}
