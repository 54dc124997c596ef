//! Random bytes for what a client must make unpredictable (RFC 6455 sections 4.1
//! and 5.3): each frame's masking key and the handshake's `Sec-WebSocket-Key`.
//!
//! They come from the operating system (`ring`'s `SystemRandom`, `getrandom` on
//! Linux), drawn 256 bytes at a time into a per-thread pool, so a client pays one
//! system call per 64 frames rather than one per frame. Masks must not be guessable
//! by a script in the same browser (the attack masking defends against), so they are
//! never a counter or a seeded generator.

use std::cell::RefCell;

use ring::rand::{SecureRandom, SystemRandom};

/// How many random bytes one draw from the system takes.
const POOL: usize = 256;

struct Pool {
    bytes: [u8; POOL],
    /// How many of `bytes` were handed out.
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL], used: POOL }) };
}

/// Fills `out` with random bytes from the system.
pub(crate) fn fill(out: &mut [u8]) {
    RANDOM.with(|pool| {
        let mut pool = pool.borrow_mut();
        let mut at = 0;
        while at < out.len() {
            if pool.used == POOL {
                refill(&mut pool.bytes);
                pool.used = 0;
            }
            let n = (out.len() - at).min(POOL - pool.used);
            let from = pool.used;
            out[at..at + n].copy_from_slice(&pool.bytes[from..from + n]);
            // What was handed out is not kept.
            pool.bytes[from..from + n].fill(0);
            pool.used += n;
            at += n;
        }
    });
}

/// A fresh masking key.
pub(crate) fn mask() -> [u8; 4] {
    let mut key = [0; 4];
    fill(&mut key);
    key
}

/// Draws a new pool from the system. `getrandom` does not fail on Linux once the
/// kernel's generator is seeded; should it fail anyway, the pool is hashed with the
/// time into a new one, unpredictable enough for masking keys, and the failure is
/// logged, rather than stopping the connection.
fn refill(bytes: &mut [u8; POOL]) {
    if SystemRandom::new().fill(bytes).is_ok() {
        return;
    }
    log::error!("the system's random generator failed; masking keys fall back to hashing");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for (i, chunk) in bytes.chunks_mut(32).enumerate() {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&now.to_le_bytes());
        ctx.update(&(i as u64).to_le_bytes());
        ctx.update(chunk);
        let digest = ctx.finish();
        chunk.copy_from_slice(&digest.as_ref()[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_differ_and_the_pool_refills() {
        // 1000 masks go through the pool several times; among them, repeats are
        // as rare as chance makes them (a counter or a stuck pool would repeat).
        let masks: Vec<[u8; 4]> = (0..1000).map(|_| mask()).collect();
        let mut distinct = masks.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 990, "{} distinct of 1000", distinct.len());
        let mut long = [0u8; 600];
        fill(&mut long);
        assert!(long.iter().filter(|&&b| b == 0).count() < 30);
    }
}
