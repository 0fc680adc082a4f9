//! A self-signed X.509 certificate for the signing key, so `GET /oauth2/v1/certs` can answer as
//! Google's does: `{kid: "-----BEGIN CERTIFICATE-----…"}` (what google-auth and other older
//! clients verify ID tokens with). Minimal DER, written by hand: version 3, serial, issuer =
//! subject = one CN, a validity window, the key, sha256WithRSAEncryption.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPublicKey;
use sha2::Sha256;

/// sha256WithRSAEncryption (1.2.840.113549.1.1.11).
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// id-at-commonName (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn positive_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        vec![0]
    } else {
        vec![]
    };
    content.extend(if trimmed.is_empty() { vec![0] } else { trimmed });
    tlv(0x02, &content)
}

fn name(common_name: &str) -> Vec<u8> {
    let attribute = seq(&[&tlv(0x06, COMMON_NAME), &tlv(0x0c, common_name.as_bytes())]);
    seq(&[&tlv(0x31, &attribute)])
}

fn utc_time(t: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
}

/// A PEM certificate for `public`, signed by `signer`, valid from an hour ago for two weeks.
pub fn self_signed_pem(
    signer: &SigningKey<Sha256>,
    public: &RsaPublicKey,
    serial: &[u8],
) -> anyhow::Result<String> {
    let algorithm = seq(&[&tlv(0x06, SHA256_WITH_RSA), &[0x05, 0x00]]);
    let subject = name("offline-access Google emulator");
    let now = chrono::Utc::now();
    let validity = seq(&[
        &utc_time(now - chrono::Duration::hours(1)),
        &utc_time(now + chrono::Duration::days(14)),
    ]);
    let spki = public.to_public_key_der()?;
    let tbs = seq(&[
        &tlv(0xa0, &positive_integer(&[2])),
        &positive_integer(serial),
        &algorithm,
        &subject,
        &validity,
        &subject,
        spki.as_bytes(),
    ]);
    let signature = signer.sign(&tbs).to_vec();
    let mut bits = vec![0u8];
    bits.extend(signature);
    let der = seq(&[&tbs, &algorithm, &tlv(0x03, &bits)]);
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(positive_integer(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(positive_integer(&[0, 0, 5]), vec![0x02, 1, 5]);
    }
}
