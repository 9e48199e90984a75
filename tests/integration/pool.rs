//! Pool health: a connection whose write transaction was cut short by a panic
//! must never be handed out again (DESIGN section 3), on either backend.

use std::panic::{catch_unwind, AssertUnwindSafe};

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::schema::users;
use caltrace::db::{write_transaction, Database, DatabaseLocation};
use diesel::prelude::*;

use crate::common::TestApp;

fn users_named(url: &str, name: &str) -> i64 {
    let mut fresh = DatabaseLocation::parse(url).connect().unwrap();
    users::table
        .filter(users::name.eq(name))
        .count()
        .get_result(&mut fresh)
        .unwrap()
}

#[test]
fn a_panic_inside_a_write_does_not_poison_the_pool() {
    let app = TestApp::new();
    let database = Database::open(&app.database_url, 1, 1).unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let mut conn = database.get().unwrap();
        let _ = write_transaction(&mut conn, |conn| -> Result<(), caltrace::db::DbError> {
            caltrace::db::users::create_user(
                conn,
                &Actor::command_line(),
                "ghost",
                &[UserRole::Inspector],
            )?;
            panic!("certificate rendering failed half-way");
        });
    }));
    assert!(panicked.is_err());
    // The one pooled connection now: a normal write must commit, not become a
    // savepoint inside the orphaned transaction.
    let mut conn = database.get().unwrap();
    caltrace::db::users::create_user(
        &mut conn,
        &Actor::command_line(),
        "after-panic",
        &[UserRole::Inspector],
    )
    .unwrap();
    drop(conn);
    assert_eq!(users_named(&app.database_url, "after-panic"), 1);
    assert_eq!(users_named(&app.database_url, "ghost"), 0);
}
