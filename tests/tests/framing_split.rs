//! Property: however a stream of valid frames is cut into pieces, and whichever
//! of `receive` / `receive_bytes` delivers each piece, the decoder yields the
//! same messages, equal to the ones encoded.

use proptest::prelude::*;
use pyro_proto::message::{
    AnnotationId, Bytes, Decoder, Encoder, ExpectedTypes, Flags, Message, MessageType,
};

fn message() -> impl Strategy<Value = Message> {
    (
        1u16..=6,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        proptest::collection::vec(
            ("[A-Z]{4}", proptest::collection::vec(any::<u8>(), 0..40)),
            0..4,
        ),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(t, flags, seq, ser, anns, data)| {
            let mut m = Message::new(MessageType::from_code(t), ser, data)
                .with_flags(Flags(flags))
                .with_seq(seq);
            for (id, value) in anns {
                let id = AnnotationId::new(&id).unwrap();
                if id != AnnotationId::HMAC {
                    m.annotations.insert(id, value);
                }
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_split_yields_the_same_frames(
        msgs in proptest::collection::vec(message(), 1..6),
        cuts in proptest::collection::vec((1usize..700, any::<bool>()), 1..40),
        keyed in any::<bool>(),
        max in prop_oneof![Just(None), Just(Some(0usize)), Just(Some(1 << 20))],
    ) {
        let key: &[u8] = if keyed { b"prop-key" } else { b"" };
        let enc = Encoder::new().with_hmac_key(key);
        let mut stream = Vec::new();
        for m in &msgs {
            enc.encode_into(m, &mut stream).unwrap();
        }
        let mut d = Decoder::new(ExpectedTypes::ANY)
            .with_hmac_key(key)
            .with_max_message_size(max);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let (len, as_bytes) = cuts[i % cuts.len()];
            i += 1;
            let (piece, tail) = rest.split_at(len.min(rest.len()));
            rest = tail;
            if as_bytes {
                d.receive_bytes(Bytes::copy_from_slice(piece));
            } else {
                d.receive(piece);
            }
            while let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(d.end_of_stream(), Ok(()));
        prop_assert_eq!(got.len(), msgs.len());
        for (g, m) in got.iter().zip(&msgs) {
            let mut g = g.clone();
            let hmac = g.annotations.remove(AnnotationId::HMAC);
            prop_assert_eq!(hmac.is_some(), keyed);
            prop_assert_eq!(&g, m);
        }
        // And the whole stream at once, zero-copy, gives the same.
        let mut whole = Decoder::new(ExpectedTypes::ANY).with_hmac_key(key);
        whole.receive_bytes(Bytes::from(stream));
        for m in &got {
            prop_assert_eq!(whole.next_message().unwrap(), Some(m.clone()));
        }
        prop_assert_eq!(whole.next_message(), Ok(None));
    }
}
