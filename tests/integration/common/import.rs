//! Calling the library functions behind `caltrace import`, as the import and records tests do.

use caltrace::auth::roles;
use caltrace::db::audit::Actor;
use caltrace::import::{
    actor_named, import_calibrations, import_instruments, ImportError, RowError,
};

use super::TestApp;

/// An instrument register file imported by the command line's actor; the ids created.
pub fn import_register(app: &TestApp, bytes: &[u8]) -> Result<Vec<i64>, ImportError> {
    app.with_conn(|conn| {
        import_instruments(conn, &Actor::command_line(), "test.csv", bytes, &mut |_| {})
            .map(|summary| summary.ids)
    })
}

/// A results file imported in the technician's name (`again`: even if imported before).
pub fn import_results_file(
    app: &TestApp,
    bytes: &[u8],
    submit: bool,
    again: bool,
) -> Result<Vec<i64>, ImportError> {
    app.with_conn(|conn| {
        let actor = actor_named(conn, "technician", roles::TECHNICIANS).unwrap();
        import_calibrations(
            conn,
            &actor,
            "results.csv",
            bytes,
            (submit, caltrace::workflow::competence::Competence::Required),
            again,
            &mut |_| {},
        )
        .map(|summary| summary.ids)
    })
}

/// The row errors of a refused import (a failure of the whole file fails the test).
pub fn row_errors(error: ImportError) -> Vec<RowError> {
    match error {
        ImportError::Rows(errors) => errors,
        ImportError::Failed(message) => panic!("expected row errors, got: {message}"),
    }
}
