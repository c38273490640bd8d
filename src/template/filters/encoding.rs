//! Encodings and digests of text: `b64encode`, `b64decode`, `sha256`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};
use sha2::{Digest, Sha256};

use super::fail;

/// Bytes of a string or bytes value; other kinds are an error naming `filter`.
fn bytes_of<'a>(filter: &str, value: &'a Value) -> Result<&'a [u8], Error> {
    match value.kind() {
        ValueKind::String => Ok(value.as_str().unwrap_or_default().as_bytes()),
        ValueKind::Bytes => Ok(value.as_bytes().unwrap_or_default()),
        ValueKind::Undefined => Err(ErrorKind::UndefinedError.into()),
        kind => Err(fail(format!("{filter}: expected a string, got {kind}"))),
    }
}

/// `text | b64encode`: standard-alphabet base64 with padding.
pub(super) fn b64encode(value: &Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes_of("b64encode", value)?))
}

/// `text | b64decode`: decodes standard-alphabet base64 (padding optional)
/// to a UTF-8 string.
pub(super) fn b64decode(text: &str) -> Result<String, Error> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    // base64's own messages quote the offending byte, which may be secret.
    let bytes = LENIENT
        .decode(text.trim())
        .map_err(|_| fail("b64decode: input is not valid base64".to_owned()))?;
    String::from_utf8(bytes)
        .map_err(|_| fail("b64decode: decoded bytes are not valid UTF-8 text".to_owned()))
}

/// `text | sha256`: lowercase hex SHA-256 of the UTF-8 bytes.
pub(super) fn sha256(value: &Value) -> Result<String, Error> {
    let digest = Sha256::digest(bytes_of("sha256", value)?);
    Ok(crate::hex::hex(&digest))
}
