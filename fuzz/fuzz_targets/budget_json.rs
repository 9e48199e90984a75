//! The GUM budget evaluation (src/domain/uncertainty.rs) from arbitrary JSON, as
//! POST /api/v1/uncertainty/evaluate receives it: decoding may fail, evaluation
//! must either name a field or return finite numbers.
#![no_main]

use caltrace_domain::domain::uncertainty::BudgetRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(request) = serde_json::from_str::<BudgetRequest>(text) {
        caltrace_domain::check_budget(&request);
    }
});
