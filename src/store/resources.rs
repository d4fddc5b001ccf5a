//! Resources: the practical sheets agenda items link to, either an address or a document uploaded to
//! relais and served from `/ressources/{id}/fichier`.

use super::{Store, StoreResult, with_db, with_tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Resource {
    pub id: i64,
    pub title: String,
    pub url: String,
    pub description: String,
    pub themes: String,
}

impl Store {
    pub async fn add_resource(
        &self,
        title: &str,
        url: &str,
        description: &str,
        themes: &str,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO resources (title, url, description, themes, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id"
        )
        .bind(title)
        .bind(url)
        .bind(description)
        .bind(themes)
        .bind(now)
        .fetch_one(p)
        .await
        })?)
    }

    /// Records an uploaded document as a resource; its address is `/ressources/{id}/fichier`, where relais
    /// serves it. Returns the id (the caller stores the file under it).
    pub async fn add_resource_document(
        &self,
        title: &str,
        description: &str,
        themes: &str,
        file_name: &str,
        content_type: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO resources (title, url, description, themes, file_name, content_type, created_at)
             VALUES ($1, '', $2, $3, $4, $5, $6) RETURNING id"
        )
        .bind(title)
        .bind(description)
        .bind(themes)
        .bind(file_name)
        .bind(content_type)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE resources SET url = $1 WHERE id = $2"
        )
        .bind(format!("/ressources/{id}/fichier"))
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(id)
    }

    /// Forgets a resource whose document could not be stored.
    pub async fn remove_resource(&self, id: i64) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM resources WHERE id = $1"
        )
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The file name and type of an uploaded document.
    pub async fn resource_document(&self, id: i64) -> StoreResult<Option<(String, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT file_name, content_type FROM resources WHERE id = $1 AND file_name <> ''"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn resources(&self) -> StoreResult<Vec<Resource>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, title, url, description, themes FROM resources ORDER BY title, id"
        )
        .fetch_all(p)
        .await)?)
    }
}
