//! `age-plugin-rsopstest`: a TEST-ONLY age plugin, for rsops's plugin tests.
//!
//! It proves that rsops and sops run plugin binaries from `PATH` and speak
//! the age plugin protocol with them; it protects nothing. A recipient
//! `age1rsopstest1…` and its identity `AGE-PLUGIN-RSOPSTEST-1…` carry the
//! same few bytes (a key id); wrapping writes the file key **in the clear**
//! into an `rsopstest` stanza tagged with that id, and unwrapping returns it
//! only for an identity with the same id, so a wrong identity fails as a
//! real one would.
//!
//! Run without arguments (or with a key id as the only argument) it prints
//! a new identity file, as `age-keygen` does: `# recipient: …` and the
//! identity.

use std::collections::HashMap;
use std::io;

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{print_new_identity, run_state_machine, Callbacks, PluginHandler};

/// The plugin's name (`age-plugin-NAME`, `age1NAME1…`).
const PLUGIN_NAME: &str = "rsopstest";
/// The stanza tag of wrapped file keys.
const STANZA_TAG: &str = "rsopstest";
/// The key id of identities made without an argument.
const DEFAULT_ID: &[u8] = b"rsops-test-only";

/// A key id as a stanza argument (lowercase hex).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Both state machines.
struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Recipients;
    type IdentityV1 = Identities;

    fn recipient_v1(self) -> io::Result<Recipients> {
        Ok(Recipients(Vec::new()))
    }

    fn identity_v1(self) -> io::Result<Identities> {
        Ok(Identities(Vec::new()))
    }
}

/// The key ids to wrap file keys for.
struct Recipients(Vec<Vec<u8>>);

impl RecipientPluginV1 for Recipients {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        if plugin_name != PLUGIN_NAME || bytes.is_empty() {
            return Err(recipient::Error::Recipient {
                index,
                message: "not an rsopstest recipient".to_owned(),
            });
        }
        self.0.push(bytes.to_vec());
        Ok(())
    }

    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        if plugin_name != PLUGIN_NAME || bytes.is_empty() {
            return Err(recipient::Error::Identity {
                index,
                message: "not an rsopstest identity".to_owned(),
            });
        }
        self.0.push(bytes.to_vec());
        Ok(())
    }

    fn labels(&mut self) -> std::collections::HashSet<String> {
        std::collections::HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        Ok(Ok(file_keys
            .iter()
            .map(|file_key| {
                self.0
                    .iter()
                    .map(|id| Stanza {
                        tag: STANZA_TAG.to_owned(),
                        args: vec![hex(id)],
                        body: file_key.expose_secret().to_vec(),
                    })
                    .collect()
            })
            .collect()))
    }
}

/// The key ids of the identities given.
struct Identities(Vec<String>);

impl IdentityPluginV1 for Identities {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        if plugin_name != PLUGIN_NAME || bytes.is_empty() {
            return Err(identity::Error::Identity {
                index,
                message: "not an rsopstest identity".to_owned(),
            });
        }
        self.0.push(hex(bytes));
        Ok(())
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut out = HashMap::new();
        for (index, stanzas) in files.into_iter().enumerate() {
            let ours = stanzas
                .iter()
                .find(|s| s.tag == STANZA_TAG && s.args.len() == 1 && self.0.contains(&s.args[0]));
            if let Some(stanza) = ours {
                let key = FileKey::try_init_with_mut(|key| {
                    if stanza.body.len() == key.len() {
                        key.copy_from_slice(&stanza.body);
                        Ok(())
                    } else {
                        Err(vec![identity::Error::Stanza {
                            file_index: index,
                            stanza_index: 0,
                            message: "wrong file key length".to_owned(),
                        }])
                    }
                });
                out.insert(index, key);
            }
        }
        Ok(out)
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(machine) = args.iter().find_map(|a| a.strip_prefix("--age-plugin=")) {
        return run_state_machine(machine, Handler);
    }
    let id = args.first().map_or(DEFAULT_ID, |a| a.as_bytes());
    print_new_identity(PLUGIN_NAME, id, id);
    Ok(())
}
