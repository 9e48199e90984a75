//! The query parameters of the listing routes, each written once: the same
//! struct reads the query (Rocket's `FromForm`), documents it (utoipa's
//! `IntoParams`) and turns it into the repository's filter, with a 422 naming
//! the parameter for a bad value. The pages read the same structs.

use rocket::FromForm;
use utoipa::IntoParams;

use super::params;
use crate::db::audit::AuditFilter;
use crate::db::calibrations::CalibrationFilter;
use crate::db::certificates::CertificateFilter;
use crate::db::instruments::InstrumentFilter;
use crate::domain::audit::AuditEntity;
use crate::domain::validity::{InstrumentStatus, Role};
use crate::error::ApiError;

/// A listing query: its own fields, then the `page` and `per_page` every listing shares
/// (Rocket's `FromForm` cannot flatten a shared struct into the query).
macro_rules! paged_query {
    ($(#[$meta:meta])* pub struct $name:ident<'r> { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, FromForm, IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $name<'r> {
            $($fields)*
            #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
            pub page: Option<&'r str>,
            #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
            pub per_page: Option<&'r str>,
        }

        impl $name<'_> {
            fn paging(&self) -> Result<(i64, i64), ApiError> {
                params::page(self.page, self.per_page)
            }
        }
    };
}

paged_query! {
/// `GET /api/v1/instruments` and the instruments page.
pub struct InstrumentQuery<'r> {
    /// working, reference or national
    #[param(value_type = Option<String>)]
    pub role: Option<&'r str>,
    /// active, suspended or retired
    #[param(value_type = Option<String>)]
    pub status: Option<&'r str>,
    /// exact customer name
    #[param(value_type = Option<String>)]
    pub customer: Option<&'r str>,
    /// text in asset tag, serial number, model or manufacturer
    #[param(value_type = Option<String>)]
    pub q: Option<&'r str>,
    /// exact serial number (trimmed), as on the instrument's plate
    #[param(value_type = Option<String>)]
    pub serial_number: Option<&'r str>,
    /// keyset pagination: the page starts after this instrument id (the previous page's
    /// `next_after`); instead of `page`, whose offset reads every row before it
    #[param(value_type = Option<i64>)]
    pub after: Option<&'r str>,
}
}

impl InstrumentQuery<'_> {
    pub fn filter(&self) -> Result<InstrumentFilter, ApiError> {
        let (page, per_page) = self.paging()?;
        let role = params::filter(self.role);
        if let Some(role) = &role {
            role.parse::<Role>()
                .map_err(|_| ApiError::field("role", "must be working, reference or national"))?;
        }
        let status = params::filter(self.status);
        if let Some(status) = &status {
            status
                .parse::<InstrumentStatus>()
                .map_err(|_| ApiError::field("status", "must be active, suspended or retired"))?;
        }
        Ok(InstrumentFilter {
            role,
            serial_number: params::filter(self.serial_number),
            status,
            customer: params::filter(self.customer),
            text: params::filter(self.q),
            page,
            per_page,
            after: params::keyset(self.page, "after", self.after, |after| {
                params::optional_id("after", Some(after))
            })?,
        })
    }
}

paged_query! {
/// `GET /api/v1/calibrations`.
pub struct CalibrationQuery<'r> {
    #[param(value_type = Option<i64>)]
    pub instrument_id: Option<&'r str>,
    /// draft, submitted, issued, accepted, rejected, withdrawn or superseded
    #[param(value_type = Option<String>)]
    pub status: Option<&'r str>,
    /// performed on or after, YYYY-MM-DD
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub from: Option<&'r str>,
    /// performed on or before, YYYY-MM-DD
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub to: Option<&'r str>,
}
}

impl CalibrationQuery<'_> {
    pub fn filter(&self) -> Result<CalibrationFilter, ApiError> {
        let (page, per_page) = self.paging()?;
        Ok(CalibrationFilter {
            instrument_id: params::optional_id("instrument_id", self.instrument_id)?,
            status: params::state("status", self.status)?,
            from: params::optional_date("from", self.from)?,
            to: params::optional_date("to", self.to)?,
            page,
            per_page,
        })
    }
}

paged_query! {
/// `GET /api/v1/certificates` and the certificates page.
pub struct CertificateQuery<'r> {
    /// issued, withdrawn or superseded
    #[param(value_type = Option<String>)]
    pub status: Option<&'r str>,
    /// issued on or after, YYYY-MM-DD
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub from: Option<&'r str>,
    /// issued on or before, YYYY-MM-DD
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub to: Option<&'r str>,
    #[param(value_type = Option<i64>)]
    pub instrument_id: Option<&'r str>,
    #[param(value_type = Option<String>)]
    pub customer: Option<&'r str>,
    /// keyset pagination: the page starts after this certificate number (the previous
    /// page's `next_after`); instead of `page`, whose offset reads every row before it
    #[param(value_type = Option<String>)]
    pub after: Option<&'r str>,
}
}

impl CertificateQuery<'_> {
    pub fn filter(&self) -> Result<CertificateFilter, ApiError> {
        let (page, per_page) = self.paging()?;
        Ok(CertificateFilter {
            status: params::state("status", self.status)?,
            from: params::optional_date("from", self.from)?,
            to: params::optional_date("to", self.to)?,
            instrument_id: params::optional_id("instrument_id", self.instrument_id)?,
            customer: params::filter(self.customer),
            page,
            per_page,
            after: params::keyset(self.page, "after", self.after, |after| {
                Ok(params::filter(Some(after)))
            })?,
        })
    }
}

paged_query! {
/// `GET /api/v1/audit`.
pub struct AuditQuery<'r> {
    /// first UTC date, YYYY-MM-DD
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<&'r str>,
    /// last UTC date, YYYY-MM-DD, inclusive
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<&'r str>,
    /// e.g. instrument, calibration, user, api_token
    #[param(value_type = Option<String>)]
    pub entity: Option<&'r str>,
    /// one record's entries, e.g. entity=calibration&entity_id=42, or
    /// entity=certificate&entity_id=CT-2026-000001 (the calibration it certifies)
    #[param(value_type = Option<String>)]
    pub entity_id: Option<&'r str>,
    /// the user name entries were made under, e.g. actor=alice
    #[param(value_type = Option<String>)]
    pub actor: Option<&'r str>,
}
}

impl AuditQuery<'_> {
    /// The filter as stored entries are searched, and the entity as it was asked for (a
    /// certificate number still to be read as its calibration's id).
    pub fn filter(&self) -> Result<(AuditFilter, Option<AuditEntity>), ApiError> {
        let (page, per_page) = self.paging()?;
        let from = params::optional_date("from", self.from)?;
        let to = params::optional_date("to", self.to)?;
        let entity: Option<AuditEntity> = params::state("entity", self.entity)?;
        let entity_id = params::filter(self.entity_id);
        match (entity, &entity_id) {
            (None, Some(_)) => {
                return Err(ApiError::field(
                    "entity_id",
                    "name the entity too, e.g. entity=calibration&entity_id=42",
                ))
            }
            (Some(entity), Some(id)) if entity.numbered() && id.parse::<i64>().is_err() => {
                return Err(ApiError::field(
                    "entity_id",
                    format!("a {} is named by its whole-number id", entity.as_str()),
                ))
            }
            _ => {}
        }
        let filter = AuditFilter {
            from: from.map(|date| format!("{date}T00:00:00")),
            to: to
                .and_then(|date| date.succ_opt())
                .map(|date| format!("{date}T00:00:00")),
            entity: entity.map(|entity| entity.stored().as_str().to_string()),
            entity_id,
            actor: params::filter(self.actor),
            page,
            per_page,
        };
        Ok((filter, entity))
    }
}
