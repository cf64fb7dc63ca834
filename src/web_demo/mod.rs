//! The legacy web demo: the model catalog, prompt flattening and request shape of g4f's
//! `Upstage` provider (g4f 6.7.1), for the [`Flavor::WebDemo`](crate::Flavor::WebDemo)
//! dialect.
//!
//! The provider posted the whole conversation, flattened into one prompt by
//! [`format_prompt`], to an undocumented demo endpoint with a browser's headers, and resolved
//! model names with a forgiving lookup ([`resolve_model`]) that never fails. Upstream, the
//! provider no longer works ([`WORKING`] is `false`); the official API flavor is what to use.

mod prompt;
mod python;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::request::ChatRequest;

pub use prompt::{content_to_string, format_prompt, format_prompt_json, format_prompt_parts};

/// The web demo's API host (dead upstream).
pub const BASE_URL: &str = "https://ap-northeast-2.apistage.ai/v1";

/// The web demo's chat path, below [`BASE_URL`].
pub(crate) const CHAT_PATH: &str = "/web/demo/chat/completions";

/// The exact headers the provider sent to the web demo, in its order.
pub(crate) const HEADERS: [(&str, &str); 16] = [
    ("accept", "*/*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("cache-control", "no-cache"),
    ("content-type", "application/json"),
    ("dnt", "1"),
    ("origin", "https://console.upstage.ai"),
    ("pragma", "no-cache"),
    ("priority", "u=1, i"),
    ("referer", "https://console.upstage.ai/"),
    ("sec-ch-ua", "\"Not?A_Brand\";v=\"99\", \"Chromium\";v=\"130\""),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-fetch-dest", "empty"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "cross-site"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
];

/// The JSON body the provider sent: the conversation flattened into one user message, the
/// model resolved with [`resolve_model`], every other parameter passed through.
pub(crate) fn request_body(request: &ChatRequest, stream: bool) -> Result<Vec<u8>> {
    request.check_not_empty()?;
    let params = request.params();
    let mut object = Map::with_capacity(3 + params.len());
    let prompt = format_prompt(request.messages())?;
    let user = serde_json::json!([{"role": "user", "content": prompt}]);
    object.insert("stream".into(), stream.into());
    object.insert("messages".into(), user);
    let model = resolve_model(request.model_name().unwrap_or(""));
    object.insert("model".into(), model.into());
    for (name, value) in params {
        object.insert(name.clone(), value.clone());
    }
    serde_json::to_vec(&Value::Object(object))
        .map_err(|e| Error::invalid_argument(format!("cannot serialize the request: {e}")))
}

/// The web demo's default model, used for any name [`resolve_model`] does not recognise.
pub const DEFAULT_MODEL: &str = "solar-pro";

/// The models the web demo accepts, in the order the original provider lists them.
pub const MODELS: [&str; 3] = [
    "upstage/solar-1-mini-chat",
    "upstage/solar-1-mini-chat-ja",
    DEFAULT_MODEL,
];

/// Short names and the model each one stands for, as `(alias, model)` pairs.
///
/// The original source lists the key `solar-mini` twice: first mapped to
/// `upstage/solar-1-mini-chat`, then to `upstage/solar-1-mini-chat-ja`. A Python dict literal
/// keeps the last value for a repeated key, so the table the provider actually used has a
/// single entry pointing to the Japanese model. This is that effective table.
pub const MODEL_ALIASES: [(&str, &str); 1] = [("solar-mini", "upstage/solar-1-mini-chat-ja")];

/// Whether the provider works upstream: `false`, g4f moved it to `not_working`.
pub const WORKING: bool = false;

/// The page of the web demo the provider imitated (its `url` attribute).
pub const URL: &str = "https://console.upstage.ai/playground/chat";

/// Resolves a requested model name the way the original provider does.
///
/// An exact, case-sensitive entry of [`MODELS`] is returned as is; else an exact alias of
/// [`MODEL_ALIASES`] returns its target; else anything at all (empty, unknown, differently
/// cased) returns [`DEFAULT_MODEL`]. It never fails.
pub fn resolve_model(name: &str) -> &'static str {
    if let Some(model) = MODELS.iter().find(|model| **model == name) {
        return model;
    }
    MODEL_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(DEFAULT_MODEL, |(_, model)| model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_the_original_provider() {
        assert_eq!(DEFAULT_MODEL, "solar-pro");
        assert_eq!(
            MODELS,
            [
                "upstage/solar-1-mini-chat",
                "upstage/solar-1-mini-chat-ja",
                "solar-pro"
            ]
        );
        assert_eq!(
            MODEL_ALIASES,
            [("solar-mini", "upstage/solar-1-mini-chat-ja")]
        );
        const { assert!(!WORKING) };
        assert_eq!(URL, "https://console.upstage.ai/playground/chat");
    }

    #[test]
    fn default_and_alias_targets_are_known_models() {
        assert!(MODELS.contains(&DEFAULT_MODEL));
        for (alias, target) in MODEL_ALIASES {
            assert!(MODELS.contains(&target), "{alias} -> {target}");
            assert!(!MODELS.contains(&alias), "alias {alias} shadows a model");
        }
    }

    #[test]
    fn known_models_resolve_to_themselves() {
        for model in MODELS {
            assert_eq!(resolve_model(model), model);
        }
    }

    #[test]
    fn the_alias_resolves_to_the_japanese_model() {
        assert_eq!(resolve_model("solar-mini"), "upstage/solar-1-mini-chat-ja");
    }

    #[test]
    fn anything_else_becomes_the_default() {
        for name in [
            "",
            " ",
            "solar-pro ",
            " solar-pro",
            "SOLAR-PRO",
            "Solar-Mini",
            "solar-mini ",
            "solar-pro4",
            crate::DEFAULT_MODEL,
            "upstage/solar-1-mini-chat-JA",
            "solar-1-mini-chat",
            "gpt-4o",
            "solar-pro\0",
        ] {
            assert_eq!(resolve_model(name), DEFAULT_MODEL, "{name:?}");
        }
    }

    #[test]
    fn result_is_static_and_independent_of_the_input_buffer() {
        let owned = String::from("upstage/solar-1-mini-chat");
        let model = resolve_model(&owned);
        drop(owned);
        assert_eq!(model, "upstage/solar-1-mini-chat");
    }
}
