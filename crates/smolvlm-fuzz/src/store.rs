//! `store`: a conversation file as the app finds it on disk, edited by hand or half-written by
//! another program: the data folder opened as the app opens it at start-up (every file read,
//! upgraded, answers left streaming marked interrupted), then the conversation listed, read and
//! turned into the engine's messages. One bad file may make its conversation unreadable; it
//! must never stop the store from opening, nor make a readable conversation name files outside
//! the image store.

use smolvlm::{ContentPart, ImageSource};
use smolvlm_desktop::store::{Store, is_image_name};

use crate::scratch::scratch;

/// The file's conversation id: its name without `.json`.
const ID: &str = "c-fuzz";

pub fn store(data: &[u8]) {
    let scratch = scratch();
    let root = scratch.path();
    std::fs::create_dir_all(root.join("conversations")).expect("a conversations folder");
    scratch.write(&format!("conversations/{ID}.json"), data);
    let store = match Store::open(root) {
        Ok(store) => store,
        Err(e) => panic!("one conversation file stopped the store from opening: {e}"),
    };
    let listed = store.list().expect("the store lists its folder");
    let Ok(c) = store.get(ID) else {
        assert!(listed.is_empty(), "an unreadable conversation was listed");
        return;
    };
    assert_eq!(c.id, ID, "the conversation's id is not its file's");
    for m in &c.messages {
        for image in &m.images {
            assert!(
                is_image_name(&image.file),
                "an image outside the store: {:?}",
                image.file
            );
        }
    }
    let images = store.images_dir();
    for m in store.engine_messages(&c) {
        for part in &m.content {
            if let ContentPart::Image(ImageSource::Path(p)) = part {
                assert_eq!(p.parent(), Some(images.as_path()));
            }
        }
    }
}
