//! stub
use serde_json::Value;
/// x
pub fn format_prompt_parts<'a, I>(messages: I) -> crate::Result<String> where I: IntoIterator<Item = (&'a str, &'a Value)> {
    let v: Vec<_> = messages.into_iter().collect();
    if v.is_empty() { return Err(crate::Error::invalid_argument("messages must not be empty")); }
    if v.len() == 1 { return Ok(content_to_string(v[0].1)); }
    let mut lines = vec![];
    for (r, c) in v { let s = content_to_string(c); if s.trim().is_empty() { continue; } let mut cs = r.chars(); let cap = match cs.next() { Some(f) => f.to_uppercase().collect::<String>() + &cs.as_str().to_lowercase(), None => String::new() }; lines.push(format!("{cap}: {s}")); }
    Ok(lines.join("\n") + "\nAssistant:")
}
/// x
pub fn format_prompt_json(j: &str) -> crate::Result<String> { let v: Vec<Value> = serde_json::from_str(j).map_err(|e| crate::Error::invalid_argument(e.to_string()))?; let pairs: Vec<(String, Value)> = v.into_iter().map(|m| (m["role"].as_str().unwrap_or("").to_owned(), m["content"].clone())).collect(); format_prompt_parts(pairs.iter().map(|(r, c)| (r.as_str(), c))) }
/// x
pub fn content_to_string(v: &Value) -> String { match v { Value::String(s) => s.clone(), Value::Null => String::new(), Value::Object(o) => o.get("text").map(content_to_string).unwrap_or_default(), Value::Array(a) => a.iter().filter(|x| x.get("type").and_then(Value::as_str).unwrap_or("text") == "text").map(content_to_string).collect(), Value::Bool(b) => if *b { "True".into() } else { "False".into() }, Value::Number(n) => n.to_string() } }
