//! Who may read a file or an artifact on a caller's behalf: the one rule every path uses
//! (the REST endpoints, and tools reading inputs for the user who made the job). An
//! admin reads everything of the tenant; anyone else reads their own uploads, the
//! artifacts of their own conversations, and the artifacts they made outside one.
//! What the reader may not read is `NotFound`, exactly like what does not exist.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::artifacts::{self, Artifact};
use crate::files::{self, File};
use crate::{conversations, users, Role, StoreError, UserId};

/// The person on whose behalf something is read.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user: UserId,
    pub admin: bool,
}

impl Reader {
    pub fn new(user: UserId, role: Role) -> Reader {
        Reader {
            user,
            admin: role.at_least(Role::Admin),
        }
    }

    /// The reader a job acts for: its creator with their role as it is now. A job with
    /// no creator, or whose creator is gone or deactivated, reads nothing.
    pub async fn for_job(
        conn: &mut PgConnection,
        created_by: Option<Uuid>,
    ) -> Result<Reader, StoreError> {
        let Some(id) = created_by else {
            return Err(StoreError::NotFound);
        };
        let user = users::by_id(conn, UserId(id))
            .await?
            .filter(|u| u.status == "active")
            .ok_or(StoreError::NotFound)?;
        Ok(Reader::new(user.id, user.role))
    }
}

/// The file if `reader` may read it.
pub async fn file(conn: &mut PgConnection, reader: &Reader, id: Uuid) -> Result<File, StoreError> {
    let f = files::get(conn, id).await?;
    if reader.admin || f.user_id == reader.user.0 {
        Ok(f)
    } else {
        Err(StoreError::NotFound)
    }
}

/// Several files, in the order asked; any that `reader` may not read is `NotFound`.
pub async fn files(
    conn: &mut PgConnection,
    reader: &Reader,
    ids: &[Uuid],
) -> Result<Vec<File>, StoreError> {
    let all = files::get_many(conn, ids).await?;
    if reader.admin || all.iter().all(|f| f.user_id == reader.user.0) {
        Ok(all)
    } else {
        Err(StoreError::NotFound)
    }
}

/// The artifact if `reader` may read it.
pub async fn artifact(
    conn: &mut PgConnection,
    reader: &Reader,
    id: Uuid,
) -> Result<Artifact, StoreError> {
    let a = artifacts::get(conn, id).await?;
    if reader.admin {
        return Ok(a);
    }
    match a.conversation_id {
        Some(c) => {
            conversations::get(conn, reader.user, c).await?;
        }
        None if a.created_by == Some(reader.user.0) => {}
        None => return Err(StoreError::NotFound),
    }
    Ok(a)
}
