/// Limits on one uploaded bundle. Counted on decompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most regular files in one bundle.
    pub max_files: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes of file content in one bundle, in all.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_files: 20_000, max_file_bytes: 25 * 1024 * 1024, max_total_bytes: 512 * 1024 * 1024 }
    }
}

impl Limits {
    /// Most archive entries of any kind (files, directories, extension headers): a bound on
    /// work for archives made mostly of entries that are not files.
    pub(crate) fn max_entries(&self) -> usize {
        self.max_files.saturating_mul(4).max(64)
    }
}
