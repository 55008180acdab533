//! Decrypts (or encrypts) a sops file through remote key services, as a
//! library user would: the key operations go to `sops keyservice` or
//! `rsops keyservice` at the given addresses instead of this process's own
//! keys.
//!
//! ```sh
//! cargo run -p rsops-core --features keyservice --example keyservice -- \
//!     decrypt unix:///run/user/1000/sops.sock secret.enc.yaml
//! cargo run -p rsops-core --features keyservice --example keyservice -- \
//!     encrypt tcp://127.0.0.1:5000 plain.yaml age1…
//! ```
//!
//! The address may be a comma-separated list: the services are tried in
//! order, as `--keyservice` does. `local` in the list stands for this
//! process's own keys (sops's local key service).

use std::error::Error;
use std::io::Write;

use rsops_core::file::{self, EncryptOptions};
use rsops_core::metadata::Metadata;
use rsops_core::selection::Selection;
use rsops_format::{store, EmitOptions, Format, Sequential};
use rsops_keys::keyservice::{KeyServiceUrl, RemoteKeyService};
use rsops_keys::services::LOCAL_NAME;
use rsops_keys::{KeyServices, LocalKeyService, MasterKey};

/// The key services named by `list`, in order.
fn services(list: &str) -> Result<KeyServices, Box<dyn Error>> {
    let mut services = KeyServices::new();
    for name in list.split(',') {
        if name == "local" {
            services.push(LOCAL_NAME, Box::new(LocalKeyService::from_env()));
        } else {
            // RSOPS_KEYSERVICE_TIMEOUT / _CONNECT_TIMEOUT apply, as in the
            // rsops binary; `RemoteKeyService::new` ignores them.
            let url = KeyServiceUrl::parse(name).map_err(|e| format!("{name}: {e}"))?;
            services.push(name, Box::new(RemoteKeyService::from_env(url)));
        }
    }
    Ok(services)
}

fn decrypt(services: &KeyServices, path: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let format = Format::from_path(path);
    let input = std::fs::read(path)?;
    let (mut docs, metadata) = store::load_encrypted(format, &input, &Sequential)?;
    let metadata = Metadata::from_tree(&metadata.ok_or("the file has no sops metadata")?)?;
    // Keys in the file's order (no SOPS_DECRYPTION_ORDER), MAC checked.
    file::decrypt(&mut docs, &metadata, services, &[], false, &Sequential)?;
    Ok(store::emit_plain(format, &docs, &EmitOptions::default())?)
}

fn encrypt(
    services: &KeyServices,
    path: &str,
    recipients: &[String],
) -> Result<Vec<u8>, Box<dyn Error>> {
    let format = Format::from_path(path);
    let mut docs = store::load_plain(format, &std::fs::read(path)?)?;
    let options = EncryptOptions {
        key_groups: vec![recipients.iter().map(MasterKey::age).collect()],
        shamir_threshold: 0,
        selection: Some(Selection::default_rule()),
        mac_only_encrypted: false,
    };
    let now = time::OffsetDateTime::now_utc();
    let metadata = file::encrypt(&mut docs, &options, services, now)?;
    let emit = EmitOptions::default();
    Ok(store::emit_encrypted(
        format,
        &docs,
        &metadata.to_tree(),
        &emit,
    )?)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [op, list, path] if op == "decrypt" => decrypt(&services(list)?, path)?,
        [op, list, path, recipients @ ..] if op == "encrypt" && !recipients.is_empty() => {
            encrypt(&services(list)?, path, recipients)?
        }
        _ => {
            return Err("usage: keyservice decrypt SERVICES FILE | \
                        keyservice encrypt SERVICES FILE AGE_RECIPIENT..."
                .into())
        }
    };
    std::io::stdout().write_all(&out)?;
    Ok(())
}
