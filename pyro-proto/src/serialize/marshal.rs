//! marshal codec (in progress).
