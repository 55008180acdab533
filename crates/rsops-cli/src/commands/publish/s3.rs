//! S3: `PutObject` of the file's bytes to `bucket`/`key`, with the AWS SDK's
//! default configuration as sops loads it (region, credentials and profile
//! from the environment and the shared files; `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_S3` redirect it).

use super::UploadError;

/// Uploads `bytes` as the object `key` of `bucket`.
#[cfg(feature = "aws")]
pub fn upload(bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), UploadError> {
    use aws_config::timeout::TimeoutConfig;
    use aws_config::BehaviorVersion;
    use aws_sdk_s3::error::DisplayErrorContext;
    use aws_sdk_s3::primitives::ByteStream;
    use rsops_keys::runtime;

    let put = async {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(runtime::CONNECT_TIMEOUT)
            .operation_timeout(runtime::REQUEST_TIMEOUT)
            .build();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .load()
            .await;
        aws_sdk_s3::Client::new(&config)
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| UploadError::S3(format!("S3 PutObject: {}", DisplayErrorContext(&e))))
    };
    runtime::block_on(put).map_err(|e| UploadError::S3(e.to_string()))?
}

/// Without the `aws` feature there is no S3 client.
#[cfg(not(feature = "aws"))]
pub fn upload(_bucket: &str, _key: &str, _bytes: Vec<u8>) -> Result<(), UploadError> {
    Err(UploadError::NotBuilt("S3", "aws"))
}
