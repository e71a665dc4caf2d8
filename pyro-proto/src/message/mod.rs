//! Pyro4 wire framing (protocol 48): header, checksum, annotations, HMAC,
//! zlib, size limits.
//!
//! A message on the wire is a 24-byte big-endian [`Header`], then the
//! annotation chunks ([`Annotations`]), then the payload. This module turns
//! [`Message`] values into frames that are byte-identical to what Pyro4 4.82's
//! `Message.to_bytes()` produces ([`Message::encode`], [`Encoder`]), and bytes
//! arriving in any split back into messages ([`Decoder`]), with Pyro4's
//! checks in Pyro4's order and Pyro4's error texts ([`FrameError`]).
//!
//! Payloads are opaque here: serialization is the `serialize` module's job,
//! and decompression happens when the caller asks for it
//! ([`Message::decompress`]), as in Pyro4.
//!
//! ```
//! use pyro_proto::message::{Decoder, ExpectedTypes, Message, MessageType};
//!
//! let key = b"secret";
//! let call = Message::new(MessageType::Invoke, 1, &b"payload"[..]).with_seq(7);
//! let frame = call.encode(Some(key)).unwrap();
//!
//! let mut decoder = Decoder::new(ExpectedTypes::DAEMON).with_hmac_key(key);
//! for byte in &frame {
//!     decoder.receive(core::slice::from_ref(byte)); // any split works
//! }
//! let got = decoder.next_message().unwrap().unwrap();
//! assert_eq!((got.msg_type, got.seq, &got.data[..]), (MessageType::Invoke, 7, &b"payload"[..]));
//! ```

use alloc::vec::Vec;

mod annotations;
mod compress;
mod decoder;
mod error;
mod header;
mod sign;

#[cfg(test)]
mod tests;

pub use annotations::{AnnotationId, Annotations, CHUNK_HEADER_SIZE};
pub use compress::{
    compress_payload, decompress_payload, COMPRESSION_LEVEL, COMPRESSION_THRESHOLD,
};
pub use decoder::Decoder;
pub use error::FrameError;
pub use header::{
    checksum, ExpectedTypes, Flags, Header, MessageType, CHECKSUM_MAGIC, HEADER_SIZE,
    MAX_ANNOTATIONS_LENGTH, MAX_DATA_LENGTH, PING_SERIALIZER_ID, PROTOCOL_VERSION, TAG,
};
pub use sign::{compute_hmac, verify_hmac, verify_with, HmacKey, HMAC_SIZE};

/// The shared byte buffer payloads and annotation values are held in
/// (re-exported so users need not depend on `bytes` themselves).
pub use bytes::Bytes;

/// One Pyro4 message: header fields, annotations and payload.
///
/// `data` is the payload as on the wire: compressed when `flags` contains
/// [`Flags::COMPRESSED`] (see [`Message::decompress`]). A received message's
/// `annotations` include the `HMAC` chunk if the frame had one; when encoding
/// with a key, any `HMAC` entry is replaced by a freshly computed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub msg_type: MessageType,
    /// Flag bits (unknown bits are kept and sent as they are).
    pub flags: Flags,
    /// Sequence number (the daemon echoes the request's).
    pub seq: u16,
    /// Serializer id of the payload (42 for PING).
    pub serializer_id: u16,
    /// Annotations in wire order.
    pub annotations: Annotations,
    /// Payload bytes as on the wire.
    pub data: Bytes,
}

impl Message {
    /// A message with flags 0, seq 0 and no annotations.
    pub fn new(msg_type: MessageType, serializer_id: u16, data: impl Into<Bytes>) -> Message {
        Message {
            msg_type,
            flags: Flags::NONE,
            seq: 0,
            serializer_id,
            annotations: Annotations::new(),
            data: data.into(),
        }
    }

    /// The PING Pyro4's `Message.ping` sends: seq 0, serializer id 42, payload `ping`.
    pub fn ping() -> Message {
        Message::new(MessageType::Ping, PING_SERIALIZER_ID, &b"ping"[..])
    }

    /// This message with `flags`.
    pub fn with_flags(mut self, flags: Flags) -> Message {
        self.flags = flags;
        self
    }

    /// This message with sequence number `seq`.
    pub fn with_seq(mut self, seq: u16) -> Message {
        self.seq = seq;
        self
    }

    /// This message with annotation `id` set to `value` (see [`Annotations::insert`]).
    pub fn with_annotation(mut self, id: AnnotationId, value: impl Into<Bytes>) -> Message {
        self.annotations.insert(id, value);
        self
    }

    /// The frame Pyro4 would send for this message, signed with `hmac_key` if
    /// given (an empty key counts as none). No size limit is applied; use an
    /// [`Encoder`] for `max_message_size`.
    pub fn encode(&self, hmac_key: Option<&[u8]>) -> Result<Vec<u8>, FrameError> {
        let key = hmac_key.and_then(HmacKey::new);
        let mut out = Vec::new();
        encode_into(self, &self.data, key.as_ref(), None, &mut out, true)?;
        Ok(out)
    }

    /// Check the `HMAC` annotation against `hmac_key` as Pyro4's receiver
    /// does (see [`verify_hmac`]). The decoder already does this when it has a key.
    pub fn verify_hmac(&self, hmac_key: Option<&[u8]>) -> Result<(), FrameError> {
        verify_hmac(hmac_key, &self.data, &self.annotations)
    }

    /// Apply Pyro4's sender-side compression rule (payload of at least 200
    /// bytes, compressed only if strictly smaller): on success the payload is
    /// replaced by its zlib stream, [`Flags::COMPRESSED`] is set and `true` is
    /// returned. A message already flagged COMPRESSED is left alone.
    pub fn compress(&mut self) -> bool {
        if self.flags.contains(Flags::COMPRESSED) {
            return false;
        }
        match compress_payload(&self.data) {
            Some(z) => {
                self.data = Bytes::from(z);
                self.flags.insert(Flags::COMPRESSED);
                true
            }
            None => false,
        }
    }

    /// If [`Flags::COMPRESSED`] is set, inflate the payload (at most `limit`
    /// bytes, else [`FrameError::DecompressedTooLarge`]) and clear the flag,
    /// like Pyro4's `decompress_if_needed`. Verify the HMAC first: it covers
    /// the compressed bytes.
    pub fn decompress(&mut self, limit: usize) -> Result<(), FrameError> {
        if self.flags.contains(Flags::COMPRESSED) {
            self.data = Bytes::from(decompress_payload(&self.data, limit)?);
            self.flags.remove(Flags::COMPRESSED);
        }
        Ok(())
    }
}

/// Encodes messages with a fixed configuration: an optional HMAC key and an
/// optional `max_message_size` (Pyro4's `MAX_MESSAGE_SIZE`, checked on
/// data + annotations like Pyro4's `Message` constructor).
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    hmac_key: Option<HmacKey>,
    max_message_size: Option<usize>,
}

impl Encoder {
    /// No key, no size limit.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Sign every message with `key` (an empty key means no signing, as in Pyro4).
    pub fn with_hmac_key(mut self, key: impl AsRef<[u8]>) -> Encoder {
        self.hmac_key = HmacKey::new(key.as_ref());
        self
    }

    /// Refuse messages whose data + annotations exceed `max` bytes
    /// (`None` or `Some(0)`: no limit, like Pyro4's default of 0).
    pub fn with_max_message_size(mut self, max: Option<usize>) -> Encoder {
        self.max_message_size = max.filter(|m| *m > 0);
        self
    }

    /// The whole frame for `msg`.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        self.encode_into(msg, &mut out)?;
        Ok(out)
    }

    /// Append the whole frame for `msg` to `out` (nothing is appended on error).
    pub fn encode_into(&self, msg: &Message, out: &mut Vec<u8>) -> Result<(), FrameError> {
        encode_into(
            msg,
            &msg.data,
            self.hmac_key.as_ref(),
            self.max_message_size,
            out,
            true,
        )
    }

    /// Header and annotations only: write these, then `msg.data`, to send a
    /// large payload without copying it into one buffer (vectored write).
    pub fn encode_head(&self, msg: &Message) -> Result<Vec<u8>, FrameError> {
        self.encode_head_with(msg, &msg.data)
    }

    /// [`encode_into`](Self::encode_into) for a message whose payload is
    /// `data`, held outside the message (`msg.data` is not used): a session
    /// serializes into a buffer it reuses and frames from there, without a
    /// `Bytes` of its own per payload.
    pub(crate) fn encode_with_into(
        &self,
        msg: &Message,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        encode_into(
            msg,
            data,
            self.hmac_key.as_ref(),
            self.max_message_size,
            out,
            true,
        )
    }

    /// [`encode_head`](Self::encode_head) for a payload `data` held outside
    /// the message (`msg.data` is not used; see [`encode_with_into`](Self::encode_with_into)).
    pub(crate) fn encode_head_with(
        &self,
        msg: &Message,
        data: &[u8],
    ) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        encode_into(
            msg,
            data,
            self.hmac_key.as_ref(),
            self.max_message_size,
            &mut out,
            false,
        )?;
        Ok(out)
    }
}

fn push_chunk(out: &mut Vec<u8>, id: AnnotationId, value: &[u8]) {
    out.extend_from_slice(id.as_bytes());
    // Lengths were checked against the u16 total before writing.
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

/// The frame of `msg` with payload `data` (`msg.data` itself is not read).
fn encode_into(
    msg: &Message,
    data: &[u8],
    hmac_key: Option<&HmacKey>,
    max_message_size: Option<usize>,
    out: &mut Vec<u8>,
    with_data: bool,
) -> Result<(), FrameError> {
    let data_length = data.len();
    if data_length > MAX_DATA_LENGTH {
        return Err(FrameError::InvalidDataLength {
            length: data_length as i64,
        });
    }
    let stale_hmac = msg
        .annotations
        .get(AnnotationId::HMAC)
        .map(|v| CHUNK_HEADER_SIZE + v.len());
    let others = msg.annotations.wire_size() - stale_hmac.unwrap_or(0);
    // With a key, any HMAC entry is replaced by a fresh digest; without one,
    // an HMAC entry the caller put there is written as it is (last).
    let annotations_length = others
        + match hmac_key {
            Some(_) => CHUNK_HEADER_SIZE + HMAC_SIZE,
            None => stale_hmac.unwrap_or(0),
        };
    if annotations_length > MAX_ANNOTATIONS_LENGTH {
        return Err(FrameError::AnnotationsTooLarge {
            size: annotations_length,
        });
    }
    if let Some(max) = max_message_size.filter(|m| *m > 0) {
        let size = data_length + annotations_length;
        if size > max {
            return Err(FrameError::MessageTooLarge {
                size: size as u64,
                max: max as u64,
            });
        }
    }
    let header = Header {
        msg_type: msg.msg_type.code(),
        flags: msg.flags,
        seq: msg.seq,
        data_length: data_length as u32,
        serializer_id: msg.serializer_id,
        annotations_length: annotations_length as u16,
    };
    let total = HEADER_SIZE + annotations_length + if with_data { data_length } else { 0 };
    out.reserve(total);
    out.extend_from_slice(&header.to_bytes());
    for (id, value) in msg.annotations.iter() {
        if id != AnnotationId::HMAC {
            push_chunk(out, id, value);
        }
    }
    match hmac_key {
        Some(key) => {
            let digest = key.compute(data, &msg.annotations);
            push_chunk(out, AnnotationId::HMAC, &digest);
        }
        None => {
            if let Some(value) = msg.annotations.get(AnnotationId::HMAC) {
                push_chunk(out, AnnotationId::HMAC, value);
            }
        }
    }
    if with_data {
        out.extend_from_slice(data);
    }
    Ok(())
}
