//! Passphrase-protected age identity files (`age -p` of a keys file), as
//! sops reads them from `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, the key
//! command or the default keys file.
//!
//! The passphrase is asked for only when a file is decrypted and no other
//! identity matched first, once per identity file and process: through
//! `pinentry` (`$PINENTRY_PROGRAM`, else `pinentry` from `PATH`) or on the
//! terminal. Without a terminal and without an explicit `PINENTRY_PROGRAM`
//! nothing is asked: the identity fails at once with a message saying why,
//! so rsops never waits for input nobody can give.

use std::io::{BufReader, Cursor};
use std::sync::Mutex;

use age::armor::ArmoredReader;
use age::secrecy::SecretString;
use age_core::format::{FileKey, Stanza};

use crate::env;

/// The reader an encrypted identity is parsed from (armored or binary).
type Source = ArmoredReader<BufReader<Cursor<Vec<u8>>>>;

/// A passphrase-protected identity file, decrypted on first use.
///
/// The age crate's type caches its state in a `Cell`; the mutex makes it
/// shareable between the threads that unwrap data keys.
pub(super) struct EncryptedIdentity {
    inner: Mutex<age::encrypted::Identity<Source, PassphrasePrompt>>,
}

impl EncryptedIdentity {
    /// Parses a passphrase-encrypted age file read from `location` (a
    /// variable name or a path). `None` when the file is an age file that is
    /// not encrypted with a passphrase.
    pub(super) fn parse(content: &[u8], location: &str) -> Option<Result<Self, age::DecryptError>> {
        let reader = ArmoredReader::new(Cursor::new(content.to_vec()));
        let prompt = PassphrasePrompt {
            location: location.to_owned(),
        };
        // The largest scrypt work factor accepted, as Go's age (sops).
        let max_work_factor = Some(22);
        match age::encrypted::Identity::from_buffer(
            reader,
            Some(location.to_owned()),
            prompt,
            max_work_factor,
        ) {
            Ok(Some(identity)) => Some(Ok(EncryptedIdentity {
                inner: Mutex::new(identity),
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The identity, locked.
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, age::encrypted::Identity<Source, PassphrasePrompt>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl age::Identity for EncryptedIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.lock().unwrap_stanza(stanza)
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        self.lock().unwrap_stanzas(stanzas)
    }
}

/// Asks for the passphrase of one identity file.
#[derive(Clone, Debug)]
pub(super) struct PassphrasePrompt {
    /// The file's location, as shown in the prompt.
    location: String,
}

impl age::Callbacks for PassphrasePrompt {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, _description: &str) -> Option<SecretString> {
        let location = &self.location;
        if std::env::var_os(env::PINENTRY_PROGRAM).is_none() && !has_terminal() {
            eprintln!(
                "rsops: cannot ask for the passphrase of the age identity file '{location}': \
                 there is no terminal; run rsops from a terminal, set {} to a pinentry \
                 program, or use an identity file without a passphrase",
                env::PINENTRY_PROGRAM
            );
            return None;
        }
        let description = format!("Enter passphrase for identity '{location}':");
        match age::cli_common::read_secret(&description, "Passphrase", None) {
            Ok(passphrase) => Some(passphrase),
            Err(e) => {
                eprintln!(
                    "rsops: could not read the passphrase of the age identity file '{location}': {e}"
                );
                None
            }
        }
    }
}

/// Whether the process has a controlling terminal to prompt on.
fn has_terminal() -> bool {
    #[cfg(unix)]
    {
        std::fs::File::open("/dev/tty").is_ok()
    }
    #[cfg(not(unix))]
    {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal()
    }
}
