//! Call arguments written as Python literals on the command line.
//!
//! `pyro call URI echo "[1, (2, 'x')]"` reads its arguments with the serpent
//! reader, which accepts what Python's `ast.literal_eval` accepts: numbers of
//! any size (`2**70` must be written out as `1180591620717411303424`),
//! complex numbers (`1+2j`), strings, bytes (`b'x'`), tuples, lists, dicts,
//! sets, `True`, `False` and `None`.

use pyro_proto::serialize::{serpent, SerializeError};
use pyro_proto::value::{Dict, Value};

/// Why a command-line argument is not a usable Python literal.
#[derive(Debug, thiserror::Error)]
pub enum LiteralError {
    /// The text is not a Python literal.
    #[error("argument {text:?} is not a Python literal: {reason} (strings need quotes: 'text')")]
    Syntax {
        /// The argument as given.
        text: String,
        /// What the reader said.
        reason: String,
    },
    /// A `--kw` option without `name=`.
    #[error("keyword argument {0:?} must be written name=literal")]
    KwSyntax(String),
    /// A `--kw` name that Python would not accept as a keyword.
    #[error("keyword argument name {0:?} is not a Python identifier")]
    KwName(String),
}

/// Read one argument, e.g. `42`, `'text'`, `{'a': b'x'}`.
pub fn parse_literal(text: &str) -> Result<Value, LiteralError> {
    let syntax = |reason: String| LiteralError::Syntax {
        text: text.to_string(),
        reason,
    };
    // A line starting with `#` would be read as a serpent header/comment.
    if text.trim_start().starts_with('#') {
        return Err(syntax("a comment is not a value".into()));
    }
    let value = serpent::loads(text.as_bytes()).map_err(|e| {
        syntax(match e {
            SerializeError::Malformed { offset, reason, .. } => {
                format!("{reason} (at offset {offset})")
            }
            other => other.to_string(),
        })
    })?;
    // Sets in the order Python's `ast.literal_eval` would hold them, so
    // that they travel as a Python client would send them.
    Ok(crate::pyhash::as_python_builds_it(value))
}

/// Read `--kw name=literal` options into a kwargs dict (the last of a
/// repeated name wins, as in a Python dict display).
pub fn parse_kwargs(items: &[String]) -> Result<Dict, LiteralError> {
    let mut kwargs = Dict::default();
    for item in items {
        let (name, literal) = item
            .split_once('=')
            .ok_or_else(|| LiteralError::KwSyntax(item.clone()))?;
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric());
        if !valid {
            return Err(LiteralError::KwName(name.to_string()));
        }
        kwargs.insert(name, parse_literal(literal)?);
    }
    Ok(kwargs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::py_repr;

    #[test]
    fn python_literals_read_as_python_does() {
        let cases = [
            ("42", "42"),
            ("-7", "-7"),
            ("'text'", "'text'"),
            ("\"it's\"", "\"it's\""),
            ("[1, (2, 3)]", "[1, (2, 3)]"),
            ("(1,)", "(1,)"),
            ("{'a': b'x'}", "{'a': b'x'}"),
            ("None", "None"),
            ("True", "True"),
            ("1180591620717411303424", "1180591620717411303424"),
            ("1.5e300", "1.5e+300"),
            ("1+2j", "(1+2j)"),
            ("{1, 2}", "{1, 2}"),
            ("  'padded'  ", "'padded'"),
        ];
        for (text, want) in cases {
            let v = parse_literal(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(py_repr(&v), want, "{text}");
        }
    }

    #[test]
    fn sets_take_the_order_python_gives_them() {
        // ast.literal_eval('{3, (1, 2)}') iterates as {(1, 2), 3}, and
        // '[{8, 0, 1, 2}]' as [{8, 0, 2, 1}].
        let v = parse_literal("{3, (1, 2)}").unwrap();
        assert_eq!(v, Value::Set(vec![Value::tuple([1, 2]), Value::Int(3)]));
        let v = parse_literal("[{8, 0, 1, 2}]").unwrap();
        let order = [8, 0, 2, 1].map(Value::Int).to_vec();
        assert_eq!(v, Value::List(vec![Value::Set(order)]));
    }

    #[test]
    fn bad_literals_are_refused_with_a_hint() {
        for text in ["text", "2**70", "[1, 2", "", "# 1", "f(1)", "1 2"] {
            let e = parse_literal(text).expect_err(text);
            assert!(e.to_string().contains("not a Python literal"), "{e}");
        }
    }

    #[test]
    fn keyword_arguments() {
        let kw = parse_kwargs(&["a=1".into(), "b='x=y'".into(), "a=2".into()]).unwrap();
        assert_eq!(py_repr(&Value::Dict(kw)), "{'a': 2, 'b': 'x=y'}");
        assert!(matches!(
            parse_kwargs(&["novalue".into()]),
            Err(LiteralError::KwSyntax(_))
        ));
        assert!(matches!(
            parse_kwargs(&["1x=1".into()]),
            Err(LiteralError::KwName(_))
        ));
    }
}
