//! The service as `caltrace serve` runs it, plus one bare route returning a
//! constant: the baseline the validity route is measured against (same
//! process, same Rocket settings, same worker count).
//!
//!     ROCKET_DATABASE_URL=… cargo run --release --example serve

#[rocket::get("/bench/constant")]
fn constant() -> &'static str {
    "{\"valid\":true}"
}

/// The same constant for the validity route's request shape
/// (`/bench/constant/{id}/status?at=…` with a bearer header), so that both
/// routes are measured with identical requests.
#[rocket::get("/bench/constant/<_>/status")]
fn constant_for_status() -> &'static str {
    "{\"valid\":true}"
}

#[rocket::main]
async fn main() {
    if let Err(error) = caltrace::rocket(caltrace::figment())
        .mount("/", rocket::routes![constant, constant_for_status])
        .launch()
        .await
    {
        eprintln!("serve: {error}");
        std::process::exit(1);
    }
}
