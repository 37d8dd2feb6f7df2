//! The roles one `penny serve` process can run; no `--role` runs them all.

use std::fmt;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// REST API, SSE, web app and admin console.
    Api,
    /// WebSocket chat service.
    Ws,
    /// Tool job workers.
    Worker,
    /// Periodic maintenance.
    Scheduler,
}

#[derive(Debug, Clone)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(mut roles: Vec<Role>) -> Self {
        if roles.is_empty() {
            roles = vec![Role::Api, Role::Ws, Role::Worker, Role::Scheduler];
        }
        roles.dedup();
        Roles(roles)
    }

    pub fn has(&self, r: Role) -> bool {
        self.0.contains(&r)
    }

    pub fn only(&self, r: Role) -> bool {
        self.0 == [r]
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .filter_map(|r| r.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        f.write_str(&names.join(","))
    }
}
