//! The `ENC[AES256_GCM,...]` value codec (FORMAT.md §3) and the typed
//! plaintext serialisation of tree values (§3.3).
