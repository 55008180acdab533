//! (tests added by the git_check work)
