//! The debug log: one line per thing the client does (request line, status, attempts,
//! waits and why, timings, connections), to stderr or to a writer the program installs.
//!
//! Off by default. A client logs when its builder turned the log on
//! ([`ClientBuilder::debug_log`](crate::ClientBuilder::debug_log)), or, when the builder
//! left it alone, when `UPSTAGE_LOG=debug` is set or a writer was installed with
//! [`set_debug_log_writer`]. When off, a log point costs one or two atomic loads: the line is
//! never formatted.
//!
//! Lines never hold the API key, the value of a credential header (`Authorization`,
//! `api-key`, ...), a proxy password or a credential query parameter.

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// A debug-log writer: called once per line, with the line without its final newline.
pub type DebugLogWriter = Box<dyn Fn(&str) + Send + Sync>;

/// Where lines go when a writer is installed.
type Writer = Arc<dyn Fn(&str) + Send + Sync>;

static WRITER: RwLock<Option<Writer>> = RwLock::new(None);
/// Whether [`WRITER`] holds a writer: read on every log point without taking the lock.
static WRITER_SET: AtomicBool = AtomicBool::new(false);

/// Sends debug-log lines to `writer` instead of stderr (`None`: back to stderr).
///
/// A writer also turns the log on for every client whose builder did not turn it off. It
/// is called from whichever thread the client runs on, once per line, with the line
/// without its final newline; it must not block for long.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
/// let sink = Arc::clone(&lines);
/// upstage::set_debug_log_writer(Some(Box::new(move |line: &str| {
///     sink.lock().unwrap().push(line.to_owned());
/// })));
/// // ... use a client; its log lines land in `lines` ...
/// upstage::set_debug_log_writer(None);
/// ```
pub fn set_debug_log_writer(writer: Option<DebugLogWriter>) {
    let mut slot = WRITER
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WRITER_SET.store(writer.is_some(), Ordering::Release);
    *slot = writer.map(Writer::from);
}

/// `UPSTAGE_LOG=debug` (or `trace`), read once.
fn env_wants_log() -> bool {
    static ENV: OnceLock<bool> = OnceLock::new();
    *ENV.get_or_init(|| {
        std::env::var("UPSTAGE_LOG").is_ok_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("debug") || v.eq_ignore_ascii_case("trace")
        })
    })
}

/// One client's log switch: the builder's choice, or the environment and writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DebugLog {
    choice: Option<bool>,
}

impl DebugLog {
    /// `Some(on)` when the builder decided, `None` to follow the environment and writer.
    pub(crate) fn new(choice: Option<bool>) -> DebugLog {
        DebugLog { choice }
    }

    /// Whether lines are written. Cheap: check it before formatting anything.
    #[inline]
    pub(crate) fn on(&self) -> bool {
        match self.choice {
            Some(on) => on,
            None => WRITER_SET.load(Ordering::Acquire) || env_wants_log(),
        }
    }

    /// Writes one line (`upstage: ...`). Use through [`debug_log!`] so that nothing is
    /// formatted when the log is off.
    #[cold]
    pub(crate) fn write(&self, args: fmt::Arguments<'_>) {
        let line = format!("upstage: {args}");
        let writer = WRITER
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match writer {
            // The lock is released first: a writer may install another writer.
            Some(writer) => writer(&line),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// `debug_log!(log, "format", args...)`: writes a line when `log` is on, formats nothing
/// otherwise.
macro_rules! debug_log {
    ($log:expr, $($arg:tt)*) => {{
        let log: &$crate::log::DebugLog = &$log;
        if log.on() {
            log.write(format_args!($($arg)*));
        }
    }};
}
pub(crate) use debug_log;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The writer is global: tests that install one take turns.
    pub(crate) static WRITER_TESTS: Mutex<()> = Mutex::new(());

    /// Runs `f` with a capturing writer installed; returns the lines that contain `marker`
    /// (other tests' clients may log at the same time).
    pub(crate) fn capture(marker: &str, f: impl FnOnce()) -> Vec<String> {
        let _turn = WRITER_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        set_debug_log_writer(Some(Box::new(move |line: &str| {
            sink.lock().unwrap().push(line.to_owned());
        })));
        f();
        set_debug_log_writer(None);
        let lines = lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| l.contains(marker))
            .cloned()
            .collect()
    }

    #[test]
    fn an_explicit_choice_wins() {
        let lines = capture("choice-marker", || {
            debug_log!(DebugLog::new(Some(true)), "on {}", "choice-marker");
            debug_log!(DebugLog::new(Some(false)), "off {}", "choice-marker");
            // No choice: a writer is installed, so on.
            debug_log!(DebugLog::new(None), "default {}", "choice-marker");
        });
        assert_eq!(
            lines,
            [
                "upstage: on choice-marker",
                "upstage: default choice-marker"
            ]
        );
    }

    #[test]
    fn nothing_is_formatted_when_off() {
        struct Explodes;
        impl fmt::Display for Explodes {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("formatted while the log was off")
            }
        }
        debug_log!(DebugLog::new(Some(false)), "{}", Explodes);
    }

    #[test]
    fn a_writer_may_replace_itself() {
        let _turn = WRITER_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        set_debug_log_writer(Some(Box::new(|_line: &str| set_debug_log_writer(None))));
        debug_log!(DebugLog::new(Some(true)), "reentrant");
        assert!(!WRITER_SET.load(Ordering::Acquire));
    }
}
