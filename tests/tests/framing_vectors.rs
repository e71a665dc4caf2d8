//! The framing module against every captured Pyro4 4.82 vector.
//!
//! * every `MSG` line of `unit_message_framing.txt` is built from the fields
//!   its comment describes and must encode to exactly those bytes, and decode
//!   back to exactly that message;
//! * every `C2S`/`S2C` line of every file decodes with the receiving role's
//!   message types, passes the checksum and the HMAC check (keys from
//!   `tests/vectors/README.md`), and re-encodes to identical bytes; the
//!   negative vectors give the typed error whose text the daemon sent back.

use pyro_proto::message::{
    AnnotationId, Bytes, Decoder, Encoder, ExpectedTypes, Flags, FrameError, Message, MessageType,
};
use pyro_tests::vectors::{self, hex, Line, VectorFile};

const CAPTURE_KEY: &[u8] = b"secret-key";
const UNIT_KEY: &[u8] = b"secret";
const WRONG_KEY: &[u8] = b"wrong-key";

/// Decode exactly one whole frame, fed whole as `Bytes` and also byte by
/// byte; both ways must agree.
fn decode_one(
    frame: &[u8],
    expected: ExpectedTypes,
    key: Option<&[u8]>,
) -> Result<Message, FrameError> {
    let make = || {
        let d = Decoder::new(expected);
        match key {
            Some(k) => d.with_hmac_key(k),
            None => d,
        }
    };
    let mut whole = make();
    whole.receive_bytes(Bytes::copy_from_slice(frame));
    let a = whole.next_message();
    let mut bytewise = make();
    for b in frame {
        bytewise.receive(std::slice::from_ref(b));
    }
    let b = bytewise.next_message();
    assert_eq!(a, b, "whole vs byte-wise decoding");
    let msg = a?.expect("a complete frame yields a message");
    assert_eq!(whole.next_message(), Ok(None), "exactly one frame");
    assert_eq!(whole.buffered_len(), 0);
    Ok(msg)
}

fn has_hmac_chunk(frame: &[u8]) -> bool {
    vectors::raw_frame(frame)
        .annotations
        .iter()
        .any(|(id, _)| id == b"HMAC")
}

fn role(tag: &str) -> ExpectedTypes {
    match tag {
        "C2S" => ExpectedTypes::DAEMON,
        "S2C" => ExpectedTypes::CLIENT,
        other => panic!("not a message line: {other}"),
    }
}

/// The key the sender of this line used, per tests/vectors/README.md.
fn sender_key(file: &VectorFile, line: &Line) -> Option<&'static [u8]> {
    if !has_hmac_chunk(&line.bytes) {
        return None;
    }
    if file.name.starts_with("unit_") {
        Some(UNIT_KEY)
    } else if file.name == "hmac_wrong_key.txt" && line.tag == "C2S" {
        Some(WRONG_KEY)
    } else {
        Some(CAPTURE_KEY)
    }
}

/// Lines that are deliberately not valid frames, with the error our decoder
/// must give (the daemon's reply on the next line carries Pyro4's text).
fn expected_failure(file: &str, line: &Line) -> Option<FrameError> {
    match (file, line.tag.as_str()) {
        ("raw_bad_checksum.txt", "C2S") => Some(FrameError::ChecksumMismatch {
            found: 0,
            expected: 0x356e,
        }),
        ("raw_wrong_protocol_version.txt", "C2S") => Some(FrameError::InvalidHeader {
            tag: *b"PYRO",
            version: 47,
        }),
        _ => None,
    }
}

fn payload_contains(frame: &[u8], text: &str) -> bool {
    let payload = vectors::raw_frame(frame).payload;
    payload.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn every_captured_message_decodes_verifies_and_reencodes_identically() {
    let mut checked = 0;
    let mut signed = 0;
    for file in vectors::all() {
        for line in &file.lines {
            if line.tag != "C2S" && line.tag != "S2C" {
                continue;
            }
            let at = format!("{}:{}", file.name, line.line_no);
            if expected_failure(&file.name, line).is_some() {
                continue;
            }
            let key = sender_key(&file, line);
            let msg = decode_one(&line.bytes, role(&line.tag), key)
                .unwrap_or_else(|e| panic!("{at}: {e:?}"));
            let raw = vectors::raw_frame(&line.bytes);
            assert_eq!(msg.msg_type.code(), raw.msg_type, "{at}");
            assert_eq!(msg.flags, Flags(raw.flags), "{at}");
            assert_eq!(msg.seq, raw.seq, "{at}");
            assert_eq!(msg.serializer_id, raw.serializer_id, "{at}");
            let ids: Vec<[u8; 4]> = msg.annotations.iter().map(|(k, _)| *k.as_bytes()).collect();
            let raw_ids: Vec<[u8; 4]> = raw.annotations.iter().map(|(k, _)| *k).collect();
            assert_eq!(ids, raw_ids, "{at}: annotation order");
            let reencoded = Encoder::new()
                .with_hmac_key(key.unwrap_or_default())
                .encode(&msg)
                .unwrap();
            assert_eq!(reencoded, line.bytes, "{at}: re-encoding differs");
            let mut plain = msg.clone();
            plain
                .decompress(16 << 20)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(plain.data, raw.payload, "{at}: payload");
            if key.is_some() {
                signed += 1;
            }
            checked += 1;
        }
    }
    assert!(checked >= 680, "only {checked} message lines found");
    assert!(signed >= 15, "only {signed} signed message lines found");
}

#[test]
fn hmac_asymmetry_and_wrong_key_are_detected_on_captured_messages() {
    let mut cases = 0;
    for file in vectors::all() {
        for line in &file.lines {
            if (line.tag != "C2S" && line.tag != "S2C")
                || expected_failure(&file.name, line).is_some()
            {
                continue;
            }
            let at = format!("{}:{}", file.name, line.line_no);
            let expected = role(&line.tag);
            match sender_key(&file, line) {
                Some(key) => {
                    assert_eq!(
                        decode_one(&line.bytes, expected, None),
                        Err(FrameError::HmacUnexpected),
                        "{at}"
                    );
                    let other: &[u8] = if key == CAPTURE_KEY {
                        WRONG_KEY
                    } else {
                        CAPTURE_KEY
                    };
                    assert_eq!(
                        decode_one(&line.bytes, expected, Some(other)),
                        Err(FrameError::HmacMismatch),
                        "{at}"
                    );
                    cases += 1;
                }
                None if file.name.starts_with("hmac_") => {
                    assert_eq!(
                        decode_one(&line.bytes, expected, Some(CAPTURE_KEY)),
                        Err(FrameError::HmacMissing),
                        "{at}"
                    );
                    cases += 1;
                }
                None => {}
            }
        }
    }
    assert!(cases >= 15, "{cases}");
}

/// The three captured HMAC failures: what the Python daemon's own receive
/// said is what ours says, with the daemon's key `secret-key`.
#[test]
fn captured_hmac_failures_give_pyro4s_errors() {
    for (name, want) in [
        ("hmac_wrong_key.txt", FrameError::HmacMismatch),
        ("hmac_client_without_key.txt", FrameError::HmacMissing),
    ] {
        let f = vectors::named(name);
        let c2s = f.lines.iter().find(|l| l.tag == "C2S").unwrap();
        let s2c = f.lines.iter().find(|l| l.tag == "S2C").unwrap();
        let err = decode_one(&c2s.bytes, ExpectedTypes::DAEMON, Some(CAPTURE_KEY)).unwrap_err();
        assert_eq!(err, want, "{name}");
        assert!(payload_contains(&s2c.bytes, &err.to_string()), "{name}");
    }
    // Daemon without a key receives a signed CONNECT.
    let f = vectors::named("hmac_daemon_without_key.txt");
    let c2s = f.lines.iter().find(|l| l.tag == "C2S").unwrap();
    let s2c = f.lines.iter().find(|l| l.tag == "S2C").unwrap();
    let err = decode_one(&c2s.bytes, ExpectedTypes::DAEMON, None).unwrap_err();
    assert_eq!(err, FrameError::HmacUnexpected);
    assert!(payload_contains(&s2c.bytes, &err.to_string()));
    // ... and the client with a key then gets an unsigned CONNECTFAIL.
    assert_eq!(
        decode_one(&s2c.bytes, ExpectedTypes::CLIENT, Some(CAPTURE_KEY)),
        Err(FrameError::HmacMissing)
    );
}

#[test]
fn negative_vectors_give_the_errors_pyro4_reported() {
    for name in ["raw_bad_checksum.txt", "raw_wrong_protocol_version.txt"] {
        let f = vectors::named(name);
        let bad = f.lines.iter().find(|l| l.tag == "C2S").unwrap();
        let reply = f.lines.iter().find(|l| l.tag == "S2C").unwrap();
        let want = expected_failure(name, bad).unwrap();
        let err = decode_one(&bad.bytes, ExpectedTypes::DAEMON, None).unwrap_err();
        assert_eq!(err, want, "{name}");
        assert!(
            payload_contains(&reply.bytes, &err.to_string()),
            "{name}: {err}"
        );
        // The header alone is enough to fail: the body is never buffered.
        let mut d = Decoder::new(ExpectedTypes::DAEMON);
        d.receive(&bad.bytes[..24]);
        assert_eq!(d.next_message(), Err(want));
    }

    // 24 bytes of HTTP instead of a header.
    let f = vectors::named("raw_garbage.txt");
    let garbage = f.lines.iter().find(|l| l.tag == "RAW-C2S").unwrap();
    let reply = f.lines.iter().find(|l| l.tag == "S2C").unwrap();
    assert_eq!(garbage.bytes.len(), 24);
    let mut d = Decoder::new(ExpectedTypes::DAEMON);
    d.receive(&garbage.bytes[..23]);
    assert_eq!(d.next_message(), Ok(None), "waits for the whole header");
    d.receive(&garbage.bytes[23..]);
    let err = d.next_message().unwrap_err();
    assert_eq!(
        err,
        FrameError::InvalidHeader {
            tag: *b"GET ",
            version: 0x2f20
        }
    );
    assert!(payload_contains(&reply.bytes, &err.to_string()));

    // An INVOKE where the daemon only accepts CONNECT.
    let f = vectors::named("raw_invoke_before_connect.txt");
    let invoke = f.lines.iter().find(|l| l.tag == "C2S").unwrap();
    let reply = f.lines.iter().find(|l| l.tag == "S2C").unwrap();
    let connect_only = ExpectedTypes::of(&[MessageType::Connect]);
    let err = decode_one(&invoke.bytes, connect_only, None).unwrap_err();
    assert_eq!(err, FrameError::InvalidMessageType(4));
    assert!(payload_contains(&reply.bytes, &err.to_string()));

    // Each role refuses the other role's messages.
    let f = vectors::named("serpent_connect_nometa.txt");
    for line in f.lines.iter().filter(|l| l.tag == "C2S" || l.tag == "S2C") {
        let wrong = if line.tag == "C2S" {
            ExpectedTypes::CLIENT
        } else {
            ExpectedTypes::DAEMON
        };
        let t = vectors::raw_frame(&line.bytes).msg_type;
        assert_eq!(
            decode_one(&line.bytes, wrong, None),
            Err(FrameError::InvalidMessageType(t))
        );
    }
}

/// Each direction of each file, concatenated and fed in odd-sized pieces,
/// decodes to the same messages as line by line.
#[test]
fn whole_directions_decode_as_streams() {
    for file in vectors::all() {
        for dir in ["C2S", "S2C"] {
            let lines: Vec<&Line> = file
                .lines
                .iter()
                .filter(|l| l.tag == dir && expected_failure(&file.name, l).is_none())
                .collect();
            if lines.is_empty() {
                continue;
            }
            // One key per direction and file is enough except in the hmac_
            // files, whose directions differ; keep the keyed ones apart.
            let keys: Vec<Option<&[u8]>> = lines.iter().map(|l| sender_key(&file, l)).collect();
            if keys.iter().any(|k| *k != keys[0]) {
                continue;
            }
            let stream: Vec<u8> = lines.iter().flat_map(|l| l.bytes.clone()).collect();
            for piece in [1usize, 5, 24, 4096] {
                let mut d = Decoder::new(role(dir));
                if let Some(k) = keys[0] {
                    d = d.with_hmac_key(k);
                }
                let mut got = Vec::new();
                for chunk in stream.chunks(piece) {
                    d.receive(chunk);
                    while let Some(m) = d.next_message().unwrap() {
                        got.push(m);
                    }
                }
                assert_eq!(got.len(), lines.len(), "{} {dir} piece {piece}", file.name);
                for (m, l) in got.iter().zip(&lines) {
                    assert_eq!(
                        Encoder::new()
                            .with_hmac_key(keys[0].unwrap_or_default())
                            .encode(m)
                            .unwrap(),
                        l.bytes
                    );
                }
                assert_eq!(d.end_of_stream(), Ok(()));
            }
        }
    }
}

fn id(s: &str) -> AnnotationId {
    AnnotationId::new(s).unwrap()
}

/// `(message as the comment describes it, HMAC key)` for each MSG line, in
/// file order.
fn unit_messages() -> Vec<(Message, Option<&'static [u8]>)> {
    let corr = Bytes::from(hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"));
    let sentence = b"The quick brown fox jumps over the lazy dog.".repeat(10);
    vec![
        (Message::new(MessageType::Connect, 1, Bytes::new()), None),
        (Message::ping(), None),
        (
            Message::new(MessageType::Result, 12345, &b"hello"[..])
                .with_flags(Flags(60006))
                .with_seq(30003),
            None,
        ),
        (
            Message::new(MessageType::Other(0xffff), 0xffff, &b"x"[..])
                .with_flags(Flags(0xffff))
                .with_seq(0xffff),
            None,
        ),
        (
            Message::new(MessageType::Invoke, 1, &b"payload"[..])
                .with_seq(7)
                .with_annotation(AnnotationId::CORR, corr.clone()),
            None,
        ),
        (
            Message::new(MessageType::Invoke, 1, &b"hello"[..]).with_seq(1),
            Some(UNIT_KEY),
        ),
        (
            Message::new(MessageType::Invoke, 1, &b"hello"[..])
                .with_seq(1)
                .with_annotation(id("XYZZ"), &b"zz"[..])
                .with_annotation(AnnotationId::CORR, corr)
                .with_annotation(id("ABCD"), Bytes::new()),
            Some(UNIT_KEY),
        ),
        (
            Message::new(MessageType::Result, 1, Bytes::new()),
            Some(UNIT_KEY),
        ),
        (
            // The payload is CPython's zlib output; see below for ours.
            Message::new(MessageType::Invoke, 42, sentence)
                .with_seq(1)
                .with_flags(Flags::COMPRESSED),
            None,
        ),
        (
            Message::new(MessageType::Result, 1, &b"r"[..])
                .with_seq(3)
                .with_annotation(id("NULL"), Bytes::new()),
            None,
        ),
    ]
}

#[test]
fn unit_framing_vectors_byte_exact_both_directions() {
    let file = vectors::named("unit_message_framing.txt");
    let lines: Vec<&Line> = file.lines.iter().filter(|l| l.tag == "MSG").collect();
    let expected = unit_messages();
    assert_eq!(lines.len(), expected.len());
    for (line, (want, key)) in lines.iter().zip(expected) {
        let at = format!("{}:{}", file.name, line.line_no);
        let mut want = want;
        // (The RESULT with flags 60006 has the COMPRESSED bit too, over a
        // payload that is not zlib: only the INVOKE line is really compressed.)
        if want.flags == Flags::COMPRESSED {
            // Encode direction with Python's compressed bytes as the payload;
            // the decoded message must inflate to the sentence.
            let python_zlib = Bytes::copy_from_slice(&line.bytes[24..]);
            let plain = want.data.clone();
            want.data = python_zlib;
            let mut inflated = want.clone();
            inflated.decompress(plain.len()).unwrap();
            assert_eq!(inflated.data, plain, "{at}");
            // One byte less room than needed is refused.
            let mut capped = want.clone();
            assert_eq!(
                capped.decompress(plain.len() - 1),
                Err(FrameError::DecompressedTooLarge {
                    limit: plain.len() - 1
                })
            );
        }
        // Rust -> bytes
        assert_eq!(want.encode(key).unwrap(), line.bytes, "{at}: encode");
        // bytes -> Rust
        let got = decode_one(&line.bytes, ExpectedTypes::ANY, key).unwrap();
        let mut got_without_hmac = got.clone();
        let hmac = got_without_hmac.annotations.remove(AnnotationId::HMAC);
        assert_eq!(hmac.is_some(), key.is_some(), "{at}");
        assert_eq!(got_without_hmac, want, "{at}: decode");
    }
}
