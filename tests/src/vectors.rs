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
}
