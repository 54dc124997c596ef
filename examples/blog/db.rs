//! The blog's storage: SQLite through rusqlite, every query on the executor's threads
//! (`run_in_executor`) so the loop never waits on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS authors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    -- Unique too: pages tell an entry's author by name.
    name TEXT NOT NULL UNIQUE,
    hashed_password TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    markdown TEXT NOT NULL,
    html TEXT NOT NULL,
    published INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_published ON entries (published);
";

/// A registered author.
#[derive(Debug, Clone, Serialize)]
pub struct Author {
    pub id: i64,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub hashed_password: String,
}

/// A post, with its author's name.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub author_id: i64,
    pub author_name: String,
    pub slug: String,
    pub title: String,
    pub markdown: String,
    pub html: String,
    /// Seconds since the Unix epoch.
    pub published: i64,
    pub updated: i64,
}

/// What a query can fail with.
pub type DbResult<T> = Result<T, String>;

/// The database, shared by the executor's threads (one connection, taken in turn:
/// SQLite writes one at a time anyway).
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

fn entry(row: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: row.get("id")?,
        author_id: row.get("author_id")?,
        author_name: row.get("author_name")?,
        slug: row.get("slug")?,
        title: row.get("title")?,
        markdown: row.get("markdown")?,
        html: row.get("html")?,
        published: row.get("published")?,
        updated: row.get("updated")?,
    })
}

fn author(row: &Row<'_>) -> rusqlite::Result<Author> {
    Ok(Author {
        id: row.get("id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        hashed_password: row.get("hashed_password")?,
    })
}

const ENTRY_COLUMNS: &str = "e.id, e.author_id, a.name AS author_name, e.slug, e.title, \
     e.markdown, e.html, e.published, e.updated FROM entries e JOIN authors a ON a.id = e.author_id";

impl Db {
    /// Opens (creating if need be) the database at `path`, with its schema.
    pub fn open(path: &Path) -> DbResult<Db> {
        let conn = Connection::open(path)
            .map_err(|e| format!("cannot open the database {}: {e}", path.display()))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| format!("cannot create the schema: {e}"))?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on an executor thread.
    async fn run<T, F>(&self, f: F) -> DbResult<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.conn.clone();
        tornado::ioloop::run_in_executor(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn).map_err(|e| format!("database error: {e}"))
        })
        .await
        .map_err(|e| format!("database task failed: {e}"))?
    }

    pub async fn any_author_exists(&self) -> DbResult<bool> {
        self.run(|c| c.query_row("SELECT EXISTS (SELECT 1 FROM authors)", [], |r| r.get(0)))
            .await
    }

    pub async fn author_by_id(&self, id: i64) -> DbResult<Option<Author>> {
        self.run(move |c| {
            c.query_row("SELECT * FROM authors WHERE id = ?1", [id], author)
                .optional()
        })
        .await
    }

    pub async fn author_by_email(&self, email: String) -> DbResult<Option<Author>> {
        self.run(move |c| {
            c.query_row("SELECT * FROM authors WHERE email = ?1", [email], author)
                .optional()
        })
        .await
    }

    /// Adds an author; `None` if the email or the name is taken.
    pub async fn create_author(
        &self,
        email: String,
        name: String,
        hashed_password: String,
    ) -> DbResult<Option<i64>> {
        self.run(move |c| {
            let inserted = c.execute(
                "INSERT OR IGNORE INTO authors (email, name, hashed_password) VALUES (?1, ?2, ?3)",
                params![email, name, hashed_password],
            )?;
            Ok((inserted == 1).then(|| c.last_insert_rowid()))
        })
        .await
    }

    pub async fn recent_entries(&self, limit: i64) -> DbResult<Vec<Entry>> {
        self.run(move |c| {
            let sql =
                format!("SELECT {ENTRY_COLUMNS} ORDER BY e.published DESC, e.id DESC LIMIT ?1");
            let mut stmt = c.prepare(&sql)?;
            stmt.query_map([limit], entry)?.collect()
        })
        .await
    }

    pub async fn entry_by_slug(&self, slug: String) -> DbResult<Option<Entry>> {
        self.run(move |c| {
            let sql = format!("SELECT {ENTRY_COLUMNS} WHERE e.slug = ?1");
            c.query_row(&sql, [slug], entry).optional()
        })
        .await
    }

    pub async fn entry_by_id(&self, id: i64) -> DbResult<Option<Entry>> {
        self.run(move |c| {
            let sql = format!("SELECT {ENTRY_COLUMNS} WHERE e.id = ?1");
            c.query_row(&sql, [id], entry).optional()
        })
        .await
    }

    /// Adds an entry under a slug made from `base` (with `-2`, `-3`... if taken);
    /// answers the slug.
    pub async fn create_entry(
        &self,
        author_id: i64,
        base: String,
        title: String,
        markdown: String,
        html: String,
        now: i64,
    ) -> DbResult<String> {
        self.run(move |c| {
            let mut slug = base.clone();
            let mut n = 1;
            loop {
                let inserted = c.execute(
                    "INSERT OR IGNORE INTO entries \
                     (author_id, slug, title, markdown, html, published, updated) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![author_id, slug, title, markdown, html, now],
                )?;
                if inserted == 1 {
                    return Ok(slug);
                }
                n += 1;
                slug = format!("{base}-{n}");
            }
        })
        .await
    }

    pub async fn update_entry(
        &self,
        id: i64,
        title: String,
        markdown: String,
        html: String,
        now: i64,
    ) -> DbResult<()> {
        self.run(move |c| {
            c.execute(
                "UPDATE entries SET title = ?1, markdown = ?2, html = ?3, updated = ?4 WHERE id = ?5",
                params![title, markdown, html, now, id],
            )
            .map(|_| ())
        })
        .await
    }
}
