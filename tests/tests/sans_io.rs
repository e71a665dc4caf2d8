//! pyro-proto is Sans-IO: no sockets, no threads, no clock, no files, no
//! processes, no OS I/O, no OS randomness. Time comes in as `now`, bytes go in
//! and out through `receive`/`poll_transmit`, randomness through `Entropy`.
//!
//! This test scans every `pyro-proto/src/**/*.rs` file that is compiled
//! outside tests for the std paths that would break that promise. Test code
//! is exempt: files pulled in by `#[cfg(test)] mod x;` and inline
//! `#[cfg(test)] mod x { .. }` blocks (the unit tests use std freely, e.g.
//! `HashMap` and proptest). Comments are skipped, since docs may name the
//! things the crate does not do.
//!
//! No exception is needed today: the pickle codec is hand-written on
//! `alloc` (serde-pickle is only a test oracle in `serialize/pickle/tests.rs`),
//! and the only `std` use is the `extern crate std` behind the `std` feature
//! for `std::error::Error` impls. The other half of the check, that the core
//! builds without std at all, is `cargo build -p pyro-proto
//! --no-default-features` in `.ci/run`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Paths that mean I/O, threads, clocks or OS randomness.
const FORBIDDEN: &[&str] = &[
    "std::net",
    "std::thread",
    "std::time::Instant",
    "Instant::now",
    "SystemTime",
    "std::fs",
    "std::process",
    "std::io",
    "std::env",
    "RandomState",
    "getrandom",
];

/// The source with comments blanked (line structure kept, so line numbers
/// stay right). String literals are kept: a forbidden path inside a string
/// is harmless but rare enough to be worth a look.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c as char);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A char literal like '"' must not open a string.
            out.push_str(&src[i..i + 3]);
            i += 3;
        } else if c == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // An escaped char literal: '\'', '\"', '\u{..}'.
            let end = src[i + 3..].find('\'').map_or(b.len(), |e| i + 3 + e + 1);
            out.push_str(&src[i..end]);
            i = end;
        } else {
            if c == b'"' {
                in_str = true;
            }
            // Push whole UTF-8 sequences.
            let len = utf8_len(c);
            out.push_str(&src[i..(i + len).min(src.len())]);
            i += len;
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// What a file compiles outside tests: its comment-free text with inline
/// `#[cfg(test)] mod x { .. }` blocks blanked, plus the names of the
/// `#[cfg(test)] mod x;` files it pulls in for tests only.
fn non_test_code(src: &str) -> (String, Vec<String>) {
    let code = strip_comments(src);
    let mut out = String::with_capacity(code.len());
    let mut test_mods = Vec::new();
    let mut rest = code.as_str();
    while let Some(pos) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let skipped_ws = after.len() - item.len();
        let Some(decl) = item
            .strip_prefix("mod ")
            .or_else(|| item.strip_prefix("pub mod "))
        else {
            // cfg(test) on something else (a use, a fn): blank that one item line.
            let end = after.find('\n').unwrap_or(after.len());
            out.push_str(&"\n".repeat(after[..end].matches('\n').count()));
            rest = &after[end..];
            continue;
        };
        let name: String = decl
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let tail = decl[name.len()..].trim_start();
        if tail.starts_with(';') {
            test_mods.push(name);
            let end = skipped_ws + (item.len() - tail.len()) + 1;
            out.push_str(&"\n".repeat(after[..end].matches('\n').count()));
            rest = &after[end..];
            continue;
        }
        // Inline module: skip to its matching closing brace (comments are
        // gone; braces inside string literals of test code are balanced in
        // practice, and a miscount would only make this check stricter).
        let open = after.find('{').expect("inline test module has a body");
        let mut depth = 0usize;
        let mut end = after.len();
        for (j, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push_str(&"\n".repeat(after[..end].matches('\n').count()));
        rest = &after[end..];
    }
    out.push_str(rest);
    (out, test_mods)
}

/// The file(s) a `mod name;` in `file` refers to.
fn module_files(file: &Path, name: &str) -> Vec<PathBuf> {
    let dir = file.parent().unwrap();
    let stem = file.file_stem().unwrap().to_string_lossy();
    let base = if stem == "mod" || stem == "lib" {
        dir.to_path_buf()
    } else {
        dir.join(&*stem)
    };
    vec![
        base.join(format!("{name}.rs")),
        base.join(name).join("mod.rs"),
    ]
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every forbidden path in `code`, as (line number, pattern).
fn violations(code: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for pat in FORBIDDEN {
            if line.contains(pat) {
                found.push((n + 1, *pat));
            }
        }
    }
    found
}

#[test]
fn pyro_proto_does_no_io_threads_or_clock_outside_tests() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pyro-proto/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 30,
        "expected the whole pyro-proto source tree under {}, found {} files",
        src.display(),
        files.len()
    );

    // First pass: which files are test-only modules.
    let mut test_only: BTreeSet<PathBuf> = BTreeSet::new();
    let mut code_of = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let (code, test_mods) = non_test_code(&text);
        for m in test_mods {
            test_only.extend(module_files(f, &m));
        }
        code_of.push((f.clone(), code));
    }
    // A test-only module's own submodules are test-only too.
    let mut scanned = 0;
    let mut problems = Vec::new();
    for (f, code) in &code_of {
        let in_test_tree = test_only.iter().any(|t| {
            f == t
                || (t.file_name().is_some_and(|n| n == "mod.rs")
                    && f.starts_with(t.parent().unwrap()))
        });
        if in_test_tree {
            continue;
        }
        scanned += 1;
        for (line, pat) in violations(code) {
            problems.push(format!("{}:{line}: {pat}", f.display()));
        }
    }
    assert!(
        !test_only.is_empty() && scanned > 20,
        "scanner found {} test modules and scanned {scanned} files: the module walk is broken",
        test_only.len()
    );
    assert!(
        problems.is_empty(),
        "pyro-proto must stay Sans-IO (see this test's docs); found:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_sees_through_comments_but_not_test_modules() {
    let src = r#"
use core::time::Duration;
// std::net is only mentioned here
/* std::thread::spawn in a block comment */
fn f() -> &'static str { let _ = ('"', '\"', '\''); "a \" quote" }
use std::time::Instant;
#[cfg(test)]
mod tests {
    use std::fs;
    fn g() { if true { let _ = std::thread::current(); } }
}
#[cfg(test)]
mod more;
fn h() { let _ = std::process::id(); }
"#;
    let (code, mods) = non_test_code(src);
    assert_eq!(mods, vec!["more".to_string()]);
    let found = violations(&code);
    assert_eq!(
        found,
        vec![(6, "std::time::Instant"), (14, "std::process")],
        "code seen:\n{code}"
    );
    assert_eq!(code.lines().count(), src.lines().count());
}
