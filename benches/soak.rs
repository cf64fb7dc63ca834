//! The full soak: 8 threads sharing one client run 1,000 streams each against the
//! loopback server (normal, truncated, failing, cancelled from another thread, dropped),
//! then print throughput, outcome counts, descriptors and memory.
//!
//! `cargo bench --bench soak` (or `-- THREADS STREAMS_PER_THREAD`). It asserts like the
//! test: every outcome as expected, descriptors back to the start, RSS near it.

#[path = "../tests/soak.rs"]
mod soak;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .filter_map(|a| a.parse::<usize>().ok());
    let threads = args.next().unwrap_or(8);
    let per_thread = args.next().unwrap_or(1000);
    let figures = soak::soak(threads, per_thread);
    let seconds = figures.elapsed.as_secs_f64();
    println!(
        "soak: {} threads x {} streams = {} streams in {:.2} s ({:.0} streams/s, {:.0} tokens/s)",
        figures.threads,
        per_thread,
        figures.streams,
        seconds,
        figures.streams as f64 / seconds,
        figures.tokens as f64 / seconds
    );
    for (kind, count) in &figures.per_kind {
        println!("  {kind:>12}: {count}");
    }
    println!("  requests seen by the server: {}", figures.requests);
    println!(
        "  open fds: {} before, {} after",
        figures.fds_before, figures.fds_after
    );
    println!(
        "  RSS: {} KiB before, {} KiB peak, {} KiB after",
        figures.rss_before_kib, figures.rss_peak_kib, figures.rss_after_kib
    );
    println!(
        "  heap in use: {} KiB before, {} KiB after",
        figures.heap_before / 1024,
        figures.heap_after / 1024
    );
    assert_eq!(figures.requests, figures.streams);
    assert_eq!(figures.fds_after, figures.fds_before, "descriptors leaked");
    assert!(
        figures.heap_after < figures.heap_before + 256 * 1024,
        "heap in use grew: a leak"
    );
    // glibc caches the stacks of ended threads (up to 40 MiB) and keeps freed pages of
    // its arenas: RSS gets a loose bound, the heap in use above is the leak check.
    assert!(
        figures.rss_after_kib < figures.rss_before_kib + 48 * 1024,
        "RSS did not come back"
    );
}
