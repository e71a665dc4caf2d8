//! A call's arguments from Rust values: positional arguments from a tuple,
//! keyword arguments from a map or struct. I/O-free, so every adapter's
//! proxy (blocking, async) shapes its requests the same way.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use crate::serialize::SerializeError;
use crate::value::{to_value, Dict, Value};

/// Why arguments could not be turned into a call's `vargs` / `kwargs`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArgsError {
    /// A value could not be converted into a [`Value`].
    #[error("cannot serialize the {what}: {source}")]
    Serialize {
        /// `positional arguments` or `keyword arguments`.
        what: &'static str,
        /// Why.
        #[source]
        source: SerializeError,
    },
    /// Positional arguments were not a tuple, or keyword arguments not a map
    /// or struct with string keys.
    #[error("{what} must be {expected}, found a Python {found}")]
    Shape {
        /// `positional arguments` or `keyword arguments`.
        what: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// The Python type the Rust value became.
        found: String,
    },
}

/// Positional arguments: a tuple (`(a, b)`, `(a,)`), or `()` for none.
/// A bare value is refused rather than guessed at (is `vec![1, 2]` one list
/// argument or two?).
pub fn positional(args: impl Serialize) -> Result<Vec<Value>, ArgsError> {
    const WHAT: &str = "positional arguments";
    match to_value(&args).map_err(|source| ArgsError::Serialize { what: WHAT, source })? {
        Value::Tuple(items) => Ok(items),
        Value::None => Ok(Vec::new()),
        other => Err(ArgsError::Shape {
            what: WHAT,
            expected: "a tuple such as (a, b), (a,) or ()",
            found: other.type_name().to_string(),
        }),
    }
}

/// Keyword arguments: a map or struct with string keys, or `()` for none.
pub fn keywords(kwargs: impl Serialize) -> Result<Dict, ArgsError> {
    const WHAT: &str = "keyword arguments";
    match to_value(&kwargs).map_err(|source| ArgsError::Serialize { what: WHAT, source })? {
        Value::Dict(d) if d.keys().all(|k| matches!(k, Value::Str(_))) => Ok(d),
        Value::None => Ok(Dict::default()),
        other => Err(ArgsError::Shape {
            what: WHAT,
            expected: "a map or struct with string keys, or ()",
            found: other.type_name().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    #[test]
    fn tuples_unit_and_refusals() {
        assert_eq!(
            positional((1, "a")).unwrap(),
            [Value::Int(1), Value::Str("a".into())]
        );
        assert_eq!(positional((5,)).unwrap(), [Value::Int(5)]);
        assert!(positional(()).unwrap().is_empty());
        let err = positional(5).unwrap_err();
        assert!(matches!(err, ArgsError::Shape { found, .. } if found == "int"));
        let mut kw = BTreeMap::new();
        kw.insert("k", 1);
        let d = keywords(&kw).unwrap();
        assert_eq!(d.get(&Value::Str("k".into())), Some(&Value::Int(1)));
        assert!(keywords(()).unwrap().is_empty());
        let mut bad = BTreeMap::new();
        bad.insert(1, 1);
        assert!(matches!(keywords(&bad), Err(ArgsError::Shape { .. })));
        assert!(matches!(keywords((1,)), Err(ArgsError::Shape { .. })));
    }
}
