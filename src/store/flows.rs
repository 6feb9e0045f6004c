//! Storage of what the flows issue: grants, authorization codes, tokens, consents.

use sqlx::SqliteConnection;

use crate::error::Result;

/// Removes everything issued to a client that is being deleted.
pub(crate) async fn delete_for_client(tx: &mut SqliteConnection, client_id: &str) -> Result<()> {
    for table in ["tokens", "auth_codes", "grants", "consents", "used_assertions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE client_id = ?"))
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Removes everything issued to a user that is being deleted.
pub(crate) async fn delete_for_user(tx: &mut SqliteConnection, sub: &str) -> Result<()> {
    for table in ["tokens", "auth_codes", "grants", "consents"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE sub = ?"))
            .bind(sub)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
