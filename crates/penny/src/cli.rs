//! The command line: `penny serve | migrate | admin … | doctor`.

use clap::{Args, Parser, Subcommand};

use crate::roles::Role;

#[derive(Debug, Parser)]
#[command(
    name = "penny",
    version,
    about = "PENNY: a self-hostable, multi-tenant AI workbench"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run PENNY (all roles unless --role narrows it).
    Serve {
        /// Roles to run, comma separated: api,ws,worker,scheduler.
        #[arg(long, value_enum, value_delimiter = ',')]
        role: Vec<Role>,
        /// Port to listen on (default: PORT, or WS_PORT for --role ws alone).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants, users and API keys.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check every dependency and say what to fix.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a tenant (slug derived from the name unless given).
    CreateTenant {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: Option<String>,
    },
    /// Create a user in a tenant.
    CreateUser {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Change a user's role.
    SetRole {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
    /// Set a new password (ends the user's sessions).
    ResetPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Let a user log in again after failed attempts locked the account (every IP, every
    /// instance), whatever rate-limit backend runs.
    UnlockLogin {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
    /// Create an API key for a user; the key is printed once.
    CreateApiKey {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List tenants.
    ListTenants,
    /// List the users of a tenant.
    ListUsers {
        #[arg(long)]
        tenant: String,
    },
    /// Check the audit log's hash chain; exits non-zero when a row was changed or removed.
    VerifyAudit,
}

#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct PasswordArgs {
    /// The password (prefer --password-stdin: arguments are visible to other users).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}
