//! Table-driven checks: the token endpoint's refusals, and ID tokens verified against the
//! emulator's keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::client::{jwt_parts, Emu};

/// One row of a refusal table: a token request's form, the status and the `error` it gets.
pub type Refusal<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

/// The token endpoint's refusals as a table: each form must get `(status, error)`.
pub async fn assert_token_errors(emu: &Emu, cases: &[Refusal<'_>]) {
    for (form, status, error) in cases {
        let (got, body) = emu.token(form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (*status, Some(*error)),
            "{form:?}: {body}"
        );
    }
}

/// Verifies an RS256 JWT against the emulator's JWKS.
pub async fn verify_rs256(emu: &Emu, jwt: &str) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use rsa::{BigUint, RsaPublicKey};
    let jwks = emu.get_json("/oauth2/v3/certs").await;
    let (header, _) = jwt_parts(jwt);
    let Some(key) = jwks["keys"]
        .as_array()
        .expect("a JWKS")
        .iter()
        .find(|k| k["kid"] == header["kid"])
    else {
        return false;
    };
    let number = |name: &str| {
        let b64 = key[name].as_str().expect("a JWK number");
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(b64).expect("base64url"))
    };
    let pk = RsaPublicKey::new(number("n"), number("e")).expect("an RSA public key");
    let (input, sig) = jwt.rsplit_once('.').expect("a signed JWT");
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig.as_slice()) else {
        return false;
    };
    VerifyingKey::<sha2::Sha256>::new(pk)
        .verify(input.as_bytes(), &sig)
        .is_ok()
}
