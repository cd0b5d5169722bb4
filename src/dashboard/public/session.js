/* global sessionStorage */
// The tokens live in memory and in sessionStorage (per tab, gone when the tab closes), so a
// reload keeps the user signed in without the tokens outliving the browsing session.
const STORAGE_KEY = 'siteline.session';

let current = readStored();

function readStored() {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return parsed && typeof parsed.accessToken === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** @returns {{ accessToken: string, refreshToken: string | null, expiresAt: number } | null} */
export function getSession() {
  return current;
}

/** Stores a login or refresh answer: `{ accessToken, refreshToken, expiresIn }` (seconds). */
export function saveTokens(tokens) {
  const lifetimeMs = Number(tokens.expiresIn) > 0 ? Number(tokens.expiresIn) * 1000 : 15 * 60 * 1000;
  current = {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken ?? current?.refreshToken ?? null,
    expiresAt: Date.now() + lifetimeMs,
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(current));
}

export function clearSession() {
  current = null;
  sessionStorage.removeItem(STORAGE_KEY);
}
