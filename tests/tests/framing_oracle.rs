//! The framing module against real Python Pyro4 4.82 (`tests/python/framing_oracle.py`).
//!
//! * Python -> Rust: frames built by Pyro4's `Message` (random types, flags,
//!   seq, serializer ids, annotations, HMAC keys, Pyro4's own compression
//!   rule) decode, verify and decompress in Rust, and Rust re-encodes each to
//!   the very same bytes.
//! * Rust -> Python: frames built by our encoder (and our compression) are
//!   read by Pyro4's `Message.recv` over a socketpair, which must see the same
//!   fields, verify the HMAC and inflate the payload; the negative cases must
//!   raise the errors our decoder raises, with the same text.

use std::io::Write;
use std::process::Stdio;

use pyro_proto::message::{
    AnnotationId, Bytes, Decoder, Encoder, ExpectedTypes, Flags, FrameError, Message, MessageType,
};
use pyro_tests::python::script;
use pyro_tests::vectors::hex;

fn opt_hex(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        hex(s)
    }
}

fn to_hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_annotations(s: &str) -> Vec<([u8; 4], Vec<u8>)> {
    if s == "-" {
        return Vec::new();
    }
    s.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (hex(k).try_into().unwrap(), opt_hex(v))
        })
        .collect()
}

fn annotations_of(m: &Message) -> Vec<([u8; 4], Vec<u8>)> {
    m.annotations
        .iter()
        .map(|(k, v)| (*k.as_bytes(), v.to_vec()))
        .collect()
}

#[test]
fn python_built_frames_decode_verify_and_reencode_identically() {
    let out = script("framing_oracle.py").arg("gen").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (mut cases, mut keyed, mut compressed, mut undefined_types) = (0, 0, 0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], "CASE", "{line}");
        let msg_type: u16 = f[1].parse().unwrap();
        let flags: u16 = f[2].parse().unwrap();
        let seq: u16 = f[3].parse().unwrap();
        let ser: u16 = f[4].parse().unwrap();
        let key = opt_hex(f[5]);
        let plain = opt_hex(f[6]);
        let annotations = parse_annotations(f[7]);
        let frame = hex(f[8]);

        // Fed in 3-byte pieces with receive, and whole with receive_bytes.
        let expected = match msg_type {
            1 | 4 | 6 => ExpectedTypes::DAEMON,
            2 | 3 | 5 => ExpectedTypes::CLIENT,
            _ => ExpectedTypes::ANY,
        };
        let mut d = Decoder::new(expected).with_hmac_key(key.clone());
        for piece in frame.chunks(3) {
            d.receive(piece);
        }
        let m = d
            .next_message()
            .unwrap_or_else(|e| panic!("{e}: {line}"))
            .unwrap();
        let mut whole = Decoder::new(expected).with_hmac_key(key.clone());
        whole.receive_bytes(Bytes::from(frame.clone()));
        assert_eq!(whole.next_message(), Ok(Some(m.clone())));

        assert_eq!(m.msg_type.code(), msg_type);
        assert_eq!(m.flags, Flags(flags));
        assert_eq!((m.seq, m.serializer_id), (seq, ser));
        assert_eq!(annotations_of(&m), annotations, "{line}");
        assert_eq!(
            m.verify_hmac(Some(&key).filter(|k| !k.is_empty()).map(|k| &k[..])),
            Ok(())
        );
        let reencoded = Encoder::new()
            .with_hmac_key(key.clone())
            .encode(&m)
            .unwrap();
        assert_eq!(reencoded, frame, "re-encoding differs: {line}");
        let mut inflated = m.clone();
        inflated.decompress(plain.len()).unwrap();
        assert_eq!(inflated.data, plain, "{line}");
        assert!(!inflated.flags.contains(Flags::COMPRESSED));

        // Our compression rule decides like Pyro4's did (the bytes may differ).
        let mut ours = Message::new(MessageType::Result, 1, plain.clone());
        if Flags(flags).contains(Flags::COMPRESSED) {
            assert!(ours.compress(), "Pyro4 compressed this, we did not: {line}");
            compressed += 1;
        } else if plain.len() < 200 {
            assert!(!ours.compress());
        }
        cases += 1;
        keyed += usize::from(!key.is_empty());
        undefined_types += usize::from(!(1..=6).contains(&msg_type));
    }
    assert_eq!(cases, 400);
    assert!(keyed > 100 && compressed > 20 && undefined_types > 10);
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

struct Case {
    frame: Vec<u8>,
    python_key: Option<Vec<u8>>,
    required: Option<Vec<u16>>,
    /// What Python must report: Ok(message, plain payload) or Err(text).
    expect: Result<(Message, Vec<u8>), String>,
}

/// A frame, the key Python gets, the types Python requires.
type Negative<'a> = (Vec<u8>, Option<&'a [u8]>, Option<Vec<u16>>);

fn rust_cases() -> Vec<Case> {
    let mut s = 0x5eed_1234_u64;
    let sentence = b"The quick brown fox jumps over the lazy dog. ".to_vec();
    let datas: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"pong".to_vec(),
        (0..199).map(|i| i as u8).collect(),
        sentence.repeat(5),
        sentence.repeat(100),
        (0..900).map(|_| xorshift(&mut s) as u8).collect(),
        vec![b'z'; 200],
    ];
    let keys: Vec<Option<Vec<u8>>> = vec![
        None,
        Some(b"secret".to_vec()),
        Some(vec![b'k'; 100]),
        Some("unicode-key-\u{e9}".as_bytes().to_vec()),
    ];
    let id = |s: &str| AnnotationId::new(s).unwrap();
    let mut cases = Vec::new();
    for i in 0..300 {
        let t = 1 + (xorshift(&mut s) % 6) as u16;
        let msg_type = if i % 25 == 0 {
            MessageType::Other(99)
        } else {
            MessageType::from_code(t)
        };
        let flags = [0u16, 1, 4, 8, 0x10, 0x21, 0x40, 0xc, 0xfffd, 0x8000][i % 10];
        let seq = xorshift(&mut s) as u16;
        let ser = [1u16, 2, 3, 4, 42, 12345][(xorshift(&mut s) % 6) as usize];
        let plain = datas[(xorshift(&mut s) % datas.len() as u64) as usize].clone();
        let key = keys[(xorshift(&mut s) % keys.len() as u64) as usize].clone();
        let mut m = Message::new(msg_type, ser, plain.clone())
            .with_flags(Flags(flags))
            .with_seq(seq);
        match i % 5 {
            1 => {
                m.annotations.insert(AnnotationId::CORR, vec![i as u8; 16]);
            }
            2 => {
                m.annotations.insert(id("XYZZ"), &b"zz"[..]);
                m.annotations.insert(AnnotationId::CORR, vec![7u8; 16]);
                m.annotations.insert(id("ABCD"), Bytes::new());
            }
            3 => {
                m.annotations.insert(id("BIG1"), vec![3u8; 5000]);
                m.annotations.insert(id("A B "), &b"space in id"[..]);
            }
            _ => {}
        }
        if i % 2 == 0 {
            m.compress();
        }
        let frame = m.encode(key.as_deref()).unwrap();
        let mut seen = m.clone();
        if let Some(k) = &key {
            let digest =
                pyro_proto::message::compute_hmac(k, &seen.data, &seen.annotations).to_vec();
            seen.annotations.insert(AnnotationId::HMAC, digest);
        }
        cases.push(Case {
            frame,
            python_key: key,
            required: (i % 3 == 0).then(|| vec![msg_type.code()]),
            expect: Ok((seen, plain)),
        });
    }
    // Negative cases: each must fail in Python as in Rust.
    let base = Message::new(MessageType::Invoke, 1, &b"hello"[..])
        .with_seq(3)
        .with_annotation(AnnotationId::CORR, vec![1u8; 16]);
    let signed = base.encode(Some(b"secret")).unwrap();
    let plain = base.encode(None).unwrap();
    let mut bad_checksum = plain.clone();
    bad_checksum[23] ^= 0x40;
    let mut bad_version = plain.clone();
    bad_version[5] = 47;
    let negatives: Vec<Negative> = vec![
        (signed.clone(), Some(b"wrong-key"), None),
        (signed.clone(), None, None),
        (plain.clone(), Some(b"secret"), None),
        (plain.clone(), None, Some(vec![2, 3, 5, 6])),
        (bad_checksum, None, None),
        (bad_version, None, None),
    ];
    for (frame, key, required) in negatives {
        let mut d = Decoder::new(match &required {
            Some(types) => ExpectedTypes::of(
                &types
                    .iter()
                    .map(|t| MessageType::from_code(*t))
                    .collect::<Vec<_>>(),
            ),
            None => ExpectedTypes::ANY,
        });
        if let Some(k) = key {
            d = d.with_hmac_key(k);
        }
        d.receive(&frame);
        let err: FrameError = d.next_message().unwrap_err();
        cases.push(Case {
            frame,
            python_key: key.map(<[u8]>::to_vec),
            required,
            expect: Err(err.to_string()),
        });
    }
    cases
}

#[test]
fn rust_built_frames_parse_in_pyro4_message_recv() {
    let cases = rust_cases();
    let mut input = String::new();
    for c in &cases {
        let required = match &c.required {
            Some(t) => t
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(","),
            None => "-".into(),
        };
        input.push_str(&format!(
            "{} {} {}\n",
            to_hex(&c.frame),
            c.python_key.as_deref().map_or("-".into(), to_hex),
            required
        ));
    }
    let mut child = script("framing_oracle.py")
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), cases.len());
    let mut compressed = 0;
    for (c, line) in cases.iter().zip(lines) {
        match &c.expect {
            Ok((m, plain)) => {
                let f: Vec<&str> = line.split(' ').collect();
                assert_eq!(f[0], "OK", "{line}");
                assert_eq!(f[1].parse::<u16>().unwrap(), m.msg_type.code());
                assert_eq!(f[2].parse::<u16>().unwrap(), m.flags.bits());
                assert_eq!(f[3].parse::<u16>().unwrap(), m.seq);
                assert_eq!(f[4].parse::<u16>().unwrap(), m.serializer_id);
                assert_eq!(parse_annotations(f[5]), annotations_of(m), "{line}");
                assert_eq!(opt_hex(f[6]), m.data.to_vec());
                assert_eq!(&opt_hex(f[7]), plain, "Python inflated something else");
                compressed += usize::from(m.flags.contains(Flags::COMPRESSED));
            }
            Err(text) => {
                let (_, message) = line
                    .strip_prefix("ERR ")
                    .and_then(|l| l.split_once(' '))
                    .unwrap_or_else(|| panic!("expected an error, got {line}"));
                assert_eq!(message, text);
            }
        }
    }
    assert!(compressed > 50, "{compressed}");
}
