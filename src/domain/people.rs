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
    /// A customer's own login (DESIGN 9b): reads that customer's records only.
    Customer,
}

impl UserRole {
    pub const ALL: [UserRole; 6] = [
        UserRole::Admin,
        UserRole::Technician,
        UserRole::Approver,
        UserRole::Inspector,
        UserRole::Auditor,
        UserRole::Customer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Technician => "technician",
            UserRole::Approver => "approver",
            UserRole::Inspector => "inspector",
            UserRole::Auditor => "auditor",
            UserRole::Customer => "customer",
        }
    }

    pub fn parse(text: &str) -> Option<UserRole> {
        UserRole::ALL.into_iter().find(|role| role.name() == text)
    }
}

/// Roles allowed by a route.
pub mod roles {
    use super::UserRole::{self, *};
    /// Every authenticated role reads the register, statuses, calibrations… (a
    /// customer within its scope, see [`super::Scope`]).
    pub const ANY: &[UserRole] = &[Admin, Technician, Approver, Inspector, Auditor, Customer];
    /// The laboratory's people and the agencies: everyone but a customer.
    pub const STAFF: &[UserRole] = &[Admin, Technician, Approver, Inspector, Auditor];
    pub const REGISTER_WRITERS: &[UserRole] = &[Admin, Technician];
    pub const AUDIT_READERS: &[UserRole] = &[Auditor, Admin];
    pub const TECHNICIANS: &[UserRole] = &[Technician];
    pub const APPROVERS: &[UserRole] = &[Approver];
    pub const WITHDRAWERS: &[UserRole] = &[Approver, Admin];
    pub const CMC_MANAGERS: &[UserRole] = &[Admin];
    /// A customer lists its own certificates (DESIGN 9b: certificates to download).
    pub const CERTIFICATE_LISTERS: &[UserRole] = &[Auditor, Approver, Admin, Customer];
    /// Impact analysis: technician, approver, auditor, admin.
    pub const IMPACT_READERS: &[UserRole] = &[Technician, Approver, Auditor, Admin];
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub id: i64,
    pub name: String,
    pub roles: Vec<UserRole>,
    pub scope: Scope,
}

/// Whose records a user may read. ISO/IEC 17025 4.2 makes what a lab learns
/// about one customer confidential towards every other: a customer (and an
/// inspector scoped to some customers) is told nothing of other customers'
/// instruments, not even that they exist. Repositories turn this into a WHERE
/// on `instruments.customer_id`, never a filter after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole register: the lab's staff and unscoped inspectors.
    Everything,
    /// The instruments of the customers this user is bound to only; none
    /// bound sees nothing. The user id lets a query read the bindings itself
    /// (`IN (SELECT … WHERE user_id = ?)`), one bind whatever their number, so
    /// the statement stays prepared.
    Customers {
        user_id: i64,
        customer_ids: Vec<i64>,
    },
}

impl Scope {
    /// The scope of a user with these roles bound to these customers: a
    /// `customer` is always narrowed (bound to none, it sees nothing), any other
    /// user only when bound to some.
    pub fn of(user_id: i64, roles: &[UserRole], customer_ids: Vec<i64>) -> Scope {
        if roles.contains(&UserRole::Customer) || !customer_ids.is_empty() {
            Scope::Customers {
                user_id,
                customer_ids,
            }
        } else {
            Scope::Everything
        }
    }

    /// Whether users with these roles may be bound to customers at all (only
    /// they need their bindings looked up).
    pub fn may_narrow(roles: &[UserRole]) -> bool {
        roles.contains(&UserRole::Customer) || roles.contains(&UserRole::Inspector)
    }

    /// The customer ids the scope is narrowed to, None for everything.
    pub fn customer_ids(&self) -> Option<&[i64]> {
        match self {
            Scope::Everything => None,
            Scope::Customers { customer_ids, .. } => Some(customer_ids),
        }
    }

    /// Whether an instrument of this customer (None: the lab's own) is visible.
    pub fn sees(&self, customer_id: Option<i64>) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Customers { customer_ids, .. } => {
                customer_id.is_some_and(|id| customer_ids.contains(&id))
            }
        }
    }
}

/// Which users may be bound to customers (DESIGN 9b): a `customer` holds that
/// role alone and is bound to exactly one customer; an `inspector` alone may be
/// bound to any number (`--customer` repeated). Anyone else is lab staff, who
/// see the whole register, so binding them would pretend a confidentiality
/// their other roles do not keep.
pub fn check_binding(roles: &[UserRole], customer_codes: usize) -> Result<(), String> {
    let customer = roles.contains(&UserRole::Customer);
    match (customer, customer_codes) {
        (true, _) if roles.len() > 1 => {
            Err("a customer user holds the role customer alone".to_string())
        }
        (true, 1) => Ok(()),
        (true, _) => Err("a customer user is bound to exactly one customer: give --customer CODE once".to_string()),
        (false, 0) => Ok(()),
        (false, _) if roles == [UserRole::Inspector] => Ok(()),
        (false, _) => Err(
            "--customer binds a customer user or scopes an inspector; drop it or use --role customer / --role inspector alone"
                .to_string(),
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::UserRole::*;
    use super::*;

    #[test]
    fn a_customer_is_always_narrowed_and_an_unbound_inspector_never() {
        let narrowed = |customer_ids| Scope::Customers {
            user_id: 9,
            customer_ids,
        };
        assert_eq!(Scope::of(9, &[Customer], vec![]), narrowed(vec![]));
        assert_eq!(Scope::of(9, &[Inspector], vec![]), Scope::Everything);
        assert_eq!(Scope::of(9, &[Inspector], vec![3, 5]), narrowed(vec![3, 5]));
        let scope = narrowed(vec![3]);
        assert!(scope.sees(Some(3)));
        assert!(!scope.sees(Some(4)));
        // The lab's own standards belong to no customer: outside every customer scope.
        assert!(!scope.sees(None));
        assert!(Scope::Everything.sees(None));
    }

    #[test]
    fn only_a_lone_customer_or_a_lone_inspector_is_bound() {
        assert_eq!(check_binding(&[Customer], 1), Ok(()));
        assert!(check_binding(&[Customer], 0)
            .unwrap_err()
            .contains("exactly one"));
        assert!(check_binding(&[Customer], 2)
            .unwrap_err()
            .contains("exactly one"));
        assert!(check_binding(&[Customer, Inspector], 1)
            .unwrap_err()
            .contains("alone"));
        assert_eq!(check_binding(&[Inspector], 3), Ok(()));
        assert_eq!(check_binding(&[Admin, Inspector], 0), Ok(()));
        assert!(check_binding(&[Admin, Inspector], 1).is_err());
        assert!(check_binding(&[Technician], 1).is_err());
    }
}
