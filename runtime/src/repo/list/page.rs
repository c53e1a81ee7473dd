//! One page of a list, typed ([`Page`]) and as the core reads it
//! ([`RowPage`]), both written as `{"data": [...], "next_cursor": ...,
//! "total": ...}`.

use serde::Serialize;
use serde::ser::{SerializeMap as _, SerializeSeq as _, Serializer};

use crate::model::{Record, RecordJson, Rows, TenantModel};

/// One page of a list: its rows (`data`), the cursor of the next page
/// (`next_cursor`, `None` on the last) and, when the request asked for it
/// (`count=true`), how many rows match its filters in all (`total`), as
/// the list route answers it.
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId, query: rookery::ListQuery) -> Result<(), rookery::RepoError> {
/// let mut tx = db.begin(tenant).await?;
/// let page = tx.repo::<Note>().list(&query).await?;
/// for note in &page.data {
///     println!("{}: {}", note.id, note.data.body);
/// }
/// tx.finish_read();
/// # Ok(()) }
/// ```
#[derive(Debug, Serialize)]
#[serde(bound = "")]
pub struct Page<M: TenantModel> {
    /// The rows.
    pub data: Vec<Record<M>>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How many rows match the query's filters and search in all (every
    /// page), when it asked (`count=true`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// One page of a list as the core reads it: the JSON of [`Page`], written
/// from the rows' values.
#[derive(Debug)]
pub(crate) struct RowPage {
    /// The rows.
    pub(crate) rows: Rows,
    /// The cursor of the next page, if there is one.
    pub(crate) next_cursor: Option<String>,
    /// The total, when asked for.
    pub(crate) total: Option<i64>,
}

impl Serialize for RowPage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// `data`: the rows, each as its record.
        struct Data<'a>(&'a Rows);
        impl Serialize for Data<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for values in self.0.iter() {
                    seq.serialize_element(&RecordJson::new(self.0.def, values))?;
                }
                seq.end()
            }
        }
        let len = 1 + usize::from(self.next_cursor.is_some()) + usize::from(self.total.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("data", &Data(&self.rows))?;
        if let Some(cursor) = &self.next_cursor {
            map.serialize_entry("next_cursor", cursor)?;
        }
        if let Some(total) = &self.total {
            map.serialize_entry("total", total)?;
        }
        map.end()
    }
}
