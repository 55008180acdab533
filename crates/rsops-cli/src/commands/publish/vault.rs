//! Vault KV: the decrypted values written as a secret, as sops writes them
//! (`<mount><path><name>` for KV v1, `<mount>data/<path><name>` with a
//! `{"data": …}` body for KV v2), after reading the current secret: an
//! unchanged one is not written again. The client is the Vault transit
//! keys' (token, namespace, TLS and the other `VAULT_*` settings).

use rsops_format::tree::Map;
#[cfg(feature = "vault")]
use rsops_format::tree::{Key, MapItem, Value};

use super::UploadError;

/// The address shown and used: the rule's, else the Vault client's default
/// (`VAULT_AGENT_ADDR`, `VAULT_ADDR`, `https://127.0.0.1:8200`).
pub fn address(rule_address: &str) -> String {
    #[cfg(feature = "vault")]
    {
        rsops_keys::kinds::hc_vault::kv::address(rule_address)
    }
    #[cfg(not(feature = "vault"))]
    {
        match rule_address {
            "" => "https://127.0.0.1:8200".to_owned(),
            a => a.to_owned(),
        }
    }
}

/// The secret's path after `/v1/`.
pub fn secret_path(mount: &str, path: &str, name: &str, version: u8) -> String {
    if version == 1 {
        format!("{mount}{path}{name}")
    } else {
        format!("{mount}data/{path}{name}")
    }
}

/// Writes the decrypted documents (their top-level entries merged) to the
/// secret at `secret_path`.
#[cfg(feature = "vault")]
pub fn upload(
    address: &str,
    secret_path: &str,
    version: u8,
    docs: &[Map],
    verbose: bool,
) -> Result<(), UploadError> {
    use rsops_keys::kinds::hc_vault::kv::KvClient;

    let data = documents_json(docs)?;
    let client = KvClient::new(address)?;
    match client.read(secret_path) {
        Ok(Some(existing)) if same(&data, existing.get("data")) => {
            if verbose {
                eprintln!("Secret in {secret_path} is already up-to-date.");
            }
            return Ok(());
        }
        Ok(_) => {}
        Err(e) => crate::warn(&format!(
            "Cannot check if destination secret already exists in {secret_path}. New version will be created even if the data has not been changed. ({e})"
        )),
    }
    let body = if version == 1 {
        data
    } else {
        serde_json::json!({ "data": data })
    };
    client.write(secret_path, &body)?;
    Ok(())
}

/// Without the `vault` feature there is no Vault client.
#[cfg(not(feature = "vault"))]
pub fn upload(
    _address: &str,
    _secret_path: &str,
    _version: u8,
    _docs: &[Map],
    _verbose: bool,
) -> Result<(), UploadError> {
    Err(UploadError::NotBuilt("HashiCorp Vault", "vault"))
}

/// sops's comparison of the new values with the stored secret: numbers
/// never compare equal (the Vault client decodes them as `json.Number`,
/// sops's values are Go numbers), everything else by value.
#[cfg(feature = "vault")]
fn same(new: &serde_json::Value, old: Option<&serde_json::Value>) -> bool {
    use serde_json::Value as J;
    let Some(old) = old else {
        return false;
    };
    match (new, old) {
        (J::Object(a), J::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| same(v, b.get(k)))
        }
        (J::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, Some(y)))
        }
        (J::Number(_), _) | (_, J::Number(_)) => false,
        (a, b) => a == b,
    }
}

/// The top-level entries of every document in one JSON object (a later
/// document's key replaces an earlier one's), comments left out.
#[cfg(feature = "vault")]
fn documents_json(docs: &[Map]) -> Result<serde_json::Value, UploadError> {
    let mut out = serde_json::Map::new();
    for doc in docs {
        if let serde_json::Value::Object(m) = map_json(doc)? {
            out.extend(m);
        }
    }
    Ok(serde_json::Value::Object(out))
}

#[cfg(feature = "vault")]
fn map_json(map: &Map) -> Result<serde_json::Value, UploadError> {
    let mut out = serde_json::Map::new();
    for item in &map.items {
        let MapItem::Entry(entry) = item else {
            continue;
        };
        let Key::Str(key) = &entry.key else {
            return Err(UploadError::VaultData(
                "a key that is not a string cannot be written to Vault".into(),
            ));
        };
        out.insert(key.clone(), value_json(&entry.value)?);
    }
    Ok(serde_json::Value::Object(out))
}

#[cfg(feature = "vault")]
fn value_json(value: &Value) -> Result<serde_json::Value, UploadError> {
    use serde_json::Value as J;
    Ok(match value {
        Value::Map(m) => map_json(m)?,
        Value::List(l) => J::Array(l.values().map(value_json).collect::<Result<_, _>>()?),
        Value::Str(s) | Value::Time(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| {
                UploadError::VaultData(
                    "a value is not a finite number (JSON cannot hold it)".into(),
                )
            })?,
        Value::Bool(b) => J::Bool(*b),
        Value::Null => J::Null,
    })
}

#[cfg(all(test, feature = "vault"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_become_one_json_object() {
        let mut inner = Map::new();
        inner.push("k", Value::Bool(true));
        let mut doc = Map::new();
        doc.push_comment("comment");
        doc.push("a", Value::Int(1));
        doc.push("b", Value::Map(inner));
        doc.push("c", Value::Str("x".into()));
        let mut second = Map::new();
        second.push("c", Value::Null);
        assert_eq!(
            documents_json(&[doc, second]).unwrap(),
            json!({"a": 1, "b": {"k": true}, "c": null})
        );
    }

    #[test]
    fn unchanged_secrets_compare_like_sops() {
        let data = json!({"a": "x", "b": {"c": [true, null]}});
        assert!(same(&data, Some(&data.clone())));
        assert!(!same(&data, Some(&json!({"a": "x"}))));
        assert!(!same(&data, None));
        let numbers = json!({"n": 1});
        assert!(!same(&numbers, Some(&numbers.clone())));
    }

    #[test]
    fn secret_paths_per_kv_version() {
        assert_eq!(secret_path("secret/", "app/", "f", 1), "secret/app/f");
        assert_eq!(secret_path("secret/", "app/", "f", 2), "secret/data/app/f");
    }
}
