//! (tests added by the keygroups work)
