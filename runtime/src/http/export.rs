//! `GET /tenant/export` (permission `tenant.export`): every row of the
//! tenant as a tar archive, streamed.
//!
//! The archive holds one JSON-lines file per page: `models/<table>/<n>.jsonl`
//! for each model (the rows as the API answers them), `members/<n>.jsonl`
//! (every membership, former ones too, with the member's email; a custom
//! role as `custom:<id>`), `roles/<n>.jsonl` (the tenant's custom roles) and
//! `audit_log/<n>.jsonl`, then `manifest.json` (the tenant, when, and how
//! many rows of each). A page is read, written into the archive and sent
//! before the next is read, so a tenant of any size is never held in
//! memory: at most one page of rows and the channel's few chunks.
//!
//! Every statement runs in the tenant's transaction (its id bound,
//! row-level security on PostgreSQL), so nothing of another tenant can be
//! in it. Each page is read at its own moment: a row written while the
//! export runs may or may not be in it. A failure after the first bytes
//! cannot become a problem answer any more: the stream ends without the
//! manifest and the tar's end blocks, which any tar reader reports as a
//! truncated archive. The export is audited (`tenant.export`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use super::{ApiError, AppState, request_id};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::db::{Bind, Db, DbError, DbRow};
use crate::model::{FieldType, ModelDef, RecordJson, TenantId, Value};
use crate::repo::{ListQuery, MAX_LIMIT, Table};

/// The permission the export needs.
pub(crate) const PERMISSION: &str = "tenant.export";
/// Rows per page of the platform tables.
const PAGE: i64 = 500;

/// `GET /tenant/export`.
pub(super) async fn export(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    principal.require(PERMISSION)?;
    principal.require_user()?;
    let tenant = principal.tenant;
    // Recorded before the first byte: an export that was asked for is in
    // the log even if the client goes away.
    let mut tx = state.db().begin_write(tenant).await?;
    let entry = Entry {
        action: "tenant.export",
        target_type: "tenant",
        target_id: tenant.0.to_string(),
        request_id: request_id(&headers),
        metadata: None,
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;

    let (send, receive) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let writer = Writer {
        db: state.db().clone(),
        tenant,
        send,
        counts: serde_json::Map::new(),
    };
    let models: Vec<&'static ModelDef> = state.models().to_vec();
    let slug = principal.info.slug.clone();
    tokio::spawn(writer.run(models, slug));
    let stream = futures_util::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|chunk| (chunk, receive))
    });
    let name = format!("attachment; filename=\"{}-export.tar\"", principal.info.slug);
    let disposition = HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Why the writer stopped early.
enum Stop {
    /// The client went away.
    Gone,
    /// Reading or writing failed: logged, and the archive left unfinished.
    Failed(String),
}

impl Stop {
    fn failed(err: impl std::fmt::Display) -> Self {
        Self::Failed(err.to_string())
    }
}

impl From<DbError> for Stop {
    fn from(err: DbError) -> Self {
        Self::failed(err)
    }
}

impl From<crate::repo::RepoError> for Stop {
    fn from(err: crate::repo::RepoError) -> Self {
        Self::failed(err)
    }
}

struct Writer {
    db: Db,
    tenant: TenantId,
    send: mpsc::Sender<Result<Bytes, std::io::Error>>,
    counts: serde_json::Map<String, Json>,
}

impl Writer {
    async fn run(mut self, models: Vec<&'static ModelDef>, slug: String) {
        match self.archive(&models, &slug).await {
            Ok(()) | Err(Stop::Gone) => {}
            Err(Stop::Failed(err)) => {
                tracing::error!(tenant = %self.tenant, error = %err, "tenant export failed; the archive ends unfinished");
                let _ = self.send.send(Err(std::io::Error::other("export failed"))).await;
            }
        }
    }

    async fn archive(&mut self, models: &[&'static ModelDef], slug: &str) -> Result<(), Stop> {
        for def in models {
            self.model(def).await?;
        }
        self.platform("members", MEMBERS).await?;
        self.platform("roles", ROLES).await?;
        self.platform("audit_log", AUDIT).await?;
        let manifest = json!({
            "tenant": { "id": self.tenant, "slug": slug },
            "exported_at": chrono::Utc::now(),
            "format": "one JSON object per line; models/<table>/*.jsonl as the API answers each row",
            "rows": self.counts,
        });
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(Stop::failed)?;
        self.entry("manifest.json", bytes).await?;
        // Two zero blocks end a tar archive.
        self.chunk(vec![0; 1024]).await
    }

    /// Every row of `def`, a page at a time, through the same statements
    /// as the generated list route.
    async fn model(&mut self, def: &'static ModelDef) -> Result<(), Stop> {
        let limit = MAX_LIMIT.to_string();
        let mut cursor: Option<String> = None;
        let mut page_no = 0;
        let mut total = 0u64;
        loop {
            let mut params = vec![("limit", limit.as_str())];
            if let Some(c) = &cursor {
                params.push(("cursor", c.as_str()));
            }
            let query = ListQuery::parse(def, params).map_err(Stop::failed)?;
            let mut tx = self.db.begin(self.tenant).await?;
            let page = Table::new(&mut tx, def).list(&query).await?;
            tx.finish_read();
            let mut lines = Vec::new();
            for values in page.rows.iter() {
                serde_json::to_writer(&mut lines, &RecordJson::new(def, values)).map_err(Stop::failed)?;
                lines.push(b'\n');
                total += 1;
            }
            if !lines.is_empty() {
                page_no += 1;
                self.entry(&format!("models/{}/{page_no:06}.jsonl", def.table), lines)
                    .await?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.counts.insert(format!("models/{}", def.table), json!(total));
        Ok(())
    }

    /// Every row of a platform table of the tenant, by id, a page at a time.
    async fn platform(&mut self, name: &str, table: Platform) -> Result<(), Stop> {
        let mut after: Option<uuid::Uuid> = None;
        let mut page_no = 0;
        let mut total = 0u64;
        loop {
            let mut binds = vec![Bind::new(Value::Uuid(self.tenant.0), FieldType::Uuid)];
            let sql = match after {
                Some(id) => {
                    binds.push(Bind::new(Value::Uuid(id), FieldType::Uuid));
                    format!(
                        "{} AND {} > $2 ORDER BY {} LIMIT {PAGE}",
                        table.select, table.key, table.key
                    )
                }
                None => format!("{} ORDER BY {} LIMIT {PAGE}", table.select, table.key),
            };
            let mut tx = self.db.begin(self.tenant).await?;
            let rows = tx.fetch_all(sql, binds).await?;
            tx.finish_read();
            let mut lines = Vec::new();
            for row in &rows {
                let (key, object) = (table.decode)(row)?;
                after = Some(key);
                serde_json::to_writer(&mut lines, &object).map_err(Stop::failed)?;
                lines.push(b'\n');
            }
            total += rows.len() as u64;
            if !lines.is_empty() {
                page_no += 1;
                self.entry(&format!("{name}/{page_no:06}.jsonl"), lines).await?;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        self.counts.insert(name.to_owned(), json!(total));
        Ok(())
    }

    /// One file of the archive: its header, its bytes, the padding to the
    /// next 512-byte block.
    async fn entry(&mut self, path: &str, mut data: Vec<u8>) -> Result<(), Stop> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).map_err(Stop::failed)?;
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0));
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let mut chunk = header.as_bytes().to_vec();
        let padding = (512 - data.len() % 512) % 512;
        chunk.append(&mut data);
        chunk.resize(chunk.len() + padding, 0);
        self.chunk(chunk).await
    }

    async fn chunk(&mut self, bytes: Vec<u8>) -> Result<(), Stop> {
        self.send.send(Ok(Bytes::from(bytes))).await.map_err(|_| Stop::Gone)
    }
}

/// A platform table the export pages through: its statement (`$1` the
/// tenant), its key column and how a row becomes JSON.
#[derive(Clone, Copy)]
struct Platform {
    select: &'static str,
    key: &'static str,
    decode: fn(&DbRow) -> Result<(uuid::Uuid, Json), DbError>,
}

const MEMBERS: Platform = Platform {
    select: "SELECT m.user_id, u.email, m.role, m.status, m.created_at, m.removed_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1",
    key: "m.user_id",
    decode: |row| {
        let user = uuid_of(row, 0)?;
        Ok((
            user,
            json!({
                "user_id": user,
                "email": text_of(row, 1)?,
                "role": text_of(row, 2)?,
                "status": text_of(row, 3)?,
                "created_at": json_of(row, 4, FieldType::DateTime)?,
                "removed_at": json_of(row, 5, FieldType::DateTime)?,
            }),
        ))
    },
};

/// The tenant's custom roles; a member holding one names it as
/// `custom:<id>`.
const ROLES: Platform = Platform {
    select: "SELECT id, name, inherits, grants, created_at, updated_at FROM rookery_roles WHERE tenant_id = $1",
    key: "id",
    decode: |row| {
        let id = uuid_of(row, 0)?;
        Ok((
            id,
            json!({
                "id": id,
                "key": format!("custom:{id}"),
                "name": text_of(row, 1)?,
                "inherits": json_of(row, 2, FieldType::Text)?,
                "grants": serde_json::from_str::<Json>(&text_of(row, 3)?).unwrap_or(Json::Null),
                "created_at": json_of(row, 4, FieldType::DateTime)?,
                "updated_at": json_of(row, 5, FieldType::DateTime)?,
            }),
        ))
    },
};

const AUDIT: Platform = Platform {
    select: "SELECT id, at, actor_type, actor_id, action, target_type, target_id, request_id, metadata FROM audit_log \
             WHERE tenant_id = $1",
    key: "id",
    decode: |row| {
        let id = uuid_of(row, 0)?;
        Ok((
            id,
            json!({
                "id": id,
                "at": json_of(row, 1, FieldType::DateTime)?,
                "actor_type": text_of(row, 2)?,
                "actor_id": json_of(row, 3, FieldType::Uuid)?,
                "action": text_of(row, 4)?,
                "target_type": json_of(row, 5, FieldType::Text)?,
                "target_id": json_of(row, 6, FieldType::Text)?,
                "request_id": json_of(row, 7, FieldType::Text)?,
                "metadata": json_of(row, 8, FieldType::Json)?,
            }),
        ))
    },
};

fn uuid_of(row: &DbRow, i: usize) -> Result<uuid::Uuid, DbError> {
    match row.value(i, FieldType::Uuid)? {
        Value::Uuid(id) => Ok(id),
        other => Err(DbError::Decode(crate::model::DecodeError::new("uuid", &other))),
    }
}

fn text_of(row: &DbRow, i: usize) -> Result<String, DbError> {
    match row.value(i, FieldType::Text)? {
        Value::Text(text) => Ok(text),
        other => Err(DbError::Decode(crate::model::DecodeError::new("text", &other))),
    }
}

fn json_of(row: &DbRow, i: usize, ty: FieldType) -> Result<Json, DbError> {
    Ok(match row.value(i, ty)? {
        Value::Null => Json::Null,
        Value::Text(t) => Json::String(t),
        Value::Uuid(u) => json!(u),
        Value::DateTime(at) => json!(at),
        Value::Json(j) => j,
        other => json!(format!("{other:?}")),
    })
}
