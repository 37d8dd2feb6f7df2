//! PENNY's black-box tests: the real server over HTTP, a fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod admin;
mod analytics;
mod attachments;
mod auth;
mod bodies;
mod chat;
mod cli;
mod cluster;
mod isolation;
mod knowledge;
mod limits;
mod live;
mod roles;
mod security;
mod setup;
mod sweep;
mod tools;
mod web;
mod ws;
