//! Files that must survive a crash and stay private: written to a temporary file in
//! the same directory, synced, then renamed over the target.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically; `private` files are created `0600`.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Other(format!("{} has no parent directory", path.display())))?;
    create_private_dir(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = options
        .open(&tmp)
        .map_err(|e| Error::io(ctx("cannot create"), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(ctx("cannot write"), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e))?;
    Ok(())
}

/// Creates `dir` (and parents) with owner-only permissions where it is new.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))
}

pub fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// An exclusive advisory lock on `path` (created if needed), held until dropped.
/// Serialises first-start work (CA generation, migrations, seeding) between
/// processes that share a data directory.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

pub fn lock_exclusive(path: &Path) -> Result<DirLock> {
    let file = open_lock_file(path)?;
    file.lock().map_err(|e| lock_err(path, e))?;
    Ok(DirLock { _file: file })
}

/// [`lock_exclusive`] for async code: takes a free lock at once, and waits for a held
/// one on a blocking thread.
pub async fn lock_exclusive_async(path: &Path) -> Result<DirLock> {
    let file = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                file.lock().map_err(|e| lock_err(&path, e))?;
                Ok(DirLock { _file: file })
            })
            .await
            .map_err(|e| Error::Other(e.to_string()))?
        }
        Err(std::fs::TryLockError::Error(e)) => Err(lock_err(path, e)),
    }
}

fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| Error::io(format!("cannot open lock file {}", path.display()), e))
}

fn lock_err(path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("cannot lock {}", path.display()), e)
}

/// Raises the soft limit of open files to the hard one (at most 65,536) for a server
/// that many clients connect to at once. Debian's default soft limit is 1,024, so a
/// load test with a thousand connections would find new ones waiting for free
/// descriptors (the server retries accepting every 50 ms). A failure changes nothing.
pub fn raise_open_files_limit() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                let wanted = limit.rlim_max.min(65_536);
                if limit.rlim_cur < wanted {
                    limit.rlim_cur = wanted;
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
            }
        }
    }
}
