//! Test helpers: the committed fixtures, and hostile PDFs written in memory (a valid file
//! structure with a correct cross-reference table, so hayro parses them as any reader would).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pdf")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Writes objects 1..=n (each the body between `N 0 obj` and `endobj`), object 1 the catalog.
pub fn write_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

pub fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

/// `pages` pages of `width × height` points sharing one content stream (object 3).
pub fn pages_pdf(pages: usize, width: f64, height: f64, content: &[u8]) -> Vec<u8> {
    let first_page = 4;
    let kids: Vec<String> = (0..pages)
        .map(|i| format!("{} 0 R", first_page + i))
        .collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Count {pages} /Kids [{}] >>",
            kids.join(" ")
        )
        .into_bytes(),
        stream("", content),
    ];
    for _ in 0..pages {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Contents 3 0 R >>"
            )
            .into_bytes(),
        );
    }
    write_pdf(&objects)
}

/// A render bomb: form k draws form k+1 `fan_out` times, `depth` levels deep (hayro's nesting
/// limit is 50, so 40 levels all run), and the last form fills a small square. Four draws a
/// level make 4^40 squares from a file of a few kilobytes.
pub fn bomb_pdf(depth: usize, fan_out: usize) -> Vec<u8> {
    // Objects: 1 catalog, 2 pages, 3 page, 4 page content, 5.. the forms.
    let form = |k: usize| 5 + k;
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /XObject << /F {} 0 R >> >> >>",
            form(0)
        )
        .into_bytes(),
        stream("", b"/F Do"),
    ];
    for k in 0..depth {
        let body = if k + 1 == depth {
            b"0 0 1 rg 0 0 10 10 re f".to_vec()
        } else {
            (0..fan_out)
                .map(|i| format!("q 1 0 0 1 {} 0 cm /G Do Q", i))
                .collect::<Vec<_>>()
                .join(" ")
                .into_bytes()
        };
        let resources = if k + 1 == depth {
            String::new()
        } else {
            format!("/Resources << /XObject << /G {} 0 R >> >>", form(k + 1))
        };
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Form /BBox [0 0 612 792] {resources}"),
            &body,
        ));
    }
    write_pdf(&objects)
}

/// Decodes a committed PNG to RGB.
pub fn png_rgb(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}
