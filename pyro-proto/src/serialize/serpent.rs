//! serpent codec (in progress).
