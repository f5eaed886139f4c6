//! File-backed mappings: the same views as segments, over a file on disk, with flush.
//!
//! Why the constructors are safe when memmap2's `Mmap::map` is `unsafe`: see "Files that
//! others can change" on [`FileMapping`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::segment::check_new_size;
use crate::sys::{self, OpenHow, Section};
use crate::view::Source;
use crate::{Access, Error, Result, View};

/// A file opened for mapping. Views of it work like views of a [`Segment`](crate::Segment);
/// [`View::flush`] writes a read-write view's changes back to the file, and copy-on-write views
/// never change the file.
///
/// ```
/// use shmkit::{Access, FileMapping};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("data.bin");
/// let file = FileMapping::create(&path, 8192)?;
/// let mut view = file.map(Access::ReadWrite)?;
/// view.write_at(4096, b"persisted")?;
/// view.flush()?;
/// assert_eq!(&std::fs::read(&path).unwrap()[4096..4105], b"persisted");
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// # Files that others can change
///
/// Any process (or thread) that can write the file can change its bytes while it is mapped,
/// and can **shrink** it (`ftruncate`, `File::set_len`, or a program that rewrites the file
/// in place). On Linux and macOS, touching a mapped page that now lies past the end of the
/// file raises SIGBUS, and the process dies — every process that maps the file, at its next
/// access there. (Within the last page, bytes past the end read as zeros and no signal is
/// raised.) Windows refuses to shrink a file while any view of it is mapped
/// (`ERROR_USER_MAPPED_FILE`).
///
/// memmap2 makes its constructors `unsafe` for this reason, and because its `Mmap`
/// dereferences to `&[u8]`: bytes changing under a live `&[u8]` are undefined behaviour.
/// shmkit keeps [`FileMapping::open`] and [`FileMapping::create`] safe, because neither hazard
/// reaches memory safety here:
///
/// * a [`View`] never hands out a reference to mapped bytes in safe code; it copies, with
///   atomic accesses, so bytes changed by someone else are only different data
///   ([`View::as_slice`], which does make a reference, is `unsafe` and says so);
/// * SIGBUS stops the process at the faulting access: the access never completes and no other
///   memory is read or written. Rust's standard library installs a SIGBUS handler only to
///   report stack overflows; for any other address it restores the default action, which
///   ends the process. That is a crash, which safe Rust permits (like an abort), not
///   corruption. A program that installs its own SIGBUS handler which resumes execution
///   takes on that contract itself.
///
/// Named segments have the same exposure: any process that can open a segment read-write
/// can `ftruncate` it (see [`Segment`](crate::Segment)), and `Segment::open` is safe for the
/// same reasons. So map only files that processes you trust can write, or take a private
/// copy first; and do not keep long-lived mappings of files that tools rewrite in place
/// (log rotation with `copytruncate`, editors that truncate and rewrite).
pub struct FileMapping {
    path: Arc<str>,
    file: Arc<File>,
    section: Section,
    len: usize,
    access: Access,
}

impl fmt::Debug for FileMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMapping")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("access", &self.access)
            .finish()
    }
}

impl FileMapping {
    /// Options to create or open a file for mapping.
    pub fn options() -> FileOptions {
        FileOptions::default()
    }

    /// Creates a new file of `size` zero bytes and opens it read-write; fails if it exists.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`], [`Error::SizeInvalid`] (zero or too large),
    /// [`Error::AccessDenied`], [`Error::NoSpace`], [`Error::Io`].
    pub fn create(path: impl AsRef<Path>, size: usize) -> Result<FileMapping> {
        FileMapping::options().size(size).create(path)
    }

    /// Opens an existing file read-write.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::AccessDenied`], [`Error::SizeInvalid`] (an empty file),
    /// [`Error::Io`].
    pub fn open(path: impl AsRef<Path>) -> Result<FileMapping> {
        FileMapping::options().open(path)
    }

    /// The file's path, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The size of the file (and of the mapping) in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: empty files cannot be mapped and are refused at open.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The access the file was opened with.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Maps the whole file.
    ///
    /// # Errors
    ///
    /// [`Error::AccessMismatch`] for a read-write view of a file opened read-only.
    pub fn map(&self, access: Access) -> Result<View> {
        self.map_range(access, 0, self.len)
    }

    /// Maps `len` bytes from `offset` (any offset; shmkit aligns internally).
    ///
    /// # Errors
    ///
    /// As [`FileMapping::map`], and [`Error::SizeInvalid`] for an empty or out-of-range range.
    pub fn map_range(&self, access: Access, offset: usize, len: usize) -> Result<View> {
        View::map(
            Source {
                section: &self.section,
                granted: self.access,
                len: self.len,
                name: &self.path,
                file: Some(&self.file),
            },
            access,
            offset,
            len,
            false,
        )
    }
}

/// How to create or open a [`FileMapping`]: the builder behind [`FileMapping::options`].
#[derive(Clone, Debug, Default)]
pub struct FileOptions {
    size: Option<usize>,
    read_only: bool,
}

impl FileOptions {
    /// The size in bytes: needed to create; when opening, the file must have at least this many.
    pub fn size(&mut self, size: usize) -> &mut Self {
        self.size = Some(size);
        self
    }

    /// Opens the file for reading only (views may be read-only or copy-on-write).
    pub fn read_only(&mut self, read_only: bool) -> &mut Self {
        self.read_only = read_only;
        self
    }

    /// Creates a new file of the given size; fails with [`Error::AlreadyExists`] if it exists.
    ///
    /// # Errors
    ///
    /// As [`FileMapping::create`].
    pub fn create(&self, path: impl AsRef<Path>) -> Result<FileMapping> {
        self.open_how(path.as_ref(), OpenHow::Create)
    }

    /// Opens an existing file.
    ///
    /// # Errors
    ///
    /// As [`FileMapping::open`].
    pub fn open(&self, path: impl AsRef<Path>) -> Result<FileMapping> {
        self.open_how(path.as_ref(), OpenHow::Open)
    }

    /// Opens the file if it exists, or creates it with the given size.
    ///
    /// # Errors
    ///
    /// As [`FileOptions::create`] and [`FileOptions::open`].
    pub fn open_or_create(&self, path: impl AsRef<Path>) -> Result<FileMapping> {
        self.open_how(path.as_ref(), OpenHow::OpenOrCreate)
    }

    fn open_how(&self, path: &Path, how: OpenHow) -> Result<FileMapping> {
        let display = path.display().to_string();
        let size = match (how, self.size) {
            (OpenHow::Open, size) => size.unwrap_or(0),
            (_, None) => return Err(Error::size(&display, "a size is needed to create a file")),
            (_, Some(size)) => size,
        };
        check_new_size(&display, size, how)?;
        let writable = !self.read_only || how == OpenHow::Create;
        let mut opts = OpenOptions::new();
        opts.read(true).write(writable);
        match how {
            OpenHow::Create => opts.create_new(true),
            OpenHow::Open => &mut opts,
            OpenHow::OpenOrCreate => opts.create(writable),
        };
        let file = opts
            .open(path)
            .map_err(|e| Error::os("open", &display, e))?;
        let mut len = file_len(&file, &display)?;
        if len == 0 && how != OpenHow::Open && writable {
            // Newly created (or an empty file we may size): give it the size asked for.
            file.set_len(size as u64)
                .map_err(|e| no_space(e, &display, size))?;
            len = size;
        }
        if len == 0 {
            return Err(Error::size(&display, "an empty file cannot be mapped"));
        }
        if len < size {
            return Err(Error::size(
                &display,
                format!("the file has {len} bytes, fewer than the {size} asked for"),
            ));
        }
        let access = if writable {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        };
        let section = sys::file_section(&file, writable, len, &display)?;
        Ok(FileMapping {
            path: Arc::from(display),
            file: Arc::new(file),
            section,
            len,
            access,
        })
    }
}

fn file_len(file: &File, name: &str) -> Result<usize> {
    let n = file
        .metadata()
        .map_err(|e| Error::os("stat", name, e))?
        .len();
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| Error::size(name, format!("{n} bytes do not fit in memory")))
}

fn no_space(e: io::Error, name: &str, size: usize) -> Error {
    if e.kind() == io::ErrorKind::StorageFull {
        Error::NoSpace {
            name: name.to_owned(),
            requested: size as u64,
            available: None,
        }
    } else {
        Error::os("set_len", name, e)
    }
}
