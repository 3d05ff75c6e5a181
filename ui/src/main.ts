// The minimal window: model status, load a model, ask one question and stream its answer.
// Model output is untrusted: it is only ever placed with textContent, never as HTML.

import { api, toApiError, type ModelStatus, type StreamEvent } from "./api";

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e as T;
}

const statusEl = el<HTMLParagraphElement>("status");
const modelPath = el<HTMLInputElement>("model-path");
const loadForm = el<HTMLFormElement>("load-form");
const loadButton = el<HTMLButtonElement>("load");
const askForm = el<HTMLFormElement>("ask-form");
const imagesInput = el<HTMLTextAreaElement>("images");
const questionInput = el<HTMLTextAreaElement>("question-input");
const sendButton = el<HTMLButtonElement>("send");
const stopButton = el<HTMLButtonElement>("stop");
const questionEl = el<HTMLDivElement>("question");
const answerEl = el<HTMLDivElement>("answer");
const statsEl = el<HTMLParagraphElement>("stats");
const errorEl = el<HTMLParagraphElement>("error");

let conversationId: string | null = null;
let generationId: number | null = null;

function showError(e: unknown): void {
  const err = toApiError(e);
  errorEl.textContent = `${err.message} (${err.code})`;
}

function renderStatus(s: ModelStatus): void {
  let text: string;
  switch (s.state) {
    case "empty":
      text = "No model loaded.";
      break;
    case "loading":
      text = `Loading ${s.loading ?? ""}…`;
      break;
    case "ready":
      text = `Ready: ${s.model?.name ?? ""} on ${s.model?.device ?? "?"}.`;
      break;
    case "generating":
      text = `Answering with ${s.model?.name ?? ""} on ${s.model?.device ?? "?"}…`;
      break;
  }
  if (s.lastError) text += ` Last error: ${s.lastError.message}`;
  statusEl.textContent = text;
  loadButton.disabled = s.state === "loading" || s.state === "generating";
  sendButton.disabled = s.state !== "ready";
}

function onEvent(e: StreamEvent): void {
  switch (e.type) {
    case "started":
      generationId = e.generationId;
      statsEl.textContent = `${e.promptTokens} prompt tokens (${e.imageTokens} for images, ${e.reusedTokens} reused)`;
      break;
    case "image-progress":
      statsEl.textContent = `Encoding images: ${e.framesDone}/${e.framesTotal}`;
      break;
    case "token":
      answerEl.append(document.createTextNode(e.text));
      break;
    case "done": {
      const t = e.timings;
      const ttft = t.firstTokenS === null ? "" : `, first token ${t.firstTokenS.toFixed(2)} s`;
      statsEl.textContent = `${e.generatedTokens} tokens, ${t.decodeTokensPerS.toFixed(1)} tok/s${ttft} (${e.stopReason})`;
      finish();
      break;
    }
    case "error":
      showError(e);
      finish();
      break;
  }
}

function finish(): void {
  generationId = null;
  stopButton.disabled = true;
}

loadForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  errorEl.textContent = "";
  api.loadModel(modelPath.value.trim()).catch(showError);
});

askForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  void ask();
});

questionInput.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) {
    ev.preventDefault();
    void ask();
  }
});

document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") stop();
});
stopButton.addEventListener("click", stop);

function stop(): void {
  if (generationId !== null) api.cancelGeneration(generationId).catch(showError);
}

async function ask(): Promise<void> {
  const text = questionInput.value.trim();
  const images = imagesInput.value
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (!text && images.length === 0) return;
  errorEl.textContent = "";
  try {
    conversationId ??= (await api.createConversation()).id;
    questionEl.textContent = text;
    answerEl.textContent = "";
    statsEl.textContent = "";
    const ticket = await api.sendMessage(conversationId, text, images, null, onEvent);
    generationId = ticket.generationId;
    stopButton.disabled = false;
    questionInput.value = "";
  } catch (e) {
    showError(e);
  }
}

async function start(): Promise<void> {
  await api.onModelStatus(renderStatus);
  renderStatus(await api.modelStatus());
}

start().catch(showError);
