//! Builds `.tar.gz` and `.zip` archives entry by entry, with names and entry types written
//! raw, so tests can produce exactly the malicious archives the ingest must refuse.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

/// One archive entry. Names are raw bytes so that invalid UTF-8, `..` and absolute paths can
/// be written as they are.
#[derive(Debug, Clone)]
pub enum Entry {
    File(Vec<u8>, Vec<u8>),
    Dir(Vec<u8>),
    Symlink(Vec<u8>, Vec<u8>),
    Hardlink(Vec<u8>, Vec<u8>),
    CharDevice(Vec<u8>),
    Fifo(Vec<u8>),
}

pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Entry {
    Entry::File(name.as_bytes().to_vec(), data.into())
}

fn header_with_name(name: &[u8], kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    {
        let gnu = header.as_gnu_mut().expect("gnu header");
        assert!(name.len() < gnu.name.len(), "test names are short");
        gnu.name[..name.len()].copy_from_slice(name);
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header
}

/// The uncompressed tar stream for `entries`.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let (name, kind, data, link): (&[u8], _, &[u8], Option<&[u8]>) = match entry {
            Entry::File(n, d) => (n, tar::EntryType::Regular, d, None),
            Entry::Dir(n) => (n, tar::EntryType::Directory, &[], None),
            Entry::Symlink(n, t) => (n, tar::EntryType::Symlink, &[], Some(t)),
            Entry::Hardlink(n, t) => (n, tar::EntryType::Link, &[], Some(t)),
            Entry::CharDevice(n) => (n, tar::EntryType::Char, &[], None),
            Entry::Fifo(n) => (n, tar::EntryType::Fifo, &[], None),
        };
        let mut header = header_with_name(name, kind, data.len() as u64);
        if let Some(target) = link {
            let gnu = header.as_gnu_mut().unwrap();
            gnu.linkname[..target.len()].copy_from_slice(target);
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    gzip(&tar(entries))
}

/// A tar.gz whose one entry claims `size` bytes of zeros and really has them: a few KiB
/// compressed, `size` bytes decompressed.
pub fn tar_gz_bomb(name: &str, size: u64) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let mut header = header_with_name(name.as_bytes(), tar::EntryType::Regular, size);
    header.set_cksum();
    gz.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        gz.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    gz.write_all(&[0u8; 1024 + 512]).unwrap();
    gz.finish().unwrap()
}

pub fn zip(entries: &[Entry]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for entry in entries {
        match entry {
            Entry::File(n, d) => {
                w.start_file(String::from_utf8(n.clone()).unwrap(), opts).unwrap();
                w.write_all(d).unwrap();
            }
            Entry::Dir(n) => w.add_directory(String::from_utf8(n.clone()).unwrap(), opts).unwrap(),
            Entry::Symlink(n, t) => w
                .add_symlink(String::from_utf8(n.clone()).unwrap(), String::from_utf8(t.clone()).unwrap(), opts)
                .unwrap(),
            other => panic!("zip cannot hold {other:?}"),
        }
    }
    w.finish().unwrap().into_inner()
}
