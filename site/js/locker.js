// The "locker": client-side preferences in localStorage under one key,
// `kiwi.locker` = {theme: "auto"|"light"|"dark", tenant: "<slug>", signedIn: bool}.
// Never holds a secret: `signedIn` is only a hint that a refresh cookie may
// exist (so a first-time visitor doesn't fire a refresh call that must fail).

const KEY = 'kiwi.locker';
const DEFAULTS = { theme: 'auto', tenant: null, signedIn: false };

function read() {
  try {
    const raw = localStorage.getItem(KEY);
    const v = raw ? JSON.parse(raw) : {};
    return { ...DEFAULTS, ...(v && typeof v === 'object' ? v : {}) };
  } catch {
    return { ...DEFAULTS };
  }
}

function write(v) {
  try {
    localStorage.setItem(KEY, JSON.stringify(v));
  } catch { /* private mode or full: preferences just don't persist */ }
}

export const locker = {
  get(name) {
    return read()[name];
  },
  set(name, value) {
    const v = read();
    v[name] = value;
    write(v);
  },
  all() {
    return read();
  },
};

/** Applies a theme choice to <html> (auto = follow the OS). */
export function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === 'light' || theme === 'dark') root.setAttribute('data-theme', theme);
  else root.removeAttribute('data-theme');
}

// Keep several tabs in step.
window.addEventListener('storage', (e) => {
  if (e.key === KEY) applyTheme(read().theme);
});
