//! A real S3 protocol server (`s3-test-server`: s3s + s3s-fs, signatures checked) as a child
//! process on a free loopback port, with one bucket and one access key.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::Server;

/// A running `s3-test-server`.
pub struct S3Server {
    server: Server,
    /// The directory holding the buckets (one directory each; objects are files by key).
    pub root: PathBuf,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

impl S3Server {
    /// Starts a server over `<dir>/s3` with the bucket `switchyard-test`.
    pub fn start(dir: &Path) -> S3Server {
        let root = dir.join("s3");
        std::fs::create_dir_all(&root).expect("s3 root");
        let (bucket, access_key, secret_key) =
            ("switchyard-test".to_owned(), "AKIDSWITCHYARDTEST".to_owned(), "test-secret-0123456789abcdef".to_owned());
        let mut cmd = Command::new(crate::bin_path("s3-test-server"));
        cmd.arg("--root").arg(&root).args(["--access-key", &access_key, "--secret-key", &secret_key]);
        cmd.args(["--bucket", &bucket]);
        let server = Server::start(cmd, dir.join("s3.log"));
        S3Server { server, root, bucket, access_key, secret_key }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        self.server.url()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.server.log()).unwrap_or_default()
    }

    /// Where the object `key` of the bucket is kept on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(&self.bucket).join(key)
    }

    /// Writes the secret key to `<dir>/s3.secret` and returns the TOML body of an S3 section
    /// (`kind = "s3"` and the rest) for this server, with `prefix`.
    pub fn config_toml(&self, dir: &Path, prefix: &str) -> String {
        let secret = dir.join("s3.secret");
        std::fs::write(&secret, format!("{}\n", self.secret_key)).expect("secret file");
        format!(
            "kind = \"s3\"\nbucket = \"{}\"\nprefix = \"{prefix}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
             force_path_style = true\naccess_key_id = \"{}\"\nsecret_access_key_file = \"{}\"\n",
            self.bucket,
            self.url(),
            self.access_key,
            secret.display()
        )
    }

    /// SIGTERM, then wait for exit.
    pub fn stop(mut self) {
        self.server.stop();
    }
}
