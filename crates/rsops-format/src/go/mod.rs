//! Go's text forms of numbers, booleans and times, as sops (a Go program)
//! reads and writes them. The stores and the value codec of the core crate
//! all use this module, so each Go rule has one implementation:
//!
//! * [`strconv`]: `strconv.FormatFloat` (`'f'`, `'g'`, `'G'`, shortest
//!   digits) and the float forms of the YAML, JSON and dotenv/INI encoders;
//!   `strconv.ParseFloat`, `ParseInt`, `ParseUint`, `Atoi`, `ParseBool`.
//! * [`time`]: `time.Parse` with the RFC 3339 layout and with go-yaml's
//!   timestamp layouts, `Format(RFC3339)` and `Format(RFC3339Nano)`, and
//!   `Time.String()`.

pub mod strconv;
pub mod time;

pub use strconv::{
    atoi, format_float_flat, format_float_g, format_float_json, format_float_plain,
    format_float_yaml, parse_bool, parse_float, parse_int, parse_uint, underscores_ok,
};
pub use time::{format_rfc3339_utc, normalize_time_nano, normalize_time_seconds, Time};
