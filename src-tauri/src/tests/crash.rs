//! The kill test: the app (on the mock runtime, with the tiny model) runs in a child process
//! doing what a user does — new chats, messages with pasted images while answers stream,
//! renames, deletes, regenerations, settings — and is killed with SIGKILL at a random moment,
//! again and again in one data folder. The child prints `begin …` before and `ack …` after each
//! command returns; after every kill the next start must find every conversation readable,
//! nothing acknowledged lost (only the one command under way may or may not have happened), no
//! answer left streaming, no temporary file, and every image whole and named by its hash.
//!
//! `SMOLVLM_KILLS` sets the number of kills (default [`KILLS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;
use smolvlm::Role;

use super::harness::*;
use crate::settings::Settings;
use crate::store::{Conversation, MessageStatus, Store, is_image_name};

const KILLS: usize = 60;
const CHILD_DIR: &str = "SMOLVLM_CRASH_CHILD_DIR";
const CHILD_SEED: &str = "SMOLVLM_CRASH_CHILD_SEED";

/// xorshift64*: the rounds replay from their seeds without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

fn say(line: &str) {
    println!("crash: {line}");
}

fn png(rng: &mut Rng) -> Vec<u8> {
    let rgb = [0, 0, 0].map(|_: u8| rng.below(256) as u8);
    solid_image(8 + rng.below(40) as u32, 8, rgb, image::ImageFormat::Png)
}

fn file_name(path: &serde_json::Value) -> String {
    Path::new(path.as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
#[ignore = "the child process of the kill test; it runs until it is killed"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let mut rng = Rng::new(seed);
    let h = Harness::new(Path::new(&dir));
    h.load_tiny();
    let mut convs: Vec<String> = h
        .state()
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    say("ready");
    let mut answering: Option<(String, String, usize)> = None;
    for n in 0.. {
        if let Some((conv, answer, from)) = answering.clone() {
            let events = h.events.lock().unwrap()[from..].to_vec();
            if let Some(end) = events
                .iter()
                .find(|e| e["type"] == "done" || e["type"] == "error")
            {
                if end["type"] == "done" && !events.iter().any(|e| e["type"] == "save-failed") {
                    say(&format!(
                        "ack done {conv} {answer} {}",
                        sha256_of(answer_text(&events).as_bytes())
                    ));
                } else {
                    say(&format!("note {conv} {answer} ended {end}"));
                }
                answering = None;
            }
        }
        let pick = convs
            .get(rng.below(convs.len().max(1) as u64) as usize)
            .cloned();
        match (rng.below(100), pick) {
            (0..=2, _) | (_, None) if convs.len() < 4 => {
                say("begin create");
                let c = h.invoke("create_conversation", json!({})).unwrap();
                let id = c["id"].as_str().unwrap().to_string();
                say(&format!("ack create {id}"));
                convs.push(id);
            }
            (3..=40, Some(conv)) if answering.is_none() => {
                let messages = h.state().store.get(&conv).unwrap().messages;
                if messages.len() >= 8 {
                    continue;
                }
                say("begin import");
                let image =
                    invoke_raw(&h, "import_image_bytes", png(&mut rng), Some("paste.png")).unwrap();
                say(&format!("ack import {}", file_name(&image["file"])));
                let text = format!("q{n}");
                let tokens = if rng.below(2) == 0 { 16 } else { 400 };
                say(&format!("begin send {conv}"));
                let from = h.events.lock().unwrap().len();
                let sent = h.send_images(
                    &conv,
                    &text,
                    json!([{"file": image["file"], "originalName": "paste.png"}]),
                    json!({"maxNewTokens": tokens, "ignoreEos": true}),
                );
                // The last answer's `done` is sent a moment before the worker is free again.
                let ticket = match sent {
                    Err(e) if e["code"] == "busy" => {
                        say("ack refused");
                        continue;
                    }
                    sent => sent.unwrap(),
                };
                let user = &ticket["userMessage"];
                let answer = ticket["assistantMessageId"].as_str().unwrap();
                say(&format!(
                    "ack send {conv} {} {answer} {} {text}",
                    user["id"].as_str().unwrap(),
                    file_name(&user["images"][0]["file"]),
                ));
                answering = Some((conv, answer.to_string(), from));
            }
            (41..=60, Some(conv)) => {
                let title = format!("t{n}");
                say(&format!("begin rename {conv} {title}"));
                h.invoke("rename_conversation", json!({"id": conv, "title": title}))
                    .unwrap();
                say(&format!("ack rename {conv} {title}"));
            }
            (61, Some(conv)) if convs.len() > 3 && rng.below(20) == 0 => {
                say(&format!("begin delete {conv}"));
                h.invoke("delete_conversation", json!({"id": conv}))
                    .unwrap();
                say(&format!("ack delete {conv}"));
                convs.retain(|c| c != &conv);
            }
            (62..=80, _) => {
                let prompt = format!("s{n}");
                say(&format!("begin settings {prompt}"));
                h.invoke(
                    "save_settings",
                    json!({"settings": {"systemPrompt": prompt}}),
                )
                .unwrap();
                say(&format!("ack settings {prompt}"));
            }
            (81..=99, Some(conv)) if answering.is_none() => {
                let messages = h.state().store.get(&conv).unwrap().messages;
                // A regeneration of a later turn: the first stays, so conversations grow.
                let users: Vec<_> = messages
                    .iter()
                    .filter(|m| m.role == Role::User)
                    .skip(1)
                    .collect();
                let Some(m) = users.get(rng.below(users.len().max(1) as u64) as usize) else {
                    continue;
                };
                say(&format!("begin truncate {conv} {}", m.id));
                h.invoke(
                    "truncate_conversation",
                    json!({"id": conv, "messageId": m.id}),
                )
                .unwrap();
                say(&format!("ack truncate {conv} {}", m.id));
            }
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// A message as the child acknowledged it.
#[derive(Debug, Clone)]
struct Acked {
    id: String,
    /// A user turn's text and image file; `None` for an answer.
    user: Option<(String, String)>,
    /// An answer whose `done` arrived: the hash of its text.
    done: Option<String>,
}

#[derive(Debug, Default)]
struct Model {
    convs: BTreeMap<String, (Option<String>, Vec<Acked>)>,
    system_prompt: Option<String>,
}

impl Model {
    /// Applies the child's lines; answers the command that was under way when it died.
    fn apply(&mut self, lines: &[String]) -> Option<Vec<String>> {
        let mut under_way = None;
        for line in lines {
            let words: Vec<String> = line.split(' ').map(str::to_string).collect();
            match words[0].as_str() {
                "begin" => under_way = Some(words[1..].to_vec()),
                "ack" => {
                    if words[1] != "done" {
                        under_way = None;
                    }
                    self.ack(&words[1..]);
                }
                _ => {}
            }
        }
        under_way
    }

    fn ack(&mut self, w: &[String]) {
        match w[0].as_str() {
            "create" => {
                self.convs.insert(w[1].clone(), (None, Vec::new()));
            }
            "rename" => self.convs.get_mut(&w[1]).unwrap().0 = Some(w[2].clone()),
            "delete" => {
                self.convs.remove(&w[1]);
            }
            "settings" => self.system_prompt = Some(w[1].clone()),
            "send" => {
                let messages = &mut self.convs.get_mut(&w[1]).unwrap().1;
                messages.push(Acked {
                    id: w[2].clone(),
                    user: Some((w[5].clone(), w[4].clone())),
                    done: None,
                });
                messages.push(Acked {
                    id: w[3].clone(),
                    user: None,
                    done: None,
                });
            }
            "done" => {
                if let Some((_, messages)) = self.convs.get_mut(&w[1])
                    && let Some(m) = messages.iter_mut().find(|m| m.id == w[2])
                {
                    m.done = Some(w[3].clone());
                }
            }
            "truncate" => {
                let messages = &mut self.convs.get_mut(&w[1]).unwrap().1;
                if let Some(pos) = messages.iter().position(|m| m.id == w[2]) {
                    messages.truncate(pos);
                }
            }
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// What the next start finds, checked against what the child acknowledged; the command under
/// way is taken as it landed (or not), so the model follows the disk into the next round.
fn verify(dir: &Path, model: &mut Model, under_way: Option<&[String]>) {
    let store = Store::open(dir).unwrap();
    let files: Vec<String> = std::fs::read_dir(dir.join("conversations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().all(|f| !f.starts_with('.')),
        "a temporary file survived the start: {files:?}"
    );
    let on_disk: BTreeMap<String, Conversation> = files
        .iter()
        .map(|f| {
            let id = f.strip_suffix(".json").unwrap();
            (
                id.to_string(),
                store.get(id).unwrap_or_else(|e| panic!("{f}: {e}")),
            )
        })
        .collect();
    let verb = under_way.map(|w| w[0].as_str());
    let target = under_way.and_then(|w| w.get(1)).map(String::as_str);

    for (id, (title, acked)) in &mut model.convs {
        let Some(c) = on_disk.get(id) else {
            assert!(
                verb == Some("delete") && target == Some(id),
                "conversation {id} was lost ({under_way:?})"
            );
            continue;
        };
        if verb == Some("rename") && target == Some(id) {
            *title = Some(c.title.clone());
        }
        if let Some(t) = title {
            assert_eq!(&c.title, t, "{id}: the title went back");
        }
        check_messages(id, c, acked, under_way);
    }
    let known: BTreeSet<String> = model.convs.keys().cloned().collect();
    for (id, c) in &on_disk {
        if !known.contains(id) {
            assert_eq!(verb, Some("create"), "{id} appeared ({under_way:?})");
            model.convs.insert(id.clone(), (None, Vec::new()));
            check_messages(id, c, &mut Vec::new(), under_way);
        }
    }
    model.convs.retain(|id, _| on_disk.contains_key(id));

    let images = dir.join("images");
    for entry in std::fs::read_dir(&images).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(is_image_name(&name), "{name} in the image store");
        let sha = sha256_of(&std::fs::read(images.join(&name)).unwrap());
        assert!(name.starts_with(&sha), "{name} is not whole");
    }
    for c in on_disk.values() {
        for image in c.messages.iter().flat_map(|m| &m.images) {
            assert!(
                images.join(&image.file).exists(),
                "{} was removed",
                image.file
            );
        }
    }

    let Ok(settings) = std::fs::read(dir.join("settings.json")) else {
        assert_eq!(model.system_prompt, None, "settings.json was lost");
        return;
    };
    let settings: Settings = serde_json::from_slice(&settings).expect("settings.json is whole");
    settings.validate().unwrap();
    if verb == Some("settings") {
        model.system_prompt = Some(settings.system_prompt.clone());
    }
    if let Some(prompt) = &model.system_prompt {
        assert_eq!(&settings.system_prompt, prompt, "the settings went back");
    }
}

/// `c`'s messages: every acknowledged one, in order, as acknowledged; no answer streaming; more
/// only from a send under way (adopted), fewer only from a truncation under way.
fn check_messages(
    id: &str,
    c: &Conversation,
    acked: &mut Vec<Acked>,
    under_way: Option<&[String]>,
) {
    let verb = under_way.map(|w| w[0].as_str());
    let here = under_way.and_then(|w| w.get(1)).map(String::as_str) == Some(id);
    assert!(
        c.messages
            .iter()
            .all(|m| m.status != MessageStatus::Streaming),
        "{id}: an answer still streaming after the start"
    );
    if here
        && verb == Some("truncate")
        && let Some(pos) = acked.iter().position(|m| m.id == under_way.unwrap()[2])
        && c.messages.len() == pos
    {
        acked.truncate(pos);
    }
    if here && verb == Some("send") && c.messages.len() == acked.len() + 2 {
        for m in &c.messages[acked.len()..] {
            acked.push(Acked {
                id: m.id.clone(),
                user: (m.role == Role::User).then(|| (m.text.clone(), m.images[0].file.clone())),
                done: None,
            });
        }
    }
    let ids: Vec<&str> = c.messages.iter().map(|m| m.id.as_str()).collect();
    let expected: Vec<&str> = acked.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids, expected,
        "{id}: messages lost or added ({under_way:?})"
    );
    for (m, a) in c.messages.iter().zip(acked.iter()) {
        if let Some((text, file)) = &a.user {
            assert_eq!(&m.text, text, "{id}/{}", m.id);
            assert_eq!(&m.images[0].file, file, "{id}/{}", m.id);
        }
        if let Some(sha) = &a.done {
            assert_eq!(m.status, MessageStatus::Complete, "{id}/{}", m.id);
            assert_eq!(
                &sha256_of(m.text.as_bytes()),
                sha,
                "{id}/{}: the answer changed",
                m.id
            );
        }
    }
}

/// Starts the child in `dir`; answers it and its lines as they come.
fn spawn_child(
    dir: &Path,
    seed: u64,
    stderr: &Path,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "tests::crash::crash_child",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(line) = line.strip_prefix("crash: ") {
                let _ = tx.send(line.to_string());
            }
        }
    });
    (child, rx)
}

#[test]
fn the_data_survives_sigkill_at_any_moment() {
    let kills: usize = std::env::var("SMOLVLM_KILLS").map_or(KILLS, |k| k.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let stderr = logs.path().join("child-stderr.log");
    let mut model = Model::default();
    let mut rng = Rng::new(0x5EED);
    let mut under_way_at_kill: BTreeMap<String, usize> = BTreeMap::new();
    let mut mid_answer = 0;
    for round in 0..kills {
        let (mut child, rx) = spawn_child(dir.path(), round as u64, &stderr);
        let mut lines = Vec::new();
        // One round in eight dies while the app starts (cleaning up after the last kill).
        if round % 8 != 7 {
            let start = Instant::now();
            while lines.last().map(String::as_str) != Some("ready") {
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(line) => lines.push(line),
                    Err(_) => assert!(
                        start.elapsed() < WAIT,
                        "round {round}: the child never got ready"
                    ),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(2500)));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "round {round}: the child ended by itself ({status}):\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        lines.extend(rx.iter());
        let under_way = model.apply(&lines);
        let sends = lines.iter().filter(|l| l.starts_with("ack send")).count();
        let dones = lines.iter().filter(|l| l.starts_with("ack done")).count();
        if sends > dones {
            mid_answer += 1;
        }
        let what = under_way.as_ref().map_or("nothing", |w| w[0].as_str());
        *under_way_at_kill.entry(what.to_string()).or_default() += 1;
        verify(dir.path(), &mut model, under_way.as_deref());
    }
    let messages: usize = model.convs.values().map(|(_, m)| m.len()).sum();
    eprintln!(
        "kill test: {kills} kills survived ({mid_answer} while an answer streamed); under way at \
         the kill: {under_way_at_kill:?}; {} conversations, {messages} messages at the end",
        model.convs.len()
    );
    assert!(
        messages > 0 && mid_answer > 0,
        "the child did too little to test anything"
    );
}
