//! The states a record goes through, as types (DESIGN section 3): every list
//! of statuses (what is "on record", what a filter accepts) is built from these
//! enums, never spelt again as strings.

use serde::{Deserialize, Serialize};

/// Where a calibration is in its workflow (DESIGN section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationStatus {
    Draft,
    Submitted,
    /// Approved internal work: our certificate was issued.
    Issued,
    /// Approved external work: another laboratory's certificate was accepted.
    Accepted,
    Rejected,
    Withdrawn,
    Superseded,
}

impl CalibrationStatus {
    pub const ALL: [CalibrationStatus; 7] = [
        CalibrationStatus::Draft,
        CalibrationStatus::Submitted,
        CalibrationStatus::Issued,
        CalibrationStatus::Accepted,
        CalibrationStatus::Rejected,
        CalibrationStatus::Withdrawn,
        CalibrationStatus::Superseded,
    ];

    /// The statuses that put a calibration "on record" (DESIGN section 6):
    /// issued (including later withdrawn, so a withdrawal invalidates rather
    /// than falling back to an older certificate) and accepted external ones.
    /// A superseded one is replaced by its replacement.
    pub const ON_RECORD: [CalibrationStatus; 3] = [
        CalibrationStatus::Issued,
        CalibrationStatus::Accepted,
        CalibrationStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationStatus::Draft => "draft",
            CalibrationStatus::Submitted => "submitted",
            CalibrationStatus::Issued => "issued",
            CalibrationStatus::Accepted => "accepted",
            CalibrationStatus::Rejected => "rejected",
            CalibrationStatus::Withdrawn => "withdrawn",
            CalibrationStatus::Superseded => "superseded",
        }
    }

    /// A certificate's status is its calibration's, once one was issued.
    pub fn certificate_status(self) -> Option<CertificateStatus> {
        match self {
            CalibrationStatus::Issued => Some(CertificateStatus::Issued),
            CalibrationStatus::Withdrawn => Some(CertificateStatus::Withdrawn),
            CalibrationStatus::Superseded => Some(CertificateStatus::Superseded),
            _ => None,
        }
    }
}

/// A certificate of ours (DESIGN section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    Issued,
    Withdrawn,
    Superseded,
}

impl CertificateStatus {
    pub const ALL: [CertificateStatus; 3] = [
        CertificateStatus::Issued,
        CertificateStatus::Withdrawn,
        CertificateStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        self.calibration_status().as_str()
    }

    pub fn calibration_status(self) -> CalibrationStatus {
        match self {
            CertificateStatus::Issued => CalibrationStatus::Issued,
            CertificateStatus::Withdrawn => CalibrationStatus::Withdrawn,
            CertificateStatus::Superseded => CalibrationStatus::Superseded,
        }
    }
}

/// Reads a state from its stored or written name; the error lists the names
/// it may take, for a 422 that says what to write instead.
pub fn parse_state<T: Copy>(
    text: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|state| name(*state) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|state| name(*state)).collect();
            format!("must be one of {}", names.join(", "))
        })
}

/// `FromStr` (a 422-ready message listing the names) and `Display` for a state enum with
/// `ALL` and `as_str`: written once for every state the API reads and writes by name.
macro_rules! named_states {
    ($($state:ty),+ $(,)?) => {$(
        impl std::str::FromStr for $state {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                $crate::domain::states::parse_state(text, &<$state>::ALL, <$state>::as_str)
            }
        }

        impl std::fmt::Display for $state {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}
pub(crate) use named_states;

named_states!(CalibrationStatus, CertificateStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_name() {
        for status in CalibrationStatus::ALL {
            assert_eq!(status.as_str().parse::<CalibrationStatus>(), Ok(status));
        }
        for status in CertificateStatus::ALL {
            assert_eq!(status.as_str().parse::<CertificateStatus>(), Ok(status));
        }
        assert_eq!(
            "Issued".parse::<CalibrationStatus>(),
            Err("must be one of draft, submitted, issued, accepted, rejected, withdrawn, superseded".into())
        );
    }
}
