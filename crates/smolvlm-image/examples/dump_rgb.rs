fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = smolvlm_image::load_image_file(std::path::Path::new(&a[1]), &Default::default()).unwrap();
    std::fs::write(&a[2], img.as_raw()).unwrap();
}
