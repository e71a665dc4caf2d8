//! Incremental, Sans-IO message decoder.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

use super::annotations::Annotations;
use super::header::{ExpectedTypes, Header, MessageType, HEADER_SIZE};
use super::sign::{verify_with, HmacKey};
use super::{FrameError, Message};

/// Turns received bytes, split in any way, into [`Message`]s.
///
/// Feed bytes with [`receive`](Self::receive) (copies) or
/// [`receive_bytes`](Self::receive_bytes) (zero-copy for whole frames), then
/// drain [`next_message`](Self::next_message) until it returns `Ok(None)`.
///
/// Every header is checked as soon as its 24 bytes are in, in the order of
/// Pyro4's `Message.recv`: tag and version, checksum, (negative data length),
/// `max_message_size`, expected message type; the body (annotations, then
/// payload) is buffered only after that, and only as its bytes arrive: a
/// declared length never causes an allocation by itself. When the frame is
/// complete, its annotation chunks are validated and, if the decoder has an
/// HMAC key (or the frame has an HMAC), the HMAC is verified.
///
/// Any error is fatal: messages completed before it are still handed out,
/// then `next_message` returns the error, now and on every later call; further
/// input is ignored. The connection should be dropped.
pub struct Decoder {
    expected: ExpectedTypes,
    max_message_size: Option<usize>,
    hmac_key: Option<HmacKey>,
    check_hmac: bool,
    /// Bytes of the frame in progress (never more than one frame). Its
    /// allocation is kept across frames: once the previous frame's `Bytes`
    /// are dropped, the next frame reuses it (no fresh pages per frame).
    buf: BytesMut,
    /// Size of the last frame assembled in `buf`: how much of its
    /// allocation to try to take back when the next frame starts.
    last_frame: usize,
    /// The checked header of the frame in progress, once its 24 bytes are in.
    header: Option<Header>,
    ready: VecDeque<Message>,
    error: Option<FrameError>,
}

impl core::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decoder")
            .field("expected", &self.expected)
            .field("max_message_size", &self.max_message_size)
            .field("hmac_key", &self.hmac_key)
            .field("buffered", &self.buf.len())
            .field("ready", &self.ready.len())
            .field("error", &self.error)
            .finish()
    }
}

impl Decoder {
    /// A decoder accepting the `expected` message types
    /// ([`ExpectedTypes::DAEMON`] or [`ExpectedTypes::CLIENT`] for the two
    /// roles), with no size limit and no HMAC key.
    pub fn new(expected: ExpectedTypes) -> Decoder {
        Decoder {
            expected,
            max_message_size: None,
            hmac_key: None,
            check_hmac: true,
            buf: BytesMut::new(),
            last_frame: 0,
            header: None,
            ready: VecDeque::new(),
            error: None,
        }
    }

    /// Refuse frames whose declared data + annotations exceed `max` bytes,
    /// right after their header (`None` or `Some(0)`: no limit, like Pyro4's
    /// `MAX_MESSAGE_SIZE = 0`).
    pub fn with_max_message_size(mut self, max: Option<usize>) -> Decoder {
        self.max_message_size = max.filter(|m| *m > 0);
        self
    }

    /// Verify every frame's HMAC with `key`; frames without one are then
    /// refused (an empty key means no key, as in Pyro4).
    pub fn with_hmac_key(mut self, key: impl AsRef<[u8]>) -> Decoder {
        self.hmac_key = HmacKey::new(key.as_ref());
        self
    }

    /// Leave HMAC verification to the caller (no key is checked, and a frame
    /// carrying an `HMAC` annotation is not refused): a Python proxy treats a
    /// bad HMAC on a result as an error of that call and keeps its
    /// connection, which a decoder that fails for good cannot do.
    pub fn without_hmac_check(mut self) -> Decoder {
        self.hmac_key = None;
        self.check_hmac = false;
        self
    }

    /// Change the accepted message types (e.g. CONNECT only before the
    /// handshake). Headers already checked keep the verdict they got.
    pub fn set_expected(&mut self, expected: ExpectedTypes) {
        self.expected = expected;
    }

    /// The accepted message types.
    pub fn expected(&self) -> ExpectedTypes {
        self.expected
    }

    /// Feed received bytes; they are copied into the decoder's buffer as far
    /// as the frame in progress needs them.
    pub fn receive(&mut self, mut input: &[u8]) {
        while !input.is_empty() && self.error.is_none() {
            let used = self.fill(input);
            input = &input[used..];
        }
    }

    /// Feed received bytes without copying whole frames: when nothing is
    /// buffered and a whole frame is in `chunk`, the message's payload and
    /// annotation values are slices of `chunk`. Partial frames are copied.
    ///
    /// A message sliced out of `chunk` keeps the whole chunk's memory alive
    /// while it lives; copy a small payload out (`Bytes::copy_from_slice`) if
    /// it is to be kept long after a large read buffer.
    pub fn receive_bytes(&mut self, mut chunk: Bytes) {
        while !chunk.is_empty() && self.error.is_none() {
            if self.header.is_none() && self.buf.is_empty() && chunk.len() >= HEADER_SIZE {
                let mut raw = [0u8; HEADER_SIZE];
                raw.copy_from_slice(&chunk[..HEADER_SIZE]);
                let header = match self.check_header(&raw) {
                    Ok(h) => h,
                    Err(e) => return self.fail(e),
                };
                let total = HEADER_SIZE + header.body_length();
                if chunk.len() >= total {
                    let frame = chunk.split_to(total);
                    self.complete(frame, header);
                    continue;
                }
            }
            let used = self.fill(&chunk);
            chunk.advance(used);
        }
    }

    /// The next complete message; `Ok(None)` when more bytes are needed;
    /// the decoder's error (again and again) once it has failed and every
    /// message before the failure has been handed out.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        match self.ready.pop_front() {
            Some(msg) => Ok(Some(msg)),
            None => match &self.error {
                Some(e) => Err(e.clone()),
                None => Ok(None),
            },
        }
    }

    /// Tell the decoder the peer closed the connection: an unfinished frame
    /// is [`FrameError::Truncated`] (Pyro4's "receiving: not enough data").
    /// Messages completed earlier can still be taken with `next_message`.
    pub fn end_of_stream(&mut self) -> Result<(), FrameError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.buf.is_empty() {
            let e = FrameError::Truncated {
                buffered: self.buf.len(),
            };
            self.fail(e.clone());
            return Err(e);
        }
        Ok(())
    }

    /// Bytes of an unfinished frame held in the buffer.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the decoder has failed (see [`next_message`](Self::next_message)).
    pub fn is_failed(&self) -> bool {
        self.error.is_some()
    }

    /// The error the decoder failed with, if any.
    pub fn error(&self) -> Option<&FrameError> {
        self.error.as_ref()
    }

    fn fail(&mut self, e: FrameError) {
        self.error = Some(e);
        self.header = None;
        self.buf = BytesMut::new();
    }

    /// Header checks in Pyro4's order (tag/version, checksum and the negative
    /// length are in `Header::parse`).
    fn check_header(&self, raw: &[u8; HEADER_SIZE]) -> Result<Header, FrameError> {
        let header = Header::parse(raw)?;
        if let Some(max) = self.max_message_size {
            let size = header.body_length();
            if size > max {
                return Err(FrameError::MessageTooLarge {
                    size: size as u64,
                    max: max as u64,
                });
            }
        }
        if !self.expected.accepts(header.msg_type) {
            return Err(FrameError::InvalidMessageType(header.msg_type));
        }
        Ok(header)
    }

    /// Copy as much of `input` as the frame in progress needs; returns the
    /// number of bytes used. Completes the frame when it is whole.
    fn fill(&mut self, input: &[u8]) -> usize {
        let mut used = 0;
        let header = match self.header {
            Some(h) => h,
            None => {
                if self.buf.is_empty() && self.last_frame > 0 {
                    // Take back the allocation of the previous frame if its
                    // bytes are gone (never allocates; a frame still held by
                    // the caller just means a new buffer, as before).
                    let _ = self.buf.try_reclaim(self.last_frame);
                }
                let take = (HEADER_SIZE - self.buf.len()).min(input.len());
                self.buf.extend_from_slice(&input[..take]);
                used = take;
                if self.buf.len() < HEADER_SIZE {
                    return used;
                }
                let mut raw = [0u8; HEADER_SIZE];
                raw.copy_from_slice(&self.buf[..HEADER_SIZE]);
                match self.check_header(&raw) {
                    Ok(h) => {
                        self.header = Some(h);
                        h
                    }
                    Err(e) => {
                        self.fail(e);
                        return input.len();
                    }
                }
            }
        };
        let total = HEADER_SIZE + header.body_length();
        let take = (total - self.buf.len()).min(input.len() - used);
        if self.buf.capacity() - self.buf.len() < take {
            // Grow by doubling what has arrived, never beyond the declared
            // total: the allocation stays within twice the bytes received.
            let grow = take.max(self.buf.len()).min(total - self.buf.len());
            self.buf.reserve(grow);
        }
        self.buf.extend_from_slice(&input[used..used + take]);
        used += take;
        if self.buf.len() == total {
            self.header = None;
            self.last_frame = total;
            let frame = self.buf.split().freeze();
            self.complete(frame, header);
        }
        used
    }

    /// A whole frame is in: split the annotations, verify the HMAC, queue it.
    fn complete(&mut self, mut frame: Bytes, header: Header) {
        frame.advance(HEADER_SIZE);
        let annotations = if header.annotations_length == 0 {
            Annotations::new()
        } else {
            let area = frame.split_to(usize::from(header.annotations_length));
            match Annotations::parse(&area) {
                Ok(a) => a,
                Err(e) => return self.fail(e),
            }
        };
        let data = frame;
        if self.check_hmac {
            if let Err(e) = verify_with(self.hmac_key.as_ref(), &data, &annotations) {
                return self.fail(e);
            }
        }
        self.ready.push_back(Message {
            msg_type: MessageType::from_code(header.msg_type),
            flags: header.flags,
            seq: header.seq,
            serializer_id: header.serializer_id,
            annotations,
            data,
        });
    }
}
