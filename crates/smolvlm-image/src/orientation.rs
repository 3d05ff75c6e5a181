//! EXIF orientation applied to decoded pixels, as `ImageOps.exif_transpose` does (every decoder
//! that reads an orientation shares it).

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

pub(crate) fn apply_orientation(img: RgbImage, orientation: Option<Orientation>) -> RgbImage {
    match orientation {
        Some(o) if o != Orientation::NoTransforms => {
            let mut dynamic = DynamicImage::ImageRgb8(img);
            dynamic.apply_orientation(o);
            dynamic.into_rgb8()
        }
        _ => img,
    }
}
