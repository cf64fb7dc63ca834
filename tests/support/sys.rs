//! Process-level helpers: a port nobody listens on, memory and descriptor counts.

use std::net::TcpListener;

/// A loopback port with no listener (bound, then released), for "connection
/// refused" tests. Another process could grab it in between, which is unlikely.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line in /proc/self/status")
}

/// Number of open file descriptors of this process (entries of `/proc/self/fd`,
/// not counting the one used to list them).
pub fn open_fds() -> usize {
    let entries = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    entries.count().saturating_sub(1)
}

/// The CLI example cargo built next to the running test (target/<profile>/examples/chat).
pub fn chat_binary() -> std::path::PathBuf {
    example_binary("chat")
}

/// An example cargo built next to the running test (target/<profile>/examples/NAME).
/// `cargo test` builds every example; a run limited to some test files builds them only
/// when asked (`cargo build --examples` first).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let binary = profile_dir.join("examples").join(name);
    assert!(
        binary.exists(),
        "the {name} example is not built: run `cargo test`, or `cargo build --examples` before \
         `cargo test --test ...` ({})",
        binary.display()
    );
    binary
}
