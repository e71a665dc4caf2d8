//! json codec (in progress).
