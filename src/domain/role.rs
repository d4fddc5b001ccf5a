//! Roles of people who log in, and what each may do.

use super::code_enum;

code_enum! {
    /// What an account may do. A relay belongs to a member association and works only the targets and
    /// contacts of the départements its account lists.
    Role {
        Admin => "admin", "Administrateur·rice";
        Staff => "staff", "Équipe";
        Viewer => "viewer", "Lecture seule";
        Relay => "relay", "Relais local";
    }
}

impl Role {
    /// Whether this role may change pipeline data (targets, contacts, interactions).
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }

    /// Whether this role sees every territory; a relay sees only its own.
    pub fn sees_everything(self) -> bool {
        !matches!(self, Role::Relay)
    }

    /// Whether this role may run imports, manage staff data and read the audit log.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Staff)
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn only_viewers_cannot_write() {
        assert!(Role::Admin.can_write() && Role::Staff.can_write() && Role::Relay.can_write());
        assert!(!Role::Viewer.can_write());
        assert!(!Role::Relay.sees_everything());
        assert_eq!(Role::parse("relay"), Some(Role::Relay));
        assert_eq!(Role::parse("root"), None);
    }
}
