//! Retries of HTTP key calls on transient failures, with the policies of
//! the Go clients sops uses:
//!
//! - Azure (`azcore`'s retry policy): HTTP 408, 429, 500, 502, 503, 504 and
//!   connection failures; at most 3 retries; before retry `n` (from 1)
//!   `(2^n - 1) × 800 ms × [0.8, 1.3)`, at most 60 s, or the server's
//!   `Retry-After` when it gives one (within the same 60 s);
//! - GCP Cloud KMS (`gax` call options of `encrypt`/`decrypt`): HTTP 503
//!   and 504; pauses drawn uniformly from `(0, d]` where `d` starts at
//!   100 ms and grows ×1.3 up to 60 s; no retry count, but the call as a
//!   whole stops after 60 s.
//!
//! A request that timed out is not sent again (a server that does not
//! answer is given up on, as before).
//!
//! `RSOPS_TEST_RETRY_BASE_MS` (tests only) replaces the first delay
//! (800 ms, 100 ms) and scales the other bounds with it, so that the
//! suite's flaky servers cost milliseconds.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use reqwest::header::RETRY_AFTER;
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::env as vars;

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// `azcore`'s default retry options.
    Azure,
    /// `gax`'s backoff for Cloud KMS `encrypt`/`decrypt`.
    Gcp,
}

impl Policy {
    /// The first delay (and the unit of the others).
    fn base(self) -> Duration {
        let test = std::env::var(vars::RSOPS_TEST_RETRY_BASE_MS)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        test.unwrap_or(match self {
            Policy::Azure => Duration::from_millis(800),
            Policy::Gcp => Duration::from_millis(100),
        })
    }

    /// Whether a reply with `status` is sent again.
    fn retries_status(self, status: StatusCode) -> bool {
        match self {
            Policy::Azure => matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504),
            Policy::Gcp => matches!(status.as_u16(), 503 | 504),
        }
    }

    /// Whether a failed send (no reply) is sent again.
    fn retries_error(self, e: &reqwest::Error) -> bool {
        self == Policy::Azure && e.is_connect() && !e.is_timeout()
    }

    /// Most tries in all (`None`: bounded by time only).
    fn max_tries(self) -> Option<u32> {
        match self {
            Policy::Azure => Some(4),
            Policy::Gcp => None,
        }
    }
}

/// The longest pause, and the time budget of a GCP call: 60 s, or 600
/// units when the base is changed for tests.
fn ceiling(policy: Policy) -> Duration {
    match policy {
        Policy::Azure => policy.base() * 75,
        Policy::Gcp => policy.base() * 600,
    }
}

/// What a retried request ended with, and how many times it was sent.
pub(crate) struct Sent {
    /// The last reply or error.
    pub(crate) result: Result<Response, reqwest::Error>,
    /// How many times the request went out.
    pub(crate) tries: u32,
}

/// Sends the request `build` makes, again after transient failures, as
/// `policy` says.
pub(crate) async fn send(policy: Policy, build: impl Fn() -> RequestBuilder) -> Sent {
    let start = Instant::now();
    let ceiling = ceiling(policy);
    let mut gax_delay = policy.base();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let result = build().send().await;
        let retry_after = match &result {
            Ok(r) if policy.retries_status(r.status()) => Some(retry_after(r)),
            Err(e) if policy.retries_error(e) => Some(None),
            _ => None,
        };
        let Some(server_delay) = retry_after else {
            return Sent { result, tries };
        };
        if policy.max_tries().is_some_and(|max| tries >= max) {
            return Sent { result, tries };
        }
        let delay = match policy {
            // A server asking for a longer pause than the cap is not
            // retried (azcore).
            Policy::Azure if server_delay.is_some_and(|d| d > ceiling) => {
                return Sent { result, tries };
            }
            Policy::Azure => server_delay
                .unwrap_or_else(|| azure_delay(policy.base(), tries))
                .min(ceiling),
            Policy::Gcp => {
                let d = jittered(gax_delay);
                gax_delay = gax_delay.mul_f64(1.3).min(ceiling);
                d
            }
        };
        if policy == Policy::Gcp && start.elapsed() + delay >= ceiling {
            return Sent { result, tries };
        }
        // Release the connection before waiting.
        drop(result);
        tokio::time::sleep(delay).await;
    }
}

/// `azcore`'s delay before retry `n`: `(2^n - 1) × base × [0.8, 1.3)`.
fn azure_delay(base: Duration, n: u32) -> Duration {
    let factor = f64::from((1u32 << n.min(16)) - 1);
    base.mul_f64(factor * (0.8 + random_unit() / 2.0))
}

/// `gax`'s pause: uniform in `(0, d]`.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(random_unit()).max(Duration::from_nanos(1))
}

/// The server's requested pause, if any: `retry-after-ms`,
/// `x-ms-retry-after-ms` (milliseconds), `Retry-After` (seconds).
fn retry_after(response: &Response) -> Option<Duration> {
    let number = |name: &str| {
        response
            .headers()
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    number("retry-after-ms")
        .or_else(|| number("x-ms-retry-after-ms"))
        .map(Duration::from_millis)
        .or_else(|| number(RETRY_AFTER.as_str()).map(Duration::from_secs))
}

/// A number in `[0, 1)` for jitter (not for anything secret): the
/// standard library's randomly keyed hasher over the time.
fn random_unit() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // 53 random bits as a fraction.
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `" after N attempts"` when the request was sent more than once.
pub(crate) fn attempts_note(tries: u32) -> String {
    if tries > 1 {
        format!(" after {tries} attempts")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_delays_grow_like_azcore() {
        let base = Duration::from_millis(800);
        for (n, low, high) in [(1, 640, 1040), (2, 1920, 3120), (3, 4480, 7280)] {
            let d = azure_delay(base, n);
            assert!(
                d >= Duration::from_millis(low) && d < Duration::from_millis(high),
                "retry {n}: {d:?}"
            );
        }
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let d = Duration::from_millis(100);
        let draws: Vec<Duration> = (0..64).map(|_| jittered(d)).collect();
        assert!(draws.iter().all(|x| *x > Duration::ZERO && *x <= d));
        assert!(draws.iter().any(|x| *x != draws[0]), "{draws:?}");
    }

    #[test]
    fn statuses_retried_per_policy() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(Policy::Azure.retries_status(StatusCode::from_u16(code).unwrap()));
        }
        assert!(!Policy::Azure.retries_status(StatusCode::from_u16(501).unwrap()));
        assert!(!Policy::Azure.retries_status(StatusCode::FORBIDDEN));
        assert!(Policy::Gcp.retries_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(Policy::Gcp.retries_status(StatusCode::GATEWAY_TIMEOUT));
        assert!(!Policy::Gcp.retries_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(!Policy::Gcp.retries_status(StatusCode::INTERNAL_SERVER_ERROR));
    }

    #[test]
    fn notes_count_attempts_only_when_retried() {
        assert_eq!(attempts_note(1), "");
        assert_eq!(attempts_note(4), " after 4 attempts");
    }
}
