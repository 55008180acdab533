//! (tests added by the edit work)
