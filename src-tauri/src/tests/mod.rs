//! The backend's tests, through `tauri::test::mock_builder()` with the tiny fixture model:
//! [`harness`] builds the app and drives it; the other modules test one area each.

mod about;
mod access;
mod api;
mod chat;
mod contract;
mod conversations;
mod crash;
mod documents;
mod full_disk;
mod harness;
mod images;
mod models;
mod opened;
mod recorder;
mod settings;
mod store;
mod worker;
