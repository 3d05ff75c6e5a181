// "Open with SmolVLM": files the app was opened with (its command line, or a later launch that
// handed its files to this window) start a new chat with them attached, as if they had been
// dropped on the composer. The backend keeps them until taken; taking clears them, so a file that
// arrives while the window starts is opened once, by whichever of start-up and the event is first.

import { api } from "./api";

export interface OpenedDeps {
  /** A new chat to attach the files to. */
  newChat: () => Promise<void>;
  /** What a drop of these paths does. */
  drop: (paths: readonly string[]) => Promise<void>;
}

export interface OpenedFiles {
  /** Takes the files waiting and opens them in a new chat; resolves to whether there were any. */
  take(): Promise<boolean>;
  /** Takes files as the backend announces them; resolves once listening. */
  listen(): Promise<() => void>;
}

export function createOpenedFiles(deps: OpenedDeps): OpenedFiles {
  // One at a time: two quick launches must not race to create their chats.
  let queue: Promise<unknown> = Promise.resolve();
  const take = (): Promise<boolean> => {
    const next = queue.then(async () => {
      const paths = await api.takeOpenedFiles();
      if (paths.length === 0) return false;
      await deps.newChat();
      await deps.drop(paths);
      return true;
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    take,
    listen: () => api.onFilesOpened(() => void take().catch(() => undefined)),
  };
}
