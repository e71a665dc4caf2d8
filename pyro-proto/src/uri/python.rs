//! The few pieces of CPython 3.11 text semantics that `Pyro4.core.URI` relies on.
//!
//! Pyro4 parses URIs with a `re` pattern (`\S`, `\d`, `.`) and converts ports
//! with `int()`. Those follow Python's own Unicode tables, not Rust's, so the
//! character classes are spelled out here from CPython 3.11 (Unicode 14.0):
//! a URI accepted by Pyro4 must be accepted here and the other way round.

/// Python's `str.isspace()` (and `re`'s `\s` for `str` patterns).
///
/// Differs from [`char::is_whitespace`] in also counting the ASCII separators
/// U+001C..U+001F, which Python classifies as whitespace.
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x20'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Whitespace as `int()` skips it around a number: ASCII `" \t\n\v\f\r"`
/// (CPython's `Py_ISSPACE`) plus every non-ASCII `isspace()` character.
/// The ASCII separators U+001C..U+001F are *not* skipped by `int()`.
fn is_int_space(c: char) -> bool {
    matches!(c, ' ' | '\t'..='\r') || (!c.is_ascii() && is_space(c))
}

/// First code point ("zero") of every run of ten decimal digits (Unicode
/// category Nd) in Python 3.11's Unicode 14.0 database. Each run holds the
/// digits 0..=9 in order, which is what `re`'s `\d` and `int()` accept.
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a Unicode decimal digit (`str.isdecimal()`), as `int()` and
/// `re`'s `\d` see it; `None` for anything else (superscripts included).
pub(crate) fn decimal_value(c: char) -> Option<u8> {
    let cp = c as u32;
    // The table is sorted: find the last run starting at or before `cp`.
    let idx = DECIMAL_ZEROS.partition_point(|&z| z <= cp);
    let zero = *DECIMAL_ZEROS.get(idx.checked_sub(1)?)?;
    let offset = cp - zero;
    if offset < 10 {
        Some(offset as u8)
    } else {
        None
    }
}

/// CPython refuses to convert decimal strings with more digits than this
/// (`sys.get_int_max_str_digits()`, default since 3.11): `ValueError`.
const INT_MAX_STR_DIGITS: usize = 4300;

/// Why a string is not a port number in the sense of Python's `int(s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// `int(s)` raises `ValueError`.
    Invalid,
    /// `int(s)` succeeds, but the value does not fit an `i64`.
    TooLarge,
}

/// Python's `int(s)` for a `str` in base 10: surrounding whitespace, one
/// optional sign, Unicode decimal digits with single underscores between
/// them, at most 4300 digits.
pub(crate) fn parse_int(s: &str) -> Result<i64, IntError> {
    let body = s.trim_matches(is_int_space);
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    // Accumulate as a negative number so that i64::MIN is representable.
    let mut value: i64 = 0;
    let mut overflow = false;
    let mut count = 0usize;
    let mut after_digit = false;
    for c in digits.chars() {
        if c == '_' {
            if !after_digit {
                return Err(IntError::Invalid);
            }
            after_digit = false;
            continue;
        }
        let d = decimal_value(c).ok_or(IntError::Invalid)?;
        count += 1;
        after_digit = true;
        if !overflow {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(d)))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
        }
    }
    if count == 0 || !after_digit || count > INT_MAX_STR_DIGITS {
        return Err(IntError::Invalid);
    }
    if overflow {
        return Err(IntError::TooLarge);
    }
    if negative {
        Ok(value)
    } else {
        value.checked_neg().ok_or(IntError::TooLarge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_matches_python_isspace() {
        for c in [
            '\t', '\n', '\x0b', '\x0c', '\r', '\x1c', '\x1f', ' ', '\u{85}', '\u{a0}', '\u{3000}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['a', '\x00', '\x08', '\u{200b}', '\u{180e}', '\u{feff}'] {
            assert!(!is_space(c), "{c:?}");
        }
    }

    #[test]
    fn decimal_digits_of_other_scripts() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('\u{664}'), Some(4)); // ARABIC-INDIC DIGIT FOUR
        assert_eq!(decimal_value('\u{ff19}'), Some(9)); // FULLWIDTH DIGIT NINE
        assert_eq!(decimal_value('\u{1d7ff}'), Some(9)); // last mathematical digit
        assert_eq!(decimal_value('\u{b2}'), None); // superscript two: not decimal
        assert_eq!(decimal_value('/'), None);
        assert_eq!(decimal_value(':'), None);
        assert_eq!(decimal_value('\u{1fbfa}'), None);
    }

    #[test]
    fn int_like_python() {
        assert_eq!(parse_int("12"), Ok(12));
        assert_eq!(parse_int(" +12\t"), Ok(12));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("-0"), Ok(0));
        assert_eq!(parse_int("0012"), Ok(12));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("\u{a0}12\u{3000}"), Ok(12));
        assert_eq!(parse_int("\u{661}_\u{662}"), Ok(12));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int("9223372036854775808"), Err(IntError::TooLarge));
        assert_eq!(parse_int("-9223372036854775809"), Err(IntError::TooLarge));
        for bad in [
            "", " ", "+", "- 1", "--1", "1 2", "_1", "1_", "1__0", "+_1", "0x10", "1e3", "\x1c1",
            "1\x00", "\u{b2}",
        ] {
            assert_eq!(parse_int(bad), Err(IntError::Invalid), "{bad:?}");
        }
        let mut many = alloc::string::String::from("1");
        many.extend(core::iter::repeat_n('0', 4299));
        assert_eq!(parse_int(&many), Err(IntError::TooLarge));
        many.push('0');
        assert_eq!(parse_int(&many), Err(IntError::Invalid));
    }
}
