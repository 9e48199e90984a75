//! How the domain's state enums are stored: as their names in a text column,
//! on either backend (one `ToSql`/`FromSql` each, generic over the backend). A
//! stored name that no state has is a corrupt row, reported, never defaulted.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::internal::derives::as_expression::Bound;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Nullable, Text};

use crate::domain::calibration::CalibrationKind;
use crate::domain::conformity::DecisionRule;
use crate::domain::states::{CalibrationStatus, CertificateStatus};

macro_rules! stored_as_text {
    ($state:ty) => {
        impl<DB> ToSql<Text, DB> for $state
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $state
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse().map_err(|_| {
                    format!("unreadable stored {}: '{text}'", stringify!($state)).into()
                })
            }
        }

        impl<DB> deserialize::Queryable<Text, DB> for $state
        where
            DB: Backend,
            $state: FromSql<Text, DB>,
        {
            type Row = Self;

            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        impl AsExpression<Text> for $state {
            type Expression = Bound<Text, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl AsExpression<Nullable<Text>> for $state {
            type Expression = Bound<Nullable<Text>, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl<'a> AsExpression<Text> for &'a $state {
            type Expression = Bound<Text, Self>;

            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }
    };
}

stored_as_text!(CalibrationStatus);
stored_as_text!(CertificateStatus);
stored_as_text!(CalibrationKind);
stored_as_text!(DecisionRule);
stored_as_text!(crate::domain::competence::Activity);
stored_as_text!(crate::domain::competence::ProcedureStatus);
