//! Replaying captured Pyro4 conversations against the Rust implementation.
//!
//! A captured vector file holds whole connections (`## connection <n>`
//! sections, or one implicit connection for the raw-socket cases). The replay
//! tests feed one side's messages into a Rust session and compare what the
//! Rust side answers with what real Pyro4 4.82 answered, *structurally*:
//! header fields exactly, annotation ids exactly, values that Pyro4 draws at
//! random (CORR, stream ids) masked, HMACs verified rather than compared, and
//! payloads compared after decoding (set order, dict order, metadata name
//! order and traceback text ignored). This module holds the pieces that do
//! not depend on the direction: connection splitting, reply framing and the
//! comparison itself.

use std::collections::{BTreeMap, BTreeSet};

use pyro_proto::message::{compute_hmac, AnnotationId, Annotations, Bytes};
use pyro_proto::serialize::SerializerId;
use pyro_proto::value::{ClassDict, Dict, Value};

use crate::vectors::{raw_frame, Line, RawFrame, VectorFile};

/// One connection of a capture, in wire order.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The `## connection <n>` label (empty for the raw-socket captures).
    pub label: String,
    /// The data lines of this connection (`C2S`, `S2C`, `RAW-C2S`, `EOF-S2C`, ...).
    pub lines: Vec<Line>,
    /// Whether the capture shows the daemon closing its side before the
    /// client did (`(server side closed ...)` first), i.e. the daemon decided
    /// to drop the connection. `None` when the capture does not say (raw-socket
    /// captures, which use an `EOF-S2C` line instead).
    pub server_closed_first: Option<bool>,
}

/// Split a vector file into its connections; the close order comes from the
/// relay's `(server side closed ...)` / `(client side closed ...)` comments,
/// which [`crate::vectors::load`] does not keep, so the file text is read again.
pub fn connections(file: &VectorFile) -> Vec<Connection> {
    let text = std::fs::read_to_string(crate::vectors::dir().join(&file.name))
        .unwrap_or_else(|e| panic!("{}: {e}", file.name));
    // Close order per connection label, in file order.
    let mut order: BTreeMap<String, bool> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("## connection") {
            current = Some(rest.trim().to_string());
        } else if let Some(label) = &current {
            let server = line.starts_with("# (server side closed");
            let client = line.starts_with("# (client side closed");
            if (server || client) && !order.contains_key(label) {
                order.insert(label.clone(), server);
            }
        }
    }
    let mut out: Vec<Connection> = Vec::new();
    for line in &file.lines {
        if line.tag == "CONNECTION" {
            let label = String::from_utf8_lossy(&line.bytes).into_owned();
            out.push(Connection {
                server_closed_first: order.get(&label).copied(),
                label,
                lines: Vec::new(),
            });
            continue;
        }
        if out.is_empty() {
            out.push(Connection {
                label: String::new(),
                lines: Vec::new(),
                server_closed_first: None,
            });
        }
        out.last_mut().unwrap().lines.push(line.clone());
    }
    out
}

/// Cut a byte stream into whole Pyro messages (header lengths only); a
/// trailing incomplete piece is returned as the second value.
pub fn split_frames(mut bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut frames = Vec::new();
    while bytes.len() >= 24 {
        let data_len = u32::from_be_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let ann_len = u16::from_be_bytes([bytes[18], bytes[19]]) as usize;
        let total = 24 + ann_len + data_len;
        if bytes.len() < total {
            break;
        }
        frames.push(bytes[..total].to_vec());
        bytes = &bytes[total..];
    }
    (frames, bytes.to_vec())
}

/// What the comparison of one reply needs to know beyond the two frames.
#[derive(Debug, Default)]
pub struct CompareState {
    /// Captured stream id -> the id the Rust side chose for the same stream.
    pub streams: BTreeMap<Vec<u8>, Vec<u8>>,
    /// HMAC key of the conversation, if signed.
    pub hmac_key: Option<Vec<u8>>,
    /// CORR values seen so far (captured, Rust): a reply whose captured CORR
    /// is new must get a new Rust CORR too (Pyro4 draws a fresh uuid4 per
    /// request without CORR).
    pub corrs: (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>),
    /// How many replies were compared.
    pub compared: usize,
}

impl CompareState {
    /// Rewrite the captured stream ids inside a client message to the ids the
    /// Rust daemon handed out (same length: both are 36-character uuids, and
    /// the header checksum does not cover the payload).
    pub fn map_streams(&self, message: &[u8]) -> Vec<u8> {
        let mut out = message.to_vec();
        for (captured, ours) in &self.streams {
            if captured.len() != ours.len() || captured.is_empty() {
                continue;
            }
            let mut i = 24;
            while i + captured.len() <= out.len() {
                if out[i..i + captured.len()] == captured[..] {
                    out[i..i + captured.len()].copy_from_slice(ours);
                    i += captured.len();
                } else {
                    i += 1;
                }
            }
        }
        out
    }
}

fn annotations_of(frame: &RawFrame) -> Annotations {
    let mut a = Annotations::new();
    for (id, value) in &frame.annotations {
        if let Ok(id) = AnnotationId::from_bytes(*id) {
            a.insert(id, Bytes::copy_from_slice(value));
        }
    }
    a
}

/// The payload bytes as they are on the wire (compressed if flagged), which
/// is what the HMAC covers.
fn wire_payload(bytes: &[u8]) -> &[u8] {
    let data_len = u32::from_be_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let ann_len = u16::from_be_bytes([bytes[18], bytes[19]]) as usize;
    &bytes[24 + ann_len..24 + ann_len + data_len]
}

fn check_hmac(key: &[u8], bytes: &[u8], frame: &RawFrame) -> Result<(), String> {
    let mut annotations = annotations_of(frame);
    let Some(tag) = annotations.remove(AnnotationId::HMAC) else {
        return Err("no HMAC annotation".into());
    };
    let expected = compute_hmac(key, wire_payload(bytes), &annotations);
    if tag[..] == expected[..] {
        Ok(())
    } else {
        Err("HMAC does not verify with the key".into())
    }
}

/// Compare a reply the Rust side sent with the captured one. `request_corr`
/// is the CORR the request carried (then the reply must echo it exactly).
/// Returns the differences found (empty: equivalent).
pub fn compare_reply(
    captured: &[u8],
    ours: &[u8],
    request_corr: Option<&[u8]>,
    state: &mut CompareState,
) -> Vec<String> {
    let mut diffs = Vec::new();
    state.compared += 1;
    let c = raw_frame(captured);
    let r = raw_frame(ours);
    let fields = |f: &RawFrame| (f.msg_type, f.flags, f.seq, f.serializer_id);
    if fields(&c) != fields(&r) {
        diffs.push(format!(
            "header (type, flags, seq, serializer): captured {:?}, rust {:?}",
            fields(&c),
            fields(&r)
        ));
    }
    let ids = |f: &RawFrame| {
        let mut v: Vec<String> = f
            .annotations
            .iter()
            .map(|(id, _)| String::from_utf8_lossy(id).into_owned())
            .collect();
        v.sort();
        v
    };
    if ids(&c) != ids(&r) {
        diffs.push(format!(
            "annotation ids: captured {:?}, rust {:?}",
            ids(&c),
            ids(&r)
        ));
    }
    let get = |f: &RawFrame, id: &[u8; 4]| {
        f.annotations
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
    };
    for (id, value) in &r.annotations {
        match id {
            b"CORR" => {
                if value.len() != 16 {
                    diffs.push(format!("rust CORR has {} bytes", value.len()));
                }
                if let Some(expected) = request_corr {
                    if value[..] != expected[..] {
                        diffs.push("rust CORR does not echo the request's CORR".into());
                    }
                } else if let Some(theirs) = get(&c, b"CORR") {
                    let fresh_there = !state.corrs.0.contains(&theirs);
                    if fresh_there && state.corrs.1.contains(value) {
                        diffs.push("rust reuses a CORR where Pyro4 made a fresh one".into());
                    }
                    state.corrs.0.insert(theirs);
                    state.corrs.1.insert(value.clone());
                }
            }
            b"STRM" => {
                if let Some(theirs) = get(&c, b"STRM") {
                    match state.streams.get(&theirs) {
                        Some(mapped) if mapped != value => {
                            diffs.push("stream id maps to two different rust ids".into())
                        }
                        Some(_) => {}
                        None => {
                            if state.streams.values().any(|v| v == value) {
                                diffs.push("two captured streams got the same rust id".into());
                            }
                            if value.len() != 36 {
                                diffs.push(format!(
                                    "rust stream id is not a 36-char uuid: {:?}",
                                    String::from_utf8_lossy(value)
                                ));
                            }
                            state.streams.insert(theirs, value.clone());
                        }
                    }
                }
            }
            b"HMAC" => {
                let key = state.hmac_key.clone().unwrap_or_default();
                if let Err(e) = check_hmac(&key, ours, &r) {
                    diffs.push(format!("rust reply: {e}"));
                }
                if get(&c, b"HMAC").is_some() {
                    if let Err(e) = check_hmac(&key, captured, &c) {
                        diffs.push(format!("captured reply (harness check): {e}"));
                    }
                }
            }
            other => {
                if get(&c, other).as_ref() != Some(value) {
                    diffs.push(format!(
                        "annotation {} differs",
                        String::from_utf8_lossy(other)
                    ));
                }
            }
        }
    }
    diffs.extend(compare_payload(&c, &r));
    diffs
}

/// Compare payloads: decoded with the codec and normalised, or byte for byte
/// when the captured payload does not decode (PING's `pong`).
fn compare_payload(c: &RawFrame, r: &RawFrame) -> Vec<String> {
    if c.msg_type == 6 {
        return if c.payload == r.payload {
            Vec::new()
        } else {
            vec![format!(
                "ping payload: captured {:?}, rust {:?}",
                String::from_utf8_lossy(&c.payload),
                String::from_utf8_lossy(&r.payload)
            )]
        };
    }
    let decode = |f: &RawFrame| {
        SerializerId::from_id(f.serializer_id)
            .map_err(|e| e.to_string())
            .and_then(|s| s.loads_raw(&f.payload).map_err(|e| e.to_string()))
    };
    if c.serializer_id == SerializerId::Pickle.id()
        && r.serializer_id == c.serializer_id
        && (decode(c).is_err() || decode(r).is_err())
    {
        // Instances of classes the Rust pickle reader does not whitelist:
        // let Python (with the capture's service module) read both.
        let both = python_pickle_canon(&[&c.payload, &r.payload]);
        return if both[0] == both[1] && !both[0].starts_with("ERROR") {
            Vec::new()
        } else {
            vec![format!(
                "pickle payload (read by Python):\n  captured {}\n  rust     {}",
                both[0], both[1]
            )]
        };
    }
    match (decode(c), decode(r)) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (normalize(&a), normalize(&b));
            if a.bits_eq(&b) {
                Vec::new()
            } else {
                vec![format!("payload:\n  captured {a:?}\n  rust     {b:?}")]
            }
        }
        (Err(e), _) if c.payload == r.payload => {
            let _ = e;
            Vec::new()
        }
        (Err(e), Ok(b)) => vec![format!(
            "captured payload does not decode ({e}); rust sent {:?}",
            normalize(&b)
        )],
        (ca, Err(e)) => vec![format!(
            "rust payload does not decode ({e}); captured {ca:?}"
        )],
    }
}

/// Canonical descriptions of pickles, made by Python (`replay_pickle.py`),
/// for payloads the Rust pickle reader refuses.
pub fn python_pickle_canon(pickles: &[&[u8]]) -> Vec<String> {
    use std::io::Write;
    use std::process::Stdio;
    let tools = crate::vectors::dir().join("tools");
    let mut child = crate::python::script("replay_pickle.py")
        .arg(tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start replay_pickle.py");
    let input: String = pickles
        .iter()
        .map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines.len(),
        pickles.len(),
        "replay_pickle.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// Marker standing in for any traceback text.
pub const TRACEBACK_MASK: &str = "<traceback masked>";

const METADATA_KEYS: [&str; 3] = ["methods", "oneway", "attrs"];

/// A canonical form for comparison: set items and dict entries sorted, NaNs
/// made identical, `_pyroTraceback` text replaced by [`TRACEBACK_MASK`],
/// metadata name lists (`methods`/`oneway`/`attrs`) sorted, and a
/// `__class__` dict key treated like any other key (the codecs place it
/// differently).
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Float(f) if f.is_nan() => Value::Float(f64::NAN),
        Value::List(items) => Value::List(items.iter().map(normalize).collect()),
        Value::Tuple(items) => Value::Tuple(items.iter().map(normalize).collect()),
        Value::Set(items) => Value::Set(sorted(items.iter().map(normalize).collect())),
        Value::FrozenSet(items) => Value::FrozenSet(sorted(items.iter().map(normalize).collect())),
        Value::Dict(d) => {
            let class = match d.get_str("__class__") {
                Some(Value::Str(name)) => name.clone(),
                _ => String::new().into(),
            };
            Value::Dict(proxy_state_sorted(&class, normalize_dict(d)))
        }
        Value::Class(c) => Value::Class(Box::new(ClassDict {
            class_name: c.class_name.clone(),
            fields: proxy_state_sorted(&c.class_name, normalize_dict(&c.fields)),
        })),
        other => other.clone(),
    }
}

/// A `Pyro4.core.Proxy` state holds the metadata name collections at
/// positions 1 to 3 (oneway, methods, attrs); their order is Python set order.
fn proxy_state_sorted(class_name: &str, mut fields: Dict) -> Dict {
    if class_name != "Pyro4.core.Proxy" {
        return fields;
    }
    if let Some(Value::Tuple(state) | Value::List(state)) =
        fields.get_mut(&Value::Str("state".into()))
    {
        for item in state.iter_mut().skip(1).take(3) {
            if let Value::Tuple(names) | Value::List(names) = item {
                *names = sorted(std::mem::take(names));
            }
        }
    }
    fields
}

fn sorted(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by_cached_key(|v| format!("{v:?}"));
    items
}

fn normalize_dict(d: &Dict) -> Dict {
    let is_metadata = d.len() == 3
        && METADATA_KEYS
            .iter()
            .all(|k| d.get(&Value::Str((*k).into())).is_some());
    let mut entries: Vec<(Value, Value)> = d
        .iter()
        .map(|(k, v)| {
            let key = normalize(k);
            let value = match (k, v) {
                (Value::Str(name), Value::None) if name == "_pyroTraceback" => Value::None,
                (Value::Str(name), _) if name == "_pyroTraceback" => {
                    Value::Str(TRACEBACK_MASK.into())
                }
                (Value::Str(name), Value::List(items) | Value::Tuple(items))
                    if is_metadata && METADATA_KEYS.contains(&name.as_str()) =>
                {
                    Value::List(sorted(items.iter().map(normalize).collect()))
                }
                _ => normalize(v),
            };
            (key, value)
        })
        .collect();
    entries.sort_by_cached_key(|(k, _)| format!("{k:?}"));
    Dict(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_orders_and_tracebacks() {
        let tb = |t: Value| {
            Value::Dict(Dict(vec![
                (Value::Str("b".into()), Value::Set(vec![2.into(), 1.into()])),
                (Value::Str("_pyroTraceback".into()), t),
            ]))
        };
        let a = tb(Value::list(["x\n"]));
        let b = Value::Dict(Dict(vec![
            (
                Value::Str("_pyroTraceback".into()),
                Value::list(["y\n", "z\n"]),
            ),
            (Value::Str("b".into()), Value::Set(vec![1.into(), 2.into()])),
        ]));
        assert!(normalize(&a).bits_eq(&normalize(&b)));
        // A missing traceback is not the same as a masked one.
        assert!(!normalize(&tb(Value::None)).bits_eq(&normalize(&a)));
        // Lists keep their order unless they are metadata name lists.
        let l1 = Value::list([1, 2]);
        let l2 = Value::list([2, 1]);
        assert!(!normalize(&l1).bits_eq(&normalize(&l2)));
    }

    #[test]
    fn compare_reply_sees_header_payload_and_corr_changes() {
        let file = crate::vectors::named("serpent_invoke_result.txt");
        let result = file
            .lines
            .iter()
            .filter(|l| l.tag == "S2C")
            .nth(1)
            .expect("RESULT 42")
            .bytes
            .clone();
        let mut state = CompareState::default();
        assert!(compare_reply(&result, &result, None, &mut state).is_empty());
        let mut other_seq = result.clone();
        other_seq[11] ^= 1;
        assert!(compare_reply(&result, &other_seq, None, &mut state)[0].starts_with("header"));
        let mut other_value = result.clone();
        *other_value.last_mut().unwrap() = b'3';
        assert!(compare_reply(&result, &other_value, None, &mut state)[0].starts_with("payload"));
        let corr = [0u8; 16];
        let d = compare_reply(&result, &result, Some(&corr), &mut state);
        assert_eq!(d, ["rust CORR does not echo the request's CORR"]);
        // a captured reply with a fresh CORR whose Rust counterpart reuses one
        let mut state = CompareState::default();
        let first = file
            .lines
            .iter()
            .find(|l| l.tag == "S2C")
            .unwrap()
            .bytes
            .clone();
        assert!(compare_reply(&first, &first, None, &mut state).is_empty());
        let mut reused = result.clone();
        let corr_at = 24 + 6;
        reused[corr_at..corr_at + 16].copy_from_slice(&first[corr_at..corr_at + 16]);
        let d = compare_reply(&result, &reused, None, &mut state);
        assert_eq!(d, ["rust reuses a CORR where Pyro4 made a fresh one"]);
    }

    #[test]
    fn split_frames_keeps_the_tail() {
        let ping = crate::vectors::hex("5059524f0030000600000005000000000001000000003525");
        let mut two = ping.clone();
        two.extend_from_slice(&ping);
        two.extend_from_slice(&ping[..10]);
        let (frames, rest) = split_frames(&two);
        assert_eq!(frames.len(), 2);
        assert_eq!(rest.len(), 10);
    }
}
