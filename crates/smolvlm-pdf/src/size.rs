//! Page sizes in points and the pixel sizes renders get, without touching pixels.

/// Points per inch.
pub const POINTS_PER_INCH: f64 = 72.0;

/// A render's canvas and the uniform scale from points to its pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Canvas {
    pub width: u64,
    pub height: u64,
    pub scale: f64,
}

/// poppler's rule (`pdftoppm -r`): each side is `ceil(points × dpi / 72)`, computed in `f64` the
/// same way, so a render at a DPI has exactly pdftoppm's pixel size; the part of the last
/// column or row beyond the page stays background.
pub(crate) fn at_dpi(width_pt: f64, height_pt: f64, dpi: f64) -> Canvas {
    let scale = dpi / POINTS_PER_INCH;
    Canvas {
        width: to_pixels((width_pt * scale).ceil()),
        height: to_pixels((height_pt * scale).ceil()),
        scale,
    }
}

/// The longest side becomes exactly `px` (what the image processor resizes to, so it resizes
/// this render at most by a pixel); the other keeps the aspect ratio, rounded to the nearest
/// pixel and at least 1.
pub(crate) fn at_longest_edge(width_pt: f64, height_pt: f64, px: u32) -> Canvas {
    let longest = width_pt.max(height_pt);
    let scale = f64::from(px) / longest;
    let other = |pt: f64| to_pixels((pt * scale).round()).max(1);
    let (width, height) = if width_pt >= height_pt {
        (u64::from(px), other(height_pt))
    } else {
        (other(width_pt), u64::from(px))
    };
    Canvas {
        width,
        height,
        scale,
    }
}

/// Saturating: a NaN or negative size is 0 pixels, an absurd one `u64::MAX`; both are refused
/// by the limits before anything is allocated.
fn to_pixels(v: f64) -> u64 {
    v as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpi_sizes_round_up_as_pdftoppm_does() {
        // Measured with pdftoppm (poppler 22.12) on ghostscript-made pages of these sizes.
        for (w, h, dpi, want) in [
            (100.3, 200.7, 36.0, (51, 101)),
            (100.3, 200.7, 50.0, (70, 140)),
            (612.0, 792.0, 50.0, (425, 550)),
            (595.28, 841.89, 96.0, (794, 1123)),
            (100.9, 100.1, 50.0, (71, 70)),
        ] {
            let c = at_dpi(w, h, dpi);
            assert_eq!((c.width, c.height), want, "{w}×{h} at {dpi}");
        }
    }

    #[test]
    fn longest_edge_is_exact_and_aspect_kept() {
        let c = at_longest_edge(612.0, 792.0, 512);
        assert_eq!((c.width, c.height), (396, 512));
        let c = at_longest_edge(792.0, 612.0, 2048);
        assert_eq!((c.width, c.height), (2048, 1583));
        // A hairline page still gets a row of pixels.
        let c = at_longest_edge(10_000.0, 0.01, 512);
        assert_eq!((c.width, c.height), (512, 1));
    }

    #[test]
    fn absurd_sizes_saturate_instead_of_wrapping() {
        assert_eq!(at_dpi(f64::MAX, 1.0, 1e6).width, u64::MAX);
        assert_eq!(at_dpi(f64::NAN, 1.0, 72.0).width, 0);
    }
}
