//! Vault KV reads and writes, for `publish`: the secret at a path of a KV
//! engine (v1 or v2, the caller builds the path and body), with the client
//! settings of the transit calls (TLS, token, namespace, headers, retries,
//! timeout, proxy).

use super::transit::{self, Settings};
use super::{vars, KvOp, VaultError};
use crate::env::Env;
use crate::runtime;

/// The Vault client's default address.
const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// The address the Vault client sops uses for `publish` talks to:
/// `address` when not empty, else `VAULT_AGENT_ADDR`, else `VAULT_ADDR`,
/// else `https://127.0.0.1:8200`.
pub fn address(address: &str) -> String {
    address_in(address, &Env::process())
}

fn address_in(address: &str, env: &Env) -> String {
    if !address.is_empty() {
        return address.to_owned();
    }
    env.get(vars::VAULT_AGENT_ADDR)
        .or_else(|| env.get(vars::VAULT_ADDR))
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned())
}

/// A configured client for one Vault address.
pub struct KvClient {
    settings: Settings,
}

impl KvClient {
    /// The client for `address` (see [`address`]), configured from the
    /// environment.
    pub fn new(address: &str) -> Result<KvClient, VaultError> {
        let env = Env::process();
        let settings = transit::client_settings(address_in(address, &env), &env)?;
        Ok(KvClient { settings })
    }

    /// `GET /v1/<path>`: the answer's `data` object; `None` when there is no
    /// secret (404) or no `data`.
    pub fn read(&self, path: &str) -> Result<Option<serde_json::Value>, VaultError> {
        match self.call(KvOp::Read, reqwest::Method::GET, path, None) {
            Ok(answer) => Ok(answer.get("data").filter(|d| !d.is_null()).cloned()),
            Err(VaultError::Kv {
                failure: super::CallFailure::Status { status: 404, .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /v1/<path>` with `body` as JSON.
    pub fn write(&self, path: &str, body: &serde_json::Value) -> Result<(), VaultError> {
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| VaultError::Client(e.to_string()))?,
        );
        self.call(KvOp::Write, reqwest::Method::PUT, path, Some(&bytes))
            .map(|_| ())
    }

    fn call(
        &self,
        op: KvOp,
        method: reqwest::Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<serde_json::Value, VaultError> {
        let url = format!(
            "{}/v1/{}",
            self.settings.base.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        let fail = |failure| VaultError::Kv {
            op,
            path: path.to_owned(),
            url: url.clone(),
            token: self.settings.token_source.clone(),
            failure,
        };
        runtime::block_on(transit::send_with_retries(
            &self.settings,
            method,
            &url,
            body,
        ))
        .map_err(|e| fail(super::CallFailure::Transport(e.to_string())))?
        .map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_order_is_the_rule_then_agent_then_vault_addr() {
        let env = Env::fixed(&[
            ("VAULT_AGENT_ADDR", "http://agent:1"),
            ("VAULT_ADDR", "http://addr:2"),
        ]);
        assert_eq!(address_in("http://rule:3", &env), "http://rule:3");
        assert_eq!(address_in("", &env), "http://agent:1");
        let env = Env::fixed(&[("VAULT_ADDR", "http://addr:2")]);
        assert_eq!(address_in("", &env), "http://addr:2");
        assert_eq!(address_in("", &Env::fixed(&[])), DEFAULT_ADDRESS);
    }
}
