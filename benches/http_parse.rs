//! Filled in by its issue.
fn main() {}
