//! What a change to a trust store runs: [`Step`]s, gathered per location in a [`Plan`]
//! that is checked before anything runs, shown to the person as shell commands (the
//! `sudo` line of the CLI, the explanation before the window's privilege prompt), and
//! run either in this process or through that prompt, with its undo on failure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// One change, small enough to show as one shell command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Copy a certificate file to `to`, readable by all (`install -m 0644`).
    Copy { from: PathBuf, to: PathBuf },
    /// Remove a file (`rm -f`); a file already gone is no failure.
    Remove { path: PathBuf },
    /// Run a program.
    Run { program: PathBuf, args: Vec<String> },
}

impl Step {
    pub fn run(program: &Path, args: &[&str]) -> Step {
        Step::Run {
            program: program.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The step as one POSIX shell command.
    pub fn shell(&self) -> String {
        match self {
            Step::Copy { from, to } => format!(
                "install -m 0644 {} {}",
                quote(&from.to_string_lossy()),
                quote(&to.to_string_lossy())
            ),
            Step::Remove { path } => format!("rm -f {}", quote(&path.to_string_lossy())),
            Step::Run { program, args } => {
                let mut out = quote(&display_program(program));
                for a in args {
                    out.push(' ');
                    out.push_str(&quote(a));
                }
                out
            }
        }
    }

    /// Runs the step in this process.
    fn execute(&self) -> Result<()> {
        match self {
            Step::Copy { from, to } => {
                let bytes = std::fs::read(from)
                    .map_err(|e| Error::io(format!("cannot read {}", from.display()), e))?;
                std::fs::write(to, bytes).map_err(|e| write_err(to, e))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644))
                        .map_err(|e| write_err(to, e))?;
                }
                Ok(())
            }
            Step::Remove { path } => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(write_err(path, e)),
            },
            Step::Run { program, args } => {
                let args: Vec<OsString> = args.iter().map(OsString::from).collect();
                run_checked(program, &args).map(|_| ())
            }
        }
    }
}

fn write_err(path: &Path, e: std::io::Error) -> Error {
    if matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    ) {
        Error::Trust {
            code: "read_only",
            message: format!("{} is read-only here ({e})", path.display()),
        }
    } else {
        Error::io(format!("cannot write {}", path.display()), e)
    }
}

/// A program as the person would type it: its bare name when it lives in a directory
/// every PATH has (so `sudo` finds it too), else its full path.
fn display_program(program: &Path) -> String {
    const STANDARD: &[&str] = &[
        "/usr/bin",
        "/usr/sbin",
        "/bin",
        "/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ];
    match (program.parent(), program.file_name()) {
        (Some(dir), Some(name)) if STANDARD.iter().any(|d| Path::new(d) == dir) => {
            name.to_string_lossy().into_owned()
        }
        _ => program.to_string_lossy().into_owned(),
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:@%+=,-".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The changes of one location, checked and shown before they run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Puts things back as they were if a step fails (idempotent: removing what the
    /// steps may have added).
    pub undo: Vec<Step>,
    /// The location is not writable by this process: the steps need root.
    pub privileged: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps as one shell command line.
    pub fn shell(&self) -> String {
        self.steps
            .iter()
            .map(Step::shell)
            .collect::<Vec<_>>()
            .join(" && ")
    }

    /// The exact command for a terminal: `sudo …` when the steps need root.
    pub fn sudo_command(&self) -> String {
        match self.steps.as_slice() {
            [one] => format!("sudo {}", one.shell()),
            _ => format!("sudo sh -c {}", quote(&self.shell())),
        }
    }

    /// A script that runs the steps, and the undo when one fails.
    fn script(&self) -> String {
        let undo = self
            .undo
            .iter()
            .map(Step::shell)
            .collect::<Vec<_>>()
            .join("; ");
        if undo.is_empty() {
            self.shell()
        } else {
            format!("{{ {}; }} || {{ {undo}; exit 1; }}", self.shell())
        }
    }

    /// Runs the steps here; on a failure runs the undo (whose own failures are
    /// ignored: the first error is the one to report).
    pub fn execute(&self) -> Result<()> {
        for step in &self.steps {
            if let Err(e) = step.execute() {
                self.rollback();
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn rollback(&self) {
        for step in &self.undo {
            if let Err(e) = step.execute() {
                tracing::warn!(error = %e, step = %step.shell(), "could not undo a trust-store change");
            }
        }
    }

    /// Runs the steps as root through a privilege prompt (`pkexec`): one prompt for the
    /// whole plan, its undo included in the same script.
    pub fn execute_elevated(&self, prompt: &[String]) -> Result<()> {
        let Some((program, prefix)) = prompt.split_first() else {
            return Err(Error::Trust {
                code: "needs_root",
                message: format!("this needs root; run: {}", self.sudo_command()),
            });
        };
        let mut args: Vec<OsString> = prefix.iter().map(OsString::from).collect();
        args.extend(["/bin/sh".into(), "-c".into(), self.script().into()]);
        let output = Command::new(program)
            .args(&args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::Trust {
                        code: "missing_tool",
                        message: format!(
                            "no privilege prompt: {program} is not installed (Debian/Ubuntu: pkexec, Fedora/Arch: polkit); run in a terminal: {}",
                            self.sudo_command()
                        ),
                    }
                } else {
                    Error::io(format!("cannot run {program}"), e)
                }
            })?;
        match output.status.code() {
            Some(0) => Ok(()),
            // pkexec: 126 when the person dismissed the prompt, 127 when not authorised.
            Some(126) | Some(127) => Err(Error::Trust {
                code: "cancelled",
                message:
                    "not authorised: the privilege prompt was dismissed or refused; nothing changed"
                        .into(),
            }),
            _ => Err(Error::Trust {
                code: "failed",
                message: format!(
                    "{} failed as root ({}); nothing changed",
                    self.shell(),
                    last_line(&output.stderr, &output.stdout)
                ),
            }),
        }
    }
}

/// Runs `program args` with the C locale; its stdout when it succeeds, else an error
/// with the last line it printed.
pub fn run_checked(program: &Path, args: &[OsString]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("cannot run {}", program.display()), e))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let shown = std::iter::once(display_program(program))
            .chain(args.iter().map(|a| quote(&a.to_string_lossy())))
            .collect::<Vec<_>>()
            .join(" ");
        Err(Error::Trust {
            code: "failed",
            message: format!(
                "{shown} failed ({})",
                last_line(&output.stderr, &output.stdout)
            ),
        })
    }
}

fn last_line(stderr: &[u8], stdout: &[u8]) -> String {
    let pick = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    pick(stderr)
        .or_else(|| pick(stdout))
        .unwrap_or_else(|| "no output".into())
}

/// Finds `name` in `path` (the PATH's directories), then in the system's sbin
/// directories when `sbin`.
pub fn find_tool(path: &[PathBuf], name: &str, sbin: bool) -> Option<PathBuf> {
    let extra = if sbin {
        ["/usr/local/sbin", "/usr/sbin", "/sbin"]
            .map(PathBuf::from)
            .to_vec()
    } else {
        Vec::new()
    };
    path.iter()
        .chain(extra.iter())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Whether this process can change `path` (a file, or a directory to create files in),
/// as the kernel would decide a write: permission bits for a user, and a read-only
/// mount for anyone, root included. Nothing is written to find out.
/// `as_user`: a root process acting as a user (tests of the privilege prompt) also
/// needs a write bit a user would have.
pub fn writable(path: &Path, as_user: bool) -> bool {
    if as_user && !user_may_write(path) {
        return false;
    }
    kernel_allows_write(path)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn kernel_allows_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn kernel_allows_write(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.permissions().readonly())
}

fn user_may_write(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        // Root (uid 0) acting as a user owns nothing.
        (meta.uid() != 0 && meta.mode() & 0o200 != 0) || meta.mode() & 0o002 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_needs_it() {
        assert_eq!(quote("/usr/local/share/ca.crt"), "/usr/local/share/ca.crt");
        assert_eq!(quote("C,,"), "C,,");
        assert_eq!(quote("Authdesk Local CA"), "'Authdesk Local CA'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn a_plan_of_several_steps_is_one_sudo_sh_line() {
        let plan = Plan {
            steps: vec![
                Step::Copy {
                    from: "/home/dev/data/tls/ca.pem".into(),
                    to: "/usr/local/share/ca-certificates/authdesk-ca-1.crt".into(),
                },
                Step::run(Path::new("/usr/sbin/update-ca-certificates"), &[]),
            ],
            undo: vec![],
            privileged: true,
        };
        assert_eq!(
            plan.sudo_command(),
            "sudo sh -c 'install -m 0644 /home/dev/data/tls/ca.pem /usr/local/share/ca-certificates/authdesk-ca-1.crt && update-ca-certificates'"
        );
        let one = Plan {
            steps: vec![Step::run(Path::new("/opt/jdk/bin/keytool"), &["-list"])],
            ..Plan::default()
        };
        assert_eq!(one.sudo_command(), "sudo /opt/jdk/bin/keytool -list");
    }

    #[test]
    fn a_failing_step_runs_the_undo() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("ca.pem");
        std::fs::write(&from, "pem").unwrap();
        let to = dir.path().join("anchor.crt");
        let plan = Plan {
            steps: vec![
                Step::Copy {
                    from: from.clone(),
                    to: to.clone(),
                },
                Step::run(Path::new("/bin/false"), &[]),
            ],
            undo: vec![Step::Remove { path: to.clone() }],
            privileged: false,
        };
        let err = plan.execute().unwrap_err();
        assert_eq!(err.code(), "failed", "{err}");
        assert!(!to.exists(), "the copied file must be removed again");
    }

    #[test]
    fn an_elevated_plan_runs_through_the_prompt_with_its_undo() {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("anchor.crt");
        let from = dir.path().join("ca.pem");
        std::fs::write(&from, "pem").unwrap();
        let plan = Plan {
            steps: vec![
                Step::Copy {
                    from,
                    to: to.clone(),
                },
                Step::run(Path::new("/bin/false"), &[]),
            ],
            undo: vec![Step::Remove { path: to.clone() }],
            privileged: true,
        };
        // `env` stands in for pkexec: it runs its arguments.
        let err = plan.execute_elevated(&["env".into()]).unwrap_err();
        assert_eq!(err.code(), "failed", "{err}");
        assert!(!to.exists());
        let missing = plan
            .execute_elevated(&["/nonexistent/pkexec".into()])
            .unwrap_err();
        assert_eq!(missing.code(), "missing_tool");
        assert!(missing.to_string().contains("sudo sh -c"), "{missing}");
    }
}
