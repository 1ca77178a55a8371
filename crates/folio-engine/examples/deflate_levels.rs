//! The measurement behind `compress`'s deflate level (src/deflate.rs):
//! every Flate stream of a folder of PDFs inflated and deflated again at
//! libdeflate levels 6, 9, 10, 11 and 12, with total bytes and CPU time per
//! level, for short (≤ 16 KB decoded), medium (≤ 256 KB) and long streams.
//!
//! ```text
//! cargo run --release -p folio-engine --example deflate_levels -- ../shared/corpus/dev/pdf
//! ```

use std::io::Read;
use std::time::{Duration, Instant};

const LEVELS: [i32; 5] = [6, 9, 10, 11, 12];
const BUCKETS: [&str; 3] = ["short (<= 16 KB)", "medium (<= 256 KB)", "long"];

#[derive(Default, Clone, Copy)]
struct Totals {
    stored: u64,
    decoded: u64,
    out: [u64; LEVELS.len()],
    time: [Duration; LEVELS.len()],
}

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: deflate_levels <folder of PDFs>");
        std::process::exit(2);
    };
    let mut compressors: Vec<libdeflater::Compressor> = LEVELS
        .iter()
        .filter_map(|&l| libdeflater::CompressionLvl::new(l).ok())
        .map(libdeflater::Compressor::new)
        .collect();
    let mut totals = [Totals::default(); 3];
    let mut paths: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(2);
        }
    };
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
    {
        let Ok(doc) = lopdf::Document::load(path) else {
            continue;
        };
        for obj in doc.objects.values() {
            let lopdf::Object::Stream(s) = obj else {
                continue;
            };
            if !matches!(
                s.dict.get(b"Filter").and_then(lopdf::Object::as_name),
                Ok(b"FlateDecode")
            ) {
                continue;
            }
            let mut plain = Vec::new();
            // 256 MB cap: a bomb must not stall the measurement.
            let mut reader = flate2::read::ZlibDecoder::new(&s.content[..]).take(256 << 20);
            if reader.read_to_end(&mut plain).is_err() {
                continue;
            }
            let bucket = match plain.len() {
                n if n <= 16 << 10 => 0,
                n if n <= 256 << 10 => 1,
                _ => 2,
            };
            let t = &mut totals[bucket];
            t.stored += s.content.len() as u64;
            t.decoded += plain.len() as u64;
            for (i, c) in compressors.iter_mut().enumerate() {
                let mut buf = vec![0u8; c.zlib_compress_bound(plain.len())];
                let start = Instant::now();
                let n = c.zlib_compress(&plain, &mut buf).unwrap_or(usize::MAX);
                t.time[i] += start.elapsed();
                // compress keeps the stored stream when it is smaller.
                t.out[i] += n.min(s.content.len()) as u64;
            }
        }
    }
    println!("| streams | level | bytes out | CPU s |");
    println!("|---|---:|---:|---:|");
    for (name, t) in BUCKETS.iter().zip(&totals) {
        for (i, level) in LEVELS.iter().enumerate() {
            println!(
                "| {name}: {} stored, {} decoded | {level} | {} | {:.2} |",
                t.stored,
                t.decoded,
                t.out[i],
                t.time[i].as_secs_f64()
            );
        }
    }
}
