//! Persona passwords, hashed with argon2. Hashing is deliberately slow, so callers on
//! the async runtime use the `_blocking` wrappers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Error, Result};

pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Other(format!("cannot hash password: {e}")));
    crate::mem::release_freed_memory();
    hashed
}

pub fn verify(phc: &str, password: &str) -> bool {
    let ok = PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    crate::mem::release_freed_memory();
    ok
}

/// Checks that `phc` is an argon2 PHC string, as `authdesk export` writes them.
pub fn validate_phc(phc: &str) -> Result<()> {
    PasswordHash::new(phc)
        .map(|_| ())
        .map_err(|e| Error::invalid("password_hash", format!("not an argon2 PHC string ({e})")))
}

pub async fn hash_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| Error::Other(e.to_string()))?
}

pub async fn verify_blocking(phc: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&phc, &password))
        .await
        .unwrap_or(false)
}
