//! Option layers and their precedence.
//!
//! Every source of options (the attribute, `loadtest.toml`, `LOADTEST_*` variables, the command
//! line) becomes an [`OptionLayer`] of `name -> values` strings; layers are applied lowest first.
//! Values are strings so that one grammar parses them all, wherever they came from.

use crate::error::LayerError;
use crate::options as grammar;
use serde::{Deserialize, Serialize};

/// A value as the `#[load_test]` expansion emits it.
#[derive(Clone, Copy, Debug)]
pub enum OptionValue {
    /// One value (`users = 50` becomes `One("50")`).
    One(&'static str),
    /// A list (`tags = ["a", "b"]`).
    List(&'static [&'static str]),
}

/// One source of options: `name -> values`, in the order given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OptionLayer {
    /// The layer's name for error messages (`#[load_test] on checkout`, `LOADTEST_RATE`, `--rate`).
    pub source: String,
    /// `(option, values)`; one value unless the option takes a list.
    pub values: Vec<(String, Vec<String>)>,
}

impl OptionLayer {
    /// An empty layer named for error messages.
    pub fn new(source: impl Into<String>) -> Self {
        OptionLayer {
            source: source.into(),
            values: Vec::new(),
        }
    }

    /// The layer of a `#[load_test]` attribute.
    pub fn from_attribute(test: &str, options: &[(&'static str, OptionValue)]) -> Self {
        let mut layer = OptionLayer::new(format!("#[load_test] on `{test}`"));
        for (name, value) in options {
            let values = match value {
                OptionValue::One(v) => vec![v.to_string()],
                OptionValue::List(vs) => vs.iter().map(|v| v.to_string()).collect(),
            };
            layer.values.push((name.to_string(), values));
        }
        layer
    }

    /// The `LOADTEST_<OPTION>` variables of an environment (list options are comma-separated).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut layer = OptionLayer::new("the environment");
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("LOADTEST_") else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if let Some(info) = grammar::option(&name) {
                layer.set(info.name, split_list(info.kind, &value));
            }
        }
        layer
    }

    /// Sets an option, replacing an earlier value in this layer.
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        self.values.retain(|(n, _)| n != name);
        self.values.push((name.to_string(), values));
    }

    /// Sets an option from one string; list options are split on commas.
    pub fn set_str(&mut self, name: &str, value: &str) {
        let kind = grammar::option(name)
            .map(|o| o.kind)
            .unwrap_or(grammar::ValueKind::Str);
        self.set(name, split_list(kind, value));
    }

    /// Checks every value of the layer; the error names the layer, the option and the value.
    pub fn validate(&self) -> Result<(), LayerError> {
        for (name, values) in &self.values {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            grammar::check_value(name, &refs).map_err(|error| LayerError {
                layer: self.source.clone(),
                error,
            })?;
        }
        Ok(())
    }

    /// The values of an option, if the layer sets it.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the layer sets no option.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn split_list(kind: grammar::ValueKind, value: &str) -> Vec<String> {
    if kind == grammar::ValueKind::List {
        value
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        vec![value.to_string()]
    }
}

/// Options that choose the load model; setting one in a higher layer clears the other model's.
const CLOSED_ONLY: &[&str] = &["users", "think_time"];
const OPEN_ONLY: &[&str] = &["rate", "max_in_flight", "on_saturation"];

/// Applies layers lowest first and returns the effective `name -> values`.
///
/// A higher layer that picks a model clears the other model's options from lower layers, so
/// `--rate 100` turns a closed-model test into an open-model one. A `duration` from a higher
/// layer replaces lower layers' `stages` (keeping their peak as the constant level), and
/// `stages` replace a lower `duration`.
pub fn merge(layers: &[&OptionLayer]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for layer in layers {
        for (name, values) in &layer.values {
            let clears: Vec<&str> = match name.as_str() {
                "users" => OPEN_ONLY.to_vec(),
                "think_time" => vec!["rate"],
                "rate" => CLOSED_ONLY.to_vec(),
                "stages" => vec!["duration"],
                "duration" => vec!["stages"],
                _ => vec![],
            };
            if name == "duration"
                && let Some((_, stages)) = out.iter().find(|(n, _)| n == "stages")
            {
                let peak = stage_peak(stages);
                if let Some((key, v)) = peak
                    && !out.iter().any(|(n, _)| n == key)
                {
                    out.push((key.to_string(), vec![v]));
                }
            }
            if name == "stages" {
                // Rate stages make the test open; user stages make it closed.
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                match grammar::stages_are_rates(&refs) {
                    Ok(true) => out.retain(|(n, _)| !CLOSED_ONLY.contains(&n.as_str())),
                    Ok(false) => out.retain(|(n, _)| !OPEN_ONLY.contains(&n.as_str())),
                    Err(_) => {}
                }
            }
            out.retain(|(n, _)| n != name && !clears.contains(&n.as_str()));
            out.push((name.clone(), values.clone()));
        }
    }
    out
}

fn stage_peak(stages: &[String]) -> Option<(&'static str, String)> {
    let parsed: Vec<grammar::Stage> = stages
        .iter()
        .filter_map(|s| grammar::parse_stage(s).ok())
        .collect();
    let mut users = None::<u64>;
    let mut rate = None::<f64>;
    for st in &parsed {
        match st.level {
            grammar::StageLevel::Users(u) => users = Some(users.map_or(u, |m| m.max(u))),
            grammar::StageLevel::Rate(r) => {
                rate = Some(rate.map_or(r.per_second, |m: f64| m.max(r.per_second)))
            }
        }
    }
    match (users, rate) {
        (Some(u), _) => Some(("users", u.max(1).to_string())),
        (_, Some(r)) => Some(("rate", format!("{r}/s"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(&str, &str)]) -> OptionLayer {
        let mut l = OptionLayer::new("test");
        for (k, v) in pairs {
            l.set_str(k, v);
        }
        l
    }

    #[test]
    fn higher_layers_win_and_switch_models() {
        let attr = layer(&[("users", "50"), ("think_time", "1s"), ("duration", "30s")]);
        let cli = layer(&[("rate", "100"), ("duration", "2s")]);
        let merged = merge(&[&attr, &cli]);
        let names: Vec<&str> = merged.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["rate", "duration"]);
        assert_eq!(merged[1].1, ["2s"]);
    }

    #[test]
    fn duration_replaces_stages_with_their_peak() {
        let attr = layer(&[("stages", "1s:5,2s:20,1s:0")]);
        let cli = layer(&[("duration", "3s")]);
        let merged = merge(&[&attr, &cli]);
        assert!(merged.contains(&("users".into(), vec!["20".into()])));
        assert!(!merged.iter().any(|(n, _)| n == "stages"));
    }

    #[test]
    fn env_layer_reads_prefixed_variables() {
        let env = OptionLayer::from_env([
            ("LOADTEST_RATE".to_string(), "10/s".to_string()),
            ("LOADTEST_TAGS".to_string(), "a, b".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        assert_eq!(env.get("rate"), Some(&["10/s".to_string()][..]));
        assert_eq!(
            env.get("tags"),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(env.values.len(), 2);
    }
}
