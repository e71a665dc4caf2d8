//! pickle codec (in progress).
