//! stub
/// x
pub const WEB_DEMO_DEFAULT_MODEL: &str = "solar-pro";
/// x
pub const API_DEFAULT_MODEL: &str = "solar-pro4";
/// x
pub const MODELS: [&str; 3] = ["upstage/solar-1-mini-chat", "upstage/solar-1-mini-chat-ja", "solar-pro"];
/// x
pub const MODEL_ALIASES: [(&str, &str); 1] = [("solar-mini", "upstage/solar-1-mini-chat-ja")];
/// x
pub const WORKING: bool = false;
/// x
pub const WEB_DEMO_URL: &str = "https://console.upstage.ai/playground/chat";
/// x
pub fn get_model(name: &str) -> &'static str { MODELS.iter().find(|m| **m == name).copied().or_else(|| MODEL_ALIASES.iter().find(|a| a.0 == name).map(|a| a.1)).unwrap_or(WEB_DEMO_DEFAULT_MODEL) }
