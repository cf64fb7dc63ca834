//! sse (in progress).
