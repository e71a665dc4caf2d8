//! The real Python Pyro4 4.82 peer for interop tests.
//!
//! [`python`] creates `target/pyro4-venv` on first use with the exact versions
//! in `tests/python/requirements.txt`, installed from the package registry, and
//! returns its interpreter. Concurrent test processes serialise on a lock file.
//! A machine that cannot build the venv fails the test run: an interop test is
//! never silently skipped (and with `CI=true` cannot be skipped at all).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Root of the workspace (parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Folder with the Python helper scripts the interop tests run.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn venv_dir() -> PathBuf {
    target_dir().join("pyro4-venv")
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A crude cross-process lock: `create_new` on a lock file, retried; stale
/// locks older than ten minutes are broken.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: PathBuf) -> DirLock {
        let start = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return DirLock(path),
                Err(_) => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(600))
                        .unwrap_or(false);
                    if stale || start.elapsed() > Duration::from_secs(900) {
                        let _ = fs::remove_file(&path);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Build something under `target/` that every test process shares, once:
/// `ready` says whether it is there; if not, `build` runs while holding the
/// lock file `lock` (and only if no other process built it meanwhile).
fn build_once(
    lock: PathBuf,
    ready: impl Fn() -> bool,
    build: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    if ready() {
        return Ok(());
    }
    if let Some(parent) = lock.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{parent:?}: {e}"))?;
    }
    let _lock = DirLock::acquire(lock);
    if ready() {
        return Ok(());
    }
    build()
}

fn ensure_venv() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let py = venv_python(&venv);
    let stamp = venv.join(".pyro4-ready");
    let requirements = scripts_dir().join("requirements.txt");
    let wanted = fs::read_to_string(&requirements).map_err(|e| format!("{requirements:?}: {e}"))?;
    let ready =
        || fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && py.exists();
    build_once(venv.with_extension("lock"), ready, || {
        let base = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let _ = fs::remove_dir_all(&venv);
        run(Command::new(&base).arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements))?;
        run(Command::new(&py).args([
            "-c",
            "import Pyro4, serpent; assert Pyro4.__version__ == '4.82', Pyro4.__version__; \
             assert serpent.__version__ == '1.43', serpent.__version__",
        ]))?;
        fs::write(&stamp, &wanted).map_err(|e| e.to_string())
    })?;
    Ok(py)
}

/// The venv's Python interpreter with Pyro4 4.82 and serpent 1.43 importable.
///
/// Panics (failing the test) when the environment cannot be built, with the
/// reason; set up happens once per process.
pub fn python() -> PathBuf {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PY.get_or_init(ensure_venv) {
        Ok(p) => p.clone(),
        Err(e) => panic!(
            "Python Pyro4 4.82 is required for interop tests and could not be set up \
             (needs python3 with venv and access to the package registry): {e}"
        ),
    }
}

/// The Pyro4 release whose own test suite [`pyro4_test_suite`] fetches.
pub const PYRO4_SDIST: &str = "Pyro4==4.82";

/// The suite's files the interop tests import; their presence marks a
/// complete extraction.
const SUITE_FILES: &[&str] = &[
    "testsupport.py",
    "test_server.py",
    "test_naming.py",
    "test_naming2.py",
    "test_message.py",
    "test_server_timeout.py",
    "test_socket.py",
    "test_echoserver.py",
];

fn suite_ready(dir: &Path, stamp: &Path) -> bool {
    fs::read_to_string(stamp).ok().as_deref() == Some(PYRO4_SDIST)
        && SUITE_FILES.iter().all(|f| dir.join(f).is_file())
}

fn ensure_suite() -> Result<PathBuf, String> {
    let py = python();
    let root = target_dir().join("pyro4-suite");
    let dir = root.join("PyroTests");
    let stamp = root.join(".suite-ready");
    build_once(
        root.with_extension("lock"),
        || suite_ready(&dir, &stamp),
        || {
            fs::create_dir_all(&root).map_err(|e| format!("{root:?}: {e}"))?;
            let download = root.join("sdist");
            let _ = fs::remove_dir_all(&download);
            let _ = fs::remove_dir_all(&dir);
            let pip = py.with_file_name("pip");
            run(Command::new(&pip)
                .args(["download", "--quiet", "--disable-pip-version-check"])
                .arg(PYRO4_SDIST)
                .args(["--no-binary", ":all:", "--no-deps", "-d"])
                .arg(&download))?;
            run(Command::new(&py)
                .arg(scripts_dir().join("extract_suite.py"))
                .arg(&download)
                .arg(&dir))?;
            let _ = fs::remove_dir_all(&download);
            if !SUITE_FILES.iter().all(|f| dir.join(f).is_file()) {
                return Err(format!(
                    "the {PYRO4_SDIST} sdist lacks one of tests/PyroTests/{SUITE_FILES:?}"
                ));
            }
            fs::write(&stamp, PYRO4_SDIST).map_err(|e| e.to_string())
        },
    )?;
    Ok(dir)
}

/// Folder holding Pyro4 4.82's own test modules (`tests/PyroTests/*.py` of
/// its source distribution: `test_server.py`, `testsupport.py`, ...), which
/// `tests/python/pyro4_suite.py` runs against the Rust side.
///
/// Fetched on first use with the venv's `pip download` from the package
/// registry and unpacked under `target/pyro4-suite`: third-party code is
/// never committed. Concurrent test processes serialise on a lock file, as
/// the venv build does; a machine that cannot fetch it fails the test.
pub fn pyro4_test_suite() -> PathBuf {
    static SUITE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match SUITE.get_or_init(ensure_suite) {
        Ok(p) => p.clone(),
        Err(e) => panic!(
            "Pyro4 4.82's test suite is required for the suite interop tests and could \
             not be fetched (needs access to the package registry): {e}"
        ),
    }
}

/// A `Command` running `python <script> args...` from `tests/python/`, with
/// the venv's interpreter and unbuffered output.
pub fn script(name: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(scripts_dir().join(name))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_has_pyro4_4_82() {
        let out = Command::new(python())
            .args(["-c", "import Pyro4, serpent; print(Pyro4.__version__, serpent.__version__, Pyro4.constants.PROTOCOL_VERSION)"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4.82 1.43 48");
    }
}
