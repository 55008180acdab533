//! S3: `PutObject` of the file's bytes to `bucket`/`key`, as one request
//! signed with AWS Signature Version 4 and sent with the HTTP client every
//! cloud back end shares.
//!
//! Region, credentials and profile come from the AWS SDK's default
//! configuration as sops loads it (the environment and the shared files).
//! The endpoint is resolved as the S3 SDK does: `AWS_ENDPOINT_URL_S3`, else
//! `AWS_ENDPOINT_URL` (or the profile's `endpoint_url`) redirect it, else
//! `https://s3.<region>.<partition's domain>` (`s3-fips`, `s3.dualstack`
//! with `AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`). The bucket
//! is addressed virtual-hosted style (`bucket.host`) when its name is a
//! DNS label and the endpoint's host is not an IP address, else path style
//! (`host/bucket`).

use super::UploadError;

/// Uploads `bytes` as the object `key` of `bucket`.
#[cfg(feature = "aws")]
pub fn upload(bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), UploadError> {
    let fail = |what: String| UploadError::S3(format!("S3 PutObject: {what}"));
    rsops_keys::runtime::block_on(put::put_object(bucket, key, bytes))
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)
}

/// Without the `aws` feature there is no S3 client.
#[cfg(not(feature = "aws"))]
pub fn upload(_bucket: &str, _key: &str, _bytes: Vec<u8>) -> Result<(), UploadError> {
    Err(UploadError::NotBuilt("S3", "aws"))
}

#[cfg(feature = "aws")]
mod put {
    use std::time::SystemTime;

    use aws_config::timeout::TimeoutConfig;
    use aws_config::{BehaviorVersion, SdkConfig};
    use aws_credential_types::provider::ProvideCredentials as _;
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
        SignableRequest, SigningSettings, UriPathNormalizationMode,
    };
    use reqwest::header::{HeaderName, HeaderValue};
    use reqwest::Url;
    use rsops_keys::error::error_chain;
    use rsops_keys::runtime;
    use sha2::{Digest, Sha256};

    /// Sends the `PutObject` request; what went wrong, for `S3 PutObject: `.
    pub(super) async fn put_object(bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(runtime::CONNECT_TIMEOUT)
            .operation_timeout(runtime::REQUEST_TIMEOUT)
            .build();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        let region = config.region().map(|r| r.as_ref().to_owned()).ok_or(
            "no AWS region is set (AWS_REGION, or `region` in the profile of the AWS config file)",
        )?;
        let target = Endpoint {
            custom: custom_endpoint(&config),
            fips: config.use_fips().unwrap_or(false),
            dual_stack: config.use_dual_stack().unwrap_or(false),
        }
        .object(&region, bucket, key)?;
        let provider = config
            .credentials_provider()
            .ok_or("no AWS credential provider is configured")?;
        let credentials =
            tokio::time::timeout(runtime::REQUEST_TIMEOUT, provider.provide_credentials())
                .await
                .map_err(|_| {
                    format!(
                        "the AWS credential sources did not answer within {} s",
                        runtime::REQUEST_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| format!("no AWS credentials: {}", error_chain(&e)))?;

        let headers = signed_headers(
            &target.url,
            &[],
            &sha256_hex(&bytes),
            credentials,
            &target.signing_region,
            SystemTime::now(),
        )?;
        // A redirect would go to a host the request is not signed for; S3's
        // own answer (e.g. `PermanentRedirect`) is the better error.
        let client = runtime::http_client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| error_chain(&e))?;
        let mut request = client.put(target.url.clone()).body(bytes);
        for (name, value, sensitive) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| format!("the signed header {name} is not a valid header value"))?;
            value.set_sensitive(sensitive);
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| error_chain(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(format!(
            "HTTP {} from {}: {}",
            status.as_u16(),
            target.url,
            error_text(&body)
                .or_else(|| status.canonical_reason().map(str::to_owned))
                .unwrap_or_else(|| "no error details".to_owned()),
        ))
    }

    /// The S3 endpoint the configuration names: `AWS_ENDPOINT_URL_S3` or the
    /// `s3` services section of the profile, else the global setting, as
    /// the S3 SDK reads them (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`).
    fn custom_endpoint(config: &SdkConfig) -> Option<String> {
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("S3")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .ok()?;
        config
            .service_config()
            .and_then(|c| c.load_config(key))
            .or_else(|| config.endpoint_url().map(str::to_owned))
            .filter(|url| !url.is_empty())
    }

    /// Where S3 requests go.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Endpoint {
        /// `AWS_ENDPOINT_URL(_S3)`.
        pub custom: Option<String>,
        /// `AWS_USE_FIPS_ENDPOINT`.
        pub fips: bool,
        /// `AWS_USE_DUALSTACK_ENDPOINT`.
        pub dual_stack: bool,
    }

    /// An object's URL and the region its requests are signed for.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Target {
        pub url: Url,
        pub signing_region: String,
    }

    impl Endpoint {
        /// The URL of `key` in `bucket`, for a client of `region`.
        pub(super) fn object(
            &self,
            region: &str,
            bucket: &str,
            key: &str,
        ) -> Result<Target, String> {
            if bucket.starts_with("arn:") {
                return Err(format!(
                    "bucket {bucket:?}: access point and other ARNs are not supported"
                ));
            }
            if key.split('/').any(|s| s == "." || s == "..") {
                return Err(format!(
                    "object key {key:?}: a `.` or `..` path segment cannot be sent"
                ));
            }
            let key = encode(key, true);
            let url = match &self.custom {
                Some(custom) => {
                    if self.fips {
                        return Err(
                            "a custom endpoint cannot be combined with FIPS (AWS_USE_FIPS_ENDPOINT)"
                                .into(),
                        );
                    }
                    if self.dual_stack {
                        return Err("a custom endpoint cannot be combined with dual-stack \
                                    (AWS_USE_DUALSTACK_ENDPOINT)"
                            .into());
                    }
                    custom_object_url(custom, bucket, &key)?
                }
                None => {
                    if region.is_empty()
                        || !region
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(format!(
                            "invalid AWS region {region:?}: not a valid DNS name"
                        ));
                    }
                    let (region, host) = self.aws_host(region);
                    let url = if virtual_hostable(bucket, false) {
                        format!("https://{bucket}.{host}/{key}")
                    } else {
                        format!("https://{host}/{}/{key}", encode(bucket, false))
                    };
                    return Ok(Target {
                        url: parse(&url)?,
                        signing_region: region.to_owned(),
                    });
                }
            };
            Ok(Target {
                url,
                signing_region: region.to_owned(),
            })
        }

        /// AWS's S3 host for `region` (and the region to sign for: the
        /// `aws-global` pseudo-region is us-east-1).
        fn aws_host<'a>(&self, region: &'a str) -> (&'a str, String) {
            let service = match (self.fips, self.dual_stack) {
                (false, false) => "s3",
                (true, false) => "s3-fips",
                (false, true) => "s3.dualstack",
                (true, true) => "s3-fips.dualstack",
            };
            if region == "aws-global" {
                return if self.fips || self.dual_stack {
                    ("us-east-1", format!("{service}.us-east-1.amazonaws.com"))
                } else {
                    ("us-east-1", "s3.amazonaws.com".to_owned())
                };
            }
            let suffix = [
                ("cn-", "amazonaws.com.cn"),
                ("us-iso-", "c2s.ic.gov"),
                ("us-isob-", "sc2s.sgov.gov"),
                ("us-isof-", "csp.hci.ic.gov"),
                ("eu-isoe-", "cloud.adc-e.uk"),
                ("eusc-", "amazonaws.eu"),
            ]
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or("amazonaws.com", |(_, suffix)| suffix);
            (region, format!("{service}.{region}.{suffix}"))
        }
    }

    /// The object's URL below a custom endpoint (`http(s)://host[:port][/path]`).
    fn custom_object_url(custom: &str, bucket: &str, key: &str) -> Result<Url, String> {
        let base = Url::parse(custom)
            .map_err(|e| format!("the endpoint URL {custom:?} is not a valid URL: {e}"))?;
        let scheme = base.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "the endpoint URL {custom:?} is not an http or https URL"
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(format!(
                "the endpoint URL {custom:?} has a query or a fragment"
            ));
        }
        let Some(host) = base.host_str() else {
            return Err(format!("the endpoint URL {custom:?} has no host"));
        };
        let authority = match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let path = base.path().trim_end_matches('/');
        let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
        let url = if !is_ip && virtual_hostable(bucket, scheme == "http") {
            format!("{scheme}://{bucket}.{authority}{path}/{key}")
        } else {
            format!(
                "{scheme}://{authority}{path}/{}/{key}",
                encode(bucket, false)
            )
        };
        parse(&url)
    }

    fn parse(url: &str) -> Result<Url, String> {
        Url::parse(url).map_err(|e| format!("the object URL {url:?} is not valid: {e}"))
    }

    /// Whether `bucket` can be the first label of the host name, as the S3
    /// SDK decides it: 3 to 63 lower-case letters, digits and `-`, starting
    /// and ending with a letter or digit, not an IPv4 address; with
    /// `dots` (an http endpoint), several such labels joined by `.`.
    pub(super) fn virtual_hostable(bucket: &str, dots: bool) -> bool {
        fn label(l: &str) -> bool {
            let b = l.as_bytes();
            let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            (3..=63).contains(&b.len())
                && edge(&b[0])
                && edge(&b[b.len() - 1])
                && b.iter().all(|c| edge(c) || *c == b'-')
        }
        if dots {
            bucket.split('.').all(label) && !is_ipv4(bucket)
        } else {
            label(bucket)
        }
    }

    fn is_ipv4(text: &str) -> bool {
        let parts: Vec<&str> = text.split('.').collect();
        parts.len() == 4
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }

    /// Percent-encoding as S3 wants it in a path: everything but RFC 3986's
    /// unreserved characters (and `/` in a key, which stays a separator),
    /// UTF-8 bytes as `%XX` with upper-case hex digits.
    pub(super) fn encode(text: &str, keep_slash: bool) -> String {
        let mut out = String::with_capacity(text.len());
        for b in text.bytes() {
            if b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~')
                || (keep_slash && b == b'/')
            {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    pub(super) fn sha256_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The headers that sign a `PUT` of a body with SHA-256 `body_sha256`
    /// to `url` (which also carries `extra` headers) at `time`:
    /// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (signed
    /// in) with temporary credentials, and `authorization`; each with
    /// whether its value is secret.
    pub(super) fn signed_headers(
        url: &Url,
        extra: &[(&str, &str)],
        body_sha256: &str,
        credentials: Credentials,
        region: &str,
        time: SystemTime,
    ) -> Result<Vec<(String, String, bool)>, String> {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.session_token_mode = SessionTokenMode::Include;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let request = SignableRequest::new(
            "PUT",
            url.as_str(),
            extra.iter().copied(),
            SignableBody::Precomputed(body_sha256.to_owned()),
        )
        .map_err(|e| format!("signing: {}", error_chain(&e)))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("signing: {}", error_chain(&e)))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        let mut out: Vec<(String, String, bool)> = extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned(), false))
            .collect();
        // The signature would let anyone replay the request: kept out of
        // debug output like the session token.
        out.extend(headers.into_iter().map(|h| {
            let secret = h.sensitive() || h.name().eq_ignore_ascii_case("authorization");
            (h.name().to_owned(), h.value().to_owned(), secret)
        }));
        Ok(out)
    }

    /// `Code: Message` of an S3 XML error body, if it has them.
    pub(super) fn error_text(body: &str) -> Option<String> {
        let element = |name: &str| {
            let open = format!("<{name}>");
            let start = body.find(&open)? + open.len();
            let len = body[start..].find(&format!("</{name}>"))?;
            Some(unescape(body[start..start + len].trim()))
        };
        match (element("Code"), element("Message")) {
            (Some(code), Some(message)) if !message.is_empty() => {
                Some(format!("{code}: {message}"))
            }
            (Some(code), _) => Some(code),
            (None, Some(message)) => Some(message),
            (None, None) => None,
        }
    }

    /// The five predefined XML entities.
    fn unescape(text: &str) -> String {
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_credential_types::Credentials;
    use reqwest::Url;

    use super::put::*;

    fn aws(region: &str, bucket: &str, key: &str) -> (String, String) {
        endpoint(None, false, false, region, bucket, key)
    }

    fn endpoint(
        custom: Option<&str>,
        fips: bool,
        dual_stack: bool,
        region: &str,
        bucket: &str,
        key: &str,
    ) -> (String, String) {
        let e = Endpoint {
            custom: custom.map(str::to_owned),
            fips,
            dual_stack,
        };
        match e.object(region, bucket, key) {
            Ok(t) => (t.url.to_string(), t.signing_region),
            Err(e) => ("error".into(), e),
        }
    }

    #[test]
    fn aws_endpoints_are_virtual_hosted_where_the_bucket_name_allows() {
        assert_eq!(
            aws("eu-west-1", "bkt", "p/s.yaml"),
            (
                "https://bkt.s3.eu-west-1.amazonaws.com/p/s.yaml".into(),
                "eu-west-1".into()
            )
        );
        // Dots, upper case and short names are path style (https).
        assert_eq!(
            aws("us-east-1", "my.bucket", "k").0,
            "https://s3.us-east-1.amazonaws.com/my.bucket/k"
        );
        assert_eq!(
            aws("us-east-1", "Bucket", "k").0,
            "https://s3.us-east-1.amazonaws.com/Bucket/k"
        );
        assert_eq!(
            aws("us-east-1", "ab", "k").0,
            "https://s3.us-east-1.amazonaws.com/ab/k"
        );
        assert_eq!(
            aws("us-west-2", "bucket name", "k").0,
            "https://s3.us-west-2.amazonaws.com/bucket%20name/k"
        );
        assert_eq!(
            aws("cn-north-1", "bkt", "k").0,
            "https://bkt.s3.cn-north-1.amazonaws.com.cn/k"
        );
        assert_eq!(
            aws("aws-global", "bkt", "k"),
            ("https://bkt.s3.amazonaws.com/k".into(), "us-east-1".into())
        );
        assert_eq!(
            endpoint(None, true, false, "us-east-1", "bkt", "k").0,
            "https://bkt.s3-fips.us-east-1.amazonaws.com/k"
        );
        assert_eq!(
            endpoint(None, true, true, "us-east-1", "bkt", "k").0,
            "https://bkt.s3-fips.dualstack.us-east-1.amazonaws.com/k"
        );
        assert_eq!(
            endpoint(None, false, true, "us-west-2", "b.c.d", "k").0,
            "https://s3.dualstack.us-west-2.amazonaws.com/b.c.d/k"
        );
        assert!(aws("a b", "bkt", "k").1.contains("invalid AWS region"));
    }

    #[test]
    fn custom_endpoints_use_path_style_for_ip_addresses() {
        let moto = Some("http://127.0.0.1:5000");
        assert_eq!(
            endpoint(moto, false, false, "us-east-1", "bkt", "ours/s.yaml"),
            (
                "http://127.0.0.1:5000/bkt/ours/s.yaml".into(),
                "us-east-1".into()
            )
        );
        assert_eq!(
            endpoint(Some("https://[::1]:9000/"), false, false, "r", "bkt", "k").0,
            "https://[::1]:9000/bkt/k"
        );
        assert_eq!(
            endpoint(
                Some("http://minio.local:9000"),
                false,
                false,
                "r",
                "bkt",
                "k"
            )
            .0,
            "http://bkt.minio.local:9000/k"
        );
        // http allows dotted buckets as host names, https does not.
        assert_eq!(
            endpoint(
                Some("http://example.com"),
                false,
                false,
                "r",
                "bucket.name",
                "k"
            )
            .0,
            "http://bucket.name.example.com/k"
        );
        assert_eq!(
            endpoint(
                Some("https://example.com"),
                false,
                false,
                "r",
                "bucket.name",
                "k"
            )
            .0,
            "https://example.com/bucket.name/k"
        );
        assert_eq!(
            endpoint(
                Some("https://h.example/base/"),
                false,
                false,
                "r",
                "99_ab",
                "k"
            )
            .0,
            "https://h.example/base/99_ab/k"
        );
        assert_eq!(
            endpoint(
                Some("https://h.example/base"),
                false,
                false,
                "r",
                "bkt",
                "k"
            )
            .0,
            "https://bkt.h.example/base/k"
        );
        for bad in ["ftp://h", "http://h/?q=1", "not a url"] {
            assert_eq!(endpoint(Some(bad), false, false, "r", "b", "k").0, "error");
        }
        assert!(endpoint(moto, true, false, "r", "bkt", "k")
            .1
            .contains("FIPS"));
        assert!(endpoint(moto, false, true, "r", "bkt", "k")
            .1
            .contains("dual-stack"));
    }

    #[test]
    fn keys_are_percent_encoded_as_s3_wants() {
        assert_eq!(
            encode("dir/a b+é~$.yaml", true),
            "dir/a%20b%2B%C3%A9~%24.yaml"
        );
        assert_eq!(encode("a/b", false), "a%2Fb");
        assert_eq!(
            aws("us-east-1", "bkt", "x y/ü.yaml").0,
            "https://bkt.s3.us-east-1.amazonaws.com/x%20y/%C3%BC.yaml"
        );
        // The URL parser would drop dot segments: such keys are refused.
        assert_eq!(aws("us-east-1", "bkt", "a/../b").0, "error");
        assert_eq!(aws("us-east-1", "bkt", "./b").0, "error");
        assert_eq!(aws("us-east-1", "arn:aws:s3:::x", "k").0, "error");
        assert!(virtual_hostable("my-bucket-1", false));
        assert!(!virtual_hostable("-bkt", false));
        assert!(!virtual_hostable("192.168.1.1", true));
        assert!(!virtual_hostable("a.bcd", true));
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn header<'a>(headers: &'a [(String, String, bool)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v, _)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    }

    /// The "PUT Object" example of AWS's documentation of header-based
    /// Signature Version 4 for S3.
    #[test]
    fn signature_matches_the_aws_documentation_example() {
        let body = b"Welcome to Amazon S3.";
        let sha = sha256_hex(body);
        assert_eq!(
            sha,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let url = Url::parse(&format!(
            "https://examplebucket.s3.amazonaws.com/{}",
            encode("test$file.text", true)
        ))
        .unwrap();
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let headers = signed_headers(
            &url,
            &[
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            &sha,
            credentials,
            "us-east-1",
            at(1_369_353_600), // 2013-05-24T00:00:00Z
        )
        .unwrap();
        assert_eq!(header(&headers, "x-amz-date"), "20130524T000000Z");
        assert_eq!(header(&headers, "x-amz-content-sha256"), sha);
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
        assert!(!headers.iter().any(|(n, _, _)| n == "x-amz-security-token"));
    }

    /// A vector computed with botocore's `S3SigV4Auth`: temporary
    /// credentials (the session token is signed in), a port, and a key with
    /// a space, `+` and non-ASCII letters.
    #[test]
    fn signature_with_a_session_token_matches_botocore() {
        let body = b"sops: {}\n";
        let endpoint = Endpoint {
            custom: Some("http://127.0.0.1:9000".into()),
            fips: false,
            dual_stack: false,
        };
        let target = endpoint
            .object("eu-west-1", "my-bucket", "dir/a bé+.yaml")
            .unwrap();
        assert_eq!(
            target.url.as_str(),
            "http://127.0.0.1:9000/my-bucket/dir/a%20b%C3%A9%2B.yaml"
        );
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("FQoGZXIvYXdzEXAMPLETOKEN//+/=".into()),
            None,
            "test",
        );
        let headers = signed_headers(
            &target.url,
            &[],
            &sha256_hex(body),
            credentials,
            &target.signing_region,
            at(1_796_621_419), // 2026-12-07T05:30:19Z
        )
        .unwrap();
        assert_eq!(header(&headers, "x-amz-date"), "20261207T053019Z");
        assert_eq!(
            header(&headers, "x-amz-security-token"),
            "FQoGZXIvYXdzEXAMPLETOKEN//+/="
        );
        assert_eq!(
            header(&headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/eu-west-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, \
             Signature=aa526d8f485d58f8bbc80f313ea867c1b6b65ea549c0b8200b43f36c374a4772"
        );
        let secret = |name: &str| {
            headers
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, s)| *s)
        };
        assert_eq!(secret("authorization"), Some(true));
        assert_eq!(secret("x-amz-security-token"), Some(true));
        assert_eq!(secret("x-amz-date"), Some(false));
    }

    #[test]
    fn error_bodies_give_code_and_message() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>\
                    <Message>The specified bucket does not exist &amp; never did</Message>\
                    <BucketName>nope</BucketName><RequestId>R1</RequestId></Error>";
        assert_eq!(
            error_text(body).as_deref(),
            Some("NoSuchBucket: The specified bucket does not exist & never did")
        );
        assert_eq!(
            error_text("<Error><Code>AccessDenied</Code></Error>").as_deref(),
            Some("AccessDenied")
        );
        assert_eq!(error_text("<html>bad gateway</html>"), None);
    }
}
