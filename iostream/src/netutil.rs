//! netutil (being written).
