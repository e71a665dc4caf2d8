//! The serpent codec (stub until its implementation lands: every call fails).

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::serialize::{Call, SerializeError};
use crate::value::Value;

const CODEC: &str = "serpent";

fn not_yet() -> SerializeError {
    SerializeError::Unsupported {
        codec: CODEC,
        what: "anything yet (codec not implemented)".to_string(),
    }
}

/// Encode one value.
pub fn dumps(_value: &Value) -> Result<Vec<u8>, SerializeError> {
    Err(not_yet())
}

/// Decode one value.
pub fn loads(_data: &[u8]) -> Result<Value, SerializeError> {
    Err(not_yet())
}

/// Encode a call tuple as Pyro4's serializer would.
pub fn dumps_call(_call: &Call) -> Result<Vec<u8>, SerializeError> {
    Err(not_yet())
}

/// Decode a call tuple.
pub fn loads_call(_data: &[u8]) -> Result<Call, SerializeError> {
    Err(not_yet())
}
