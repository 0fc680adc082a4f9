//! Single use of an authorization response: the callback claims the response's `state` before
//! redeeming its code. The primary key makes the claim atomic across requests and instances.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::sign_in_claims;
use super::{now, AnyConnection};

/// Claims `state_hash` until `expires_at`: `true` for the first caller, `false` for every later
/// one (the same authorization response arriving again).
pub fn claim(
    conn: &mut AnyConnection,
    state_hash: &str,
    expires_at: chrono::NaiveDateTime,
) -> anyhow::Result<bool> {
    let inserted = diesel::insert_into(sign_in_claims::table)
        .values((
            sign_in_claims::state_hash.eq(state_hash),
            sign_in_claims::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Removes claims whose sign-in could no longer complete anyway.
pub fn delete_expired(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    Ok(
        diesel::delete(sign_in_claims::table.filter(sign_in_claims::expires_at.le(now())))
            .execute(conn)?,
    )
}
