//! Google Cloud Storage: the file's bytes uploaded with the JSON API
//! (`POST /upload/storage/v1/b/<bucket>/o?uploadType=media&name=<object>`),
//! authenticated like the GCP KMS keys. `STORAGE_EMULATOR_HOST` (honoured
//! by the Go storage client sops uses) sends the upload to an emulator,
//! without credentials.

use super::UploadError;
#[cfg(feature = "gcp")]
use rsops_keys::error::error_chain;

/// Uploads `bytes` as the object `object` of `bucket`.
#[cfg(feature = "gcp")]
pub fn upload(bucket: &str, object: &str, bytes: Vec<u8>) -> Result<(), UploadError> {
    use rsops_keys::runtime;

    let emulator = std::env::var(rsops_keys::env::STORAGE_EMULATOR_HOST)
        .ok()
        .filter(|h| !h.is_empty());
    let url = format!(
        "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
        base_url(emulator.as_deref()),
        encode(bucket),
        encode(object)
    );
    let fail = |what: String| UploadError::Gcs(format!("GCS upload to {url}: {what}"));
    let send = async {
        let client = runtime::http_client_builder()
            .build()
            .map_err(|e| fail(error_chain(&e)))?;
        let mut request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        if emulator.is_none() {
            let auth = rsops_keys::kinds::gcp_kms::authorization(bucket)
                .await
                .map_err(|e| UploadError::Gcs(e.to_string()))?;
            request = request.headers(auth);
        }
        let response = request.send().await.map_err(|e| fail(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let message: String = body.trim().chars().take(300).collect();
        Err(fail(format!("HTTP {}: {message}", status.as_u16())))
    };
    runtime::block_on(send).map_err(|e| UploadError::Gcs(e.to_string()))?
}

/// Without the `gcp` feature there is no GCS client.
#[cfg(not(feature = "gcp"))]
pub fn upload(_bucket: &str, _object: &str, _bytes: Vec<u8>) -> Result<(), UploadError> {
    Err(UploadError::NotBuilt("Google Cloud Storage", "gcp"))
}

/// The API's base URL: the emulator's (`http://` unless it names a scheme),
/// else Google's.
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
fn base_url(emulator: Option<&str>) -> String {
    match emulator {
        Some(host) if host.contains("://") => host.trim_end_matches('/').to_owned(),
        Some(host) => format!("http://{}", host.trim_end_matches('/')),
        None => "https://storage.googleapis.com".to_owned(),
    }
}

/// Percent-encoding of a path segment or query value (everything but
/// RFC 3986's unreserved characters).
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_and_emulator_hosts() {
        assert_eq!(encode("pfx/a b.yaml"), "pfx%2Fa%20b.yaml");
        assert_eq!(base_url(Some("127.0.0.1:9")), "http://127.0.0.1:9");
        assert_eq!(base_url(Some("https://h:1/")), "https://h:1");
        assert_eq!(base_url(None), "https://storage.googleapis.com");
    }
}
