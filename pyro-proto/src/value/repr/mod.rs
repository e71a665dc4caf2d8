//! Python's `repr` of numbers, strings and bytes, which serpent (and json,
//! for numbers) write verbatim: a peer comparing bytes must see exactly what
//! Python would have produced, and the CLI prints values the way Python would.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub mod hash;
mod nonprintable;
mod python;

pub use nonprintable::UNICODE_VERSION;
pub use python::{py_repr, py_repr_received, py_str};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Python's `str.isprintable()` for one character (CPython 3.11, Unicode
/// [`UNICODE_VERSION`]): false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and
/// Zs except the ASCII space. `repr()` escapes exactly these characters.
pub fn is_printable(ch: char) -> bool {
    let c = ch as u32;
    if c < 0x7f {
        return c >= 0x20;
    }
    let table = nonprintable::NON_PRINTABLE;
    // Index of the first range whose end is >= c.
    let i = table.partition_point(|&(_, last)| last < c);
    !(i < table.len() && table[i].0 <= c)
}

fn push_hex(out: &mut Vec<u8>, value: u32, digits: u32) {
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (4 * i)) & 0xf) as usize]);
    }
}

/// The quote Python's `repr` picks: `'` unless the text has a `'` and no `"`.
fn pick_quote(data: &[u8]) -> u8 {
    if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    }
}

/// Append `repr(s)` as CPython 3.11 writes it (UTF-8): quote choice, `\\`,
/// the quote escaped, `\t \n \r`, `\xNN` for other ASCII controls, DEL and
/// non-printable Latin-1, `\uNNNN` / `\UNNNNNNNN` for other non-printable
/// characters; everything printable is copied raw.
pub fn write_str_repr(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let quote = pick_quote(bytes);
    out.reserve(bytes.len() + 2);
    out.push(quote);
    // Copy runs of bytes that need no escaping in one go.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b >= 0x20 && b != 0x7f && b != b'\\' && b != quote {
                i += 1;
                continue;
            }
            out.extend_from_slice(&bytes[run..i]);
            out.push(b'\\');
            match b {
                b'\t' => out.push(b't'),
                b'\n' => out.push(b'n'),
                b'\r' => out.push(b'r'),
                b'\\' => out.push(b'\\'),
                _ if b == quote => out.push(quote),
                _ => {
                    out.push(b'x');
                    push_hex(out, b as u32, 2);
                }
            }
            i += 1;
            run = i;
            continue;
        }
        // Non-ASCII: decode the char starting here (s is valid UTF-8 and i is
        // on a char boundary because we only ever step over whole chars).
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        let len = ch.len_utf8();
        if is_printable(ch) {
            i += len;
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        let c = ch as u32;
        if c <= 0xff {
            out.extend_from_slice(b"\\x");
            push_hex(out, c, 2);
        } else if c <= 0xffff {
            out.extend_from_slice(b"\\u");
            push_hex(out, c, 4);
        } else {
            out.extend_from_slice(b"\\U");
            push_hex(out, c, 8);
        }
        i += len;
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(quote);
}

/// `repr(s)` of a Python `str`, e.g. `'it\'s'` -> `"it's"`, `'\x00'`.
pub fn str_repr(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    write_str_repr(&mut out, s);
    // Only whole UTF-8 sequences of `s` and ASCII were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Append `repr(b)` of a Python `bytes` value: `b'...'` with the same quote
/// rule as `str`, `\t \n \r`, and `\xNN` for everything outside printable ASCII.
pub fn write_bytes_repr(out: &mut Vec<u8>, data: &[u8]) {
    let quote = pick_quote(data);
    out.reserve(data.len() + 3);
    out.push(b'b');
    out.push(quote);
    for &b in data {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ if b == quote => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..=0x7e => out.push(b),
            _ => {
                out.extend_from_slice(b"\\x");
                push_hex(out, b as u32, 2);
            }
        }
    }
    out.push(quote);
}

/// `repr(b)` of a Python `bytes` value, e.g. `b'\x00abc'`.
pub fn bytes_repr(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(data.len() + 3);
    write_bytes_repr(&mut out, data);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// `repr(x)` for a finite or non-finite Python float: shortest round-trip
/// digits, scientific notation when the exponent is below -4 or at least 16
/// (`1e-05`, `1e+16`), otherwise fixed with at least one decimal (`1.0`).
/// Non-finite values give `nan`, `inf`, `-inf` (callers that need another
/// spelling, such as serpent's `1e30000`, handle those first).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde[-]N`.
    let mut sci = format!("{:e}", x);
    // When `x` lies exactly halfway between two shortest candidates, Rust's
    // shortest mode rounds up while Python's repr rounds half to even
    // (-1732053381322825.25 -> '...825.2'). Such ties need at least 16
    // digits; there the exact-precision formatter (half to even) decides.
    let ndigits =
        sci.find('e').unwrap_or(0) - usize::from(x < 0.0) - usize::from(sci.contains('.'));
    if ndigits >= 16 {
        let even = format!("{:.*e}", ndigits - 1, x);
        if even.parse::<f64>() == Ok(x) {
            sci = even;
        }
    }
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(core::iter::repeat_n('0', int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (1e100, "1e+100"),
            (-2.5e-300, "-2.5e-300"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.30000000000000004, "0.30000000000000004"),
            (core::f64::consts::PI, "3.141592653589793"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            // ties between two shortest candidates: Python rounds half to even
            (f64::from_bits(0xc318_9d2c_6a1a_6125), "-1732053381322825.2"), // exactly ...825.25
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(*x), *want, "repr of {x:?}");
        }
    }

    #[test]
    fn str_repr_matches_python() {
        // Expected texts are what CPython 3.11's repr() prints.
        let cases: &[(&str, &str)] = &[
            ("", "''"),
            ("abc", "'abc'"),
            ("it's", "\"it's\""),
            ("say \"hi\"", "'say \"hi\"'"),
            ("both ' and \"", "'both \\' and \"'"),
            ("back\\slash", "'back\\\\slash'"),
            ("\t\n\r\x00\x1f\x7f", "'\\t\\n\\r\\x00\\x1f\\x7f'"),
            ("\u{80}\u{a0}\u{ad}é", "'\\x80\\xa0\\xadé'"),
            ("\u{2028}\u{200b}\u{fffe}€", "'\\u2028\\u200b\\ufffe€'"),
            ("\u{e000}\u{10ffff}\u{1f600}", "'\\ue000\\U0010ffff😀'"),
            ("\u{3000}\u{e0001}", "'\\u3000\\U000e0001'"),
        ];
        for (s, want) in cases {
            assert_eq!(str_repr(s), *want, "repr of {s:?}");
        }
    }

    #[test]
    fn printable_table_edges() {
        assert!(is_printable(' '));
        assert!(!is_printable('\u{a0}'));
        assert!(is_printable('\u{a1}'));
        assert!(!is_printable('\u{10ffff}'));
        assert!(is_printable('\u{1f600}'));
        // Unicode 14.0 additions are printable, 15.0 ones not yet.
        assert!(is_printable('\u{1fae0}'));
        assert!(!is_printable('\u{1fae8}'));
    }

    #[test]
    fn bytes_repr_matches_python() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "b''"),
            (b"abc", "b'abc'"),
            (b"it's", "b\"it's\""),
            (b"'\"", "b'\\'\"'"),
            (
                b"\x00\t\n\r\\\x7f\x80\xff ~",
                "b'\\x00\\t\\n\\r\\\\\\x7f\\x80\\xff ~'",
            ),
        ];
        for (b, want) in cases {
            assert_eq!(bytes_repr(b), *want, "repr of {b:?}");
        }
    }
}
