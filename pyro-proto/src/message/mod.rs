//! Pyro4 wire framing: header, checksum, annotations, HMAC, zlib, size limits.

/// Message types of protocol 48 (placeholder until the framing module lands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// CONNECT
    Connect = 1,
}
/// Header flags (placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u16);
/// A message (placeholder).
#[derive(Debug, Clone)]
pub struct Message;
