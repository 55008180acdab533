//! `.sops.yaml`: creation rules and store settings (CONFIG.md).
