//! (tests added by the exec work)
