//! The legacy web demo's model catalog and `format_prompt`: pure functions, no I/O.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::boundary::{guard, guard_value, opt_str_arg, out_arg, out_buffer, str_arg};
use super::{upstage_error, upstage_status, UPSTAGE_OK};
use crate::web_demo::{
    resolve_model as get_model, DEFAULT_MODEL as WEB_DEMO_DEFAULT_MODEL, MODELS,
};

/// NUL-terminated copies of the catalog's names, built once.
fn catalog() -> &'static [CString] {
    static CATALOG: OnceLock<Vec<CString>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        MODELS
            .iter()
            .chain(std::iter::once(&WEB_DEMO_DEFAULT_MODEL))
            // The names are constants without NUL bytes (a test checks every one is here),
            // so nothing is dropped; no panic can start on this path.
            .filter_map(|m| CString::new(*m).ok())
            .collect()
    })
}

/// The static C string equal to `name`, which is one of the catalog's names.
fn interned(name: &str) -> *const c_char {
    catalog()
        .iter()
        .find(|c| c.to_bytes() == name.as_bytes())
        .map_or(std::ptr::null(), |c| c.as_ptr())
}

/// Resolves a model name like g4f's Upstage provider (`get_model`): an exact (case-sensitive) name of the
/// catalog is returned as is, an alias (`"solar-mini"`) returns its target, anything else
/// (NULL, empty, unknown, invalid UTF-8) returns the web demo's default, `"solar-pro"`.
/// Pure, no I/O. The result has static storage (never free it) and is never NULL.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn upstage_resolve_model(name: *const c_char) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // NULL and invalid UTF-8 resolve like an unknown name: this function never fails.
        let name = opt_str_arg(name, "name").ok().flatten().unwrap_or("");
        interned(get_model(name))
    })
}

/// The number of models in the legacy web demo's catalog (3).
#[no_mangle]
pub extern "C" fn upstage_model_count() -> usize {
    MODELS.len()
}

/// The catalog's model at `index` (0-based, in the order of g4f's Upstage provider), or NULL when `index` is out
/// of range. Static storage: never free it.
#[no_mangle]
pub extern "C" fn upstage_model_at(index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        if index < MODELS.len() {
            catalog()[index].as_ptr()
        } else {
            std::ptr::null()
        }
    })
}

/// Flattens a conversation into one prompt exactly like g4f's Upstage provider
/// (`format_prompt`), for the legacy web demo.
///
/// `messages_json` is a JSON array of `{"role": ..., "content": ...}` objects. On success
/// `*out_len` receives the full length of the prompt in bytes (without the NUL) and, when
/// `cap > *out_len`, `buf` receives the NUL-terminated prompt; otherwise `buf` is left
/// untouched, so call again with a buffer of `*out_len + 1` bytes (the snprintf pattern).
/// `buf` may be NULL when `cap` is 0. Pure, no I/O.
///
/// @return `UPSTAGE_OK`; `UPSTAGE_ERR_NULL_ARGUMENT` (messages_json or out_len NULL, or buf
///         NULL with cap > 0); `UPSTAGE_ERR_INVALID_ARGUMENT` (invalid UTF-8 or JSON, not an
///         array, empty array, a message without a string role).
///
/// # Safety
///
/// `messages_json` is a NUL-terminated string; `buf` is valid for `cap` bytes of writes;
/// `out_len` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_format_prompt(
    messages_json: *const c_char,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let json = str_arg(messages_json, "messages_json")?;
        let out_len = out_arg(out_len, "out_len")?;
        let buf = out_buffer(buf, cap, "buf")?;
        let prompt = crate::web_demo::format_prompt_json(json)?;
        buf.fill_if_it_fits(&prompt);
        out_len.write(prompt.len());
        Ok(UPSTAGE_OK)
    })
}
