//! Conversation types shared by the chat template, the engine and the app.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// Where an image comes from. Bytes cover clipboard pastes, which have no path.
#[derive(Debug, Clone)]
pub enum ImageSource {
    Path(PathBuf),
    Bytes { name: String, data: Arc<[u8]> },
}

impl ImageSource {
    /// A name for messages: the path, or the name given to pasted bytes.
    pub fn display_name(&self) -> String {
        match self {
            ImageSource::Path(p) => p.display().to_string(),
            ImageSource::Bytes { name, .. } => name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ContentPart {
    Image(ImageSource),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentPart>,
}

impl Message {
    /// One user turn as the CLI builds it: the images in the order given, then the text.
    pub fn user_with_images(images: impl IntoIterator<Item = ImageSource>, text: &str) -> Self {
        let mut content: Vec<ContentPart> = images.into_iter().map(ContentPart::Image).collect();
        content.push(ContentPart::Text(text.to_string()));
        Message {
            role: Role::User,
            content,
        }
    }

    pub fn text(role: Role, text: &str) -> Self {
        Message {
            role,
            content: vec![ContentPart::Text(text.to_string())],
        }
    }

    pub fn images(&self) -> impl Iterator<Item = &ImageSource> {
        self.content.iter().filter_map(|p| match p {
            ContentPart::Image(src) => Some(src),
            ContentPart::Text(_) => None,
        })
    }
}
