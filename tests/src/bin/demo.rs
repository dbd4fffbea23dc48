//! The Lockstep demo (placeholder while the harness lands).
fn main() {}
