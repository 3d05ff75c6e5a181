//! Compiles `csrc/pillow_jpeg.c`, the libjpeg driver that decodes JPEGs as Pillow does, against
//! the libjpeg-turbo that `turbojpeg-sys` builds from its bundled source (its `libturbojpeg.a`
//! holds the whole libjpeg API as well, so linking it is enough).

fn main() {
    println!("cargo:rerun-if-changed=csrc/pillow_jpeg.c");
    // `turbojpeg-sys` (links = "turbojpeg") publishes its installed headers as `include`.
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .expect("turbojpeg-sys did not report its include directory");
    let mut build = cc::Build::new();
    build.file("csrc/pillow_jpeg.c").warnings(true);
    for dir in include.split(',') {
        build.include(dir);
    }
    build.compile("pillow_jpeg");
}
