//! Four eyes (ISO/IEC 17025 7.8.1.2, DESIGN section 9): a result is released
//! only by someone who had no hand in it. Used where it is enforced (approval,
//! rejection, changes to drafts) and where it is shown (the pages), so the two
//! can never disagree.

/// Why a user may not act on a calibration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourEyes {
    /// The user created, changed or submitted it.
    OwnWork,
    /// A draft or rejected calibration belongs to its creator (and admins).
    NotTheCreator,
}

impl FourEyes {
    pub fn explain(&self, action: &str) -> String {
        match self {
            FourEyes::OwnWork => format!(
                "four eyes: the user who {action} a calibration must not be one who \
                 created, changed or submitted it"
            ),
            FourEyes::NotTheCreator => format!(
                "only the technician who created this calibration (or an admin) may {action} it"
            ),
        }
    }
}

/// May `user_id` approve or reject a calibration whose contributors (creator,
/// editors, submitter) are `contributors`?
pub fn may_decide(contributors: &[i64], user_id: Option<i64>) -> Result<(), FourEyes> {
    match user_id {
        Some(user) if contributors.contains(&user) => Err(FourEyes::OwnWork),
        _ => Ok(()),
    }
}

/// May a user change or submit a draft (or rejected work) created by `created_by`?
pub fn may_change(created_by: i64, user_id: Option<i64>, is_admin: bool) -> Result<(), FourEyes> {
    if is_admin || user_id.is_none() || user_id == Some(created_by) {
        Ok(())
    } else {
        Err(FourEyes::NotTheCreator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contributor_never_decides() {
        assert_eq!(may_decide(&[2, 7], Some(7)), Err(FourEyes::OwnWork));
        assert_eq!(may_decide(&[2, 7], Some(2)), Err(FourEyes::OwnWork));
        assert_eq!(may_decide(&[2, 7], Some(3)), Ok(()));
    }

    #[test]
    fn drafts_belong_to_their_creator_and_admins() {
        assert_eq!(may_change(2, Some(2), false), Ok(()));
        assert_eq!(may_change(2, Some(9), true), Ok(()));
        assert_eq!(may_change(2, Some(7), false), Err(FourEyes::NotTheCreator));
    }
}
