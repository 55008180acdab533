//! Shamir secret sharing over GF(2^8) exactly as sops does it (KEYS.md §10).
