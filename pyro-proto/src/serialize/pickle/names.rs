//! The only Python globals a pickle may name: everything else is refused.
//!
//! A pickle's GLOBAL / STACK_GLOBAL opcodes name a callable that Python would
//! import and call, which is how pickle executes code. We never import or call
//! anything; we recognise a fixed list of names whose effect we can reproduce
//! as plain data, and refuse the rest with the error Pyro4's other serializers
//! give for an unknown class.

use alloc::format;
use alloc::string::String;

use crate::serialize::SerializeError;

/// Built-in exception classes (`builtins` in Python 3, `exceptions` in Python 2).
const BUILTIN_EXCEPTIONS: &[&str] = &[
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "BaseExceptionGroup",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EOFError",
    "EncodingWarning",
    "EnvironmentError",
    "Exception",
    "ExceptionGroup",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "IOError",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "NotADirectoryError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "ZeroDivisionError",
];

/// The exception classes of `Pyro4.errors` (Pyro4 4.82).
const PYRO_ERRORS: &[&str] = &[
    "PyroError",
    "CommunicationError",
    "ConnectionClosedError",
    "TimeoutError",
    "ProtocolError",
    "MessageTooLargeError",
    "NamingError",
    "DaemonError",
    "SecurityError",
    "SerializeError",
];

/// A whitelisted Python global, as the reader's virtual machine uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    /// `builtins.complex`
    Complex,
    /// `builtins.set`
    Set,
    /// `builtins.frozenset`
    FrozenSet,
    /// `builtins.bytearray`
    Bytearray,
    /// `builtins.bytes` (protocol 2 writes `b''` as `bytes()`)
    Bytes,
    /// `_codecs.encode` (protocol 2 writes bytes as `encode(latin1 text, 'latin1')`)
    CodecsEncode,
    /// An exception class: module (`builtins`, `exceptions`, `Pyro4.errors`) and name.
    Exception(&'static str, &'static str),
    /// `Pyro4.core.URI`
    Uri,
    /// `Pyro4.core.Proxy`
    Proxy,
    /// `Pyro4.core.Daemon` (pickled as an unusable placeholder)
    Daemon,
    /// `Pyro4.futures._ExceptionWrapper`
    ExceptionWrapper,
    /// `copyreg._reconstructor`: `object.__reduce__()` of protocols 0/1, used by
    /// Pyro4's autoproxy replacement (`copyreg._reconstructor(Proxy, object, None)`)
    Reconstructor,
    /// `builtins.object`, only as `_reconstructor`'s base class
    Object,
    /// `decimal.Decimal`, read as its text (what serpent and json send for it)
    Decimal,
    /// `uuid.UUID`, read as its canonical text (what the other serializers send)
    Uuid,
    /// `datetime.datetime` (naive), read as its ISO text as serpent sends it
    DateTime,
    /// `datetime.date`, read as its ISO text
    Date,
}

impl Global {
    /// The Python name, `module.Name`, for messages.
    pub(crate) fn name(self) -> String {
        let (m, n) = match self {
            Global::Complex => ("builtins", "complex"),
            Global::Set => ("builtins", "set"),
            Global::FrozenSet => ("builtins", "frozenset"),
            Global::Bytearray => ("builtins", "bytearray"),
            Global::Bytes => ("builtins", "bytes"),
            Global::CodecsEncode => ("_codecs", "encode"),
            Global::Exception(m, n) => (m, n),
            Global::Uri => ("Pyro4.core", "URI"),
            Global::Proxy => ("Pyro4.core", "Proxy"),
            Global::Daemon => ("Pyro4.core", "Daemon"),
            Global::ExceptionWrapper => ("Pyro4.futures", "_ExceptionWrapper"),
            Global::Reconstructor => ("copyreg", "_reconstructor"),
            Global::Object => ("builtins", "object"),
            Global::Decimal => ("decimal", "Decimal"),
            Global::Uuid => ("uuid", "UUID"),
            Global::DateTime => ("datetime", "datetime"),
            Global::Date => ("datetime", "date"),
        };
        format!("{m}.{n}")
    }
}

fn lookup(list: &[&'static str], name: &str) -> Option<&'static str> {
    list.iter().copied().find(|n| *n == name)
}

/// Whether `module.name` is an exception class we rebuild (used by the writer
/// to recognise exception class dicts that lack the `__exception__` marker).
pub(crate) fn is_known_exception(class_name: &str) -> bool {
    match class_name.rsplit_once('.') {
        Some(("builtins" | "exceptions", n)) => lookup(BUILTIN_EXCEPTIONS, n).is_some(),
        Some(("Pyro4.errors", n)) => lookup(PYRO_ERRORS, n).is_some(),
        _ => false,
    }
}

/// Resolve a GLOBAL / STACK_GLOBAL reference against the whitelist.
///
/// `proto` is the pickle protocol in effect: below 3, Python 2 module names
/// are mapped to Python 3 ones as CPython's unpickler does by default
/// (`fix_imports=True`), so `exceptions.ValueError` written by a protocol 2
/// pickler becomes `builtins.ValueError`.
pub(crate) fn resolve(module: &str, name: &str, proto: u8) -> Result<Global, SerializeError> {
    let (module, name) = if proto < 3 {
        match (module, name) {
            ("exceptions", "StandardError") => ("builtins", "Exception"),
            ("__builtin__" | "exceptions", n) => ("builtins", n),
            ("copy_reg", n) => ("copyreg", n),
            other => other,
        }
    } else {
        (module, name)
    };
    let g = match (module, name) {
        ("builtins", "complex") => Some(Global::Complex),
        ("builtins", "set") => Some(Global::Set),
        ("builtins", "frozenset") => Some(Global::FrozenSet),
        ("builtins", "bytearray") => Some(Global::Bytearray),
        ("builtins", "bytes") => Some(Global::Bytes),
        ("_codecs", "encode") => Some(Global::CodecsEncode),
        ("copyreg", "_reconstructor") => Some(Global::Reconstructor),
        ("builtins", "object") => Some(Global::Object),
        ("builtins", n) => lookup(BUILTIN_EXCEPTIONS, n).map(|n| Global::Exception("builtins", n)),
        ("exceptions", n) => {
            lookup(BUILTIN_EXCEPTIONS, n).map(|n| Global::Exception("exceptions", n))
        }
        ("Pyro4.errors", n) => lookup(PYRO_ERRORS, n).map(|n| Global::Exception("Pyro4.errors", n)),
        ("Pyro4.core", "URI") => Some(Global::Uri),
        ("Pyro4.core", "Proxy") => Some(Global::Proxy),
        ("Pyro4.core", "Daemon") => Some(Global::Daemon),
        ("Pyro4.futures", "_ExceptionWrapper") => Some(Global::ExceptionWrapper),
        ("decimal", "Decimal") => Some(Global::Decimal),
        ("uuid", "UUID") => Some(Global::Uuid),
        ("datetime", "datetime") => Some(Global::DateTime),
        ("datetime", "date") => Some(Global::Date),
        _ => None,
    };
    g.ok_or_else(|| {
        let full = format!("{module}.{name}");
        if full.contains("__") {
            SerializeError::DunderClass(full)
        } else {
            SerializeError::UnknownClass(full)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_2_names_are_mapped_like_cpython() {
        assert_eq!(
            resolve("exceptions", "ValueError", 2).unwrap(),
            Global::Exception("builtins", "ValueError")
        );
        assert_eq!(resolve("__builtin__", "set", 2).unwrap(), Global::Set);
        // Protocol 3+ keeps the Python 2 spelling as given.
        assert_eq!(
            resolve("exceptions", "ValueError", 3).unwrap(),
            Global::Exception("exceptions", "ValueError")
        );
        assert_eq!(
            resolve("exceptions", "StandardError", 2).unwrap(),
            Global::Exception("builtins", "Exception")
        );
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(
            resolve("os", "system", 4),
            Err(SerializeError::UnknownClass("os.system".into()))
        );
        assert_eq!(
            resolve("builtins", "eval", 4),
            Err(SerializeError::UnknownClass("builtins.eval".into()))
        );
        assert_eq!(
            resolve("__main__", "Foo", 4),
            Err(SerializeError::DunderClass("__main__.Foo".into()))
        );
        assert_eq!(
            resolve("builtins", "__import__", 4),
            Err(SerializeError::DunderClass("builtins.__import__".into()))
        );
        assert_eq!(
            resolve("Pyro4.errors", "Nope", 4),
            Err(SerializeError::UnknownClass("Pyro4.errors.Nope".into()))
        );
    }
}
