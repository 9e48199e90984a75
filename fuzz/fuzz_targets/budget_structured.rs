//! The GUM budget evaluation (src/domain/uncertainty.rs) from structured input:
//! well-formed budgets over known units and awkward doubles (0, subnormals,
//! ±MAX, NaN, ±inf), so the numeric core is what gets exercised.
#![no_main]

use caltrace_domain::Budget;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|budget: Budget| {
    caltrace_domain::check_budget(&budget.request());
});
