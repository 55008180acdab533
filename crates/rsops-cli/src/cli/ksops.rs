//! `rsops ksops`: the arguments are ksops's own, read as ksops reads them
//! (see `crate::settings::KsopsSettings::from_args`).

use clap::Args;

/// `rsops ksops [CONFIG | install [--with-kustomize] DIR]`.
#[derive(Debug, Args)]
pub struct KsopsArgs {
    /// The generator file (legacy exec plugin); none: a KRM function
    /// reading a ResourceList on stdin; or `install [--with-kustomize] DIR`.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<std::ffi::OsString>,
}
