//! Python's `repr` of numbers, which serpent and json both write verbatim:
//! a peer comparing bytes must see exactly what Python would have produced.

use alloc::format;
use alloc::string::String;

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
    use super::float_repr;

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
}
