//! (tests added by the set_unset work)
