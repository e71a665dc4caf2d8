//! Fuzz the incremental frame decoder.
//!
//! Input layout, two forms:
//! * starting with `PYRO` (the seed corpus: whole frames and captured
//!   streams): the whole input is the byte stream; options and split sizes
//!   are derived from an FNV-1a hash of the input, so every mutation also
//!   varies the configuration;
//! * otherwise: byte 0 = options (bit 0: max_message_size, bit 1: HMAC key
//!   `secret-key`, bits 2-3: expected types), byte 1 = number `k` (mod 16) of
//!   split sizes, the next `k` bytes = split sizes (cycled), the rest = stream.
//!
//! Checks: no panic; feeding the stream in the given splits (alternating
//! `receive` and `receive_bytes`) gives exactly what feeding it whole gives;
//! every decoded message re-encodes and decodes to the same message; a
//! COMPRESSED payload inflates within a 1 MiB cap or fails with a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_proto::message::{Bytes, Decoder, Encoder, ExpectedTypes, FrameError, Message};

const KEY: &[u8] = b"secret-key";

fn decoder(options: u8) -> Decoder {
    let expected = match (options >> 2) & 3 {
        0 => ExpectedTypes::ANY,
        1 => ExpectedTypes::DAEMON,
        2 => ExpectedTypes::CLIENT,
        _ => ExpectedTypes::NONE,
    };
    let mut d = Decoder::new(expected);
    if options & 1 != 0 {
        d = d.with_max_message_size(Some(4000));
    }
    if options & 2 != 0 {
        d = d.with_hmac_key(KEY);
    }
    d
}

fn drain(d: &mut Decoder, out: &mut Vec<Message>) -> Option<FrameError> {
    loop {
        match d.next_message() {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (options, splits, stream) = if input.starts_with(b"PYRO") {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in input {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        let options = h as u8;
        let splits: Vec<usize> = (1..=((h >> 8) % 8) as usize)
            .map(|i| ((h >> (8 + 5 * i)) % 64) as usize + 1)
            .collect();
        (options, splits, input)
    } else {
        let k = usize::from(input[1] % 16).min(input.len() - 2);
        let splits: Vec<usize> = input[2..2 + k].iter().map(|b| usize::from(*b) + 1).collect();
        (input[0], splits, &input[2 + k..])
    };

    // Split feeding.
    let mut split = decoder(options);
    let mut got = Vec::new();
    let mut err = None;
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let len = if splits.is_empty() {
            rest.len()
        } else {
            splits[i % splits.len()]
        };
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        if i % 2 == 0 {
            split.receive(piece);
        } else {
            split.receive_bytes(Bytes::copy_from_slice(piece));
        }
        i += 1;
        if err.is_none() {
            err = drain(&mut split, &mut got);
        }
    }
    if err.is_none() {
        err = drain(&mut split, &mut got);
    }
    assert!(split.buffered_len() <= stream.len());

    // Whole feeding, zero-copy.
    let mut whole = decoder(options);
    whole.receive_bytes(Bytes::copy_from_slice(stream));
    let mut got_whole = Vec::new();
    let err_whole = drain(&mut whole, &mut got_whole);
    assert_eq!(got, got_whole);
    assert_eq!(err, err_whole);

    // Round trip of everything decoded.
    let encoder = if options & 2 != 0 {
        Encoder::new().with_hmac_key(KEY)
    } else {
        Encoder::new()
    };
    for m in &got {
        let frame = encoder.encode(m).expect("a decoded message re-encodes");
        let mut again = decoder(options & !1);
        again.receive(&frame);
        assert_eq!(again.next_message(), Ok(Some(m.clone())));
        assert_eq!(again.next_message(), Ok(None));
        let mut inflated = m.clone();
        match inflated.decompress(1 << 20) {
            Ok(()) | Err(FrameError::Decompress(_)) | Err(FrameError::DecompressedTooLarge { .. }) => {}
            Err(e) => panic!("unexpected decompression error {e:?}"),
        }
    }
});
