//! Reading the captured Pyro4 4.82 vector files under `tests/vectors/`.
//!
//! Line format (see `tests/vectors/README.md`): `#` lines are comments, every
//! other non-empty line is `<TAG> <hex>`.

use std::fs;
use std::path::{Path, PathBuf};

/// The folder holding the vector files, found relative to this crate so tests
/// work from any working directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// One `<TAG> <hex>` line of a vector file.
#[derive(Debug, Clone)]
pub struct Line {
    /// `C2S`, `S2C`, `RAW-C2S`, `EOF-S2C`, `MSG`, `CALL`, `DATA`, ...
    pub tag: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// The comment lines directly above this line (descriptions, decoded payloads).
    pub comments: Vec<String>,
    /// 1-based line number in the file, for messages that point at the culprit.
    pub line_no: usize,
}

/// A parsed vector file.
#[derive(Debug, Clone)]
pub struct VectorFile {
    /// File name without folder, e.g. `serpent_batch.txt`.
    pub name: String,
    /// All data lines in order; `## connection <n>` markers appear as tag `CONNECTION`.
    pub lines: Vec<Line>,
    /// Comment lines at the top of the file (before the first data line).
    pub header: Vec<String>,
}

/// Decode lowercase or uppercase hex; panics with the offending text, since a
/// broken vector file is a test-setup bug.
pub fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len() % 2 == 0, "odd-length hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex: {s}")))
        .collect()
}

/// Parse one vector file.
pub fn load(path: &Path) -> VectorFile {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = Vec::new();
    let mut header = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if let Some(rest) = line.strip_prefix("## connection") {
            lines.push(Line {
                tag: "CONNECTION".into(),
                bytes: rest.trim().as_bytes().to_vec(),
                comments: std::mem::take(&mut pending),
                line_no: i + 1,
            });
            continue;
        }
        if line.starts_with('#') {
            if lines.is_empty() && pending.is_empty() && header.len() == i {
                header.push(line.to_string());
            } else {
                pending.push(line.to_string());
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let (tag, data) = line.split_once(' ').unwrap_or((line, ""));
        lines.push(Line {
            tag: tag.to_string(),
            bytes: hex(data),
            comments: std::mem::take(&mut pending),
            line_no: i + 1,
        });
    }
    VectorFile {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        lines,
        header,
    }
}

/// Every `.txt` vector file, sorted by name.
pub fn all() -> Vec<VectorFile> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir())
        .expect("tests/vectors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// One vector file by name, e.g. `unit_message_framing.txt`.
pub fn named(name: &str) -> VectorFile {
    load(&dir().join(name))
}

/// The header fields and (decompressed) payload of one captured message line,
/// read with the bare minimum of framing so that codec tests do not depend on
/// the `message` module they are not testing.
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// Message type (1 CONNECT .. 6 PING).
    pub msg_type: u16,
    /// Flag bits.
    pub flags: u16,
    /// Sequence number.
    pub seq: u16,
    /// Serializer id.
    pub serializer_id: u16,
    /// Annotations in wire order.
    pub annotations: Vec<([u8; 4], Vec<u8>)>,
    /// The payload, decompressed when the COMPRESSED flag (0x0002) is set.
    pub payload: Vec<u8>,
}

/// Split one complete message (a `C2S`/`S2C` line) into header fields and payload.
pub fn raw_frame(bytes: &[u8]) -> RawFrame {
    let be = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    assert_eq!(&bytes[0..4], b"PYRO", "not a Pyro message");
    let data_len = u32::from_be_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let ann_len = be(18) as usize;
    let mut annotations = Vec::new();
    let mut pos = 24;
    while pos < 24 + ann_len {
        let id: [u8; 4] = bytes[pos..pos + 4].try_into().unwrap();
        let len = be(pos + 4) as usize;
        annotations.push((id, bytes[pos + 6..pos + 6 + len].to_vec()));
        pos += 6 + len;
    }
    let body = &bytes[24 + ann_len..24 + ann_len + data_len];
    let flags = be(8);
    let payload = if flags & 2 != 0 {
        miniz_oxide::inflate::decompress_to_vec_zlib(body).expect("valid zlib payload")
    } else {
        body.to_vec()
    };
    RawFrame {
        msg_type: be(6),
        flags,
        seq: be(10),
        serializer_id: be(16),
        annotations,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vector_file_parses_and_has_data() {
        let files = all();
        assert!(
            files.len() >= 100,
            "expected the full vector set, found {}",
            files.len()
        );
        for f in &files {
            assert!(!f.lines.is_empty(), "{} has no data lines", f.name);
        }
    }

    #[test]
    fn raw_frame_reads_the_documented_invoke() {
        // Section 2.1's captured example: serpent INVOKE multiply(6,7), seq 1.
        let mut bytes = hex("5059524f00300004000000010000003a000100000000");
        let payload = b"# serpent utf-8 python3.2\n('test.obj','multiply',(6,7),{})";
        bytes.extend_from_slice(&hex("3559"));
        bytes.extend_from_slice(payload);
        let f = raw_frame(&bytes);
        assert_eq!((f.msg_type, f.flags, f.seq, f.serializer_id), (4, 0, 1, 1));
        assert_eq!(f.payload, payload);
        assert!(f.annotations.is_empty());
    }
}
