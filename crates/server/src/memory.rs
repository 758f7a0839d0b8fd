//! Giving freed heap memory back to the operating system.
//!
//! glibc's allocator keeps pages it has freed inside its arenas (one per thread that allocated),
//! so a burst leaves the process's resident size at its high-water mark: a 200-member room's
//! joins queue hundreds of thousands of room events for a few seconds, and the resident size per
//! member stayed about 100 KiB above the live heap afterwards. Every [`TRIM_INTERVAL`] the
//! server asks glibc to release the free pages of every arena (`malloc_trim`, which returns
//! them with `madvise`); nothing live moves. Other C libraries need nothing of this.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free heap pages go back to the operating system.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// Releases free heap pages every [`TRIM_INTERVAL`] until `shutdown`.
pub async fn return_free_memory(shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TRIM_INTERVAL) => {}
        }
        // The walk over the arenas takes milliseconds on a large heap: not on a runtime thread.
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

/// Returns the free pages of every malloc arena to the operating system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: `malloc_trim` only releases memory the allocator holds as free; it takes the
    // arena locks itself and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of allocations freed again: after a trim the resident size is back near where it
    /// was, not at the burst's high-water mark.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_returns_the_pages_of_a_freed_burst() {
        fn resident_kib() -> u64 {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                })
                .expect("VmRSS")
        }
        // Many small blocks (below the mmap threshold, so they live in the arena), with a
        // survivor at the top so that plain `free` cannot shrink the heap from its end.
        let before = resident_kib();
        let mut burst: Vec<Box<[u8; 1024]>> =
            (0..64 * 1024).map(|_| Box::new([1u8; 1024])).collect();
        let survivor = Box::new([2u8; 1024]);
        let peak = resident_kib();
        assert!(
            peak >= before + 60 * 1024,
            "the burst is resident: {before} -> {peak} KiB"
        );
        burst.clear();
        burst.shrink_to_fit();
        trim();
        let after = resident_kib();
        assert!(
            after < peak - 48 * 1024,
            "trimmed: {before} KiB before, {peak} at the peak, {after} after"
        );
        assert_eq!(survivor[0], 2);
    }
}
