//! (tests added by the pgp work)
