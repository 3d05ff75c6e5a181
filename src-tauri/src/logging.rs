//! The app's log, through the `log` macros: a file the user can find (Settings → About shows the
//! folder) and stderr, by tauri-plugin-log. The file rotates by size, a few old ones kept, so a
//! long-running app never fills the disk with it.

use std::path::{Path, PathBuf};

use log::LevelFilter;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_log::{RotationStrategy, Target, TargetKind};

/// The log file's name (`smolvlm-desktop.log`; rotated ones get the date: `…_2026-01-31_….log`).
pub const LOG_FILE_NAME: &str = "smolvlm-desktop";

/// Past this size the file is rotated.
const MAX_FILE_BYTES: u128 = 5 * 1024 * 1024;

/// Rotated files kept beside the current one (the plugin's `KeepSome` counts only those): at most
/// four files, 20 MB, in all.
const KEEP_ROTATED: usize = 3;

/// Where the logs go: `<data dir>/logs` when the data folder is overridden
/// (`SMOLVLM_DESKTOP_DATA_DIR`: tests and portable installs keep everything in one place), the
/// platform's log folder otherwise.
pub struct LogFolder(pub PathBuf);

impl LogFolder {
    pub fn resolve<R: Runtime>(
        app: &AppHandle<R>,
        data_dir_override: Option<&Path>,
    ) -> tauri::Result<Self> {
        Ok(Self(match data_dir_override {
            Some(dir) => dir.join("logs"),
            None => app.path().app_log_dir()?,
        }))
    }
}

/// Makes the log file in `folder` and stderr the process's logger. A file that cannot be opened
/// (a read-only folder) leaves stderr alone, which says so, rather than keeping the app from
/// starting. Once per process: a second call changes nothing.
pub fn install<R: Runtime>(app: &AppHandle<R>, folder: &Path) {
    let file = Target::new(TargetKind::Folder {
        path: folder.to_path_buf(),
        file_name: Some(LOG_FILE_NAME.into()),
    });
    match attach(app, vec![file, Target::new(TargetKind::Stderr)]) {
        Ok(()) => {}
        Err(file_error) => {
            if attach(app, vec![Target::new(TargetKind::Stderr)]).is_ok() {
                log::warn!(
                    "no log file in {}: {file_error}; logging to stderr only",
                    folder.display()
                );
            }
        }
    }
}

/// Why the logger was not installed.
#[derive(Debug, thiserror::Error)]
enum InstallError {
    #[error(transparent)]
    Targets(#[from] tauri_plugin_log::Error),
    #[error("a logger is already installed")]
    AlreadyInstalled(#[from] log::SetLoggerError),
    #[error("the log plugin could not be registered: {0}")]
    Plugin(#[from] tauri::Error),
}

fn attach<R: Runtime>(app: &AppHandle<R>, targets: Vec<Target>) -> Result<(), InstallError> {
    // `split` rather than `build`: the plugin's own setup would fail the app's start on a log
    // folder it cannot write.
    let (plugin, level, logger) = tauri_plugin_log::Builder::new()
        .clear_targets()
        .targets(targets)
        .rotation_strategy(RotationStrategy::KeepSome(KEEP_ROTATED))
        .max_file_size(MAX_FILE_BYTES)
        .level(LevelFilter::Info)
        // The windowing stack's info lines say nothing a user's report needs.
        .level_for("tao", LevelFilter::Warn)
        .level_for("wry", LevelFilter::Warn)
        .split(app)?;
    tauri_plugin_log::attach_logger(level, logger)?;
    // Registered for its `plugin:log|log` command, which the window's capability leaves out: the
    // page does not write to the log.
    app.plugin(plugin)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overridden_data_folder_holds_the_logs() {
        let app = tauri::test::mock_builder()
            .build(tauri::test::mock_context(tauri::test::noop_assets()))
            .unwrap();
        let dir = Path::new("/data/smolvlm");
        let folder = LogFolder::resolve(app.handle(), Some(dir)).unwrap();
        assert_eq!(folder.0, dir.join("logs"));
        let platform = LogFolder::resolve(app.handle(), None).unwrap();
        assert_eq!(platform.0, app.path().app_log_dir().unwrap());
    }
}
