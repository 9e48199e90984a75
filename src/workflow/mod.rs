//! Operations that span several repositories (DESIGN section 3): a handler or a
//! page parses its input, calls one function here (or one repository
//! function), and answers. Rendering and signing are called from here, never
//! from `db/`.

pub mod calibrations;
pub mod certificates;
pub mod impact;
pub mod instruments;
pub mod signing;
pub mod users;
