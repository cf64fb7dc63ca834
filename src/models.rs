//! The model catalog of the original `Upstage` provider (g4f 6.7.1) and its model resolution.
//!
//! These are the facts of the "web demo" flavor. [`get_model`] reproduces the provider's
//! forgiving lookup: it never fails, and anything it does not know becomes the default model.

/// The web demo's default model, used for any name [`get_model`] does not recognise.
pub const WEB_DEMO_DEFAULT_MODEL: &str = "solar-pro";

/// The default model of the official Upstage API flavor.
pub const API_DEFAULT_MODEL: &str = "solar-pro4";

/// The models the web demo accepts, in the order the original provider lists them.
pub const MODELS: [&str; 3] = [
    "upstage/solar-1-mini-chat",
    "upstage/solar-1-mini-chat-ja",
    WEB_DEMO_DEFAULT_MODEL,
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
pub const WEB_DEMO_URL: &str = "https://console.upstage.ai/playground/chat";

/// Resolves a requested model name the way the original provider does.
///
/// An exact, case-sensitive entry of [`MODELS`] is returned as is; else an exact alias of
/// [`MODEL_ALIASES`] returns its target; else anything at all (empty, unknown, differently
/// cased) returns [`WEB_DEMO_DEFAULT_MODEL`]. It never fails.
pub fn get_model(name: &str) -> &'static str {
    if let Some(model) = MODELS.iter().find(|model| **model == name) {
        return model;
    }
    MODEL_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(WEB_DEMO_DEFAULT_MODEL, |(_, model)| model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_the_seed() {
        assert_eq!(WEB_DEMO_DEFAULT_MODEL, "solar-pro");
        assert_eq!(API_DEFAULT_MODEL, "solar-pro4");
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
        assert_eq!(WEB_DEMO_URL, "https://console.upstage.ai/playground/chat");
    }

    #[test]
    fn default_and_alias_targets_are_known_models() {
        assert!(MODELS.contains(&WEB_DEMO_DEFAULT_MODEL));
        for (alias, target) in MODEL_ALIASES {
            assert!(MODELS.contains(&target), "{alias} -> {target}");
            assert!(!MODELS.contains(&alias), "alias {alias} shadows a model");
        }
    }

    #[test]
    fn known_models_resolve_to_themselves() {
        for model in MODELS {
            assert_eq!(get_model(model), model);
        }
    }

    #[test]
    fn the_alias_resolves_to_the_japanese_model() {
        assert_eq!(get_model("solar-mini"), "upstage/solar-1-mini-chat-ja");
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
            API_DEFAULT_MODEL,
            "upstage/solar-1-mini-chat-JA",
            "solar-1-mini-chat",
            "gpt-4o",
            "solar-pro\0",
        ] {
            assert_eq!(get_model(name), WEB_DEMO_DEFAULT_MODEL, "{name:?}");
        }
    }

    #[test]
    fn result_is_static_and_independent_of_the_input_buffer() {
        let owned = String::from("upstage/solar-1-mini-chat");
        let model = get_model(&owned);
        drop(owned);
        assert_eq!(model, "upstage/solar-1-mini-chat");
    }
}
