//! prompt (in progress).
