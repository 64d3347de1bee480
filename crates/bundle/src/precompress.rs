//! Deploy-time compression: brotli and gzip copies of compressible files, kept only when
//! smaller. The edge never compresses per request.

use std::io::Write;

use switchyard_model::Encoding;

/// Below this, compression saves less than its headers cost.
const MIN_SIZE: usize = 256;

/// Whether files of `content_type` are worth compressing (text and uncompressed binaries;
/// not images, fonts or archives that are compressed already).
pub fn worth_trying(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/manifest+json"
                | "application/ld+json"
                | "application/xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/wasm"
                | "application/javascript"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/vnd.microsoft.icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

/// Brotli quality by size: the best ratio for typical assets, faster settings for big files
/// so that a deploy of a large site stays quick.
fn brotli_quality(len: usize) -> i32 {
    match len {
        0..=262_144 => 11,
        262_145..=4_194_304 => 9,
        _ => 5,
    }
}

/// The encodings of `bytes` that are smaller than `bytes`, brotli first.
pub fn variants(bytes: &[u8]) -> Vec<(Encoding, Vec<u8>)> {
    if bytes.len() < MIN_SIZE {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(2);
    let mut br = Vec::new();
    let params =
        brotli::enc::BrotliEncoderParams { quality: brotli_quality(bytes.len()), lgwin: 22, ..Default::default() };
    if brotli::BrotliCompress(&mut &bytes[..], &mut br, &params).is_ok() && br.len() < bytes.len() {
        out.push((Encoding::Br, br));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
    if gz.write_all(bytes).is_ok()
        && let Ok(gz) = gz.finish()
        && gz.len() < bytes.len()
    {
        out.push((Encoding::Gzip, gz));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn variants_decompress_to_the_original_and_are_smaller() {
        let text = "body { color: red; }\n".repeat(200);
        let vs = variants(text.as_bytes());
        assert_eq!(vs.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [Encoding::Br, Encoding::Gzip]);
        for (encoding, bytes) in vs {
            assert!(bytes.len() < text.len());
            let mut back = String::new();
            match encoding {
                Encoding::Br => brotli::Decompressor::new(&bytes[..], 4096).read_to_string(&mut back).unwrap(),
                Encoding::Gzip => flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut back).unwrap(),
            };
            assert_eq!(back, text);
        }
        assert!(variants(b"tiny").is_empty());
        let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(variants(&random).iter().all(|(_, b)| b.len() < random.len()), "only smaller variants are kept");
    }

    #[test]
    fn what_is_worth_compressing() {
        assert!(worth_trying("text/html; charset=utf-8"));
        assert!(worth_trying("application/wasm"));
        assert!(worth_trying("image/svg+xml"));
        assert!(!worth_trying("image/png"));
        assert!(!worth_trying("font/woff2"));
        assert!(!worth_trying("application/octet-stream"));
    }
}
