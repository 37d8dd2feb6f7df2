//! The built-in tools, one module each. Each `run` returns the job's result; artifacts it
//! made are listed under `artifacts` (staged: stored, rows written at commit).

pub mod create;
pub mod python;
pub mod report;
pub mod search;
pub mod time;
