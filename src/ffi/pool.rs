//! Connection reuse settings of the client builder.
//!
//! A client (and every thread using it) shares one pool of idle keep-alive connections:
//! a connection goes back to it only when its response was read to the end; a cancelled,
//! failed, timed-out or freed-early stream closes its connection. Share one client to share
//! connections.

use std::ffi::c_int;
use std::time::Duration;

use super::boundary::invalid;
use super::client::{configure, upstage_client_builder};
use super::upstage_status;

/// Turns connection reuse on (non-zero, the default) or off (0: a new connection for
/// every request, closed at its end).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_connection_reuse(
    b: *mut upstage_client_builder,
    enabled: c_int,
) -> upstage_status {
    configure(b, |b| {
        b.apply(|builder| builder.connection_reuse(enabled != 0))
    })
}

/// Sets how many idle connections the client keeps per host for later requests (default
/// 4); 0 turns connection reuse off.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_max_idle_connections(
    b: *mut upstage_client_builder,
    per_host: usize,
) -> upstage_status {
    configure(b, |b| {
        b.apply(|builder| builder.max_idle_connections_per_host(per_host))
    })
}

/// Sets how long an idle connection is kept for reuse, in milliseconds (default 30,000).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (0: turn
///         reuse off with `upstage_client_builder_set_connection_reuse` instead).
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_pool_idle_timeout_ms(
    b: *mut upstage_client_builder,
    ms: u64,
) -> upstage_status {
    configure(b, |b| {
        if ms == 0 {
            return Err(invalid(
                "an idle timeout must be > 0 ms (turn reuse off with \
                 upstage_client_builder_set_connection_reuse)",
            ));
        }
        b.apply(|builder| builder.pool_idle_timeout(Duration::from_millis(ms)))
    })
}
