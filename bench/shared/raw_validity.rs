//! The raw SQL that bulk validity is measured against (DESIGN.md section 10: ≤ 3× of it),
//! shared by bench/bulk_bench.rs and bench/scale_bench.rs so both compare with one query:
//! each instrument's role, its latest calibration on record on `at` and the status changes
//! in force, for the listed ids.

use caltrace::db::DbConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

#[derive(QueryableByName)]
#[allow(dead_code)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    certificate_number: Option<String>,
}

pub fn raw_sql(ids: &[i64], at: &str) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(
        "SELECT i.id AS id, i.role AS role, c.status AS status, c.certificate_number AS certificate_number \
         FROM instruments i LEFT JOIN calibrations c ON c.id = ( \
           SELECT c2.id FROM calibrations c2 WHERE c2.instrument_id = i.id \
           AND c2.status IN ('issued', 'accepted', 'withdrawn') AND c2.performed_on <= '{at}' \
           ORDER BY c2.performed_on DESC, c2.id DESC LIMIT 1) \
         LEFT JOIN instrument_status_changes s ON s.instrument_id = i.id AND s.effective_on <= '{at}' \
         WHERE i.id IN ({})",
        list.join(",")
    )
}

/// Runs `sql` on the concrete backend connection; how many rows came back.
pub fn run_raw(conn: &mut DbConnection, sql: &str) -> usize {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load::<Row>(c).unwrap().len(),
        DbConnection::Postgresql(c) => diesel::sql_query(sql).load::<Row>(c).unwrap().len(),
    }
}
