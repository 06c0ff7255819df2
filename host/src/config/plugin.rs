//! Validation of one `[[plugin]]` entry, and its `[plugin.config]` table → JSON.
//!
//! Parsing does not look at the file system: whether the `.wasm` exists and
//! compiles is the loader's question, so `check` works before plugins are built.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawOnError, RawPlugin};
use super::validate::{Checked, Validator};
use super::{values, OnError, PluginConfig};

/// One Wasm page; below it no module can even have a memory.
const MIN_MEMORY: u64 = 64 << 10;
/// The whole 32-bit address space.
const MAX_MEMORY: u64 = 4 << 30;
const MAX_NAME_LEN: usize = 64;
/// Far more warm instances than any machine has threads to call them.
const MAX_INSTANCES: i64 = 1024;

impl Validator {
    pub(super) fn plugin(
        &self,
        index: usize,
        raw: RawPlugin,
        names: &mut HashSet<String>,
    ) -> Checked<PluginConfig> {
        let key = |field: &str| format!("plugin[{index}].{field}");
        self.plugin_name(&key("name"), &raw.name)?;
        if !names.insert(raw.name.clone()) {
            return Err(self.invalid(
                &key("name"),
                format!(
                    "plugin name {:?} is used twice; expected unique names",
                    raw.name
                ),
            ));
        }
        if raw.path.is_empty() {
            return Err(self.invalid(&key("path"), "expected a path to a .wasm component"));
        }
        let path = PathBuf::from(&raw.path);
        let path = match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        };
        let deadline = self.duration(
            &key("deadline"),
            &raw.deadline,
            Duration::from_micros(1)..=Duration::from_secs(1),
        )?;
        let memory_limit = self.memory_limit(&key("memory_limit"), &raw.memory_limit.0)?;
        let instances = match raw.instances {
            Some(n) => Some(self.int(&key("instances"), n, 1..=MAX_INSTANCES)?),
            None => None,
        };
        let config_json = table_to_json(&raw.config)
            .map_err(|(sub, m)| self.invalid(&format!("{}{sub}", key("config")), m))?;
        Ok(PluginConfig {
            name: raw.name,
            path,
            on_error: match raw.on_error {
                RawOnError::Pass => OnError::Pass,
                RawOnError::Servfail => OnError::Servfail,
            },
            deadline,
            memory_limit,
            instances,
            config_json,
        })
    }

    /// Names appear in metric labels, logs and RFC 8914 extended errors: keep them plain.
    fn plugin_name(&self, key: &str, name: &str) -> Checked<()> {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if name.is_empty() || name.len() > MAX_NAME_LEN || !plain {
            return Err(self.invalid(
                key,
                format!(
                    "expected 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, '-', '_', '.', got {name:?}"
                ),
            ));
        }
        Ok(())
    }

    fn memory_limit(&self, key: &str, text: &str) -> Checked<usize> {
        let bytes = values::parse_size(text).map_err(|m| self.invalid(key, m))?;
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&bytes) {
            return Err(self.invalid(
                key,
                format!("expected a size from 64KiB to 4GiB, got {text:?}"),
            ));
        }
        usize::try_from(bytes)
            .map_err(|_| self.invalid(key, format!("{text:?} does not fit on this platform")))
    }
}

/// Serializes a TOML table as JSON; on failure returns the offending sub-key and why.
///
/// Not `serde_json::to_string(table)`: that would expose toml's private datetime
/// wrapper to plugins. Datetimes become RFC 3339 strings.
fn table_to_json(table: &toml::Table) -> Result<String, (String, String)> {
    let value = table_value(table, "")?;
    Ok(value.to_string())
}

fn table_value(table: &toml::Table, path: &str) -> Result<serde_json::Value, (String, String)> {
    table
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_json(v, &format!("{path}.{k}"))?)))
        .collect::<Result<serde_json::Map<_, _>, _>>()
        .map(serde_json::Value::Object)
}

fn to_json(value: &toml::Value, path: &str) -> Result<serde_json::Value, (String, String)> {
    use serde_json::Value as J;
    Ok(match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f)
                .map(J::Number)
                .ok_or_else(|| {
                    (
                        path.to_owned(),
                        format!("expected a finite number (JSON has no {f}), got {f}"),
                    )
                })?
        }
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => table_value(t, path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("valid TOML")
    }

    #[test]
    fn json_keeps_types_and_nesting() {
        let t = table("s = \"x\"\ni = -3\nf = 0.5\nb = true\na = [1, \"two\"]\n[n]\nk = \"v\"\n");
        let json: serde_json::Value = serde_json::from_str(&table_to_json(&t).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"s": "x", "i": -3, "f": 0.5, "b": true, "a": [1, "two"], "n": {"k": "v"}})
        );
    }

    #[test]
    fn empty_table_is_empty_object() {
        assert_eq!(table_to_json(&toml::Table::new()).unwrap(), "{}");
    }

    #[test]
    fn datetimes_become_strings() {
        let t = table("when = 1979-05-27T07:32:00Z\n");
        assert_eq!(
            table_to_json(&t).unwrap(),
            r#"{"when":"1979-05-27T07:32:00Z"}"#
        );
    }

    #[test]
    fn non_finite_floats_name_their_key() {
        let t = table("[deep]\nlist = [1.0, nan]\n");
        let (key, message) = table_to_json(&t).unwrap_err();
        assert_eq!(key, ".deep.list[1]");
        assert!(message.contains("finite"), "{message}");
        assert!(table_to_json(&table("x = inf\n")).is_err());
    }
}
