//! The run's database chores: counting sessions and their size, seeding users for the admin
//! list, and the fresh PostgreSQL database a run makes and drops.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{json, Value};

use offline_access::store::Db;

use crate::args::Args;

fn open(url: &str) -> Result<Db, String> {
    Db::open(&offline_access::store::DatabaseSettings {
        url: url.to_string(),
        pool_size: 1,
        timeout: Duration::from_secs(30),
    })
    .map_err(|e| format!("{e:#}"))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `db-stats`: sessions, users, and the bytes the sessions take.
pub async fn db_stats(a: &Args) -> Result<Value, String> {
    let url = a.get("database")?;
    let db = open(&url)?;
    let count = |sql: &'static str| {
        db.run_blocking(move |c| Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n))
            .map_err(|e| format!("{e:#}"))
    };
    let sessions = count("SELECT COUNT(*) AS n FROM sessions")?;
    let users = count("SELECT COUNT(*) AS n FROM users")?;
    let (bytes, measured) = match offline_access::config::sqlite_path(&url) {
        Some(path) => {
            let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
            ((size(&path) + size(&wal)) as i64, "SQLite file + -wal")
        }
        None => (
            count("SELECT pg_total_relation_size('sessions')::bigint AS n")?,
            "pg_total_relation_size('sessions')",
        ),
    };
    Ok(json!({"sessions": sessions, "users": users, "bytes": bytes, "measured": measured}))
}

/// `seed-users`: the users of `offline_access::testing::rows::seed_users`; with `--deep K`,
/// the admin list's `after` cursor that starts the page after the K-th user.
pub async fn seed_users(a: &Args) -> Result<Value, String> {
    use offline_access::store::schema::users;
    let (url, n, client_id) = (a.get("database")?, a.num("count")?, a.get("client-id")?);
    let db = open(&url)?;
    let started = Instant::now();
    offline_access::testing::rows::seed_users(&db, n, &client_id)
        .map_err(|e| format!("seeding users: {e:#}"))?;
    if url.starts_with("postgres") {
        // What autovacuum does soon after a bulk load: the planner's statistics, the
        // visibility map and the trigram indexes' pending entries merged. Measuring before
        // it would measure the load, not the list.
        db.run_blocking(|c| Ok(diesel::sql_query("VACUUM ANALYZE").execute(c)?))
            .map_err(|e| format!("VACUUM ANALYZE after seeding: {e:#}"))?;
    }
    let secs = started.elapsed().as_secs_f64();
    let mut out = json!({"seeded": n, "secs": secs});
    if let Some(k) = a.opt("deep") {
        let k: usize = k.parse().map_err(|_| "--deep must be a number")?;
        let email = format!("user{k:05}@load.test");
        let (id, seen) = db
            .run_blocking(move |c| {
                Ok(users::table
                    .filter(users::email.eq(email))
                    .select((users::id, users::last_seen_at))
                    .first::<(i64, chrono::NaiveDateTime)>(c)?)
            })
            .map_err(|e| format!("{e:#}"))?;
        // The cursor the admin list's Next link carries (src/web/handlers/admin/users.rs).
        out["deep_after"] = json!(format!("{}_{id}", seen.and_utc().timestamp_micros()));
    }
    Ok(out)
}

/// `pg-create` (a fresh database; its URL and the server's version) or `pg-drop`.
pub async fn pg_admin(command: &str, a: &Args) -> Result<Value, String> {
    use offline_access::testing::{create_database, drop_database};
    let (admin, name) = (a.get("admin")?, a.get("name")?);
    if command == "pg-drop" {
        drop_database(&admin, &name)?;
        return Ok(json!({"dropped": name}));
    }
    let url = create_database(&admin, &name)?;
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let version = diesel::PgConnection::establish(&url)
        .ok()
        .and_then(|mut c| {
            diesel::sql_query("SELECT current_setting('server_version') AS v")
                .get_result::<Version>(&mut c)
                .ok()
        })
        .map(|r| r.v)
        .unwrap_or_default();
    Ok(json!({"url": url, "server_version": version}))
}
