//! The fixed 24-byte message header: message types, flags, checksum.

use super::FrameError;

/// Size of the fixed header in bytes.
pub const HEADER_SIZE: usize = 24;
/// Wire protocol version of Pyro4 4.82.
pub const PROTOCOL_VERSION: u16 = 48;
/// The tag every header starts with.
pub const TAG: [u8; 4] = *b"PYRO";
/// Added to the sum of the header fields to form the checksum.
pub const CHECKSUM_MAGIC: u16 = 0x34E9;
/// Largest payload a header can declare (the data length is a signed i32).
pub const MAX_DATA_LENGTH: usize = 0x7fff_ffff;
/// Largest total of all annotation chunks (the header field is a u16).
pub const MAX_ANNOTATIONS_LENGTH: usize = 0xffff;
/// Serializer id Pyro4 puts in a PING message (it is not a serializer).
pub const PING_SERIALIZER_ID: u16 = 42;

/// The message types of protocol 48.
///
/// Only 1..=6 exist; [`MessageType::Other`] carries any other value so that a
/// decoder accepting every type (like Pyro4's `Message.recv` without required
/// types) can still represent and re-encode what it read. Build values with
/// [`MessageType::from_code`], which never yields `Other` for 1..=6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Client -> daemon handshake.
    Connect,
    /// Daemon -> client: handshake accepted.
    ConnectOk,
    /// Daemon -> client: handshake refused (payload: error string).
    ConnectFail,
    /// Client -> daemon method call.
    Invoke,
    /// Daemon -> client call result (or exception).
    Result,
    /// Either direction: liveness check, payload ignored.
    Ping,
    /// A type number protocol 48 does not define.
    Other(u16),
}

impl MessageType {
    /// The type for a header's type field.
    pub const fn from_code(code: u16) -> MessageType {
        match code {
            1 => MessageType::Connect,
            2 => MessageType::ConnectOk,
            3 => MessageType::ConnectFail,
            4 => MessageType::Invoke,
            5 => MessageType::Result,
            6 => MessageType::Ping,
            other => MessageType::Other(other),
        }
    }

    /// The number written into the header.
    pub const fn code(self) -> u16 {
        match self {
            MessageType::Connect => 1,
            MessageType::ConnectOk => 2,
            MessageType::ConnectFail => 3,
            MessageType::Invoke => 4,
            MessageType::Result => 5,
            MessageType::Ping => 6,
            MessageType::Other(code) => code,
        }
    }
}

impl From<u16> for MessageType {
    fn from(code: u16) -> Self {
        MessageType::from_code(code)
    }
}

impl From<MessageType> for u16 {
    fn from(t: MessageType) -> u16 {
        t.code()
    }
}

/// Which message types a receiver accepts (Pyro4's `requiredMsgTypes`).
///
/// A message of any other type is rejected with
/// [`FrameError::InvalidMessageType`] right after its header, before its
/// body is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExpectedTypes(u8);

impl ExpectedTypes {
    const ANY_BIT: u8 = 0x80;

    /// Every type, including numbers protocol 48 does not define (Pyro4's
    /// `requiredMsgTypes=None`).
    pub const ANY: ExpectedTypes = ExpectedTypes(0xff);
    /// What a daemon can receive at all: CONNECT, INVOKE, PING.
    pub const DAEMON: ExpectedTypes =
        ExpectedTypes::of(&[MessageType::Connect, MessageType::Invoke, MessageType::Ping]);
    /// What a client can receive at all: CONNECTOK, CONNECTFAIL, RESULT, PING.
    pub const CLIENT: ExpectedTypes = ExpectedTypes::of(&[
        MessageType::ConnectOk,
        MessageType::ConnectFail,
        MessageType::Result,
        MessageType::Ping,
    ]);
    /// Nothing: every message is rejected.
    pub const NONE: ExpectedTypes = ExpectedTypes(0);

    /// Exactly the given types (`Other` entries are ignored; use [`ANY`](Self::ANY)
    /// to accept undefined types).
    pub const fn of(types: &[MessageType]) -> ExpectedTypes {
        let mut mask = 0u8;
        let mut i = 0;
        while i < types.len() {
            let code = types[i].code();
            if code >= 1 && code <= 6 {
                mask |= 1 << code;
            }
            i += 1;
        }
        ExpectedTypes(mask)
    }

    /// Whether a header's type number is accepted.
    pub const fn accepts(self, code: u16) -> bool {
        if self.0 & Self::ANY_BIT != 0 {
            return true;
        }
        code >= 1 && code <= 6 && self.0 & (1 << code) != 0
    }
}

/// Header flag bits (section 2.4). Unknown bits are kept as they are: Pyro4
/// ignores them on receipt and they take part in the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// No flag set.
    pub const NONE: Flags = Flags(0);
    /// RESULT payload is an exception to raise in the caller.
    pub const EXCEPTION: Flags = Flags(0x0001);
    /// The payload is a zlib stream.
    pub const COMPRESSED: Flags = Flags(0x0002);
    /// INVOKE needs no reply.
    pub const ONEWAY: Flags = Flags(0x0004);
    /// INVOKE is a batch / RESULT is a batch result list.
    pub const BATCH: Flags = Flags(0x0008);
    /// CONNECT asks for metadata / CONNECTOK carries it.
    pub const META_ON_CONNECT: Flags = Flags(0x0010);
    /// RESULT: the call returned an iterator (stream id in `STRM`).
    pub const ITEMSTREAMRESULT: Flags = Flags(0x0020);
    /// INVOKE carries a SerializedBlob (annotation `BLBI`).
    pub const KEEPSERIALIZED: Flags = Flags(0x0040);

    /// The raw bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the bits of `other`.
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// Clear the bits of `other`.
    pub fn remove(&mut self, other: Flags) {
        self.0 &= !other.0;
    }

    /// These flags with the bits of `other` set.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

/// The checksum Pyro4 puts in a header: the sum of the seven fields (type,
/// version, data length, annotations length, serializer id, flags, seq) plus
/// 0x34E9, modulo 2^16. The data length enters as its raw 32-bit value (a
/// negative i32 gives the same result as in Python's arbitrary-precision sum).
pub const fn checksum(
    msg_type: u16,
    version: u16,
    data_length: u32,
    annotations_length: u16,
    serializer_id: u16,
    flags: u16,
    seq: u16,
) -> u16 {
    let sum = (msg_type as u32)
        .wrapping_add(version as u32)
        .wrapping_add(data_length)
        .wrapping_add(annotations_length as u32)
        .wrapping_add(serializer_id as u32)
        .wrapping_add(flags as u32)
        .wrapping_add(seq as u32)
        .wrapping_add(CHECKSUM_MAGIC as u32);
    (sum & 0xffff) as u16
}

/// A parsed and validated 24-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type number (validated against the expected set by the decoder).
    pub msg_type: u16,
    /// Flag bits.
    pub flags: Flags,
    /// Sequence number.
    pub seq: u16,
    /// Payload length (never negative once parsed).
    pub data_length: u32,
    /// Serializer id.
    pub serializer_id: u16,
    /// Total length of the annotation chunks.
    pub annotations_length: u16,
}

impl Header {
    /// Parse and check a header the way Pyro4's `Message.from_header` does:
    /// tag and version first, then the checksum; then (unlike Pyro4, which
    /// would misbehave) a negative data length is refused. The reserved
    /// field is ignored.
    pub fn parse(bytes: &[u8; HEADER_SIZE]) -> Result<Header, FrameError> {
        let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let tag = [bytes[0], bytes[1], bytes[2], bytes[3]];
        let version = be16(4);
        if tag != TAG || version != PROTOCOL_VERSION {
            return Err(FrameError::InvalidHeader { tag, version });
        }
        let msg_type = be16(6);
        let flags = be16(8);
        let seq = be16(10);
        let data_length = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let serializer_id = be16(16);
        let annotations_length = be16(18);
        let found = be16(22);
        let expected = checksum(
            msg_type,
            version,
            data_length,
            annotations_length,
            serializer_id,
            flags,
            seq,
        );
        if found != expected {
            return Err(FrameError::ChecksumMismatch { found, expected });
        }
        if data_length as usize > MAX_DATA_LENGTH {
            return Err(FrameError::InvalidDataLength {
                length: i64::from(data_length as i32),
            });
        }
        Ok(Header {
            msg_type,
            flags: Flags(flags),
            seq,
            data_length,
            serializer_id,
            annotations_length,
        })
    }

    /// The header bytes for these fields (version 48, reserved 0, checksum computed).
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[0..4].copy_from_slice(&TAG);
        out[4..6].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        out[6..8].copy_from_slice(&self.msg_type.to_be_bytes());
        out[8..10].copy_from_slice(&self.flags.0.to_be_bytes());
        out[10..12].copy_from_slice(&self.seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.data_length.to_be_bytes());
        out[16..18].copy_from_slice(&self.serializer_id.to_be_bytes());
        out[18..20].copy_from_slice(&self.annotations_length.to_be_bytes());
        // 20..22 reserved, always 0.
        let sum = checksum(
            self.msg_type,
            PROTOCOL_VERSION,
            self.data_length,
            self.annotations_length,
            self.serializer_id,
            self.flags.0,
            self.seq,
        );
        out[22..24].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Bytes following the header: annotations plus payload.
    pub const fn body_length(&self) -> usize {
        self.annotations_length as usize + self.data_length as usize
    }
}
