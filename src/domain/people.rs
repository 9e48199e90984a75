//! Who may do what: users, their roles, and the actor a change is recorded
//! under (ISO/IEC 17025 6.2: personnel authorised for what they do). Request
//! guards (`auth.rs`) and pages turn a request into these; `db/` records them.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Admin,
    Technician,
    Approver,
    Inspector,
    Auditor,
}

impl UserRole {
    pub const ALL: [UserRole; 5] = [
        UserRole::Admin,
        UserRole::Technician,
        UserRole::Approver,
        UserRole::Inspector,
        UserRole::Auditor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Technician => "technician",
            UserRole::Approver => "approver",
            UserRole::Inspector => "inspector",
            UserRole::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<UserRole> {
        UserRole::ALL.into_iter().find(|role| role.name() == text)
    }
}

/// Roles allowed by a route.
pub mod roles {
    use super::UserRole::{self, *};
    /// Every authenticated role reads the register, statuses, calibrations…
    pub const ANY: &[UserRole] = &[Admin, Technician, Approver, Inspector, Auditor];
    pub const REGISTER_WRITERS: &[UserRole] = &[Admin, Technician];
    pub const AUDIT_READERS: &[UserRole] = &[Auditor, Admin];
    pub const TECHNICIANS: &[UserRole] = &[Technician];
    pub const APPROVERS: &[UserRole] = &[Approver];
    pub const WITHDRAWERS: &[UserRole] = &[Approver, Admin];
    pub const CMC_MANAGERS: &[UserRole] = &[Admin];
    pub const CERTIFICATE_LISTERS: &[UserRole] = &[Auditor, Approver, Admin];
    /// Impact analysis: technician, approver, auditor, admin.
    pub const IMPACT_READERS: &[UserRole] = &[Technician, Approver, Auditor, Admin];
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub id: i64,
    pub name: String,
    pub roles: Vec<UserRole>,
}

impl AuthUser {
    /// Refused (403) unless the user holds one of the allowed roles.
    pub fn require(&self, allowed: &[UserRole]) -> Result<&AuthUser, MissingRole> {
        if self.roles.iter().any(|role| allowed.contains(role)) {
            Ok(self)
        } else {
            Err(MissingRole(allowed.to_vec()))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            name: self.name.clone(),
            is_admin: self.roles.contains(&UserRole::Admin),
        }
    }
}

/// A user lacks every role an action allows.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingRole(pub Vec<UserRole>);

impl std::fmt::Display for MissingRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|role| role.name()).collect();
        write!(
            f,
            "this action needs one of the roles: {}",
            names.join(", ")
        )
    }
}

/// Who made a change: an authenticated user, or the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    /// Admins may change any technician's draft (DESIGN section 9).
    pub is_admin: bool,
}

impl Actor {
    pub fn command_line() -> Actor {
        Actor {
            user_id: None,
            name: "caltrace-cli".to_string(),
            is_admin: true,
        }
    }
}

/// How a person signs: full name and title (ISO/IEC 17025 7.8.2.1 o asks for
/// the identification of the person authorising the certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub full_name: Option<String>,
    pub title: Option<String>,
}

impl Profile {
    /// "Dr. Li Wei, Head of the pressure laboratory"; the login name when no
    /// full name is set.
    pub fn signatory(&self, login: &str) -> String {
        match (&self.full_name, &self.title) {
            (Some(name), Some(title)) => format!("{name}, {title}"),
            (Some(name), None) => name.clone(),
            (None, Some(title)) => format!("{login}, {title}"),
            (None, None) => login.to_string(),
        }
    }
}
